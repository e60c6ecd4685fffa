package main

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/keyfile"
	"github.com/powvote/powvote/mandate"
	"github.com/powvote/powvote/wire"
)

// Y4M video of the fake camera: 640x480 at 5 frames a second, first
// scanBlankFrames frames of an empty grey scene (4 s, time to see the live
// preview and to stop the camera before anything is read), then the card's
// QR code. Chromium plays the file in a loop from its start each time the
// camera opens.
const (
	y4mWidth, y4mHeight = 640, 480
	scanBlankFrames     = 20
	scanCodeFrames      = 5
)

// writeY4M writes a YUV4MPEG2 (4:2:0) video of tok's QR code as the
// mandate package prints it, for Chromium's --use-file-for-fake-video-capture.
func writeY4M(t *testing.T, path string, tok mandate.Token) {
	t.Helper()
	pngData, err := tok.QRPNG(414) // 6 pixels a module with the quiet zone
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(pngData))
	if err != nil {
		t.Fatal(err)
	}
	qr, ok := img.(*image.Gray)
	if !ok {
		t.Fatalf("the QR image is a %T, want *image.Gray", img)
	}
	// Studio-range luma, as a camera delivers it: 0..255 to 16..235.
	luma := func(v uint8) byte { return byte(16 + int(v)*219/255) }
	blank := make([]byte, y4mWidth*y4mHeight)
	for y := range y4mHeight {
		for x := range y4mWidth {
			blank[y*y4mWidth+x] = luma(uint8(120 + x*60/y4mWidth))
		}
	}
	code := bytes.Clone(blank)
	ox, oy := (y4mWidth-qr.Rect.Dx())/2, (y4mHeight-qr.Rect.Dy())/2
	for y := range qr.Rect.Dy() {
		for x := range qr.Rect.Dx() {
			code[(oy+y)*y4mWidth+ox+x] = luma(qr.GrayAt(x, y).Y)
		}
	}
	chroma := bytes.Repeat([]byte{128}, 2*(y4mWidth/2)*(y4mHeight/2))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "YUV4MPEG2 W%d H%d F5:1 Ip A1:1 C420jpeg\n", y4mWidth, y4mHeight)
	for i := range scanBlankFrames + scanCodeFrames {
		frame := blank
		if i >= scanBlankFrames {
			frame = code
		}
		w.WriteString("FRAME\n")
		w.Write(frame)
		w.Write(chroma)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// newCameraBrowser is newBrowser with a fake camera that shows the video
// file video (none when empty: a machine without a camera), which the page
// may use without asking when grant is true. It also returns the count of
// the vote requests the tab sends.
func newCameraBrowser(t *testing.T, video string, grant bool) (*browser, *atomic.Int64) {
	t.Helper()
	var opts []chromedp.ExecAllocatorOption
	if video != "" {
		opts = append(opts,
			chromedp.Flag("use-fake-device-for-media-stream", true),
			chromedp.Flag("use-file-for-fake-video-capture", video),
		)
	}
	if grant {
		opts = append(opts, chromedp.Flag("use-fake-ui-for-media-stream", true))
	}
	b := newBrowser(t, opts...)
	return b, &b.votes
}

// pasteCard pastes the 12 lines of a card into line 1, as a voter pasting
// a copied card does.
func pasteCard(lines [mandate.CardLines]string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const dt = new DataTransfer();
		dt.setData('text/plain', %q);
		document.getElementById('line-1').dispatchEvent(new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, cancelable: true}));
	})()`, strings.Join(lines[:], "\n")))
}

// cardShown returns the 12 card fields as the page holds them.
func cardShown(b *browser) [mandate.CardLines]string {
	b.t.Helper()
	return evalJS[[mandate.CardLines]string](b, `Array.from({length: 12}, (_, i) => document.getElementById('line-' + (i + 1)).value)`)
}

// TestBrowserScanMandate votes in Chromium against `powvote up` with the
// mandate read by the camera: a fake camera plays a video of a real
// mandate's QR code. On the way, a card whose every line checks but whose
// signature does not is refused in the page and never sent; the scanner's
// live preview shows and its stop button turns the camera off; the scanned
// code fills the card as printed; the vote's receipt is checked against the
// published receipt key, prints alone and links to the check page; and
// every screen fits a 360 px phone in every language.
func TestBrowserScanMandate(t *testing.T) {
	data := filepath.Join(t.TempDir(), "pv")
	p := startUp(t, data)
	defer p.stop(t)
	c, err := campaign.Load(data, "solar")
	if err != nil {
		t.Fatal(err)
	}
	authority, err := keyfile.ReadEd25519(filepath.Join(data, "solar", campaign.DemoAuthorityKey))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := mandate.Issue(authority, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// A forged card: the authority's signature over one id, carrying
	// another. Every line passes its check symbol; the signature fails.
	var signed, carried [mandate.IDSize]byte
	rand.Read(signed[:])
	rand.Read(carried[:])
	forged := mandate.Sign(authority, signed)
	forged.AuthID = carried
	if forged.Verify() == nil {
		t.Fatal("the forged mandate verifies")
	}
	forgedCard := forged.Card()
	if _, err := mandate.ParseCardLines(forgedCard[:]); err != nil {
		t.Fatalf("the forged card's lines do not check: %v", err)
	}

	video := filepath.Join(t.TempDir(), "card.y4m")
	writeY4M(t, video, tok)
	b, votes := newCameraBrowser(t, video, true)

	b.do("open the app", chromedp.EmulateViewport(360, 740), chromedp.Navigate(p.edge+"/?lang=en"), chromedp.WaitVisible(chromedp.ID("opt-0")))
	b.shot("ballot")
	fitsViewport(b, "ballot")
	say := c.Settings.Options[3]
	b.choose(3, strings.TrimSpace(mustRun(t, "booth", "code", "--dir", data)))
	b.do("wait for the mandate form", chromedp.WaitVisible(chromedp.ID("line-12")), chromedp.WaitVisible(chromedp.ID("scan")))
	b.shot("mandate-form")
	fitsViewport(b, "mandate form")
	if evalJS[bool](b, `typeof window.jsQR !== 'undefined' || document.querySelector('script[src$="jsQR.js"]') !== null`) {
		t.Error("the QR decoder was loaded before the voter opened the scanner")
	}

	// 1. The forged card: refused in the page, nothing sent.
	b.do("paste the forged card", pasteCard(forged.Card()))
	if got := cardShown(b); got != forged.Card() {
		t.Fatalf("after the paste the card reads %q", got)
	}
	b.do("cast the forged card", chromedp.Click(chromedp.ID("cast")), chromedp.WaitVisible(chromedp.ID("mandate-error")))
	if msg := b.text("#mandate-error"); !strings.Contains(msg, "signature does not verify") || !strings.Contains(msg, "Nothing was sent") {
		t.Errorf("forged card: the page says %q", msg)
	}
	// Long enough for a vote to have left had the page sent one once its
	// work was done (a few seconds at the demo threshold).
	eventuallyJS(t, b, "the proof of work is done", `window.powvote.work !== null`)
	time.Sleep(time.Second)
	if sent := evalJS[int](b, `window.powvote.sent.vote`); sent != 0 || votes.Load() != 0 {
		t.Errorf("the forged mandate was sent: %d votes in the page, %d on the wire", sent, votes.Load())
	}
	if evalJS[bool](b, `document.getElementById('cast').disabled || document.getElementById('line-1').readOnly || !!window.powvote.token`) {
		t.Error("after the refusal the card cannot be corrected")
	}
	b.shot("forged-card-refused")
	fitsViewport(b, "forged card refused")

	// 2. The scanner: live preview, then stopped by the voter before the
	// code shows; the camera is off and the typed card untouched.
	b.do("open the scanner", chromedp.Click(chromedp.ID("scan")), chromedp.WaitVisible(chromedp.ID("preview")))
	eventuallyJS(t, b, "the preview plays", `document.getElementById('preview').videoWidth > 0`)
	// A bare value is an ideal one: preferred, not required.
	if facing := evalJS[string](b, `JSON.stringify(window.powvote.scan.stream.getVideoTracks()[0].getConstraints().facingMode)`); facing != `{"ideal":"environment"}` && facing != `"environment"` {
		t.Errorf("the camera was asked for with facingMode %s, want the rear camera preferred", facing)
	}
	if evalJS[bool](b, `typeof window.jsQR !== 'function'`) {
		t.Error("the scanner runs without the QR decoder")
	}
	b.shot("scanner-preview")
	fitsViewport(b, "scanner")
	b.do("stop the camera",
		chromedp.Evaluate[chromedp.Void](`window.scanTracks = document.getElementById('preview').srcObject.getTracks()`),
		chromedp.Click(chromedp.ID("scan-stop")),
		chromedp.WaitNotVisible(chromedp.ID("preview")),
	)
	if evalJS[bool](b, `window.scanTracks.some((t) => t.readyState !== 'ended') || window.powvote.scan !== null`) {
		t.Error("the stop button left the camera on")
	}
	if id := evalJS[string](b, `document.activeElement.id`); id != "scan" {
		t.Errorf("after stopping the camera the focus is on %q, want the scan button", id)
	}
	if got := cardShown(b); got != forged.Card() || evalJS[int](b, `window.powvote.scanned`) != 0 {
		t.Fatalf("the camera read a code before the QR code was shown: the card reads %q", got)
	}

	// 3. Scanned: the card's lines as printed, replacing what was there,
	// and the camera off.
	b.do("scan the card",
		chromedp.Click(chromedp.ID("scan")),
		chromedp.WaitVisible(chromedp.ID("preview")),
		chromedp.Evaluate[chromedp.Void](`window.scanTracks = document.getElementById('preview').srcObject.getTracks()`),
		chromedp.Poll[chromedp.Void](`window.powvote.scanned === 1`),
		chromedp.WaitNotVisible(chromedp.ID("preview")),
	)
	if got := cardShown(b); got != tok.Card() {
		t.Fatalf("the scanned card reads %q, want %q", got, tok.Card())
	}
	if evalJS[bool](b, `window.scanTracks.some((t) => t.readyState !== 'ended')`) {
		t.Error("the camera stays on after the code was read")
	}
	if msg := b.text("#status"); !strings.Contains(msg, "read from its QR code") {
		t.Errorf("after the scan the status reads %q", msg)
	}
	if evalJS[bool](b, `!document.getElementById('mandate-error').hidden`) {
		t.Errorf("the scanned, valid card shows the error %q", b.text("#mandate-error"))
	}
	b.shot("scanned")
	fitsViewport(b, "scanned")

	// 4. The vote, and its receipt.
	b.do("cast", chromedp.Click(chromedp.ID("cast")))
	b.receipt(c, say)
	if n := votes.Load(); n != 1 {
		t.Errorf("%d vote requests on the wire, want 1", n)
	}
	b.do("wait for the receipt check", chromedp.Poll[chromedp.Void](`document.getElementById('receipt-verify').dataset.result !== 'receiptChecking'`))
	b.shot("receipt")
	fitsViewport(b, "receipt")
	checkReceiptKeyVerdict(t, b, p.edge, c)

	// Receipt-Sig as the app checks it, against the platform's key: the
	// receipt as given verifies, a changed line or campaign does not.
	text := b.text("#receipt-text")
	name, lines, sig, err := wire.ParseReceipt(text)
	if err != nil {
		t.Fatalf("receipt %q: %v", text, err)
	}
	pub := base64.StdEncoding.EncodeToString(c.Secrets.ReceiptKey.Public().(ed25519.PublicKey))
	changed := append([]string(nil), lines...)
	changed[0] = mistype(changed[0])
	for _, tc := range []struct {
		what     string
		campaign string
		lines    []string
		want     bool
	}{
		{"the receipt", name, lines, true},
		{"a changed line", name, changed, false},
		{"another campaign", "lunar", lines, false},
	} {
		got := evalJS[bool](b, fmt.Sprintf(`window.powvote.verifyReceipt(%q, %q, %s, %q)`, pub, tc.campaign, jsStrings(tc.lines), sig), chromedp.EvalAwaitPromise)
		if got != tc.want {
			t.Errorf("the app's check of %s: %v, want %v", tc.what, got, tc.want)
		}
	}

	// Printing: the button asks the browser to print, and the print
	// style shows the receipt alone.
	b.do("print", chromedp.Evaluate[chromedp.Void](`window.printed = 0; window.addEventListener('beforeprint', () => { window.printed++; })`), chromedp.Click(chromedp.ID("print")))
	eventuallyJS(t, b, "the browser prints", `window.printed === 1`)
	if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
		t.Fatal(err)
	}
	shown := evalJS[map[string]bool](b, `Object.fromEntries(['title', 'lang', 'receipt-title', 'receipt-meta', 'receipt-intro', 'receipt-lines', 'receipt-text', 'receipt-verify', 'save', 'print', 'check-link', 'mandate', 'work']
		.map((id) => [id, document.getElementById(id).checkVisibility()]))`)
	for id, want := range map[string]bool{
		"title": false, "lang": false, "receipt-title": true, "receipt-meta": true, "receipt-intro": false, "receipt-lines": false,
		"receipt-text": true, "receipt-verify": true, "save": false, "print": false, "check-link": false, "mandate": false, "work": false,
	} {
		if shown[id] != want {
			t.Errorf("printed, #%s is shown: %v, want %v", id, shown[id], want)
		}
	}
	if meta := b.text("#receipt-meta"); !strings.Contains(meta, "solar") || !strings.Contains(meta, fmt.Sprint(time.Now().Year())) {
		t.Errorf("the printed campaign and date read %q", meta)
	}
	if pt := b.text("#receipt-text"); pt != text || !strings.Contains(pt, "Receipt-Sig: "+sig) {
		t.Errorf("the printed receipt reads %q", pt)
	}
	b.shot("receipt-print")
	if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{}); err != nil {
		t.Fatal(err)
	}

	// The link to the check page, which the edge serves.
	if href := evalJS[string](b, `document.getElementById('check-link').getAttribute('href')`); href != "/app/check/index.html" {
		t.Errorf("the check page link goes to %q", href)
	}
	if resp, err := http.Get(p.edge + "/app/check/index.html"); err != nil || resp.StatusCode != 200 {
		t.Errorf("the check page: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// Every language at 360 px, and every message translated.
	for _, lang := range []string{"de", "pl"} {
		b.do("switch to "+lang, chromedp.SetValue(chromedp.ID("lang"), lang),
			chromedp.Evaluate[chromedp.Void](`document.getElementById('lang').dispatchEvent(new Event('change'))`))
		eventuallyJS(t, b, "the receipt in "+lang, fmt.Sprintf(`document.documentElement.lang === %q`, lang))
		b.shot("receipt-" + lang)
		fitsViewport(b, "receipt in "+lang)
	}
	missing := evalJS[[]string](b, `Promise.all(['en', 'de', 'pl'].map((l) => fetch('/app/voter/i18n/' + l + '.json').then((r) => r.json())))
		.then(([en, de, pl]) => Object.keys(en).filter((k) => !(k in de) || !(k in pl) ||
			(en[k].replace(/\{\w+\}/g, '').length > 4 && (de[k] === en[k] || pl[k] === en[k]))))`, chromedp.EvalAwaitPromise)
	if len(missing) != 0 {
		t.Errorf("messages missing or untranslated in de or pl: %q", missing)
	}
	for _, lang := range []string{"de", "pl"} {
		b.do("the ballot in "+lang, chromedp.Navigate(p.edge+"/?lang="+lang), chromedp.WaitVisible(chromedp.ID("opt-0")))
		fitsViewport(b, "ballot in "+lang)
		b.choose(1, strings.TrimSpace(mustRun(t, "booth", "code", "--dir", data)))
		b.do("the mandate form in "+lang, chromedp.WaitVisible(chromedp.ID("scan")))
		b.shot("mandate-form-" + lang)
		fitsViewport(b, "mandate form in "+lang)
	}
}

// checkReceiptKeyVerdict checks what the receipt screen says about
// Receipt-Sig against what the edge serves at /solar-receipt.key: verified
// under the campaign's receipt key when it is published, "not published"
// when the edge answers 404.
func checkReceiptKeyVerdict(t *testing.T, b *browser, edge string, c *campaign.Campaign) {
	t.Helper()
	resp, err := http.Get(edge + "/solar-receipt.key")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	verdict := evalJS[string](b, `document.getElementById('receipt-verify').dataset.result`)
	msg := b.text("#receipt-verify")
	switch resp.StatusCode {
	case http.StatusOK:
		want := base64.StdEncoding.EncodeToString(c.Secrets.ReceiptKey.Public().(ed25519.PublicKey)) + "\n"
		if string(body) != want {
			t.Fatalf("/solar-receipt.key is %q, want %q", body, want)
		}
		if verdict != "receiptVerified" || !strings.Contains(msg, "verifies") {
			t.Errorf("with the receipt key published the receipt screen says %s: %q", verdict, msg)
		}
	case http.StatusNotFound, http.StatusBadRequest:
		t.Logf("the edge does not serve /solar-receipt.key yet (%d): Receipt-Sig was not checked in the page", resp.StatusCode)
		if verdict != "receiptKeyMissing" || !strings.Contains(msg, "does not publish") {
			t.Errorf("without a published receipt key the receipt screen says %s: %q", verdict, msg)
		}
	default:
		t.Errorf("/solar-receipt.key: %d %q", resp.StatusCode, body)
	}
}

// jsStrings writes ss as a JavaScript array of strings.
func jsStrings(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// TestBrowserScanNoCamera opens the scanner where there is no camera and
// where the camera is refused: the app says which, offers the scan button
// again and keeps the typed card as the way on.
func TestBrowserScanNoCamera(t *testing.T) {
	data := filepath.Join(t.TempDir(), "pv")
	p := startUp(t, data)
	defer p.stop(t)
	video := filepath.Join(t.TempDir(), "card.y4m")
	tok, err := mandate.Issue(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	writeY4M(t, video, tok)
	for _, tc := range []struct {
		name   string
		video  string
		deny   bool
		expect string
	}{
		{"no-camera", "", false, "No camera was found"},
		// A camera, and the voter's answer no.
		{"refused", video, true, "permission was refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := newCameraBrowser(t, tc.video, !tc.deny)
			if tc.deny {
				if _, err := chromedp.CallBrowser(b.ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
					Permission: &cdpbrowser.PermissionDescriptor{Name: "camera"},
					Setting:    cdpbrowser.PermissionSettingDenied,
					Origin:     p.edge,
				}); err != nil {
					t.Fatal(err)
				}
			}
			b.do("open the app", chromedp.EmulateViewport(360, 740), chromedp.Navigate(p.edge+"/?lang=en"), chromedp.WaitVisible(chromedp.ID("opt-0")))
			b.choose(0, strings.TrimSpace(mustRun(t, "booth", "code", "--dir", data)))
			b.do("open the scanner", chromedp.WaitVisible(chromedp.ID("scan")), chromedp.Click(chromedp.ID("scan")), chromedp.WaitVisible(chromedp.ID("scan-error")))
			if msg := b.text("#scan-error"); !strings.Contains(msg, tc.expect) || !strings.Contains(strings.ToLower(msg), "type the 12 lines") {
				t.Errorf("the scanner says %q, want %q and the way on", msg, tc.expect)
			}
			if evalJS[bool](b, `window.powvote.scan !== null || !document.getElementById('scanner').hidden || document.getElementById('scan').disabled`) {
				t.Error("after the camera failed the scanner is still open or cannot be tried again")
			}
			b.shot(tc.name)
			fitsViewport(b, tc.name)
		})
	}
}
