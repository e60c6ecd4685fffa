package edge

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/stamp"
	"github.com/powvote/powvote/web"
)

// Adversarial tests: what an attacker on the Internet can send to the edge,
// each case paired with the defence it checks and what removing that defence
// would make the test report.

// stampClient sends GET /stamp requests one after another on one keep-alive
// connection and times each, from the first byte written to the last byte of
// the answer read.
type stampClient struct {
	conn net.Conn
	r    *bufio.Reader
}

func dialStamp(t *testing.T, base string) *stampClient {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &stampClient{conn: conn, r: bufio.NewReader(conn)}
}

// get sends one request and returns how long the answer took and its status
// line.
func (c *stampClient) get(code string) (time.Duration, string, error) {
	req := "GET /stamp HTTP/1.1\r\nHost: solar.example.org\r\nTOTP: " + code + "\r\n\r\n"
	c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	if _, err := io.WriteString(c.conn, req); err != nil {
		return 0, "", err
	}
	status := ""
	for {
		l, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, "", fmt.Errorf("reading the answer: %w", err)
		}
		if status == "" {
			status = strings.TrimRight(string(l), "\r\n")
		}
		if len(l) == 2 && l[0] == '\r' {
			break // a 204 has no body: the blank line ends it
		}
	}
	return time.Since(start), status, nil
}

// quantile returns the q-quantile of sorted s by linear interpolation.
func quantile(s []float64, q float64) float64 {
	pos := q * float64(len(s)-1)
	i := int(pos)
	if i+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[i] + (pos-float64(i))*(s[i+1]-s[i])
}

// timingRound is one comparison of the latencies of two codes, in
// microseconds.
type timingRound struct {
	medA, medB, q1A, q1B, iqr float64
	// sign is +1 when A is slower by a margin that counts, -1 when B is,
	// 0 when the difference is inside the noise.
	sign int
}

func (r timingRound) String() string {
	return fmt.Sprintf("medians %.1f/%.1f µs, lower quartiles %.1f/%.1f µs, IQR %.1f µs, verdict %+d",
		r.medA, r.medB, r.q1A, r.q1B, r.iqr, r.sign)
}

// minLeak is the smallest difference, in microseconds, that a round counts
// as a difference whatever the spread: below it, scheduler noise on a busy
// machine can move a median by itself.
const minLeak = 5.0

// compareTiming sends n requests with each of two codes on one connection,
// in pairs whose order is drawn at random (so that neither code always
// follows the other), after a warm-up, and compares the two latency
// distributions. A round counts a difference only when both the medians and
// the lower quartiles differ in the same direction by more than half the
// larger interquartile range and more than minLeak: the median alone moves
// with bursts of noise, the lower quartile (the requests nothing disturbed)
// shows the work the server does.
func compareTiming(t *testing.T, c *stampClient, codeA, codeB string, n int) timingRound {
	t.Helper()
	var a, b []float64
	for i := range n + 100 {
		order := []string{codeA, codeB}
		if mrand.IntN(2) == 0 {
			order[0], order[1] = codeB, codeA
		}
		for _, code := range order {
			d, status, err := c.get(code)
			if err != nil {
				t.Fatal(err)
			}
			if status != "HTTP/1.1 204 No Content" {
				t.Fatalf("GET /stamp: %q", status)
			}
			if i < 100 {
				continue // warm-up: connections, caches, the first platform fetch
			}
			us := float64(d) / float64(time.Microsecond)
			if code == codeA {
				a = append(a, us)
			} else {
				b = append(b, us)
			}
		}
	}
	slices.Sort(a)
	slices.Sort(b)
	r := timingRound{
		medA: quantile(a, 0.5), medB: quantile(b, 0.5),
		q1A: quantile(a, 0.25), q1B: quantile(b, 0.25),
		iqr: math.Max(quantile(a, 0.75)-quantile(a, 0.25), quantile(b, 0.75)-quantile(b, 0.25)),
	}
	margin := math.Max(r.iqr/2, minLeak)
	dMed, dQ1 := r.medA-r.medB, r.q1A-r.q1B
	switch {
	case dMed > margin && dQ1 > margin:
		r.sign = 1
	case dMed < -margin && dQ1 < -margin:
		r.sign = -1
	}
	return r
}

// timingLeak runs up to three rounds and reports a leak only when every
// round finds a difference in the same direction: one noisy round (another
// test's burst, a garbage collection) is not enough.
func timingLeak(t *testing.T, c *stampClient, codeA, codeB string, n int) (bool, []timingRound) {
	t.Helper()
	var rounds []timingRound
	for range 3 {
		r := compareTiming(t, c, codeA, codeB, n)
		rounds = append(rounds, r)
		if r.sign == 0 || r.sign != rounds[0].sign {
			return false, rounds
		}
	}
	return true, rounds
}

// TestStampTiming: a right and a wrong booth code take the same time to
// answer, as far as a client on the same machine can measure (PROTOCOL.md
// 5.2; TestStampRightAndWrongCode checks status, headers and lengths).
//
// Its power, honestly: on loopback a /stamp takes about 20 µs with an
// interquartile range of 1 to 10 µs on an idle machine; the test sees a
// systematic difference of half that range or more, and never less than
// minLeak (5 µs), such as one extra Ed25519 signature or verification, a log
// write or a counter by validity that takes a lock, an early return that
// skips making the voter stamp for one kind of code, or a collector round
// trip for wrong codes; since every answer signs a decoy, an answer takes
// about one Ed25519 signature longer and varies more, and the test's power
// is relative to that. It cannot see a difference of nanoseconds, such as
// a byte comparison that stops at the first mismatch of a 6-digit code:
// that one is left to the constant-time comparison in platform.go, and an
// attacker across a network sees even less than this test. The control
// case shows that the measurement can fail: an edge that spends 150 µs more,
// or as long again as its median answer, on wrong codes is caught.
func TestStampTiming(t *testing.T) {
	e := startEnv(t, 1, nil)
	right, wrong := e.rightCode(t), e.wrongCode(t)
	const n = 2000

	// The control: the same edge behind a handler that spins leakFor longer
	// for a wrong code. Without the power to see this, the measurement of
	// the edge proves nothing.
	var leakFor atomic.Int64
	leaky := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Request.Header.Peek("TOTP")) == wrong {
			for end := time.Now().Add(time.Duration(leakFor.Load())); time.Now().Before(end); {
			}
		}
		e.srv.Handle(ctx)
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go leaky.Serve(ln)
	t.Cleanup(func() { leaky.Shutdown() })

	// A machine busy with other work (the rest of the test suite, the race
	// detector) can make one measurement so noisy that even the control's
	// leak hides in it: such a measurement of the edge shows nothing either
	// way, and is made again, at most three times.
	const attempts = 3
	for a := 1; a <= attempts; a++ {
		leak, rounds := timingLeak(t, dialStamp(t, e.base), right, wrong, n)
		for i, r := range rounds {
			t.Logf("attempt %d, edge, round %d (right/wrong): %v", a, i+1, r)
		}
		// Every answer signs a decoy (platform.go), which makes it slower
		// and noisier, the more so under the race detector: the control's
		// leak is the larger of 150 µs and the edge's own median answer.
		leakFor.Store(int64(max(150*time.Microsecond, time.Duration(rounds[0].medA*float64(time.Microsecond)))))
		seen, ctl := timingLeak(t, dialStamp(t, "http://"+ln.Addr().String()), right, wrong, n/2)
		for i, r := range ctl {
			t.Logf("attempt %d, control with a %v leak, round %d (right/wrong): %v", a, time.Duration(leakFor.Load()), i+1, r)
		}
		if !seen || ctl[0].sign != -1 {
			t.Logf("attempt %d: the control's leak went unseen: no power, measuring again", a)
			continue
		}
		if leak {
			t.Errorf("right and wrong booth codes are told apart by timing in all %d rounds", len(rounds))
		}
		return
	}
	t.Errorf("in %d attempts the control's leak went unseen: the timing comparison has no power on this machine now", attempts)
}

// TestForgedStamps adds forgeries to TestVoteRejections: stamps that are
// well made but signed or MACed with keys other than the platform's. Each
// would reach the collectors (204 from the stand-ins) if the edge did not
// check P-SIG under UTC-SIGN (488) or the voter stamp's MAC (487).
func TestForgedStamps(t *testing.T) {
	e := startEnv(t, 1, nil)
	good := e.ballot(t, e.rightCode(t), "Yes")
	putc := good.hdr["P-UTC"]
	sigB64 := func(k ed25519.PrivateKey, msg string) string {
		return base64.StdEncoding.EncodeToString(ed25519.Sign(k, []byte(msg)))
	}
	_, attacker, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// withStamp is a ballot on P-UTC and P-SIG whose voter stamp is a
	// valid MAC under key: an attacker who could make P-SIG would need
	// the voter-stamp key too.
	withStamp := func(putc, psig64 string, key []byte) ballot {
		sig, err := base64.StdEncoding.DecodeString(psig64)
		if err != nil {
			t.Fatal(err)
		}
		v, err := stamp.NewVoter(key, rand.Reader, putc, sig)
		if err != nil {
			t.Fatal(err)
		}
		return good.with("P-UTC", putc).with("P-SIG", psig64).with("Voter", v).solve(t)
	}
	older := e.ballot(t, e.rightCode(t), "Yes") // another genuine stamp of this second
	e.clock.add(time.Second)
	next := e.ballot(t, e.rightCode(t), "Yes") // a genuine stamp of the next second
	for _, tc := range []struct {
		name   string
		b      ballot
		status int
	}{
		{"P-SIG by the attacker's key, voter stamp under the real key", withStamp(putc, sigB64(attacker, putc), e.keys.voterKey), 488},
		{"P-SIG by the receipt key", withStamp(putc, sigB64(e.keys.receipt, putc), e.keys.voterKey), 488},
		{"P-SIG by UTC-HOLE with a real voter stamp", withStamp(putc, sigB64(e.keys.hole, putc), e.keys.voterKey), 488},
		{"P-SIG all zero", good.with("P-SIG", base64.StdEncoding.EncodeToString(make([]byte, 64))).solve(t), 488},
		{"P-SIG of this second under the next P-UTC", good.with("P-UTC", next.hdr["P-UTC"]).solve(t), 488},
		{"voter stamp under the attacker's key", withStamp(putc, good.hdr["P-SIG"], randBytes(32)), 487},
		{"voter stamp under the pass secret", withStamp(putc, good.hdr["P-SIG"], []byte(e.keys.pass)), 487},
		{"voter stamp of the next second", good.with("Voter", next.hdr["Voter"]).solve(t), 487},
		{"next second's stamp, voter stamp of this one", next.with("Voter", older.hdr["Voter"]).solve(t), 487},
	} {
		resp, body := e.cast(t, tc.b)
		wantEmpty(t, tc.name, resp, body, tc.status, true)
	}
	if got := e.votes(); got[0] != 0 || got[1] != 0 {
		t.Errorf("collectors received %v votes, want none", got)
	}
	// The genuine stamps of both seconds still pass: the refusals above are
	// about the forgeries, not about the clock having moved.
	for _, b := range []ballot{older, next} {
		if resp, _ := e.cast(t, b); resp.StatusCode != 204 {
			t.Errorf("genuine ballot: %d, want 204", resp.StatusCode)
		}
	}
}

// pathVariants spells one nonce path several ways that the edge reads as
// the same nonce: lower case, upper case, and with every digit
// percent-encoded.
func pathVariants(p string) []string {
	var enc strings.Builder
	enc.WriteByte('/')
	for _, c := range []byte(p[1:]) {
		fmt.Fprintf(&enc, "%%%02X", c)
	}
	return []string{p, "/" + strings.ToUpper(p[1:]), enc.String()}
}

// TestReplayFlood sends one vote many times at once, on separate
// connections and spelled several ways, while its first request is still
// at the collectors, and as many copies with its nonce under another
// mandate (the proof of work does not cover the mandate): each collector
// receives the vote once, every request of the vote gets the same answer,
// receipt and all, and no copy gets a receipt, whether it shared the
// first request's flight or came once the answer was cached. Without the
// nonce cache and the shared flight, the collectors would receive every
// request; without the comparison of the requests' values, every copy
// would carry the voter's receipt.
func TestReplayFlood(t *testing.T) {
	const n = 120
	var arrived atomic.Int64
	// The collectors hold the vote until every copy has reached its
	// flight: under a loaded machine that may take longer than the env's
	// 300 ms collector timeout, which this test is not about.
	e := startEnv(t, 1, func(c *Config) { c.CollectorTimeout = 30 * time.Second }, func(s *Server) { s.testHookVote = func() { arrived.Add(1) } })
	b := e.ballot(t, e.rightCode(t), "Yes")
	gate := make(chan struct{})
	e.answerAll(reply{status: 204, hang: true, gate: gate})
	thief := mandate()
	variants := pathVariants(b.path)
	reqs := make([]string, n)
	for i := range reqs {
		c := b
		c.path = variants[i%len(variants)]
		if i%2 == 1 {
			for k, v := range thief {
				c = c.with(k, v)
			}
		}
		reqs[i] = c.raw()
	}
	answers := make([][]string, n+1)
	errs := make([]error, n+1)
	var wg sync.WaitGroup
	// The vote first: once both collectors hold it, its flight is open.
	wg.Go(func() { answers[n], errs[n] = rawLines(e.base, b.raw()) })
	waitFor(10*time.Second, func() bool { return slices.Equal(e.votes(), []int64{1, 1}) })
	for i := range n {
		wg.Go(func() { answers[i], errs[i] = rawLines(e.base, reqs[i]) })
	}
	waitFor(10*time.Second, func() bool { return arrived.Load() == n+1 })
	if got := arrived.Load(); got != n+1 {
		t.Fatalf("%d of %d requests reached the vote's flight", got, n+1)
	}
	close(gate)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	first := withoutDate(answers[n])
	if first[0] != "HTTP/1.1 204 No Content" || !slices.ContainsFunc(first, func(l string) bool { return strings.HasPrefix(l, "Receipt-Sig: ") }) {
		t.Fatalf("first answer %q", answers[n])
	}
	// Then again, one after another, after the flight has ended: answer
	// n+i is to request i again.
	answers = answers[:n]
	for i := range 30 {
		answers = append(answers, rawExchange(t, e.base, reqs[i]))
	}
	for j, a := range answers {
		if i := j % n; i%2 == 0 {
			if !slices.Equal(withoutDate(a), first) {
				t.Fatalf("answer %d differs:\n%s\nthen\n%s", j, strings.Join(first, "\n"), strings.Join(a, "\n"))
			}
			continue
		}
		if a[0] != "HTTP/1.1 480 Unknown Status Code" || slices.ContainsFunc(a, func(l string) bool {
			return strings.HasPrefix(l, "Receipt") || strings.HasPrefix(l, "Cache-Control")
		}) || !slices.Contains(a, "Content-Length: 0") {
			t.Fatalf("copy %d under another mandate: %q, want 480 without a receipt, a max-age or a body", j, a)
		}
	}
	if got := e.votesSettled([]int64{1, 1}); got[0] != 1 || got[1] != 1 {
		t.Errorf("instances received %v votes, want 1 each", got)
	}
	st := e.srv.Stats()
	if st["accepted"]+st["replay"] != n/2+1+15 || st["nonce_used"] != n/2+15 {
		t.Errorf("stats %v: want accepted + replay = %d and nonce_used %d", st, n/2+1+15, n/2+15)
	}
}

// rawStatus sends request on a fresh connection and returns the status
// code and body of the answer; code 0 means the edge closed the connection
// without answering.
func rawStatus(base, request string) (int, string, error) {
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	// The write may fail when the edge closes first on a request too big
	// to read; what it answered, if anything, is still to be read.
	io.WriteString(conn, request)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return 0, "", fmt.Errorf("no answer within 10 s: %w", err)
		}
		return 0, "", nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), nil
}

// honestList is an honest client's GET /list on a fresh connection; it
// returns the status (0: no answer) and how long the answer took.
func honestList(base string) (int, time.Duration) {
	start := time.Now()
	code, _, err := rawStatus(base, "GET /list HTTP/1.1\r\nHost: solar.example.org\r\nConnection: close\r\n\r\n")
	if err != nil {
		return 0, time.Since(start)
	}
	return code, time.Since(start)
}

// TestConnectionLimits attacks the edge's server limits while an honest
// client reads the ballot. The limits are set low so that the test is quick
// and so that each case fails if its setting is not applied: fasthttp's own
// defaults (no read timeout, 4 KiB headers, 4 MiB bodies, 256 Ki
// connections) would let every attack below through.
func TestConnectionLimits(t *testing.T) {
	const (
		readTimeout = time.Second
		maxConns    = 12
	)
	e := startEnv(t, 1, func(c *Config) {
		c.ReadTimeout = readTimeout
		c.MaxHeaderBytes = 2048
		c.MaxConns = maxConns
		// The hard limit alone: with idle closing on, the idle
		// connections below would give way to new ones instead
		// (TestConnectionLimitsPerAddressAndIdle).
		c.IdleCloseAt = -1
	})
	list := "GET /list HTTP/1.1\r\nHost: solar.example.org\r\nConnection: close\r\n"

	t.Run("sizes", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			req  string
			want int
		}{
			// The controls: just under the limits, answered.
			{"headers of 1.5 KiB", list + "X-Pad: " + strings.Repeat("a", 1500) + "\r\n\r\n", 204},
			{"body of 1000 bytes", list + "Content-Length: 1000\r\n\r\n" + strings.Repeat("a", 1000), 204},
			// Over them: refused, headers with 431, bodies with fasthttp's
			// 400. Without MaxHeaderBytes, fasthttp would read 3 KiB of
			// headers; without the body limit, 5000 bytes (its default
			// limit, 4 MiB, still refuses the 1 GiB one).
			{"headers of 3 KiB", list + "X-Pad: " + strings.Repeat("a", 3000) + "\r\n\r\n", 431},
			{"many small headers", list + strings.Repeat("X-Pad: aaaaaaaaaaaaaaaa\r\n", 200) + "\r\n", 431},
			{"body of 5000 bytes", list + "Content-Length: 5000\r\n\r\n" + strings.Repeat("a", 5000), 400},
			{"chunked body of 5000 bytes", list + "Transfer-Encoding: chunked\r\n\r\n1388\r\n" + strings.Repeat("a", 5000) + "\r\n0\r\n\r\n", 400},
			{"declared body of 1 GiB", list + "Content-Length: 1073741824\r\n\r\n" + strings.Repeat("a", 100), 400},
		} {
			code, body, err := rawStatus(e.base, tc.req)
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			if code != tc.want {
				t.Errorf("%s: status %d, want %d", tc.name, code, tc.want)
			}
			// Every answer of the edge has an empty body, also the ones to
			// requests fasthttp could not read (Config.ErrorHandler).
			if body != "" {
				t.Errorf("%s: body %q, want none", tc.name, body)
			}
			if c, d := honestList(e.base); c != 204 || d > time.Second {
				t.Errorf("after %s: honest GET /list got %d in %v", tc.name, c, d)
			}
		}
	})

	t.Run("slowloris", func(t *testing.T) {
		// Connections that send their headers a byte every 100 ms: each
		// is cut about ReadTimeout after it opened, not when its headers
		// would end (never). Without ReadTimeout they would stay open.
		const slow = 4
		cut := make([]time.Duration, slow)
		var wg sync.WaitGroup
		for i := range slow {
			conn, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			start := time.Now()
			wg.Go(func() {
				go func() {
					io.WriteString(conn, "GET /list HTTP/1.1\r\nHost: solar.example.org\r\nX-Slow: ")
					for time.Since(start) < 10*time.Second {
						if _, err := conn.Write([]byte("a")); err != nil {
							return
						}
						time.Sleep(100 * time.Millisecond)
					}
				}()
				conn.SetReadDeadline(start.Add(10 * time.Second))
				b, _ := io.ReadAll(conn) // until the edge closes, or the deadline
				cut[i] = time.Since(start)
				if strings.HasPrefix(string(b), "HTTP/1.1 2") {
					t.Errorf("slow connection %d was answered %q", i, b)
				}
			})
		}
		// Meanwhile honest clients are answered at once.
		for range 5 {
			if c, d := honestList(e.base); c != 204 || d > time.Second {
				t.Errorf("during the slow connections: honest GET /list got %d in %v", c, d)
			}
			time.Sleep(100 * time.Millisecond)
		}
		wg.Wait()
		for i, d := range cut {
			if d < readTimeout-100*time.Millisecond || d > readTimeout+3*time.Second {
				t.Errorf("slow connection %d was cut after %v, want about %v", i, d, readTimeout)
			}
		}
	})

	t.Run("too many connections", func(t *testing.T) {
		// Fill every slot with connections that send nothing. One more is
		// refused at once with 503 (without MaxConns it would be served;
		// which one is refused depends on when the edge let go of the
		// connections of the subtests above, so refusals are counted among
		// all of them); once ReadTimeout cuts the idle ones, the honest
		// client is answered again (without ReadTimeout it never would be).
		time.Sleep(200 * time.Millisecond)
		start := time.Now()
		type outcome struct {
			after time.Duration
			got   string
		}
		idle := make([]outcome, maxConns)
		var wg sync.WaitGroup
		for i := range maxConns {
			c, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			wg.Go(func() {
				c.SetReadDeadline(start.Add(10 * time.Second))
				b, _ := io.ReadAll(c)
				idle[i] = outcome{time.Since(start), string(b)}
			})
		}
		time.Sleep(100 * time.Millisecond) // let the edge accept them all
		refused := 0
		t0 := time.Now()
		if c, body, err := rawStatus(e.base, "GET /list HTTP/1.1\r\nHost: solar.example.org\r\nConnection: close\r\n\r\n"); err == nil && c == 503 && time.Since(t0) < readTimeout/2 {
			refused++
			if body != "" {
				t.Errorf("the connection beyond MaxConns was refused with body %q, want none", body)
			}
		}
		var served time.Duration
		for time.Since(start) < readTimeout+5*time.Second {
			if c, _ := honestList(e.base); c == 204 {
				served = time.Since(start)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		wg.Wait()
		for i, o := range idle {
			switch {
			case strings.HasPrefix(o.got, "HTTP/1.1 503") && o.after < readTimeout/2:
				refused++
				if !strings.HasSuffix(o.got, "\r\n\r\n") || !strings.Contains(o.got, "Content-Length: 0\r\n") {
					t.Errorf("idle connection %d refused with %q, want an empty body", i, o.got)
				}
			case strings.HasPrefix(o.got, "HTTP/1.1 2"):
				t.Errorf("idle connection %d answered %q", i, o.got)
			case o.after < readTimeout-100*time.Millisecond || o.after > readTimeout+3*time.Second:
				t.Errorf("idle connection %d cut after %v, want about %v", i, o.after, readTimeout)
			}
		}
		if refused == 0 {
			t.Errorf("%d connections at once, none refused: MaxConns %d not applied", maxConns+1, maxConns)
		}
		if served == 0 {
			t.Fatalf("honest GET /list not answered within %v of the slots filling", readTimeout+5*time.Second)
		}
		t.Logf("honest client served %v after %d idle connections filled the edge; %d refused at once", served, maxConns, refused)
	})
}

// TestVoteMalformedEncodings adds to TestVoteBadRequests: each base64
// header broken every way a decoder might forgive, percent-encoding and
// UTF-8 errors in Say, P-UTC in other spellings, and nonces of every wrong
// length and with each kind of non-hex character. Every one gets 400 and
// reaches no collector; a lenient decoder would let one through to a later
// check (489 or beyond).
func TestVoteMalformedEncodings(t *testing.T) {
	e := startEnv(t, 1, nil)
	good := e.ballot(t, e.rightCode(t), "Zürich")
	type badCase struct {
		name string
		b    ballot
	}
	var cases []badCase
	add := func(name string, b ballot) { cases = append(cases, badCase{name, b}) }

	for _, h := range []string{"Auth-Pkey", "Auth-Sig", "Auth-Id", "P-SIG"} {
		v := good.hdr[h]
		raw, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			t.Fatal(err)
		}
		mid := len(v) / 2
		for _, m := range []struct{ name, value string }{
			{"invalid symbol", v[:mid] + "*" + v[mid+1:]},
			{"URL alphabet", strings.NewReplacer("+", "-", "/", "_").Replace(v[:mid]) + "-" + v[mid+1:]},
			{"space inside", v[:mid] + " " + v[mid:]},
			{"padding inside", v[:mid] + "=" + v[mid+1:]},
			{"extra padding", v + "="},
			{"percent-encoded", strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(v[:len(v)-2]) + "%3D%3D"},
			{"hex", hex.EncodeToString(raw)},
			{"one byte short", base64.StdEncoding.EncodeToString(raw[1:])},
			{"one byte long", base64.StdEncoding.EncodeToString(append(raw, 0))},
			{"non-ASCII", v[:mid] + "é" + v[mid+2:]},
			{"empty", ""},
		} {
			if m.value == v {
				continue
			}
			add(h+" "+m.name, good.with(h, m.value))
		}
		if i := strings.IndexByte(v, '='); i > 0 {
			add(h+" unpadded", good.with(h, strings.TrimRight(v, "=")))
			// The symbol before the padding carries bits that must be
			// zero; the next symbol of the alphabet sets the lowest, and a
			// lenient decoder reads the same bytes.
			const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
			next := alphabet[strings.IndexByte(alphabet, v[i-1])+1]
			add(h+" nonzero pad bits", good.with(h, v[:i-1]+string(next)+v[i:]))
		}
	}
	for _, m := range []struct{ name, value string }{
		{"raw non-UTF-8", "Z\xfcrich"},
		{"raw invalid byte", "\xff"},
		{"percent-encoded Latin-1", "Z%FCrich"},
		{"overlong encoding", "Z%C0%AFrich"},
		{"UTF-16 surrogate", "Z%ED%A0%80rich"},
		{"lone %", "Z%"},
		{"% then one digit", "Z%3"},
		{"% then non-hex", "Z%G3rich"},
		{"%% ", "Z%%rich"},
		{"encoded nothing", ""},
	} {
		add("Say "+m.name, good.with("Say", m.value))
	}
	putc := good.hdr["P-UTC"]
	for _, m := range []struct{ name, value string }{
		{"with a plus sign", "+" + putc},
		{"with a space", putc + " 1"},
		{"hex", strconv.FormatInt(mustInt(t, putc), 16)},
		{"percent-encoded", "%3" + putc[:1] + putc[1:]},
		{"full-width digits", strings.Map(func(r rune) rune { return r - '0' + '０' }, putc)},
		{"exponent", putc[:1] + "e9"},
		{"far too long", strings.Repeat("9", 40)},
	} {
		add("P-UTC "+m.name, good.with("P-UTC", m.value))
	}
	nonce := good.path[1:]
	long := nonce + hex.EncodeToString(randBytes(64))
	for n := 1; n <= 130; n++ {
		if n%2 == 0 && n >= 16 && n <= 64 {
			continue
		}
		b := good
		b.path = "/" + long[:n]
		add(fmt.Sprintf("nonce of %d hex digits", n), b)
	}
	for _, c := range []string{"g", "G", "z", "-", "+", ".", "%20", "%00", "%zz", "%", "%2F", "é"} {
		b := good
		b.path = "/" + nonce[:len(nonce)-2] + c + nonce[len(nonce)-1:]
		add("nonce with "+c, b)
	}
	before := e.srv.Stats()["bad_request"]
	for _, tc := range cases {
		code, body, err := rawStatus(e.base, tc.b.raw())
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if code != 400 || body != "" {
			t.Errorf("%s: status %d body %q, want 400 and empty", tc.name, code, body)
		}
	}
	if got := e.votes(); got[0] != 0 || got[1] != 0 {
		t.Errorf("collectors received %v votes, want none", got)
	}
	t.Logf("%d malformed requests, %d counted as bad requests by the edge itself", len(cases), e.srv.Stats()["bad_request"]-before)
	if resp, _ := e.cast(t, good); resp.StatusCode != 204 {
		t.Errorf("the well-formed vote got %d, want 204", resp.StatusCode)
	}
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// trustingFS serves the files of fsys under dir and trusts the names it is
// given, as a directory of the operating system would: it joins and
// cleans them, so "voter/../../secret.txt" names a file outside dir. The
// edge's own checks (staticName) are then all that keeps a request inside
// the apps' tree; package embed and fstest check names themselves and would
// hide a hole in those.
type trustingFS struct {
	fsys fs.FS
	dir  string
}

func (f trustingFS) Open(name string) (fs.File, error) {
	return f.fsys.Open(path.Clean(f.dir + "/" + name))
}

// TestStaticPathTricks adds to TestStatic: paths that try to leave the
// apps' tree or to name a file two ways, sent as raw request lines (a
// client library would clean them). None may be answered 200 nor carry the
// secret file that lies outside the apps' tree. Against trustingFS, the
// ".." and "//" forms reach the secret if staticName stops checking; the
// real web.FS and an fstest.MapFS are there too, as the edge runs and as
// TestStatic serves.
func TestStaticPathTricks(t *testing.T) {
	const secret = "secret marker 7c1f"
	files := fstest.MapFS{
		"voter/index.html": {Data: []byte("<!doctype html>voter")},
		"voter/app.js":     {Data: []byte("'use strict';")},
		"secret.txt":       {Data: []byte(secret)},
	}
	trusting := trustingFS{fstest.MapFS{
		"apps/voter/index.html": {Data: []byte("<!doctype html>voter")},
		"apps/voter/app.js":     {Data: []byte("'use strict';")},
		"secret.txt":            {Data: []byte(secret)},
		"apps/secret.txt":       {Data: []byte(secret)},
	}, "apps"}
	tricks := []string{
		"/app/..", "/app/../", "/app/../secret.txt", "/app/%2e%2e/secret.txt", "/app/%2E%2E/secret.txt",
		"/app/.%2e/secret.txt", "/app/%2e./secret.txt", "/app/..%2fsecret.txt", "/app/..%2Fsecret.txt",
		"/app/..%5csecret.txt", "/app/..\\secret.txt", "/app/voter/..\\..\\secret.txt",
		"/app/%252e%252e/secret.txt", "/app/%c0%ae%c0%ae/secret.txt", "/app/%uff0e%uff0e/secret.txt",
		"/app/voter/../../secret.txt", "/app/voter/%2e%2e/%2e%2e/secret.txt", "/app/voter/..;/..;/secret.txt",
		"/app//secret.txt", "/app///voter/app.js", "/app/voter//app.js", "/app/./voter/app.js", "/./app/voter/app.js",
		"/app/voter/app.js%00", "/app/voter/app.js%00.html", "/app/voter/app.js\x00.html", "/app/%00/../secret.txt",
		"/app/voter/app.js;.html", "/app/voter/app.js/.", "/app/voter/app.js/..", "/APP/voter/app.js", "/App/voter/app.js",
		"/app/../../../../../../etc/passwd", "/app/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/app//etc/passwd",
		"/app/voter/" + strings.Repeat("a/", 700) + "app.js", "/app/" + strings.Repeat("../", 600) + "etc/passwd",
		"/app/voter/" + strings.Repeat("x", 10000) + ".js", "/" + strings.Repeat("%2e%2e/", 3000) + "etc/passwd",
		"/solar-../secret.txt", "/solar-%2e%2e/secret.txt",
	}
	for _, fsys := range []struct {
		name string
		fs   fs.FS
	}{{"a file system that trusts its names", trusting}, {"test files", files}, {"the real web applications", web.FS}} {
		t.Run(fsys.name, func(t *testing.T) {
			_, base := serve(t, Config{Campaigns: []Campaign{offline(t, settings("solar", "A"))}, Static: fsys.fs})
			for _, p := range tricks {
				for _, req := range []string{
					"GET " + p + " HTTP/1.1\r\nHost: solar.example\r\nConnection: close\r\n\r\n",
					"GET http://solar.example" + p + " HTTP/1.1\r\nHost: solar.example\r\nConnection: close\r\n\r\n",
				} {
					code, body, err := rawStatus(base, req)
					if err != nil {
						t.Errorf("GET %.80q: %v", p, err)
						continue
					}
					if code == 200 || strings.Contains(body, secret) || strings.Contains(body, "root:") {
						t.Errorf("GET %.80q: status %d with a %d-byte body", p, code, len(body))
					}
					if code != 400 && code != 431 && code != 414 {
						t.Errorf("GET %.80q: status %d, want 400 (or a size refusal)", p, code)
					}
				}
			}
			// The control: the plain spelling is served.
			if code, _, _ := rawStatus(base, "GET /app/voter/index.html HTTP/1.1\r\nHost: solar.example\r\nConnection: close\r\n\r\n"); code != 200 {
				t.Errorf("GET /app/voter/index.html: %d, want 200", code)
			}
		})
	}
}
