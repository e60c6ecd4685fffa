package edge

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/stamp"
	"github.com/powvote/powvote/totp"
)

// GET /stamp (PROTOCOL.md 5.2). No two answers carry the same P-SIG, and
// an answer to a valid booth code cannot be told from one to a wrong code
// by its status, its headers, their lengths, their values or its timing.
//
// Decoys: the edge signs P-UTC with UTC-HOLE itself, afresh for every
// answer (package hedged: a randomised Ed25519 signature that any RFC 8032
// verifier accepts). A decoy is worth nothing to whoever holds the key:
// a vote that carries one is refused (488), and the key is published at
// the close.
//
// Genuine stamps: the UTC-SIGN private key stays on the collectors. Once a
// second the edge asks a collector for a pool of fresh UTC-SIGN signatures
// of one P-UTC, as many as voters with a valid booth code took lately:
// twice the most taken in one of the last demandSeconds seconds, plus
// Config.StampPoolMin, at most Config.StampPoolMax. Each is handed out at
// most once. A flood of wrong codes takes nothing from the pool, so it
// makes the collectors sign no more; only booth codes seen in a booth can
// raise their load, and then only up to StampPoolMax per edge and second.
//
// Every answer does the same work: it signs a decoy, moves the pool's
// cursor by one for a valid code and by zero otherwise (one atomic add
// either way), reads one pool slot (the filler slot past the end for a
// wrong code or a spent pool), and copies the slot over the decoy by a
// constant-time copy when the code was valid and the slot is a real one.
// Nothing is logged by validity; the one counter that depends on it
// (stamp_pool_spent) is added to by 0 or 1 on every answer.
//
// A spent pool gives a valid code a decoy: that voter's vote will be
// refused with 488 after its proof of work. Answering differently (a 503,
// a wait) would tell an attacker, who can spend the pool with a candidate
// code, that the candidate was right. The pool's size follows demand so
// that this stays rare; stamp_pool_spent counts it for the operator.
//
// The pool of the next second is fetched in the second half of the current
// one (prefetch), so that no request waits for a fetch: a fetch's length
// grows with the pool's size, which grows with the number of valid codes,
// and a wait would show it. Only when no pool for the current second is at
// hand (the first request after a quiet spell, or a failed prefetch) does
// a request fetch one, shared by every request of that second; a failure
// is remembered for the rest of the second, so that collectors that are
// down are not asked more often.

const (
	sigLen    = ed25519.SignatureSize // 64
	sigB64Len = 88                    // base64 of 64 bytes, with padding
	codesLen  = 2*totp.Digits + 1     // "123456 654321"

	// demandSeconds is how many past seconds of demand size a pool.
	demandSeconds = 3
	// activeSeconds: a campaign with a /stamp request in the last this
	// many seconds gets its next pool prefetched.
	activeSeconds = 5
	// prefetchAt is how far into a second the next second's pool is
	// fetched, and prefetchTick how often the loop looks.
	prefetchAt   = 500 * time.Millisecond
	prefetchTick = 50 * time.Millisecond
)

// b64 is the base64 the protocol uses (standard alphabet, padded), refusing
// nonzero pad bits so that one value has one spelling.
var b64 = base64.StdEncoding.Strict()

// decodeB64 decodes src into dst, which it must fill exactly; dst is at most
// sigLen bytes.
func decodeB64(dst, src []byte) bool {
	if len(dst) > sigLen {
		panic("edge: decodeB64 destination longer than a signature")
	}
	if len(src) != b64.EncodedLen(len(dst)) {
		return false
	}
	// Decode may write up to DecodedLen bytes, a few more than dst holds.
	var buf [sigLen + 3]byte
	n, err := b64.Decode(buf[:], src)
	if err != nil || n != len(dst) {
		return false
	}
	copy(dst, buf[:n])
	return true
}

// platformStamp is a collector's answer to GET /stamp, checked, for one
// second of the edge's clock. Immutable once built but for taken.
type platformStamp struct {
	second int64 // of the edge's clock
	err    error // no collector answered for that second; the rest is empty

	putc  string
	codes [2][totp.Digits]byte // the booth codes accepted at putc
	// pool holds the genuine signatures of putc, then one zero filler
	// slot that is read, never handed out, when no real slot is.
	pool [][sigLen]byte
	// taken counts the valid codes answered from this pool, with a
	// genuine signature or, once it was spent, without.
	taken atomic.Int64
}

// size is the number of genuine signatures in the pool.
func (p *platformStamp) size() int { return len(p.pool) - 1 }

type platformPtr = atomic.Pointer[platformStamp]

// demand remembers how many valid codes the last pools answered.
type demand struct {
	mu   sync.Mutex
	last [demandSeconds]int64
	i    int
}

func (d *demand) record(n int64) {
	d.mu.Lock()
	d.last[d.i] = n
	d.i = (d.i + 1) % len(d.last)
	d.mu.Unlock()
}

// poolSize is the size of the next pool, given the current pool's demand
// so far.
func (d *demand) poolSize(current int64, lo, hi int) int {
	d.mu.Lock()
	m := current
	for _, n := range d.last {
		m = max(m, n)
	}
	d.mu.Unlock()
	return int(min(2*m+int64(lo), int64(hi)))
}

// errTOTP is the cause of a 400 to /stamp.
var errTOTP = errors.New("TOTP header is not 6 ASCII digits")

// stamp answers GET /stamp.
func (s *Server) stamp(ctx *fasthttp.RequestCtx, st *site) error {
	code := ctx.Request.Header.Peek("TOTP")
	if !digits(code, totp.Digits) {
		return reject(badRequest, errTOTP)
	}
	p := s.platform(st)
	if p.err != nil {
		return reject(noPlatform, p.err)
	}

	var in [totp.Digits]byte
	copy(in[:], code)
	match := subtle.ConstantTimeCompare(in[:], p.codes[0][:]) | subtle.ConstantTimeCompare(in[:], p.codes[1][:])
	var sig [sigLen]byte
	if err := st.hole.Sign(rand.Reader, []byte(p.putc), &sig); err != nil {
		return err // not a rejection: answered 503 and logged as a bug
	}
	// For a valid code, slot n-1 is this answer's. int(n) stays far below
	// 2^31: a pool lives one second.
	n := p.taken.Add(int64(match))
	size := p.size()
	genuine := match & subtle.ConstantTimeLessOrEq(int(n), size)
	slot := subtle.ConstantTimeSelect(genuine, int(n-1), size)
	subtle.ConstantTimeCopy(genuine, sig[:], p.pool[slot][:])
	s.counters[poolSpent].Add(uint64(match &^ genuine))
	// Both kinds are added to on every answer, one by 0: the same work
	// whatever the code was.
	st.m.poolSpent.Add(match &^ genuine)
	st.m.stamps[stampGenuine].Add(genuine)
	st.m.stamps[stampDecoy].Add(1 - genuine)

	// The header values are written from buffers on the stack: the
	// answer allocates nothing (BenchmarkHandleStamp, TestStampAllocs).
	var sig64 [sigB64Len]byte
	base64.StdEncoding.Encode(sig64[:], sig[:])
	var voter [stamp.VoterLen]byte
	if _, err := st.voterKey.AppendVoter(voter[:0], rand.Reader, p.putc, sig[:]); err != nil {
		return err // not a rejection: answered 503 and logged as a bug
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	h := &ctx.Response.Header
	h.Set("P-UTC", p.putc)
	h.SetBytesV("P-SIG", sig64[:])
	h.SetBytesV("Voter", voter[:])
	h.Set("Cache-Control", "no-store")
	s.counters.add(stampServed)
	return nil
}

// digits reports whether b is exactly n ASCII digits.
func digits(b []byte, n int) bool {
	if len(b) != n {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// platform returns the pool for the current second: the current one, else
// the prefetched one, else one fetched now. Concurrent callers of one
// second share one fetch, and wait for a prefetch of that second still
// under way rather than fetch again.
func (s *Server) platform(st *site) *platformStamp {
	sec := s.cfg.Clock().Unix()
	st.asked.Store(sec)
	if p := st.platform.Load(); p != nil && p.second == sec {
		return p
	}
	if p := st.next.Load(); p != nil && p.second == sec {
		return st.install(p)
	}
	key := flightKey(st, sec)
	v, _, _ := s.stamps.Do(key, func() (any, error) {
		return s.fetchNow(st, sec), nil
	})
	if p, ok := v.(*platformStamp); ok {
		return st.install(p)
	}
	// The flight was a prefetch that failed: fetch now.
	v, _, _ = s.stamps.Do(key+"/now", func() (any, error) {
		return s.fetchNow(st, sec), nil
	})
	return st.install(v.(*platformStamp))
}

// fetchNow returns the pool of second sec, fetching it unless a flight
// that ended between the caller's look and its own start brought it.
func (s *Server) fetchNow(st *site, sec int64) *platformStamp {
	if p := st.platform.Load(); p != nil && p.second == sec {
		return p
	}
	if p := st.next.Load(); p != nil && p.second == sec {
		return st.install(p)
	}
	return st.install(s.fetchPlatform(st, sec, false))
}

// flightKey names the fetch of one campaign's pool of one second.
func flightKey(st *site, sec int64) string { return st.name + "/" + strconv.FormatInt(sec, 10) }

// install makes p the current pool unless a later one is there already,
// records the demand of the pool it replaces, and returns the current pool.
func (st *site) install(p *platformStamp) *platformStamp {
	for {
		old := st.platform.Load()
		if old != nil && old.second >= p.second {
			return old
		}
		if st.platform.CompareAndSwap(old, p) {
			if old != nil && old.err == nil {
				st.demand.record(old.taken.Load())
			}
			return p
		}
	}
}

// prefetch fetches, in the second half of each second, the next second's
// pool of every campaign that had a /stamp request lately, until ctx is
// done.
func (s *Server) prefetch(ctx context.Context) {
	tick := time.NewTicker(prefetchTick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := s.cfg.Clock()
		sec := now.Unix()
		if time.Duration(now.Nanosecond()) < prefetchAt {
			continue
		}
		for _, st := range s.siteMap() {
			if st.asked.Load() < sec-activeSeconds {
				continue
			}
			if p := st.next.Load(); p != nil && p.second > sec {
				continue
			}
			// The requests of the next second join this flight if it
			// is still under way; it gives them nil if it failed.
			s.stamps.Do(flightKey(st, sec+1), func() (any, error) {
				p := s.fetchPlatform(st, sec+1, true)
				if p.err != nil {
					return nil, nil
				}
				st.next.Store(p)
				return p, nil
			})
		}
	}
}

// fetchPlatform asks the campaign's instances in turn for the pool of
// second sec until one gives a valid answer. ahead asks for P-UTC = sec;
// otherwise the instance's own current second is P-UTC.
func (s *Server) fetchPlatform(st *site, sec int64, ahead bool) *platformStamp {
	var cur int64
	if p := st.platform.Load(); p != nil {
		cur = p.taken.Load()
	}
	n := st.demand.poolSize(cur, s.cfg.StampPoolMin, s.cfg.StampPoolMax)
	var errs []error
	for _, c := range st.instances {
		p, err := s.fetchFrom(st, c, n, sec, ahead)
		if err == nil {
			c.calls.stampOK.Inc()
			st.m.received.Add(p.size())
			p.second = sec
			return p
		}
		c.calls.stampFailed.Inc()
		if ahead {
			// The request path fetches again, and logs, if this was
			// not a passing fault.
			s.log.Debug("edge: no platform stamps ahead from a collector", "campaign", st.name, "collector", c.base, "err", err)
		} else {
			s.log.Warn("edge: no platform stamps from a collector", "campaign", st.name, "collector", c.base, "err", err)
		}
		errs = append(errs, err)
	}
	return &platformStamp{second: sec, err: fmt.Errorf("no collector gave platform stamps: %w", errors.Join(errs...))}
}

// fetchFrom asks one collector for a pool of n genuine stamps
// (docs/INTERNAL.md, GET /stamp) and checks its answer: a malformed one
// counts as no answer.
func (s *Server) fetchFrom(st *site, c *collector, n int, sec int64, ahead bool) (*platformStamp, error) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(c.stampURL)
	setPass(&req.Header, st.pass)
	req.Header.Set("Count", strconv.Itoa(n))
	if ahead {
		req.Header.Set("Second", strconv.FormatInt(sec, 10))
	}
	s.counters.add(collectorRequests)
	s.counters.add(stampFetches)
	if err := c.hc.DoTimeout(req, resp, s.cfg.CollectorTimeout); err != nil {
		return nil, fmt.Errorf("GET %s: %w", c.stampURL, err)
	}
	if sc := resp.StatusCode(); sc != fasthttp.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d, want 200", c.stampURL, sc)
	}
	p, err := parsePlatform(&resp.Header, resp.Body(), n, st.signPub)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", c.stampURL, err)
	}
	if ahead && p.putc != strconv.FormatInt(sec, 10) {
		return nil, fmt.Errorf("GET %s: P-UTC %s, asked for %d", c.stampURL, p.putc, sec)
	}
	s.counters[poolSigned].Add(uint64(p.size()))
	return p, nil
}

// parsePlatform reads a collector's GET /stamp answer to a request for at
// most max signatures. The first signature must verify under the
// campaign's UTC-SIGN key: if it does not, the edge and the collectors
// disagree on the key and every vote would get 488. The others are
// verified when a vote brings them back.
func parsePlatform(h *fasthttp.ResponseHeader, body []byte, max int, signPub ed25519.PublicKey) (*platformStamp, error) {
	p := &platformStamp{putc: string(h.Peek("P-UTC"))}
	if _, err := stamp.ParsePUTC(p.putc); err != nil {
		return nil, err
	}
	codes := h.Peek("Codes")
	if len(codes) != codesLen || codes[totp.Digits] != ' ' ||
		!digits(codes[:totp.Digits], totp.Digits) || !digits(codes[totp.Digits+1:], totp.Digits) {
		return nil, errors.New("the Codes header is not two 6-digit codes separated by a space")
	}
	copy(p.codes[0][:], codes[:totp.Digits])
	copy(p.codes[1][:], codes[totp.Digits+1:])
	n, err := strconv.Atoi(string(h.Peek("Count")))
	switch {
	case err != nil || n < 1 || n > max:
		return nil, fmt.Errorf("the Count header is not a number from 1 to %d", max)
	case len(body) != n*sigLen:
		return nil, fmt.Errorf("a body of %d bytes for %d signatures", len(body), n)
	}
	p.pool = make([][sigLen]byte, n+1)
	for i := range n {
		copy(p.pool[i][:], body[i*sigLen:])
	}
	if !ed25519.Verify(signPub, []byte(p.putc), p.pool[0][:]) {
		return nil, errors.New("a signature does not verify under the campaign's UTC-SIGN key")
	}
	return p, nil
}
