package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/powvote/powvote/pow"
	"github.com/powvote/powvote/web"
)

// browserPowTime is how long each side of BenchmarkBrowserPow searches;
// POWVOTE_POW_TIME (a Go duration, at least 5s) overrides it.
const browserPowTime = 5 * time.Second

// benchWork is a vote of the usual size, the one pow.Rate hashes: 10-digit
// P-UTC, 64-byte P-SIG, 39-character voter stamp and a 12-byte option, a
// 125-byte prefix that takes an 8-byte nonce (133 bytes hashed).
func benchWork() pow.Work {
	sig := make([]byte, 64)
	for i := range sig {
		sig[i] = byte(i*37 + 11)
	}
	return pow.Work{
		PUTC:  "1767225600",
		PSig:  sig,
		Voter: "7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS-1NCA-8FYQ",
		Say:   "Solar panels",
	}
}

// browserRateJS runs the voter app's proof-of-work workers, as many as the
// app starts (startWork in app.js), on a search that cannot succeed: a
// second of warm-up, then the hashes counted over the measured time. The
// workers report every 2^14 hashes, so the count is off by at most 2^14
// per worker at each end, well under 1% of the tens of millions counted.
const browserRateJS = `new Promise((resolve) => {
	const hex = %q, prefix = new Uint8Array(hex.length / 2);
	for (let i = 0; i < prefix.length; i++) prefix[i] = parseInt(hex.substr(2 * i, 2), 16);
	const n = Math.max(1, Math.min(navigator.hardwareConcurrency || 2, 16)), ws = [];
	let hashes = 0;
	for (let i = 0; i < n; i++) {
		const w = new Worker('/app/voter/pow-worker.js');
		w.onmessage = (ev) => { hashes += ev.data.hashes; };
		w.postMessage({prefix, threshold: 256});
		ws.push(w);
	}
	setTimeout(() => {
		const h0 = hashes, t0 = performance.now();
		setTimeout(() => {
			const h1 = hashes, t1 = performance.now();
			ws.forEach((w) => w.terminate());
			resolve({hashes: h1 - h0, ms: t1 - t0, workers: n});
		}, %d);
	}, 1000);
})`

// selfTestJS asks a proof-of-work worker which engine a search on the
// prefix (hex) would use and whether that engine agrees with the worker's
// JavaScript SHA-256 (selfTest in pow-worker.js).
const selfTestJS = `new Promise((resolve, reject) => {
	const hex = %q, prefix = new Uint8Array(hex.length / 2);
	for (let i = 0; i < prefix.length; i++) prefix[i] = parseInt(hex.substr(2 * i, 2), 16);
	const w = new Worker('/app/voter/pow-worker.js');
	w.onmessage = (ev) => { w.terminate(); resolve(ev.data); };
	w.onerror = (e) => { w.terminate(); reject(new Error(e.message)); };
	w.postMessage({cmd: 'selftest', prefix});
})`

// workerEngine is what selfTestJS answers.
type workerEngine struct {
	Engine string `json:"engine"`
	OK     bool   `json:"ok"`
}

// BenchmarkBrowserPow measures, in one process on one machine, the hash
// rate of the voter app's workers in headless Chromium and that of the
// native solver with all cores, each on the same 133-byte vote message for
// the same time, one after the other, and reports both and their ratio.
// Run it with -benchtime 1x (make bench-browser); it needs Chromium at
// /usr/bin/chromium.
func BenchmarkBrowserPow(b *testing.B) {
	d := browserPowTime
	if s := os.Getenv("POWVOTE_POW_TIME"); s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil || d < 5*time.Second {
			b.Fatalf("POWVOTE_POW_TIME=%q: want a duration of at least 5s", s)
		}
	}
	if _, err := os.Stat(chromium); err != nil {
		b.Fatalf("the browser benchmark needs Chromium at %s (apt-get install chromium): %v", chromium, err)
	}

	// The voter app's files as the edge serves them, under /app/.
	mux := http.NewServeMux()
	mux.Handle("/app/", http.StripPrefix("/app/", http.FileServerFS(web.FS)))
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><title>proof of work</title>")
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromiumOptions(b.TempDir())...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		b.Fatalf("start %s: %v", chromium, err)
	}

	w := benchWork()
	prefix := w.Prefix()
	if len(prefix)+8 != 133 {
		b.Fatalf("the vote message is %d bytes, want 133", len(prefix)+8)
	}
	expr := fmt.Sprintf(browserRateJS, hex.EncodeToString(prefix), d.Milliseconds())
	eng, err := chromedp.Run(ctx, chromedp.Evaluate[workerEngine](fmt.Sprintf(selfTestJS, hex.EncodeToString(prefix)), chromedp.EvalAwaitPromise))
	if err != nil {
		b.Fatalf("worker self-test: %v", err)
	}
	if !eng.OK {
		b.Fatalf("the worker's %s engine disagrees with its JavaScript SHA-256", eng.Engine)
	}

	var browserHashes, browserSecs, nativeRate float64
	workers := 0
	b.ResetTimer()
	for range b.N {
		ectx, ecancel := context.WithTimeout(ctx, d+time.Minute)
		r, err := chromedp.Run(ectx, chromedp.Evaluate[struct {
			Hashes  float64 `json:"hashes"`
			MS      float64 `json:"ms"`
			Workers int     `json:"workers"`
		}](expr, chromedp.EvalAwaitPromise))
		ecancel()
		if err != nil {
			b.Fatalf("browser proof of work: %v", err)
		}
		browserHashes += r.Hashes
		browserSecs += r.MS / 1000
		workers = r.Workers

		// The browser's workers are stopped: the native solver has the
		// machine to itself, as the browser had.
		rate, err := pow.Rate(context.Background(), 0, d)
		if err != nil {
			b.Fatal(err)
		}
		nativeRate += rate
	}
	b.StopTimer()
	browserMH := browserHashes / browserSecs / 1e6
	nativeMH := nativeRate / float64(b.N) / 1e6
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(browserMH, "browser-MH/s")
	b.ReportMetric(nativeMH, "native-MH/s")
	b.ReportMetric(browserMH/nativeMH, "browser/native")
	b.Logf("%d browser workers (%s engine), %d native workers, %v each", workers, eng.Engine, runtime.GOMAXPROCS(0), d)
}
