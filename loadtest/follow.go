package loadtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/published"
)

// DefaultFollow is how often `powvote loadtest` looks at the votes list
// for new lines unless told otherwise.
const DefaultFollow = time.Second

// maxFollowLine bounds a line the follower keeps while waiting for its
// "\n": a vote line is a few hundred bytes (an option is at most 200), so
// anything longer is not one, and is skipped up to its end instead of
// growing in memory.
const maxFollowLine = 16 << 10

// followChunk is how much of an answer the follower reads at a time.
const followChunk = 64 << 10

// follower follows the published votes list as a reader with `wget -c`
// would: each poll asks for the bytes past those it has (Range: bytes=N-)
// and reads the complete lines among them, keeping a last line without
// its "\n" for the next poll. The list is append-only within an epoch (the
// ETag is "epoch-size", publisher/doc.go), so nothing is read twice. A
// list that shrinks, or whose epoch changes, is another list: the
// follower notes it and reads the new one from its start.
//
// It is used from one goroutine. For each line whose nonce is a vote of
// the run it keeps the time of the poll that first brought the line; the
// publication delay is that time less the time the vote was acknowledged
// (publicationReport), so it is late by up to a poll interval and the
// time the answer took.
type follower struct {
	url   string
	hc    *http.Client
	now   func() time.Time
	nonce func(i int) []byte // the nonce of the run's vote i
	// order holds the run's votes sorted by nonce, for a binary search:
	// 4 bytes a vote, where a map would hold a copy of every nonce.
	order []int32
	seen  []int64 // per vote: unix nanoseconds of the poll that first brought its line; 0: not yet

	off     int64  // bytes of the list taken in, the partial line included
	partial []byte // the last line so far, without its "\n"
	skip    bool   // the partial line passed maxFollowLine: drop up to its "\n"
	epoch   string // of the last ETag; "" before the first answer or for an ETag of another form

	lines, matched, repeated, other, malformed int
	fetches, fetchErrors, restarts             int
	bytes                                      int64
	firstRestart, firstErr                     string
}

// newFollower follows url for the run's n votes, whose nonces nonce
// gives. now is the clock (time.Now outside tests).
func newFollower(url string, hc *http.Client, n int, nonce func(int) []byte, now func() time.Time) *follower {
	f := &follower{url: url, hc: hc, now: now, nonce: nonce, order: make([]int32, n), seen: make([]int64, n)}
	for i := range f.order {
		f.order[i] = int32(i)
	}
	slices.SortFunc(f.order, func(a, b int32) int { return bytes.Compare(nonce(int(a)), nonce(int(b))) })
	return f
}

// find returns the run's vote with this nonce.
func (f *follower) find(n []byte) (int, bool) {
	k, ok := slices.BinarySearchFunc(f.order, n, func(i int32, n []byte) int { return bytes.Compare(f.nonce(int(i)), n) })
	if !ok {
		return 0, false
	}
	return int(f.order[k]), true
}

// follow starts following the votes list when Config.Follow asks for it,
// from its size before the timed phase. stop ends it after one last poll,
// so that the votes the settling saw are seen too; it may be called more
// than once.
func (r *runner) follow(ctx context.Context) (f *follower, stop func()) {
	if r.cfg.Follow <= 0 {
		return nil, func() {}
	}
	// A restart reads the whole list again: allow for a large one.
	hc := &http.Client{Timeout: 2 * time.Minute, Transport: hostTransport{r.cfg.Host, http.DefaultTransport}}
	url := r.edge.base + "/" + published.LogName(r.cfg.Campaign.Settings.Name, published.Vote)
	f = newFollower(url, hc, len(r.votes), func(i int) []byte { return r.votes[i].nonceBytes() }, time.Now)
	f.begin(ctx)
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.run(fctx, r.cfg.Follow)
	}()
	var once sync.Once
	return f, func() {
		once.Do(func() {
			cancel()
			<-done
			if ctx.Err() == nil {
				_ = f.poll(ctx)
			}
		})
	}
}

// publication sets the follower's sightings against the acknowledgements.
func (r *runner) publication(f *follower, start time.Time) *Publication {
	s := r.cfg.Schedule
	p := publicationReport(r.ackAt, f.seen, start, sliceFor(s.Ramp+s.Duration))
	p.setFollower(f, r.cfg.Follow, r.cfg.Campaign.Settings.BatchSize)
	return p
}

// begin asks for the list's current size and epoch (HEAD) so that the
// polls read only what the run adds: the lines already published belong
// to no vote of the run. A failed HEAD leaves the follower at the start.
func (f *follower) begin(ctx context.Context) {
	f.fetches++
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, f.url, nil)
	if err != nil {
		f.fail(err)
		return
	}
	resp, err := f.hc.Do(req)
	if err != nil {
		f.fail(err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ContentLength < 0 {
		f.fail(fmt.Errorf("HEAD %s: status %d, length %d", f.url, resp.StatusCode, resp.ContentLength))
		return
	}
	// The publisher serves whole lines only, so the size is a line's end.
	f.off, f.epoch = resp.ContentLength, etagEpoch(resp.Header.Get("ETag"))
}

// run polls every interval until ctx is done.
func (f *follower) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = f.poll(ctx) // counted in fetchErrors; the next poll tries again
		}
	}
}

// poll fetches what the list gained since the last poll and reads it.
func (f *follower) poll(ctx context.Context) error {
	f.fetches++
	err := f.fetch(ctx)
	if err != nil {
		f.fail(err)
	}
	return err
}

func (f *follower) fail(err error) {
	f.fetchErrors++
	if f.firstErr == "" {
		f.firstErr = err.Error()
	}
}

// restart starts the list again from its first byte.
func (f *follower) restart(why string) {
	f.restarts++
	if f.firstRestart == "" {
		f.firstRestart = why
	}
	f.off, f.partial, f.skip = 0, f.partial[:0], false
}

func (f *follower) fetch(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url, nil)
	if err != nil {
		return fmt.Errorf("loadtest: follow: %w", err)
	}
	// No If-Range: the ETag names the size, so it changes with every
	// batch and would turn each poll into a whole download. The epoch in
	// the answer's ETag says whether the bytes continue the list read.
	req.Header.Set("Range", "bytes="+strconv.FormatInt(f.off, 10)+"-")
	resp, err := f.hc.Do(req)
	if err != nil {
		return fmt.Errorf("loadtest: follow: %w", err)
	}
	defer resp.Body.Close()
	at := f.now().UnixNano()
	epoch := etagEpoch(resp.Header.Get("ETag"))
	changed := f.epoch != "" && epoch != "" && epoch != f.epoch
	old := f.epoch
	if epoch != "" {
		f.epoch = epoch
	}
	switch resp.StatusCode {
	case http.StatusRequestedRangeNotSatisfiable:
		// Nothing past off: the same size, or a shorter list.
		_, _, size, ok := parseContentRange(resp.Header.Get("Content-Range"))
		switch {
		case changed:
			f.restart(fmt.Sprintf("the ETag epoch changed from %s to %s", old, epoch))
		case ok && size >= 0 && size < f.off:
			f.restart(fmt.Sprintf("the list shrank from %d bytes read to %d", f.off, size))
		}
		return nil
	case http.StatusPartialContent:
		first, _, _, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || first != f.off {
			return fmt.Errorf("loadtest: follow: asked for bytes from %d, got Content-Range %q", f.off, resp.Header.Get("Content-Range"))
		}
		if changed {
			// Another list: its bytes from off mean nothing here.
			f.restart(fmt.Sprintf("the ETag epoch changed from %s to %s", old, epoch))
			return nil
		}
		return f.consume(resp.Body, at)
	case http.StatusOK:
		// The whole list: a server without ranges, or one that found the
		// Range wrong. Skip what was read, unless it is another list.
		if changed {
			f.restart(fmt.Sprintf("the ETag epoch changed from %s to %s", old, epoch))
		}
		n, err := io.CopyN(io.Discard, resp.Body, f.off)
		f.bytes += n
		if errors.Is(err, io.EOF) {
			f.restart(fmt.Sprintf("the list shrank from %d bytes read to %d", f.off, n))
			return nil // read from the start at the next poll
		}
		if err != nil {
			return fmt.Errorf("loadtest: follow: %w", err)
		}
		return f.consume(resp.Body, at)
	default:
		return fmt.Errorf("loadtest: follow: GET %s: status %d", f.url, resp.StatusCode)
	}
}

// consume reads new bytes of the list, seen at unix nanoseconds at.
func (f *follower) consume(body io.Reader, at int64) error {
	buf := make([]byte, followChunk)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			f.feed(buf[:n], at)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("loadtest: follow: %w", err)
		}
	}
}

// feed takes in the next bytes of the list.
func (f *follower) feed(b []byte, at int64) {
	f.off += int64(len(b))
	f.bytes += int64(len(b))
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			f.hold(b)
			return
		}
		if f.skip {
			f.skip = false
		} else if len(f.partial) > 0 {
			f.hold(b[:i])
			if !f.skip {
				f.line(f.partial, at)
			}
			f.skip = false
		} else {
			f.line(b[:i], at)
		}
		f.partial = f.partial[:0]
		b = b[i+1:]
	}
}

// hold keeps part of a line without its "\n", up to maxFollowLine.
func (f *follower) hold(b []byte) {
	if f.skip {
		return
	}
	if len(f.partial)+len(b) > maxFollowLine {
		f.lines++
		f.malformed++
		f.skip, f.partial = true, f.partial[:0]
		return
	}
	f.partial = append(f.partial, b...)
}

// line reads one complete line.
func (f *follower) line(b []byte, at int64) {
	f.lines++
	v, err := listline.ParseVote(string(b))
	if err != nil {
		f.malformed++
		return
	}
	i, ok := f.find(v.Nonce)
	switch {
	case !ok:
		f.other++
	case f.seen[i] != 0:
		f.repeated++
	default:
		f.seen[i] = at
		f.matched++
	}
}

// etagEpoch returns the epoch of an ETag of the publisher's form
// "epoch-size" (weak or strong), or "" for any other form, whose changes
// then say nothing.
func etagEpoch(etag string) string {
	t := strings.TrimPrefix(etag, "W/")
	if len(t) < 2 || t[0] != '"' || t[len(t)-1] != '"' {
		return ""
	}
	t = t[1 : len(t)-1]
	i := strings.LastIndexByte(t, '-')
	if i <= 0 {
		return ""
	}
	if _, ok := digits(t[i+1:]); !ok {
		return ""
	}
	return t[:i]
}

// parseContentRange reads "bytes first-last/size" or "bytes */size" (RFC
// 9110 section 14.4); first and last are -1 in the second form, size is -1
// when "*" (unknown).
func parseContentRange(v string) (first, last, size int64, ok bool) {
	rest, found := strings.CutPrefix(v, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	span, total, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, 0, false
	}
	size = -1
	if total != "*" {
		if size, ok = digits(total); !ok {
			return 0, 0, 0, false
		}
	}
	if span == "*" {
		return -1, -1, size, size >= 0
	}
	a, b, found := strings.Cut(span, "-")
	if !found {
		return 0, 0, 0, false
	}
	if first, ok = digits(a); !ok {
		return 0, 0, 0, false
	}
	if last, ok = digits(b); !ok || last < first || (size >= 0 && last >= size) {
		return 0, 0, 0, false
	}
	return first, last, size, true
}

// digits reads a non-empty decimal number of at most 18 digits, beyond
// any list.
func digits(s string) (int64, bool) {
	if s == "" || len(s) > 18 || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
