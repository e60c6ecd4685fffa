// Package wire holds the encodings of the public protocol that more than one
// party needs: the edge writes them, voters' software and auditors read them.
// Option texts travel in headers as themselves when they are plain printable
// ASCII and percent-encoded UTF-8 otherwise, exactly as JavaScript's
// encodeURIComponent writes them (PROTOCOL.md 5.1).
package wire

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrOption means a header value is not a valid encoded option text.
var ErrOption = errors.New("wire: bad option encoding")

// plainASCII reports whether s is printable ASCII (space to '~') without
// '%': a '%' would make a plain text read as an escape, so texts holding one
// are percent-encoded too and every value is decoded the same way.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e || s[i] == '%' {
			return false
		}
	}
	return true
}

// unreserved is what encodeURIComponent leaves alone.
func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		strings.IndexByte("-_.!~*'()", c) >= 0
}

// EncodeOption writes an option text as a header value.
func EncodeOption(s string) string {
	if plainASCII(s) {
		return s
	}
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// DecodeOption reads an option text from a header value. A value with no
// '%' is the text itself; otherwise every '%' must start a valid escape and
// the result must be UTF-8.
func DecodeOption(v string) (string, error) {
	if !strings.Contains(v, "%") {
		if !utf8.ValidString(v) {
			return "", fmt.Errorf("%w: not UTF-8", ErrOption)
		}
		return v, nil
	}
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c != '%' {
			out = append(out, c)
			continue
		}
		if i+2 >= len(v) {
			return "", fmt.Errorf("%w: truncated escape at %d", ErrOption, i)
		}
		hi, ok1 := unhex(v[i+1])
		lo, ok2 := unhex(v[i+2])
		if !ok1 || !ok2 {
			return "", fmt.Errorf("%w: bad escape %q at %d", ErrOption, v[i:i+3], i)
		}
		out = append(out, hi<<4|lo)
		i += 2
	}
	if !utf8.Valid(out) {
		return "", fmt.Errorf("%w: escapes do not make UTF-8", ErrOption)
	}
	return string(out), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
