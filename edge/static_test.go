package edge

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
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
}
