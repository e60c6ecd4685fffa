package pow_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/powvote/powvote/pow"
)

// workOfLen returns a vote whose prefix is 113 + len(say) bytes.
func workOfLen(t testing.TB, say string) pow.Work {
	t.Helper()
	w := exampleWork(t)
	w.Say = say
	return w
}

// constReader reads as an endless run of one byte.
type constReader byte

func (c constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

func TestSolve(t *testing.T) {
	tests := []struct {
		name     string
		w        pow.Work
		target   int
		workers  int
		nonceLen int
	}{
		{"example one worker", exampleWork(t), 12, 1, 8},
		{"example two workers", exampleWork(t), 14, 2, 8},
		{"target 0", exampleWork(t), 0, 2, 8},
		{"target 1", exampleWork(t), 1, 2, 8},
		{"ASCII option", workOfLen(t, "Solar panels"), 10, 2, 8},
		{"non-ASCII option", workOfLen(t, "Énergie solaire ☀ 太陽"), 10, 2, 8},
		{"prefix 128 (mod 64 = 0)", workOfLen(t, strings.Repeat("a", 15)), 10, 2, 8},
		{"prefix 119 (mod 64 = 55)", workOfLen(t, "Plüto"), 10, 2, 13},
		{"prefix 120 (mod 64 = 56)", workOfLen(t, "Neptune"), 10, 2, 12},
		{"prefix 127 (mod 64 = 63)", workOfLen(t, "Mercury, Venus"), 10, 2, 8},
		{"prefix 176 (mod 64 = 48)", workOfLen(t, strings.Repeat("b", 63)), 10, 2, 20},
		{"empty work", pow.Work{}, 10, 2, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := len(tt.w.Prefix()) + tt.nonceLen; n%64 < 4 || n%64 > 55 {
				t.Fatalf("bad table entry: message length %d", n)
			}
			s := &pow.Solver{Workers: tt.workers}
			res, err := s.Solve(context.Background(), tt.w, tt.target)
			if err != nil {
				t.Fatalf("Solve: %v", err)
			}
			if len(res.Nonce) != tt.nonceLen {
				t.Errorf("nonce %x has %d bytes, want %d", res.Nonce, len(res.Nonce), tt.nonceLen)
			}
			if res.Score < tt.target {
				t.Errorf("score %d below target %d", res.Score, tt.target)
			}
			score, err := pow.Verify(tt.w, res.Nonce, tt.target)
			if err != nil {
				t.Fatalf("Verify(%x): %v", res.Nonce, err)
			}
			if score != res.Score {
				t.Errorf("Verify scores %d, Solve said %d", score, res.Score)
			}
			if d := pow.Digest(tt.w, res.Nonce); d != res.Digest {
				t.Errorf("Digest = %x, Solve said %x", d, res.Digest)
			}
			if res.Hashes == 0 {
				t.Error("no hashes counted")
			}
		})
	}
}

// TestSolveCarry starts at the last nonce, so the search goes on from the
// all-zero nonce after a carry through every byte, cached blocks included.
func TestSolveCarry(t *testing.T) {
	for _, say := range []string{"Solar panels", "Plüto"} {
		w := workOfLen(t, say)
		s := &pow.Solver{Workers: 1, Rand: constReader(0xff)}
		res, err := s.Solve(context.Background(), w, 12)
		if err != nil {
			t.Fatalf("%q: %v", say, err)
		}
		if _, err := pow.Verify(w, res.Nonce, 12); err != nil {
			t.Errorf("%q: Verify(%x): %v", say, res.Nonce, err)
		}
		// One worker hashes ff..ff, then 00..00, 00..01 and so on.
		want := make([]byte, len(res.Nonce))
		switch {
		case res.Hashes == 1:
			want = bytes.Repeat([]byte{0xff}, len(res.Nonce))
		case res.Hashes >= 2:
			n := res.Hashes - 2
			for i := len(want) - 1; i >= 0; i-- {
				want[i] = byte(n)
				n >>= 8
			}
		}
		if !bytes.Equal(res.Nonce, want) {
			t.Errorf("%q: nonce %x after %d hashes, want %x", say, res.Nonce, res.Hashes, want)
		}
	}
}

func TestSolveCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	res, err := (&pow.Solver{}).Solve(ctx, exampleWork(t), 40)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Solve error %v, want context.Canceled", err)
	}
	if res.Nonce != nil || res.Hashes != 0 {
		t.Errorf("Solve hashed after cancel: %+v", res)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Solve took %v to return", d)
	}
}

func TestSolveDeadline(t *testing.T) {
	w := exampleWork(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := (&pow.Solver{Workers: 2}).Solve(ctx, w, 256)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Solve error %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Solve took %v to notice a 300ms deadline", d)
	}
	if res.Hashes < 2 || len(res.Nonce) != 8 {
		t.Fatalf("Solve returned %+v", res)
	}
	// The best nonce so far: an unlucky search of a thousand nonces or more
	// still finds a few zero bits.
	if res.Score < 3 {
		t.Errorf("best score %d after %d hashes", res.Score, res.Hashes)
	}
	score, err := pow.Verify(w, res.Nonce, res.Score)
	if err != nil || score != res.Score {
		t.Errorf("Verify(%x) = %d, %v; Solve said %d", res.Nonce, score, err, res.Score)
	}
}

func TestSolveProgress(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	var calls []uint64
	s := &pow.Solver{Workers: 2, Progress: func(h uint64) { calls = append(calls, h) }}
	start := time.Now()
	res, err := s.Solve(ctx, exampleWork(t), 256)
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Solve error %v", err)
	}
	// A tick every 250 ms, then the final total: ticks at 250 and 500 ms
	// when the machine keeps up. A loaded machine may miss ticks, or see
	// the deadline late and tick once more meanwhile, never more often.
	if maxCalls := int(took/(250*time.Millisecond)) + 1; len(calls) < 1 || len(calls) > maxCalls {
		t.Fatalf("Progress called %d times in %v: %v", len(calls), took, calls)
	}
	for i := 1; i < len(calls); i++ {
		if calls[i] < calls[i-1] {
			t.Errorf("Progress went backwards: %v", calls)
		}
	}
	if last := calls[len(calls)-1]; last != res.Hashes {
		t.Errorf("last Progress %d, Result.Hashes %d", last, res.Hashes)
	}
}

func TestSolveErrors(t *testing.T) {
	readErr := errors.New("entropy exhausted")
	tests := []struct {
		name   string
		s      pow.Solver
		target int
		want   error // nil: any error
	}{
		{"target above 256", pow.Solver{}, 257, nil},
		{"negative workers", pow.Solver{Workers: -1}, 10, nil},
		{"failing Rand", pow.Solver{Rand: iotest.ErrReader(readErr)}, 10, readErr},
		{"short Rand", pow.Solver{Workers: 2, Rand: bytes.NewReader(make([]byte, 12))}, 10, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := tt.s.Solve(context.Background(), exampleWork(t), tt.target)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("Solve error %v, want %v", err, tt.want)
			}
			if res.Nonce != nil {
				t.Errorf("Solve returned nonce %x with error", res.Nonce)
			}
		})
	}
}

func TestRate(t *testing.T) {
	r, err := pow.Rate(context.Background(), 1, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	// Even the generic SHA-256 code under the race detector does more.
	if r < 1000 {
		t.Errorf("Rate = %.0f hashes/s", r)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := pow.Rate(ctx, 1, time.Second); !errors.Is(err, context.Canceled) {
		t.Errorf("Rate with a cancelled context: %v", err)
	}
	if _, err := pow.Rate(context.Background(), 1, 0); err == nil {
		t.Error("Rate over 0s succeeded")
	}
}
