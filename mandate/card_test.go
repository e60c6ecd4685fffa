package mandate

import (
	"encoding/hex"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"strings"
	"testing"

	"github.com/powvote/powvote/internal/crockford"
)

// exampleCard is the card of exampleToken, as printed.
func exampleCard(t testing.TB) [CardLines]string {
	return exampleToken(t).Card()
}

// docExample returns the indented blocks of the Example section of the
// package doc.
func docExample(t *testing.T) [][]string {
	t.Helper()
	_, example, ok := strings.Cut(docText(t), "\n# Example\n")
	if !ok {
		t.Fatal("package doc has no Example section")
	}
	var blocks [][]string
	var cur []string
	for l := range strings.Lines(example) {
		if strings.HasPrefix(l, "\t") {
			cur = append(cur, strings.TrimSpace(l))
			continue
		}
		if cur != nil {
			blocks = append(blocks, cur)
			cur = nil
		}
	}
	return blocks
}

// TestExampleCard reads the worked example of the package doc and checks
// every value in it.
func TestExampleCard(t *testing.T) {
	blocks := docExample(t)
	if len(blocks) != 4 {
		t.Fatalf("Example has %d indented blocks, want seed, auth-id, token, card", len(blocks))
	}
	seed, id, hexLines, card := blocks[0][0], blocks[1][0], blocks[2], blocks[3]
	if seed != rfc8032[0].secret {
		t.Errorf("seed %s is not the RFC 8032 test 1 secret", seed)
	}
	want := exampleToken(t)
	if id != hex.EncodeToString(want.AuthID[:]) {
		t.Errorf("auth-id %s, want %x", id, want.AuthID)
	}
	tok, err := ParseHex(strings.Join(hexLines, ""))
	if err != nil || tok != want {
		t.Errorf("token in doc = %x, %v, want %s", tok.Bytes(), err, want.Hex())
	}
	tok, err = ParseCard(strings.Join(card, "\n"))
	if err != nil {
		t.Fatalf("ParseCard(doc card): %v", err)
	}
	if tok != want {
		t.Errorf("doc card is %s, want %s", tok.Hex(), want.Hex())
	}
	if err := tok.Verify(); err != nil {
		t.Error(err)
	}
	for i, l := range card {
		if w := fmt.Sprintf("%d: %s", i+1, want.Card()[i]); l != w {
			t.Errorf("doc card line %q, want %q", l, w)
		}
	}
	doc := strings.Join(strings.Fields(strings.Join(strings.Split(docText(t), "\n"), " ")), " ")
	for _, s := range []string{
		"the lookup needle " + want.Needle() + " ",
		"card id " + want.CardID() + ".",
		"d75a980182b10ab7d54b, whose value is 35 modulo 37: check symbol =",
	} {
		if !strings.Contains(doc, s) {
			t.Errorf("package doc does not say %q", s)
		}
	}
	if c := crockford.CheckSymbol(want.Bytes()[:10]); c != '=' {
		t.Errorf("check symbol of line 1 is %q", c)
	}
}

// docText returns the package doc.
func docText(t *testing.T) string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "doc.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	return f.Doc.Text()
}

func TestCardLayout(t *testing.T) {
	card := exampleCard(t)
	b := exampleToken(t).Bytes()
	for i, l := range card {
		if len(l) != 21 || l[4] != ' ' || l[9] != ' ' || l[14] != ' ' || l[19] != ' ' {
			t.Errorf("line %d = %q: not 4 4 4 4 1", i+1, l)
		}
		got, err := ParseCardLine(i+1, l)
		if err != nil || string(got[:]) != string(b[10*i:10*i+10]) {
			t.Errorf("ParseCardLine(%d, %q) = %x, %v, want %x", i+1, l, got, err, b[10*i:10*i+10])
		}
	}
}

// symbols are the characters a card line may hold, and the ones readers
// take for them.
const symbols = "0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U"

// TestEveryTypo replaces each symbol of each line by every other symbol:
// the line must be rejected, and the error must name it.
func TestEveryTypo(t *testing.T) {
	card := exampleCard(t)
	for k := 1; k <= CardLines; k++ {
		line := card[k-1]
		for pos := range len(line) {
			if line[pos] == ' ' {
				continue
			}
			for _, c := range symbols {
				if byte(c) == line[pos] {
					continue
				}
				mod := card
				mod[k-1] = line[:pos] + string(c) + line[pos+1:]
				_, err := ParseCardLines(mod[:])
				var le *LineError
				if !errors.As(err, &le) || le.Line != k {
					t.Fatalf("line %d %q: ParseCardLines = %v, want a LineError for line %d", k, mod[k-1], err, k)
				}
				if !errors.Is(err, crockford.ErrCheck) && !errors.Is(err, crockford.ErrSymbol) {
					t.Fatalf("line %d %q: %v, want ErrCheck or ErrSymbol", k, mod[k-1], err)
				}
			}
		}
	}
}

// TestTranspositions swaps each pair of neighbouring symbols of each line,
// the check symbol included.
func TestTranspositions(t *testing.T) {
	card := exampleCard(t)
	for k := 1; k <= CardLines; k++ {
		syms := strings.ReplaceAll(card[k-1], " ", "")
		for i := 0; i+1 < len(syms); i++ {
			if syms[i] == syms[i+1] {
				continue
			}
			sw := syms[:i] + syms[i+1:i+2] + syms[i:i+1] + syms[i+2:]
			_, err := ParseCardLine(k, sw)
			var le *LineError
			if !errors.As(err, &le) || le.Line != k {
				t.Errorf("line %d, swap at %d: %q: %v, want a LineError", k, i, sw, err)
			}
		}
	}
}

func TestLenientLines(t *testing.T) {
	card := exampleCard(t)
	want := exampleToken(t)
	transforms := map[string]func(int, string) string{
		"lower case": func(_ int, l string) string { return strings.ToLower(l) },
		"no spaces":  func(_ int, l string) string { return strings.ReplaceAll(l, " ", "") },
		"dashes":     func(_ int, l string) string { return strings.ReplaceAll(l, " ", "-") },
		"colons":     func(_ int, l string) string { return strings.ReplaceAll(l, " ", ":") },
		"tabs":       func(_ int, l string) string { return strings.ReplaceAll(l, " ", "\t") },
		"O for 0":    func(_ int, l string) string { return strings.ReplaceAll(l, "0", "O") },
		"o for 0":    func(_ int, l string) string { return strings.ReplaceAll(l, "0", "o") },
		"I for 1":    func(_ int, l string) string { return strings.ReplaceAll(l, "1", "I") },
		"l for 1":    func(_ int, l string) string { return strings.ReplaceAll(l, "1", "l") },
		"L for 1":    func(_ int, l string) string { return strings.ReplaceAll(l, "1", "L") },
		"i for 1":    func(_ int, l string) string { return strings.ReplaceAll(l, "1", "i") },
		"spaced":     func(_ int, l string) string { return "  " + strings.Join(strings.Split(l, ""), " ") + "  \r" },
		"label colon": func(i int, l string) string {
			return fmt.Sprintf("%d: %s", i, l)
		},
		"label tab":    func(i int, l string) string { return fmt.Sprintf("%d:\t%s", i, l) },
		"label dot":    func(i int, l string) string { return fmt.Sprintf("%d. %s", i, l) },
		"label paren":  func(i int, l string) string { return fmt.Sprintf("%d) %s", i, l) },
		"label zero":   func(i int, l string) string { return fmt.Sprintf("%02d %s", i, l) },
		"label tight":  func(i int, l string) string { return fmt.Sprintf("%d:%s", i, strings.ReplaceAll(l, " ", "")) },
		"label padded": func(i int, l string) string { return fmt.Sprintf(" %2d: %s", i, l) },
	}
	for name, f := range transforms {
		var lines [CardLines]string
		for i, l := range card {
			lines[i] = f(i+1, l)
		}
		got, err := ParseCardLines(lines[:])
		if err != nil || got != want {
			t.Errorf("%s: ParseCardLines(%q) = %v, %v", name, lines, got.Hex(), err)
		}
	}
}

// TestLabelLookalike checks that a line whose symbols start like its own
// label, typed with a space after them, still parses.
func TestLabelLookalike(t *testing.T) {
	tok := exampleToken(t)
	// Find an auth-id whose line 11 (auth-id bytes 4 to 13) starts with
	// the symbols "11".
	for n := 0; ; n++ {
		tok.AuthID[4] = byte(n)
		tok.AuthID[5] = byte(n >> 8)
		if strings.HasPrefix(tok.Card()[10], "11") {
			break
		}
	}
	l := tok.Card()[10]
	for _, s := range []string{"11 " + l[2:], "11: " + l, "11 " + l} {
		got, err := ParseCardLine(11, s)
		if err != nil || string(got[:]) != string(tok.Bytes()[100:110]) {
			t.Errorf("ParseCardLine(11, %q) = %x, %v", s, got, err)
		}
	}
}

func TestPastedCard(t *testing.T) {
	card := exampleCard(t)
	want := exampleToken(t)
	var numbered, crlf, spaced strings.Builder
	for i, l := range card {
		fmt.Fprintf(&numbered, "%2d: %s\n", i+1, l)
		fmt.Fprintf(&crlf, "%d.\t%s\r\n", i+1, strings.ReplaceAll(l, " ", "\t"))
		fmt.Fprintf(&spaced, "\n  %s  \n\t\n", strings.ToLower(l))
	}
	for name, text := range map[string]string{
		"plain":    strings.Join(card[:], "\n"),
		"numbered": numbered.String(),
		"crlf":     crlf.String(),
		"spaced":   "\r\n\r\n" + spaced.String() + "\n\n",
		"no final": strings.TrimSuffix(numbered.String(), "\n"),
	} {
		got, err := ParseCard(text)
		if err != nil || got != want {
			t.Errorf("%s: ParseCard = %s, %v", name, got.Hex(), err)
		}
	}
}

func TestWrongLineCount(t *testing.T) {
	card := exampleCard(t)
	for _, lines := range [][]string{nil, card[:11], append(card[:], card[0]), {strings.Join(card[:], " ")}} {
		if _, err := ParseCard(strings.Join(lines, "\n")); !errors.Is(err, ErrLines) {
			t.Errorf("ParseCard with %d lines: %v, want ErrLines", len(lines), err)
		}
		if _, err := ParseCardLines(lines); !errors.Is(err, ErrLines) {
			t.Errorf("ParseCardLines with %d lines: %v, want ErrLines", len(lines), err)
		}
	}
	// A blank field is a line with no symbols, not a line to skip.
	mod := card
	mod[4] = ""
	_, err := ParseCardLines(mod[:])
	var le *LineError
	if !errors.As(err, &le) || le.Line != 5 || !errors.Is(err, ErrLineLength) {
		t.Errorf("ParseCardLines with empty line 5: %v", err)
	}
}

func TestLineErrors(t *testing.T) {
	card := exampleCard(t)
	l7 := card[6] // 4ZH3 FE9C 3WHW D827 *
	for _, tc := range []struct {
		line int
		s    string
		want error
		msg  string
	}{
		{7, strings.Replace(l7, "4ZH3", "4ZH4", 1), crockford.ErrCheck,
			"mandate: card line 7: check symbol does not match (a typo on this line?)"},
		{7, "7: " + strings.Replace(l7, "FE9C", "FE9", 1), ErrLineLength,
			"mandate: card line 7: has 16 symbols, want 17"},
		{2, card[1] + " 0", ErrLineLength,
			"mandate: card line 2: has 18 symbols, want 17"},
		{7, "", ErrLineLength,
			"mandate: card line 7: has 0 symbols, want 17"},
		// A label with the wrong number is read as symbols.
		{7, "8: " + l7, ErrLineLength,
			"mandate: card line 7: has 18 symbols, want 17"},
		{7, "8. " + l7, crockford.ErrSymbol,
			"mandate: card line 7: unexpected character '.' at column 2"},
		{7, "7: " + strings.Replace(l7, "3WHW", "3W#W", 1), crockford.ErrSymbol,
			"mandate: card line 7: unexpected character '#' at column 16"},
		{7, "\t" + strings.Replace(l7, "3WHW", "3WUW", 1), crockford.ErrSymbol,
			"mandate: card line 7: unexpected character 'U' at column 14"},
		{7, strings.Replace(l7, "*", "U", 1), crockford.ErrCheck,
			"mandate: card line 7: check symbol does not match (a typo on this line?)"},
		{7, strings.Replace(l7, "D827 *", "D827", 1) + " * X", crockford.ErrSymbol,
			"mandate: card line 7: unexpected character '*' at column 21"},
	} {
		_, err := ParseCardLine(tc.line, tc.s)
		var le *LineError
		if !errors.As(err, &le) || le.Line != tc.line || !errors.Is(err, tc.want) {
			t.Errorf("ParseCardLine(%d, %q) = %v, want a LineError wrapping %v", tc.line, tc.s, err, tc.want)
			continue
		}
		if err.Error() != tc.msg {
			t.Errorf("ParseCardLine(%d, %q): %q, want %q", tc.line, tc.s, err, tc.msg)
		}
	}
	for _, n := range []int{0, 13, -1} {
		if _, err := ParseCardLine(n, card[0]); err == nil {
			t.Errorf("ParseCardLine(%d) succeeded", n)
		}
	}
}

// TestFirstBadLine damages two lines: the error names the first.
func TestFirstBadLine(t *testing.T) {
	card := exampleCard(t)
	card[3] = strings.Replace(card[3], "A", "B", 1)
	card[8] = strings.Replace(card[8], "Z", "Y", 1)
	_, err := ParseCard(strings.Join(card[:], "\n"))
	var le *LineError
	if !errors.As(err, &le) || le.Line != 4 {
		t.Errorf("ParseCard = %v, want an error on line 4", err)
	}
}
