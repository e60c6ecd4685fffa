package collector

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/collector/internal/store"
	"github.com/powvote/powvote/listline"
)

// syncBatch is the most pairs one /sync answer carries.
const syncBatch = 2000

// pullTimeout bounds one pull from the twin; Run's context ends it sooner.
// maxSyncBody bounds what a pull reads: syncBatch pairs take about 1 MB.
const (
	pullTimeout = 30 * time.Second
	maxSyncBody = 64 << 20
)

// handleSync answers the twin's pull (docs/INTERNAL.md): own-accepted pairs
// after the twin's cursor, which also confirms everything up to it. The
// twin's Last-Seq header goes with the confirmation: links are dropped
// only once this instance has applied the twin's votes up to it
// (store.Confirm). A request without it confirms, but lets no link go.
func (s *Server) handleSync(ctx *fasthttp.RequestCtx) {
	args := ctx.QueryArgs()
	after, err1 := strconv.ParseUint(string(args.Peek("after")), 10, 64)
	limit, err2 := strconv.Atoi(string(args.Peek("limit")))
	if err1 != nil || err2 != nil || limit < 1 {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		return
	}
	twinLast := store.TwinLastUnknown
	if v := ctx.Request.Header.Peek("Last-Seq"); len(v) > 0 {
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			ctx.SetStatusCode(fasthttp.StatusBadRequest)
			return
		}
		twinLast = n
	}
	limit = min(limit, syncBatch)
	if err := s.st.Confirm(after, twinLast); err != nil {
		s.log.Error("confirm twin cursor", "err", err)
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		return
	}
	pairs, last, err := s.st.Links(after, limit)
	if err != nil {
		s.log.Error("read links", "err", err)
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.Response.Header.Set("Last-Seq", strconv.FormatUint(last, 10))
	ctx.SetContentType("text/plain; charset=utf-8")
	var b bytes.Buffer
	for _, p := range pairs {
		b.WriteString(pairLine(p))
	}
	ctx.SetBody(b.Bytes())
}

// pairLine writes a pair as a /sync line (docs/INTERNAL.md):
//
//	<seq> <voter line> r<given>=<decoys> <vote line>\n
//
// with given 1 or 0 and decoys those of store.Receipt, possibly empty.
func pairLine(p store.Pair) string {
	given := "0"
	if p.Receipt.Given {
		given = "1"
	}
	return fmt.Sprintf("%d %s r%s=%s %s\n", p.Seq, p.Voter.Line(), given, p.Receipt.Decoys, p.Vote.Line())
}

// parsePairs reads a /sync body.
func parsePairs(body []byte) ([]store.Pair, error) {
	var out []store.Pair
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for n := 1; sc.Scan(); n++ {
		f := strings.SplitN(sc.Text(), " ", 6)
		if len(f) != 6 {
			return nil, fmt.Errorf("collector: sync line %d: too few fields", n)
		}
		seq, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("collector: sync line %d: sequence: %w", n, err)
		}
		voter, err := store.ParseVoterLine(strings.Join(f[1:4], " "))
		if err != nil {
			return nil, fmt.Errorf("collector: sync line %d: %w", n, err)
		}
		var rc store.Receipt
		switch {
		case strings.HasPrefix(f[4], "r0="):
		case strings.HasPrefix(f[4], "r1="):
			rc.Given = true
		default:
			return nil, fmt.Errorf("collector: sync line %d: receipt field %q: want r0= or r1=", n, f[4])
		}
		rc.Decoys = f[4][3:]
		if err := store.CheckReceipt(rc); err != nil {
			return nil, fmt.Errorf("collector: sync line %d: %w", n, err)
		}
		vote, err := store.ParseVoteLine(f[5])
		if err != nil {
			return nil, fmt.Errorf("collector: sync line %d: %w", n, err)
		}
		out = append(out, store.Pair{Seq: seq, Voter: voter, Vote: vote, Receipt: rc})
	}
	return out, sc.Err()
}

// pull fetches and applies one batch from the twin. It reports whether the
// twin has more. It ends when ctx does.
func (s *Server) pull(ctx context.Context) (more bool, err error) {
	// The cursor first, then the last own seq: the twin takes the latter
	// as a bound on the own votes this instance had accepted before it
	// applied the pairs the cursor confirms, so it must not be read
	// before the cursor (store.Confirm).
	after := s.st.TwinCursor()
	own := s.st.LastSeq()
	ctx, cancel := context.WithTimeout(ctx, pullTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		s.twinURL+"/sync?after="+strconv.FormatUint(after, 10)+"&limit="+strconv.Itoa(syncBatch), nil)
	if err != nil {
		return false, fmt.Errorf("collector: pull from twin %s: %w", redact(s.cfg.Twin), err)
	}
	if pass := s.cfg.Link.Pass(); len(pass) > 0 {
		req.Header.Set("Pass", pass)
	}
	req.Header.Set("Last-Seq", strconv.FormatUint(own, 10))
	resp, err := s.twin.Do(req)
	if err != nil {
		// net/http leaves a password out of the URL it quotes.
		return false, fmt.Errorf("collector: pull from twin: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSyncBody+1))
	if err != nil {
		return false, fmt.Errorf("collector: pull from twin %s: %w", redact(s.cfg.Twin), err)
	}
	if len(body) > maxSyncBody {
		return false, fmt.Errorf("collector: pull from twin %s: answer longer than %d bytes", redact(s.cfg.Twin), maxSyncBody)
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("collector: pull from twin %s: status %d", redact(s.cfg.Twin), resp.StatusCode)
	}
	last, err := strconv.ParseUint(resp.Header.Get("Last-Seq"), 10, 64)
	if err != nil {
		return false, fmt.Errorf("collector: twin's Last-Seq: %w", err)
	}
	pairs, err := parsePairs(body)
	if err != nil {
		return false, err
	}
	if len(pairs) == 0 {
		s.notePull(last, after)
		return false, nil
	}
	if err := s.st.ApplyTwin(pairs, pairs[len(pairs)-1].Seq); err != nil {
		return false, fmt.Errorf("collector: apply twin's votes: %w", err)
	}
	s.stats.syncApplied.Add(len(pairs))
	s.notePull(last, pairs[len(pairs)-1].Seq)
	return pairs[len(pairs)-1].Seq < last, nil
}

// catchUp pulls from the twin until it has nothing more, or ctx ends.
func (s *Server) catchUp(ctx context.Context) error {
	for {
		more, err := s.pull(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			s.stats.pullErrors.Inc()
			select {
			case <-ctx.Done():
				return err
			case <-time.After(200 * time.Millisecond):
				continue
			}
		}
		if !more {
			return nil
		}
	}
}

// syncLoop keeps pulling from the twin while the instance runs, so both end
// up with the same votes whatever the edge managed to deliver.
func (s *Server) syncLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.SyncInterval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for {
			more, err := s.pull(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.stats.pullErrors.Inc()
				}
				if !failing && ctx.Err() == nil {
					s.log.Warn("twin sync failing", "err", err)
				}
				failing = true
				break
			}
			if failing {
				s.log.Info("twin sync working again")
				failing = false
			}
			if !more {
				break
			}
		}
	}
}

// redact drops credentials from a URL before it reaches a log.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(twin)"
	}
	p.User = nil
	return p.String()
}

// handleVoteRecords serves vote log records for the publisher and the edge:
// /records/votes?from=N&limit=M, one record a line, "<index> <record>"
// (listline.AppendIndexed: a vote line, or a retraction bound to the vote
// that won), with headers Next (the index to ask for next) and Last (the
// index of the last record, 0 for an empty log).
func (s *Server) handleVoteRecords(ctx *fasthttp.RequestCtx) {
	args := ctx.QueryArgs()
	from, err1 := strconv.ParseUint(string(args.Peek("from")), 10, 64)
	limit, err2 := strconv.Atoi(string(args.Peek("limit")))
	if err1 != nil || err2 != nil || limit < 1 {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		return
	}
	// Last first: records up to it are durable, so the page below may hold
	// more but never fewer. Readers that look for a starting point (the
	// edge, docs/INTERNAL.md) need the log's length.
	last := s.st.LastIndex()
	recs, next, err := s.st.VoteRecords(from, min(limit, 10000))
	if err != nil {
		s.log.Error("read vote records", "err", err)
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		return
	}
	var b []byte
	for _, r := range recs {
		b = append(listline.AppendIndexed(b, r.Index, r.Record), '\n')
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.Response.Header.Set("Log-Id", s.st.LogID())
	ctx.Response.Header.Set("Next", strconv.FormatUint(next, 10))
	ctx.Response.Header.Set("Last", strconv.FormatUint(last, 10))
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBody(b)
}

// handleVoterRecords serves the voter table in key order:
// /records/voters?after=<base64url key or empty>&limit=M, one voter line a
// line; or, with since=<cursor>, the voters added since the cursor, in
// sealed sets (store.VotersSince), with the next cursor in header Next.
func (s *Server) handleVoterRecords(ctx *fasthttp.RequestCtx) {
	args := ctx.QueryArgs()
	if args.Has("since") {
		s.handleVotersSince(ctx, string(args.Peek("since")))
		return
	}
	limit, err := strconv.Atoi(string(args.Peek("limit")))
	if err != nil || limit < 1 {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		return
	}
	after, err := base64.RawURLEncoding.DecodeString(string(args.Peek("after")))
	if err != nil {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		return
	}
	voters, err := s.st.VoterRecords(after, min(limit, 10000))
	if err != nil {
		s.log.Error("read voter records", "err", err)
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		return
	}
	s.writeVoters(ctx, voters)
}

// handleVotersSince answers /records/voters?since=<cursor>: 400 for a
// cursor not spelt as one, 410 for one this opening of the store does not
// know (the reader then reads the table in full, after taking a new
// cursor with since= empty).
func (s *Server) handleVotersSince(ctx *fasthttp.RequestCtx, cursor string) {
	if !store.ValidCursor(cursor) {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		return
	}
	voters, next, err := s.st.VotersSince(cursor)
	if errors.Is(err, store.ErrCursorGone) {
		ctx.SetStatusCode(fasthttp.StatusGone)
		return
	}
	if err != nil {
		s.log.Error("read new voters", "err", err)
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		return
	}
	ctx.Response.Header.Set("Next", next)
	s.writeVoters(ctx, voters)
}

// writeVoters answers 200 with one voter line a line.
func (s *Server) writeVoters(ctx *fasthttp.RequestCtx, voters []store.Voter) {
	var b bytes.Buffer
	for _, v := range voters {
		b.WriteString(v.Line())
		b.WriteByte('\n')
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.Response.Header.Set("Log-Id", s.st.LogID())
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBody(b.Bytes())
}
