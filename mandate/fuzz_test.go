package mandate

import (
	"strings"
	"testing"
)

// FuzzParseCard checks that ParseCard never panics and that whatever it
// accepts prints as a card that reads back as the same token.
func FuzzParseCard(f *testing.F) {
	f.Fuzz(func(t *testing.T, text string) {
		tok, err := ParseCard(text)
		if err != nil {
			return
		}
		lines := tok.Card()
		again, err := ParseCard(strings.Join(lines[:], "\n"))
		if err != nil || again != tok {
			t.Fatalf("ParseCard(%q) = %s, but its Card() reads back as %s, %v", text, tok.Hex(), again.Hex(), err)
		}
	})
}

// FuzzParseHex checks that whatever ParseHex accepts is the token's
// canonical hex, up to case and surrounding white space.
func FuzzParseHex(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseHex(s)
		if err != nil {
			return
		}
		h := tok.Hex()
		if h != strings.ToLower(strings.TrimSpace(s)) {
			t.Fatalf("ParseHex(%q) accepted a token whose hex is %s", s, h)
		}
		again, err := ParseHex(h)
		if err != nil || again != tok {
			t.Fatalf("ParseHex(%q) = %s, %v", h, again.Hex(), err)
		}
		if b, err := FromBytes(tok.Bytes()); err != nil || b != tok {
			t.Fatalf("FromBytes(Bytes()) = %s, %v", b.Hex(), err)
		}
	})
}
