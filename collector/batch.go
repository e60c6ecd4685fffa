package collector

import (
	"bytes"
	"errors"
	"net"
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/wire"
)

// POST /votes (docs/INTERNAL.md): many votes in one request, so that the
// edge pays the HTTP round trip once per batch rather than once per vote.
// Each vote goes through the one path of POST /vote (Server.vote), and the
// votes of a batch are submitted to the store together, so that they join
// one group commit. The format of the body and of the answer is package
// wire's (wire.ParseBatch, wire.AppendBatchAnswer), the edge's too, and so
// are its limits, wire.MaxBatchVotes and wire.MaxBatchBody. The edge sends
// at most edge.Config.CollectorBatchMax (default 128) votes in one.

// handleVotes answers POST /votes.
func (s *Server) handleVotes(ctx *fasthttp.RequestCtx) {
	fields, err := wire.ParseBatch(ctx.PostBody())
	if err != nil {
		code := fasthttp.StatusBadRequest
		if errors.Is(err, wire.ErrBatchTooLarge) {
			code = fasthttp.StatusRequestEntityTooLarge
		}
		s.stats.badBatches.Inc()
		ctx.SetStatusCode(code)
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString(err.Error() + "\n")
		return
	}
	answers := s.voteBatch(fields)
	s.stats.batches.Inc()
	var b []byte
	for _, a := range answers {
		b = wire.AppendBatchAnswer(b, a)
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBody(b)
}

// voteBatch runs every vote of a batch through Server.vote at once, so
// that they join one group commit, and returns their outcomes in order.
//
// A vote that shares its mandate, its nonce or its voter stamp with an
// earlier vote of the batch waits for that one's outcome before it
// starts: the store decides between two such votes by the order it takes
// them in, and the batch must answer as the same votes sent one by one to
// POST /vote would be, the earlier first. Votes of different voters never
// meet there, and wait for nothing.
func (s *Server) voteBatch(fields []voteFields) []wire.BatchAnswer {
	out := make([]wire.BatchAnswer, len(fields))
	done := make([]chan struct{}, len(fields))
	last := make(map[string]int, 3*len(fields))
	var wg sync.WaitGroup
	for i := range fields {
		f := &fields[i]
		done[i] = make(chan struct{})
		var after []chan struct{}
		for _, key := range [...]string{
			"m" + string(f.AuthPkey) + " " + string(f.AuthID),
			"n" + string(bytes.ToLower(f.Nonce)),
			"v" + string(f.Voter),
		} {
			if j, ok := last[key]; ok {
				after = append(after, done[j])
			}
			last[key] = i
		}
		wg.Go(func() {
			defer close(done[i])
			for _, d := range after {
				<-d
			}
			r, err := s.vote(f)
			out[i] = wire.BatchAnswer{Status: s.settle(err)}
			if r != nil {
				out[i].Sig, out[i].Lines = r.sig, r.lines
			}
		})
	}
	wg.Wait()
	return out
}

// bodyLimit raises the server's 4 KiB limit on a request body to
// wire.MaxBatchBody for POST /votes from a caller who may send it. It runs when
// the headers are read, before the body: with plain HTTP, only a Pass of
// the edge gets the larger limit, so that a stranger cannot make the
// instance read a megabyte per connection; with TLS, the handshake has
// already refused anyone without a certificate of the campaign.
func (s *Server) bodyLimit(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	if !s.mayBatch(h) {
		return fasthttp.RequestConfig{}
	}
	return fasthttp.RequestConfig{MaxRequestBodySize: wire.MaxBatchBody}
}

// mayBatch reports whether a request is POST /votes from a caller who may
// send one: any caller with TLS, the edge's Pass with plain HTTP.
func (s *Server) mayBatch(h *fasthttp.RequestHeader) bool {
	if !bytes.Equal(h.Method(), []byte(fasthttp.MethodPost)) || !bytes.Equal(h.RequestURI(), []byte("/votes")) {
		return false
	}
	if s.cfg.Link.Plain() {
		caller, err := s.cfg.Link.Caller(nil, h.Peek("Pass"))
		return err == nil && caller.Role == string(campaign.RoleEdge)
	}
	return true
}

// readError answers a request the server could not read: 413 with the
// reason for a batch of votes over its limit, fasthttp's own answers
// otherwise (400 for any other body over the limit).
func (s *Server) readError(ctx *fasthttp.RequestCtx, err error) {
	if errors.Is(err, fasthttp.ErrBodyTooLarge) && s.mayBatch(&ctx.Request.Header) {
		s.stats.badBatches.Inc()
		ctx.Error(wire.ErrBatchTooLarge.Error()+"\n", fasthttp.StatusRequestEntityTooLarge)
		return
	}
	// fasthttp's answers, which its ErrorHandler replaces.
	var small *fasthttp.ErrSmallBuffer
	var netErr *net.OpError
	switch {
	case errors.As(err, &small):
		ctx.Error("Too big request header", fasthttp.StatusRequestHeaderFieldsTooLarge)
	case errors.As(err, &netErr) && netErr.Timeout():
		ctx.Error("Request timeout", fasthttp.StatusRequestTimeout)
	default:
		ctx.Error("Error when parsing request", fasthttp.StatusBadRequest)
	}
}
