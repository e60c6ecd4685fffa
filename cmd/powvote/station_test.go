package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/internal/qrscan"
	"github.com/powvote/powvote/keyfile"
	"github.com/powvote/powvote/mandate"
	"github.com/powvote/powvote/station"
	"github.com/powvote/powvote/wire"
)

var deskSecret = regexp.MustCompile(`<meta name="station-token" content="([0-9a-f]{64})">`)

// startDesk runs `powvote station serve` with the authority key at key and
// returns the process and the desk's URL, ending in "/".
func startDesk(t *testing.T, key, out string, extra ...string) (*proc, string) {
	t.Helper()
	args := append([]string{"station", "serve", "--key", key, "--out", out, "--listen", "127.0.0.1:0"}, extra...)
	var url string
	p := launch(t, args, func(line string) bool {
		if m := listening.FindStringSubmatch(line); m != nil {
			url = m[1]
			return true
		}
		return false
	})
	if !strings.HasPrefix(url, "http://127.0.0.1:") || !strings.HasSuffix(url, "/") {
		t.Fatalf("desk URL %q", url)
	}
	return p, url
}

// deskIssue loads the desk's page for its secret and issues one mandate as
// the page does; it returns the answer's card and the mandate read from
// its QR image.
func deskIssue(t *testing.T, url string) (station.Card, mandate.Token) {
	t.Helper()
	page := fetch(t, url)
	m := deskSecret.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("the desk's page carries no secret:\n%s", page)
	}
	req, err := http.NewRequest("POST", url+"issue", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(station.TokenHeader, m[1])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("POST /issue: %d, Cache-Control %q: %s", resp.StatusCode, resp.Header.Get("Cache-Control"), body)
	}
	var c station.Card
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatalf("%v in %s", err, body)
	}
	tok, err := mandate.FromBytes(scanDeskQR(t, c.QR))
	if err != nil {
		t.Fatal(err)
	}
	return c, tok
}

// scanDeskQR reads the QR code of a PNG data: URI with a real QR reader
// and returns its raw bytes.
func scanDeskQR(t *testing.T, uri string) []byte {
	t.Helper()
	img, err := qrscan.PNGDataURI(uri)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrscan.ScanImage(img, false)
	if err != nil {
		t.Fatalf("reading the QR code: %v", err)
	}
	if res.Level != "H" {
		t.Errorf("QR error correction level %v, want H", res.Level)
	}
	segs := res.Segments
	if len(segs) != 1 {
		t.Fatalf("QR code has %d byte segments, want 1", len(segs))
	}
	return segs[0]
}

// checkIssued reads the desk's issued file: mode 0600 and exactly the
// tokens of want, in order.
func checkIssued(t *testing.T, out string, want ...mandate.Token) {
	t.Helper()
	path := filepath.Join(out, station.IssuedFile)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %04o, want 0600", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines strings.Builder
	for _, tok := range want {
		lines.WriteString(tok.Hex() + "\n")
	}
	if string(b) != lines.String() {
		t.Errorf("%s holds\n%s\nwant\n%s", path, b, lines.String())
	}
}

// TestStationServe runs the real `powvote station serve` with a fresh
// authority key, issues mandates over HTTP, reads each QR image with a QR
// reader and verifies the mandate under the authority's public key, checks
// the issued file, and restarts the desk to see it count on. It also
// checks that the desk refuses a network address, missing flags and a key
// others can read.
func TestStationServe(t *testing.T) {
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "authority.key")
	pub, err := keyfile.ParsePublicKey(strings.TrimSpace(mustRun(t, "authority", "keygen", "--out", keyPath)))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "desk")
	p, url := startDesk(t, keyPath, out, "--station", "Town Hall")

	var toks []mandate.Token
	for i := 1; i <= 2; i++ {
		c, tok := deskIssue(t, url)
		if !ed25519.Verify(pub, tok.AuthID[:], tok.AuthSig[:]) || !bytes.Equal(tok.AuthPkey[:], pub) {
			t.Fatalf("mandate %d does not verify under the authority's public key", i)
		}
		if c.Lines != tok.Card() || c.Needle != tok.Needle() || c.CardID != tok.CardID() {
			t.Errorf("card %d: text %+v does not match its QR code", i, c)
		}
		if c.Issued != i || c.Session != i {
			t.Errorf("card %d: counts %d/%d", i, c.Issued, c.Session)
		}
		toks = append(toks, tok)
		checkIssued(t, out, toks...)
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("output directory: %v, mode %v", err, st.Mode().Perm())
	}
	// A second desk on the same directory is refused while the first runs.
	if r := run(t, "station", "serve", "--key", keyPath, "--out", out, "--listen", "127.0.0.1:0"); r.code != 1 || !strings.Contains(r.stderr, "in use by another station desk") {
		t.Errorf("second desk: exit %d, stderr %q", r.code, r.stderr)
	}
	p.interrupt(t)

	// Restarted, the desk counts the file's mandates and appends to it.
	p, url = startDesk(t, keyPath, out)
	var st station.Status
	if err := json.Unmarshal([]byte(fetch(t, url+"status")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Issued != 2 || st.Session != 0 || st.Authority != base64.StdEncoding.EncodeToString(pub) || !st.Ready {
		t.Errorf("status after a restart: %+v", st)
	}
	c, tok := deskIssue(t, url)
	if c.Issued != 3 || c.Session != 1 || tok.Verify() != nil {
		t.Errorf("after a restart: counts %d/%d, %v", c.Issued, c.Session, tok.Verify())
	}
	checkIssued(t, out, append(toks, tok)...)
	p.interrupt(t)

	if err := os.Chmod(keyPath, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--key", keyPath, "--out", out, "--listen", "0.0.0.0:0"}, 2, "not a loopback address"},
		{[]string{"--key", keyPath, "--out", out, "--listen", ":8091"}, 2, "not a loopback address"},
		{[]string{"--key", keyPath}, 2, "--key and --out are required"},
		{[]string{"--out", out}, 2, "--key and --out are required"},
		{[]string{"--key", keyPath, "--out", out, "--listen", "127.0.0.1:0"}, 1, "chmod 600"},
	} {
		r := run(t, append([]string{"station", "serve"}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || r.stdout != "" {
			t.Errorf("station serve %v: exit %d, stdout %q, stderr %q; want %d and one line naming %q", tc.args, r.code, r.stdout, r.stderr, tc.code, tc.msg)
		}
	}
}

// TestBrowserStationDesk runs the desk's page in Chromium against the real
// `powvote station serve`, holding the demo authority key of a running
// `powvote up`: the button, pressed from the keyboard, shows the card; the
// card shown is the mandate in the issued file; it prints alone; it
// clears; the page reads in German; and the platform takes a vote with the
// mandate typed from the card.
func TestBrowserStationDesk(t *testing.T) {
	b := newBrowser(t)
	data := filepath.Join(t.TempDir(), "pv")
	up := startUp(t, data)
	defer up.stop(t)
	c, err := campaign.Load(data, "solar")
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(data, "solar", campaign.DemoAuthorityKey)
	out := filepath.Join(t.TempDir(), "desk")
	desk, url := startDesk(t, key, out, "--station", "Town Hall")
	defer desk.interrupt(t)

	b.do("open the desk", chromedp.EmulateViewport(360, 800), chromedp.Navigate(url+"?lang=en"), chromedp.WaitVisible(chromedp.ID("issue")))
	eventuallyJS(t, b, "the count appears", `document.getElementById('count').textContent.includes('Mandates issued by this desk: 0')`)
	if got := b.text("#station"); got != "Town Hall" {
		t.Errorf("station shown %q", got)
	}
	if f := evalJS[string](b, `document.activeElement.id`); f != "issue" {
		t.Errorf("focus on load is on %q, want the issue button", f)
	}
	b.shot("desk")
	b.fits("desk")

	// Enter on the focused button issues, as a click would.
	b.do("press Enter on Issue mandate", chromedp.Focus(chromedp.ID("issue")), chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.ID("card")))
	eventuallyJS(t, b, "the QR image loads", `document.getElementById('qr').complete && document.getElementById('qr').naturalWidth > 0`)
	b.shot("card")
	b.fits("card")
	shown, err := mandate.ParseCard(b.text("#lines"))
	if err != nil {
		t.Fatalf("the card on the page does not read: %v\n%s", err, b.text("#lines"))
	}
	if err := shown.Verify(); err != nil {
		t.Fatal(err)
	}
	if !c.Settings.Authorities[0].Equal(ed25519.PublicKey(shown.AuthPkey[:])) {
		t.Error("the card is not signed by the campaign's authority")
	}
	if qr := scanDeskQR(t, evalJS[string](b, `document.getElementById('qr').src`)); !bytes.Equal(qr, shown.Bytes()) {
		t.Error("the QR code on the page is not the mandate of its lines")
	}
	if id := b.text("#card-id"); id != shown.CardID() {
		t.Errorf("card id shown %q, want %q", id, shown.CardID())
	}
	if n := b.text("#needle"); n != shown.Needle() {
		t.Errorf("needle shown %q, want %q", n, shown.Needle())
	}
	// The lines as the print sheet sets them, numbered " 1:" to "12:".
	if first := strings.Split(b.text("#lines"), "\n")[0]; first != " 1: "+shown.Card()[0] {
		t.Errorf("first line shown %q", first)
	}
	checkIssued(t, out, shown)
	if got := b.text("#count"); !strings.Contains(got, "Mandates issued by this desk: 1 (1 since it started)") {
		t.Errorf("count %q", got)
	}
	if f := evalJS[string](b, `document.activeElement.id`); f != "print" {
		t.Errorf("focus after issuing is on %q, want the print button", f)
	}

	// On paper the card stands alone, on one page.
	b.do("print media", printMedia("print"))
	hidden := evalJS[bool](b, `['top', 'desk', 'print', 'clear'].every((id) => getComputedStyle(document.getElementById(id)).display === 'none' || getComputedStyle(document.getElementById(id).parentElement).display === 'none')`)
	if !hidden || evalJS[string](b, `getComputedStyle(document.getElementById('card')).display`) == "none" {
		t.Error("print media shows more than the card, or not the card")
	}
	b.shot("card-print-media")
	pdf, err := chromedp.Run(b.ctx, chromedp.PrintToPDF())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.art, "card.pdf"), pdf, 0o644); err != nil {
		t.Error(err)
	}
	if pages := len(regexp.MustCompile(`/Type\s*/Page[^s]`).FindAll(pdf, -1)); pages != 1 {
		t.Errorf("the card prints on %d pages, want 1", pages)
	}
	b.do("screen media", printMedia(""))

	// Tab to "Clear the card" and press Enter: the card leaves the page.
	b.do("clear the card", chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent(kb.Enter))
	eventuallyJS(t, b, "the card is cleared", `document.getElementById('card-box').hidden && document.getElementById('lines').textContent === '' && !document.getElementById('qr').hasAttribute('src')`)
	if f := evalJS[string](b, `document.activeElement.id`); f != "issue" {
		t.Errorf("focus after clearing is on %q, want the issue button", f)
	}

	// The page in German.
	b.do("open the desk in German", chromedp.Navigate(url+"?lang=de"), chromedp.WaitVisible(chromedp.ID("issue")))
	eventuallyJS(t, b, "the German count", `document.getElementById('count').textContent.includes('An diesem Tisch ausgestellte Mandate: 1')`)
	if got := b.text("#issue"); got != "Mandat ausstellen" {
		t.Errorf("German button %q", got)
	}
	b.do("issue in German", chromedp.Click(chromedp.ID("issue")), chromedp.WaitVisible(chromedp.ID("card")))
	b.shot("card-de")
	second, err := mandate.ParseCard(b.text("#lines"))
	if err != nil {
		t.Fatal(err)
	}
	checkIssued(t, out, shown, second)

	// The platform takes a vote with the mandate typed from the card.
	receiptPub := base64.StdEncoding.EncodeToString(c.Secrets.ReceiptKey.Public().(ed25519.PublicKey))
	say := c.Settings.Options[3]
	code := strings.TrimSpace(mustRun(t, "booth", "code", "--dir", data))
	printed := mustRun(t, "vote", "--edge", up.edge, "--mandate", shown.Hex(), "--booth-code", code, "--say", say, "--receipt-pubkey", receiptPub)
	name, lines, sig, err := wire.ParseReceipt(printed)
	if err != nil {
		t.Fatalf("vote printed %q: %v", printed, err)
	}
	if err := wire.VerifyReceipt(c.Secrets.ReceiptKey.Public().(ed25519.PublicKey), name, lines, sig); err != nil || name != "solar" {
		t.Fatalf("receipt of %q: %v", name, err)
	}
	if _, opt, _ := strings.Cut(lines[3], " "); opt != wire.EncodeOption(say) || strings.HasPrefix(lines[3], "- ") {
		t.Errorf("receipt line for %q is %q", say, lines[3])
	}
	// The same card cannot vote twice.
	code = strings.TrimSpace(mustRun(t, "booth", "code", "--dir", data))
	if r := run(t, "vote", "--edge", up.edge, "--mandate", shown.Hex(), "--booth-code", code, "--say", say); r.code == 0 {
		t.Errorf("a second vote with the same card was accepted: %s", r.stdout)
	}
}

// printMedia makes the tab lay out its page for media ("print", or "" for
// the screen again).
func printMedia(media string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: media})
		return chromedp.Void{}, err
	}
}
