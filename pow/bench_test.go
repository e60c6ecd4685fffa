package pow

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"runtime"
	"testing"
)

// The benchmarks hash the typical vote: a 125-byte prefix and an 8-byte
// nonce, 133 bytes. Their ns/op is per hash.

var sinkDigest [32]byte

// BenchmarkPlainSum256 is the baseline: the whole message hashed for every
// nonce, the nonce a counter in its last 8 bytes.
func BenchmarkPlainSum256(b *testing.B) {
	msg := typicalWork().Prefix()
	if len(msg) != 125 {
		b.Fatalf("typical prefix is %d bytes", len(msg))
	}
	msg = append(msg, make([]byte, 8)...)
	for i := 0; i < b.N; i++ {
		binary.BigEndian.PutUint64(msg[125:], uint64(i))
		sinkDigest = sha256.Sum256(msg)
	}
	reportRate(b)
}

// BenchmarkSolverOneCore runs the solver with one worker for b.N hashes; on
// top of hashing this counts scoring, best-so-far tracking and batching.
func BenchmarkSolverOneCore(b *testing.B) {
	benchSolver(b, 1)
}

// BenchmarkSolverAllCores runs one worker per core for b.N hashes in all;
// ns/op is wall time per hash, MH/s the total rate.
func BenchmarkSolverAllCores(b *testing.B) {
	benchSolver(b, runtime.GOMAXPROCS(0))
}

func benchSolver(b *testing.B, workers int) {
	s := &Solver{Workers: workers}
	// Rounding up keeps every worker busy for the whole run; the few extra
	// hashes are negligible next to b.N.
	budget := (uint64(b.N) + uint64(workers) - 1) / uint64(workers)
	b.ResetTimer()
	res, err := s.solve(context.Background(), typicalWork(), 256, budget)
	b.StopTimer()
	if !errors.Is(err, errBudget) {
		b.Fatalf("solve: %v", err)
	}
	if want := budget * uint64(workers); res.Hashes != want {
		b.Fatalf("hashed %d nonces, want %d", res.Hashes, want)
	}
	reportRate(b)
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "MH/s")
}
