package operator

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/internal/operator/operatortest"
)

// start runs an operator server on loopback until the test ends, and
// returns its base URL.
func start(t *testing.T, cfg Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New(cfg).Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func fetch(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestEndpoints(t *testing.T) {
	set := metrics.NewSet()
	set.NewCounter(`powvote_test_events_total{campaign="solar"}`).Add(7)
	var readiness Readiness
	notYet := errors.New("collector 1 of solar: catching up from its twin\nsecond line")
	var blocked atomic.Bool
	blocked.Store(true)
	readiness.Add(func() error { return nil }, func() error {
		if blocked.Load() {
			return notYet
		}
		return nil
	})
	base := start(t, Config{Metrics: set, Ready: readiness.Check})

	tests := []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/health", 200, "ok\n"},
		{"GET", "/ready", 503, "collector 1 of solar: catching up from its twin\n"},
		{"GET", "/nothing", 404, "not found: /metrics, /health and /ready are served here\n"},
		{"POST", "/metrics", 405, "GET or HEAD only\n"},
		{"HEAD", "/health", 200, ""},
	}
	for _, tt := range tests {
		status, body := fetch(t, tt.method, base+tt.path)
		if status != tt.status || body != tt.body {
			t.Errorf("%s %s: %d %q, want %d %q", tt.method, tt.path, status, body, tt.status, tt.body)
		}
	}

	status, body := fetch(t, "GET", base+"/metrics")
	if status != 200 {
		t.Fatalf("GET /metrics: %d", status)
	}
	s, err := operatortest.Parse([]byte(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	if got := s.Get(t, "powvote_test_events_total", "campaign", "solar"); got != 7 {
		t.Errorf("powvote_test_events_total = %v, want 7", got)
	}
	if !strings.Contains(body, "\ngo_goroutines ") {
		t.Errorf("/metrics lacks the Go runtime's metrics:\n%s", body)
	}

	blocked.Store(false)
	if status, body := fetch(t, "GET", base+"/ready"); status != 200 || body != "ready\n" {
		t.Errorf("GET /ready once ready: %d %q", status, body)
	}
}

// TestLimits checks that a request whose headers exceed the limit is
// refused without reaching a handler.
func TestLimits(t *testing.T) {
	base := start(t, Config{})
	req, err := http.NewRequest("GET", base+"/health", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Half as much again as the limit, below fasthttp's own default
	// (4 KiB): only the limit set here refuses it.
	req.Header.Set("X-Long", strings.Repeat("a", maxHeaderBytes*3/2))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return // closed without an answer: refused too
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("headers of %d bytes: status %d, want 431", maxHeaderBytes*3/2, resp.StatusCode)
	}
}

// exposedListener is a loopback listener that says it listens on every
// interface, to see Run's warning without listening there.
type exposedListener struct{ net.Listener }

func (exposedListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4zero, Port: 9090} }

func TestRunWarnsWhenExposed(t *testing.T) {
	for _, exposed := range []bool{false, true} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if exposed {
			ln = exposedListener{ln}
		}
		var logs strings.Builder
		log := slog.New(slog.NewTextHandler(&logs, nil))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- New(Config{Logger: log}).Run(ctx, ln) }()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if warned := strings.Contains(logs.String(), "level=WARN"); warned != exposed {
			t.Errorf("listening on %s: warned %v, want %v; log: %s", ln.Addr(), warned, exposed, logs.String())
		}
	}
}

func TestExposed(t *testing.T) {
	tests := []struct {
		ip      string
		exposed bool
	}{
		{"127.0.0.1", false},
		{"127.3.2.1", false},
		{"::1", false},
		{"10.1.2.3", false},
		{"172.16.0.9", false},
		{"192.168.1.1", false},
		{"fd00::1", false},
		{"fe80::1", false},
		{"::ffff:10.0.0.1", false},
		{"0.0.0.0", true},
		{"::", true},
		{"8.8.8.8", true},
		{"172.32.0.1", true},
		{"2001:db8::1", true},
	}
	for _, tt := range tests {
		a := &net.TCPAddr{IP: net.ParseIP(tt.ip), Port: 9090}
		if got := Exposed(a); got != tt.exposed {
			t.Errorf("Exposed(%s) = %v, want %v", tt.ip, got, tt.exposed)
		}
	}
	if !Exposed(&net.UnixAddr{Name: "/tmp/x", Net: "unix"}) {
		t.Error("Exposed(unix socket) = false: an address it cannot judge must warn")
	}
}

func TestReadinessOrder(t *testing.T) {
	var r Readiness
	if err := r.Check(); err != nil {
		t.Fatalf("no checks: %v", err)
	}
	first, second := errors.New("first"), errors.New("second")
	r.Add(func() error { return nil }, func() error { return first })
	r.Add(func() error { return second })
	if err := r.Check(); err != first {
		t.Errorf("Check = %v, want the first failing check's error", err)
	}
}

// TestRunStops checks that Run returns once its context ends, also when
// it ends before serving has begun.
func TestRunStops(t *testing.T) {
	for _, early := range []bool{false, true} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		if early {
			cancel()
		}
		done := make(chan error, 1)
		go func() { done <- New(Config{}).Run(ctx, ln) }()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("early %v: Run = %v", early, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("early %v: Run did not return after its context ended", early)
		}
		if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
			t.Errorf("early %v: still accepting after Run returned", early)
		}
	}
}

// TestApp checks that an App gets every path but the scrapers' three, that
// those stay answered as without it, and the App's larger limits: a
// cookie's worth of headers and a form's body, and no more.
func TestApp(t *testing.T) {
	var appCalls atomic.Int32
	app := func(ctx *fasthttp.RequestCtx) {
		appCalls.Add(1)
		ctx.SetStatusCode(299)
		ctx.SetBodyString(string(ctx.Method()) + " " + string(ctx.Path()) + " " + strconv.Itoa(len(ctx.PostBody())))
	}
	base := start(t, Config{App: app})
	tests := []struct {
		method, path string
		body         string
		status       int
		answer       string
	}{
		{"GET", "/health", "", 200, "ok\n"},
		{"GET", "/ready", "", 200, "ready\n"},
		{"POST", "/metrics", "", 405, "GET or HEAD only\n"},
		{"POST", "/health", "x", 405, "GET or HEAD only\n"},
		{"GET", "/login", "", 299, "GET /login 0"},
		{"GET", "/", "", 299, "GET / 0"},
		{"POST", "/login", strings.Repeat("a", maxAppBody), 299, "POST /login " + strconv.Itoa(maxAppBody)},
		{"GET", "/metrics/x", "", 299, "GET /metrics/x 0"},
	}
	for _, tt := range tests {
		req, err := http.NewRequest(tt.method, base+tt.path, strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		before := appCalls.Load()
		status, answer := do(t, req)
		if status != tt.status || answer != tt.answer {
			t.Errorf("%s %s: %d %q, want %d %q", tt.method, tt.path, status, answer, tt.status, tt.answer)
		}
		if called := appCalls.Load() != before; called != (tt.status == 299) {
			t.Errorf("%s %s: App called %v", tt.method, tt.path, called)
		}
	}
	if status, _ := fetch(t, "GET", base+"/metrics"); status != 200 {
		t.Errorf("GET /metrics with an App: %d", status)
	}

	// A body over the App's limit, and headers over its limit, are
	// refused before the App sees them.
	before := appCalls.Load()
	req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(strings.Repeat("a", maxAppBody+1)))
	// fasthttp answers 400 to a body over MaxRequestBodySize.
	if status, _ := doMaybe(req); status != 0 && status != http.StatusBadRequest && status != http.StatusRequestEntityTooLarge {
		t.Errorf("body of %d bytes: status %d, want 400 or 413", maxAppBody+1, status)
	}
	req, _ = http.NewRequest("GET", base+"/login", nil)
	req.Header.Set("Cookie", "powvote_session="+strings.Repeat("a", maxAppHeaderBytes))
	if status, _ := doMaybe(req); status != 0 && status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("headers of %d bytes: status %d, want 431", maxAppHeaderBytes, status)
	}
	if appCalls.Load() != before {
		t.Error("the App saw a request over the limits")
	}
	// A cookie of 5 KiB fits with an App (and would not without).
	req, _ = http.NewRequest("GET", base+"/login", nil)
	req.Header.Set("Cookie", "powvote_session="+strings.Repeat("a", 5<<10))
	if status, _ := do(t, req); status != 299 {
		t.Errorf("5 KiB of cookie with an App: status %d, want the App's 299", status)
	}
}

func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	status, body := doMaybe(req)
	if status == 0 {
		t.Fatalf("%s %s: no answer", req.Method, req.URL)
	}
	return status, body
}

// doMaybe sends req; status 0 when the server closed without an answer.
func doMaybe(req *http.Request) (int, string) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestLongWrites: an answer under Config.LongWrites may take
// LongWriteTimeout to be written; any other is cut at WriteTimeout. The
// client waits before it reads a body larger than the socket buffers.
func TestLongWrites(t *testing.T) {
	body := make([]byte, 32<<20)
	base := start(t, Config{
		App:              func(ctx *fasthttp.RequestCtx) { ctx.SetBody(body) },
		WriteTimeout:     200 * time.Millisecond,
		LongWrites:       []string{"/downloads/"},
		LongWriteTimeout: time.Minute,
	})
	addr := strings.TrimPrefix(base, "http://")
	for _, c := range []struct {
		path  string
		whole bool
	}{
		{"/downloads/solar/archive.tar.gz", true},
		{"/dashboard/", false},
		{"/downloads", false}, // not under the prefix
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(conn, "GET "+c.path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		// A slow reader: at most 256 KiB each 20 ms, so that the body
		// takes seconds to read whenever the handler runs, however loaded
		// the machine, far beyond WriteTimeout and well within the long one.
		conn.SetReadDeadline(time.Now().Add(45 * time.Second))
		var n int64
		buf := make([]byte, 256<<10)
		for {
			time.Sleep(20 * time.Millisecond)
			k, err := conn.Read(buf)
			n += int64(k)
			if err != nil {
				break
			}
		}
		conn.Close()
		if whole := n > int64(len(body)); whole != c.whole {
			t.Errorf("GET %s read slowly: %d bytes of a %d-byte body; want whole %v", c.path, n, len(body), c.whole)
		}
	}
}
