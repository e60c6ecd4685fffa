package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// serve serves d's handler as the operator listener would (its write
// timeout included, which a stream outlives) on loopback, and returns its
// base URL and a function that shuts it down.
func serve(t *testing.T, d *Dashboard, writeTimeout time.Duration) (string, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: d.Handler(), WriteTimeout: writeTimeout, ReadTimeout: 5 * time.Second, CloseOnShutdown: true}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.ShutdownWithContext(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		<-done
	}
	t.Cleanup(stop)
	return "http://" + ln.Addr().String(), stop
}

// stream is an open event stream.
type stream struct {
	t    *testing.T
	resp *http.Response
	r    *bufio.Reader
}

func openStream(t *testing.T, url string) (*stream, int) {
	t.Helper()
	resp, err := http.Get(url + "/dashboard/events")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, resp.StatusCode
	}
	s := &stream{t: t, resp: resp, r: bufio.NewReader(resp.Body)}
	t.Cleanup(func() { resp.Body.Close() })
	return s, resp.StatusCode
}

// next returns the next event or comment block, without its blank line;
// io.EOF once the server ended the stream.
func (s *stream) next(within time.Duration) (string, error) {
	s.t.Helper()
	type result struct {
		block string
		err   error
	}
	c := make(chan result, 1)
	go func() {
		var b strings.Builder
		for {
			line, err := s.r.ReadString('\n')
			if err != nil {
				c <- result{b.String(), err}
				return
			}
			if line == "\n" {
				c <- result{b.String(), nil}
				return
			}
			b.WriteString(line)
		}
	}()
	select {
	case r := <-c:
		return r.block, r.err
	case <-time.After(within):
		s.t.Fatalf("nothing on the stream for %v", within)
		return "", nil
	}
}

// TestEvents: a stream opens with its retry delay, carries one event per
// sample with the last two buckets, keeps alive with comments, and lives
// longer than the server's write timeout.
func TestEvents(t *testing.T) {
	r := newRig(t, Config{Interval: 10 * time.Second, KeepAlive: 150 * time.Millisecond})
	url, _ := serve(t, r.d, 500*time.Millisecond)
	s, code := openStream(t, url)
	if code != http.StatusOK || s.resp.Header.Get("Content-Type") != "text/event-stream" || s.resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("events: %d %v", code, s.resp.Header)
	}
	if b, err := s.next(5 * time.Second); b != "retry: 10000\n: open\n" || err != nil {
		t.Fatalf("first block %q, %v", b, err)
	}
	r.p.vote("solar", 204, 1)
	r.at(0)
	for i := 1; i <= 3; i++ {
		r.p.vote("solar", 204, i)
		r.at(time.Duration(i) * time.Minute)
	}
	var events []Data
	keepAlives := 0
	deadline := time.Now().Add(10 * time.Second)
	for len(events) < 4 || keepAlives < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("%d events and %d keep-alives in 10 s", len(events), keepAlives)
		}
		b, err := s.next(5 * time.Second)
		if err != nil {
			t.Fatalf("the stream ended: %v", err)
		}
		switch {
		case b == ": keep-alive\n":
			keepAlives++
		case strings.HasPrefix(b, "event: sample\ndata: "):
			var d Data
			if err := json.Unmarshal([]byte(strings.TrimPrefix(strings.TrimSuffix(b, "\n"), "event: sample\ndata: ")), &d); err != nil {
				t.Fatalf("event %q: %v", b, err)
			}
			events = append(events, d)
		default:
			t.Fatalf("unexpected block %q", b)
		}
	}
	// Four keep-alives at 150 ms: the stream outlived the 500 ms write
	// timeout.
	last := events[3]
	if !last.Partial || !slices.Equal(last.T, offsetT([]float64{120, 180})) {
		t.Errorf("the last event: partial %v, T %v; want the last two buckets", last.Partial, last.T)
	}
	c := last.campaign(t, "solar")
	if !same(toFloats(c.Series.Acknowledged), []float64{2, 3}) || c.Acknowledged != 7 {
		t.Errorf("the last event's acknowledged %v, total %v; want [2 3], 7", c.Series.Acknowledged, c.Acknowledged)
	}
	if first := events[0]; len(first.T) != 0 || first.campaign(t, "solar").Acknowledged != 1 {
		t.Errorf("the baseline's event: T %v, acknowledged %v", first.T, first.campaign(t, "solar").Acknowledged)
	}
}

func toFloats(ns []Num) []float64 {
	out := make([]float64, len(ns))
	for i, n := range ns {
		out[i] = float64(n)
	}
	return out
}

// TestEventStreamsEnd: at most MaxStreams at once; a reader gone frees
// its place; the streams end when Run's context ends, and after it no
// stream opens.
func TestEventStreamsEnd(t *testing.T) {
	r := newRig(t, Config{Interval: time.Hour, Bucket: time.Hour, MaxStreams: 2, KeepAlive: 50 * time.Millisecond})
	url, _ := serve(t, r.d, 10*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- r.d.Run(ctx) }()

	a, _ := openStream(t, url)
	b, _ := openStream(t, url)
	if _, code := openStream(t, url); code != http.StatusServiceUnavailable {
		t.Fatalf("a third stream: %d, want 503", code)
	}
	// A reader that leaves frees its place once a keep-alive finds it
	// gone.
	b.resp.Body.Close()
	var c *stream
	for deadline := time.Now().Add(5 * time.Second); c == nil; {
		if time.Now().After(deadline) {
			t.Fatal("a stream closed by its reader still holds its place after 5 s")
		}
		var code int
		if c, code = openStream(t, url); code != http.StatusOK {
			time.Sleep(20 * time.Millisecond)
		}
	}
	cancel()
	if err := <-ran; err != context.Canceled {
		t.Errorf("Run: %v", err)
	}
	for _, s := range []*stream{a, c} {
		for {
			_, err := s.next(5 * time.Second)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("the stream ended with %v, want its end", err)
			}
		}
	}
	if _, code := openStream(t, url); code != http.StatusServiceUnavailable {
		t.Errorf("a stream after Run ended: %d, want 503", code)
	}
}

// TestEventStreamsEndOnShutdown: the server's shutdown ends the streams,
// so that it does not wait for them.
func TestEventStreamsEndOnShutdown(t *testing.T) {
	r := newRig(t, Config{KeepAlive: time.Hour})
	url, stop := serve(t, r.d, 10*time.Second)
	s, _ := openStream(t, url)
	if b, err := s.next(5 * time.Second); !strings.HasPrefix(b, "retry:") || err != nil {
		t.Fatalf("first block %q, %v", b, err)
	}
	start := time.Now()
	stop()
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("shutdown took %v with a stream open", took)
	}
	if _, err := s.next(5 * time.Second); err != io.EOF {
		t.Errorf("after shutdown the stream reads %v, want its end", err)
	}
}

// TestSlowReader: a reader that falls behind by more than the buffer has
// its stream ended, to read data.json afresh; the others are not held up.
func TestSlowReader(t *testing.T) {
	r := newRig(t, Config{})
	slow, fast := r.d.subscribe(), r.d.subscribe()
	for i := range 6 {
		r.d.broadcast([]byte{byte(i)})
		<-fast
	}
	n := 0
	for range slow {
		n++
	}
	if n != 4 {
		t.Errorf("the slow reader got %d events before its end, want its buffer's 4", n)
	}
	r.d.unsubscribe(fast)
	if len(r.d.subs) != 0 {
		t.Errorf("%d subscribers left", len(r.d.subs))
	}
}

// TestPage: the page and every file it loads are served with their types
// under a policy that allows only the page's own origin; other paths and
// methods are refused.
func TestPage(t *testing.T) {
	r := newRig(t, Config{})
	url, _ := serve(t, r.d, 10*time.Second)
	get := func(method, path string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, url+path, nil)
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, index := get("GET", "/dashboard/")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" || !strings.Contains(index, `id="campaign-tpl"`) {
		t.Fatalf("GET /dashboard/: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for h, want := range map[string]string{
		"Content-Security-Policy": contentSecurityPolicy,
		"X-Frame-Options":         "DENY",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	// Every file the page names, and nothing from elsewhere.
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(index, -1)
	if len(refs) != 5 {
		t.Errorf("the page loads %d files, want 5: %v", len(refs), refs)
	}
	types := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
	for _, m := range refs {
		if strings.Contains(m[1], ":") || strings.HasPrefix(m[1], "/") {
			t.Errorf("the page loads %q, not a file of its own", m[1])
			continue
		}
		resp, body := get("GET", "/dashboard/"+m[1])
		ext := m[1][strings.LastIndex(m[1], "."):]
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != types[ext] || len(body) == 0 || resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: %d %q, %d bytes", m[1], resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
	}
	for _, lang := range []string{"en", "de", "pl"} {
		if resp, body := get("GET", "/dashboard/i18n/"+lang+".json"); resp.StatusCode != 200 || !json.Valid([]byte(body)) {
			t.Errorf("catalogue %s: %d", lang, resp.StatusCode)
		}
	}
	resp, body := get("GET", "/dashboard/data.json")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Cache-Control") != "no-store" || !json.Valid([]byte(body)) {
		t.Errorf("data.json: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	if resp, _ := get("GET", "/dashboard"); resp.StatusCode != http.StatusMovedPermanently || !strings.HasSuffix(resp.Header.Get("Location"), "/dashboard/") {
		t.Errorf("GET /dashboard: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, tc := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/dashboard/nothing", 404},
		{"GET", "/dashboard/../metrics", 404},
		{"GET", "/metrics", 404},
		{"GET", "/dashboard/vendor/README.txt", 404},
		{"POST", "/dashboard/data.json", 405},
		{"HEAD", "/dashboard/data.json", 200},
		{"HEAD", "/dashboard/events", 200},
	} {
		if resp, _ := get(tc.method, tc.path); resp.StatusCode != tc.code {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.code)
		}
	}
	if n := r.d.streams.Load(); n != 0 {
		t.Errorf("%d streams open after a HEAD", n)
	}
}

// TestCatalogues: every catalogue has the keys of the English one, and
// every key the page uses is in it.
func TestCatalogues(t *testing.T) {
	read := func(lang string) map[string]string {
		b, err := os.ReadFile("../web/dashboard/i18n/" + lang + ".json")
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s.json: %v", lang, err)
		}
		return m
	}
	en := read("en")
	for _, lang := range []string{"de", "pl"} {
		m := read(lang)
		for k := range en {
			if m[k] == "" {
				t.Errorf("%s.json lacks %s", lang, k)
			}
		}
		for k := range m {
			if en[k] == "" {
				t.Errorf("%s.json has %s, which en.json lacks", lang, k)
			}
		}
	}
	var used []string
	for _, f := range []string{"index.html", "dashboard.js"} {
		b, err := os.ReadFile("../web/dashboard/" + f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`data-i18n="(\w+)"|\bt\('(\w+)'[,)]`).FindAllStringSubmatch(string(b), -1) {
			used = append(used, m[1]+m[2])
		}
	}
	for _, code := range refusalCodes {
		used = append(used, "code"+strconv.Itoa(code))
	}
	for _, w := range []string{"no_answer", "too_large", "status", "format"} {
		used = append(used, "err_"+w)
	}
	// Keys the page makes up from parts.
	used = append(used, "flag_votes_high", "flag_votes_low", "flag_stamps_high", "flag_stamps_low", "flag_refusals", "flag_share", "flag_stall",
		"statusStart", "statusLive", "statusPolling", "statusOffline")
	for _, k := range used {
		if en[k] == "" {
			t.Errorf("the page uses %s, which en.json lacks", k)
		}
	}
}
