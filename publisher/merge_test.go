package publisher

import (
	"bytes"
	"crypto/rand"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/powvote/powvote/internal/mtls"
	"github.com/powvote/powvote/listline"
)

// pairRecords drives pairState.apply with records written by hand, for the
// orders of events that real collectors produce only rarely.
type pairRecords struct {
	t         *testing.T
	ps        *pairState
	log       *bytes.Buffer
	logger    *slog.Logger
	next      [2]uint64
	published map[nonceKey]bool
}

func newPairRecords(t *testing.T) *pairRecords {
	b := &bytes.Buffer{}
	return &pairRecords{t: t, ps: newPairState(0, [2]string{}, [2]uint64{1, 1}), log: b, logger: newTextLogger(b), next: [2]uint64{1, 1}, published: map[nonceKey]bool{}}
}

// vote appends a vote record of v to instance i's log.
func (pr *pairRecords) vote(i int, v *pendingVote) {
	vv := v.vote
	pr.apply(i, record{index: pr.next[i], vote: &vv, line: v.line})
}

// retract appends to instance i's log a retraction of v's nonce, bound to
// winner (by a signature the publisher does not check), or to nothing
// when winner is nil.
func (pr *pairRecords) retract(i int, v, winner *pendingVote) {
	rt := &listline.Retraction{Nonce: v.vote.Nonce}
	if winner != nil {
		rt.Winner, rt.Sig = winner.vote.Nonce, make([]byte, 64)
	}
	pr.apply(i, record{index: pr.next[i], retract: rt})
}

func (pr *pairRecords) apply(i int, r record) {
	pr.ps.apply(pr.logger, i, r, func(k nonceKey) bool { return pr.published[k] })
	pr.ps.next[i] = r.index + 1
	pr.next[i]++
}

// final returns the lines that became final since the last call.
func (pr *pairRecords) final() []string {
	var out []string
	for _, pv := range pr.ps.newVotes {
		if !pv.dropped {
			out = append(out, pv.line)
		}
	}
	pr.ps.newVotes = nil
	return out
}

func TestMergeRule(t *testing.T) {
	t.Run("both instances", func(t *testing.T) {
		pr := newPairRecords(t)
		v := randomVote(t)
		pr.vote(0, v)
		if f := pr.final(); len(f) != 0 {
			t.Fatalf("final on one instance: %v", f)
		}
		if c := pr.ps.cursors(); c != [2]uint64{1, 1} {
			t.Errorf("cursors %v with the vote open, want [1 1]", c)
		}
		pr.vote(1, v)
		if f := pr.final(); len(f) != 1 || f[0] != v.line {
			t.Fatalf("final: %v", f)
		}
		// Queued votes keep their records open until they are published.
		if c := pr.ps.cursors(); c != [2]uint64{1, 1} {
			t.Errorf("cursors %v with the vote queued, want [1 1]", c)
		}
		delete(pr.ps.pending, keyOf(v.vote.Nonce))
		if c := pr.ps.cursors(); c != [2]uint64{2, 2} {
			t.Errorf("cursors %v with the vote published, want [2 2]", c)
		}
	})
	t.Run("split", func(t *testing.T) {
		// Instance 0 accepted w, instance 1 accepted v for the same
		// mandate; v wins: instance 0 retracts w and takes v.
		pr := newPairRecords(t)
		v, w := randomVote(t), randomVote(t)
		pr.vote(0, w)
		pr.vote(1, v)
		pr.retract(0, w, v)
		pr.vote(0, v)
		if f := pr.final(); len(f) != 1 || f[0] != v.line {
			t.Fatalf("final: %v, want the winner only", f)
		}
		// w's retraction waits for v to be published, and keeps w's
		// record open until it is in the retracted list.
		want := listline.Retracted{Winner: v.vote.Nonce, Vote: w.vote}.Line()
		if h := pr.ps.held; len(h) != 1 || h[0].line != want || h[0].winner != keyOf(v.vote.Nonce) || h[0].inst != 0 || h[0].index != 1 {
			t.Fatalf("held %+v, want w's retraction bound to v", h)
		}
		if c := pr.ps.cursors(); c != [2]uint64{1, 1} {
			t.Errorf("cursors %v, want [1 1]: w's retraction and v are open", c)
		}
		pr.ps.held = nil
		if c := pr.ps.cursors(); c != [2]uint64{3, 1} {
			t.Errorf("cursors %v, want [3 1] once the retraction stands: w's fate is settled, v's is not", c)
		}
		if pr.ps.anomalies != 0 {
			t.Errorf("%d anomalies in a regular split:\n%s", pr.ps.anomalies, pr.log)
		}
	})
	for _, tc := range []struct {
		name, msg string
		run       func(pr *pairRecords, v, w *pendingVote)
	}{
		{"retracted, then on the twin", "shows up again", func(pr *pairRecords, v, w *pendingVote) {
			pr.vote(0, v)
			pr.retract(0, v, w)
			pr.vote(1, v)
		}},
		{"retracted once final", "both instances held", func(pr *pairRecords, v, w *pendingVote) {
			pr.vote(0, v)
			pr.vote(1, v)
			pr.retract(1, v, w)
		}},
		{"retraction bound to nothing", "bound to no winning vote", func(pr *pairRecords, v, _ *pendingVote) {
			pr.vote(0, v)
			pr.retract(0, v, nil)
		}},
		{"two lines under one nonce", "different votes under one nonce", func(pr *pairRecords, v, w *pendingVote) {
			w.vote.Nonce = v.vote.Nonce
			w.line = w.vote.Line()
			pr.vote(0, v)
			pr.vote(1, w)
		}},
		{"a nonce twice on one instance", "twice in one instance", func(pr *pairRecords, v, _ *pendingVote) {
			pr.vote(0, v)
			pr.vote(0, v)
		}},
		{"retraction of a published vote", "retraction of a published vote", func(pr *pairRecords, v, w *pendingVote) {
			pr.published[keyOf(v.vote.Nonce)] = true
			pr.vote(0, v)
			pr.retract(0, v, w)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr := newPairRecords(t)
			tc.run(pr, randomVote(t), randomVote(t))
			if f := pr.final(); len(f) != 0 {
				t.Errorf("final: %v", f)
			}
			if pr.ps.anomalies != 1 || !strings.Contains(pr.log.String(), tc.msg) {
				t.Errorf("%d anomalies, log:\n%s", pr.ps.anomalies, pr.log)
			}
		})
	}
}

// TestEnqueueOneVoteTwoPairs replays one vote under mandates of two pairs:
// the vote is published once, and the lists stay equal with a voter held
// back.
func TestEnqueueOneVoteTwoPairs(t *testing.T) {
	var clock tickClock
	p, err := New(Config{
		Campaign: "solar", Pairs: [][2]string{{"http://a", "http://b"}, {"http://c", "http://d"}}, Link: mtls.NewPlain("solar").Link("publisher", mtls.AnyInstance),
		Dir: t.TempDir(), Clock: clock.now, Logger: newTextLogger(&bytes.Buffer{}),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	v := randomVote(t)
	published := func(nonceKey) bool { return false }
	for _, ps := range p.pairs {
		for i := range 2 {
			vv := v.vote
			ps.apply(p.log, i, record{index: 1, vote: &vv, line: v.line}, published)
		}
		var m listline.Voter // the mandate that cast it in this pair
		rand.Read(m.ID[:])
		ps.newVoters = append(ps.newVoters, m)
	}
	p.enqueue()
	if len(p.voteQueue) != 1 || len(p.voterQueue) != 2 || p.anomalies != 1 {
		t.Fatalf("%d votes and %d voters queued, %d anomalies; want 1, 2 and 1", len(p.voteQueue), len(p.voterQueue), p.anomalies)
	}
	if len(p.pairs[0].pending)+len(p.pairs[1].pending) != 1 {
		t.Errorf("the dropped copy still holds its records open")
	}
	if err := p.publish(); err != nil {
		t.Fatal(err)
	}
	if s := p.Status(); s != (Status{Lines: 1, HeldVoters: 1, Anomalies: 1}) {
		t.Errorf("status %+v, want 1 line, a voter held, 1 anomaly", s)
	}
}

// TestEnqueueOneStampTwoVotes has two votes with one voter stamp and two
// nonces recorded, as when a stamp taken from a vote is used again before
// the edges and collectors know of the first: in two pairs, or in one pair
// whose instances each recorded one first. The first to become final is
// published, the second nowhere, the lists stay equal with a voter held
// back, and the stamp stays used for later rounds and after a restart.
func TestEnqueueOneStampTwoVotes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pairs [2]int // the pair of each vote
	}{
		{"two pairs", [2]int{0, 1}},
		{"one pair", [2]int{1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var clock tickClock
			var logged bytes.Buffer
			cfg := Config{
				Campaign: "solar", Pairs: [][2]string{{"http://a", "http://b"}, {"http://c", "http://d"}}, Link: mtls.NewPlain("solar").Link("publisher", mtls.AnyInstance),
				Dir: t.TempDir(), Clock: clock.now, Logger: newTextLogger(&logged),
			}
			p, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { p.Close() }()
			first := randomVote(t)
			// (P-UTC, P-SIG, Voter) of the first, fresh work, another option.
			used := func() *pendingVote {
				v := randomVote(t).vote
				v.PUTC, v.PSig, v.Voter, v.Option = first.vote.PUTC, first.vote.PSig, first.vote.Voter, "No"
				return &pendingVote{vote: v, line: v.Line()}
			}
			second := used()
			published := func(nonceKey) bool { return false }
			show := func(k int, votes ...*pendingVote) {
				ps := p.pairs[k]
				for i := range 2 {
					ps.next[i] = max(ps.next[i], 1)
					for _, v := range votes {
						vv := v.vote
						ps.apply(p.log, i, record{index: ps.next[i], vote: &vv, line: v.line}, published)
						ps.next[i]++
					}
				}
				for range votes {
					var m listline.Voter // the mandate that cast it
					rand.Read(m.ID[:])
					ps.newVoters = append(ps.newVoters, m)
				}
			}
			if tc.pairs[0] == tc.pairs[1] {
				show(tc.pairs[0], first, second)
			} else {
				show(tc.pairs[0], first)
				show(tc.pairs[1], second)
			}
			p.enqueue()
			if len(p.voteQueue) != 1 || p.voteQueue[0].line != first.line || len(p.voterQueue) != 2 || p.anomalies != 1 {
				t.Fatalf("%d votes and %d voters queued, %d anomalies; want the first vote, 2 voters and 1 anomaly", len(p.voteQueue), len(p.voterQueue), p.anomalies)
			}
			if !strings.Contains(logged.String(), "a second vote with one voter stamp") {
				t.Errorf("the anomaly is not logged:\n%s", logged.String())
			}
			if n := len(p.pairs[0].pending) + len(p.pairs[1].pending); n != 1 {
				t.Errorf("%d votes pending, want the queued one: the second still holds its records open", n)
			}
			if err := p.publish(); err != nil {
				t.Fatal(err)
			}
			if s := p.Status(); s != (Status{Lines: 1, HeldVoters: 1, Anomalies: 1}) {
				t.Errorf("status %+v, want 1 line, a voter held, 1 anomaly", s)
			}
			// Later, and after a restart: the stamp is used.
			for round := range 2 {
				show(0, used())
				p.enqueue()
				if len(p.voteQueue) != 0 {
					t.Errorf("round %d: a third vote with the stamp was queued", round)
				}
				if round == 0 {
					p.Close()
					if p, err = New(cfg); err != nil {
						t.Fatal(err)
					}
				}
			}
			votes, err := os.ReadFile(filepath.Join(cfg.Dir, "solar-vote.log"))
			if err != nil {
				t.Fatal(err)
			}
			if string(votes) != first.line+"\n" {
				t.Errorf("votes list %q, want the first vote alone", votes)
			}
		})
	}
}
