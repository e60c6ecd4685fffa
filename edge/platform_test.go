package edge

import (
	"bufio"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/stamp"
	"github.com/powvote/powvote/totp"
)

// fakeClock is a clock that moves only when told; shared by the edge and
// the stand-in collectors so that booth codes and seconds agree.
type fakeClock struct{ ns atomic.Int64 }

func newClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *fakeClock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) add(d time.Duration) { c.ns.Add(int64(d)) }
func (c *fakeClock) putc() string        { return fmt.Sprint(c.now().Unix()) }

// code is the booth code of the step that was current back ago.
func (c *fakeClock) code(t testing.TB, seed []byte, back time.Duration) string {
	t.Helper()
	code, err := totp.Code(seed, c.now().Add(-back))
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// testEnv is an edge serving campaign "solar" (options "Yes" and "Other")
// with stand-in collectors.
type testEnv struct {
	keys  *platformKeys
	cols  []*fakeCollector // instance order: pair k is cols[2k], cols[2k+1]
	srv   *Server
	base  string
	clock *fakeClock // shared by the edge and the collectors
	cfg   Config     // the edge's, as started
}

// startEnv starts pairs pairs of stand-in collectors and an edge in front of
// them, all on one fake clock. tweak, if not nil, adjusts the edge's
// configuration; hook runs on the server before it serves.
func startEnv(t testing.TB, pairs int, tweak func(*Config), hook ...func(*Server)) *testEnv {
	t.Helper()
	e := &testEnv{keys: newKeys(t), clock: newClock(time.Unix(1767225600, 0))}
	c := Campaign{Settings: settings("solar", "Yes", "Other"), UTCSignPub: e.keys.signPub(), UTCHole: e.keys.hole, VoterKey: e.keys.voterKey, Link: e.keys.link}
	for k := range pairs {
		a := startCollector(t, fmt.Sprintf("c%d", 2*k), e.keys, e.clock.now)
		b := startCollector(t, fmt.Sprintf("c%d", 2*k+1), e.keys, e.clock.now)
		e.cols = append(e.cols, a, b)
		c.Pairs = append(c.Pairs, [2]string{a.url, b.url})
	}
	// Small pools: a stand-in collector signs them on one core, within
	// the short collector timeout, under the race detector too.
	cfg := Config{Campaigns: []Campaign{c}, Clock: e.clock.now, CollectorTimeout: 300 * time.Millisecond, StampPoolMin: 16}
	if tweak != nil {
		tweak(&cfg)
	}
	e.cfg = cfg
	e.srv, e.base = serve(t, cfg, hook...)
	return e
}

// newClient returns an HTTP client for concurrent requests. Its idle
// connections are closed when the test ends, before the edge shuts down: a
// server counts a connection that never carried a request as busy for its
// first 5 seconds, and a client that dials ahead leaves some of those.
func newClient(t *testing.T) *http.Client {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// rightCode is the booth code of the current step.
func (e *testEnv) rightCode(t testing.TB) string { return e.clock.code(t, e.keys.seed, 0) }

// wrongCode is a code that matches neither accepted step.
func (e *testEnv) wrongCode(t *testing.T) string {
	cur, prev := e.clock.code(t, e.keys.seed, 0), e.clock.code(t, e.keys.seed, totp.Step)
	for i := 0; ; i++ {
		c := fmt.Sprintf("%06d", i)
		if c != cur && c != prev {
			return c
		}
	}
}

// getStamp asks the edge for a platform stamp and wants 204.
func (e *testEnv) getStamp(t testing.TB, code string) http.Header {
	t.Helper()
	resp, body := do(t, "GET", e.base+"/stamp", map[string]string{"TOTP": code})
	if resp.StatusCode != 204 || body != "" {
		t.Fatalf("GET /stamp: status %d body %q, want 204", resp.StatusCode, body)
	}
	return resp.Header
}

// rawExchange sends a raw request on a fresh connection and returns the
// status line and header lines of the answer, which has no body.
func rawExchange(t *testing.T, base, request string) []string {
	t.Helper()
	lines, err := rawLines(base, request)
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// rawLines is rawExchange for goroutines other than the test's.
func rawLines(base, request string) ([]string, error) {
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(request)); err != nil {
		return nil, err
	}
	r := bufio.NewReader(conn)
	var lines []string
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("reading the answer after %q: %w", lines, err)
		}
		l = strings.TrimRight(l, "\r\n")
		if l == "" {
			return lines, nil
		}
		lines = append(lines, l)
	}
}

// withoutDate drops the Date line, the one part of an answer that depends on
// when it was sent.
func withoutDate(lines []string) []string {
	var out []string
	for _, l := range lines {
		if !strings.HasPrefix(l, "Date: ") {
			out = append(out, l)
		}
	}
	return out
}

func TestStampRightAndWrongCode(t *testing.T) {
	e := startEnv(t, 1, nil)
	req := func(code string) string {
		return "GET /stamp HTTP/1.1\r\nHost: solar.example.org\r\nTOTP: " + code + "\r\n\r\n"
	}
	right := rawExchange(t, e.base, req(e.rightCode(t)))
	previous := rawExchange(t, e.base, req(e.clock.code(t, e.keys.seed, totp.Step)))
	wrong := rawExchange(t, e.base, req(e.wrongCode(t)))

	// The same status, header names in the same order, value lengths.
	shape := func(lines []string) []string {
		var s []string
		for _, l := range lines {
			name, value, ok := strings.Cut(l, ": ")
			if !ok {
				s = append(s, l) // the status line
				continue
			}
			s = append(s, fmt.Sprintf("%s %d", name, len(value)))
		}
		return s
	}
	want := strings.Join(shape(right), "\n")
	for _, got := range [][]string{previous, wrong} {
		if s := strings.Join(shape(got), "\n"); s != want {
			t.Errorf("answers differ in shape:\n%s\nand\n%s", want, s)
		}
	}
	if !strings.HasPrefix(want, "HTTP/1.1 204 No Content\n") || !strings.Contains(want, "\nP-UTC 10\nP-SIG 88\nVoter 39\nCache-Control 8") {
		t.Errorf("unexpected answer:\n%s", want)
	}

	header := func(lines []string, name string) string {
		for _, l := range lines {
			if v, ok := strings.CutPrefix(l, name+": "); ok {
				return v
			}
		}
		t.Fatalf("no %s in %q", name, lines)
		return ""
	}
	for _, tc := range []struct {
		name    string
		lines   []string
		genuine bool
	}{{"current code", right, true}, {"previous step's code", previous, true}, {"wrong code", wrong, false}} {
		putc := header(tc.lines, "P-UTC")
		if putc != e.clock.putc() {
			t.Errorf("%s: P-UTC %s, want %s", tc.name, putc, e.clock.putc())
		}
		sig, err := base64.StdEncoding.DecodeString(header(tc.lines, "P-SIG"))
		if err != nil {
			t.Fatal(err)
		}
		if got := ed25519.Verify(e.keys.signPub(), []byte(putc), sig); got != tc.genuine {
			t.Errorf("%s: P-SIG verifies under UTC-SIGN: %v, want %v", tc.name, got, tc.genuine)
		}
		if got := ed25519.Verify(e.keys.holePub(), []byte(putc), sig); got == tc.genuine {
			t.Errorf("%s: P-SIG verifies under UTC-HOLE: %v, want %v", tc.name, got, !tc.genuine)
		}
		if err := stamp.CheckVoter(e.keys.voterKey, header(tc.lines, "Voter"), putc, sig); err != nil {
			t.Errorf("%s: voter stamp: %v", tc.name, err)
		}
		if cc := header(tc.lines, "Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q", tc.name, cc)
		}
	}
	if n := e.cols[0].stamps.Load() + e.cols[1].stamps.Load(); n != 1 {
		t.Errorf("collectors got %d GET /stamp in one second, want 1", n)
	}
	if st := e.srv.Stats(); st["stamp"] != 3 || st["stamp_fetches"] != 1 {
		t.Errorf("stats %v, want stamp 3 and stamp_fetches 1", st)
	}
}

// TestStampAllocs: answering GET /stamp allocates nothing once the pool of
// the second is at hand (the fake clock stays in one second), for a right
// booth code and a wrong one alike: the decoy signature, the voter stamp
// and the header values all live on the stack.
func TestStampAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's crypto/rand allocates")
	}
	e := startEnv(t, 1, nil)
	for _, tc := range []struct{ name, code string }{{"right code", e.rightCode(t)}, {"wrong code", e.wrongCode(t)}} {
		var ctx fasthttp.RequestCtx
		n := testing.AllocsPerRun(100, func() {
			ctx.Request.Reset()
			ctx.Response.Reset()
			ctx.Request.SetRequestURI("/stamp")
			ctx.Request.Header.SetHost("solar.example.org")
			ctx.Request.Header.Set("TOTP", tc.code)
			e.srv.Handle(&ctx)
		})
		if sc := ctx.Response.StatusCode(); sc != 204 {
			t.Fatalf("%s: status %d, want 204", tc.name, sc)
		}
		h := &ctx.Response.Header
		putc := string(h.Peek("P-UTC"))
		sig, err := base64.StdEncoding.DecodeString(string(h.Peek("P-SIG")))
		if err != nil {
			t.Fatal(err)
		}
		if err := stamp.CheckVoter(e.keys.voterKey, string(h.Peek("Voter")), putc, sig); err != nil {
			t.Errorf("%s: the voter stamp of the last answer: %v", tc.name, err)
		}
		if n != 0 {
			t.Errorf("%s: %v allocations per GET /stamp, want 0", tc.name, n)
		}
	}
}

func TestStampBadCode(t *testing.T) {
	e := startEnv(t, 1, nil)
	for _, code := range []string{"", "12345", "1234567", "12345a", "12 345", "１２３４５６", "+12345", "0x1234"} {
		hdr := map[string]string{}
		if code != "" {
			hdr["TOTP"] = code
		}
		resp, body := do(t, "GET", e.base+"/stamp", hdr)
		if resp.StatusCode != 400 || body != "" || len(resp.Header.Values("P-SIG")) != 0 {
			t.Errorf("TOTP %q: status %d body %q P-SIG %q, want 400 empty", code, resp.StatusCode, body, resp.Header.Get("P-SIG"))
		}
	}
	if st := e.srv.Stats(); st["stamp_fetches"] != 0 || st["bad_request"] != 8 {
		t.Errorf("stats %v, want no stamp fetch and 8 bad requests", st)
	}
}

// TestStampOncePerSecond: however many /stamp requests arrive in one second
// of the edge's clock, the collectors are asked once.
func TestStampOncePerSecond(t *testing.T) {
	// Pools of at most 64: the stand-in collectors sign them within the
	// collector timeout under the race detector.
	e := startEnv(t, 1, func(c *Config) { c.StampPoolMax = 64 })
	client := newClient(t)
	code := e.rightCode(t)
	hammer := func(n int) {
		t.Helper()
		var wg sync.WaitGroup
		var bad atomic.Int64
		for range 20 {
			wg.Go(func() {
				for range n / 20 {
					req, _ := http.NewRequest("GET", e.base+"/stamp", nil)
					req.Header["TOTP"] = []string{code}
					resp, err := client.Do(req)
					if err != nil || resp.StatusCode != 204 {
						bad.Add(1)
					}
					if err == nil {
						resp.Body.Close()
					}
				}
			})
		}
		wg.Wait()
		if bad.Load() != 0 {
			t.Fatalf("%d of %d /stamp requests failed: %v", bad.Load(), n, e.srv.Stats())
		}
	}
	hammer(500)
	if n := e.cols[0].stamps.Load() + e.cols[1].stamps.Load(); n != 1 {
		t.Errorf("500 requests in one second: %d collector fetches, want 1", n)
	}
	e.clock.add(time.Second)
	hammer(100)
	if n := e.srv.Stats()["stamp_fetches"]; n != 2 {
		t.Errorf("after the next second: %d fetches, want 2", n)
	}
}

// TestStampOncePerSecondRealClock is the same on the real clock: 500
// requests fetch at most once per second they span, plus the prefetch of
// the second after the last (platform.go).
func TestStampOncePerSecondRealClock(t *testing.T) {
	keys := newKeys(t)
	a := startCollector(t, "c0", keys, nil)
	b := startCollector(t, "c1", keys, nil)
	s, base := serve(t, Config{Campaigns: []Campaign{{Settings: settings("solar", "Yes"), UTCSignPub: keys.signPub(), UTCHole: keys.hole,
		VoterKey: keys.voterKey, Link: keys.link, Pairs: [][2]string{{a.url, b.url}}}}})
	client := newClient(t)
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 10 {
		wg.Go(func() {
			for range 50 {
				req, _ := http.NewRequest("GET", base+"/stamp", nil)
				req.Header.Set("TOTP", "123456")
				resp, err := client.Do(req)
				if err != nil || resp.StatusCode != 204 {
					failed.Add(1)
				}
				if err == nil {
					resp.Body.Close()
				}
			}
		})
	}
	wg.Wait()
	end := time.Now()
	if failed.Load() != 0 {
		t.Fatalf("%d requests failed", failed.Load())
	}
	seconds := end.Unix() - start.Unix() + 1
	if n := int64(s.Stats()["stamp_fetches"]); n > seconds+1 || n < 1 {
		t.Errorf("500 requests over %d clock seconds made %d fetches", seconds, n)
	}
}

func TestStampFallback(t *testing.T) {
	keys := newKeys(t)
	// A clock at the start of a second: no fetch ahead (platform.go).
	clock := newClock(time.Unix(1767225600, 0))
	live := startCollector(t, "c1", keys, clock.now)
	s, base := serve(t, Config{Clock: clock.now, Campaigns: []Campaign{{Settings: settings("solar", "Yes"), UTCSignPub: keys.signPub(), UTCHole: keys.hole,
		VoterKey: keys.voterKey, Link: keys.link, Pairs: [][2]string{{deadURL(t), live.url}}}}})
	resp, _ := do(t, "GET", base+"/stamp", map[string]string{"TOTP": "000000"})
	if resp.StatusCode != 204 || live.stamps.Load() != 1 {
		t.Errorf("first instance down: status %d, second asked %d times; want 204 and 1", resp.StatusCode, live.stamps.Load())
	}
	if n := s.Stats()["stamp_fetches"]; n != 2 {
		t.Errorf("stamp_fetches %d, want 2 (the dead instance, then the live one)", n)
	}
}

func TestStampUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(e *testEnv)
	}{
		{"both down", func(e *testEnv) { e.cols[0].stop(); e.cols[1].stop() }},
		{"503", func(e *testEnv) { e.setStamp(stampDown) }},
		{"short Sign", func(e *testEnv) { e.setStamp(stampBadSign) }},
		{"Sign under another key", func(e *testEnv) { e.setStamp(stampForeignSign) }},
		{"malformed Codes", func(e *testEnv) { e.setStamp(stampBadCodes) }},
		{"wrong pass", func(e *testEnv) { e.cols[0].setPass("x"); e.cols[1].setPass("y") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startEnv(t, 1, nil)
			tc.set(e)
			for range 3 {
				resp, body := do(t, "GET", e.base+"/stamp", map[string]string{"TOTP": e.rightCode(t)})
				wantEmpty(t, tc.name, resp, body, 503, false)
			}
			// A failed second is remembered: one round of fetches, not three.
			st := e.srv.Stats()
			if st["no_platform"] != 3 || st["stamp_fetches"] != 2 {
				t.Errorf("stats %v, want no_platform 3 and stamp_fetches 2", st)
			}
			e.clock.add(time.Second)
			do(t, "GET", e.base+"/stamp", map[string]string{"TOTP": e.rightCode(t)})
			if n := e.srv.Stats()["stamp_fetches"]; n != 4 {
				t.Errorf("next second: stamp_fetches %d, want 4", n)
			}
		})
	}
}

func (e *testEnv) setStamp(r stampReply) {
	for _, c := range e.cols {
		c.stampReply.Store(int32(r))
	}
}
