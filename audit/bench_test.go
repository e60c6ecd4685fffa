package audit

import (
	"context"
	"crypto/ed25519"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/powvote/powvote/listline"
)

// benchVotesEnv names the variable that sets the size of the benchmarks'
// lists: POWVOTE_AUDIT_VOTES=1000000 go test -bench . ./audit
const benchVotesEnv = "POWVOTE_AUDIT_VOTES"

var (
	benchOnce sync.Once
	benchFix  *fixture
	benchErr  error
)

// benchLists builds the lists once for both benchmarks, at threshold 1 so
// that generating them costs little more than signing the mandates.
func benchLists(b *testing.B) *fixture {
	benchOnce.Do(func() {
		n := 20000
		if s := os.Getenv(benchVotesEnv); s != "" {
			if n, benchErr = strconv.Atoi(s); benchErr != nil {
				return
			}
		}
		benchFix = newFixture(b, n, 1)
	})
	if benchErr != nil {
		b.Fatalf("%s: %v", benchVotesEnv, benchErr)
	}
	return benchFix
}

// BenchmarkAudit audits a votes list and a voters list of N lines each
// with every core. Compare its ns/op with BenchmarkEd25519Only's: the
// difference is what the audit costs beyond verifying the mandates.
func BenchmarkAudit(b *testing.B) {
	f := benchLists(b)
	dir := write(b, f.votes, f.voters)
	var size int64
	for _, name := range []string{"solar-vote.log", "solar-auth.log"} {
		st, err := os.Stat(string(dir) + "/" + name)
		if err != nil {
			b.Fatal(err)
		}
		size += st.Size()
	}
	b.SetBytes(size)
	for b.Loop() {
		r, err := Run(context.Background(), dir, f.settings, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if !r.OK() || r.Votes != len(f.votes) {
			b.Fatalf("audit of the generated lists: ok %v, %d votes", r.OK(), r.Votes)
		}
	}
	b.ReportMetric(float64(len(f.votes))*float64(b.N)/b.Elapsed().Seconds(), "votes/s")
}

// BenchmarkEd25519Only verifies the N mandates of BenchmarkAudit's voters
// list, already decoded, with every core and nothing else.
func BenchmarkEd25519Only(b *testing.B) {
	f := benchLists(b)
	voters := make([]listline.Voter, len(f.voters))
	for i, l := range f.voters {
		v, err := listline.ParseVoter(l)
		if err != nil {
			b.Fatal(err)
		}
		voters[i] = v
	}
	workers := runtime.GOMAXPROCS(0)
	for b.Loop() {
		var next atomic.Int64
		var bad atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				// Claim 256 at a time, as a batch of lines would be.
				for {
					end := next.Add(256)
					start := end - 256
					if start >= int64(len(voters)) {
						return
					}
					for _, v := range voters[start:min(end, int64(len(voters)))] {
						if !ed25519.Verify(v.Pkey[:], v.ID[:], v.Sig[:]) {
							bad.Add(1)
						}
					}
				}
			})
		}
		wg.Wait()
		if bad.Load() != 0 {
			b.Fatal("a mandate does not verify")
		}
	}
	b.ReportMetric(float64(len(voters))*float64(b.N)/b.Elapsed().Seconds(), "votes/s")
}
