// Package stamp makes and checks voter stamps, the tokens that the edge hands
// out with every platform stamp and that each vote must carry back
// (PROTOCOL.md 5.2). It also reads P-UTC, the platform's time, which both
// stamps cover.
//
// # Voter stamp
//
// A voter stamp is 20 bytes: 16 random bytes r, then the first 4 bytes of a
// MAC that binds r to the platform stamp the voter received with it:
//
//	mac   = HMAC-SHA256(key, r || P-UTC ASCII || P-SIG raw 64 bytes)[:4]
//	stamp = r || mac
//
// The parts need no separators: r and P-SIG have fixed lengths, so the
// length of the MACed bytes fixes that of P-UTC. The key is the campaign's
// voter-stamp key, which only the edge holds, so
// the edge can recognise its own stamps without remembering any: a vote whose
// voter stamp was not made by the edge for exactly that P-UTC and P-SIG is
// refused (487). Four MAC bytes are enough because the check runs after the
// proof of work and after the platform stamp's signature: each guess at a
// forged stamp costs a full proof of work, and one in 2^32 guesses passes.
//
// The 20 bytes are written in Crockford base32 (see internal/crockford): 32
// upper-case symbols of the alphabet 0123456789ABCDEFGHJKMNPQRSTVWXYZ, no
// check symbol and no pad bits (160 bits fill 32 symbols exactly), in 8
// groups of 4 joined by '-': [VoterLen] = 39 characters.
//
// Voters send the stamp back exactly as they received it, and it goes as it
// is into the proof-of-work message and the published votes list, where
// voters find their own vote with grep. So [CheckVoter] accepts only that
// canonical form: no lower case, no O for 0 or I for 1, no other separators.
// Two spellings of one stamp would make two different list lines for one
// stamp.
//
// The edge makes a stamp on every GET /stamp and checks one on every vote
// with enough work, so it keeps a [Key], made once from the key, which
// makes and checks stamps without allocating; [NewVoter] and [CheckVoter]
// make a Key on each call.
//
// # Worked example
//
// With the 32-byte key "powvote example voter-stamp key!" (ASCII), the
// platform stamp of the pow package's example (P-SIG is the RFC 8032 TEST 1
// key's signature of the 10 ASCII bytes of P-UTC) and these 16 "random"
// bytes:
//
//	key     706f77766f7465206578616d706c6520766f7465722d7374616d70206b657921
//	P-UTC   1767225600
//	P-SIG   Kb7R95/rlQnX7sVm6opyMynjNLcj4y1aSwtRqi6PjVgO0qtPWKXoazw6XYsOW0AoBqIa/qiYo8ijsnwq+Ss+Cw==
//	r       00112233445566778899aabbccddeeff
//	HMAC    18ad449168df04099e18ea746f16c63c20154193a720494cdb3bc0863c7ffab3
//	stamp   00112233445566778899aabbccddeeff18ad4491
//	Voter   008J-4CT4-ANK7-F24S-NAXW-SQFE-ZWCA-TH4H
//
// # P-UTC
//
// P-UTC is the platform's time in Unix seconds, in decimal ASCII: digits only,
// no sign, no leading zero except in "0" itself, at most 12 digits. The
// signatures and MACs cover these exact bytes, so [ParsePUTC] refuses every
// other spelling of the same number.
package stamp

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/powvote/powvote/internal/crockford"
	"github.com/powvote/powvote/internal/entropy"
)

const (
	// VoterLen is the length of a voter stamp as written: 32 symbols and 7
	// dashes.
	VoterLen = 39

	randLen   = 16 // random bytes at the start of a stamp
	macLen    = 4  // HMAC bytes that follow them
	groupLen  = 4  // symbols between two dashes
	maxPUTC   = 12 // digits: Unix seconds well past the year 30000
	sigLen    = 64 // a P-SIG, raw
	stampLen  = randLen + macLen
	symbolLen = 32 // crockford.EncodedLen(stampLen)

	// macInLen is the longest inner HMAC input that Key.mac hashes from a
	// buffer on its stack: the key's block, r, a P-UTC and a P-SIG.
	macInLen = sha256.BlockSize + randLen + maxPUTC + sigLen
)

var (
	// ErrVoter means a voter stamp is malformed or its MAC does not verify
	// for the P-UTC and P-SIG it came with. It is wrapped with the reason.
	ErrVoter = errors.New("stamp: invalid voter stamp")
	// ErrPUTC means a P-UTC value is not written as the protocol writes
	// Unix seconds. It is wrapped with the reason.
	ErrPUTC = errors.New("stamp: invalid P-UTC")
)

// errKey is a configuration mistake, not bad input: an empty key would make
// stamps that anyone can forge.
var errKey = errors.New("stamp: empty voter-stamp key")

// errMAC is made once: the edge returns it for every forged stamp.
var errMAC = fmt.Errorf("%w: MAC does not verify", ErrVoter)

// A Key is a voter-stamp key made ready to make and check stamps: the
// HMAC key block XORed with HMAC's inner and outer pads (RFC 2104), so
// that each MAC is two SHA-256 sums over buffers on the stack. Making and
// checking a stamp with a Key allocates nothing, where HMAC from
// crypto/hmac allocates its two hashes and its sum on every call; the
// stamps are the same bytes. A Key is safe for concurrent use.
type Key struct {
	ipad, opad [sha256.BlockSize]byte
}

// NewKey prepares key, which must not be empty. A key longer than
// SHA-256's 64-byte block is hashed first, as HMAC does.
func NewKey(key []byte) (*Key, error) {
	if len(key) == 0 {
		return nil, errKey
	}
	var block [sha256.BlockSize]byte
	if len(key) > len(block) {
		sum := sha256.Sum256(key)
		copy(block[:], sum[:])
	} else {
		copy(block[:], key)
	}
	k := &Key{}
	for i, b := range block {
		k.ipad[i] = b ^ 0x36
		k.opad[i] = b ^ 0x5c
	}
	clear(block[:])
	return k, nil
}

// mac returns the MAC bytes of a stamp whose random part is r.
func (k *Key) mac(r []byte, putc string, psig []byte) [macLen]byte {
	sum := k.sum(r, putc, psig)
	return [macLen]byte(sum[:macLen])
}

// sum returns HMAC-SHA256(key, r || putc || psig), the whole of it, as
// HMAC(K, m) = SHA-256(K^opad || SHA-256(K^ipad || m)). The inner input is
// hashed from the stack when it fits macInLen, as every stamp the edge
// makes or checks does: a P-UTC is at most 12 digits and a P-SIG 64 bytes.
// Longer ones (only callers other than the edge pass them) take a buffer
// on the heap; the bytes hashed are the same.
func (k *Key) sum(r []byte, putc string, psig []byte) [sha256.Size]byte {
	var buf [macInLen]byte
	in := buf[:0]
	if n := len(k.ipad) + len(r) + len(putc) + len(psig); n > len(buf) {
		in = make([]byte, 0, n)
	}
	in = append(in, k.ipad[:]...)
	in = append(in, r...)
	in = append(in, putc...)
	in = append(in, psig...)
	inner := sha256.Sum256(in)
	var outer [sha256.BlockSize + sha256.Size]byte
	copy(outer[:], k.opad[:])
	copy(outer[sha256.BlockSize:], inner[:])
	return sha256.Sum256(outer[:])
}

// NewVoter makes a voter stamp for the platform stamp (putc, psig), reading
// 16 bytes from rand. putc and psig are MACed as given; the caller passes
// the P-UTC header value and the raw 64-byte signature it sends with the
// stamp. A caller that makes many stamps with one key keeps a [Key].
func NewVoter(key []byte, rand io.Reader, putc string, psig []byte) (string, error) {
	k, err := NewKey(key)
	if err != nil {
		return "", err
	}
	b, err := k.AppendVoter(make([]byte, 0, VoterLen), rand, putc, psig)
	return string(b), err
}

// AppendVoter is NewVoter with k: it appends the stamp's [VoterLen]
// characters to dst and returns the extended slice, or dst and the error
// of rand. With room in dst it does not allocate when rand is
// crypto/rand.Reader, the source the edge uses.
func (k *Key) AppendVoter(dst []byte, rand io.Reader, putc string, psig []byte) ([]byte, error) {
	var b [stampLen]byte
	if err := entropy.Read(rand, b[:randLen]); err != nil {
		return dst, fmt.Errorf("stamp: couldn't read random bytes for a voter stamp: %w", err)
	}
	m := k.mac(b[:randLen], putc, psig)
	copy(b[randLen:], m[:])
	var syms [symbolLen]byte
	crockford.AppendEncode(syms[:0], b[:])
	for i := 0; i < symbolLen; i += groupLen {
		if i > 0 {
			dst = append(dst, '-')
		}
		dst = append(dst, syms[i:i+groupLen]...)
	}
	return dst, nil
}

// CheckVoter checks that voter is a stamp that NewVoter made with key for
// the platform stamp (putc, psig), written exactly as NewVoter wrote it. The
// error wraps [ErrVoter] and says what is wrong; the MAC is compared in
// constant time.
func CheckVoter(key []byte, voter, putc string, psig []byte) error {
	k, err := NewKey(key)
	if err != nil {
		return err
	}
	return k.CheckVoter(voter, putc, psig)
}

// CheckVoter is the package's CheckVoter with k. It allocates only for the
// error of a malformed stamp.
func (k *Key) CheckVoter(voter, putc string, psig []byte) error {
	if len(voter) != VoterLen {
		return fmt.Errorf("%w: %d characters, want %d", ErrVoter, len(voter), VoterLen)
	}
	for i := 0; i < len(voter); i++ {
		c := voter[i]
		if i%(groupLen+1) == groupLen {
			if c != '-' {
				return fmt.Errorf("%w: %s at offset %d, want \"-\"", ErrVoter, quote(c), i)
			}
			continue
		}
		if !canonical(c) {
			return fmt.Errorf("%w: %s at offset %d is not an upper-case Crockford symbol", ErrVoter, quote(c), i)
		}
	}
	b := decodeVoter(voter)
	m := k.mac(b[:randLen], putc, psig)
	if !hmac.Equal(m[:], b[randLen:]) {
		return errMAC
	}
	return nil
}

// decodeVoter returns the bytes of a stamp whose characters CheckVoter has
// checked: 7 dashes where they belong and 32 data symbols, which always
// decode (there are no pad bits).
func decodeVoter(voter string) [stampLen]byte {
	var b [stampLen]byte
	if out, err := crockford.AppendDecode(b[:0], voter); err != nil || len(out) != stampLen {
		panic(fmt.Sprintf("stamp: canonical stamp %q did not decode to %d bytes: %d, %v", voter, stampLen, len(out), err))
	}
	return b
}

// canonical reports whether c is one of the 32 data symbols as encoders
// write them.
func canonical(c byte) bool {
	switch {
	case '0' <= c && c <= '9':
		return true
	case 'A' <= c && c <= 'Z':
		return c != 'I' && c != 'L' && c != 'O' && c != 'U'
	}
	return false
}

// quote writes one byte of a header value for an error message: as itself
// when it is printable ASCII, as an escape otherwise (a byte of a multi-byte
// character is not a character on its own).
func quote(c byte) string { return strconv.Quote(string([]byte{c})) }

// ParsePUTC reads a P-UTC value: decimal Unix seconds, digits only, no
// leading zero except in "0", at most 12 digits. The error wraps [ErrPUTC].
func ParsePUTC(s string) (int64, error) {
	switch {
	case s == "":
		return 0, fmt.Errorf("%w: empty", ErrPUTC)
	case len(s) > maxPUTC:
		return 0, fmt.Errorf("%w: %d digits, at most %d", ErrPUTC, len(s), maxPUTC)
	case s[0] == '0' && len(s) > 1:
		return 0, fmt.Errorf("%w: leading zero", ErrPUTC)
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: %s at offset %d is not a digit", ErrPUTC, quote(c), i)
		}
		n = n*10 + int64(c-'0') // 12 digits cannot overflow
	}
	return n, nil
}
