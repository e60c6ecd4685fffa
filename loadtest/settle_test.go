package loadtest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/powvote/powvote/campaign"
)

// TestSettleRefill serves lists as the publisher can leave them after the
// fillers: every acknowledged vote's stamp is in the votes list, but one
// acknowledged vote's voter waits in the queue while a filler's voter was
// published. settle sends the second round of fillers once the lists are
// quiet, and returns when the next batch has published the voter.
func TestSettleRefill(t *testing.T) {
	const batch = 4
	acked := newFixture(t, 6)   // the run's acknowledged votes
	fillers := newFixture(t, 8) // two rounds of fillers
	var mu sync.Mutex
	// Published: the six votes and three fillers' votes; the voters of
	// five of the votes and of four fillers.
	votes := append(append(newFixture(t, 0).votes, acked.votes...), fillers.votes[:3]...)
	voters := append(append(newFixture(t, 0).voters, acked.voters[:5]...), fillers.voters[:4]...)
	refills := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		f := &fixture{votes: votes, voters: voters}
		v, a := f.lists()
		mu.Unlock()
		switch req.URL.Path {
		case "/load-vote.log":
			w.Write(v)
		case "/load-auth.log":
			w.Write(a)
		default:
			http.NotFound(w, req)
		}
	}))
	defer srv.Close()
	r := &runner{
		cfg:  Config{Campaign: &campaign.Campaign{Settings: &campaign.Settings{Name: "load", BatchSize: batch}}, Settle: time.Minute},
		log:  io.Discard,
		edge: &edgeClient{base: srv.URL},
	}
	refill := func() bool {
		mu.Lock()
		defer mu.Unlock()
		refills++
		// The next batch: the waiting voter first, then the rest.
		votes = append(votes, fillers.votes[3:]...)
		voters = append(append(voters, acked.voters[5]), fillers.voters[4:]...)
		return true
	}
	start := time.Now()
	c, _, err := r.settle(context.Background(), acked.acked, nil, 0, refill)
	if err != nil {
		t.Fatal(err)
	}
	if refills != 1 || c.Missing != 0 || c.Lost != 0 || !c.LengthsEqual {
		t.Fatalf("after %v: %d refills, %+v; want one refill and every vote published", time.Since(start), refills, c)
	}
	if time.Since(start) < refillQuiet {
		t.Errorf("refilled after %v, before the lists had been quiet for %v", time.Since(start), refillQuiet)
	}

	// Without the refill, the same lists are a loss once Settle passes.
	votes = append(append(newFixture(t, 0).votes, acked.votes...), fillers.votes[:3]...)
	voters = append(append(newFixture(t, 0).voters, acked.voters[:5]...), fillers.voters[:4]...)
	r.cfg.Settle = 2 * time.Second
	c, _, err = r.settle(context.Background(), acked.acked, nil, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Lost != 1 {
		t.Fatalf("without a refill: %+v, want one lost", c)
	}
}
