package publisher

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/powvote/powvote/internal/connlimit"
	"github.com/powvote/powvote/internal/httpcond"
	"github.com/powvote/powvote/published"
)

// logLists are the published lists of the logs, by index: the two lists
// and the retracted list. Their files are named by package published.
var logLists = [3]published.List{votesList: published.Vote, votersList: published.Auth, retractedList: published.Retracted}

// Indexes of the retracted list and of the history in snapshot.size.
const (
	retractedFile = retractedList
	historyFile   = 3
)

// limitListener wraps Run's listener in the same connection limits as
// the edge's (package connlimit): Config.MaxConns at once, answered 503
// with an empty body beyond; Config.MaxConnsPerIP per IPv4 address or
// IPv6 /64, where a new connection takes the place of the client's
// longest-idle one and gets the same 503 when all of them are busy; and
// from Config.IdleCloseAt percent of MaxConns on, a new connection takes
// the place of the longest-idle one of any client. A whole list may take
// up to WriteTimeout (30 minutes) to a slow reader, and such a download
// is busy, never closed for a newcomer: the per-address limit is what
// keeps one address's slow readers from taking every slot. With
// Config.TLS a refused connection is closed at once, the plain 503 being
// of no use to a TLS client.
func limitListener(ln net.Listener, cfg Config, log *slog.Logger) (net.Listener, error) {
	refusal := []byte(connlimit.Unavailable)
	if cfg.TLS != nil {
		refusal = nil
	}
	l, err := connlimit.New(ln, connlimit.Config{
		Max:     cfg.MaxConns,
		PerAddr: max(cfg.MaxConnsPerIP, 0),
		IdleAt:  connlimit.IdleAt(cfg.MaxConns, cfg.IdleCloseAt),
		Refusal: refusal,
		Logger:  log,
	})
	if err != nil {
		return nil, fmt.Errorf("publisher: %w", err)
	}
	return l, nil
}

// Handle serves GET and HEAD of the campaign's files (package
// documentation, Serving), 404 with an empty body for a checkpoint or a
// tile of the campaign that does not exist (yet), and 400 with an empty
// body for anything else. It can be mounted in another fasthttp server,
// whose WriteTimeout must then allow for whole-list downloads.
func (p *Publisher) Handle(ctx *fasthttp.RequestCtx) {
	name, _ := strings.CutPrefix(string(ctx.Path()), "/")
	if !strings.HasPrefix(name, published.Prefix(p.cfg.Campaign)) || !ctx.IsGet() && !ctx.IsHead() {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		return
	}
	s := p.snap.Load()
	if s == nil {
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		return
	}
	f, ok := published.Parse(p.cfg.Campaign, name)
	if !ok {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		return
	}
	switch {
	case f.Kind == published.Log && f.List == published.Vote:
		p.serveFile(ctx, s, p.files[votesList], votesList)
		return
	case f.Kind == published.Log && f.List == published.Auth:
		p.serveFile(ctx, s, p.files[votersList], votersList)
		return
	case f.Kind == published.Log && f.List == published.Retracted:
		// It grows at its own times, possibly twice in a second: it has
		// an ETag and no Last-Modified.
		serveRange(ctx, p.retracted, s.size[retractedFile], s.etag[retractedFile], time.Time{}, "text/plain; charset=utf-8", "no-cache")
		return
	case f.Kind == published.Settings:
		if p.cfg.Settings == nil {
			notYet(ctx)
			return
		}
		serveSmall(ctx, p.cfg.Settings, "text/yaml; charset=utf-8", "no-cache")
		return
	case f.Kind == published.ReceiptKey:
		// The public half of the receipt key is not secret, unlike
		// UTC-SIGN's: voters need it during the campaign to check the
		// Receipt-Sig of the receipt they were just given.
		if p.cfg.ReceiptPub == nil {
			notYet(ctx)
			return
		}
		serveSmall(ctx, []byte(base64.StdEncoding.EncodeToString(p.cfg.ReceiptPub)+"\n"), "text/plain; charset=utf-8", "no-cache")
		return
	case f.Kind == published.Keys:
		if s.closed == nil {
			notYet(ctx) // secret until the campaign is closed
			return
		}
		serveSmall(ctx, s.closed.keys, "text/plain; charset=utf-8", immutable)
		return
	case f.Kind == published.Archive:
		if s.closed == nil {
			notYet(ctx)
			return
		}
		serveRange(ctx, s.closed.archive, s.closed.size, s.closed.etag, s.closed.at, "application/gzip", immutable)
		return
	}
	if p.key == nil {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		return
	}
	if f.Kind == published.History {
		p.serveFile(ctx, s, p.history, historyFile)
		return
	}
	if f.Kind == published.LogKey {
		serveSmall(ctx, []byte(p.key.vkey+"\n"), "text/plain; charset=utf-8", "no-cache")
		return
	}
	for i, l := range logLists {
		if f.List != l {
			continue
		}
		switch f.Kind {
		case published.Checkpoint, published.TileCheckpoint:
			// The latest: the second name is where C2SP tlog-tiles
			// clients look for it.
			serveSmall(ctx, s.checkpoint[i], "text/plain; charset=utf-8", "no-cache")
			return
		case published.KeptCheckpoint:
			p.serveCheckpoint(ctx, s, i, f.Size)
			return
		case published.Tile:
			p.serveTile(ctx, s, i, name, f.Level, f.N, f.Width)
			return
		}
	}
	ctx.SetStatusCode(fasthttp.StatusBadRequest)
}

// immutable is the Cache-Control of content that never changes once
// served: old checkpoints and tiles.
const immutable = "public, max-age=31536000, immutable"

// notYet answers 404 for a file that will exist later, and keeps caches
// from holding on to the 404.
func notYet(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.SetStatusCode(fasthttp.StatusNotFound)
}

// serveSmall answers a body held in memory.
func serveSmall(ctx *fasthttp.RequestCtx, body []byte, contentType, cacheControl string) {
	ctx.SetContentType(contentType)
	ctx.Response.Header.Set("Cache-Control", cacheControl)
	if ctx.IsHead() {
		ctx.Response.SkipBody = true
		ctx.Response.Header.SetContentLength(len(body))
		return
	}
	ctx.SetBody(body)
}

// serveCheckpoint answers the checkpoint of log i kept for size
// (published.KeptCheckpointName) if it is a size at which a batch (or, for
// the retracted list, an append) ended, at most the committed one.
func (p *Publisher) serveCheckpoint(ctx *fasthttp.RequestCtx, s *snapshot, i int, size int64) {
	if size == 0 || size > s.lines[i] {
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		return
	}
	// Files at or below the committed size are never written again.
	b, err := os.ReadFile(p.checkpointPath(i, size))
	if errors.Is(err, fs.ErrNotExist) {
		ctx.SetStatusCode(fasthttp.StatusNotFound) // not a batch boundary
		return
	}
	if err != nil {
		p.log.Error("couldn't read a checkpoint", "err", err)
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		return
	}
	serveSmall(ctx, b, "text/plain; charset=utf-8", immutable)
}

// serveTile answers a C2SP tlog-tiles tile or entry bundle of list i (an
// entry bundle when level is -1), named name, if the committed tree holds
// it.
func (p *Publisher) serveTile(ctx *fasthttp.RequestCtx, s *snapshot, i int, name string, level int, n int64, w int) {
	var body []byte
	var err error
	if level < 0 {
		if n*tileWidth+int64(w) > s.lines[i] {
			ctx.SetStatusCode(fasthttp.StatusNotFound)
			return
		}
		body, err = p.readBundle(s, i, n, w)
	} else {
		// The tree holds size >> 8L complete subtrees of height 8L: the
		// hashes of level L tiles.
		if level*tileHeight >= 63 || n*tileWidth+int64(w) > s.lines[i]>>(level*tileHeight) {
			ctx.SetStatusCode(fasthttp.StatusNotFound)
			return
		}
		body, err = tlog.ReadTileData(tlog.Tile{H: tileHeight, L: level, N: n, W: w}, committedHashes{p.trees[i].hashes.f, s.hashes[i]})
	}
	if err != nil {
		p.log.Error("couldn't read a tile", "list", string(logLists[i]), "tile", name, "err", err)
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		return
	}
	serveSmall(ctx, body, "application/octet-stream", immutable)
}

// readBundle reads leaves 256n to 256n+w-1 of log i as an entry bundle.
func (p *Publisher) readBundle(s *snapshot, i int, n int64, w int) ([]byte, error) {
	start, end := s.tileStart[i][n], s.size[i]
	if n+1 < int64(len(s.tileStart[i])) {
		end = s.tileStart[i][n+1]
	}
	f := p.retracted
	if i != retractedList {
		f = p.files[i]
	}
	b := make([]byte, end-start)
	if _, err := f.ReadAt(b, start); err != nil {
		return nil, err
	}
	ls := bytes.SplitN(b, []byte("\n"), w+1)
	if len(ls) < w {
		return nil, fmt.Errorf("%d lines from offset %d, want %d", len(ls), start, w)
	}
	return entryBundle(ls[:w]), nil
}

// serveFile serves file which of the snapshot (a list or the history)
// with validators and ranges.
func (p *Publisher) serveFile(ctx *fasthttp.RequestCtx, s *snapshot, f *os.File, which int) {
	// The list grows: caches may keep it but must ask each time.
	serveRange(ctx, f, s.size[which], s.etag[which], s.modified, "text/plain; charset=utf-8", "no-cache")
}

// serveRange serves the first size bytes of f with validators and
// ranges; a zero modified means no Last-Modified, and then dates in
// If-Modified-Since and If-Range never match.
func serveRange(ctx *fasthttp.RequestCtx, f io.ReaderAt, size int64, etag string, modified time.Time, contentType, cacheControl string) {
	h := &ctx.Response.Header
	h.Set("ETag", etag)
	if !modified.IsZero() {
		h.SetLastModified(modified)
	}
	h.Set("Accept-Ranges", "bytes")
	h.Set("Cache-Control", cacheControl)

	// Preconditions in the order of RFC 9110 section 13.2.2.
	rh := &ctx.Request.Header
	if v := rh.Peek("If-Match"); len(v) > 0 && !httpcond.ETagMatch(string(v), etag, true) {
		ctx.SetStatusCode(fasthttp.StatusPreconditionFailed)
		return
	}
	if v := rh.Peek("If-None-Match"); len(v) > 0 {
		if httpcond.ETagMatch(string(v), etag, false) {
			ctx.SetStatusCode(fasthttp.StatusNotModified)
			return
		}
	} else if v := rh.Peek("If-Modified-Since"); len(v) > 0 && !modified.IsZero() {
		// Exact because the lists grow at most once per second: content
		// with a given Last-Modified never changes.
		if t, err := fasthttp.ParseHTTPDate(v); err == nil && !modified.After(t) {
			ctx.SetStatusCode(fasthttp.StatusNotModified)
			return
		}
	}

	status, start, n := fasthttp.StatusOK, int64(0), size
	if v := rh.Peek("Range"); len(v) > 0 && ifRange(string(rh.Peek("If-Range")), etag, modified) {
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
	ctx.SetContentType(contentType)
	ctx.SetStatusCode(status)
	if ctx.IsHead() {
		ctx.Response.SkipBody = true
		h.SetContentLength(int(n))
		return
	}
	// The handler reads only below the committed size, which a round
	// never writes: no lock is needed.
	ctx.SetBodyStream(io.NewSectionReader(f, start, n), int(n))
}

// ifRange reports whether a Range applies given the If-Range value v: it
// does when there is none, or when v is the current ETag (strong
// comparison) or the current Last-Modified. Otherwise the client's copy is
// not a prefix of this list and it gets the whole list.
func ifRange(v, etag string, modified time.Time) bool {
	if v == "" {
		return true
	}
	if strings.HasPrefix(v, `"`) || strings.HasPrefix(v, "W/") {
		return v == etag
	}
	t, err := fasthttp.ParseHTTPDate([]byte(v))
	return err == nil && !modified.IsZero() && t.Equal(modified)
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
