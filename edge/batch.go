package edge

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/wire"
)

// Votes travel to a collecting instance in batches (docs/INTERNAL.md, POST
// /votes): one HTTP request carries the votes that queued for the instance
// while its earlier requests were in flight, and its answer has a line for
// each. The request, not the vote, is what costs the edge and the
// collector most of their CPU on this hop. Each instance has a batcher,
// which keeps at most Config.CollectorBatchInFlight requests in flight: a
// vote that finds a slot free goes at once, with whatever queued before
// it; otherwise it waits for the next free slot, and so the busier the
// instance, the larger its batches, with no delay at all when it is idle.
// A batch that reaches CollectorBatchMax votes goes at once whatever is in
// flight, and so does one that has waited CollectorBatchWait when that is
// set.
//
// What a vote gets is what it would get alone: its own line of the answer,
// or, when the batch fails (no connection, a timeout, 401, 5xx, an answer
// that does not parse or has a line too many or too few), the error that
// the instance did not answer, for every vote of the batch. A vote is sent
// once: never again in another batch or alone, since the instance may have
// recorded it. The one exception is an instance that answers the batch as
// releases without POST /votes answer a path they do not know (404, or 400
// with an empty body: no batch was read, so nothing is recorded); its
// votes then go alone, and the edge asks it for batches again only after
// perVoteFor.
//
// The format of the body and of the answer is package wire's
// (wire.AppendBatchVote, wire.ParseBatchAnswer), the collectors' too.

// Limits of a batch, the collectors' too.
const (
	maxBatchVotes = wire.MaxBatchVotes
	maxBatchBody  = wire.MaxBatchBody
)

// perVoteFor is how long an instance that did not take a batch gets its
// votes one by one before the edge tries a batch again (the instance may
// have been upgraded meanwhile).
const perVoteFor = time.Minute

// batcher gathers the votes for one instance into batches. Safe for
// concurrent use.
type batcher struct {
	s        *Server
	c        *collector
	pass     string
	wait     time.Duration // 0: no timer
	max      int
	inFlight int // the most requests in flight before votes queue
	// perVote is the Unix nanoseconds at which the instance last answered
	// a batch as a release without POST /votes does; 0: never.
	perVote atomic.Int64

	mu     sync.Mutex
	open   *batch // gathering votes; nil when none waits
	flying int    // requests in flight
}

// batch is the votes of one POST /votes.
type batch struct {
	body     []byte              // the request body: a line per vote
	waiting  []chan batchOutcome // one per vote, buffered
	deadline time.Time           // the earliest of its votes' deadlines
	timer    *time.Timer         // sends the batch when the wait is over; nil without CollectorBatchWait
}

// batchOutcome is what one vote of a batch got.
type batchOutcome struct {
	ans   *answer
	err   error
	alone bool // the instance did not take the batch: send the vote alone
}

// newBatcher makes the batcher of instance c, or returns nil when batches
// are off (Config.CollectorBatchMax negative).
func (s *Server) newBatcher(c *collector, pass string) *batcher {
	if s.cfg.CollectorBatchMax < 0 {
		return nil
	}
	return &batcher{s: s, c: c, pass: pass, wait: s.cfg.CollectorBatchWait, max: s.cfg.CollectorBatchMax, inFlight: s.cfg.CollectorBatchInFlight}
}

// batches reports whether votes for the instance go in batches now.
func (b *batcher) batches(now time.Time) bool {
	t := b.perVote.Load()
	return t == 0 || now.Sub(time.Unix(0, t)) >= perVoteFor
}

// do adds a vote's line to the instance's open batch and waits for its
// outcome. deadline bounds the batch's request. When the vote sends its
// batch it posts it on its own goroutine, which would wait anyway.
func (b *batcher) do(line []byte, deadline time.Time) batchOutcome {
	done := make(chan batchOutcome, 1)
	b.mu.Lock()
	if b.open != nil && len(b.open.body)+len(line) > maxBatchBody {
		go b.post(b.takeLocked())
	}
	if b.open == nil {
		bt := &batch{deadline: deadline, body: make([]byte, 0, 8*len(line))}
		if b.wait > 0 {
			bt.timer = time.AfterFunc(b.wait, func() {
				b.mu.Lock()
				defer b.mu.Unlock()
				if b.open == bt {
					go b.post(b.takeLocked())
				}
			})
		}
		b.open = bt
	}
	bt := b.open
	bt.body = append(bt.body, line...)
	bt.waiting = append(bt.waiting, done)
	if deadline.Before(bt.deadline) {
		bt.deadline = deadline
	}
	var mine *batch
	if len(bt.waiting) >= b.max || b.flying < b.inFlight {
		mine = b.takeLocked()
	}
	b.mu.Unlock()
	if mine != nil {
		b.post(mine)
	}
	return <-done
}

// takeLocked closes the open batch and counts it in flight; b.mu is held.
// The caller posts it.
func (b *batcher) takeLocked() *batch {
	bt := b.open
	b.open = nil
	if bt.timer != nil {
		bt.timer.Stop()
	}
	b.flying++
	return bt
}

// post sends a batch, hands each vote its outcome and, if votes queued
// meanwhile and a slot is free, sends them.
func (b *batcher) post(bt *batch) {
	b.send(bt)
	b.mu.Lock()
	b.flying--
	if b.open != nil && b.flying < b.inFlight {
		go b.post(b.takeLocked())
	}
	b.mu.Unlock()
}

// send makes the request of a batch.
func (b *batcher) send(bt *batch) {
	s, c := b.s, b.c
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI(c.votesURL)
	setPass(&req.Header, b.pass)
	req.Header.SetContentType("text/plain; charset=utf-8")
	req.SetBodyRaw(bt.body)
	s.counters.add(collectorRequests)
	s.counters.add(voteBatches)
	c.calls.batchVotes.Update(float64(len(bt.waiting)))
	out := b.outcomes(c.hc.DoDeadline(req, resp, bt.deadline), resp, len(bt.waiting))
	for i, w := range bt.waiting {
		w <- out[i]
	}
}

// outcomes reads the answer to a batch of n votes.
func (b *batcher) outcomes(err error, resp *fasthttp.Response, n int) []batchOutcome {
	s, c := b.s, b.c
	out := make([]batchOutcome, n)
	fail := func(err error) []batchOutcome {
		for i := range out {
			c.calls.voteFailed.Inc()
			out[i].err = err
		}
		return out
	}
	if err != nil {
		return fail(fmt.Errorf("POST %s: %w", c.votesURL, err))
	}
	switch sc := resp.StatusCode(); {
	case sc == fasthttp.StatusOK:
	case sc == fasthttp.StatusNotFound || sc == fasthttp.StatusBadRequest && len(resp.Body()) == 0:
		if b.perVote.Swap(time.Now().UnixNano()) == 0 {
			s.log.Info("edge: the collector does not take batches of votes: each vote goes alone", "collector", c.base, "status", sc)
		}
		for i := range out {
			out[i].alone = true
		}
		return out
	case sc == fasthttp.StatusUnauthorized:
		return fail(fmt.Errorf("POST %s: 401: the collector refused the pass secret", c.votesURL))
	default:
		return fail(fmt.Errorf("POST %s: unexpected status %d: %.200q", c.votesURL, sc, resp.Body()))
	}
	lines, err := wire.ParseBatchAnswer(resp.Body(), n)
	if err != nil {
		return fail(fmt.Errorf("POST %s: %w", c.votesURL, err))
	}
	for i, l := range lines {
		out[i].ans, out[i].err = s.verdictOf(c, c.votesURL, l.Status, func() *answer { return s.batchReceipt(l) })
	}
	return out
}

// batchReceipt builds the answer to an accepted vote from its line of a
// batch's answer, as receipt does from the headers of POST /vote.
func (s *Server) batchReceipt(l wire.BatchAnswer) *answer {
	a := &answer{status: l.Status, header: make([][2]string, 0, len(l.Lines)+1+len(s.maxAge))}
	for i, r := range l.Lines {
		a.header = append(a.header, [2]string{fmt.Sprintf("Receipt%02d", i+1), r})
	}
	if l.Sig != "" {
		a.header = append(a.header, [2]string{"Receipt-Sig", l.Sig})
		a.signed = true
	}
	a.header = append(a.header, s.maxAge[:]...)
	return a
}

// batchVote is v as a vote of a batch: the header values that sendOne
// sends for it, and Receipt-Sign: no unless sign.
func (v *vote) batchVote(sign bool) wire.BatchVote[string] {
	return wire.BatchVote[string]{
		NoSign: !sign, AuthPkey: v.authPkey, AuthSig: v.authSig, AuthID: v.authID, PUTC: v.putc,
		PSIG: v.psig64, Voter: v.voter, Nonce: v.nonceHex, Decoys: v.decoys, Say: v.sayRaw,
	}
}
