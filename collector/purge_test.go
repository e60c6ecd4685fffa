package collector_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/powvote/powvote/collector"
)

// TestPurgeAfterClose: while the campaign runs, a pair holds pending
// voters (fewer than a batch wait for the mover); once it is closed, each
// instance purges itself as soon as its twin has confirmed its votes, and
// holds no link and no pending voter. An offline purge of the stopped
// instances then has nothing left to do.
func TestPurgeAfterClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.settings.BatchSize = 100 // more than the votes: the mover waits
	lnA, lnB := listen(t, "127.0.0.1:0"), listen(t, "127.0.0.1:0")
	dirA, dirB := t.TempDir(), t.TempDir()
	cfgA, cfgB := e.twinConfig(dirA, "http://"+lnB.Addr().String()), e.twinConfig(dirB, "http://"+lnA.Addr().String())
	cfgA.HeldReport = 20 * time.Millisecond
	a := e.startOn(t, cfgA, lnA)
	b := e.startOn(t, cfgB, lnB)
	e.healthy(t, a)
	e.healthy(t, b)
	for i := range 8 {
		in := a
		if i%3 == 0 {
			in = b
		}
		e.mustVote(t, in, e.newBallot(t, testOptions[i%3]))
	}
	eventually(t, "both hold every vote", func() bool {
		va, _ := a.srv.Counts()
		vb, _ := b.srv.Counts()
		return va == 8 && vb == 8
	})
	links, pending := a.srv.Held()
	if pending == 0 {
		t.Fatal("A holds no pending voter before the close: the test cannot see a purge")
	}
	// The operator sees it in the log.
	eventually(t, "A reports what it holds", func() bool {
		return strings.Contains(e.logs.String(), fmt.Sprintf("pending_voters=%d", pending))
	})
	t.Logf("before the close: %d links, %d pending voters", links, pending)

	e.clock.Set(collector.Closed(e.settings).Add(time.Second))
	for _, in := range []*instance{a, b} {
		eventually(t, in.addr+" purged", func() bool {
			links, pending := in.srv.Held()
			return links == 0 && pending == 0
		})
	}
	eventually(t, "both log their purge", func() bool {
		return strings.Count(e.logs.String(), "purged the store") == 2
	})
	checkCounts(t, a, 8, 8)
	e.sameRecords(t, a, b)
	a.stop()
	b.stop()
	for _, dir := range []string{dirA, dirB} {
		links, pending, err := collector.Purge(context.Background(), dir, e.settings, false, nil)
		if err != nil || links != 0 || pending != 0 {
			t.Errorf("offline Purge of %s after the close: %d links, %d pending, %v", dir, links, pending, err)
		}
	}
	e.noErrorsLogged(t)
}

// TestPurgeOffline: a stopped instance whose twin never confirmed its
// votes keeps their links unless forced, says how many, and loses no
// vote either way.
func TestPurgeOffline(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.settings.BatchSize = 100
	dir := t.TempDir()
	// A twin that never answers: nothing is confirmed.
	cfg := e.twinConfig(dir, "http://"+listen(t, "127.0.0.1:0").Addr().String())
	cfg.CatchUpTimeout = 50 * time.Millisecond
	a := e.start(t, cfg)
	e.healthy(t, a)
	for i := range 3 {
		e.mustVote(t, a, e.newBallot(t, testOptions[i]))
	}
	a.stop()

	links, pending, err := collector.Purge(context.Background(), dir, e.settings, false, nil)
	if !errors.Is(err, collector.ErrUnconfirmed) || links != 3 || pending != 3 || !strings.Contains(err.Error(), "3 links") {
		t.Fatalf("Purge = %d links, %d pending, %v; want 3, 3 and ErrUnconfirmed naming 3 links", links, pending, err)
	}
	if _, _, err := collector.Purge(context.Background(), dir, e.settings, true, nil); err != nil {
		t.Fatalf("forced Purge: %v", err)
	}
	if links, pending, err := collector.Purge(context.Background(), dir, e.settings, false, nil); err != nil || links+pending != 0 {
		t.Fatalf("Purge after a forced one: %d links, %d pending, %v", links, pending, err)
	}
	// Every vote is still there.
	cfg.Twin = ""
	a = e.start(t, cfg)
	e.healthy(t, a)
	checkCounts(t, a, 3, 3)
	votes, voters := e.records(t, a)
	if len(votes) != 3 || len(voters) != 3 {
		t.Errorf("after the purges: %d votes, %d voters served, want 3 and 3", len(votes), len(voters))
	}
}
