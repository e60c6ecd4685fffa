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
)

const (
	// VoterLen is the length of a voter stamp as written: 32 symbols and 7
	// dashes.
	VoterLen = 39

	randLen   = 16 // random bytes at the start of a stamp
	macLen    = 4  // HMAC bytes that follow them
	groupLen  = 4  // symbols between two dashes
	maxPUTC   = 12 // digits: Unix seconds well past the year 30000
	stampLen  = randLen + macLen
	symbolLen = 32 // crockford.EncodedLen(stampLen)
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

// mac returns the MAC bytes of a stamp whose random part is r.
func mac(key, r []byte, putc string, psig []byte) [macLen]byte {
	h := hmac.New(sha256.New, key)
	h.Write(r)
	h.Write([]byte(putc))
	h.Write(psig)
	var m [macLen]byte
	copy(m[:], h.Sum(nil))
	return m
}

// NewVoter makes a voter stamp for the platform stamp (putc, psig), reading
// 16 bytes from rand. putc and psig are MACed as given; the caller passes
// the P-UTC header value and the raw 64-byte signature it sends with the
// stamp.
func NewVoter(key []byte, rand io.Reader, putc string, psig []byte) (string, error) {
	if len(key) == 0 {
		return "", errKey
	}
	var b [stampLen]byte
	if _, err := io.ReadFull(rand, b[:randLen]); err != nil {
		return "", fmt.Errorf("stamp: couldn't read random bytes for a voter stamp: %w", err)
	}
	m := mac(key, b[:randLen], putc, psig)
	copy(b[randLen:], m[:])
	return crockford.Group(crockford.Encode(b[:]), "-", groupLen), nil
}

// CheckVoter checks that voter is a stamp that NewVoter made with key for
// the platform stamp (putc, psig), written exactly as NewVoter wrote it. The
// error wraps [ErrVoter] and says what is wrong; the MAC is compared in
// constant time.
func CheckVoter(key []byte, voter, putc string, psig []byte) error {
	if len(key) == 0 {
		return errKey
	}
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
	// Every string of 32 canonical symbols decodes: there are no pad bits.
	b, err := crockford.Decode(voter)
	if err != nil || len(b) != stampLen {
		panic(fmt.Sprintf("stamp: canonical stamp %q did not decode to %d bytes: %d, %v", voter, stampLen, len(b), err))
	}
	m := mac(key, b[:randLen], putc, psig)
	if !hmac.Equal(m[:], b[randLen:]) {
		return fmt.Errorf("%w: MAC does not verify", ErrVoter)
	}
	return nil
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
