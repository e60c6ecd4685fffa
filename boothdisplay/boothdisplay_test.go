package boothdisplay

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/powvote/powvote/totp"
)

// stepStart is the first instant of a step: 1_700_000_010 is a multiple of
// 30.
var stepStart = time.Unix(1_700_000_010, 0)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func testSeed() []byte {
	seed := make([]byte, totp.SeedSize)
	for i := range seed {
		seed[i] = byte(i*7 + 3)
	}
	return seed
}

func newTest(t *testing.T) (*fakeClock, *httptest.Server) {
	t.Helper()
	clock := &fakeClock{t: stepStart}
	s, err := New(Config{Station: "Town Hall", Seed: testSeed(), Clock: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return clock, srv
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestCodeAcrossStepBoundary(t *testing.T) {
	clock, srv := newTest(t)
	for _, tc := range []struct {
		at        time.Time
		remaining int
		warn      bool
	}{
		{stepStart.Add(-29 * time.Second), 29, false},
		{stepStart.Add(-10*time.Second - time.Millisecond), 11, false},
		{stepStart.Add(-10 * time.Second), 10, true}, // the warning starts exactly 10 s before the end
		{stepStart.Add(-3 * time.Second), 3, true},
		{stepStart.Add(-time.Nanosecond), 1, true},
		{stepStart, 30, false}, // new step: new code, no warning
		{stepStart.Add(500 * time.Millisecond), 30, false},
		{stepStart.Add(19*time.Second + 999*time.Millisecond), 11, false},
		{stepStart.Add(20 * time.Second), 10, true},
	} {
		clock.set(tc.at)
		resp, body := get(t, srv.URL+"/code")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("at %v: status %d %s", tc.at, resp.StatusCode, body)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", cc)
		}
		var c Code
		if err := json.Unmarshal(body, &c); err != nil {
			t.Fatalf("at %v: %v in %s", tc.at, err, body)
		}
		want, err := totp.BoothCode(testSeed(), tc.at)
		if err != nil {
			t.Fatal(err)
		}
		if c.Code != want || c.Display != totp.FormatBooth(want) || c.Check != want[:1] {
			t.Errorf("at %v: code %q display %q check %q, want %q", tc.at, c.Code, c.Display, c.Check, want)
		}
		if c.Remaining != tc.remaining || c.Warn != tc.warn || c.Warn != totp.Warn(tc.at) {
			t.Errorf("at %v: remaining %d warn %v, want %d %v", tc.at, c.Remaining, c.Warn, tc.remaining, tc.warn)
		}
		if c.Station != "Town Hall" || c.Step != 30 {
			t.Errorf("station %q step %d", c.Station, c.Step)
		}
		if ms := c.RemainingMS; ms <= int64(c.Remaining-1)*1000 || ms > int64(c.Remaining)*1000 {
			t.Errorf("at %v: remaining_ms %d does not round up to %d s", tc.at, ms, c.Remaining)
		}
	}

	// The codes on either side of the boundary differ (for this seed), so
	// the test above really crossed it.
	before, _ := totp.BoothCode(testSeed(), stepStart.Add(-time.Nanosecond))
	after, _ := totp.BoothCode(testSeed(), stepStart)
	if before == after {
		t.Fatalf("codes %s and %s do not change at the boundary", before, after)
	}
}

func TestJSONShape(t *testing.T) {
	clock, srv := newTest(t)
	clock.set(stepStart.Add(13 * time.Second))
	_, body := get(t, srv.URL+"/code")
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"code", "display", "check", "remaining", "remaining_ms", "warn", "station", "step"} {
		if _, ok := m[k]; !ok {
			t.Errorf("/code lacks %q: %s", k, body)
		}
	}
	if len(m) != 8 {
		t.Errorf("/code has %d fields: %s", len(m), body)
	}
}

func TestPageAndAssets(t *testing.T) {
	_, srv := newTest(t)
	for path, want := range map[string]struct{ ct, contains string }{
		"/":          {"text/html; charset=utf-8", `<script src="booth.js"`},
		"/booth.js":  {"text/javascript; charset=utf-8", "Wait for the next code \\u2014 next code in "},
		"/booth.css": {"text/css; charset=utf-8", "#check"},
	} {
		resp, body := get(t, srv.URL+path)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d", path, resp.StatusCode)
			continue
		}
		if ct := resp.Header.Get("Content-Type"); ct != want.ct {
			t.Errorf("%s: Content-Type %q, want %q", path, ct, want.ct)
		}
		if !bytes.Contains(body, []byte(want.contains)) {
			t.Errorf("%s does not contain %q", path, want.contains)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", path)
		}
	}

	// The page must load nothing from elsewhere: the CSP would block it,
	// and a station may have no Internet.
	for _, path := range []string{"/", "/booth.js", "/booth.css"} {
		_, body := get(t, srv.URL+path)
		for _, bad := range []string{"http://", "https://", "//cdn", "style=", "onclick", "onload"} {
			if bytes.Contains(body, []byte(bad)) {
				t.Errorf("%s contains %q", path, bad)
			}
		}
	}
}

func TestUnknownPathsAndMethods(t *testing.T) {
	_, srv := newTest(t)
	for _, path := range []string{"/index.html", "/booth.go", "/code/", "/nope", "/../booth.go"} {
		if resp, _ := get(t, srv.URL+path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", path, resp.StatusCode)
		}
	}
	resp, err := http.Post(srv.URL+"/code", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /code: status %d Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	resp, err = http.Head(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD /: status %d", resp.StatusCode)
	}
}

func TestHostNamesRefused(t *testing.T) {
	_, srv := newTest(t)
	for host, ok := range map[string]bool{
		"127.0.0.1:8090":      true,
		"localhost:8090":      true,
		"LOCALHOST":           true,
		"[::1]:8090":          true,
		"10.1.2.3":            true,
		"evil.example:8090":   false,
		"localhost.evil.test": false,
	} {
		req, _ := http.NewRequest("GET", srv.URL+"/code", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.StatusCode == http.StatusOK; got != ok {
			t.Errorf("Host %q: status %d", host, resp.StatusCode)
		}
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(Config{Station: "A", Seed: make([]byte, 20)}); err == nil {
		t.Error("short seed accepted")
	}
	if _, err := New(Config{Station: " ", Seed: testSeed()}); err == nil {
		t.Error("blank station accepted")
	}
	seed := testSeed()
	s, err := New(Config{Station: "A", Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	// The server keeps its own copy of the seed.
	want, _ := s.Current(stepStart)
	clear(seed)
	if got, _ := s.Current(stepStart); got != want {
		t.Errorf("code changed with the caller's buffer: %v, want %v", got, want)
	}
	// A clock before the epoch has no step: an error, not a wrong code.
	if _, err := s.Current(time.Unix(-100, 0)); err == nil {
		t.Error("code before the epoch")
	}
}
