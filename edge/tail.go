package edge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/stamp"
)

// The edge reads the vote records of every collecting instance
// (docs/INTERNAL.md, GET /records/votes) into its seenVotes, so that a vote
// relayed by another edge process, or by this one before a restart, cannot
// be copied under a mandate of another pair, nor its voter stamp used for
// another vote (seen.go).

const (
	// tailPage is how many records one read asks for; the collector sends
	// at most 10000.
	tailPage = 4000
	// tailMaxBody bounds one page: records are some hundreds of bytes.
	tailMaxBody = 16 << 20
	// tailTimeout bounds one read.
	tailTimeout = 30 * time.Second
	// tailMaxBackoff is the longest wait between reads of an instance that
	// does not answer.
	tailMaxBackoff = 10 * time.Second
	// stampMargin is added to the campaign's maximum stamp age wherever
	// the edge judges, by its own clock, whether a collector could still
	// accept a stamp: a collector's clock may be minutes off.
	stampMargin = 10 * time.Minute
)

// tailer reads one instance's vote records. Used by one goroutine.
type tailer struct {
	s    *Server
	st   *site
	pair int
	c    *collector
	hc   *fasthttp.HostClient
	url  string // GET /records/votes without its query
	next uint64 // index of the next record to read; 0 until a start is found
	// logID is the identity of the log next indexes (Log-Id); "" until an
	// answer names one. A new one means the instance's store was replaced
	// (rebuilt from its twin, or restored): next then means nothing.
	logID string
	// failing says the last read failed, so that run logs only changes.
	failing bool
	// caughtUp is set once a read has reached the end of the log
	// (Server.Ready).
	caughtUp atomic.Bool
}

func (s *Server) newTailer(st *site, pair int, c *collector) *tailer {
	return &tailer{
		s:    s,
		st:   st,
		pair: pair,
		c:    c,
		url:  c.base + "/records/votes",
		// Its own small pool, apart from the votes': a page can be
		// megabytes, and a slow read must not hold a vote's connection.
		hc: &fasthttp.HostClient{
			Addr:                c.hc.Addr,
			IsTLS:               c.hc.IsTLS,
			TLSConfig:           c.hc.TLSConfig,
			Name:                "powvote-edge",
			MaxConns:            2,
			MaxIdleConnDuration: collectorIdle,
			ReadTimeout:         tailTimeout,
			WriteTimeout:        tailTimeout,
			MaxResponseBodySize: tailMaxBody,
		},
	}
}

// catchUp reads until the instance has nothing more, or ctx ends.
func (t *tailer) catchUp(ctx context.Context) error {
	for ctx.Err() == nil {
		n, err := t.step()
		if err != nil {
			return err
		}
		if n < tailPage {
			t.caughtUp.Store(true)
			return nil
		}
	}
	return ctx.Err()
}

// run reads the instance every interval until ctx ends, backing off while
// it does not answer, and logging only when that changes.
func (t *tailer) run(ctx context.Context, interval time.Duration) {
	wait := interval
	for {
		select {
		case <-ctx.Done():
			t.hc.CloseIdleConnections()
			return
		case <-time.After(wait):
		}
		err := t.catchUp(ctx)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			if !t.failing {
				t.s.log.Warn("edge: cannot read a collector's vote records; votes copied under another mandate may reach another pair until it answers",
					"campaign", t.st.name, "collector", t.c.base, "err", err)
			}
			t.failing = true
			wait = min(2*wait, tailMaxBackoff)
		default:
			if t.failing {
				t.s.log.Info("edge: reading a collector's vote records again", "campaign", t.st.name, "collector", t.c.base)
			}
			t.failing = false
			wait = interval
		}
	}
}

// step reads one page from the next record on, finding the start first,
// and returns how many records it read.
func (t *tailer) step() (int, error) {
	now := t.s.cfg.Clock()
	if t.next == 0 {
		start, err := t.findStart(now)
		if err != nil {
			return 0, err
		}
		t.next = start
	}
	recs, next, last, id, err := t.fetch(t.next, tailPage)
	if err != nil {
		t.c.calls.recordsFailed.Inc()
		return 0, err
	}
	t.c.calls.recordsOK.Inc()
	if id != t.logID {
		old := t.logID
		t.logID = id
		if old != "" {
			// Another log: find the start in it again.
			t.next = 0
			return 0, nil
		}
	}
	if last+1 < t.next {
		// The instance's log is shorter than what was read: its store
		// was replaced. Start again.
		t.next = 0
		return 0, nil
	}
	for _, r := range recs {
		if r.nonce != nil {
			t.st.seen.add(r.putc, r.voter, r.nonce, t.pair, now.Unix())
			t.st.decoys.add(r.option, r.voter, now)
		}
	}
	t.next = next
	return len(recs), nil
}

// findStart returns the index of the first record that may be a vote whose
// stamp a collector could still accept at now. The log is in the order the
// votes were accepted; a vote accepted at time a carries a P-UTC between
// a - age and a (age: the maximum stamp age, with stampMargin for clocks).
// The votes still live at now were accepted at now - age or later, a
// suffix of the log, and every one of them has P-UTC >= now - 2 age. So a
// binary search for the first record with P-UTC >= now - 2 age never
// lands after that suffix's start, although P-UTC is not sorted.
func (t *tailer) findStart(now time.Time) (uint64, error) {
	age := t.st.settings.MaxStampAge + stampMargin
	floor := now.Add(-2 * age).Unix()
	_, _, last, id, err := t.fetch(1, 1)
	if err != nil {
		return 0, err
	}
	t.logID = id
	lo, hi := uint64(0), last+1 // the record at lo is before the start, the one at hi is in it
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		recs, _, _, _, err := t.fetch(mid, 8)
		if err != nil {
			return 0, err
		}
		// A page of retractions says nothing about time: the search then
		// takes the early side, which reads more, never less.
		after := true
		for _, r := range recs {
			if r.nonce != nil {
				after = r.putc >= floor
				break
			}
		}
		if after {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, nil
}

// tailRecord is one vote record: its P-UTC, voter stamp and nonce, or nil
// nonce for a retraction. A retraction withdraws a vote from the count,
// not its stamp from use: the edge keeps what it learnt of it.
type tailRecord struct {
	putc   int64
	voter  string
	nonce  []byte
	option string
}

var errTailAnswer = errors.New("unexpected answer")

// fetch reads one page of records from index from, with the headers
// Next, Last and Log-Id ("" from a collector that does not send it).
func (t *tailer) fetch(from uint64, limit int) (recs []tailRecord, next, last uint64, id string, err error) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(t.url + "?from=" + strconv.FormatUint(from, 10) + "&limit=" + strconv.Itoa(limit))
	setPass(&req.Header, t.st.pass)
	t.s.counters.add(collectorRequests)
	if err := t.hc.DoTimeout(req, resp, tailTimeout); err != nil {
		return nil, 0, 0, "", fmt.Errorf("GET %s: %w", t.url, err)
	}
	if sc := resp.StatusCode(); sc != fasthttp.StatusOK {
		return nil, 0, 0, "", fmt.Errorf("GET %s: status %d: %w", t.url, sc, errTailAnswer)
	}
	next, err1 := strconv.ParseUint(string(resp.Header.Peek("Next")), 10, 64)
	last, err2 := strconv.ParseUint(string(resp.Header.Peek("Last")), 10, 64)
	if err1 != nil || err2 != nil || next < from {
		return nil, 0, 0, "", fmt.Errorf("GET %s: Next or Last header missing or wrong: %w", t.url, errTailAnswer)
	}
	recs, err = parseRecords(resp.Body(), from)
	if err != nil {
		return nil, 0, 0, "", fmt.Errorf("GET %s: %w", t.url, err)
	}
	if next != from+uint64(len(recs)) {
		return nil, 0, 0, "", fmt.Errorf("GET %s: %d records from %d, but Next is %d: %w", t.url, len(recs), from, next, errTailAnswer)
	}
	id = string(resp.Header.Peek("Log-Id"))
	if len(id) > 64 {
		return nil, 0, 0, "", fmt.Errorf("GET %s: Log-Id of %d bytes: %w", t.url, len(id), errTailAnswer)
	}
	return recs, next, last, id, nil
}

// parseRecords reads a page of vote records numbered from from: lines
// "<index> <record>" (listline.ParseIndexed), in order.
func parseRecords(body []byte, from uint64) ([]tailRecord, error) {
	var recs []tailRecord
	for len(body) > 0 {
		line, rest, ok := bytes.Cut(body, []byte("\n"))
		if !ok {
			return nil, fmt.Errorf("record %d: no line feed: %w", from, errTailAnswer)
		}
		body = rest
		index, rec, err := listline.ParseIndexed(string(line))
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", from, err)
		}
		if index != from {
			return nil, fmt.Errorf("record %d: wrong number: %w", from, errTailAnswer)
		}
		var r tailRecord
		if v := rec.Vote; v != nil {
			if r.putc, err = stamp.ParsePUTC(v.PUTC); err != nil {
				return nil, fmt.Errorf("record %d: %w", from, err)
			}
			r.nonce, r.voter, r.option = v.Nonce, v.Voter, v.Option
		}
		recs = append(recs, r)
		from++
	}
	return recs, nil
}
