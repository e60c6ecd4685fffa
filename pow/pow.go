package pow

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// MinNonce and MaxNonce bound the nonce length in bytes (16 to 64 hex digits
// in the vote's path).
const MinNonce, MaxNonce = 8, 32

// Errors returned by [Verify]; they are wrapped with the figures involved,
// so test for them with [errors.Is].
var (
	// ErrNonceLength means the nonce is shorter than MinNonce or longer than
	// MaxNonce bytes.
	ErrNonceLength = errors.New("pow: nonce length out of range")
	// ErrBelowThreshold means the digest has fewer leading zero bits than
	// the threshold asks for.
	ErrBelowThreshold = errors.New("pow: proof of work below threshold")
)

// Work is the part of a vote that the proof of work covers, except the nonce.
//
// The fields are hashed as they are, without any check: the caller decodes
// and validates the headers first (a P-SIG of another length than 64 bytes
// changes the message and is rejected elsewhere, not here).
type Work struct {
	PUTC  string // P-UTC as received (decimal Unix seconds)
	PSig  []byte // raw 64-byte P-SIG
	Voter string // voter stamp exactly as received (39 chars)
	Say   string // option text, UTF-8 (decoded, not percent-encoded)
}

// prefixLen is the length of the message without the nonce.
func (w Work) prefixLen() int {
	return len(w.PUTC) + len(w.PSig) + len(w.Voter) + len(w.Say)
}

// appendPrefix appends the message without the nonce to b.
func (w Work) appendPrefix(b []byte) []byte {
	b = append(b, w.PUTC...)
	b = append(b, w.PSig...)
	b = append(b, w.Voter...)
	return append(b, w.Say...)
}

// Prefix returns the message without the nonce: P-UTC, P-SIG, Voter and the
// option text, concatenated with no separators.
func (w Work) Prefix() []byte {
	return w.appendPrefix(make([]byte, 0, w.prefixLen()))
}

// stackMsg is the message size that Digest hashes without allocating. A
// typical vote is about 140 bytes; options with long texts still fit.
const stackMsg = 512

// Digest returns SHA-256(w.Prefix() || nonce). It does not check the nonce
// length.
func Digest(w Work, nonce []byte) [32]byte {
	// Hashing one contiguous buffer costs the same as feeding the parts to a
	// hash.Hash but needs no heap allocation while the message fits the
	// stack buffer (append moves to the heap beyond it).
	var buf [stackMsg]byte
	m := append(w.appendPrefix(buf[:0]), nonce...)
	return sha256.Sum256(m)
}

// Score returns the number of leading zero bits of d read as a big-endian
// 256-bit integer, from 0 to 256.
func Score(d [32]byte) int {
	for i := 0; i < len(d); i += 8 {
		if v := binary.BigEndian.Uint64(d[i:]); v != 0 {
			return i*8 + bits.LeadingZeros64(v)
		}
	}
	return 256
}

// Verify checks the proof of work of a vote: the nonce length, then the
// score of Digest(w, nonce) against threshold. It returns the score (0 when
// the nonce length is wrong) and, on failure, an error wrapping
// ErrNonceLength or ErrBelowThreshold. It does not allocate on success for
// messages up to 512 bytes.
func Verify(w Work, nonce []byte, threshold int) (score int, err error) {
	if len(nonce) < MinNonce || len(nonce) > MaxNonce {
		return 0, fmt.Errorf("%w: %d bytes, want %d to %d", ErrNonceLength, len(nonce), MinNonce, MaxNonce)
	}
	score = Score(Digest(w, nonce))
	if score < threshold {
		return score, fmt.Errorf("%w: score %d, threshold %d", ErrBelowThreshold, score, threshold)
	}
	return score, nil
}
