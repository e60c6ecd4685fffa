package dashboard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/audit"
	"github.com/powvote/powvote/published"
)

// histState is what the dashboard holds of a campaign's history. Owned by
// the sampler.
type histState struct {
	offset int64               // bytes read, all whole lines
	lines  int                 // lines read, readable or not
	held   []audit.HistoryLine // the last maxHistoryLines readable lines, Line numbered in the whole file
	base   []int               // the counts of the line before held[0]; zeros when it is the first
	bad    int                 // lines ParseHistory refused
	growth []audit.Growth      // audit.HistoryGrowth of held, from base
	err    error               // why the last reading failed; nil after a good one
}

// feed takes data, the bytes of the history from h.offset on, and returns
// the readable lines it adds, Line numbered in the whole file. Only whole
// lines are taken: a last line without its line feed (the publisher may
// be writing it) is read again next time. A chunk of limit bytes with no
// line feed at all cannot be a line of a history: it is counted as one
// bad line and skipped, so that reading goes on.
func (h *histState) feed(data []byte, options []string, limit int64) []audit.HistoryLine {
	nOptions := len(options)
	end := bytes.LastIndexByte(data, '\n') + 1
	if end == 0 {
		if int64(len(data)) >= limit {
			h.offset += int64(len(data))
			h.lines++
			h.bad++
		}
		return nil
	}
	parsed, bad := audit.ParseHistory(data[:end], nOptions)
	lines := parsed[:0]
	for _, l := range parsed {
		// The votes of a line cannot outnumber the list: such a line is
		// not the publisher's, and its sums would overflow.
		if !countsFit(l) {
			h.bad++
			continue
		}
		l.Line += h.lines
		lines = append(lines, l)
	}
	h.offset += int64(end)
	h.lines += bytes.Count(data[:end], []byte{'\n'})
	h.bad += len(bad)
	if h.base == nil {
		h.base = make([]int, nOptions)
	}
	h.held = append(h.held, lines...)
	if drop := len(h.held) - maxHistoryLines; drop > 0 {
		h.base = h.held[drop-1].Counts
		h.held = append([]audit.HistoryLine(nil), h.held[drop:]...)
	}
	if len(lines) > 0 {
		h.growth = growthOf(h.held, h.base, options)
	}
	return lines
}

// growthOf is audit.HistoryGrowth over held, each line's counts less base,
// so that the first held line's increase is from the line before it and
// not from zero.
func growthOf(held []audit.HistoryLine, base []int, options []string) []audit.Growth {
	if len(held) == 0 {
		return nil
	}
	n := len(options)
	rebased := make([]audit.HistoryLine, len(held))
	for i, l := range held {
		c := make([]int, n)
		for k := range c {
			c[k] = l.Counts[k] - base[k]
		}
		rebased[i] = audit.HistoryLine{Line: l.Line, Size: l.Size, Time: l.Time, Counts: c}
	}
	return audit.HistoryGrowth(rebased, options)
}

// shareJumps returns the share flags of the lines after prev (nil: the
// first line of the history, which has nothing before it to jump from).
func shareJumps(prev *audit.HistoryLine, lines []audit.HistoryLine, options []string, a Anomaly) []Flag {
	var flags []Flag
	for i := range lines {
		l := &lines[i]
		if prev != nil && len(prev.Counts) == len(l.Counts) {
			before, after := sum(prev.Counts), sum(l.Counts)
			if before >= a.ShareMinVotes && after > 0 {
				for k := range l.Counts {
					s0 := float64(prev.Counts[k]) / float64(before)
					s1 := float64(l.Counts[k]) / float64(after)
					// To within rounding: 50 of 100 then 45 of 100 moves by
					// 0.05 exactly, which floating point makes a hair less.
					if math.Abs(s1-s0) >= a.ShareJump-1e-9 {
						name := strconv.Itoa(k + 1)
						if k < len(options) {
							name = options[k]
						}
						flags = append(flags, Flag{Kind: KindShare, Option: name, From: float64(prev.Time), To: float64(l.Time), Value: s1, Base: s0})
					}
				}
			}
		}
		prev = l
	}
	return flags
}

// countsFit reports whether l's counts add up to at most its size.
func countsFit(l audit.HistoryLine) bool {
	left := l.Size
	for _, c := range l.Counts {
		if int64(c) > left {
			return false
		}
		left -= int64(c)
	}
	return true
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

// HTTPHistory is the HistorySource of campaign c from the server at base
// (the edge, or the publisher: both serve base/<c>-history.log), read
// with Range requests by hc, each bounded by ctx.
func HTTPHistory(hc *http.Client, base, c string) HistorySource {
	if hc == nil {
		hc = defaultClient()
	}
	url := strings.TrimRight(base, "/") + "/" + published.HistoryName(c)
	return func(ctx context.Context, from, limit int64) ([]byte, error) {
		hdr := http.Header{"Range": {fmt.Sprintf("bytes=%d-%d", from, from+limit-1)}}
		status, h, body, err := fetch(ctx, hc, url, hdr, limit)
		if err != nil {
			return nil, err
		}
		return rangeAnswer(status, h.Get("Content-Range"), body, from, limit)
	}
}

// HandlerHistory is the HistorySource of campaign c from handler, a
// fasthttp handler that serves /<c>-history.log (the publisher's Handle,
// in a process that runs the publisher), called in the process with no
// network in between.
func HandlerHistory(handler fasthttp.RequestHandler, c string) HistorySource {
	path := "/" + published.HistoryName(c)
	return func(_ context.Context, from, limit int64) ([]byte, error) {
		var rc fasthttp.RequestCtx
		var req fasthttp.Request
		req.SetRequestURI(path)
		req.Header.SetMethod(fasthttp.MethodGet)
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", from, from+limit-1))
		rc.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, nil)
		handler(&rc)
		body := rc.Response.Body()
		if int64(len(body)) > limit && rc.Response.StatusCode() == fasthttp.StatusPartialContent {
			return nil, fmt.Errorf("%w: %d bytes for a range of %d", errTooLarge, len(body), limit)
		}
		return rangeAnswer(rc.Response.StatusCode(), string(rc.Response.Header.Peek("Content-Range")), body, from, limit)
	}
}

// rangeAnswer reads the answer to a request for bytes from to
// from+limit-1 of a history.
func rangeAnswer(status int, contentRange string, body []byte, from, limit int64) ([]byte, error) {
	switch status {
	case http.StatusPartialContent:
		start, ok := rangeStart(contentRange)
		if !ok || start != from {
			return nil, fmt.Errorf("%w: Content-Range %q for bytes from %d", errStatus, contentRange, from)
		}
		return body, nil
	case http.StatusOK:
		// A server that ignores Range sends the whole history.
		if int64(len(body)) < from {
			return nil, ErrHistoryRewound
		}
		body = body[from:]
		return body[:min(int64(len(body)), limit)], nil
	case http.StatusRequestedRangeNotSatisfiable:
		// Nothing beyond from, or less than from: "bytes */<size>" says.
		if size, ok := rangeSize(contentRange); ok && size < from {
			return nil, ErrHistoryRewound
		}
		return nil, nil
	case http.StatusNotFound, http.StatusBadRequest:
		// Not published yet, or a publisher without a log key (no
		// history at all).
		return nil, nil
	}
	return nil, fmt.Errorf("%w %d", errStatus, status)
}

// rangeStart reads the first byte of "bytes first-last/size".
func rangeStart(cr string) (int64, bool) {
	rest, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return 0, false
	}
	first, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(first, 10, 64)
	return n, err == nil && n >= 0
}

// rangeSize reads the size of "bytes */size".
func rangeSize(cr string) (int64, bool) {
	rest, ok := strings.CutPrefix(cr, "bytes */")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	return n, err == nil && n >= 0
}

// readHistory reads what is new in the history of c, up to
// maxHistoryReads fetches each bounded by timeout, and files its lines
// and share flags.
func (c *campState) readHistory(ctx context.Context, a Anomaly, timeout time.Duration) {
	h := &c.hist
	for range maxHistoryReads {
		fctx, cancel := context.WithTimeout(ctx, timeout)
		data, err := c.history(fctx, h.offset, historyLimit)
		cancel()
		if errors.Is(err, ErrHistoryRewound) {
			c.hist = histState{}
			c.dropFlags(KindShare)
			continue
		}
		if err != nil {
			h.err = err
			return
		}
		h.err = nil
		var prev *audit.HistoryLine
		if n := len(h.held); n > 0 {
			last := h.held[n-1]
			prev = &last
		}
		lines := h.feed(data, c.options, historyLimit)
		c.addFlags(shareJumps(prev, lines, c.options, a)...)
		if int64(len(data)) < historyLimit {
			return
		}
	}
}
