package main

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/powvote/powvote/audit"
)

// TestCounterEmbedded runs `powvote up`, casts votes until a batch is
// published, and loads in Chromium a page of another site (a server of
// its own on 127.0.0.2) that embeds the counter with README's snippet,
// taken from README itself: the badge loads, and the number the snippet's
// script shows is the published total, which counter.json, the votes
// checkpoint (verified with the log key) and the votes list all give.
// With POWVOTE_SCREENSHOTS=1 it writes docs/screenshots/counter.png.
func TestCounterEmbedded(t *testing.T) {
	b := newBrowser(t)
	data := filepath.Join(t.TempDir(), "pv")
	p := startUp(t, data)
	defer p.stop(t)
	// Two batches cast, one published: the publisher keeps one back.
	castVotes(t, data, p.edge, 2*demoBatch)
	waitPublished(t, p.edge, demoBatch)
	total := publishedTotal(t, p.edge)
	if total != demoBatch {
		t.Fatalf("the lists hold %d votes under their checkpoint, want %d", total, demoBatch)
	}
	var doc struct {
		Campaign string `json:"campaign"`
		Votes    int    `json:"votes"`
		Updated  string `json:"updated"`
	}
	if err := json.Unmarshal([]byte(fetch(t, p.edge+"/solar/counter.json")), &doc); err != nil {
		t.Fatal(err)
	}
	if at, err := time.Parse(time.RFC3339, doc.Updated); doc.Campaign != "solar" || doc.Votes != total || err != nil || time.Since(at) > 10*time.Minute {
		t.Errorf("counter.json: %+v (%v), want %d votes published just now", doc, err, total)
	}

	page := embeddingPage(t, p.edge)
	site := serveElsewhere(t, page)
	if strings.HasPrefix(p.edge, site) || !strings.HasPrefix(p.edge, "http://127.0.0.1:") {
		t.Fatalf("the page at %s is not of another site than the edge at %s", site, p.edge)
	}
	b.do("open the page that embeds the counter",
		chromedp.EmulateViewport(520, 220, chromedp.EmulateScale(2)),
		chromedp.Navigate(site+"/"),
		chromedp.Poll[chromedp.Void](`/^[0-9]/.test(document.getElementById('solar-votes').textContent)`),
		chromedp.Poll[chromedp.Void](`document.getElementById('solar-badge').complete && document.getElementById('solar-badge').naturalWidth > 0`),
	)
	shown := evalJS[string](b, `document.getElementById('solar-votes').textContent`)
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, shown)
	if digits != fmt.Sprint(total) {
		t.Errorf("the embedding page shows %q, the published total is %d", shown, total)
	}
	if origin := evalJS[string](b, `location.origin`); origin != site {
		t.Errorf("the page's origin is %s, want %s", origin, site)
	}
	// The badge the page loaded is the counter's: its width, and the
	// total against the goal in its text.
	src := evalJS[string](b, `document.getElementById('solar-badge').src`)
	if !strings.HasPrefix(src, p.edge+"/solar/counter.svg") {
		t.Fatalf("the badge comes from %s", src)
	}
	var badge struct {
		Width int      `xml:"width,attr"`
		Title string   `xml:"title"`
		Texts []string `xml:"g>text"`
	}
	if err := xml.Unmarshal([]byte(fetch(t, src)), &badge); err != nil {
		t.Fatal(err)
	}
	if w := evalJS[int](b, `document.getElementById('solar-badge').naturalWidth`); w != badge.Width {
		t.Errorf("the badge is %d px wide in the page, %d in its SVG", w, badge.Width)
	}
	if want := fmt.Sprintf("%d / 1,000", total); len(badge.Texts) != 2 || badge.Texts[1] != want {
		t.Errorf("the badge shows %q, want %q", badge.Texts, want)
	}
	b.shot("counter")
	if readmeShots() {
		b.readmeShot("counter", "")
	}
}

// publishedTotal reads the votes list's latest checkpoint through the
// edge, verifies it with the log key, and checks that the list holds
// exactly its lines: the published total, read without the counter.
func publishedTotal(t *testing.T, edgeURL string) int {
	t.Helper()
	key, err := audit.ParseLogKey(fetch(t, edgeURL+"/solar-log.vkey"))
	if err != nil {
		t.Fatal(err)
	}
	cp, err := audit.OpenCheckpoint([]byte(fetch(t, edgeURL+"/solar-vote.checkpoint")), key)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(fetch(t, edgeURL+"/solar-vote.log"), "\n"); int64(lines) != cp.Tree.N {
		t.Fatalf("the votes list has %d lines, its checkpoint %d", lines, cp.Tree.N)
	}
	return int(cp.Tree.N)
}

// embeddingPage is a page of a campaign's supporters with README's
// snippet in it, pointed at edgeURL.
func embeddingPage(t *testing.T, edgeURL string) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Embedding the counter\n")
	if !ok {
		t.Fatal("README has no section Embedding the counter")
	}
	_, snippet, ok := strings.Cut(section, "\n```html\n")
	if ok {
		snippet, _, ok = strings.Cut(snippet, "\n```\n")
	}
	if !ok || !strings.Contains(snippet, "https://vote.example.org/solar/") {
		t.Fatal("README's Embedding the counter has no html snippet for https://vote.example.org/solar/")
	}
	return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Solar: sign up for the sun</title>
<style>body { font: 16px/1.5 sans-serif; margin: 24px; color: #1f2328 } h1 { font-size: 22px; margin: 0 0 12px }</style>
</head><body>
<h1>Solar: sign up for the sun</h1>
` + strings.ReplaceAll(snippet, "https://vote.example.org", edgeURL) + `
</body></html>
`
}

// serveElsewhere serves page at / from another site than the edge's
// 127.0.0.1: a server of its own on 127.0.0.2, and returns its origin.
func serveElsewhere(t *testing.T, page string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatalf("the page of another site needs a listener on 127.0.0.2: %v", err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, page)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("the page's server: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}
