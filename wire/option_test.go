package wire

import (
	"errors"
	"testing"
	"unicode/utf8"
)

func TestEncodeOption(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Humble Pluto", "Humble Pluto"},
		{"Yes (all) ~ok*!'", "Yes (all) ~ok*!'"},
		{"Zürich", "Z%C3%BCrich"},
		{"Łódź Północ", "%C5%81%C3%B3d%C5%BA%20P%C3%B3%C5%82noc"},
		{"100% yes", "100%25%20yes"},
		{"a\tb", "a%09b"},
		{"€", "%E2%82%AC"},
	}
	for _, tt := range tests {
		got := EncodeOption(tt.in)
		if got != tt.want {
			t.Errorf("EncodeOption(%q) = %q, want %q", tt.in, got, tt.want)
		}
		back, err := DecodeOption(got)
		if err != nil || back != tt.in {
			t.Errorf("DecodeOption(%q) = %q, %v; want %q", got, back, err, tt.in)
		}
	}
}

func TestDecodeOptionBad(t *testing.T) {
	for _, v := range []string{"%", "%4", "abc%zz", "%C3", "%FF%FE", "x%G1", "\xff"} {
		if _, err := DecodeOption(v); !errors.Is(err, ErrOption) {
			t.Errorf("DecodeOption(%q) error = %v, want ErrOption", v, err)
		}
	}
	// Lower-case escapes are what some encoders write; they mean the same bytes.
	if got, err := DecodeOption("Z%c3%bcrich"); err != nil || got != "Zürich" {
		t.Errorf("lower-case escapes: %q, %v", got, err)
	}
}

func FuzzOption(f *testing.F) {
	for _, s := range []string{"Humble Pluto", "Zürich", "100% yes", "%C3%BC", "%", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := DecodeOption(s); err == nil {
			// Whatever decodes must re-encode to something that decodes to the same text.
			d2, err := DecodeOption(EncodeOption(d))
			if err != nil || d2 != d {
				t.Fatalf("round trip of %q: %q, %v", d, d2, err)
			}
		}
		if !utf8.ValidString(s) {
			return
		}
		back, err := DecodeOption(EncodeOption(s))
		if err != nil || back != s {
			t.Fatalf("EncodeOption(%q) does not decode back: %q, %v", s, back, err)
		}
	})
}
