package crockford

import (
	"bytes"
	"fmt"
	"testing"
)

// FuzzDecode checks that decoding is canonical: whatever a string decodes
// to encodes to a string that decodes to the same bytes, and the encoding
// differs from the input only in what decoders ignore or read alike. It also
// checks that every encoding decodes, using the input's bytes as data.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		// Decode's one pass gives the bytes and the error that reading the
		// symbols first and then their values (DecodeCheck's way) gives.
		b, err := Decode(s)
		var b2 []byte
		syms, err2 := symbols(s, false)
		if err2 == nil {
			b2, err2 = decodeValues(syms)
		}
		if fmt.Sprint(err) != fmt.Sprint(err2) || !bytes.Equal(b, b2) {
			t.Fatalf("Decode(%q) = %x, %v; in two passes %x, %v", s, b, err, b2, err2)
		}
		if err == nil {
			e := Encode(b)
			b2, err := Decode(e)
			if err != nil || !bytes.Equal(b, b2) {
				t.Fatalf("Decode(Encode(Decode(%q))) = %x, %v, want %x", s, b2, err, b)
			}
			if n := normalize(s); n != e {
				t.Fatalf("Decode(%q) accepted a string that normalizes to %q, not the encoding %q", s, n, e)
			}
		}
		raw := []byte(s)
		got, err := Decode(Encode(raw))
		if err != nil || !bytes.Equal(got, raw) {
			t.Fatalf("Decode(Encode(%x)) = %x, %v", raw, got, err)
		}
	})
}

// FuzzDecodeCheck is FuzzDecode with a check symbol.
func FuzzDecodeCheck(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		if b, err := DecodeCheck(s); err == nil {
			e := EncodeCheck(b)
			b2, err := DecodeCheck(e)
			if err != nil || !bytes.Equal(b, b2) {
				t.Fatalf("DecodeCheck(EncodeCheck(DecodeCheck(%q))) = %x, %v, want %x", s, b2, err, b)
			}
			if n := normalize(s); n != e {
				t.Fatalf("DecodeCheck(%q) accepted a string that normalizes to %q, not the encoding %q", s, n, e)
			}
		}
		b := []byte(s)
		got, err := DecodeCheck(EncodeCheck(b))
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("DecodeCheck(EncodeCheck(%x)) = %x, %v", b, got, err)
		}
	})
}

// normalize applies the reading rules of the package doc directly, as a
// second opinion on the decoder's table: drop separators, upper-case, read
// O as 0 and I, L as 1.
func normalize(s string) string {
	var out []byte
	for i := range len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '-' || c == ':':
			continue
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		switch c {
		case 'O':
			c = '0'
		case 'I', 'L':
			c = '1'
		}
		out = append(out, c)
	}
	return string(out)
}
