package edge

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/pow"
	"github.com/powvote/powvote/totp"
)

// The load benchmarks drive the edge over real loopback connections with
// a fasthttp client, and drive with the same client, connections and
// requests a fasthttp server whose handler only sets the status: that
// server's rate is the floor of HTTP on this machine, and edge/floor is
// the figure to compare between machines. Client and server share the
// machine's cores. Run them with -benchtime 1x (make bench); each measures
// for loadTime.

const (
	loadTime  = 5 * time.Second
	loadConns = 64 // client connections, one goroutine each
)

// loadResult is what one load run measured.
type loadResult struct {
	rate   float64 // answers per second
	status map[int]int
}

// drive sends requests to addr from loadConns connections for d; prepare
// fills the i-th request (its URI and headers).
func drive(tb testing.TB, addr string, d time.Duration, prepare func(i int64, req *fasthttp.Request)) loadResult {
	tb.Helper()
	c := &fasthttp.HostClient{Addr: addr, MaxConns: loadConns, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	var next atomic.Int64
	var mu sync.Mutex
	res := loadResult{status: map[int]int{}}
	var wg sync.WaitGroup
	var errs atomic.Int64
	start := time.Now()
	stop := start.Add(d)
	var answers atomic.Int64
	for range loadConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			local := map[int]int{}
			for time.Now().Before(stop) {
				req.Reset()
				prepare(next.Add(1), req)
				if err := c.Do(req, resp); err != nil {
					errs.Add(1)
					continue
				}
				local[resp.StatusCode()]++
				answers.Add(1)
			}
			mu.Lock()
			for k, v := range local {
				res.status[k] += v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.rate = float64(answers.Load()) / time.Since(start).Seconds()
	if n := errs.Load(); n > 0 {
		tb.Fatalf("%d requests failed", n)
	}
	return res
}

// floorServer serves every request with status alone, as fast as fasthttp
// can.
func floorServer(tb testing.TB, status int) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(status) }, NoDefaultServerHeader: true, NoDefaultDate: true}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Shutdown() })
	return ln.Addr().String()
}

// junkVote fills req with a vote that carries a genuine platform stamp and
// voter stamp but a nonce whose work is below the threshold, each with its
// own nonce so that none is answered from the nonce cache.
func junkVote(b ballot, nonces [][]byte) func(i int64, req *fasthttp.Request) {
	return func(i int64, req *fasthttp.Request) {
		req.SetRequestURI("/" + hex.EncodeToString(nonces[int(i)%len(nonces)]))
		req.Header.SetHost("solar.example.org")
		for k, v := range b.hdr {
			req.Header.Set(k, v)
		}
	}
}

// BenchmarkEdgeJunkVotes measures how fast the edge refuses votes whose
// proof of work is below the threshold (489), and checks that none of them
// reaches a collector.
func BenchmarkEdgeJunkVotes(b *testing.B) {
	e := startEnv(b, 1, func(c *Config) { c.NonceCacheSize = 1 << 20 })
	good := e.ballot(b, e.rightCode(b), "Yes")
	// Nonces whose work misses the threshold; distinct, so that each vote
	// is checked rather than answered from the cache.
	w := good.work(b)
	nonces := make([][]byte, 0, 1<<20)
	for len(nonces) < cap(nonces) {
		n := make([]byte, 8)
		rand.Read(n)
		if s := scoreOf(w, n); s < testThreshold {
			nonces = append(nonces, n)
		}
	}
	addr := e.base[len("http://"):]
	var edge, floor loadResult
	b.ResetTimer()
	for range b.N {
		edge = drive(b, addr, loadTime, junkVote(good, nonces))
		floor = drive(b, floorServer(b, 489), loadTime, junkVote(good, nonces))
	}
	b.StopTimer()
	if got := e.votes(); got[0] != 0 || got[1] != 0 {
		b.Fatalf("junk votes reached the collectors: %v", got)
	}
	if n := edge.status[489]; n != sumStatus(edge.status) {
		b.Fatalf("edge answers %v, want only 489", edge.status)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(edge.rate, "junk-votes/s")
	b.ReportMetric(floor.rate, "floor-req/s")
	b.ReportMetric(edge.rate/floor.rate, "edge/floor")
}

// BenchmarkEdgeStamp measures GET /stamp on the real clock, with a valid
// booth code and in a flood of wrong ones, and how many fetches (at most
// one a second) and signatures the platform made meanwhile: a flood of
// wrong codes must leave the platform's signing at the pool's minimum.
func BenchmarkEdgeStamp(b *testing.B) {
	for _, kind := range []string{"valid", "wrong"} {
		b.Run(kind, func(b *testing.B) { benchEdgeStamp(b, kind == "valid") })
	}
}

func benchEdgeStamp(b *testing.B, valid bool) {
	// The stand-in collectors sign a pool on one core, beside the load:
	// give them the default timeout. Pools as large as the edge takes:
	// valid codes arrive here faster than StampPoolMax's default.
	e := startEnv(b, 1, func(c *Config) {
		c.CollectorTimeout, c.StampPoolMin, c.StampPoolMax = 5*time.Second, 256, maxStampPool
	})
	// The shared clock follows the real one, so that the edge's
	// second-by-second stamps renew as they would in service.
	e.clock.ns.Store(time.Now().UnixNano())
	done := make(chan struct{})
	ticker := time.NewTicker(10 * time.Millisecond)
	go func() {
		for {
			select {
			case <-done:
				return
			case now := <-ticker.C:
				e.clock.ns.Store(now.UnixNano())
			}
		}
	}()
	defer func() { ticker.Stop(); close(done) }()
	stampReq := func(i int64, req *fasthttp.Request) {
		req.SetRequestURI("/stamp")
		req.Header.SetHost("solar.example.org")
		// The code of the current step, or of the one before when the step
		// changes during the run: both are accepted.
		code := codeNow(b, e)
		if !valid {
			code = wrongOf(code)
		}
		req.Header.Set("TOTP", code)
	}
	addr := e.base[len("http://"):]
	var edge, floor loadResult
	var fetched, signed int64
	var secs float64
	b.ResetTimer()
	for range b.N {
		before := e.cols[0].stamps.Load() + e.cols[1].stamps.Load()
		askedBefore := e.cols[0].asked.Load() + e.cols[1].asked.Load()
		t0 := time.Now()
		edge = drive(b, addr, loadTime, stampReq)
		secs = time.Since(t0).Seconds()
		fetched = e.cols[0].stamps.Load() + e.cols[1].stamps.Load() - before
		signed = e.cols[0].asked.Load() + e.cols[1].asked.Load() - askedBefore
		floor = drive(b, floorServer(b, 204), loadTime, stampReq)
	}
	b.StopTimer()
	if n := edge.status[204]; n != sumStatus(edge.status) {
		b.Fatalf("edge answers %v, want only 204", edge.status)
	}
	// One fetch per second, and one ahead.
	if limit := int64(secs) + 3; fetched > limit {
		b.Fatalf("the edge fetched %d pools of platform stamps in %.1f s, want at most one a second", fetched, secs)
	}
	if !valid && signed > fetched*256 {
		b.Fatalf("a flood of wrong codes made the platform sign %d stamps in %d fetches", signed, fetched)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(edge.rate, "stamps/s")
	b.ReportMetric(floor.rate, "floor-req/s")
	b.ReportMetric(edge.rate/floor.rate, "edge/floor")
	b.ReportMetric(float64(fetched)/secs, "platform-fetches/s")
	b.ReportMetric(float64(signed)/secs, "platform-sigs/s")
	b.ReportMetric(float64(e.srv.Stats()["stamp_pool_spent"])/secs, "pool-spent/s")
}

// wrongOf returns a six-digit code other than code; with code the current
// step's, it is one of the two accepted codes at most by a 1 in 10^6
// chance.
func wrongOf(code string) string {
	b := []byte(code)
	b[0] = '0' + (b[0]-'0'+5)%10
	return string(b)
}

// codeCache keeps the booth code of the current 30-second step of one
// test environment (each has its own TOTP seed), so that the client does
// not spend the benchmark computing HMACs.
var codeCache struct {
	sync.Mutex
	env  *testEnv
	step int64
	code string
}

func codeNow(tb testing.TB, e *testEnv) string {
	step := e.clock.now().Unix() / int64(totp.Step/time.Second)
	codeCache.Lock()
	defer codeCache.Unlock()
	if codeCache.env != e || codeCache.step != step {
		codeCache.env, codeCache.step, codeCache.code = e, step, e.rightCode(tb)
	}
	return codeCache.code
}

func scoreOf(w pow.Work, nonce []byte) int { return pow.Score(pow.Digest(w, nonce)) }

func sumStatus(m map[int]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// BenchmarkHandleJunkVote is the edge's handler alone on a vote whose
// work is below the threshold, without the network: what refusing junk
// costs the edge itself, and whether it allocates.
func BenchmarkHandleJunkVote(b *testing.B) {
	e := startEnv(b, 1, func(c *Config) { c.NonceCacheSize = 1 << 20 })
	good := e.ballot(b, e.rightCode(b), "Yes")
	w := good.work(b)
	nonces := make([][]byte, 0, 1<<16)
	for len(nonces) < cap(nonces) {
		n := make([]byte, 8)
		rand.Read(n)
		if scoreOf(w, n) < testThreshold {
			nonces = append(nonces, n)
		}
	}
	var ctx fasthttp.RequestCtx
	prepare := junkVote(good, nonces)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ctx.Request.Reset()
		ctx.Response.Reset()
		prepare(int64(i), &ctx.Request)
		e.srv.Handle(&ctx)
		if ctx.Response.StatusCode() != 489 {
			b.Fatalf("status %d", ctx.Response.StatusCode())
		}
	}
}

// BenchmarkHandleStamp is the edge's handler alone on GET /stamp with a
// right booth code, the platform stamp of the second already fetched.
func BenchmarkHandleStamp(b *testing.B) {
	e := startEnv(b, 1, nil)
	code := e.rightCode(b)
	var ctx fasthttp.RequestCtx
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.SetRequestURI("/stamp")
		ctx.Request.Header.SetHost("solar.example.org")
		ctx.Request.Header.Set("TOTP", code)
		e.srv.Handle(&ctx)
		if ctx.Response.StatusCode() != 204 {
			b.Fatalf("status %d", ctx.Response.StatusCode())
		}
	}
}

// BenchmarkTailRecords measures what the edge spends per vote on knowing
// which pair holds it (tail.go): reading one page of 4000 records of one
// instance and remembering each vote. It reports the cost per record as a
// ratio to one Ed25519 verification timed in the same iteration, the
// check every vote costs a collector anyway; the edge reads each vote
// twice, once per instance of its pair.
func BenchmarkTailRecords(b *testing.B) {
	const page = 4000
	var body []byte
	now := time.Now().Unix()
	for i := range page {
		body = fmt.Appendf(body, "%d %s\n", i+1, testVoteLineStamp(now, testStamp(i), fmt.Sprintf("%016x", i)))
	}
	pub, priv, _ := ed25519.GenerateKey(nil)
	msg := []byte("123456789012345678901234")
	sig := ed25519.Sign(priv, msg)
	var tailNs, verifyNs float64
	for b.Loop() {
		sv := newSeenVotes(3600)
		t0 := time.Now()
		recs, err := parseRecords(body, 1)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range recs {
			sv.add(r.putc, r.voter, r.nonce, 0, now)
		}
		tailNs += float64(time.Since(t0).Nanoseconds()) / page
		t0 = time.Now()
		for range page / 8 {
			ed25519.Verify(pub, msg, sig)
		}
		verifyNs += float64(time.Since(t0).Nanoseconds()) / (page / 8)
	}
	b.ReportMetric(tailNs/verifyNs, "record/ed25519-verify")
	b.ReportMetric(tailNs/float64(b.N), "ns/record")
}

// BenchmarkSeenMemory reports the heap the edge's memory of recorded votes
// takes per vote, for a million votes spread over 30 minutes of stamps.
func BenchmarkSeenMemory(b *testing.B) {
	const n = 1_000_000
	now := time.Now().Unix()
	nonce := make([]byte, 16)
	// Voter stamps differ in their last characters; seenVotes keeps their
	// hashes only, so the strings are garbage before the heap is read.
	stamps := []string{"ABCD-EFGH-JKMN-PQRS-TVWX-YZ01-2345-", "6789-ABCD-EFGH-JKMN-PQRS-TVWX-YZ01-"}
	var perVote float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		sv := newSeenVotes(3600)
		for i := range n {
			binary.BigEndian.PutUint64(nonce, uint64(i))
			sv.add(now-int64(i%1800), stamps[i%len(stamps)]+strconv.Itoa(i), nonce, i%7, now)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perVote = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(sv)
	}
	b.ReportMetric(perVote, "heap-bytes/vote")
}
