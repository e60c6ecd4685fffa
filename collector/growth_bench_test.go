package collector_test

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/collector/internal/store"
	"github.com/powvote/powvote/internal/mtls"
	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/publisher"
	"github.com/powvote/powvote/stamp"
)

// BenchmarkPublisherGrowth measures what publishing a vote costs in a
// campaign that already holds many: a pair of collectors whose stores
// hold n votes and voters (filled directly, as copies from a twin), a
// publisher that has published them, then rounds of new votes cast on
// both instances. For the rounds that publish the new votes it reports
// the process's CPU time (the publisher and the collectors answering it)
// and the bytes the publisher read from the collectors, per published
// vote. A cost that does not grow with the campaign gives the same
// figures at 10,000 and at 1,000,000 (make bench-growth).
//
// POWVOTE_GROWTH sets the sizes, comma-separated (default 10000).
func BenchmarkPublisherGrowth(b *testing.B) {
	sizes := []int{10_000}
	if s := os.Getenv("POWVOTE_GROWTH"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(f)
			if err != nil || n < 1 {
				b.Fatalf("POWVOTE_GROWTH: %q", f)
			}
			sizes = append(sizes, n)
		}
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("voters=%d", n), func(b *testing.B) { benchGrowth(b, n) })
	}
}

// growthRounds and growthVotes are the measured part: rounds of new votes,
// each published by publisher rounds before the next.
const (
	growthRounds = 5
	growthVotes  = 400
)

func benchGrowth(b *testing.B, n int) {
	e := newEnv(b)
	var dirs [2]string
	var wg sync.WaitGroup
	fillStart := time.Now()
	for i := range dirs {
		dirs[i] = b.TempDir()
		wg.Go(func() { fillStore(b, e, dirs[i], n) })
	}
	wg.Wait()
	b.Logf("filled two stores with %d votes in %v", n, time.Since(fillStart).Round(time.Second))

	var ins [2]*instance
	for i := range ins {
		cfg := e.config(dirs[i])
		cfg.Instance = i
		ins[i] = e.start(b, cfg)
	}
	for i := range ins {
		e.healthy(b, ins[i])
	}
	var tick atomic.Int64
	p, err := publisher.New(publisher.Config{
		Campaign: "solar",
		Link:     e.plain.Link(string(campaign.RolePublisher), mtls.AnyInstance),
		Dir:      b.TempDir(),
		Pairs:    [][2]string{{ins[0].url, ins[1].url}},
		LogKey:   e.secrets.LogKey,
		Options:  e.settings.Options,
		// Every round may grow the lists: the clock moves a second a read.
		Clock: func() time.Time { return campaignStart.Add(time.Duration(tick.Add(1)) * time.Second) },
	})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	publishAll := func(want int64) {
		b.Helper()
		for range 100 {
			if err := p.PullOnce(ctx); err != nil {
				b.Fatal(err)
			}
			if p.Status().Lines >= want {
				return
			}
		}
		b.Fatalf("published %d lines after 100 rounds, want %d: %+v", p.Status().Lines, want, p.Status())
	}
	first := time.Now()
	publishAll(int64(n))
	b.Logf("first publication of %d votes: %v", n, time.Since(first).Round(time.Millisecond))

	var cpu time.Duration
	var read int64
	total := n
	for i := 0; i < b.N*growthRounds; i++ {
		for range growthVotes {
			bl := e.newBallot(b, testOptions[total%len(testOptions)])
			e.mustVote(b, ins[0], bl)
			e.mustVote(b, ins[1], bl)
			total++
		}
		cpu0, read0 := processCPU(b), p.BytesRead()
		publishAll(int64(total))
		cpu += processCPU(b) - cpu0
		read += p.BytesRead() - read0
	}
	votes := float64(b.N * growthRounds * growthVotes)
	b.ReportMetric(float64(cpu.Nanoseconds())/votes, "cpu-ns/vote")
	b.ReportMetric(float64(read)/votes, "read-B/vote")
	b.ReportMetric(0, "ns/op")
}

// processCPU is the user and system time this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// fillStore puts n votes and their voters into a new store in dir as
// copies from a twin, in groups of 10,000: the mandates' signatures are
// random (nothing on the way to the lists verifies them again), the voter
// stamps are genuine. Every call fills the same votes.
func fillStore(b *testing.B, e *env, dir string, n int) {
	st, err := store.Open(dir, store.Options{MoveBatch: e.settings.BatchSize})
	if err != nil {
		b.Error(err)
		return
	}
	defer st.Close()
	putc := strconv.FormatInt(campaignStart.Add(time.Hour).Unix(), 10)
	// The same seed for both instances: they hold the same votes.
	rng := mrand.NewChaCha8([32]byte{'g', 'r', 'o', 'w'})
	var psig [64]byte
	rng.Read(psig[:])
	pkey := e.authority.Public().(ed25519.PublicKey)
	const group = 10_000
	pairs := make([]store.Pair, 0, group)
	for i := 0; i < n; {
		pairs = pairs[:0]
		for ; i < n && len(pairs) < group; i++ {
			var v listline.Voter
			copy(v.Pkey[:], pkey)
			binary.BigEndian.PutUint64(v.ID[:], uint64(i))
			rng.Read(v.ID[8:])
			rng.Read(v.Sig[:])
			vote := listline.Vote{PUTC: putc, PSig: psig, Nonce: binary.BigEndian.AppendUint64(nil, uint64(i)), Option: testOptions[i%len(testOptions)]}
			vote.Voter, err = stamp.NewVoter(e.secrets.VoterStampKey, rng, putc, psig[:])
			if err != nil {
				b.Error(err)
				return
			}
			pairs = append(pairs, store.Pair{Seq: uint64(i + 1), Voter: v, Vote: vote})
		}
		if err := st.ApplyTwin(pairs, uint64(i)); err != nil {
			b.Error(err)
			return
		}
	}
}
