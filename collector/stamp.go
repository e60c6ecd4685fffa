package collector

import (
	cryptorand "crypto/rand"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/internal/hedged"
	"github.com/powvote/powvote/stamp"
	"github.com/powvote/powvote/totp"
)

// GET /stamp (docs/INTERNAL.md): the edge's once-a-second request for
// genuine platform stamps. The answer carries Count fresh UTC-SIGN
// signatures of one P-UTC, each randomised (package hedged), so that no two
// voters ever receive the same P-SIG; the edge hands out each at most once,
// to a voter who typed a valid booth code, and signs the decoys for wrong
// codes itself. The collector never learns which codes were typed: it
// signs as many stamps as the edge asks for, within StampsPerSecond.
//
// Request headers: Count, the number of signatures wanted (1 to
// MaxStampCount); Second, optionally, the P-UTC wanted, within a second of
// this instance's clock (the edge fetches the next second's stamps before
// that second begins, so that no voter waits for them). Answer: 200,
// P-UTC, Codes (the two booth codes valid at P-UTC, "current previous"),
// Count (how many signatures follow, at most the number asked for) and a
// body of Count raw 64-byte signatures. 503 when this second's budget is
// spent, 400 for a bad Count or Second.

// MaxStampCount is the most signatures one GET /stamp asks for.
const MaxStampCount = 1 << 16

// parallelFrom is the number of signatures from which a request is signed
// on every core: below it, the goroutines cost more than they save.
const parallelFrom = 256

// stampBudget counts the signatures made in one second of the clock.
type stampBudget struct {
	mu   sync.Mutex
	sec  int64
	used int
}

// take reserves up to n signatures of second sec's budget and returns how
// many it got.
func (b *stampBudget) take(sec int64, n, limit int) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sec != sec {
		b.sec, b.used = sec, 0
	}
	n = max(0, min(n, limit-b.used))
	b.used += n
	return n
}

var (
	errCount  = fmt.Errorf("the Count header is not a number from 1 to %d", MaxStampCount)
	errSecond = errors.New("the Second header is not a second next to this instance's clock")
)

// parseStampRequest reads Count and Second. now is this instance's second.
func parseStampRequest(h *fasthttp.RequestHeader, now int64) (count int, second int64, err error) {
	// Digits as P-UTC is written: one spelling per number.
	c, err := stamp.ParsePUTC(string(h.Peek("Count")))
	if err != nil || c < 1 || c > MaxStampCount {
		return 0, 0, errCount
	}
	count = int(c)
	second = now
	if v := h.Peek("Second"); v != nil {
		second, err = stamp.ParsePUTC(string(v))
		if err != nil || second < now-1 || second > now+1 {
			return 0, 0, errSecond
		}
	}
	return count, second, nil
}

// handleStamp answers GET /stamp.
func (s *Server) handleStamp(ctx *fasthttp.RequestCtx) {
	now := s.cfg.Clock()
	count, second, err := parseStampRequest(&ctx.Request.Header, now.Unix())
	if err != nil {
		s.log.Debug("collector: GET /stamp refused", "err", err)
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		return
	}
	at := time.Unix(second, 0)
	cur, err1 := totp.Code(s.cfg.Secrets.TOTPSeed, at)
	prev, err2 := totp.Code(s.cfg.Secrets.TOTPSeed, at.Add(-totp.Step))
	if err1 != nil || err2 != nil {
		s.log.Error("collector: booth codes", "err", errors.Join(err1, err2))
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		return
	}
	n := s.stampBudget.take(now.Unix(), count, s.cfg.StampsPerSecond)
	if n == 0 {
		s.log.Warn("collector: the stamps of this second are spent", "per_second", s.cfg.StampsPerSecond)
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		return
	}
	putc := strconv.FormatInt(second, 10)
	body := make([]byte, n*hedged.SignatureSize)
	if err := signAll(s.utcSign, []byte(putc), body); err != nil {
		s.log.Error("collector: signing platform stamps", "err", err)
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		return
	}
	s.stats.stampsSigned.Add(n)
	ctx.SetStatusCode(fasthttp.StatusOK)
	h := &ctx.Response.Header
	h.Set("P-UTC", putc)
	h.Set("Codes", cur+" "+prev)
	h.Set("Count", strconv.Itoa(n))
	h.Set("Cache-Control", "no-store")
	h.SetContentType("application/octet-stream")
	ctx.SetBody(body)
}

// signAll fills out, a whole number of signatures long, with fresh
// signatures of msg, on every core when there are many.
func signAll(k *hedged.Signer, msg, out []byte) error {
	n := len(out) / hedged.SignatureSize
	workers := 1
	if n >= parallelFrom {
		workers = runtime.GOMAXPROCS(0)
	}
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				sig := (*[hedged.SignatureSize]byte)(out[i*hedged.SignatureSize:])
				if err := k.Sign(cryptorand.Reader, msg, sig); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
