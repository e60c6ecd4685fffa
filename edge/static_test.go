package edge

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// raw sends path exactly as written, which net/http's client would clean,
// and returns the answer with its body.
func raw(t *testing.T, base, path string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: solar.example\r\nConnection: close\r\n\r\n", path)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestStatic(t *testing.T) {
	files := fstest.MapFS{
		"voter/index.html":           {Data: []byte("<!doctype html>voter")},
		"voter/app.js":               {Data: []byte("'use strict';")},
		"voter/style.css":            {Data: []byte("body{}")},
		"voter/manifest.webmanifest": {Data: []byte("{}")},
		"voter/i18n/en.json":         {Data: []byte(`{"a":"b"}`)},
		"voter/notes.md":             {Data: []byte("no type for this")},
		"secret.key":                 {Data: []byte("never served")},
	}
	_, base := serve(t, Config{Campaigns: []Campaign{offline(t, settings("solar", "A"))}, Static: files})
	for _, tc := range []struct{ path, ctype, body string }{
		{"/", "text/html; charset=utf-8", "<!doctype html>voter"},
		{"/?lang=de", "text/html; charset=utf-8", "<!doctype html>voter"},
		{"/app/voter/index.html", "text/html; charset=utf-8", "<!doctype html>voter"},
		{"/app/voter/app.js", "text/javascript; charset=utf-8", "'use strict';"},
		{"/app/voter/app.js?v=1", "text/javascript; charset=utf-8", "'use strict';"},
		{"/app/voter/style.css", "text/css; charset=utf-8", "body{}"},
		{"/app/voter/manifest.webmanifest", "application/manifest+json; charset=utf-8", "{}"},
		{"/app/voter/i18n/en.json", "application/json; charset=utf-8", `{"a":"b"}`},
	} {
		resp, body := raw(t, base, tc.path)
		if resp.StatusCode != 200 || body != tc.body {
			t.Errorf("GET %s: %d %q, want 200 %q", tc.path, resp.StatusCode, body, tc.body)
			continue
		}
		h := resp.Header
		if h.Get("Content-Type") != tc.ctype || h.Get("X-Content-Type-Options") != "nosniff" ||
			!strings.HasPrefix(h.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("GET %s: headers %v", tc.path, h)
		}
	}
	for _, p := range []string{
		"/app/", "/app/voter", "/app/voter/", "/app/voter/i18n/", // directories: no listing
		"/app/voter/missing.js", "/app/voter/notes.md", // missing, or of no known type
		"/app/../secret.key", "/app/voter/../../secret.key", "/app/voter/./app.js", "/app/./voter/app.js",
		"/app//voter/app.js", "/app/voter//app.js", "//app/voter/app.js", "//",
		"/app/voter%2fapp.js", "/app/voter%2Fapp.js", "/app%2fvoter/app.js", "/app/voter%5capp.js",
		"/app/%2e%2e/secret.key", "/app/voter/app%2ejs", "/app/voter\\app.js", "/app/voter/app.js/",
		"/app/secret.key", "/index.html", "/voter/index.html",
	} {
		resp, body := raw(t, base, p)
		if resp.StatusCode != 400 || body != "" {
			t.Errorf("GET %s: %d %q, want 400 and empty", p, resp.StatusCode, body)
		}
	}
	// The other endpoints are unchanged, and only GET reaches the files.
	if resp, _ := do(t, "GET", base+"/list", nil); resp.StatusCode != 204 {
		t.Errorf("GET /list: %d", resp.StatusCode)
	}
	if resp, _ := do(t, "POST", base+"/app/voter/app.js", nil); resp.StatusCode != 400 {
		t.Errorf("POST /app/voter/app.js: %d", resp.StatusCode)
	}
}

// TestStaticOff checks that an edge without files serves none.
func TestStaticOff(t *testing.T) {
	_, base := serve(t, Config{Campaigns: []Campaign{offline(t, settings("solar", "A"))}})
	for _, p := range []string{"/", "/app/voter/index.html"} {
		if resp, _ := raw(t, base, p); resp.StatusCode != 400 {
			t.Errorf("GET %s: %d, want 400", p, resp.StatusCode)
		}
	}
	// Without the apps there is no real worker either: a worker found at
	// the app's path did not come from this edge.
	resp, body := do(t, "GET", base+"/app/voter/sw.js", map[string]string{"Service-Worker": "script"})
	if resp.StatusCode != 200 || body != strayWorkerScript {
		t.Errorf("worker script fetch of /app/voter/sw.js without apps: %d %q, want the removing worker", resp.StatusCode, body)
	}
}

// TestStrayWorkerRemoved plays a browser in which someone who held the
// edge for a while registered a service worker of their own, at a script
// path of their choosing. When the browser checks that worker's script for
// an update, the honest edge must answer with a worker that replaces it and
// removes itself (a 400 would leave the intruder's worker installed), and
// must go on serving the real worker and every other request as before.
func TestStrayWorkerRemoved(t *testing.T) {
	const realWorker = "'use strict'; /* the voter app's worker */"
	files := fstest.MapFS{
		"voter/index.html": {Data: []byte("<!doctype html>voter")},
		"voter/app.js":     {Data: []byte("'use strict';")},
		"voter/sw.js":      {Data: []byte(realWorker)},
	}
	// Two campaigns, so that the edge picks one by Host and serves none
	// for other.example.
	s, base := serve(t, Config{Campaigns: []Campaign{offline(t, settings("solar", "A")), offline(t, settings("moon", "B"))}, Static: files})
	worker := map[string]string{"Service-Worker": "script", "Host": "solar.example"}

	// A worker's script fetch, at any path the intruder may have chosen:
	// unknown ones, a file of the app that is not its worker, the
	// endpoints, a nonce, and under a name the edge serves no campaign
	// for.
	stray := []struct{ path, host string }{
		{"/sw.js", ""},
		{"/evil-sw.js?v=3", ""},
		{"/app/voter/evil.js", ""},
		{"/app/voter/app.js", ""},
		{"/app/voter/index.html", ""},
		{"/app/voter/sw.js/", ""},
		{"/app//voter/sw.js", ""},
		{"/app/voter/SW.js", ""},
		{"/", ""},
		{"/list", ""},
		{"/stamp", ""},
		{"/solar-vote.log", ""},
		{"/" + strings.Repeat("ab", 16), ""},
		{"/sw.js", "other.example"},
	}
	for _, tc := range stray {
		hdr := map[string]string{"Service-Worker": "script", "Host": "solar.example"}
		if tc.host != "" {
			hdr["Host"] = tc.host
		}
		resp, body := do(t, "GET", base+tc.path, hdr)
		h := resp.Header
		if resp.StatusCode != 200 || body != strayWorkerScript {
			t.Errorf("worker script fetch of %s (Host %s): %d %q, want 200 and the removing worker", tc.path, hdr["Host"], resp.StatusCode, body)
			continue
		}
		for k, want := range map[string]string{
			"Content-Type":           "text/javascript; charset=utf-8",
			"Clear-Site-Data":        `"cache", "storage"`,
			"Service-Worker-Allowed": "/",
			"Cache-Control":          "no-store",
			"X-Content-Type-Options": "nosniff",
		} {
			if got := h.Get(k); got != want {
				t.Errorf("worker script fetch of %s: %s %q, want %q", tc.path, k, got, want)
			}
		}
		if !strings.Contains(h.Get("Vary"), "Service-Worker") {
			t.Errorf("worker script fetch of %s: Vary %q, want Service-Worker in it", tc.path, h.Get("Vary"))
		}
	}
	for _, want := range []string{"self.registration.unregister()", "caches.delete", "self.skipWaiting()", "'activate'"} {
		if !strings.Contains(strayWorkerScript, want) {
			t.Errorf("the removing worker lacks %s", want)
		}
	}
	if strings.Contains(strayWorkerScript, "'fetch'") {
		t.Error("the removing worker handles fetches: it must serve nothing")
	}
	if got := s.Stats()["stray_worker"]; got != uint64(len(stray)) {
		t.Errorf("stray_worker counts %d, want %d", got, len(stray))
	}

	// The real worker, fetched as the browser fetches it (an update check
	// included) or as a plain file: the real one, allowed to control /.
	for _, hdr := range []map[string]string{worker, {"Host": "solar.example"}} {
		for _, p := range []string{"/app/voter/sw.js", "/app/voter/sw.js?v=2"} {
			resp, body := do(t, "GET", base+p, hdr)
			h := resp.Header
			if resp.StatusCode != 200 || body != realWorker || h.Get("Service-Worker-Allowed") != "/" ||
				h.Get("Clear-Site-Data") != "" || h.Get("Content-Type") != "text/javascript; charset=utf-8" {
				t.Errorf("GET %s with %v: %d %q, headers %v; want the real worker", p, hdr, resp.StatusCode, body, h)
			}
		}
	}

	// Without the header (or with another value), every path answers as
	// before: unknown paths 400 with an empty body, the files themselves.
	for _, hdr := range []map[string]string{{"Host": "solar.example"}, {"Service-Worker": "other", "Host": "solar.example"}} {
		for _, p := range []string{"/sw.js", "/evil-sw.js?v=3", "/app/voter/evil.js", "/app/voter/sw.js/"} {
			resp, body := do(t, "GET", base+p, hdr)
			if resp.StatusCode != 400 || body != "" || resp.Header.Get("Clear-Site-Data") != "" {
				t.Errorf("GET %s with %v: %d %q, want 400 and empty", p, hdr, resp.StatusCode, body)
			}
		}
		if resp, body := do(t, "GET", base+"/app/voter/app.js", hdr); resp.StatusCode != 200 || body != "'use strict';" {
			t.Errorf("GET /app/voter/app.js with %v: %d %q", hdr, resp.StatusCode, body)
		}
		if resp, _ := do(t, "GET", base+"/list", hdr); resp.StatusCode != 204 {
			t.Errorf("GET /list with %v: %d", hdr, resp.StatusCode)
		}
	}
	if resp, body := do(t, "GET", base+"/sw.js", map[string]string{"Host": "other.example"}); resp.StatusCode != 400 || body != "" {
		t.Errorf("GET /sw.js for no campaign: %d %q, want 400 and empty", resp.StatusCode, body)
	}
	if got := s.Stats()["stray_worker"]; got != uint64(len(stray)) {
		t.Errorf("stray_worker counts %d after the other requests, want still %d", got, len(stray))
	}
}

// TestStrayWorkerScriptParses checks that the removing worker is
// JavaScript a browser can run, where Node is at hand.
func TestStrayWorkerScriptParses(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("no node to parse the script with")
	}
	f := filepath.Join(t.TempDir(), "stray.js")
	if err := os.WriteFile(f, []byte(strayWorkerScript), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(node, "--check", f).CombinedOutput(); err != nil {
		t.Errorf("node --check: %v\n%s", err, out)
	}
}
