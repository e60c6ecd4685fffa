package edge

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/pow"
	"github.com/powvote/powvote/stamp"
	"github.com/powvote/powvote/wire"
)

// GET /<nonce> (PROTOCOL.md 5.3). The checks run in the protocol's order,
// cheapest and most common first:
//
//  1. the path and headers are well formed, or 400 (never cached: a
//     malformed request stands for no valid nonce);
//  2. an answer given to this nonce in the last NonceCacheTTL is given
//     again, byte for byte, to the same vote, and nothing else happens;
//     any other request with that nonce gets 480, without a receipt;
//     concurrent requests with one nonce share one flight, so that one of
//     them goes on, and the others get its answer if they are the same
//     vote and 480 if they are not;
//  3. the proof of work, or 489;
//  4. P-SIG is a UTC-SIGN signature of P-UTC, or 488;
//  5. the voter stamp's MAC, or 487;
//  6. the voter stamp is not recorded with another nonce, or 486; a vote
//     with this stamp and nonce is not recorded by another pair, or 481
//     (seen.go);
//  7. P-UTC is inside the campaign, or 485: not before its start, not
//     after its end, at most futureSkew ahead of the edge's clock and at
//     most the campaign's maximum stamp age old (inCampaign);
//  8. Say is an option of the ballot, byte for byte once decoded, or 482;
//     but only for a mandate that would pass the collectors' 484 and 483
//     (a key of the campaign's authorities whose signature over Auth-Id
//     verifies): any other goes on, and the collectors answer 484 or 483,
//     as PROTOCOL.md orders them (answerable);
//  9. the vote goes to both instances of the mandate's pair; the first 2xx
//     in pair order wins, else the first 48x, else 503.
//
// Steps 7 and 8 are the collectors' first checks, which they keep: the edge
// answers them itself, with the answer a collector would give, so that a
// collector is never handed a complete mandate with a vote it will refuse
// for its time or its option, a mandate it could cast later with another
// vote. A mandate reaches a collector only with a vote that the collector
// records, or refuses as 481, 483, 484 or 486 (or 485, for a stamp near a
// bound of the window, when the collector's clock and the edge's differ).
//
// Every answer from step 3 on, except 489, 481 from step 6 and 503, is
// cached under the nonce with Cache-Control: max-age=300, so a retried vote
// gets its answer again and a replayed one never reaches a collector.
//
// The same vote is the same nonce and the same values, byte for byte, of
// every header the vote consists of: Auth-Pkey, Auth-Sig, Auth-Id, P-UTC,
// P-SIG, Voter and Say. A cached answer is kept with a SHA-256 digest of
// those values (voteDigest) and given only to a request with the same
// digest. Nonces are public, on every line of the votes list, and a
// receipt carries the voter's own stamp against the chosen option: were
// the answer given to anyone who names the nonce, a coercer holding a
// voter's receipt would replay the nonce of each of its stamps and find
// the voter's own line, the one whose cached receipt is the voter's
// (PROTOCOL.md 5.4). A request with the nonce and other values is refused
// with 480: it is not forwarded, does not replace the cached answer, and
// its own values decide nothing else. The voter's software retries with
// the very same request, which gets the same bytes.

// The collector codes the edge relays as they are: 481..486, verdicts on
// the vote (PROTOCOL.md 5.3, docs/EXTENSIONS.md).
const (
	firstVerdict = wire.StatusAlreadyVoted
	numVerdicts  = wire.StatusStampUsed - firstVerdict + 1
)

// Sizes of the mandate parts (PROTOCOL.md 3).
const (
	authPkeyLen = ed25519.PublicKeySize // 32
	authSigLen  = ed25519.SignatureSize // 64
	authIDLen   = 24
)

// vote is a vote request that passed step 1. The header values are kept as
// received: they go to the collectors unchanged.
type vote struct {
	nonce    []byte // raw
	nonceHex string // lower case, for the collectors' Nonce header

	authPkey, authSig, authID string // base64, as received
	pkey                      [authPkeyLen]byte
	sig                       [authSigLen]byte
	id                        [authIDLen]byte

	putc   string
	putcAt int64  // putc, read
	psig64 string // as received
	psig   [sigLen]byte
	voter  string
	sayRaw string // as received, percent-encoded if it was
	say    string // decoded: what the proof of work covers
	decoys string // the receipt's decoys, for both instances (decoys.go)
}

// nonceShaped reports whether path is "/" and 16 to 64 hex digits, an even
// number of them, in either case.
func nonceShaped(path []byte) bool {
	n := len(path) - 1
	if n < 2*pow.MinNonce || n > 2*pow.MaxNonce || n%2 != 0 || path[0] != '/' {
		return false
	}
	for _, c := range path[1:] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// headerError names a vote header that is missing or does not decode. The
// value is not quoted: the log needs the reason, not the voter's data.
type headerError struct {
	name, want string
}

func (e *headerError) Error() string {
	return fmt.Sprintf("header %s missing or not %s", e.name, e.want)
}

// parseVote reads a vote request whose path is nonce-shaped into v. The
// header values are checked as the request holds them, then copied into
// one string of which each string field of v is a part: one allocation for
// them all, where a string each made seven, paid by every junk vote too.
func parseVote(ctx *fasthttp.RequestCtx, v *vote) error {
	path := ctx.Path()
	v.nonce = make([]byte, (len(path)-1)/2)
	if _, err := hex.Decode(v.nonce, path[1:]); err != nil {
		return fmt.Errorf("nonce: %w", err) // unreachable: the route checked the digits
	}

	h := &ctx.Request.Header
	pkey, sig, id, psig := h.Peek("Auth-Pkey"), h.Peek("Auth-Sig"), h.Peek("Auth-Id"), h.Peek("P-SIG")
	// The names apart from the slices into v: an error that names a
	// header must not move v to the heap.
	names := [...]string{"Auth-Pkey", "Auth-Sig", "Auth-Id", "P-SIG"}
	for i, f := range [...]struct{ dst, src []byte }{
		{v.pkey[:], pkey}, {v.sig[:], sig}, {v.id[:], id}, {v.psig[:], psig},
	} {
		if !decodeB64(f.dst, f.src) {
			return &headerError{names[i], fmt.Sprintf("base64 of %d bytes", len(f.dst))}
		}
	}
	putc, voter, say := h.Peek("P-UTC"), h.Peek("Voter"), h.Peek("Say")
	var err error
	if v.putcAt, err = stamp.ParsePUTC(string(putc)); err != nil {
		return &headerError{"P-UTC", "decimal Unix seconds"}
	}
	if len(voter) != stamp.VoterLen {
		return &headerError{"Voter", fmt.Sprintf("%d characters", stamp.VoterLen)}
	}

	var buf [512]byte // room for all but a long Say
	b := hex.AppendEncode(buf[:0], v.nonce)
	var ends [8]int // value i is all[ends[i-1]:ends[i]], value 0 the nonce's hex
	ends[0] = len(b)
	for i, x := range [...][]byte{pkey, sig, id, psig, putc, voter, say} {
		b = append(b, x...)
		ends[i+1] = len(b)
	}
	all := string(b)
	part := func(i int) string { return all[ends[i-1]:ends[i]] }
	v.nonceHex = all[:ends[0]]
	v.authPkey, v.authSig, v.authID, v.psig64 = part(1), part(2), part(3), part(4)
	v.putc, v.voter, v.sayRaw = part(5), part(6), part(7)
	if v.say, err = wire.DecodeOption(v.sayRaw); err != nil || v.say == "" {
		return &headerError{"Say", "an encoded option text"}
	}
	return nil
}

// voteDigest is SHA-256 over the vote's header values as received, each
// preceded by its length as 2 big-endian bytes (a header value is shorter
// than the edge's 8 KiB limit on the request line and headers together),
// in a fixed order: Auth-Pkey, Auth-Sig, Auth-Id, P-UTC, P-SIG, Voter,
// Say. The lengths make the encoding unambiguous: no two sets of values
// share it. The nonce is the cache key and not part of it.
type voteDigest [sha256.Size]byte

func (v *vote) digest() voteDigest {
	var buf [512]byte
	b := buf[:0]
	for _, x := range [...]string{v.authPkey, v.authSig, v.authID, v.putc, v.psig64, v.voter, v.sayRaw} {
		b = binary.BigEndian.AppendUint16(b, uint16(len(x)))
		b = append(b, x...)
	}
	return sha256.Sum256(b)
}

// same reports whether two digests are equal, in constant time: what it
// compares is derived from a voter's mandate.
func (d *voteDigest) same(o *voteDigest) bool {
	return subtle.ConstantTimeCompare(d[:], o[:]) == 1
}

// cachedAnswer is what the nonce cache keeps: the answer and the digest of
// the vote it was given to.
type cachedAnswer struct {
	ans *answer
	sum voteDigest
}

// verdict is the outcome of a vote's flight.
type verdict struct {
	ans    *answer    // nil when err is set
	err    error      // a rejection
	sum    voteDigest // of the vote the outcome belongs to
	replay bool       // ans came from the nonce cache
}

// errNonceUsed refuses a request whose nonce was answered to another vote.
var errNonceUsed = reject(nonceUsed, errors.New("the nonce was answered to another vote"))

// vote answers GET /<nonce>.
func (s *Server) vote(ctx *fasthttp.RequestCtx, st *site) error {
	// v stays on the stack: a vote refused before its flight costs no
	// allocation for it.
	var v vote
	if err := parseVote(ctx, &v); err != nil {
		return reject(badRequest, err)
	}
	key := st.name + "/" + string(v.nonce)
	if c, ok := s.nonces.Get(key); ok {
		if sum := v.digest(); !sum.same(&c.sum) {
			return errNonceUsed
		}
		s.counters.add(replays)
		st.m.nonceHits.Inc()
		c.ans.write(ctx)
		return nil
	}
	// Work below the threshold is refused here, before the flight and
	// without a place in the nonce cache: the check costs one SHA-256
	// block, less than a cache entry, and gives the same answer every
	// time; and a flood of junk must not push the answers of real votes
	// out of the cache, where they keep a vote from being replayed under
	// another mandate.
	if !enoughWork(st, &v) {
		return errLowWork
	}
	judged := new(vote) // the flight's, which may outlive this request
	*judged = v
	sum := v.digest()
	if s.testHookVote != nil {
		s.testHookVote()
	}
	r, _, _ := s.votes.Do(key, func() (any, error) {
		// A flight for this nonce may have ended between the Get above and
		// this one starting.
		if c, ok := s.nonces.Get(key); ok {
			return verdict{ans: c.ans, sum: c.sum, replay: true}, nil
		}
		a, err := s.judge(st, judged)
		if err != nil {
			if r := reasonOf(err); cacheable(r) {
				s.nonces.Add(key, cachedAnswer{s.errAnswers[r], sum})
			}
			return verdict{err: err, sum: sum}, nil
		}
		s.nonces.Add(key, cachedAnswer{a, sum})
		return verdict{ans: a, sum: sum}, nil
	})
	vd := r.(verdict)
	// The flight, or the cache it found, may be another vote's: its
	// outcome, receipt or refusal, is that vote's, whatever it was.
	if !vd.sum.same(&sum) {
		return errNonceUsed
	}
	if vd.err != nil {
		return vd.err
	}
	switch sc := vd.ans.status; {
	case vd.replay:
		s.counters.add(replays)
		st.m.nonceHits.Inc()
	case sc >= 200 && sc < 300:
		s.counters.add(accepted)
	case sc >= firstVerdict && sc < firstVerdict+numVerdicts:
		s.counters.add(relayed481 + counter(sc-firstVerdict))
	}
	vd.ans.write(ctx)
	return nil
}

var errNotGenuine = errors.New("P-SIG is not a UTC-SIGN signature of P-UTC")

// enoughWork reports whether the vote's proof of work meets the campaign's
// threshold. The route admitted only nonces of a valid length; the score
// alone is checked, without pow.Verify's error text, which junk would pay
// for on every request.
func enoughWork(st *site, v *vote) bool {
	w := pow.Work{PUTC: v.putc, PSig: v.psig[:], Voter: v.voter, Say: v.say}
	return pow.Score(pow.Digest(w, v.nonce)) >= st.settings.Threshold
}

// errLowWork refuses a vote whose proof of work is below the threshold.
var errLowWork = reject(lowWork, pow.ErrBelowThreshold)

// judge runs steps 4 to 9 on a vote that is not in the nonce cache. It
// returns the answer to cache, or a rejection.
func (s *Server) judge(st *site, v *vote) (*answer, error) {
	if !st.genuine(v.putc, &v.psig) {
		return nil, reject(notGenuine, errNotGenuine)
	}
	if err := st.voterKey.CheckVoter(v.voter, v.putc, v.psig[:]); err != nil {
		return nil, reject(badVoter, err)
	}
	k := pairIndex(v.pkey[:], v.id[:], len(st.pairs))
	switch seen, held := st.seen.find(v.putcAt, v.voter, v.nonce); {
	case seen == stampOther:
		return nil, reject(stampUsed, errStampUsed)
	case seen == stampSame && held != k:
		return nil, reject(heldElsewhere, errHeldElsewhere)
	}
	if !inCampaign(st.settings, v.putcAt, s.cfg.Clock()) {
		return nil, errBadTime
	}
	if !onBallot(st.settings, v.say) && answerable(st.settings, v) {
		return nil, errBadOption
	}
	v.decoys = st.decoys.draw(st.decoys.index(v.say), v.voter, s.cfg.Clock())
	a, err := s.relay(st, v, k)
	if err == nil && a.status/100 == 2 {
		st.seen.add(v.putcAt, v.voter, v.nonce, k, s.cfg.Clock().Unix())
	}
	return a, err
}

// errHeldElsewhere refuses a copy of a recorded vote under a mandate of
// another pair, errStampUsed a vote whose voter stamp a recorded vote with
// another nonce carries (seen.go).
var (
	errHeldElsewhere = errors.New("a vote with this nonce is recorded by another pair")
	errStampUsed     = errors.New("a vote with this voter stamp and another nonce is recorded")
)

// futureSkew is how far a P-UTC may be ahead of the edge's clock. It
// mirrors the default of collector.Config.FutureSkew (collector/collector.go,
// withDefaults), which the collectors run with: the edge's 485 is theirs,
// and the two must change together.
const futureSkew = 5 * time.Second

// errBadTime refuses a vote whose stamp is outside the campaign (485),
// errBadOption one whose option is not on the ballot (482): the refusals
// of a collector, given by the edge before any collector sees the mandate.
var (
	errBadTime   = reject(badTime, errors.New("P-UTC is outside the campaign or stale"))
	errBadOption = reject(badOption, errors.New("the Say header is not an option of the ballot"))
)

// inCampaign reports whether a platform stamp of second putc may carry a
// vote at now: inside [Start, End], at most futureSkew ahead of now and at
// most MaxStampAge old, the bounds included. It is the collectors' rule
// for 485 (collector.Server.vote), with the edge's clock.
func inCampaign(set *campaign.Settings, putc int64, now time.Time) bool {
	t := time.Unix(putc, 0)
	return !t.Before(set.Start) && !t.After(set.End) && !t.After(now.Add(futureSkew)) && now.Sub(t) <= set.MaxStampAge
}

// onBallot reports whether say, decoded, is one of the campaign's options,
// byte for byte, as the collectors match it: no folding of case, spaces or
// Unicode forms. At most 99 comparisons, most of which the lengths decide.
func onBallot(set *campaign.Settings, say string) bool {
	return slices.Contains(set.Options, say)
}

// answerable reports whether a collector would answer a vote with this
// mandate 482 when its option is not on the ballot: whether the mandate
// passes the checks PROTOCOL.md puts before 482, 484 (Auth-Pkey is a key of
// the campaign's authorities) and 483 (Auth-Sig verifies over Auth-Id). A
// mandate that fails them is no mandate anyone can cast, and the vote goes
// on for the collectors to answer 484 or 483 in the protocol's order. The
// Ed25519 verification is paid only by votes with an option off the
// ballot, after their proof of work and platform stamp passed.
func answerable(set *campaign.Settings, v *vote) bool {
	for _, k := range set.Authorities {
		if bytes.Equal(k, v.pkey[:]) {
			return ed25519.Verify(k, v.id[:], v.sig[:])
		}
	}
	return false
}

// genuine reports whether psig is a UTC-SIGN signature of putc. No two
// answers to /stamp carry one P-SIG (platform.go), so no two votes share
// one: each vote costs one Ed25519 verification here, and a retry is
// answered from the nonce cache before it.
func (st *site) genuine(putc string, psig *[sigLen]byte) bool {
	return ed25519.Verify(st.signPub, []byte(putc), psig[:])
}

// pairIndex maps a mandate to its pair of collecting instances: the first 8
// bytes of SHA-256(auth-pkey || auth-id), read as a big-endian integer,
// modulo the number of pairs. It depends on nothing but the mandate and the
// number of pairs, so a mandate has the same pair for the campaign's life as
// long as the pair list does not change; a second vote with one mandate
// meets the first at the pair that recorded it, which answers 481.
func pairIndex(pkey, id []byte, pairs int) int {
	h := sha256.New()
	h.Write(pkey)
	h.Write(id)
	var d [sha256.Size]byte
	return int(binary.BigEndian.Uint64(h.Sum(d[:0])) % uint64(pairs))
}

// relay sends the vote to both instances of its pair at once, each bounded
// by CollectorTimeout. A 2xx from either wins: the vote is recorded, and a
// twin that refused it (481 because the first instance had already copied
// it to it, say) must not hide the receipt. Otherwise a 48x, which is a
// verdict on the vote; otherwise 503.
//
// Only the first instance signs its receipt (a signature is the dearest
// part of an answer, and the second's is thrown away when the first
// answers): the second is asked for an unsigned one, unless the first
// failed to answer a vote in the last few seconds. When the first does not
// answer and the second accepted the vote unsigned, the edge asks the
// second again for its signed receipt: a repeated vote gets its receipt
// again (docs/INTERNAL.md).
//
// A signed 2xx is relayed as soon as it arrives from the first instance,
// or from the second once the first has answered otherwise or is unsure:
// an instance that hangs delays the votes of its pair only until the edge
// has seen it fail once.
func (s *Server) relay(st *site, v *vote, k int) (*answer, error) {
	pair := st.pairs[k]
	signSecond := pair[0].unsure(s.cfg.Clock())
	type sent struct {
		i   int
		ans *answer
		err error
	}
	results := make(chan sent, 2)
	go func() { a, err := s.send(st, pair[1], v, signSecond); results <- sent{1, a, err} }()
	go func() { a, err := s.send(st, pair[0], v, true); results <- sent{0, a, err} }()
	note := func(r sent) {
		if r.err != nil {
			pair[r.i].failed.Store(s.cfg.Clock().UnixNano())
			s.log.Warn("edge: collector did not answer a vote", "campaign", st.name, "collector", pair[r.i].base, "err", r.err)
		}
	}
	var (
		ans [2]*answer
		err [2]error
	)
	for n := range 2 {
		r := <-results
		note(r)
		ans[r.i], err[r.i] = r.ans, r.err
		// A signed receipt that no answer still to come could displace
		// is relayed at once: a frozen instance must not hold every vote
		// of its pair for the collector timeout. The other answer is
		// still read, for its failure to be noted.
		if a := r.ans; a != nil && a.status/100 == 2 && a.signed && (r.i == 0 || signSecond || ans[0] != nil || err[0] != nil) {
			if n == 0 {
				go func() { note(<-results) }()
			}
			return a, nil
		}
	}
	if a := ans[0]; a != nil && a.status/100 == 2 {
		return a, nil
	}
	if a := ans[1]; a != nil && a.status/100 == 2 {
		if a.signed {
			return a, nil
		}
		a2, err2 := s.send(st, pair[1], v, true)
		if err2 == nil && a2.status/100 == 2 && a2.signed {
			return a2, nil
		}
		if err2 == nil {
			err2 = fmt.Errorf("POST %s: status %d without a signed receipt on the second asking", pair[1].voteURL, a2.status)
		}
		// Recorded but without a receipt to give: the voter retries the
		// same request, which gets its receipt then.
		return nil, reject(noCollector, errors.Join(err[0], err2))
	}
	for _, a := range ans {
		if a != nil {
			return a, nil
		}
	}
	return nil, reject(noCollector, errors.Join(err[0], err[1]))
}

// send forwards a vote to one instance and returns its verdict: a 2xx
// with its receipt or a 481..486. Anything else (no connection, a timeout,
// 401, 5xx, an unexpected code) is an error: that instance did not
// answer. The vote goes in a batch with others for the instance (POST
// /votes, batch.go), or alone (POST /vote) when batches are off, when the
// instance does not take them, or when a field of the vote cannot go on a
// line of one. Either way the answer is the instance's for this vote
// alone, and the collector timeout counts from here.
//
// A vote is never retried on another connection or in another batch: the
// collector may have recorded it, and a second copy would answer 481
// where the first answered 2xx.
func (s *Server) send(st *site, c *collector, v *vote, sign bool) (*answer, error) {
	deadline := time.Now().Add(s.cfg.CollectorTimeout)
	if b := c.batch; b != nil && b.batches(time.Now()) {
		// A line is about 400 bytes and the Say. The edge checked every
		// value before (parseVote, judge), so none should be refused; but
		// a voter must never be able to spoil a batch, and with it the
		// votes of others: a vote the line refuses goes alone.
		if line, err := wire.AppendBatchVote(make([]byte, 0, 448+len(v.sayRaw)), v.batchVote(sign)); err == nil {
			if r := b.do(line, deadline); !r.alone {
				return r.ans, r.err
			}
			// The instance answered the batch as a release without POST
			// /votes does: it read none of it.
		}
	}
	return s.sendOne(st, c, v, sign, deadline)
}

// sendOne forwards a vote alone (docs/INTERNAL.md, POST /vote).
func (s *Server) sendOne(st *site, c *collector, v *vote, sign bool, deadline time.Time) (*answer, error) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI(c.voteURL)
	h := &req.Header
	h.Set("Pass", st.pass)
	h.Set("Auth-Pkey", v.authPkey)
	h.Set("Auth-Sig", v.authSig)
	h.Set("Auth-Id", v.authID)
	h.Set("P-UTC", v.putc)
	h.Set("P-SIG", v.psig64)
	h.Set("Voter", v.voter)
	h.Set("Say", v.sayRaw)
	h.Set("Nonce", v.nonceHex)
	if v.decoys != "" {
		h.Set("Decoys", v.decoys)
	}
	if !sign {
		h.Set("Receipt-Sign", "no")
	}
	s.counters.add(collectorRequests)
	if err := c.hc.DoDeadline(req, resp, deadline); err != nil {
		c.calls.voteFailed.Inc()
		return nil, fmt.Errorf("POST %s: %w", c.voteURL, err)
	}
	return s.verdictOf(c, c.voteURL, resp.StatusCode(), func() *answer { return s.receipt(resp.StatusCode(), &resp.Header) })
}

// verdictOf reads an instance's status code for one vote, from POST /vote
// or a line of POST /votes, and counts it: a 2xx is the receipt that
// receipt builds, 481..486 the verdict, anything else an error.
func (s *Server) verdictOf(c *collector, url string, sc int, receipt func() *answer) (*answer, error) {
	switch {
	case sc >= 200 && sc < 300:
		c.calls.voteOK.Inc()
		return receipt(), nil
	case sc >= firstVerdict && sc < firstVerdict+numVerdicts:
		c.calls.voteRefused.Inc()
		return s.verdicts[sc-firstVerdict], nil
	case sc == fasthttp.StatusUnauthorized:
		c.calls.voteFailed.Inc()
		return nil, fmt.Errorf("POST %s: 401: the collector refused the pass secret", url)
	default:
		c.calls.voteFailed.Inc()
		return nil, fmt.Errorf("POST %s: unexpected status %d", url, sc)
	}
}

// receipt builds the answer to an accepted vote: the collector's status,
// its Receipt01..NN headers in the order it sent them, Receipt-Sig, and the
// nonce cache's max-age. Other headers of the collector stay behind.
func (s *Server) receipt(status int, h *fasthttp.ResponseHeader) *answer {
	a := &answer{status: status}
	var sig [][2]string
	for k, v := range h.All() {
		switch {
		case len(k) == len("Receipt01") && bytes.EqualFold(k[:7], []byte("Receipt")) && digits(k[7:], 2):
			a.header = append(a.header, [2]string{"Receipt" + string(k[7:]), string(v)})
		case bytes.EqualFold(k, []byte("Receipt-Sig")):
			sig = append(sig, [2]string{"Receipt-Sig", string(v)})
			a.signed = true
		}
	}
	a.header = append(a.header, sig...)
	a.header = append(a.header, s.maxAge[:]...)
	return a
}
