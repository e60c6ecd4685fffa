package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	be "encoding/binary"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/mandate"
	"github.com/powvote/powvote/totp"
	"github.com/powvote/powvote/wire"
)

// chromium is where the browser tests expect the browser; CI installs it
// (.ci/run). A missing browser fails the test: skipping would let the voter
// app go untested without anyone noticing.
const chromium = "/usr/bin/chromium"

// browser drives one tab of a headless Chromium against a running platform.
type browser struct {
	t      *testing.T
	ctx    context.Context
	art    string       // directory for screenshots
	shots  int          // screenshots taken, to number the files
	stamps atomic.Int64 // /stamp requests the tab has sent
	votes  atomic.Int64 // vote requests the tab has sent
}

// votePath is the path of a vote: the nonce in hex (PROTOCOL.md 5.3).
var votePath = regexp.MustCompile(`^/[0-9a-fA-F]{16,64}$`)

func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("the voter app tests need Chromium at %s (apt-get install chromium): %v", chromium, err)
	}
	art := os.Getenv("POWVOTE_ARTIFACTS")
	if art == "" {
		art = t.TempDir()
	} else {
		art = filepath.Join(art, t.Name())
		if err := os.MkdirAll(art, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b := &browser{t: t, art: art}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromiumOptions(t.TempDir()), extra...)...)
	ctx, cancel := chromedp.NewContext(alloc, chromedp.WithListener(func(ev any) {
		// Runs in the tab's event loop: count and return.
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && e.Request != nil {
			if u, err := url.Parse(e.Request.URL); err == nil {
				switch {
				case votePath.MatchString(u.Path):
					b.votes.Add(1)
				case u.Path == "/stamp":
					b.stamps.Add(1)
				}
			}
		}
	}))
	// The first Run starts the browser, which lives as long as ctx: no
	// timeout on it. Later steps get their own.
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start %s: %v", chromium, err)
	}
	b.ctx = ctx
	t.Cleanup(func() { cancel(); cancelAlloc() })
	return b
}

// do runs actions with a time limit; the app's steps take well under a
// second each, the proof of work at the demo threshold a few seconds.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.shot("failed-" + what)
		b.t.Fatalf("%s: %v", what, err)
	}
}

func evalJS[T any](b *browser, expr string, opts ...chromedp.EvaluateOption) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// shot keeps a PNG of the whole page as an artifact of the test.
func (b *browser) shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	b.shots++
	if err := os.WriteFile(filepath.Join(b.art, fmt.Sprintf("%02d-%s.png", b.shots, name)), png, 0o644); err != nil {
		b.t.Error(err)
	}
}

// readmeShots reports whether the browser tests write the screenshots
// that README.md shows (make screenshots sets POWVOTE_SCREENSHOTS=1).
func readmeShots() bool { return os.Getenv("POWVOTE_SCREENSHOTS") == "1" }

// readmeShot writes a screenshot that README.md shows, the whole page or
// the element sel when not empty, to docs/screenshots/NAME.png.
func (b *browser) readmeShot(name, sel string) {
	b.t.Helper()
	shot := chromedp.FullScreenshot(100)
	if sel != "" {
		shot = chromedp.Screenshot(chromedp.CSS(sel))
	}
	png, err := chromedp.Run(b.ctx, shot)
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join("..", "..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// open loads the voter app in English and waits for the ballot.
func (b *browser) open(edge string) {
	b.t.Helper()
	// The narrowest phone the app is made for; a headless window cannot
	// be made that narrow, the viewport can.
	b.do("open the app", chromedp.EmulateViewport(360, 800), chromedp.Navigate(edge+"/?lang=en"), chromedp.WaitVisible(chromedp.ID("opt-0")))
}

// fits checks that the page needs no sideways scrolling at 360 px.
func (b *browser) fits(what string) {
	b.t.Helper()
	if w := evalJS[int](b, `document.documentElement.scrollWidth`); w > 360 {
		b.t.Errorf("%s: the page is %d px wide at a 360 px viewport", what, w)
	}
}

// choose picks option i and types the booth code.
func (b *browser) choose(i int, code string) {
	b.t.Helper()
	b.do("choose and type the booth code",
		chromedp.Click(chromedp.ID(fmt.Sprintf("opt-%d", i))),
		chromedp.SendKeys(chromedp.ID("booth"), code),
		chromedp.Click(chromedp.ID("start")),
	)
}

// typeCard types the 12 card lines into their fields.
func (b *browser) typeCard(lines [mandate.CardLines]string) {
	b.t.Helper()
	for i, l := range lines {
		b.do(fmt.Sprintf("type line %d", i+1), chromedp.SendKeys(chromedp.ID(fmt.Sprintf("line-%d", i+1)), l))
	}
}

// receipt waits for the receipt and checks it: signed by the platform, for
// campaign solar, with the page's own stamp against the chosen option.
func (b *browser) receipt(c *campaign.Campaign, say string) {
	b.t.Helper()
	b.do("wait for the receipt", chromedp.WaitVisible(chromedp.ID("receipt-text")))
	text := b.text("#receipt-text")
	name, lines, sig, err := wire.ParseReceipt(text)
	if err != nil {
		b.t.Fatalf("receipt %q: %v", text, err)
	}
	if err := wire.VerifyReceipt(c.Secrets.ReceiptKey.Public().(ed25519.PublicKey), name, lines, sig); err != nil || name != "solar" {
		b.t.Fatalf("receipt of %q: %v", name, err)
	}
	voter := evalJS[string](b, `window.powvote.stamp.voter`)
	own := -1
	for i, o := range c.Settings.Options {
		if o == say {
			own = i
		}
	}
	if want := voter + " " + wire.EncodeOption(say); own < 0 || lines[own] != want {
		b.t.Fatalf("receipt line for %q is %q, want %q", say, lines[own], want)
	}
	if shown := b.text("#receipt-lines li.own"); !strings.Contains(shown, voter) || !strings.Contains(shown, say) {
		b.t.Errorf("the highlighted receipt line is %q", shown)
	}
	work := evalJS[struct {
		Hashes float64 `json:"hashes"`
		MS     float64 `json:"ms"`
	}](b, `window.powvote.work`)
	b.t.Logf("proof of work: %.0f hashes in %.0f ms (%.0f hashes/s)", work.Hashes, work.MS, work.Hashes/work.MS*1000)
}

// TestBrowserVoterApp runs the voter app in Chromium against `powvote up`:
// the app's SHA-256 against Go's, a vote typed line by line, a vote pasted
// as one block, a booth code with a wrong check character (refused before
// anything is sent) and a typo on one card line (named by its line).
func TestBrowserVoterApp(t *testing.T) {
	b := newBrowser(t)
	data := filepath.Join(t.TempDir(), "pv")
	p := startUp(t, data)
	defer p.stop(t)
	c, err := campaign.Load(data, "solar")
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(data, "solar", campaign.DemoAuthorityKey)
	tokens := strings.Fields(mustRun(t, "mandates", "--key", key, "--count", "3", "--format", "tokens"))
	cards := make([][mandate.CardLines]string, len(tokens))
	for i, tok := range tokens {
		m, err := mandate.ParseHex(tok)
		if err != nil {
			t.Fatal(err)
		}
		cards[i] = m.Card()
	}
	boothCode := func() string { return strings.TrimSpace(mustRun(t, "booth", "code", "--dir", data)) }

	b.open(p.edge)
	b.shot("ballot")
	b.fits("ballot")

	// The proof of work's SHA-256, by the worker's own code path, against
	// crypto/sha256 for prefixes of every length around the block
	// boundaries (the pad before the counter changes with the length).
	for n := range 140 {
		prefix := make([]byte, n)
		rand.Read(prefix)
		hi, lo := uint32(n*2654435761), uint32(^n)
		got := evalJS[string](b, fmt.Sprintf(`window.powvote.digest(%q, %d, %d)`, hex.EncodeToString(prefix), hi, lo), chromedp.EvalAwaitPromise)
		padLen, digest, _ := strings.Cut(got, ":")
		var pad int
		fmt.Sscan(padLen, &pad)
		msg := append(append(prefix, make([]byte, pad)...), be.BigEndian.AppendUint32(be.BigEndian.AppendUint32(nil, hi), lo)...)
		if sum := sha256.Sum256(msg); digest != hex.EncodeToString(sum[:]) {
			t.Fatalf("SHA-256 of %d+%d+8 bytes: app %s, want %x", n, pad, digest, sum)
		}
	}

	// The search runs in pow.wasm, and the module agrees with the
	// JavaScript SHA-256 (checked above against crypto/sha256) on the
	// search's own message, for prefixes that put the counter in every
	// word of the last block that it can take.
	for n := 100; n < 164; n += 4 {
		prefix := make([]byte, n)
		rand.Read(prefix)
		eng := evalJS[workerEngine](b, fmt.Sprintf(selfTestJS, hex.EncodeToString(prefix)), chromedp.EvalAwaitPromise)
		if eng.Engine != "wasm" || !eng.OK {
			t.Fatalf("%d-byte prefix: worker engine %q, agrees with JavaScript SHA-256: %v; want wasm, true", n, eng.Engine, eng.OK)
		}
	}

	// The hash rate of the app's workers on this machine, for the log: a
	// search that cannot succeed, stopped after two seconds.
	rate := evalJS[struct {
		Hashes  float64 `json:"hashes"`
		MS      float64 `json:"ms"`
		Workers int     `json:"workers"`
	}](b, `new Promise((resolve) => {
		const n = navigator.hardwareConcurrency || 2, ws = [];
		let hashes = 0;
		for (let i = 0; i < n; i++) {
			const w = new Worker('/app/voter/pow-worker.js');
			w.onmessage = (ev) => { hashes += ev.data.hashes; };
			w.postMessage({prefix: new Uint8Array(125), threshold: 64});
			ws.push(w);
		}
		const t0 = performance.now();
		setTimeout(() => { ws.forEach((w) => w.terminate()); resolve({hashes, ms: performance.now() - t0, workers: n}); }, 2000);
	})`, chromedp.EvalAwaitPromise)
	t.Logf("browser hash rate: %.2f MH/s with %d workers", rate.Hashes/rate.MS/1000, rate.Workers)

	// 1. A vote with the card typed line by line.
	say := c.Settings.Options[5]
	b.choose(5, boothCode())
	b.do("wait for the mandate form", chromedp.WaitVisible(chromedp.ID("line-12")))
	b.shot("working")
	b.typeCard(cards[0])
	b.shot("card-typed")
	b.fits("card-typed")
	b.do("cast", chromedp.Click(chromedp.ID("cast")))
	b.receipt(c, say)
	b.shot("receipt-typed")
	b.fits("receipt-typed")

	// 2. A vote with the whole card pasted into line 1.
	b.open(p.edge)
	say = c.Settings.Options[2]
	b.choose(2, boothCode())
	b.do("wait for the mandate form", chromedp.WaitVisible(chromedp.ID("line-1")))
	block := strings.Join(cards[1][:], "\n")
	b.do("paste the card", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const dt = new DataTransfer();
		dt.setData('text/plain', %q);
		document.getElementById('line-1').dispatchEvent(new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, cancelable: true}));
	})()`, block)))
	for i, l := range cards[1] {
		if v := evalJS[string](b, fmt.Sprintf(`document.getElementById('line-%d').value`, i+1)); v != l {
			t.Fatalf("after the paste, line %d holds %q, want %q", i+1, v, l)
		}
	}
	b.shot("card-pasted")
	b.do("cast", chromedp.Click(chromedp.ID("cast")))
	b.receipt(c, say)
	b.shot("receipt-pasted")

	// 3. A booth code with a wrong check character: the app says so and
	// asks the edge for nothing.
	b.open(p.edge)
	before := b.stamps.Load()
	code := boothCode()
	digits, err := totp.ParseBoothCode(code)
	if err != nil {
		t.Fatal(err)
	}
	wrong := "0"
	if strings.HasPrefix(strings.ToUpper(code), "0") {
		wrong = "1"
	}
	b.choose(7, wrong+digits)
	b.do("wait for the booth code error", chromedp.WaitVisible(chromedp.ID("booth-error")))
	if msg := b.text("#booth-error"); !strings.Contains(msg, "does not check") {
		t.Errorf("booth code error %q", msg)
	}
	b.shot("booth-code-typo")
	if sent := evalJS[int](b, `window.powvote.sent.stamp`); sent != 0 || b.stamps.Load() != before {
		t.Errorf("the app asked for a stamp with a wrong booth code (%d in the page, %d on the wire)", sent, b.stamps.Load()-before)
	}
	if evalJS[bool](b, `window.powvote.stamp !== null || !document.getElementById('mandate').hidden`) {
		t.Error("the app went on with a wrong booth code")
	}

	// 4. The code corrected, a typo on line 7 is named as line 7, and the
	// corrected card votes.
	say = c.Settings.Options[7]
	b.do("correct the booth code",
		clearField("booth"),
		chromedp.SendKeys(chromedp.ID("booth"), boothCode()),
		chromedp.Click(chromedp.ID("start")),
		chromedp.WaitVisible(chromedp.ID("line-1")),
	)
	typo := cards[2]
	typo[6] = mistype(typo[6])
	b.typeCard(typo)
	b.do("leave line 12 and cast", chromedp.Click(chromedp.ID("cast")), chromedp.WaitVisible(chromedp.ID("msg-7")))
	if msg := b.text("#msg-7"); !strings.Contains(msg, "Line 7") {
		t.Errorf("line 7 error %q", msg)
	}
	if msg := b.text("#mandate-error"); !strings.Contains(msg, "Line 7") || strings.Contains(msg, "Line 6") || strings.Contains(msg, "Line 8") {
		t.Errorf("mandate error %q, want line 7 alone", msg)
	}
	if sent := evalJS[int](b, `window.powvote.sent.vote`); sent != 0 {
		t.Errorf("the app sent %d votes with a mistyped card", sent)
	}
	b.shot("card-line-7-typo")
	b.do("fix line 7",
		clearField("line-7"),
		chromedp.SendKeys(chromedp.ID("line-7"), cards[2][6]),
		chromedp.Click(chromedp.ID("cast")),
	)
	b.receipt(c, say)
	b.shot("receipt-after-fixes")
}

// clearField empties an input as a voter selecting its text and deleting
// it would.
func clearField(id string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.getElementById(%q).value = ''`, id))
}

// mistype changes the first symbol of a card line to another valid symbol,
// so that only the line's check can catch it.
func mistype(line string) string {
	if line[0] == 'X' {
		return "Y" + line[1:]
	}
	return "X" + line[1:]
}

// chromiumOptions starts Debian's chromium headless with a fresh profile in
// dir, and without the background services that would try to reach the
// Internet, which this machine's closed network refuses.
func chromiumOptions(dir string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(dir),
	}
}
