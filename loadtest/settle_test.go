package loadtest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/listline"
)

// TestSettleRefill serves lists as the publisher can leave them after the
// first round of fillers, a batch of votes and of voters kept back: every
// acknowledged vote's stamp is in the votes list, but acknowledged votes'
// voters became final in the same round as the fillers' and are kept back
// among them, one of them or a whole batch. settle sends the second round
// of fillers once the lists are quiet, and returns when the next batch has
// published the voters.
// listRunner is a runner of campaign "load" whose edge serves the lists of
// what current returns at each request, until the test ends.
func listRunner(t *testing.T, batch int, current func() *fixture) *runner {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		v, a := current().lists()
		switch req.URL.Path {
		case "/load-vote.log":
			w.Write(v)
		case "/load-auth.log":
			w.Write(a)
		default:
			http.NotFound(w, req)
		}
	}))
	t.Cleanup(srv.Close)
	return &runner{
		cfg:  Config{Campaign: &campaign.Campaign{Settings: &campaign.Settings{Name: "load", BatchSize: batch}}, Settle: time.Minute},
		log:  io.Discard,
		edge: &edgeClient{base: srv.URL},
	}
}

// TestSettleRefillAgain: a voter still pending on its collector when the
// first refill's batch became final comes with the next one, and is kept
// back again; settle sends further rounds, one at a time, until it is
// published, and stops at the last.
func TestSettleRefillAgain(t *testing.T) {
	const batch = 4
	acked := newFixture(t, 6)
	fillers := newFixture(t, (fillerFirst+fillerSecond)*batch)
	var mu sync.Mutex
	// 10 published, a batch kept back: one acknowledged vote's voter waits.
	votes := append(slices.Clone(acked.votes), fillers.votes[:4]...)
	voters := append(slices.Clone(acked.voters[:5]), fillers.voters[:5]...)
	r := listRunner(t, batch, func() *fixture {
		mu.Lock()
		defer mu.Unlock()
		return &fixture{votes: votes, voters: voters}
	})
	refills := 0
	refill := func() (bool, bool) {
		mu.Lock()
		defer mu.Unlock()
		refills++
		switch refills {
		case 1: // a batch of fillers is final; the voter still waits
			votes = append(votes, fillers.votes[4:8]...)
			voters = append(voters, fillers.voters[5:9]...)
		case 2: // with the next, it is published
			votes = append(votes, fillers.votes[8:12]...)
			voters = append(append(voters, acked.voters[5]), fillers.voters[9:12]...)
		}
		return true, refills == fillerSecond
	}
	c, _, err := r.settle(context.Background(), acked.acked, nil, 0, refill)
	if err != nil {
		t.Fatal(err)
	}
	if refills != 2 || c.Missing != 0 || c.Lost != 0 || !c.LengthsEqual {
		t.Fatalf("%d refills, %+v; want two and every vote published", refills, c)
	}
}

func TestSettleRefill(t *testing.T) {
	const batch = 4
	for _, kept := range []int{1, batch} {
		t.Run(fmt.Sprintf("%d voters kept back", kept), func(t *testing.T) {
			acked := newFixture(t, 6)                                  // the run's acknowledged votes
			fillers := newFixture(t, (fillerFirst+fillerSecond)*batch) // both rounds of fillers
			// 14 ready, a batch kept back: the six votes and four
			// fillers' votes; the voters of all but kept of the votes,
			// and of the fillers to make up ten.
			first := func() ([]listline.Vote, []listline.Voter) {
				return append(slices.Clone(acked.votes), fillers.votes[:4]...),
					append(slices.Clone(acked.voters[:6-kept]), fillers.voters[:4+kept]...)
			}
			var mu sync.Mutex
			votes, voters := first()
			refills := 0
			r := listRunner(t, batch, func() *fixture {
				mu.Lock()
				defer mu.Unlock()
				return &fixture{votes: votes, voters: voters}
			})
			refill := func() (bool, bool) {
				mu.Lock()
				defer mu.Unlock()
				refills++
				// 18 ready, the second round kept back: what was kept
				// back is published, the waiting voters with it.
				votes = append(votes, fillers.votes[4:8]...)
				voters = append(append(voters, acked.voters[6-kept:]...), fillers.voters[4+kept:8]...)
				return true, false
			}
			start := time.Now()
			c, _, err := r.settle(context.Background(), acked.acked, nil, 0, refill)
			if err != nil {
				t.Fatal(err)
			}
			if refills != 1 || c.Missing != 0 || c.Lost != 0 || !c.LengthsEqual || c.VoteLines != 14 {
				t.Fatalf("after %v: %d refills, %+v; want one refill and every vote published", time.Since(start), refills, c)
			}
			if time.Since(start) < refillQuiet {
				t.Errorf("refilled after %v, before the lists had been quiet for %v", time.Since(start), refillQuiet)
			}

			// Without the refill, the same lists are a loss once Settle passes.
			votes, voters = first()
			r.cfg.Settle = 2 * time.Second
			c, _, err = r.settle(context.Background(), acked.acked, nil, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.Lost != kept {
				t.Fatalf("without a refill: %+v, want %d lost", c, kept)
			}
		})
	}
}
