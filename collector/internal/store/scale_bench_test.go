package store

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkVoterTableScale fills one store with POWVOTE_SCALE mandates
// (default 10,000,000) through Accept from 512 concurrent callers, as a
// busy collector's requests arrive, and compares the check-and-insert
// rate of the last million with that of the first: a table that slows as
// it grows shows up as a ratio below 1. It also reports the Go heap after
// the fill. It takes minutes and gigabytes of disk: make bench-table runs
// it, CI does not.
func BenchmarkVoterTableScale(b *testing.B) {
	total := 10_000_000
	if s := os.Getenv("POWVOTE_SCALE"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 2_000_000 {
			b.Fatalf("POWVOTE_SCALE=%q: want a count of at least 2000000", s)
		}
		total = n
	}
	const window = 1_000_000
	const callers = 512
	for range b.N {
		s := openT(b, b.TempDir(), Options{})
		var next atomic.Int64
		var mu sync.Mutex
		marks := map[int64]time.Time{}
		start := time.Now()
		var wg sync.WaitGroup
		var failed atomic.Value
		for range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1) - 1
					if i >= int64(total) {
						return
					}
					res, err := s.Accept(context.Background(), testVoter(int(i)), testVote(int(i), 0), Receipt{})
					if err != nil || res.Repeat {
						failed.Store(err)
						return
					}
					if done := i + 1; done == window || done == int64(total-window) || done == int64(total) {
						mu.Lock()
						marks[done] = time.Now()
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		if err := failed.Load(); err != nil {
			b.Fatalf("accept: %v", err)
		}
		for _, k := range []int64{window, int64(total - window), int64(total)} {
			if _, ok := marks[k]; !ok {
				b.Fatalf("no time taken after %d accepts", k)
			}
		}
		// Callers finish out of order by at most 512 accepts, which is
		// nothing against a million.
		first := float64(window) / marks[window].Sub(start).Seconds()
		last := float64(window) / marks[int64(total)].Sub(marks[int64(total-window)]).Seconds()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(0, "ns/op")
		b.ReportMetric(first, "first-M-accepts/s")
		b.ReportMetric(last, "last-M-accepts/s")
		b.ReportMetric(last/first, "last/first")
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
		b.ReportMetric(float64(total)/time.Since(start).Seconds(), "all-accepts/s")
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
