package edge

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/wire"
)

// castResult is the edge's answer to one vote cast with others.
type castResult struct {
	status int
	header http.Header
	err    error
}

// castAll casts the ballots at once.
func (e *testEnv) castAll(t *testing.T, bs []ballot) []castResult {
	t.Helper()
	client := newClient(t)
	out := make([]castResult, len(bs))
	var wg sync.WaitGroup
	for i, b := range bs {
		wg.Go(func() {
			req, err := http.NewRequest(http.MethodGet, e.base+b.path, nil)
			if err != nil {
				out[i].err = err
				return
			}
			for k, v := range b.hdr {
				req.Header[k] = []string{v}
			}
			resp, err := client.Do(req)
			if err != nil {
				out[i].err = err
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			out[i] = castResult{status: resp.StatusCode, header: resp.Header}
		})
	}
	wg.Wait()
	return out
}

// checkReceipt fails the test unless r is 204 with the receipt of instance
// from for ballot b, signed.
func (e *testEnv) checkReceipt(t *testing.T, i int, r castResult, b ballot, from string) {
	t.Helper()
	lines := []string{b.hdr["Voter"] + " " + b.hdr["Say"], from + " Other"}
	if r.err != nil || r.status != 204 || r.header.Get("Receipt01") != lines[0] || r.header.Get("Receipt02") != lines[1] {
		t.Errorf("vote %d: %d %v %q %q, want 204 with receipt %q", i, r.status, r.err, r.header.Get("Receipt01"), r.header.Get("Receipt02"), lines)
		return
	}
	sig, err := base64.StdEncoding.DecodeString(r.header.Get("Receipt-Sig"))
	if err != nil || !ed25519.Verify(e.keys.receipt.Public().(ed25519.PublicKey), []byte("solar\n"+strings.Join(lines, "\n")), sig) {
		t.Errorf("vote %d: Receipt-Sig %q does not verify", i, r.header.Get("Receipt-Sig"))
	}
}

// TestVoteBatches: votes cast at once reach each instance of their pair in
// fewer requests than votes, and each gets its own answer: its own receipt,
// or the refusal meant for it.
func TestVoteBatches(t *testing.T) {
	const n = 24
	e := startEnv(t, 1, func(c *Config) {
		c.CollectorBatchWait, c.CollectorTimeout, c.StampPoolMin = 200*time.Millisecond, 5*time.Second, 2*n // one pool holds every stamp
	})
	e.answerAll(reply{status: 204, refuse: "No"})
	var bs []ballot
	for i := range n {
		say := "Yes"
		if i%3 == 0 {
			say = "No" // not on the ballot, but under no authority's mandate: the collectors answer
		}
		bs = append(bs, e.ballot(t, e.rightCode(t), say))
	}
	for i, r := range e.castAll(t, bs) {
		if bs[i].hdr["Say"] == "No" {
			if r.err != nil || r.status != 481 || r.header.Get("Receipt01") != "" {
				t.Errorf("vote %d: %d %v %q, want 481 without a receipt", i, r.status, r.err, r.header.Get("Receipt01"))
			}
			continue
		}
		e.checkReceipt(t, i, r, bs[i], "c0")
	}
	e.votesSettled([]int64{n, n})
	var batches uint64
	for _, c := range e.cols {
		if got := c.votes.Load(); got != n {
			t.Errorf("%s received %d votes, want %d", c.name, got, n)
		}
		if got := c.requests.Load(); got >= n || got != c.batches.Load() {
			t.Errorf("%s received %d requests, %d of them batches, for %d votes: want fewer, all batches", c.name, got, c.batches.Load(), n)
		}
		batches += uint64(c.batches.Load())
	}
	if got := e.srv.Stats()["vote_batches"]; got != batches {
		t.Errorf("vote_batches %d, want %d", got, batches)
	}
}

// TestVoteBatchFull: votes queue while CollectorBatchInFlight requests
// are in flight, and a batch that reaches CollectorBatchMax goes at once
// all the same, without waiting for a free slot or CollectorBatchWait.
func TestVoteBatchFull(t *testing.T) {
	const n, max = 8, 4
	e := startEnv(t, 1, func(c *Config) {
		c.CollectorBatchInFlight, c.CollectorBatchWait, c.CollectorBatchMax, c.CollectorTimeout = 1, time.Minute, max, 10*time.Second
		c.StampPoolMin = 2 * (n + 1)
	})
	gate := make(chan struct{})
	first, firstDone := e.holdSlot(t, gate)
	var bs []ballot
	for range n {
		bs = append(bs, e.ballot(t, e.rightCode(t), "Yes"))
	}
	done := make(chan []castResult, 1)
	go func() { done <- e.castAll(t, bs) }()
	// The n votes queue behind it; each full batch goes at once.
	if !waitUntil(5*time.Second, func() bool {
		return e.cols[0].requests.Load() == 1+n/max && e.cols[1].requests.Load() == 1+n/max
	}) {
		t.Fatalf("timed out waiting until %s: requests %d and %d", "the full batches go while the slot is taken", e.cols[0].requests.Load(), e.cols[1].requests.Load())
	}
	close(gate)
	e.checkReceipt(t, 0, <-firstDone, first, "c0")
	for i, r := range <-done {
		e.checkReceipt(t, i, r, bs[i], "c0")
	}
	e.votesSettled([]int64{n + 1, n + 1})
	for _, c := range e.cols {
		if got := c.batches.Load(); got != 1+n/max {
			t.Errorf("%s received %d batches, want %d", c.name, got, 1+n/max)
		}
	}
}

// holdSlot answers every vote only once gate is closed, casts one vote and
// waits until it holds each instance's one in-flight slot
// (CollectorBatchInFlight 1); it returns the vote and where its result
// comes.
func (e *testEnv) holdSlot(t *testing.T, gate chan struct{}) (ballot, <-chan castResult) {
	t.Helper()
	e.answerAll(reply{status: 204, hang: true, gate: gate})
	first := e.ballot(t, e.rightCode(t), "Yes")
	done := make(chan castResult, 1)
	go func() { done <- e.castAll(t, []ballot{first})[0] }()
	if !waitUntil(5*time.Second, func() bool {
		return e.cols[0].requests.Load() == 1 && e.cols[1].requests.Load() == 1
	}) {
		t.Fatalf("the first vote did not reach both instances: requests %d and %d", e.cols[0].requests.Load(), e.cols[1].requests.Load())
	}
	return first, done
}

// waitUntil polls cond until it holds or d has passed, and reports
// whether it held.
func waitUntil(d time.Duration, cond func() bool) bool {
	waitFor(d, cond)
	return cond()
}

// TestVoteBatchQueues: while a request is in flight, the votes that come
// queue and go together in the next request once it is answered.
func TestVoteBatchQueues(t *testing.T) {
	const n = 6
	e := startEnv(t, 1, func(c *Config) {
		c.CollectorBatchInFlight, c.CollectorTimeout, c.StampPoolMin = 1, 10*time.Second, 2*(n+1)
	})
	gate := make(chan struct{})
	first, firstDone := e.holdSlot(t, gate)
	var bs []ballot
	for range n {
		bs = append(bs, e.ballot(t, e.rightCode(t), "Yes"))
	}
	done := make(chan []castResult, 1)
	go func() { done <- e.castAll(t, bs) }()
	// Nothing more goes while the slot is taken.
	time.Sleep(300 * time.Millisecond)
	for _, c := range e.cols {
		if got := c.requests.Load(); got != 1 {
			t.Fatalf("%s received %d requests while its one slot was taken, want 1", c.name, got)
		}
	}
	close(gate)
	e.checkReceipt(t, 0, <-firstDone, first, "c0")
	for i, r := range <-done {
		e.checkReceipt(t, i, r, bs[i], "c0")
	}
	e.votesSettled([]int64{n + 1, n + 1})
	for _, c := range e.cols {
		if got := c.requests.Load(); got != 2 {
			t.Errorf("%s received %d requests for a vote and %d queued behind it, want 2", c.name, got, n)
		}
	}
}

// TestVoteBatchOldRelease: an instance that answers POST /votes as a
// release without it does (404, or 400 with an empty body) gets each vote
// alone, and is not asked for batches again until perVoteFor has passed.
func TestVoteBatchOldRelease(t *testing.T) {
	e := startEnv(t, 1, nil)
	e.cols[0].oldRelease.Store(404)
	e.cols[1].oldRelease.Store(400)
	const n = 3
	for i := range n {
		b := e.ballot(t, e.rightCode(t), "Yes")
		resp, _ := e.cast(t, b)
		e.checkReceipt(t, i, castResult{status: resp.StatusCode, header: resp.Header}, b, "c0")
		e.votesSettled([]int64{int64(i + 1), int64(i + 1)})
	}
	for _, c := range e.cols {
		if c.refusedBatches.Load() != 1 || c.batches.Load() != 0 || c.requests.Load() != n || c.votes.Load() != n {
			t.Errorf("%s: %d batches refused, %d taken, %d requests, %d votes; want 1, 0, %d, %d",
				c.name, c.refusedBatches.Load(), c.batches.Load(), c.requests.Load(), c.votes.Load(), n, n)
		}
	}
	// Upgraded, and perVoteFor later: batches again.
	for _, c := range e.srv.siteMap()["solar"].instances {
		c.batch.perVote.Store(time.Now().Add(-perVoteFor).UnixNano())
	}
	e.cols[0].oldRelease.Store(0)
	e.cols[1].oldRelease.Store(0)
	b := e.ballot(t, e.rightCode(t), "Yes")
	resp, _ := e.cast(t, b)
	e.checkReceipt(t, n, castResult{status: resp.StatusCode, header: resp.Header}, b, "c0")
	e.votesSettled([]int64{n + 1, n + 1})
	for _, c := range e.cols {
		if c.batches.Load() != 1 {
			t.Errorf("%s: %d batches after the upgrade, want 1", c.name, c.batches.Load())
		}
	}
}

// TestVoteBatchHangs: an instance that hangs fails every vote of its
// batches after the collector timeout, counted from when each vote was
// queued; its twin answers them all.
func TestVoteBatchHangs(t *testing.T) {
	const n = 6
	e := startEnv(t, 1, func(c *Config) { c.CollectorBatchWait = 50 * time.Millisecond })
	e.cols[0].answer(reply{status: 204, hang: true})
	var bs []ballot
	for range n {
		bs = append(bs, e.ballot(t, e.rightCode(t), "Yes"))
	}
	start := time.Now()
	res := e.castAll(t, bs)
	took := time.Since(start)
	for i, r := range res {
		e.checkReceipt(t, i, r, bs[i], "c1")
	}
	// 300 ms for the hung instance, and a second asking of the twin
	// for its signature (at most one more batch wait).
	if took < 300*time.Millisecond || took > 2*time.Second {
		t.Errorf("the votes took %v with a collector timeout of 300ms", took)
	}
	hung := e.srv.siteMap()["solar"].pairs[0][0]
	if got := hung.calls.voteFailed.Get(); got != n {
		t.Errorf("instance 0 failed %d votes, want %d", got, n)
	}
	if got := e.cols[0].requests.Load(); got < 1 || got >= n {
		t.Errorf("instance 0 received %d requests for %d votes", got, n)
	}
}

// TestBatchOutcomes: what each vote of a batch gets from the answer to the
// batch. Anything but 200 with exactly one well-formed line per vote fails
// every vote of the batch; a 404, or a 400 without a reason, sends each
// vote alone.
func TestBatchOutcomes(t *testing.T) {
	e := startEnv(t, 1, nil)
	b := e.srv.siteMap()["solar"].instances[0].batch
	type want struct {
		status int    // of the answer, 0 for an error
		lines  string // its receipt lines, joined by "|"
		signed bool
	}
	ok := want{204, "A Yes|c0 Other", false}
	fails := func(n int) []want { return make([]want, n) }
	for _, tc := range []struct {
		name   string
		err    error
		status int
		body   string
		n      int
		alone  bool
		want   []want
	}{
		{"receipts and a verdict", nil, 200, "204\t-\tA Yes\tc0 Other\n481\n204\tc2ln\tA Yes\tc0 Other\n", 3, false,
			[]want{ok, {481, "", false}, {204, "A Yes|c0 Other", true}}},
		{"an unexpected code on one line", nil, 200, "204\t-\tA Yes\tc0 Other\n503\n", 2, false, []want{ok, {}}},
		{"a line too few", nil, 200, "481\n", 2, false, fails(2)},
		{"a line too many", nil, 200, "481\n481\n481\n", 2, false, fails(2)},
		{"no final line feed", nil, 200, "481\n481", 2, false, fails(2)},
		{"a 2xx without a receipt", nil, 200, "204\n481\n", 2, false, fails(2)},
		{"a refusal with a receipt", nil, 200, "481\t-\tA Yes\n", 1, false, fails(1)},
		{"a signature that is not base64", nil, 200, "204\tno sig\tA Yes\n", 1, false, fails(1)},
		{"a carriage return in a receipt line", nil, 200, "204\t-\tA Yes\rSet-Cookie: x\n", 1, false, fails(1)},
		{"an empty receipt line", nil, 200, "204\t-\t\n", 1, false, fails(1)},
		{"100 receipt lines", nil, 200, "204\t-" + strings.Repeat("\tA Yes", 100) + "\n", 1, false, fails(1)},
		{"no status", nil, 200, "20x\n", 1, false, fails(1)},
		{"no connection", errors.New("dial: refused"), 0, "", 2, false, fails(2)},
		{"401", nil, 401, "", 2, false, fails(2)},
		{"503", nil, 503, "", 2, false, fails(2)},
		{"a 400 with its reason", nil, 400, "votes: line 1: no Say\n", 2, false, fails(2)},
		{"404", nil, 404, "", 2, true, fails(2)},
		{"a 400 without a reason", nil, 400, "", 2, true, fails(2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b.perVote.Store(0)
			resp := fasthttp.AcquireResponse()
			defer fasthttp.ReleaseResponse(resp)
			resp.SetStatusCode(tc.status)
			resp.SetBodyString(tc.body)
			out := b.outcomes(tc.err, resp, tc.n)
			if len(out) != tc.n {
				t.Fatalf("%d outcomes for %d votes", len(out), tc.n)
			}
			for i, o := range out {
				if o.alone != tc.alone {
					t.Errorf("vote %d: alone %v, want %v", i, o.alone, tc.alone)
				}
				var got want
				if o.ans != nil {
					var lines []string
					for _, h := range o.ans.header {
						if strings.HasPrefix(h[0], "Receipt0") || strings.HasPrefix(h[0], "Receipt1") {
							lines = append(lines, h[1])
						}
					}
					got = want{o.ans.status, strings.Join(lines, "|"), o.ans.signed}
				}
				if got != tc.want[i] || (o.ans == nil) == (o.err == nil) && !tc.alone {
					t.Errorf("vote %d: %+v (err %v), want %+v", i, got, o.err, tc.want[i])
				}
			}
			if got := b.batches(time.Now()); got == tc.alone {
				t.Errorf("batches afterwards: %v", got)
			}
		})
	}
}

// TestUnframeableVoteGoesAlone: a vote whose values cannot go on a line
// of a batch (wire.AppendBatchVote refuses them) goes alone to POST /vote,
// with its values as they are, and gets its answer, so that no voter can
// spoil a batch and the votes of others in it.
func TestUnframeableVoteGoesAlone(t *testing.T) {
	e := startEnv(t, 1, nil)
	st := e.srv.siteMap()["solar"]
	// P-SIG, Nonce and Say as the stand-in collector records them.
	psig := base64.StdEncoding.EncodeToString(make([]byte, ed25519.SignatureSize))
	good := vote{authPkey: "a", authSig: "b", authID: "c", putc: "1", psig64: psig, voter: "V", nonceHex: "0011223344556677", sayRaw: "Yes"}
	for i, tc := range []struct {
		name string
		edit func(v *vote)
		want recorded // the headers the instance received
	}{
		{"a space in Voter", func(v *vote) { v.voter = "V W" },
			recorded{"Auth-Pkey": "a", "Auth-Sig": "b", "Auth-Id": "c", "P-UTC": "1", "P-SIG": psig, "Voter": "V W", "Say": "Yes", "Nonce": "0011223344556677"}},
		{"empty P-UTC", func(v *vote) { v.putc = "" },
			recorded{"Auth-Pkey": "a", "Auth-Sig": "b", "Auth-Id": "c", "P-UTC": "", "P-SIG": psig, "Voter": "V", "Say": "Yes", "Nonce": "0011223344556677"}},
	} {
		v := good
		tc.edit(&v)
		if _, err := wire.AppendBatchVote(nil, v.batchVote(true)); !errors.Is(err, wire.ErrUnframeable) {
			t.Fatalf("%s: the line is not refused: %v", tc.name, err)
		}
		a, err := e.srv.send(st, st.instances[0], &v, true)
		if err != nil || a.status != 204 {
			t.Errorf("%s: %+v, %v; want 204", tc.name, a, err)
		}
		fake := e.cols[0]
		if fake.batches.Load() != 0 || fake.requests.Load() != int64(i+1) {
			t.Errorf("%s: %d requests, %d of them batches; want %d, none", tc.name, fake.requests.Load(), fake.batches.Load(), i+1)
		}
		if got := fake.received(); len(got) != i+1 || !reflect.DeepEqual(got[i], tc.want) {
			t.Errorf("%s: the instance received %q, want %q last", tc.name, got, tc.want)
		}
	}
	// The same vote with values that go on a line goes in a batch.
	if a, err := e.srv.send(st, st.instances[0], &good, true); err != nil || a.status != 204 || e.cols[0].batches.Load() != 1 {
		t.Errorf("a vote that goes on a line: %+v, %v, %d batches; want 204 in one batch", a, err, e.cols[0].batches.Load())
	}
}

// TestVoteBatchTimeoutFromQueue: the collector timeout of a vote counts
// from when it was queued, not from when its batch left: a vote that
// waited behind a request in flight has that much less for the answer.
func TestVoteBatchTimeoutFromQueue(t *testing.T) {
	const timeout, gap = 400 * time.Millisecond, 200 * time.Millisecond
	e := startEnv(t, 1, func(c *Config) { c.CollectorBatchInFlight, c.CollectorTimeout = 1, timeout })
	e.cols[0].answer(reply{status: 204, hang: true})
	hung := e.srv.siteMap()["solar"].pairs[0][0]
	a, b := e.ballot(t, e.rightCode(t), "Yes"), e.ballot(t, e.rightCode(t), "Yes")
	aDone := make(chan castResult, 1)
	go func() { aDone <- e.castAll(t, []ballot{a})[0] }()
	time.Sleep(gap)
	// b queues behind a, whose request to the hung instance holds its one
	// slot until a's timeout.
	start := time.Now()
	failed := make(chan time.Duration, 1)
	go func() {
		for hung.calls.voteFailed.Get() < 2 && time.Since(start) < 5*time.Second {
			time.Sleep(5 * time.Millisecond)
		}
		failed <- time.Since(start)
	}()
	resp, _ := e.cast(t, b)
	e.checkReceipt(t, 0, castResult{status: resp.StatusCode, header: resp.Header}, b, "c1")
	e.checkReceipt(t, 0, <-aDone, a, "c1")
	if after := <-failed; after < timeout-50*time.Millisecond || after > timeout+gap/2 {
		t.Errorf("the hung instance failed the queued vote %v after it was cast, want about %v (counted from its queueing, not %v from its batch's start)", after, timeout, timeout-gap+timeout)
	}
}
