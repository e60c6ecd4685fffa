package mandate

import (
	"bytes"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/cards.golden.html")

func TestWriteCardsHTML(t *testing.T) {
	tok := exampleToken(t)
	other := tok
	other.AuthID[0] ^= 0xff // a second card that differs; it need not verify
	var buf bytes.Buffer
	if err := WriteCardsHTML(&buf, `Solar <campaign> & "friends"`, []Token{tok, other}); err != nil {
		t.Fatal(err)
	}
	got := buf.Bytes()
	golden := filepath.Join("testdata", "cards.golden.html")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("WriteCardsHTML differs from %s (run go test -update to accept):\n%s", golden, got)
	}

	page := string(got)
	// The title is escaped, never markup.
	if strings.Contains(page, "<campaign>") || !strings.Contains(page, "Solar &lt;campaign&gt; &amp; &#34;friends&#34;") {
		t.Error("title is not escaped")
	}
	// One card per printed page, and nothing fetched from elsewhere.
	if n := strings.Count(page, `<section class="card">`); n != 2 {
		t.Errorf("%d cards, want 2", n)
	}
	if !strings.Contains(page, "break-after: page") || !strings.Contains(page, "@page") {
		t.Error("no page breaks")
	}
	if regexp.MustCompile(`(?i)(src|href)="(https?:|//)|@import|url\(`).MatchString(page) {
		t.Error("page refers to external assets")
	}
	for _, tk := range []Token{tok, other} {
		for i, l := range tk.Card() {
			if !strings.Contains(page, fmt.Sprintf("%2d: %s\n", i+1, l)) {
				t.Errorf("card %s: no line %d %q", tk.CardID(), i+1, l)
			}
		}
		if !strings.Contains(page, "card "+tk.CardID()) {
			t.Errorf("no card id %s", tk.CardID())
		}
	}
	// The QR images are the tokens' own, and the numbered lines as
	// copied from the page parse back to the token.
	imgs := regexp.MustCompile(`src="data:image/png;base64,([^"]+)"`).FindAllStringSubmatch(page, -1)
	pres := regexp.MustCompile(`(?s)<pre class="lines mono">(.*?)</pre>`).FindAllStringSubmatch(page, -1)
	if len(imgs) != 2 || len(pres) != 2 {
		t.Fatalf("%d images and %d line blocks, want 2 each", len(imgs), len(pres))
	}
	for i, tk := range []Token{tok, other} {
		png, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(imgs[i][1], "&#43;", "+"))
		if err != nil {
			t.Fatal(err)
		}
		checkScan(t, "sheet card", png, tk)
		parsed, err := ParseCard(pres[i][1])
		if err != nil || parsed != tk {
			t.Errorf("lines of card %d parse to %s, %v", i, parsed.Hex(), err)
		}
	}
}

type failWriter struct{}

var errWrite = errors.New("disk full")

func (failWriter) Write([]byte) (int, error) { return 0, errWrite }

func TestWriteCardsHTMLError(t *testing.T) {
	err := WriteCardsHTML(failWriter{}, "t", []Token{exampleToken(t)})
	if !errors.Is(err, errWrite) || !strings.HasPrefix(err.Error(), "mandate: ") {
		t.Errorf("WriteCardsHTML to a failing writer: %v", err)
	}
}
