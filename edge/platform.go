package edge

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/stamp"
	"github.com/powvote/powvote/totp"
)

// GET /stamp (PROTOCOL.md 5.2). The edge asks a collector for the platform
// stamps of the current second at most once per second of its clock, and
// answers every /stamp of that second from that one answer: the load on the
// collectors does not grow with the load on the edge.
//
// Whether the booth code matched decides one thing only: which of the two
// signatures is copied into the answer, by a constant-time copy. Both codes
// are always compared, the answer has the same status, the same headers in
// the same order and the same value lengths either way, and nothing is
// logged or counted by validity.

const (
	sigLen    = ed25519.SignatureSize // 64
	sigB64Len = 88                    // base64 of 64 bytes, with padding
	codesLen  = 2*totp.Digits + 1     // "123456 654321"
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
// second of the edge's clock. Immutable once built.
type platformStamp struct {
	second int64 // of the edge's clock
	err    error // no collector answered for that second; the rest is empty

	putc       string
	sign, hole [sigLen]byte    // UTC-SIGN and UTC-HOLE signatures of putc
	sign64     [sigB64Len]byte // the same in base64
	hole64     [sigB64Len]byte
	codes      [2][totp.Digits]byte // the booth codes accepted at putc
}

type platformPtr = atomic.Pointer[platformStamp]

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
	sig, sig64 := p.hole, p.hole64
	subtle.ConstantTimeCopy(match, sig[:], p.sign[:])
	subtle.ConstantTimeCopy(match, sig64[:], p.sign64[:])

	voter, err := stamp.NewVoter(st.voterKey, rand.Reader, p.putc, sig[:])
	if err != nil {
		return err // not a rejection: answered 503 and logged as a bug
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	h := &ctx.Response.Header
	h.Set("P-UTC", p.putc)
	h.SetBytesV("P-SIG", sig64[:])
	h.Set("Voter", voter)
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

// platform returns the platform stamp for the current second, fetching it
// if no request of this second has. Concurrent callers of one second share
// one fetch; a fetch that fails is remembered for the rest of its second
// too, so that collectors that are down are not asked more often.
func (s *Server) platform(st *site) *platformStamp {
	sec := s.cfg.Clock().Unix()
	if p := st.platform.Load(); p != nil && p.second == sec {
		return p
	}
	v, _, _ := s.stamps.Do(st.name+"/"+strconv.FormatInt(sec, 10), func() (any, error) {
		// A flight for this second may have ended between the Load above
		// and this one starting.
		if p := st.platform.Load(); p != nil && p.second == sec {
			return p, nil
		}
		p := s.fetchPlatform(st, sec)
		for {
			old := st.platform.Load()
			if old != nil && old.second > sec {
				break // a later second is already there; keep it
			}
			if st.platform.CompareAndSwap(old, p) {
				break
			}
		}
		return p, nil
	})
	return v.(*platformStamp)
}

// fetchPlatform asks the campaign's instances in turn for the platform
// stamp until one gives a valid answer.
func (s *Server) fetchPlatform(st *site, sec int64) *platformStamp {
	var errs []error
	for _, c := range st.instances {
		p, err := s.fetchFrom(st, c)
		if err == nil {
			p.second = sec
			return p
		}
		s.log.Warn("edge: no platform stamp from a collector", "campaign", st.name, "collector", c.base, "err", err)
		errs = append(errs, err)
	}
	return &platformStamp{second: sec, err: fmt.Errorf("no collector gave a platform stamp: %w", errors.Join(errs...))}
}

// fetchFrom asks one collector for the platform stamp (docs/INTERNAL.md,
// GET /stamp) and checks its answer: a malformed one counts as no answer.
func (s *Server) fetchFrom(st *site, c *collector) (*platformStamp, error) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(c.stampURL)
	req.Header.Set("Pass", st.pass)
	s.counters.add(collectorRequests)
	s.counters.add(stampFetches)
	if err := c.hc.DoTimeout(req, resp, s.cfg.CollectorTimeout); err != nil {
		return nil, fmt.Errorf("GET %s: %w", c.stampURL, err)
	}
	if sc := resp.StatusCode(); sc != fasthttp.StatusNoContent {
		return nil, fmt.Errorf("GET %s: status %d, want 204", c.stampURL, sc)
	}
	p, err := parsePlatform(&resp.Header, st.signPub)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", c.stampURL, err)
	}
	// Every vote of this second will carry this P-SIG: verify it once here.
	st.verified.Add(sigKey{putc: p.putc, sig: p.sign}, struct{}{})
	return p, nil
}

// parsePlatform reads the headers of a collector's GET /stamp answer. Sign
// must verify under the campaign's UTC-SIGN key: if it does not, the edge and
// the collectors disagree on the key and every vote would get 488.
func parsePlatform(h *fasthttp.ResponseHeader, signPub ed25519.PublicKey) (*platformStamp, error) {
	p := &platformStamp{putc: string(h.Peek("P-UTC"))}
	if _, err := stamp.ParsePUTC(p.putc); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name    string
		raw     *[sigLen]byte
		encoded *[sigB64Len]byte
	}{{"Sign", &p.sign, &p.sign64}, {"Hole", &p.hole, &p.hole64}} {
		v := h.Peek(f.name)
		if !decodeB64(f.raw[:], v) {
			return nil, fmt.Errorf("%s is not base64 of %d bytes", f.name, sigLen)
		}
		copy(f.encoded[:], v)
	}
	if !ed25519.Verify(signPub, []byte(p.putc), p.sign[:]) {
		return nil, errors.New("the Sign header does not verify under the campaign's UTC-SIGN key")
	}
	codes := h.Peek("Codes")
	if len(codes) != codesLen || codes[totp.Digits] != ' ' ||
		!digits(codes[:totp.Digits], totp.Digits) || !digits(codes[totp.Digits+1:], totp.Digits) {
		return nil, errors.New("the Codes header is not two 6-digit codes separated by a space")
	}
	copy(p.codes[0][:], codes[:totp.Digits])
	copy(p.codes[1][:], codes[totp.Digits+1:])
	return p, nil
}
