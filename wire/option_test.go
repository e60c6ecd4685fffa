package wire

import (
	"crypto/ed25519"
	"errors"
	"strings"
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

func TestReceiptSignature(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	lines := []string{"AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH Humble Pluto", "- Z%C3%BCrich"}
	sig := SignReceipt(priv, "solar", lines)
	if err := VerifyReceipt(pub, "solar", lines, sig); err != nil {
		t.Fatal(err)
	}
	if got := string(ReceiptMessage("solar", lines)); got != "solar\n"+lines[0]+"\n"+lines[1] {
		t.Errorf("message %q", got)
	}
	bad := [][]string{{lines[0]}, {lines[1], lines[0]}, {lines[0], "- Zurich"}}
	for _, b := range bad {
		if err := VerifyReceipt(pub, "solar", b, sig); !errors.Is(err, ErrReceipt) {
			t.Errorf("lines %q verified", b)
		}
	}
	if err := VerifyReceipt(pub, "lunar", lines, sig); !errors.Is(err, ErrReceipt) {
		t.Error("other campaign verified")
	}
	if err := VerifyReceipt(pub, "solar", lines, "not base64"); !errors.Is(err, ErrReceipt) {
		t.Error("garbage signature verified")
	}
}

func TestReceiptFile(t *testing.T) {
	lines := []string{"AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH Humble Pluto", "- Z%C3%BCrich"}
	text := FormatReceipt("solar", lines, "c2ln")
	c, l, s, err := ParseReceipt(text)
	if err != nil || c != "solar" || len(l) != 2 || l[1] != lines[1] || s != "c2ln" {
		t.Fatalf("ParseReceipt = %q %q %q %v", c, l, s, err)
	}
	for name, bad := range map[string]string{
		"no campaign":   "Receipt01: x\nReceipt-Sig: s\n",
		"no sig":        "Campaign: solar\nReceipt01: x\n",
		"no lines":      "Campaign: solar\nReceipt-Sig: s\n",
		"out of order":  "Campaign: solar\nReceipt02: x\nReceipt-Sig: s\n",
		"after sig":     "Campaign: solar\nReceipt01: x\nReceipt-Sig: s\nReceipt02: y\n",
		"stray line":    "Campaign: solar\nhello\nReceipt01: x\nReceipt-Sig: s\n",
		"two campaigns": "Campaign: solar\nCampaign: lunar\nReceipt01: x\nReceipt-Sig: s\n",
		"control char":  "Campaign: solar\nReceipt01: x\x01y\nReceipt-Sig: s\n",
		"lone CR":       "Campaign: solar\nReceipt01: x\r\r\nReceipt-Sig: s\n",
	} {
		if _, _, _, err := ParseReceipt(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParseReceipt(f *testing.F) {
	f.Add(FormatReceipt("solar", []string{"- A", "X B"}, "c2ln"))
	f.Fuzz(func(t *testing.T, text string) {
		c, l, s, err := ParseReceipt(text)
		if err != nil {
			return
		}
		c2, l2, s2, err := ParseReceipt(FormatReceipt(c, l, s))
		if err != nil || c2 != c || s2 != s || strings.Join(l2, "\n") != strings.Join(l, "\n") {
			t.Fatalf("round trip of %q: %q %q %q %v", text, c2, l2, s2, err)
		}
	})
}
