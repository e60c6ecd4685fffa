package collector

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/wire"
)

// POST /votes (docs/INTERNAL.md): many votes in one request, so that the
// edge pays the HTTP round trip once per batch rather than once per vote.
// Each vote goes through the one path of POST /vote (Server.vote), and the
// votes of a batch are submitted to the store together, so that they join
// one group commit.
//
// The body is one line per vote, each ending with a line feed:
//
//	<sign> <Auth-Pkey> <Auth-Sig> <Auth-Id> <P-UTC> <P-SIG> <Voter> <Nonce> <Decoys> <Say>
//
// separated by single spaces. <sign> is "s" for a signed receipt or "n"
// for Receipt-Sign: no. Every field but the last is one or more visible
// ASCII bytes (0x21 to 0x7E): the values the edge sends as headers are
// base64, decimal, a voter stamp, hex and the Decoys list, none of which
// holds a space. <Decoys> is "." for no Decoys header ("." is not a
// character of a decoys list). <Say> is the rest of the line, one or more
// bytes, any but carriage return and line feed: an option text may hold
// spaces, and no header value holds either of those.
//
// The answer is 200 with one line per vote, in the order of the request:
//
//	<status>                                      a refusal or a failure
//	<status> TAB <sig> TAB <Receipt01> ... TAB <ReceiptNN>    a 2xx
//
// <status> is the code POST /vote would answer that vote with, <sig> the
// Receipt-Sig value or "-" when the vote asked for no signature, then the
// receipt lines in order. Receipt lines are voter stamps (or "-") and
// encoded option texts (wire.EncodeOption), printable ASCII without a tab.

// Limits of a batch: wire.MaxBatchVotes and wire.MaxBatchBody, the edge's
// too. The edge sends at most edge.Config.CollectorBatchMax (default 128)
// votes in one.
const (
	maxBatchVotes = wire.MaxBatchVotes
	maxBatchBody  = wire.MaxBatchBody
	noDecoys      = wire.NoDecoys
)

// batchFields is how many fields a line of a batch has.
const batchFields = 10

// errBatchTooLarge refuses a body over maxBatchBody.
var errBatchTooLarge = fmt.Errorf("votes: body over %d bytes", maxBatchBody)

// parseBatch reads the body of POST /votes. The fields point into body.
// Any error refuses the whole batch: nothing of it is recorded.
func parseBatch(body []byte) ([]voteFields, error) {
	switch {
	case len(body) > maxBatchBody:
		return nil, errBatchTooLarge
	case len(body) == 0:
		return nil, errors.New("votes: no vote")
	case body[len(body)-1] != '\n':
		return nil, errors.New("votes: the last line does not end with a line feed")
	}
	n := bytes.Count(body, []byte{'\n'})
	if n > maxBatchVotes {
		return nil, fmt.Errorf("votes: %d votes, more than %d", n, maxBatchVotes)
	}
	out := make([]voteFields, 0, n)
	for i := 1; len(body) > 0; i++ {
		end := bytes.IndexByte(body, '\n')
		f, err := parseVoteLine(body[:end])
		if err != nil {
			return nil, fmt.Errorf("votes: line %d: %w", i, err)
		}
		out = append(out, f)
		body = body[end+1:]
	}
	return out, nil
}

// parseVoteLine reads one line of a batch, without its line feed.
func parseVoteLine(l []byte) (voteFields, error) {
	var tok [batchFields - 1][]byte
	for k := range tok {
		i := bytes.IndexByte(l, ' ')
		if i < 0 {
			return voteFields{}, fmt.Errorf("%d fields, want %d", k+1, batchFields)
		}
		tok[k], l = l[:i], l[i+1:]
		if len(tok[k]) == 0 {
			return voteFields{}, fmt.Errorf("field %d is empty", k+1)
		}
		for _, c := range tok[k] {
			if c < 0x21 || c > 0x7e {
				return voteFields{}, fmt.Errorf("field %d holds byte %#02x, want visible ASCII", k+1, c)
			}
		}
	}
	if len(l) == 0 {
		return voteFields{}, errors.New("no Say")
	}
	if bytes.IndexByte(l, '\r') >= 0 {
		return voteFields{}, errors.New("the Say field holds a carriage return")
	}
	f := voteFields{
		authPkey: tok[1], authSig: tok[2], authID: tok[3], putc: tok[4], psig: tok[5],
		voter: tok[6], nonce: tok[7], decoys: tok[8], say: l,
	}
	switch string(tok[0]) {
	case "s":
	case "n":
		f.noSign = true
	default:
		return voteFields{}, errors.New(`the first field is neither "s" nor "n"`)
	}
	if string(f.decoys) == noDecoys {
		f.decoys = nil
	}
	return f, nil
}

// handleVotes answers POST /votes.
func (s *Server) handleVotes(ctx *fasthttp.RequestCtx) {
	fields, err := parseBatch(ctx.PostBody())
	if err != nil {
		code := fasthttp.StatusBadRequest
		if errors.Is(err, errBatchTooLarge) {
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
		b = appendAnswer(b, a.status, a.receipt)
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBody(b)
}

// batchAnswer is the outcome of one vote of a batch.
type batchAnswer struct {
	status  int
	receipt *receipt // for a 2xx
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
func (s *Server) voteBatch(fields []voteFields) []batchAnswer {
	out := make([]batchAnswer, len(fields))
	done := make([]chan struct{}, len(fields))
	last := make(map[string]int, 3*len(fields))
	var wg sync.WaitGroup
	for i := range fields {
		f := &fields[i]
		done[i] = make(chan struct{})
		var after []chan struct{}
		for _, key := range [...]string{
			"m" + string(f.authPkey) + " " + string(f.authID),
			"n" + string(bytes.ToLower(f.nonce)),
			"v" + string(f.voter),
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
			out[i] = batchAnswer{s.settle(err), r}
		})
	}
	wg.Wait()
	return out
}

// appendAnswer appends the answer line of one vote of a batch.
func appendAnswer(b []byte, status int, r *receipt) []byte {
	b = strconv.AppendInt(b, int64(status), 10)
	if status/100 == 2 && r != nil {
		sig := r.sig
		if sig == "" {
			sig = "-"
		}
		b = append(b, '\t')
		b = append(b, sig...)
		for _, l := range r.lines {
			b = append(b, '\t')
			b = append(b, l...)
		}
	}
	return append(b, '\n')
}

// bodyLimit raises the server's 4 KiB limit on a request body to
// maxBatchBody for POST /votes from a caller who may send it. It runs when
// the headers are read, before the body: with plain HTTP, only a Pass of
// the edge gets the larger limit, so that a stranger cannot make the
// instance read a megabyte per connection; with TLS, the handshake has
// already refused anyone without a certificate of the campaign.
func (s *Server) bodyLimit(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	if !s.mayBatch(h) {
		return fasthttp.RequestConfig{}
	}
	return fasthttp.RequestConfig{MaxRequestBodySize: maxBatchBody}
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
		ctx.Error(errBatchTooLarge.Error()+"\n", fasthttp.StatusRequestEntityTooLarge)
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
