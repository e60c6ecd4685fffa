package edge

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/sync/singleflight"

	"github.com/powvote/powvote/audit"
	"github.com/powvote/powvote/internal/httpcond"
	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/published"
)

// The counter (docs/PUBLISHING.md, The counter) is what a campaign's
// supporters embed in their own sites: GET or HEAD of
//
//	/<campaign>/counter.svg   a badge with the total, and a bar towards ?goal=N
//	/<campaign>/counter.json  {"campaign":"solar","votes":308,"goal":1000,"updated":"2026-01-01T00:00:00Z"}
//
// The campaign is the path's first segment, whatever the Host, and must be
// one this edge serves with its published files (Campaign.Lists): 404
// otherwise. The count is the size of the votes list under its latest
// checkpoint, read through Campaign.Lists as any reader of the published
// files reads it and opened with the log key the same files serve: what
// the platform has signed, never what the collectors hold. "updated" is
// the time of the history line at that size. Both answers are computed
// from the last reading, which the edge takes again at most every
// counterRefresh, by one request at a time: a page embedded a million
// times costs the publisher one checkpoint every few seconds.
//
// Any site may embed them: the answers, errors included, carry
// Access-Control-Allow-Origin: * (and no credentials are ever involved),
// Cross-Origin-Resource-Policy: cross-origin, X-Content-Type-Options:
// nosniff and a Content-Security-Policy under which the SVG, opened
// directly, can run nothing; it holds no script anyway. They may be kept
// for the counterCacheControl max-age and carry an ETag that If-None-Match matches with a
// 304.
//
// Query parameters: goal, a whole number from 1 to maxCounterGoal; lang,
// "en" (the default), "de" or "pl", the language of the SVG's words. Any
// other value, or either given twice, is 400. Other parameters are
// ignored, so that a page may add one to fetch the image afresh.

// Counter file names, after "/<campaign>/".
const (
	counterSVGName  = "counter.svg"
	counterJSONName = "counter.json"
)

// counterRefresh is how long the edge answers counter requests from the
// checkpoint it read last before it reads the latest again.
const counterRefresh = 5 * time.Second

// counterWait is how long a request that finds the last reading due for
// renewal waits for the new one before it answers with the last: a slow
// publisher slows down one reading, not the pages that embed the counter.
const counterWait = 500 * time.Millisecond

// counterCacheControl lets browsers and shared caches keep an answer for
// a few seconds: the count grows by batches, seconds apart at best.
const counterCacheControl = "public, max-age=15"

// counterCSP is the Content-Security-Policy of every counter answer:
// nothing to load or run, inline presentation attributes only.
const counterCSP = "default-src 'none'; style-src 'unsafe-inline'"

// maxCounterGoal is the largest goal a counter request may name.
const maxCounterGoal = 1_000_000_000

// maxSmallPublished bounds what the counter reads of a checkpoint or a
// log key: both are a few hundred bytes.
const maxSmallPublished = 16 << 10

// counterReadTimeout bounds the reading of one published file, body
// included: a publisher that trickles its answer cannot hold the counter's
// reading for ever.
const counterReadTimeout = ListsTimeout

// counterFormat is which of the two answers a path asks for.
type counterFormat int

const (
	counterSVG counterFormat = iota
	counterJSON
)

// counterPath reads "/<campaign>/counter.svg" or ".../counter.json". The
// campaign may be any non-empty segment; the caller looks it up.
func counterPath(path []byte) (campaign string, f counterFormat, ok bool) {
	rest, ok := bytes.CutPrefix(path, []byte("/"))
	if !ok {
		return "", 0, false
	}
	name, file, ok := bytes.Cut(rest, []byte("/"))
	if !ok || len(name) == 0 {
		return "", 0, false
	}
	switch string(file) {
	case counterSVGName:
		f = counterSVG
	case counterJSONName:
		f = counterJSON
	default:
		return "", 0, false
	}
	return string(name), f, true
}

// isCounterRequest reports whether ctx is a GET or HEAD of a counter path.
func isCounterRequest(ctx *fasthttp.RequestCtx) bool {
	if !ctx.IsGet() && !ctx.IsHead() {
		return false
	}
	_, _, ok := counterPath(ctx.Path())
	return ok
}

// counterQuery is what a counter request asks for besides its campaign.
type counterQuery struct {
	goal int64  // 1..maxCounterGoal; 0: none
	lang string // a key of counterLangs
}

// errCounterQuery is the cause of a 400 to a counter request.
var errCounterQuery = errors.New("counter query")

// parseCounterQuery reads a counter request's query parameters: goal and
// lang, each at most once and well formed; other parameters are ignored.
func parseCounterQuery(args *fasthttp.Args) (counterQuery, error) {
	q := counterQuery{lang: "en"}
	goals, langs := args.PeekMulti("goal"), args.PeekMulti("lang")
	if len(goals) > 1 || len(langs) > 1 {
		return counterQuery{}, fmt.Errorf("%w: goal or lang given twice", errCounterQuery)
	}
	if len(goals) == 1 {
		g, err := strconv.ParseInt(string(goals[0]), 10, 64)
		if err != nil || g < 1 || g > maxCounterGoal || strconv.FormatInt(g, 10) != string(goals[0]) {
			return counterQuery{}, fmt.Errorf("%w: goal %q: want a whole number from 1 to %d", errCounterQuery, goals[0], maxCounterGoal)
		}
		q.goal = g
	}
	if len(langs) == 1 {
		if _, ok := counterLangs[string(langs[0])]; !ok {
			return counterQuery{}, fmt.Errorf("%w: lang %q: want en, de or pl", errCounterQuery, langs[0])
		}
		q.lang = string(langs[0])
	}
	return q, nil
}

// counterState is what the edge knows of one campaign's published count.
// The zero value is ready: nothing read yet.
type counterState struct {
	// reading is the last reading; nil until the first ends. Readings
	// replace it whole; requests only load it.
	reading atomic.Pointer[counterReading]
	// flight runs one reading at a time, on a goroutine of its own
	// (singleflight.DoChan); each reading ends within a few
	// counterReadTimeout.
	flight singleflight.Group
	// key is the log key as the publisher serves it, once read; only the
	// reading in flight uses it.
	key note.Verifier
	// wait is how long a request waits for a reading in flight when it
	// has an earlier one to answer with; zero means counterWait. Set
	// before the edge serves.
	wait time.Duration
}

// counterReading is one reading of the published count. Immutable.
type counterReading struct {
	ok      bool      // a checkpoint was read and verified, by this reading or an earlier one
	votes   int64     // the size of the latest checkpoint read
	updated time.Time // the time of the history line at that size; zero when unknown
	at      time.Time // when the reading ended, by Config.Clock
}

// counter answers a counter request (isCounterRequest). It returns the
// campaign the path names, nil for one the edge does not serve, for the
// metrics, and an error for the adapter. The caller adds counterHeaders.
func (s *Server) counter(ctx *fasthttp.RequestCtx) (*site, error) {
	name, f, _ := counterPath(ctx.Path())
	st := s.siteMap()[name]
	if st == nil || st.lists == nil {
		// No campaign by that name, or none whose published files this
		// edge serves: nothing to count from.
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		return st, nil
	}
	q, err := parseCounterQuery(ctx.QueryArgs())
	if err != nil {
		return st, reject(badRequest, err)
	}
	r := s.counterReading(st)
	h := &ctx.Response.Header
	if !r.ok {
		// The publisher has not answered a verified checkpoint yet: like
		// a list it cannot relay, a 502 that no cache keeps.
		h.Set("Cache-Control", "no-store")
		ctx.SetStatusCode(fasthttp.StatusBadGateway)
		return st, nil
	}
	var body []byte
	if f == counterSVG {
		h.SetContentType("image/svg+xml")
		body = counterBadge(st.name, r, q)
	} else {
		h.SetContentType("application/json")
		body = counterDocument(st.name, r, q)
	}
	sum := sha256.Sum256(body)
	tag := `"` + hex.EncodeToString(sum[:12]) + `"`
	h.Set("ETag", tag)
	h.Set("Cache-Control", counterCacheControl)
	if v := ctx.Request.Header.Peek("If-None-Match"); len(v) > 0 && httpcond.ETagMatch(string(v), tag, false) {
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		return st, nil
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetBody(body) // fasthttp drops it from the answer to a HEAD
	return st, nil
}

// counterHeaders are the headers of every counter answer, errors
// included, so that a page of any origin can read its status and embed it.
func counterHeaders(h *fasthttp.ResponseHeader) {
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", counterCSP)
}

// counterReading returns the reading to answer with: the last one while
// it is younger than counterRefresh; otherwise a new one, started now or
// already in flight, which the request waits for up to counterWait
// before answering with the last (for as long as it takes when there is
// no last one).
func (s *Server) counterReading(st *site) *counterReading {
	c := &st.counter
	last := c.reading.Load()
	now := s.cfg.Clock()
	if last != nil && !now.Before(last.at) && now.Sub(last.at) < counterRefresh {
		return last
	}
	ch := c.flight.DoChan("", func() (any, error) { return s.readCounter(st), nil })
	if last == nil {
		return (<-ch).Val.(*counterReading)
	}
	wait := c.wait
	if wait == 0 {
		wait = counterWait
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case res := <-ch:
		return res.Val.(*counterReading)
	case <-t.C:
		return last
	}
}

// readCounter takes a new reading of st's published count and makes it
// the last. What it cannot read it keeps from the last reading, and logs.
func (s *Server) readCounter(st *site) *counterReading {
	c := &st.counter
	r := &counterReading{}
	if last := c.reading.Load(); last != nil {
		*r = *last
	}
	cp, err := s.readVotesCheckpoint(st)
	switch {
	case err != nil:
		s.log.Warn("edge: counter: couldn't read the latest votes checkpoint; answering with the last one read", "campaign", st.name, "err", err)
	case !r.ok || cp.Tree.N != r.votes || r.updated.IsZero():
		if r.ok && cp.Tree.N < r.votes {
			s.log.Warn("edge: counter: the latest votes checkpoint is smaller than the one read before", "campaign", st.name, "size", cp.Tree.N, "before", r.votes)
		}
		r.ok, r.votes, r.updated = true, cp.Tree.N, time.Time{}
		if cp.Tree.N > 0 {
			if r.updated, err = s.readHistoryTime(st, cp.Tree.N); err != nil {
				s.log.Warn("edge: counter: couldn't find the history line of the latest votes checkpoint", "campaign", st.name, "err", err)
			}
		}
	}
	r.at = s.cfg.Clock()
	c.reading.Store(r)
	return r
}

// readVotesCheckpoint reads the latest checkpoint of st's votes list and
// opens it with the log key the publisher serves (audit.OpenCheckpoint):
// a checkpoint of the votes list of st, signed.
func (s *Server) readVotesCheckpoint(st *site) (*audit.Checkpoint, error) {
	c := &st.counter
	name := published.CheckpointName(st.name, published.Vote)
	data, err := readPublishedFile(st.lists, name, maxSmallPublished)
	if err != nil {
		return nil, err
	}
	fresh := false
	if c.key == nil {
		if c.key, err = readLogKey(st); err != nil {
			return nil, err
		}
		fresh = true
	}
	cp, err := audit.OpenCheckpoint(data, c.key)
	if err != nil && !fresh {
		// The key read before may be a campaign's of the same name that
		// has been replaced: read it once more.
		if c.key, err = readLogKey(st); err != nil {
			return nil, err
		}
		cp, err = audit.OpenCheckpoint(data, c.key)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if want := published.Origin(st.name, published.Vote); cp.Origin != want {
		return nil, fmt.Errorf("%s: origin %q, want %q", name, cp.Origin, want)
	}
	return cp, nil
}

// readLogKey reads the note verifier key st's publisher serves.
func readLogKey(st *site) (note.Verifier, error) {
	name := published.LogKeyName(st.name)
	data, err := readPublishedFile(st.lists, name, maxSmallPublished)
	if err != nil {
		return nil, err
	}
	v, err := audit.ParseLogKey(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return v, nil
}

// historyTail is how many bytes at the end of the history the counter
// reads to find a line: 16 of the longest lines a ballot of options
// options has (each number at most 19 digits and a space).
func historyTail(options int) int { return 16 * 20 * (2 + options) }

// readHistoryTime returns the time of the history line at size, which is
// among the last lines: the history grows by a line per batch, and the
// checkpoint was read just before.
func (s *Server) readHistoryTime(st *site, size int64) (time.Time, error) {
	name := published.HistoryName(st.name)
	n := historyTail(len(st.settings.Options))
	status, body, err := readPublished(st.lists, name, "bytes=-"+strconv.Itoa(n), n)
	if err != nil {
		return time.Time{}, err
	}
	switch {
	case status == fasthttp.StatusPartialContent && len(body) == n:
		// The last n bytes of a longer file: the first line is cut.
		_, body, _ = bytes.Cut(body, []byte("\n"))
	case status == fasthttp.StatusPartialContent, status == fasthttp.StatusOK:
		// The whole history.
	default:
		return time.Time{}, fmt.Errorf("%s: status %d", name, status)
	}
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		h, err := listline.ParseHistory(lines[i], len(st.settings.Options))
		if err != nil {
			return time.Time{}, fmt.Errorf("%s: %w", name, err)
		}
		if h.Size == size {
			return time.Unix(h.Time, 0).UTC(), nil
		}
		if h.Size < size {
			break
		}
	}
	return time.Time{}, fmt.Errorf("%s: no line at size %d in its last %d bytes", name, size, n)
}

// readPublishedFile reads a whole published file of at most limit bytes.
func readPublishedFile(lists fasthttp.RequestHandler, name string, limit int) ([]byte, error) {
	status, body, err := readPublished(lists, name, "", limit)
	if err != nil {
		return nil, err
	}
	if status != fasthttp.StatusOK {
		return nil, fmt.Errorf("%s: status %d", name, status)
	}
	return body, nil
}

// readPublished GETs the published file name through a campaign's lists
// handler, as a request to the edge would (with a Range header, unless
// rng is ""), and returns the status and the body, which may not exceed
// limit bytes. The handler may be the publisher's own (powvote up) or
// relay to it (ListsFrom).
func readPublished(lists fasthttp.RequestHandler, name, rng string, limit int) (int, []byte, error) {
	var req fasthttp.Request
	req.Header.SetMethod(fasthttp.MethodGet)
	req.SetRequestURI("/" + name)
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, nil, nil)
	lists(&ctx)
	resp := &ctx.Response
	var body []byte
	if r := resp.BodyStream(); r != nil {
		// Streamed (a relayed answer, or a file): read it within
		// counterReadTimeout; closing the stream ends a read in progress.
		stop := time.AfterFunc(counterReadTimeout, func() {
			if c, ok := r.(io.Closer); ok {
				c.Close()
			}
		})
		var err error
		body, err = io.ReadAll(io.LimitReader(r, int64(limit)+1))
		stop.Stop()
		resp.CloseBodyStream()
		if err != nil {
			return 0, nil, fmt.Errorf("%s: %w", name, err)
		}
	} else {
		body = resp.Body()
	}
	if len(body) > limit {
		return 0, nil, fmt.Errorf("%s: over %d bytes", name, limit)
	}
	return resp.StatusCode(), body, nil
}

// counterDoc is the counter's JSON answer.
type counterDoc struct {
	Campaign string `json:"campaign"`
	Votes    int64  `json:"votes"`             // the size of the latest votes checkpoint
	Goal     int64  `json:"goal,omitempty"`    // ?goal=, when given
	Updated  string `json:"updated,omitempty"` // RFC 3339 time of the history line at that size, when known
}

// counterDocument is the JSON answer for reading r.
func counterDocument(campaign string, r *counterReading, q counterQuery) []byte {
	d := counterDoc{Campaign: campaign, Votes: r.votes, Goal: q.goal}
	if !r.updated.IsZero() {
		d.Updated = r.updated.UTC().Format(time.RFC3339)
	}
	b, err := json.Marshal(d)
	if err != nil {
		panic(fmt.Sprintf("edge: counter: %v", err)) // a struct of strings and numbers
	}
	return append(b, '\n')
}

// counterLang is the wording of the badge in one language. The label
// stands before the number, so that no plural form is needed.
type counterLang struct {
	label string // "votes"
	of    string // between the count and the goal, in the title
	group string // the thousands separator
}

var counterLangs = map[string]counterLang{
	"en": {label: "votes", of: "of", group: ","},
	"de": {label: "Stimmen", of: "von", group: "."},
	"pl": {label: "głosy", of: "z", group: "\u00a0"},
}

// groupDigits writes n, not negative, with sep between groups of three
// digits.
func groupDigits(n int64, sep string) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, d := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(d)
	}
	return b.String()
}

// Badge geometry, in pixels: the text band, the bar towards the goal
// under it, and the width a character of the 12 px text takes at most
// (Verdana's digits, the widest of its usual replacements), in tenths.
const (
	badgeBand    = 24
	badgeGap     = 4
	badgeBar     = 6
	badgePad     = 10
	badgeCharW10 = 78
)

// textWidth is the width of s in the badge's font, rounded up.
func textWidth(s string) int { return (utf8.RuneCountInString(s)*badgeCharW10 + 9) / 10 }

// counterBadge is the SVG answer for reading r: a label and the count
// (against the goal, with a bar under them, when there is one).
func counterBadge(campaign string, r *counterReading, q counterQuery) []byte {
	lang := counterLangs[q.lang]
	count := groupDigits(r.votes, lang.group)
	value, title := count, campaign+" – "+lang.label+": "+count
	if q.goal > 0 {
		goal := groupDigits(q.goal, lang.group)
		value += " / " + goal
		title += " " + lang.of + " " + goal
	}
	lw := textWidth(lang.label) + 2*badgePad
	vw := textWidth(value) + 2*badgePad
	w, h := lw+vw, badgeBand
	if q.goal > 0 {
		h += badgeGap + badgeBar
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img">`, w, h, w, h)
	fmt.Fprintf(&b, `<title>%s</title>`, html.EscapeString(title))
	b.WriteString(`<g font-family="Verdana,DejaVu Sans,sans-serif" font-size="12" fill="#fff" text-anchor="middle">`)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" rx="4" fill="#1a7f37"/>`, w, badgeBand)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" rx="4" fill="#3d4450"/>`, lw, badgeBand)
	fmt.Fprintf(&b, `<rect x="%d" width="4" height="%d" fill="#3d4450"/>`, lw-4, badgeBand)
	fmt.Fprintf(&b, `<text x="%d" y="16">%s</text>`, lw/2, html.EscapeString(lang.label))
	fmt.Fprintf(&b, `<text x="%d" y="16">%s</text>`, lw+vw/2, html.EscapeString(value))
	if q.goal > 0 {
		y := badgeBand + badgeGap
		fmt.Fprintf(&b, `<rect y="%d" width="%d" height="%d" rx="3" fill="#d0d7de"/>`, y, w, badgeBar)
		if r.votes > 0 {
			// A start of a campaign shows as a dot, not as nothing.
			filled := max(int64(w)*min(r.votes, q.goal)/q.goal, badgeBar)
			fmt.Fprintf(&b, `<rect y="%d" width="%d" height="%d" rx="3" fill="#1a7f37"/>`, y, filled, badgeBar)
		}
	}
	b.WriteString("</g></svg>\n")
	return []byte(b.String())
}
