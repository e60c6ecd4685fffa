package edge

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium is where the browser tests find Chromium, as in cmd/powvote.
const chromium = "/usr/bin/chromium"

// TestStrayWorkerInChromium plays the whole attack in a real browser. For
// a while the origin is held by an intruder, whose page registers a
// service worker of its own at /x/evil-sw.js for the scope /, allowed by
// its own Service-Worker-Allowed header; the worker answers every page
// load with the intruder's page. Then the honest edge is back at the same
// origin. The browser's next page load checks the intruder's script for
// an update; the edge's answer must end the takeover: no worker left, and
// the edge's own page on the next load. With a 400 there, as for any other
// path the edge does not serve, the intruder's worker stays for good.
func TestStrayWorkerInChromium(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("this test needs Chromium at %s (apt-get install chromium): %v", chromium, err)
	}
	files := fstest.MapFS{
		"voter/index.html": {Data: []byte("<!doctype html><title>voter</title><body>the voter app</body>")},
		"voter/sw.js":      {Data: []byte("'use strict';")},
	}
	_, base := serve(t, Config{Campaigns: []Campaign{offline(t, settings("solar", "A"))}, Static: files})
	edgeURL, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	honest := httputil.NewSingleHostReverseProxy(edgeURL)
	var intruder atomic.Bool
	intruder.Store(true)
	var scriptFetches atomic.Int32 // worker script fetches the honest edge got
	front := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !intruder.Load() {
			if r.Header.Get("Service-Worker") == "script" {
				scriptFetches.Add(1)
			}
			honest.ServeHTTP(w, r)
			return
		}
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, `<!doctype html><body>loading<script>navigator.serviceWorker.register('/x/evil-sw.js', {scope: '/'})</script></body>`)
		case "/x/evil-sw.js":
			w.Header().Set("Content-Type", "text/javascript")
			w.Header().Set("Service-Worker-Allowed", "/")
			fmt.Fprint(w, `self.addEventListener('install', (e) => e.waitUntil(self.skipWaiting()));
self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));
self.addEventListener('fetch', (e) => {
  if (e.request.mode === 'navigate') {
    e.respondWith(new Response('<body>taken over</body>', { headers: { 'Content-Type': 'text/html' } }));
  }
});`)
		default:
			http.NotFound(w, r)
		}
	})
	// 127.0.0.1 is a secure context: the browser allows workers on it
	// without TLS.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: front, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	site := "http://" + ln.Addr().String() + "/"

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelTimeout()
	load := func() string {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(site)); err != nil {
			t.Fatalf("load %s: %v", site, err)
		}
		body, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS("body")))
		if err != nil {
			t.Fatalf("read the page: %v", err)
		}
		return body
	}
	eval := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
		return v
	}
	registrations := `navigator.serviceWorker.getRegistrations().then((rs) => rs.map((r) => (r.active || r.waiting || r.installing || {}).scriptURL).join(' '))`

	load()
	eval(`navigator.serviceWorker.ready.then((r) => r.active.scriptURL)`)
	if body := load(); body != "taken over" {
		t.Fatalf("the intruder's worker does not serve the page: %q", body)
	}

	// The honest edge is back. This load still comes from the intruder's
	// worker, and makes the browser check its script.
	intruder.Store(false)
	load()
	deadline := time.Now().Add(20 * time.Second)
	var left string
	for {
		if left = eval(registrations); left == "" || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if left != "" {
		t.Errorf("workers still registered: %s (worker script fetches at the edge: %d)", left, scriptFetches.Load())
	}
	if body := load(); body != "the voter app" {
		t.Errorf("after the edge's answer the page reads %q, want the edge's own", body)
	}
	if scriptFetches.Load() == 0 {
		t.Error("the browser never fetched the intruder's script from the edge")
	}
}
