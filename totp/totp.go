package totp

import (
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"time"
	"unicode"

	"github.com/pquerna/otp"
	otptotp "github.com/pquerna/otp/totp"
)

const (
	// Step is the TOTP time step: a new booth code every 30 seconds.
	Step = 30 * time.Second
	// Digits is the number of digits of a booth code, without its check
	// character.
	Digits = 6
	// WarnBefore is how long before the end of its step a booth warns that
	// the code is about to change.
	WarnBefore = 10 * time.Second
	// SeedSize is the size in bytes of a campaign's TOTP seed.
	SeedSize = 32
)

// boothLen is the length of a booth code as shown: check character and digits.
const boothLen = 1 + Digits

var (
	// ErrFormat means a booth code does not have the shape of one: not 7
	// characters once spaces are dropped, a check character other than 0-9
	// or A, or a non-digit among the 6 digits.
	ErrFormat = errors.New("totp: malformed booth code")
	// ErrCheck means a booth code is well formed but its check character
	// does not match its digits: the voter mistyped it.
	ErrCheck = errors.New("totp: booth code check character does not match")
)

// stepSeconds is Step in the unit of Unix time that otp works in.
const stepSeconds = uint(Step / time.Second)

// seedEncoding is what otp expects a secret in: RFC 4648 base32, upper case.
// otp adds the padding back itself.
var seedEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// Code returns the 6-digit booth code of seed for the step that contains t.
// seed must be [SeedSize] bytes and t must not be before the Unix epoch,
// where RFC 6238 defines no step.
func Code(seed []byte, t time.Time) (string, error) {
	if len(seed) != SeedSize {
		return "", fmt.Errorf("totp: seed is %d bytes, want %d", len(seed), SeedSize)
	}
	return code(seed, t, otp.Digits(Digits))
}

// code is Code without the seed size check and with a choice of digits, so
// that the RFC 6238 test vectors (20-byte seed, 8 digits) exercise the same
// path.
func code(seed []byte, t time.Time, digits otp.Digits) (string, error) {
	if t.Unix() < 0 {
		return "", fmt.Errorf("totp: time %s is before the Unix epoch", t.UTC().Format(time.RFC3339))
	}
	c, err := otptotp.GenerateCodeCustom(seedEncoding.EncodeToString(seed), t, otptotp.ValidateOpts{
		Period:    stepSeconds,
		Digits:    digits,
		Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return "", fmt.Errorf("totp: %w", err)
	}
	if len(c) != digits.Length() {
		// otp formats with leading zeros; anything else is a broken
		// dependency, not bad input.
		panic(fmt.Sprintf("totp: otp returned %d digits, want %d", len(c), digits.Length()))
	}
	return c, nil
}

// CheckChar returns the check character of 6 digits: their sum modulo 11,
// as '0' to '9' or 'A'. It returns an error wrapping [ErrFormat] unless
// digits is exactly 6 ASCII digits.
func CheckChar(digits string) (byte, error) {
	if len(digits) != Digits {
		return 0, fmt.Errorf("%w: %d digits, want %d", ErrFormat, len(digits), Digits)
	}
	sum := 0
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: %q at position %d is not a digit", ErrFormat, c, i+1)
		}
		sum += int(c - '0')
	}
	return "0123456789A"[sum%11], nil
}

// BoothCode returns the 7 characters a booth shows for the step that contains
// t: the check character, then the 6 digits of [Code], as in "6263917".
func BoothCode(seed []byte, t time.Time) (string, error) {
	c, err := Code(seed, t)
	if err != nil {
		return "", err
	}
	check, err := CheckChar(c)
	if err != nil {
		return "", err
	}
	return string(check) + c, nil
}

// FormatBooth spaces a 7-character booth code for display: "6263917"
// becomes "6 263 917". Anything that is not 7 bytes long is returned as it
// is, so that a display never hides a malformed value.
func FormatBooth(code string) string {
	if len(code) != boothLen {
		return code
	}
	return code[:1] + " " + code[1:4] + " " + code[4:]
}

// ParseBoothCode reads a booth code as a voter typed it and returns the 6
// digits to send to the platform. White space anywhere is ignored and the
// check character may be a lower-case a. The error wraps [ErrFormat] when the
// input is not shaped like a booth code and [ErrCheck] when the check
// character does not match the digits, so that the voter can be told which.
func ParseBoothCode(s string) (digits string, err error) {
	var b [boothLen]byte
	n := 0
	for _, r := range s {
		if unicode.IsSpace(r) {
			continue
		}
		if n < boothLen {
			if err := boothChar(n, r); err != nil {
				return "", err
			}
			b[n] = byte(r)
		}
		n++
	}
	if n != boothLen {
		return "", fmt.Errorf("%w: %d characters, want %d", ErrFormat, n, boothLen)
	}
	check := b[0]
	if check == 'a' {
		check = 'A'
	}
	want, err := CheckChar(string(b[1:]))
	if err != nil {
		// Unreachable: boothChar let only digits through.
		return "", err
	}
	if want != check {
		return "", fmt.Errorf("%w: %c for digits %s, want %c", ErrCheck, check, b[1:], want)
	}
	return string(b[1:]), nil
}

// boothChar checks the character at index i (spaces not counted) of a typed
// booth code.
func boothChar(i int, r rune) error {
	if i == 0 {
		if (r < '0' || r > '9') && r != 'A' && r != 'a' {
			return fmt.Errorf("%w: check character %q is not 0-9 or A", ErrFormat, r)
		}
		return nil
	}
	if r < '0' || r > '9' {
		return fmt.Errorf("%w: %q at position %d is not a digit", ErrFormat, r, i+1)
	}
	return nil
}

// Validate reports whether digits is the booth code of seed for the step that
// contains t or for the step before it. It returns false for a seed that is
// not [SeedSize] bytes.
//
// Validate runs in constant time with respect to the codes: it always
// computes both codes and compares digits with both, so that its duration
// says nothing about which code matched, or how much of one did. A
// wrong-length or non-digit input goes through the same work.
func Validate(seed []byte, digits string, t time.Time) bool {
	cur, errCur := Code(seed, t)
	prev, errPrev := Code(seed, t.Add(-Step))

	// Fixed-size buffers keep every comparison the same length whatever
	// digits is; subtle.ConstantTimeCompare returns early on unequal
	// lengths.
	var in, c, p [Digits]byte
	copy(in[:], digits)
	copy(c[:], cur)
	copy(p[:], prev)

	okLen := subtle.ConstantTimeEq(int32(min(len(digits), Digits+1)), Digits)
	okCur := subtle.ConstantTimeCompare(in[:], c[:]) & boolInt(errCur == nil)
	okPrev := subtle.ConstantTimeCompare(in[:], p[:]) & boolInt(errPrev == nil)
	return okLen&(okCur|okPrev) == 1
}

// boolInt turns a condition that is not secret into 0 or 1 for the
// constant-time arithmetic of Validate.
func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Remaining returns the time left in the step that contains t, in (0, Step]:
// Step at the first instant of a step.
func Remaining(t time.Time) time.Duration {
	sec := t.Unix() % int64(stepSeconds)
	if sec < 0 {
		sec += int64(stepSeconds)
	}
	elapsed := time.Duration(sec)*time.Second + time.Duration(t.Nanosecond())
	return Step - elapsed
}

// Warn reports whether a booth should warn at t that its code is about to
// change: in the last [WarnBefore] of the step, boundary included.
func Warn(t time.Time) bool {
	return Remaining(t) <= WarnBefore
}
