package main

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// The voter app's icons (web/voter/icons) are drawn by voterIcon below and
// checked by TestVoterIcons; after a change to the drawing, write them
// again with
//
//	POWVOTE_WRITE_ICONS=1 go test ./cmd/powvote -run TestVoterIcons

// voterIcons are the icon files of the manifest: name, size, and whether
// the icon is maskable (a full-bleed background the platform crops to its
// own shape, the emblem inside the central safe circle).
var voterIcons = []struct {
	name     string
	size     int
	maskable bool
}{
	{"icon-192.png", 192, false},
	{"icon-512.png", 512, false},
	{"maskable-512.png", 512, true},
}

var (
	iconBlue   = color.NRGBA{0x1f, 0x4e, 0x99, 0xff} // the app's theme colour
	iconWhite  = color.NRGBA{0xff, 0xff, 0xff, 0xff}
	iconOrange = color.NRGBA{0xf0, 0xa5, 0x00, 0xff} // the app's focus colour
)

// voterIcon draws the emblem: a white ballot card with a blue tick on a
// blue rounded square (or a full square when maskable), an orange slot bar
// above the card. Shapes are computed in the unit square and sampled 4x4
// per pixel for smooth edges.
func voterIcon(size int, maskable bool) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	const ss = 4
	for py := range size {
		for px := range size {
			var r, g, b, a float64
			for sy := range ss {
				for sx := range ss {
					x := (float64(px) + (float64(sx)+0.5)/ss) / float64(size)
					y := (float64(py) + (float64(sy)+0.5)/ss) / float64(size)
					c, ok := iconSample(x, y, maskable)
					if ok {
						r += float64(c.R)
						g += float64(c.G)
						b += float64(c.B)
						a++
					}
				}
			}
			if a == 0 {
				continue
			}
			img.SetNRGBA(px, py, color.NRGBA{
				R: uint8(math.Round(r / a)), G: uint8(math.Round(g / a)), B: uint8(math.Round(b / a)),
				A: uint8(math.Round(a / ss / ss * 255)),
			})
		}
	}
	return img
}

// iconSample is the colour at (x, y) of the unit square, and false where
// the icon is transparent.
func iconSample(x, y float64, maskable bool) (color.NRGBA, bool) {
	if !maskable && !inRoundRect(x, y, 0, 0, 1, 1, 0.2) {
		return color.NRGBA{}, false
	}
	switch {
	case onSegment(x, y, 0.37, 0.54, 0.46, 0.63, 0.045) || onSegment(x, y, 0.46, 0.63, 0.64, 0.41, 0.045):
		return iconBlue, true
	case inRoundRect(x, y, 0.29, 0.27, 0.71, 0.79, 0.04):
		return iconWhite, true
	case inRoundRect(x, y, 0.36, 0.19, 0.64, 0.23, 0.02):
		return iconOrange, true
	}
	return iconBlue, true
}

// inRoundRect reports whether (x, y) is inside the rectangle with corners
// (x0, y0) and (x1, y1) whose corners are rounded with radius r.
func inRoundRect(x, y, x0, y0, x1, y1, r float64) bool {
	cx := math.Max(x0+r, math.Min(x, x1-r))
	cy := math.Max(y0+r, math.Min(y, y1-r))
	return x >= x0 && x <= x1 && y >= y0 && y <= y1 && math.Hypot(x-cx, y-cy) <= r
}

// onSegment reports whether (x, y) is within w of the segment from
// (x0, y0) to (x1, y1): a stroke with round ends.
func onSegment(x, y, x0, y0, x1, y1, w float64) bool {
	dx, dy := x1-x0, y1-y0
	t := math.Max(0, math.Min(1, ((x-x0)*dx+(y-y0)*dy)/(dx*dx+dy*dy)))
	return math.Hypot(x-(x0+t*dx), y-(y0+t*dy)) <= w
}

// TestVoterIcons checks that the committed icons are what voterIcon draws,
// pixel for pixel, and that the maskable icon keeps its emblem inside the
// safe circle (radius 40% of the size) that every mask leaves visible.
func TestVoterIcons(t *testing.T) {
	dir := filepath.Join("..", "..", "web", "voter", "icons")
	write := os.Getenv("POWVOTE_WRITE_ICONS") == "1"
	for _, ic := range voterIcons {
		t.Run(ic.name, func(t *testing.T) {
			want := voterIcon(ic.size, ic.maskable)
			path := filepath.Join(dir, ic.name)
			if write {
				var buf bytes.Buffer
				if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, want); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatalf("%v (POWVOTE_WRITE_ICONS=1 draws the icons)", err)
			}
			defer f.Close()
			got, err := png.Decode(f)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if got.Bounds() != want.Bounds() {
				t.Fatalf("%s is %v, want %v", path, got.Bounds(), want.Bounds())
			}
			for y := range ic.size {
				for x := range ic.size {
					if g := color.NRGBAModel.Convert(got.At(x, y)); g != want.At(x, y) {
						t.Fatalf("%s differs from the drawing at (%d, %d): %v, want %v (POWVOTE_WRITE_ICONS=1 draws it again)", path, x, y, g, want.At(x, y))
					}
				}
			}
			if !ic.maskable {
				return
			}
			// Outside the safe circle a maskable icon is plain background.
			c := float64(ic.size) / 2
			for y := range ic.size {
				for x := range ic.size {
					if math.Hypot(float64(x)+0.5-c, float64(y)+0.5-c) > 0.4*float64(ic.size) && want.NRGBAAt(x, y) != iconBlue {
						t.Fatalf("the maskable icon has emblem at (%d, %d), outside the safe circle", x, y)
					}
				}
			}
		})
	}
}

// fitsViewport checks that the page needs no sideways scrolling at the
// emulated viewport's width.
func fitsViewport(b *browser, what string) {
	b.t.Helper()
	w := evalJS[[2]int](b, `[document.documentElement.scrollWidth, window.innerWidth]`)
	if w[0] > w[1] {
		b.t.Errorf("%s: the page is %d px wide in a %d px viewport", what, w[0], w[1])
	}
}

// TestBrowserVoterPWA opens the voter app from `powvote up` in Chromium and
// checks that it is installable (no installability errors, its manifest's
// icons served and of their stated sizes), that its service worker keeps
// the app's files and none of the platform's answers, and that after one
// visit the app opens with the network off, saying that it is offline.
func TestBrowserVoterPWA(t *testing.T) {
	b := newBrowser(t)
	data := filepath.Join(t.TempDir(), "pv")
	p := startUp(t, data)
	defer p.stop(t)

	b.do("open the app", chromedp.EmulateViewport(360, 740), chromedp.Navigate(p.edge+"/?lang=en"), chromedp.WaitVisible(chromedp.ID("opt-0")))
	eventuallyJS(t, b, "the service worker is active", `window.powvote.swScope !== '' && navigator.serviceWorker.getRegistration(window.powvote.swScope).then((r) => !!(r && r.active))`)
	b.shot("ballot")
	fitsViewport(b, "ballot")

	inst, err := chromedp.Call(b.ctx, page.GetInstallabilityErrors, cdp.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range inst.InstallabilityErrors {
		var args []string
		for _, a := range e.ErrorArguments {
			args = append(args, a.Name+"="+a.Value)
		}
		t.Errorf("installability error %s %v", e.ErrorID, args)
	}
	man, err := chromedp.Call(b.ctx, page.GetAppManifest, page.GetAppManifestParams{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range man.Errors {
		t.Errorf("manifest error: %s (line %d)", e.Message, e.Line)
	}
	if man.Manifest == nil || man.Manifest.StartURL != p.edge+"/" || man.Manifest.Scope != p.edge+"/" || man.Manifest.ID != p.edge+"/" {
		t.Errorf("manifest: %+v", man.Manifest)
	}
	for _, ic := range voterIcons {
		resp, err := http.Get(p.edge + "/app/voter/icons/" + ic.name)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("icon %s: %d %s %v", ic.name, resp.StatusCode, resp.Header.Get("Content-Type"), err)
		}
		if img.Bounds().Dx() != ic.size || img.Bounds().Dy() != ic.size {
			t.Errorf("icon %s is %v, want %d px square", ic.name, img.Bounds(), ic.size)
		}
	}

	// The worker may control / only if the edge allows it; without the
	// header the browser must have refused that scope and the app fall back
	// to its own directory, which it then opens offline.
	resp, err := http.Get(p.edge + "/app/voter/sw.js")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	allowed := resp.Header.Get("Service-Worker-Allowed") == "/"
	scope := evalJS[string](b, `window.powvote.swScope`)
	start := p.edge + "/app/voter/index.html?lang=en"
	if allowed {
		start = p.edge + "/?lang=en"
		if scope != "/" {
			t.Errorf("the edge allows the scope /, the app registered its worker for %q", scope)
		}
	} else {
		t.Logf("the edge sends no Service-Worker-Allowed: / for /app/voter/sw.js: the worker keeps /app/voter/, and / does not open offline")
		if scope != "/app/voter/" {
			t.Errorf("without Service-Worker-Allowed the app registered its worker for %q, want /app/voter/", scope)
		}
	}

	// One visit of the start page online, under the worker's control.
	b.do("visit the start page online", chromedp.Navigate(start), chromedp.WaitVisible(chromedp.ID("opt-0")))
	eventuallyJS(t, b, "the worker controls the page", `navigator.serviceWorker.controller !== null`)

	// What the worker stored: the app's files, nothing of the platform's.
	stored := evalJS[[]string](b, `caches.keys().then((ks) => Promise.all(ks.map((k) => caches.open(k).then((c) => c.keys()))))
		.then((rs) => rs.flat().map((r) => new URL(r.url).pathname))`, chromedp.EvalAwaitPromise)
	var haveRoot, haveApp, haveWasm bool
	for _, path := range stored {
		haveRoot = haveRoot || path == "/"
		haveApp = haveApp || path == "/app/voter/app.js"
		haveWasm = haveWasm || path == "/app/voter/pow.wasm"
		if path != "/" && !strings.HasPrefix(path, "/app/voter/") {
			t.Errorf("the service worker stored %s, which is not a file of the app", path)
		}
	}
	if !haveRoot || !haveApp || !haveWasm {
		t.Errorf("the service worker stored %q, want /, the app's files and its solver", stored)
	}

	// The network off, for the page and for the worker; the app reloaded.
	offline := true
	if _, err := chromedp.Call(b.ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
		EmulateOfflineServiceWorker: &offline,
		MatchedNetworkConditions:    []*network.Conditions{{Offline: true, DownloadThroughput: -1, UploadThroughput: -1}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(b.ctx, network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: true, DownloadThroughput: -1, UploadThroughput: -1}); err != nil {
		t.Fatal(err)
	}
	b.do("reload offline", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("title")))
	eventuallyJS(t, b, "the offline message", `document.getElementById('status').textContent.includes('offline')`)
	if got := b.text("#title"); got != "Vote" {
		t.Errorf("offline, the app's title reads %q", got)
	}
	if sent := evalJS[int](b, `window.powvote.sent.list`); sent == 0 {
		t.Error("offline, the app did not try to load the ballot")
	}
	b.shot("offline")
	fitsViewport(b, "offline")

	// The emulation really cuts the network: a page the worker leaves alone
	// does not open.
	chromedp.Do(b.ctx, chromedp.Navigate(p.edge+"/app/check/index.html"))
	if evalJS[bool](b, `document.getElementById('lang') !== null`) {
		t.Error("with the network off, the check page opened: the test's offline emulation does not work")
	}

	// Back online, the app loads the ballot by itself.
	b.do("open the app offline again", chromedp.Navigate(start), chromedp.WaitVisible(chromedp.ID("title")))
	if _, err := chromedp.Call(b.ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
		MatchedNetworkConditions: []*network.Conditions{},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(b.ctx, network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: false, DownloadThroughput: -1, UploadThroughput: -1}); err != nil {
		t.Fatal(err)
	}
	b.do("the ballot once online", chromedp.WaitVisible(chromedp.ID("opt-0")))
	if got := b.text("#status"); got != "" {
		t.Errorf("online again, the status still reads %q", got)
	}
	b.shot("online-again")
}
