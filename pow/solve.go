package pow

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// batch is how many nonces a worker hashes between looks at its context
// and updates of its hash counter: a fraction of a millisecond of work, so
// a cancelled or finished search stops quickly while the checks cost
// nothing measurable.
const batch = 4096

// progressEvery is the interval between two calls of Solver.Progress.
const progressEvery = 250 * time.Millisecond

// errBudget ends a search that was given a fixed number of hashes (only
// benchmarks do that) before it met its target.
var errBudget = errors.New("pow: hash budget spent")

// A Solver searches for nonces. The zero value is ready to use. Solve does
// not modify the Solver, so one Solver may run several searches at the same
// time as long as its Rand is safe for concurrent use (crypto/rand is).
type Solver struct {
	// Workers is the number of goroutines that search, each on its own
	// stretch of nonces. Zero means runtime.GOMAXPROCS(0).
	Workers int

	// Progress, if not nil, receives the total number of hashes computed so
	// far, about four times a second while Solve runs and once more, with
	// the final total, just before Solve returns. It is called on the
	// goroutine that called Solve, never concurrently, so it needs no
	// locking; the workers keep hashing while it runs, but Solve does not
	// return before it has.
	Progress func(hashes uint64)

	// Rand supplies the workers' start nonces, read on the goroutine that
	// called Solve before any worker starts. Nil means crypto/rand.Reader.
	Rand io.Reader
}

// Result is the outcome of a search.
type Result struct {
	Nonce  []byte   // best nonce found; nil if none was hashed
	Score  int      // its score
	Digest [32]byte // its digest
	Hashes uint64   // nonces hashed by all workers together
}

// Solve searches until a nonce scores >= target or ctx is done. On cancel it
// returns the best nonce found so far and ctx.Err().
//
// Solve picks the nonce length itself (see the package documentation) and
// starts each worker at a nonce read from s.Rand. Workers look at ctx, and
// at whether another worker has met the target, every few thousand hashes.
// A target of 0 or less is met by the first nonce hashed; a target above
// 256 is an error. If ctx is already done, Solve returns at once with an
// empty Result.
func (s *Solver) Solve(ctx context.Context, w Work, target int) (Result, error) {
	return s.solve(ctx, w, target, 0)
}

// worker is one searching goroutine's state. Only that goroutine touches it
// while it runs, except hashes, which Solve reads for Progress.
type worker struct {
	start      []byte // first nonce, read from Solver.Rand
	it         *iter
	bestScore  int // -1 until the first nonce is hashed
	bestNonce  [MaxNonce]byte
	bestDigest [32]byte
	hashes     atomic.Uint64 // updated once per batch
}

// solve is Solve with a hash budget per worker, 0 meaning none; a search
// that spends its budget returns errBudget.
func (s *Solver) solve(ctx context.Context, w Work, target int, budget uint64) (Result, error) {
	if target > 256 {
		return Result{}, fmt.Errorf("pow: target %d bits is above 256", target)
	}
	workers := s.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if workers < 0 {
		return Result{}, fmt.Errorf("pow: Solver.Workers is %d, want 0 or more", workers)
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	rnd := s.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	prefix := w.Prefix()
	n := nonceLen(len(prefix))
	ws := make([]*worker, workers)
	for i := range ws {
		start := make([]byte, n)
		if _, err := io.ReadFull(rnd, start); err != nil {
			return Result{}, fmt.Errorf("pow: couldn't read the start nonce of worker %d: %w", i, err)
		}
		ws[i] = &worker{start: start, bestScore: -1}
	}

	// The first worker to meet the target cancels wctx, which stops the
	// others at their next batch.
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	for _, wk := range ws {
		wg.Go(func() { wk.run(wctx, stop, prefix, target, budget) })
	}
	if s.Progress == nil {
		wg.Wait()
	} else {
		s.report(ws, &wg)
	}

	var res Result
	best := ws[0]
	for _, wk := range ws {
		res.Hashes += wk.hashes.Load()
		if wk.bestScore > best.bestScore {
			best = wk
		}
	}
	if best.bestScore >= 0 {
		res.Nonce = append([]byte(nil), best.bestNonce[:n]...)
		res.Score = best.bestScore
		res.Digest = best.bestDigest
	}
	if s.Progress != nil {
		s.Progress(res.Hashes)
	}
	switch {
	case res.Nonce != nil && res.Score >= target:
		return res, nil
	case ctx.Err() != nil:
		return res, ctx.Err()
	default:
		return res, errBudget
	}
}

// report calls s.Progress on a ticker until the workers are done.
func (s *Solver) report(ws []*worker, wg *sync.WaitGroup) {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			var total uint64
			for _, wk := range ws {
				total += wk.hashes.Load()
			}
			s.Progress(total)
		}
	}
}

// run searches batch by batch until the target is met, ctx is done or the
// budget (if not 0) is spent.
func (wk *worker) run(ctx context.Context, stop context.CancelFunc, prefix []byte, target int, budget uint64) {
	// The iterator's buffers and hash state are written for every nonce.
	// Allocating them here, rather than on the goroutine that started the
	// workers, takes them from this goroutine's processor's own memory
	// spans, so the workers do not share cache lines.
	wk.it = newIter(prefix, wk.start)
	left := budget
	for budget == 0 || left > 0 {
		select {
		case <-ctx.Done():
			return
		default:
		}
		m := uint64(batch)
		if budget != 0 {
			m = min(m, left)
			left -= m
		}
		h, found := wk.search(target, m)
		wk.hashes.Add(h)
		if found {
			stop()
			return
		}
	}
}

// search hashes up to m consecutive nonces and reports how many it hashed
// and whether the last one meets target. This is the solver's inner loop.
func (wk *worker) search(target int, m uint64) (uint64, bool) {
	it := wk.it
	for i := uint64(1); i <= m; i++ {
		it.hash()
		// bestScore < target holds here, so a nonce that meets the target
		// is always recorded as the best.
		if s := Score(it.sum); s > wk.bestScore {
			wk.bestScore = s
			copy(wk.bestNonce[:], it.nonce())
			wk.bestDigest = it.sum
			if s >= target {
				return i, true
			}
		}
		it.next()
	}
	return m, false
}

// typicalWork is a vote of the usual size: 10-digit P-UTC, 64-byte P-SIG,
// 39-character voter stamp and a 12-byte option, a 125-byte prefix that
// takes an 8-byte nonce. Rate and the benchmarks hash it.
func typicalWork() Work {
	sig := make([]byte, 64)
	for i := range sig {
		sig[i] = byte(i*37 + 11)
	}
	return Work{
		PUTC:  "1767225600",
		PSig:  sig,
		Voter: "7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS-1NCA-8FYQ",
		Say:   "Solar panels",
	}
}

// Rate measures the hashes per second of a Solver with the given number of
// workers (0 means runtime.GOMAXPROCS(0)) searching for d on a typical vote
// (125-byte prefix, 8-byte nonce; see BENCHMARKS.md). The figure is the
// total of all workers. If ctx is done before d has passed, Rate returns the
// rate measured until then and ctx.Err().
func Rate(ctx context.Context, workers int, d time.Duration) (float64, error) {
	if d <= 0 {
		return 0, fmt.Errorf("pow: Rate needs a positive duration, got %v", d)
	}
	tctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	s := &Solver{Workers: workers}
	start := time.Now()
	// No nonce reaches 256 zero bits, so the search runs until tctx ends.
	res, err := s.Solve(tctx, typicalWork(), 256)
	elapsed := time.Since(start)
	if err != nil && !errors.Is(err, tctx.Err()) {
		return 0, err
	}
	rate := float64(res.Hashes) / elapsed.Seconds()
	return rate, ctx.Err()
}
