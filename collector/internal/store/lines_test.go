package store

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// The worked example of the pow package, as a votes list line.
const (
	exampleVoteLine  = `1767225600 Kb7R95/rlQnX7sVm6opyMynjNLcj4y1aSwtRqi6PjVgO0qtPWKXoazw6XYsOW0AoBqIa/qiYo8ijsnwq+Ss+Cw== 7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS-1NCA-8FYQ 09a733f6d68415da "Énergie solaire"`
	exampleVoterLine = `11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo= Kb7R95/rlQnX7sVm6opyMynjNLcj4y1aSwtRqi6PjVgO0qtPWKXoazw6XYsOW0AoBqIa/qiYo8ijsnwq+Ss+Cw== AAECAwQFBgcICQoLDA0ODxAREhMUFRYX`
)

func TestExampleLines(t *testing.T) {
	v, err := ParseVoteLine(exampleVoteLine)
	if err != nil {
		t.Fatal(err)
	}
	if v.PUTC != "1767225600" || v.Voter != "7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS-1NCA-8FYQ" ||
		hex.EncodeToString(v.Nonce) != "09a733f6d68415da" || v.Option != "Énergie solaire" ||
		hex.EncodeToString(v.PSig[:4]) != "29bed1f7" || hex.EncodeToString(v.PSig[60:]) != "f92b3e0b" {
		t.Errorf("parsed %+v", v)
	}
	if got := v.Line(); got != exampleVoteLine {
		t.Errorf("Line\n got %s\nwant %s", got, exampleVoteLine)
	}

	a, err := ParseVoterLine(exampleVoterLine)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(a.Pkey[:]) != "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a" ||
		a.Sig != v.PSig || hex.EncodeToString(a.ID[:]) != "000102030405060708090a0b0c0d0e0f1011121314151617" {
		t.Errorf("parsed %+v", a)
	}
	if got := a.Line(); got != exampleVoterLine {
		t.Errorf("Line\n got %s\nwant %s", got, exampleVoterLine)
	}
	if k := voterKey(a); len(k) != 56 || string(k[:32]) != string(a.Pkey[:]) || string(k[32:]) != string(a.ID[:]) {
		t.Errorf("Key %x", k)
	}
}

func TestLineRoundTrip(t *testing.T) {
	for i := range 40 {
		v := testVote(i, i%5)
		switch i % 4 { // nonce lengths 8, 12, 32 and 9 bytes
		case 1:
			v.Nonce = append(v.Nonce, 1, 2, 3, 4)
		case 2:
			v.Nonce = append(v.Nonce, make([]byte, 20)...)
		case 3:
			v.Nonce = v.Nonce[3:]
		}
		line := v.Line()
		got, err := ParseVoteLine(line)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if got.Line() != line || got.Option != v.Option || string(got.Nonce) != string(v.Nonce) {
			t.Fatalf("round trip of %q gave %+v", line, got)
		}
		a := testVoter(i)
		ga, err := ParseVoterLine(a.Line())
		if err != nil || ga != a {
			t.Fatalf("voter round trip: %+v, %v", ga, err)
		}
	}
}

func TestParseVoteLineErrors(t *testing.T) {
	good := strings.SplitN(exampleVoteLine, " ", 5)
	with := func(field int, value string) string {
		f := append([]string(nil), good...)
		f[field] = value
		return strings.Join(f, " ")
	}
	for _, tc := range []struct {
		name, line, field string
	}{
		{"empty", "", "line"},
		{"four fields", strings.Join(good[:4], " "), "line"},
		{"tabs", strings.ReplaceAll(exampleVoteLine, " ", "\t"), "line"},
		{"leading zero", with(0, "01767225600"), "P-UTC"},
		{"letter in time", with(0, "17672x5600"), "P-UTC"},
		{"negative time", with(0, "-1767225600"), "P-UTC"},
		{"time overflows", with(0, "18446744073709551616"), "P-UTC"},
		{"double space", strings.Replace(exampleVoteLine, " ", "  ", 1), "P-SIG"},
		{"short sig", with(1, good[1][4:]), "P-SIG"},
		{"sig padding bits", with(1, strings.Replace(good[1], "Cw==", "Cx==", 1)), "P-SIG"},
		{"sig url alphabet", with(1, strings.ReplaceAll(good[1], "/", "_")), "P-SIG"},
		{"sig without padding", with(1, strings.Repeat("0", 88)), "P-SIG"},
		{"lower-case stamp", with(2, strings.ToLower(good[2])), "Voter"},
		{"stamp with I", with(2, "IQ2M"+good[2][4:]), "Voter"},
		{"stamp without dashes", with(2, strings.ReplaceAll(good[2], "-", "")), "Voter"},
		{"stamp dash moved", with(2, "7Q2MW-4XE"+good[2][9:]), "Voter"},
		{"upper-case nonce", with(3, strings.ToUpper(good[3])), "nonce"},
		{"short nonce", with(3, good[3][:14]), "nonce"},
		{"odd nonce", with(3, good[3]+"0"), "nonce"},
		{"long nonce", with(3, strings.Repeat("ab", 33)), "nonce"},
		{"no quotes", with(4, "Pluto"), "option"},
		{"quote inside", with(4, `"Plu"to"`), "option"},
		{"empty option", with(4, `""`), "option"},
		{"leading space", with(4, `" Pluto"`), "option"},
		{"control character", with(4, "\"Plu\x01to\""), "option"},
		{"line feed at end", exampleVoteLine + "\n", "option"},
		{"text after quote", with(4, `"Pluto" x`), "option"},
		{"not UTF-8", with(4, "\"Plu\xfft\""), "option"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseVoteLine(tc.line)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field || !errors.Is(err, ErrSyntax) {
				t.Fatalf("ParseVoteLine(%q) = %v, want a %s FieldError", tc.line, err, tc.field)
			}
		})
	}
}

func TestParseVoterLineErrors(t *testing.T) {
	good := strings.Split(exampleVoterLine, " ")
	with := func(field int, value string) string {
		f := append([]string(nil), good...)
		f[field] = value
		return strings.Join(f, " ")
	}
	for _, tc := range []struct {
		name, line, field string
	}{
		{"empty", "", "line"},
		{"two fields", strings.Join(good[:2], " "), "line"},
		{"four fields", exampleVoterLine + " x", "line"},
		{"trailing space", exampleVoterLine + " ", "line"},
		{"line feed", exampleVoterLine + "\n", "auth-id"},
		{"pkey unpadded", with(0, strings.TrimSuffix(good[0], "=")), "auth-pkey"},
		{"pkey padding bits", with(0, strings.Replace(good[0], "Ro=", "Rp=", 1)), "auth-pkey"},
		{"pkey is a sig", with(0, good[1]), "auth-pkey"},
		{"pkey without padding", with(0, strings.Repeat("0", 44)), "auth-pkey"},
		{"sig bad character", with(1, "*"+good[1][1:]), "auth-sig"},
		{"id too long", with(2, good[2]+"AAAA"), "auth-id"},
		{"id hex", with(2, strings.Repeat("00", 24)), "auth-id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseVoterLine(tc.line)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field || !errors.Is(err, ErrSyntax) {
				t.Fatalf("ParseVoterLine(%q) = %v, want a %s FieldError", tc.line, err, tc.field)
			}
		})
	}
}

func TestWins(t *testing.T) {
	base := testVote(1, 0)
	later := base
	later.PUTC = "1767225700"
	bigNonce := base
	bigNonce.Nonce = append([]byte{0xff}, base.Nonce[1:]...)
	shortTime := base
	shortTime.PUTC = "999999999" // fewer digits, smaller number
	bigStamp := base
	bigStamp.Voter = "ZZZZ" + base.Voter[4:]
	for _, tc := range []struct {
		name string
		a, b Vote
	}{
		{"earlier stamp", base, later},
		{"time as a number", shortTime, base},
		{"smaller nonce", base, bigNonce},
		{"smaller voter stamp", base, bigStamp},
	} {
		if !wins(tc.a, tc.b) || wins(tc.b, tc.a) {
			t.Errorf("%s: wins(a, b) = %v, wins(b, a) = %v", tc.name, wins(tc.a, tc.b), wins(tc.b, tc.a))
		}
	}
}
