package edge

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/internal/hedged"
	"github.com/powvote/powvote/internal/mtls"
	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/totp"
	"github.com/powvote/powvote/wire"
)

// platformKeys are one campaign's platform secrets, as the collectors hold
// them.
type platformKeys struct {
	sign, hole, receipt ed25519.PrivateKey
	seed                []byte // TOTP
	voterKey            []byte
	// link is the edge's end of plain-HTTP internal links; pass its token.
	link *mtls.Link
	pass string
}

func newKeys(t testing.TB) *platformKeys {
	t.Helper()
	k := &platformKeys{seed: randBytes(totp.SeedSize), voterKey: randBytes(32)}
	k.link = mtls.NewPlain("solar").Link("edge", mtls.AnyInstance)
	k.pass = k.link.Pass()
	for _, p := range []*ed25519.PrivateKey{&k.sign, &k.hole, &k.receipt} {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		*p = priv
	}
	return k
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func (k *platformKeys) signPub() ed25519.PublicKey { return k.sign.Public().(ed25519.PublicKey) }
func (k *platformKeys) holePub() ed25519.PublicKey { return k.hole.Public().(ed25519.PublicKey) }

// reply is what a stand-in collector does with the next votes.
type reply struct {
	status int  // 204 answers with a receipt; any other code is sent as it is
	hang   bool // wait until the test ends (or gate is closed) before answering
	drop   bool // close the connection without answering
	gate   chan struct{}
	refuse string // votes whose Say header is this get 481 instead of status
}

// statusFor is the status the reply gives a vote.
func (r *reply) statusFor(rec recorded) int {
	if r.refuse != "" && rec["Say"] == r.refuse {
		return wire.StatusAlreadyVoted
	}
	return r.status
}

// stampReply is what a stand-in collector does with GET /stamp.
type stampReply int

const (
	stampOK          stampReply = iota
	stampBadSign                // the body is a byte short of Count signatures
	stampForeignSign            // the signatures verify under another key
	stampBadCodes               // Codes is malformed
	stampDown                   // 503
)

// recorded is a vote a stand-in collector received: its headers as sent.
type recorded map[string]string

// fakeCollector stands in for a collecting instance (docs/INTERNAL.md): GET
// /stamp with real signatures and booth codes, POST /vote and POST /votes
// answered as the test says, all behind the Pass check. It counts what it
// receives.
type fakeCollector struct {
	name  string
	url   string
	keys  *platformKeys
	clock func() time.Time
	pass  atomic.Pointer[string] // base64, as the Pass header carries it

	reply      atomic.Pointer[reply]
	stampReply atomic.Int32
	stamps     atomic.Int64 // GET /stamp received
	asked      atomic.Int64 // signatures those asked for
	votes      atomic.Int64 // votes received, alone (POST /vote) or in batches (POST /votes)
	requests   atomic.Int64 // POST /vote and POST /votes received
	batches    atomic.Int64 // POST /votes received
	// oldRelease, when not 0, is the status POST /votes gets with an
	// empty body: a release without it (404, or the collector's 400 for
	// a path it does not know).
	oldRelease     atomic.Int32
	refusedBatches atomic.Int64 // POST /votes answered with oldRelease
	unsigned       atomic.Int64 // receipts sent without Receipt-Sig, as asked
	reads          atomic.Int64 // GET /records/votes received

	logID atomic.Pointer[string] // the Log-Id header of /records/votes; nil: none

	mu      sync.Mutex
	got     []recorded // guarded by mu
	records []string   // vote lines of the votes answered 2xx, for GET /records/votes; guarded by mu

	release chan struct{} // closed when the test ends: hung handlers return
	srv     *fasthttp.Server
	ln      net.Listener
	done    chan error
}

// startCollector starts a stand-in collector on a loopback port. clock nil
// means time.Now.
func startCollector(t testing.TB, name string, keys *platformKeys, clock func() time.Time) *fakeCollector {
	t.Helper()
	if clock == nil {
		clock = time.Now
	}
	c := &fakeCollector{
		name: name, keys: keys, clock: clock,
		release: make(chan struct{}),
		done:    make(chan error, 1),
	}
	c.reply.Store(&reply{status: 204})
	c.setPass(keys.pass)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.url = "http://" + ln.Addr().String()
	c.ln = ln
	c.srv = &fasthttp.Server{Handler: c.handle, CloseOnShutdown: true}
	go func() { c.done <- c.srv.Serve(ln) }()
	t.Cleanup(c.stop)
	return c
}

// stop releases hung handlers and shuts the collector down; later calls do
// nothing.
func (c *fakeCollector) stop() {
	select {
	case <-c.release:
		return
	default:
	}
	close(c.release)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.srv.ShutdownWithContext(ctx)
	// Shutdown does nothing to a Serve that has not started yet; closing
	// the listener ends that one too.
	c.ln.Close()
	<-c.done
}

func (c *fakeCollector) answer(r reply) { c.reply.Store(&r) }

func (c *fakeCollector) setPass(p string) { c.pass.Store(&p) }

func (c *fakeCollector) received() []recorded {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]recorded(nil), c.got...)
}

func (c *fakeCollector) handle(ctx *fasthttp.RequestCtx) {
	if subtle.ConstantTimeCompare(ctx.Request.Header.Peek("Pass"), []byte(*c.pass.Load())) != 1 {
		ctx.SetStatusCode(fasthttp.StatusUnauthorized)
		return
	}
	switch {
	case ctx.IsGet() && string(ctx.Path()) == "/stamp":
		c.stamps.Add(1)
		c.stamp(ctx)
	case ctx.IsPost() && string(ctx.Path()) == "/vote":
		c.votes.Add(1)
		c.requests.Add(1)
		c.vote(ctx)
	case ctx.IsPost() && string(ctx.Path()) == "/votes":
		if code := c.oldRelease.Load(); code != 0 {
			c.refusedBatches.Add(1)
			ctx.SetStatusCode(int(code))
			return
		}
		c.requests.Add(1)
		c.batches.Add(1)
		c.voteBatch(ctx)
	case ctx.IsGet() && string(ctx.Path()) == "/records/votes":
		c.voteRecords(ctx)
	default:
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
	}
}

func (c *fakeCollector) stamp(ctx *fasthttp.RequestCtx) {
	now := c.clock()
	sec := now.Unix()
	if v := ctx.Request.Header.Peek("Second"); v != nil {
		sec, _ = strconv.ParseInt(string(v), 10, 64)
	}
	n, err := strconv.Atoi(string(ctx.Request.Header.Peek("Count")))
	if err != nil || n < 1 {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		return
	}
	c.asked.Add(int64(n))
	at := time.Unix(sec, 0)
	putc := strconv.FormatInt(sec, 10)
	cur, err1 := totp.Code(c.keys.seed, at)
	prev, err2 := totp.Code(c.keys.seed, at.Add(-totp.Step))
	if err1 != nil || err2 != nil {
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		return
	}
	key := c.keys.sign
	codes := cur + " " + prev
	switch stampReply(c.stampReply.Load()) {
	case stampDown:
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		return
	case stampForeignSign:
		key = c.keys.hole
	case stampBadCodes:
		codes = cur + "," + prev
	}
	signer, err := hedged.New(key)
	if err != nil {
		panic(err)
	}
	body := make([]byte, n*ed25519.SignatureSize)
	for i := range n {
		signer.Sign(rand.Reader, []byte(putc), (*[ed25519.SignatureSize]byte)(body[i*ed25519.SignatureSize:]))
	}
	if stampReply(c.stampReply.Load()) == stampBadSign {
		body = body[:len(body)-1]
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	h := &ctx.Response.Header
	h.Set("P-UTC", putc)
	h.Set("Codes", codes)
	h.Set("Count", strconv.Itoa(n))
	ctx.SetBody(body)
}

func (c *fakeCollector) vote(ctx *fasthttp.RequestCtx) {
	rec := recorded{}
	for _, k := range []string{"Auth-Pkey", "Auth-Sig", "Auth-Id", "P-UTC", "P-SIG", "Voter", "Say", "Nonce"} {
		rec[k] = string(ctx.Request.Header.Peek(k))
	}
	c.mu.Lock()
	c.got = append(c.got, rec)
	c.mu.Unlock()

	r, ok := c.await(ctx)
	if !ok {
		return
	}
	status := r.statusFor(rec)
	ctx.SetStatusCode(status)
	// Headers the edge must not pass on.
	ctx.Response.Header.Set("Instance", c.name)
	lines, sig := c.receipt(rec, status, string(ctx.Request.Header.Peek("Receipt-Sign")) != "no")
	for i, l := range lines {
		ctx.Response.Header.Set(fmt.Sprintf("Receipt%02d", i+1), l)
	}
	if sig != "" {
		ctx.Response.Header.Set("Receipt-Sig", sig)
	}
}

// await applies the test's reply to a request: it waits if the reply
// hangs, and closes the connection and reports false if it drops.
func (c *fakeCollector) await(ctx *fasthttp.RequestCtx) (*reply, bool) {
	r := c.reply.Load()
	if r.hang {
		select {
		case <-c.release:
		case <-r.gate: // nil unless the test set one
		}
	}
	if r.drop {
		ctx.HijackSetNoResponse(true)
		ctx.Hijack(func(conn net.Conn) { conn.Close() })
		return r, false
	}
	return r, true
}

// receipt records an accepted vote and makes its receipt: for a
// two-option ballot, the voter's own stamp against the chosen option, this
// instance's name in place of another voter's stamp against the other.
// It returns nothing for a status that is not 2xx.
func (c *fakeCollector) receipt(rec recorded, status int, sign bool) (lines []string, sig string) {
	if status/100 != 2 {
		return nil, ""
	}
	c.record(rec)
	lines = []string{rec["Voter"] + " " + rec["Say"], c.name + " Other"}
	if !sign {
		c.unsigned.Add(1)
		return lines, ""
	}
	s := ed25519.Sign(c.keys.receipt, []byte("solar\n"+strings.Join(lines, "\n")))
	return lines, base64.StdEncoding.EncodeToString(s)
}

// voteBatch answers POST /votes as docs/INTERNAL.md describes it, reading
// the batch and writing the answer with package wire, as a collector does:
// every vote gets the test's reply, except that a 401 or a 5xx is the
// answer to the whole batch, as a collector that refuses the pass or is
// being rebuilt gives it.
func (c *fakeCollector) voteBatch(ctx *fasthttp.RequestCtx) {
	votes, err := wire.ParseBatch(ctx.PostBody())
	if err != nil {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		ctx.SetBodyString(err.Error())
		return
	}
	type item struct {
		rec  recorded
		sign bool
	}
	items := make([]item, len(votes))
	for i, v := range votes {
		items[i] = item{recorded{"Auth-Pkey": string(v.AuthPkey), "Auth-Sig": string(v.AuthSig), "Auth-Id": string(v.AuthID),
			"P-UTC": string(v.PUTC), "P-SIG": string(v.PSIG), "Voter": string(v.Voter), "Nonce": string(v.Nonce), "Say": string(v.Say)}, !v.NoSign}
	}
	c.votes.Add(int64(len(items)))
	c.mu.Lock()
	for _, it := range items {
		c.got = append(c.got, it.rec)
	}
	c.mu.Unlock()

	r, ok := c.await(ctx)
	if !ok {
		return
	}
	if r.status == fasthttp.StatusUnauthorized || r.status >= 500 {
		ctx.SetStatusCode(r.status)
		return
	}
	var b []byte
	for _, it := range items {
		a := wire.BatchAnswer{Status: r.statusFor(it.rec)}
		a.Lines, a.Sig = c.receipt(it.rec, a.Status, it.sign)
		b = wire.AppendBatchAnswer(b, a)
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetBody(b)
}

// deadURL returns the URL of a loopback port that nothing listens on.
func deadURL(t *testing.T) string {
	t.Helper()
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		u := "http://" + ln.Addr().String()
		ln.Close()
		// The system may hand the closed port out again: two "dead"
		// collectors with one URL would be one collector named twice.
		if _, dup := deadURLs.LoadOrStore(u, true); !dup {
			return u
		}
	}
}

// deadURLs are the URLs deadURL has handed out.
var deadURLs sync.Map

// record adds an accepted vote to the records GET /records/votes serves.
func (c *fakeCollector) record(rec recorded) {
	v := listline.Vote{PUTC: rec["P-UTC"], Voter: rec["Voter"]}
	psig, err1 := base64.StdEncoding.DecodeString(rec["P-SIG"])
	nonce, err2 := hex.DecodeString(rec["Nonce"])
	say, err3 := wire.DecodeOption(rec["Say"])
	if err1 != nil || err2 != nil || err3 != nil || len(psig) != len(v.PSig) {
		panic(fmt.Sprintf("stand-in collector: the edge forwarded a vote it should have refused: %v", rec))
	}
	copy(v.PSig[:], psig)
	v.Nonce, v.Option = nonce, say
	c.addRecord(v.Line())
}

// replaceLog replaces the records by lines, under the log identity id,
// as a collector rebuilt from its twin does.
func (c *fakeCollector) replaceLog(id string, lines []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.logID.Store(&id)
	c.records = lines
}

// addRecord appends a record line ("retract <hex>" or a vote line).
func (c *fakeCollector) addRecord(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records = append(c.records, line)
}

// voteRecords serves GET /records/votes?from=N&limit=M as a collector does.
func (c *fakeCollector) voteRecords(ctx *fasthttp.RequestCtx) {
	c.reads.Add(1)
	from, err1 := strconv.ParseUint(string(ctx.QueryArgs().Peek("from")), 10, 64)
	limit, err2 := strconv.Atoi(string(ctx.QueryArgs().Peek("limit")))
	if err1 != nil || err2 != nil || limit < 1 {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		return
	}
	from = max(from, 1)
	c.mu.Lock()
	recs := c.records
	c.mu.Unlock()
	next := from
	var b strings.Builder
	for i := from; i <= uint64(len(recs)) && i < from+uint64(limit); i++ {
		fmt.Fprintf(&b, "%d %s\n", i, recs[i-1])
		next = i + 1
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.Response.Header.Set("Next", strconv.FormatUint(next, 10))
	ctx.Response.Header.Set("Last", strconv.Itoa(len(recs)))
	if id := c.logID.Load(); id != nil {
		ctx.Response.Header.Set("Log-Id", *id)
	}
	ctx.SetBodyString(b.String())
}
