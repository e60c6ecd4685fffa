package publisher

import (
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"
)

// Handle serves GET and HEAD of the two lists (package documentation,
// Serving) and answers 400 with an empty body to anything else. It can be
// mounted in another fasthttp server, whose WriteTimeout must then allow
// for whole-list downloads.
func (p *Publisher) Handle(ctx *fasthttp.RequestCtx) {
	which := -1
	for i, path := range p.paths {
		if string(ctx.Path()) == path {
			which = i
		}
	}
	if which < 0 || !ctx.IsGet() && !ctx.IsHead() {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		return
	}
	s := p.snap.Load()
	if s == nil {
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		return
	}
	size, etag := s.size[which], s.etag[which]
	h := &ctx.Response.Header
	h.Set("ETag", etag)
	h.SetLastModified(s.modified)
	h.Set("Accept-Ranges", "bytes")
	// The list grows: caches may keep it but must ask each time.
	h.Set("Cache-Control", "no-cache")

	// Preconditions in the order of RFC 9110 section 13.2.2.
	rh := &ctx.Request.Header
	if v := rh.Peek("If-Match"); len(v) > 0 && !etagIn(string(v), etag, true) {
		ctx.SetStatusCode(fasthttp.StatusPreconditionFailed)
		return
	}
	if v := rh.Peek("If-None-Match"); len(v) > 0 {
		if etagIn(string(v), etag, false) {
			ctx.SetStatusCode(fasthttp.StatusNotModified)
			return
		}
	} else if v := rh.Peek("If-Modified-Since"); len(v) > 0 {
		// Exact because the lists grow at most once per second: content
		// with a given Last-Modified never changes.
		if t, err := fasthttp.ParseHTTPDate(v); err == nil && !s.modified.After(t) {
			ctx.SetStatusCode(fasthttp.StatusNotModified)
			return
		}
	}

	status, start, n := fasthttp.StatusOK, int64(0), size
	if v := rh.Peek("Range"); len(v) > 0 && ifRange(string(rh.Peek("If-Range")), etag, s) {
		first, last, res := parseRange(string(v), size)
		switch res {
		case rangeUnsatisfiable:
			h.Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
			ctx.SetStatusCode(fasthttp.StatusRequestedRangeNotSatisfiable)
			return
		case rangeOK:
			status, start, n = fasthttp.StatusPartialContent, first, last-first+1
			h.SetContentRange(int(first), int(last), int(size))
		}
	}
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetStatusCode(status)
	if ctx.IsHead() {
		ctx.Response.SkipBody = true
		h.SetContentLength(int(n))
		return
	}
	// The handler reads only below the committed size, which a round
	// never writes: no lock is needed.
	ctx.SetBodyStream(io.NewSectionReader(p.files[which], start, n), int(n))
}

// etagIn reports whether the If-Match or If-None-Match value v names etag:
// "*", or a comma-separated list of entity tags. Strong comparison refuses
// weak tags; weak comparison ignores the W/ prefix.
func etagIn(v, etag string, strong bool) bool {
	if strings.TrimSpace(v) == "*" {
		return true
	}
	for _, t := range strings.Split(v, ",") {
		t = strings.TrimSpace(t)
		if !strong {
			t = strings.TrimPrefix(t, "W/")
		}
		if t == etag {
			return true
		}
	}
	return false
}

// ifRange reports whether a Range applies given the If-Range value v: it
// does when there is none, or when v is the current ETag (strong
// comparison) or the current Last-Modified. Otherwise the client's copy is
// not a prefix of this list and it gets the whole list.
func ifRange(v, etag string, s *snapshot) bool {
	if v == "" {
		return true
	}
	if strings.HasPrefix(v, `"`) || strings.HasPrefix(v, "W/") {
		return v == etag
	}
	t, err := fasthttp.ParseHTTPDate([]byte(v))
	return err == nil && t.Equal(s.modified)
}

type rangeResult int

const (
	rangeIgnore        rangeResult = iota // serve the whole list
	rangeUnsatisfiable                    // 416
	rangeOK                               // 206 for [first, last]
)

// parseRange reads a Range value for a list of size bytes. It serves one
// range: several ranges, another unit or a malformed value get the whole
// list, which RFC 9110 section 14.2 allows and which every client can use.
func parseRange(v string, size int64) (first, last int64, res rangeResult) {
	unit, spec, ok := strings.Cut(v, "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(unit), "bytes") || strings.Contains(spec, ",") {
		return 0, 0, rangeIgnore
	}
	a, b, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, 0, rangeIgnore
	}
	if a == "" { // the last b bytes
		n, ok := digits(b)
		if !ok {
			return 0, 0, rangeIgnore
		}
		if n == 0 || size == 0 {
			return 0, 0, rangeUnsatisfiable
		}
		return max(size-n, 0), size - 1, rangeOK
	}
	first, ok = digits(a)
	if !ok {
		return 0, 0, rangeIgnore
	}
	last = size - 1
	if b != "" {
		if last, ok = digits(b); !ok || last < first {
			return 0, 0, rangeIgnore
		}
	}
	if first >= size {
		return 0, 0, rangeUnsatisfiable
	}
	return first, min(last, size-1), rangeOK
}

// digits reads a non-empty string of ASCII digits; a number too large for
// an int64 reads as math.MaxInt64, beyond any list.
func digits(s string) (int64, bool) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return math.MaxInt64, true
	}
	return n, true
}
