package totp

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode"
)

// FuzzParseMap checks that ParseMap never panics and that every map it
// accepts has one canonical form: marshalling it and parsing the result gives
// the same map, and marshalling that gives the same bytes.
func FuzzParseMap(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMap(data)
		if err != nil {
			if m != nil {
				t.Fatalf("ParseMap returned a map with error %v", err)
			}
			if !strings.HasPrefix(err.Error(), "totp: deployment map: ") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed map: %v\ninput: %q", err, data)
		}
		back, err := ParseMap(out)
		if err != nil {
			t.Fatalf("ParseMap of Marshal output: %v\ninput: %q\noutput:\n%s", err, data, out)
		}
		if !reflect.DeepEqual(back, m) {
			t.Fatalf("round trip changed the map:\n got %+v\nwant %+v\ninput: %q\noutput:\n%s", back, m, data, out)
		}
		again, err := back.Marshal()
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("second Marshal differs (%v):\n%s\n---\n%s", err, again, out)
		}
	})
}

// FuzzParseBoothCode checks that ParseBoothCode never panics, that every
// error is exactly one of ErrFormat and ErrCheck, and that what it accepts
// is the input with white space dropped and the check character upper-cased.
func FuzzParseBoothCode(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		digits, err := ParseBoothCode(s)
		if err != nil {
			if digits != "" {
				t.Fatalf("ParseBoothCode(%q) = %q with error %v", s, digits, err)
			}
			if errors.Is(err, ErrFormat) == errors.Is(err, ErrCheck) {
				t.Fatalf("ParseBoothCode(%q) error %v is not exactly one of ErrFormat and ErrCheck", s, err)
			}
			return
		}
		check, err := CheckChar(digits)
		if err != nil {
			t.Fatalf("ParseBoothCode(%q) = %q, which CheckChar refuses: %v", s, digits, err)
		}
		code := string(check) + digits
		squeezed := strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) {
				return -1
			}
			return unicode.ToUpper(r)
		}, s)
		if squeezed != code {
			t.Fatalf("ParseBoothCode(%q) = %q, but the input reads %q", s, digits, squeezed)
		}
		if back, err := ParseBoothCode(FormatBooth(code)); err != nil || back != digits {
			t.Fatalf("ParseBoothCode(FormatBooth(%q)) = %q, %v", code, back, err)
		}
	})
}
