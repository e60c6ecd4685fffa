package edge

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync/atomic"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/wire"
)

// counter names one of the edge's counters. The set is fixed, so that
// metric labels never come from voters, addresses or paths.
type counter int

const (
	// Rejections: the edge answers with its own code. Each is also the
	// reason of a rejectError.
	badRequest    counter = iota // 400: malformed request, unknown campaign, path or method
	lowWork                      // 489: proof of work below the threshold
	notGenuine                   // 488: P-SIG is not a UTC-SIGN signature of P-UTC
	badVoter                     // 487: the voter stamp does not verify
	heldElsewhere                // 481: another pair holds a vote with this nonce (seen.go)
	stampUsed                    // 486: a recorded vote with another nonce carries this voter stamp (seen.go)
	badTime                      // 485: P-UTC outside the campaign, ahead of the clock or stale; a collector's code (vote.go)
	badOption                    // 482: Say is not on the ballot, under a mandate a collector would pass; a collector's code (vote.go)
	nonceUsed                    // 480: the nonce's cached answer belongs to another vote (vote.go)
	noPlatform                   // 503 to GET /stamp: no collector gave a platform stamp
	noCollector                  // 503 to a vote: neither instance of the pair answered
	internal                     // 503: a handler error that is not a rejection (a bug)

	// Answers that are not rejections.
	listServed   // 204 to GET /list
	stampServed  // 204 to GET /stamp
	preflights   // 204 to a CORS preflight
	strayWorkers // 200 with the removing worker to a worker's script fetch elsewhere than the app's (static.go)
	replays      // a vote answered from the nonce cache
	accepted     // a collector's 2xx relayed
	relayed481   // a collector's 481 relayed
	relayed482
	relayed483
	relayed484
	relayed485
	relayed486

	// Traffic to the collectors.
	collectorRequests // every request sent to a collector
	stampFetches      // of which GET /stamp
	voteBatches       // of which POST /votes (batch.go)

	// Genuine platform stamps (platform.go).
	poolSigned // signatures the collectors made for this edge's pools
	poolSpent  // valid booth codes answered with a decoy: the pool was spent

	numCounters
)

var counterNames = [numCounters]string{
	badRequest:        "bad_request",
	lowWork:           "low_work",
	notGenuine:        "not_genuine",
	badVoter:          "bad_voter",
	heldElsewhere:     "held_elsewhere",
	stampUsed:         "stamp_used",
	badTime:           "bad_time",
	badOption:         "bad_option",
	nonceUsed:         "nonce_used",
	noPlatform:        "no_platform",
	noCollector:       "no_collector",
	internal:          "internal",
	listServed:        "list",
	stampServed:       "stamp",
	preflights:        "preflight",
	strayWorkers:      "stray_worker",
	replays:           "replay",
	accepted:          "accepted",
	relayed481:        "relayed_481",
	relayed482:        "relayed_482",
	relayed483:        "relayed_483",
	relayed484:        "relayed_484",
	relayed485:        "relayed_485",
	relayed486:        "relayed_486",
	collectorRequests: "collector_requests",
	stampFetches:      "stamp_fetches",
	voteBatches:       "vote_batches",
	poolSigned:        "stamp_pool_signed",
	poolSpent:         "stamp_pool_spent",
}

// rejectStatus is the code the edge answers a rejection with (PROTOCOL.md
// 5.3, package wire).
var rejectStatus = [...]int{
	badRequest:    fasthttp.StatusBadRequest,
	lowWork:       wire.StatusLowWork,
	notGenuine:    wire.StatusNotGenuine,
	badVoter:      wire.StatusBadVoterStamp,
	heldElsewhere: wire.StatusAlreadyVoted,
	stampUsed:     wire.StatusStampUsed,
	badTime:       wire.StatusOutsideCampaign,
	badOption:     wire.StatusNotOnBallot,
	nonceUsed:     wire.StatusNonceUsed,
	noPlatform:    fasthttp.StatusServiceUnavailable,
	noCollector:   fasthttp.StatusServiceUnavailable,
	internal:      fasthttp.StatusServiceUnavailable,
}

// counters are the edge's counters; safe for concurrent use.
type counters [numCounters]atomic.Uint64

func (c *counters) add(n counter) { c[n].Add(1) }

// Stats returns the value of every counter by name. The names are fixed:
//
//   - rejections by reason: bad_request (400), low_work (489), not_genuine
//     (488), bad_voter (487), held_elsewhere (481: another pair holds a
//     vote with this nonce), stamp_used (486: a recorded vote with another
//     nonce carries the voter stamp), bad_time (485: the stamp is outside
//     the campaign), bad_option (482: the option is not on the ballot),
//     nonce_used (480: the nonce was answered to another vote),
//     no_platform (503 to /stamp), no_collector (503 to a vote), internal
//     (503, a bug);
//   - answers: list, stamp, preflight, stray_worker (the removing
//     worker served to a service worker's script fetch for a path that is
//     not the voter app's worker: a browser holds a worker this edge never
//     served, static.go), replay (from the nonce cache),
//     accepted (a collector's 2xx), relayed_481 .. relayed_486 (the
//     collectors' verdicts; bad_time and bad_option are the edge's own
//     485 and 482, given before any collector sees the vote, and
//     relayed_485 and relayed_482 stay at zero while edge and collectors
//     agree on the clock and the campaign);
//   - collector_requests (every request sent to a collector),
//     stamp_fetches (of which GET /stamp) and vote_batches (of which POST
//     /votes, each carrying one or more votes);
//   - stamp_pool_signed, the genuine stamps the collectors signed for
//     this edge, and stamp_pool_spent, the valid booth codes that found
//     the pool spent and got a decoy (platform.go). The latter is for the
//     operator's eyes: it tells valid codes from wrong ones in bulk.
//   - conns_refused and conns_refused_per_ip, the connections answered
//     503 at the connection limit and at the per-address limit, and
//     conns_closed_idle, the idle connections closed to make room for a
//     new one (limit.go).
//
// A request that shares the flight of the same vote is counted like that
// one's answer, one that shares the flight of another vote as nonce_used;
// only answers served from the nonce cache count as replay.
func (s *Server) Stats() map[string]uint64 {
	m := make(map[string]uint64, numCounters+3)
	for i := range s.counters {
		m[counterNames[i]] = s.counters[i].Load()
	}
	s.addConnStats(m)
	return m
}

// A rejectError is a handler's refusal: the reason picks the status code
// and the counter, the wrapped error is the cause for the log.
type rejectError struct {
	reason counter
	err    error
}

func (e *rejectError) Error() string { return counterNames[e.reason] + ": " + e.err.Error() }
func (e *rejectError) Unwrap() error { return e.err }

func reject(r counter, err error) error { return &rejectError{reason: r, err: err} }

// reasonOf returns the reason of a handler error; an error that is not a
// rejection is a bug, answered with 503 so that clients retry.
func reasonOf(err error) counter {
	// A walk down the chain rather than errors.As, whose target would
	// escape to the heap on every refusal.
	for e := err; e != nil; e = errors.Unwrap(e) {
		if rj, ok := e.(*rejectError); ok && rj.reason < counter(len(rejectStatus)) {
			return rj.reason
		}
	}
	return internal
}

// answer is a complete answer with an empty body: what the nonce cache
// keeps and replays byte for byte. Immutable once built.
type answer struct {
	status int
	header [][2]string // in order
	signed bool        // a receipt with its Receipt-Sig
}

func (a *answer) write(ctx *fasthttp.RequestCtx) {
	resetResponse(ctx)
	ctx.SetStatusCode(a.status)
	for _, h := range a.header {
		ctx.Response.Header.Set(h[0], h[1])
	}
}

// resetResponse drops whatever a handler had set, keeping header names as
// written.
func resetResponse(ctx *fasthttp.RequestCtx) {
	ctx.Response.Reset()
	ctx.Response.Header.DisableNormalizing()
}

// final reports whether a rejection is a verdict on a vote, which the same
// request always gets again: its answer carries the nonce cache's max-age.
// 400 is not (no valid nonce stands behind it) and 503 is not (the voter's
// software retries it). heldElsewhere is not either: it refuses this
// mandate with this nonce, and were it cached under the nonce, the voter's
// own request with that nonce would find the slot taken (480) instead of
// its receipt. stampUsed is final: the nonce it is cached under is one no
// recorded vote has (the recorded vote with the stamp has another), so it
// takes no voter's slot, and the stamp stays used. badTime and badOption
// are final and kept like the collectors' 485 and 482 that the edge
// relays, which they stand in for: the same vote gets the same bytes
// whichever of the two answered it. nonceUsed is not: it depends on which
// request with the nonce came first, and it never replaces the cached
// answer.
func final(r counter) bool {
	return r == lowWork || r == notGenuine || r == badVoter || r == stampUsed || r == badTime || r == badOption
}

// cacheable reports whether a rejection is kept in the nonce cache under its
// nonce: a final one, except 489, which is answered before the cache, the
// same way every time (see Server.vote).
func cacheable(r counter) bool { return final(r) && r != lowWork }

// buildAnswers makes the fixed answers: one per rejection reason, one per
// collector code the edge relays.
func (s *Server) buildAnswers() {
	s.maxAge = [2][2]string{
		{"Cache-Control", "max-age=" + strconv.Itoa(int(s.cfg.NonceCacheTTL.Seconds()))},
		// The edge gives a kept answer again only to the same vote
		// (vote.go); a shared cache between it and voters must not give
		// it to anyone who names the URL either.
		{"Vary", voteVary},
	}
	for r := range counter(len(rejectStatus)) {
		a := &answer{status: rejectStatus[r]}
		if final(r) {
			a.header = s.maxAge[:]
		}
		s.errAnswers[r] = a
	}
	for i := range s.verdicts {
		s.verdicts[i] = &answer{status: firstVerdict + i, header: s.maxAge[:]}
	}
}

// voteVary names the headers a vote consists of: the answer to a vote
// depends on every one of them.
const voteVary = "Auth-Pkey, Auth-Sig, Auth-Id, P-UTC, P-SIG, Voter, Say"

// fail is the one place where a handler error becomes an answer: the fixed
// answer of its reason, with an empty body, counted by reason. The cause
// goes to the log at debug level: refusals are the edge's daily bread.
func (s *Server) fail(ctx *fasthttp.RequestCtx, err error) {
	r := reasonOf(err)
	if r == internal {
		s.log.Error("edge: unclassified error", "err", err)
	} else if s.log.Enabled(context.Background(), slog.LevelDebug) {
		// Checked first: the arguments would be built for nothing at the
		// usual levels, on every refused request.
		s.log.Debug("edge: refused", "reason", counterNames[r], "cause", err)
	}
	s.counters.add(r)
	s.errAnswers[r].write(ctx)
}
