package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// pull is one GET /sync of to against from: confirm what to has applied,
// fetch what follows, apply it. It returns how many pairs it applied.
func pull(t *testing.T, to, from *Store) int {
	t.Helper()
	cur := to.TwinCursor()
	if err := from.Confirm(cur); err != nil {
		t.Fatalf("Confirm(%d): %v", cur, err)
	}
	pairs, last, err := from.Links(cur, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) > 0 && (pairs[0].Seq <= cur || pairs[len(pairs)-1].Seq > last) {
		t.Fatalf("Links(%d) returned seqs %d..%d, last %d", cur, pairs[0].Seq, pairs[len(pairs)-1].Seq, last)
	}
	if len(pairs) == 0 {
		return 0
	}
	if err := to.ApplyTwin(pairs, pairs[len(pairs)-1].Seq); err != nil {
		t.Fatal(err)
	}
	return len(pairs)
}

// syncBoth pulls in both directions until neither has anything new, a
// first before b.
func syncBoth(t *testing.T, a, b *Store) {
	t.Helper()
	for range 100 {
		if pull(t, a, b)+pull(t, b, a) == 0 {
			return
		}
	}
	t.Fatal("sync does not settle")
}

// checkMirrored checks that a and b count the same votes and voters.
func checkMirrored(t *testing.T, a, b *Store) {
	t.Helper()
	la, lb := liveVotes(t, a), liveVotes(t, b)
	if !slices.Equal(la, lb) {
		t.Errorf("live votes differ:\nA %q\nB %q", la, lb)
	}
	va, vb := allVoters(t, a), allVoters(t, b)
	if !slices.Equal(va, vb) {
		t.Errorf("voters differ: A has %d, B %d", len(va), len(vb))
	}
	for _, s := range []*Store{a, b} {
		v, n := s.Counts()
		if v != n || v != len(va) || n != len(la) {
			t.Errorf("Counts %d, %d; %d voters, %d live votes", v, n, len(va), len(la))
		}
		checkProjection(t, s)
	}
}

func acceptT(t *testing.T, s *Store, i, try int) Result {
	t.Helper()
	res, err := s.Accept(context.Background(), testVoter(i), testVote(i, try))
	if err != nil {
		t.Fatalf("Accept(%d, %d): %v", i, try, err)
	}
	return res
}

func TestMirror(t *testing.T) {
	a := openT(t, t.TempDir(), Options{})
	b := openT(t, t.TempDir(), Options{})
	for i := range 10 {
		acceptT(t, a, i, 0) // B was down
	}
	for i := 10; i < 17; i++ {
		acceptT(t, b, i, 0) // A was down
	}
	for i := 20; i < 25; i++ {
		acceptT(t, a, i, 0) // both up: the edge sends to both
		acceptT(t, b, i, 0)
	}
	// Someone replays vote 30 under mandate 31, on the other instance: each
	// mandate counts once, so both instances end up with the line twice.
	acceptT(t, a, 30, 0)
	if _, err := b.Accept(context.Background(), testVoter(31), testVote(30, 0)); err != nil {
		t.Fatal(err)
	}
	syncBoth(t, a, b)
	checkMirrored(t, a, b)
	if v, n := a.Counts(); v != 24 || n != 24 {
		t.Errorf("Counts %d, %d; want 24", v, n)
	}
	// Copies are not own votes: the twin does not get them back.
	if pairs, last, _ := a.Links(0, 100); len(pairs) != 16 || last != 16 {
		t.Errorf("A holds %d links, last %d; want 16, 16", len(pairs), last)
	}
	// A copied vote answers a late request from the edge as a repeat.
	if res := acceptT(t, a, 12, 0); res != (Result{Repeat: true}) {
		t.Errorf("late Accept of a copied vote = %+v", res)
	}
	if _, err := a.Accept(context.Background(), testVoter(12), testVote(12, 1)); !errors.Is(err, ErrAlreadyVoted) {
		t.Errorf("other vote for a copied mandate: %v", err)
	}
	// Applying the same pairs again changes nothing.
	pairs, last, _ := b.Links(0, 100)
	if err := a.ApplyTwin(pairs, last); err != nil {
		t.Fatal(err)
	}
	checkMirrored(t, a, b)
}

// TestMirrorSplit has both instances accept different votes for the same
// mandates, as during a split when the edge reached one instance for each
// attempt, then syncs them in either order.
func TestMirrorSplit(t *testing.T) {
	// Vote (i, try) has P-UTC 1767225600+i whatever try, so the time ties
	// and the nonce decides: its first 4 bytes are try. Mandate 7 on B gets
	// an earlier stamp to let the time decide.
	earlier := testVote(7, 5)
	earlier.PUTC = "999999999"
	for _, order := range []string{"A pulls first", "B pulls first"} {
		t.Run(order, func(t *testing.T) {
			clock := newFakeClock()
			opt := Options{Clock: clock.Now, Retain: time.Minute}
			a := openT(t, t.TempDir(), opt)
			b := openT(t, t.TempDir(), opt)
			acceptT(t, a, 1, 0) // A: try 0 wins over B's try 1
			acceptT(t, b, 1, 1)
			acceptT(t, a, 2, 3) // B: try 2 wins over A's try 3
			acceptT(t, b, 2, 2)
			acceptT(t, a, 7, 0) // B: earlier P-UTC wins over a smaller nonce
			if _, err := b.Accept(context.Background(), testVoter(7), earlier); err != nil {
				t.Fatal(err)
			}
			acceptT(t, a, 3, 0) // no conflict
			acceptT(t, b, 4, 0)

			if order == "A pulls first" {
				syncBoth(t, a, b)
			} else {
				syncBoth(t, b, a)
			}
			checkMirrored(t, a, b)
			want := []string{testVote(1, 0).Line(), testVote(2, 2).Line(), testVote(3, 0).Line(), testVote(4, 0).Line(), earlier.Line()}
			slices.Sort(want)
			if got := liveVotes(t, a); !slices.Equal(got, want) {
				t.Errorf("live votes\n got %q\nwant %q", got, want)
			}
			if v, n := a.Counts(); v != 5 || n != 5 {
				t.Errorf("Counts %d, %d; want 5, 5", v, n)
			}
			// Each loser is retracted on the instance that had it, only there.
			wantRetracted := map[*Store][]string{
				a: {retractLine(testVote(2, 3).Nonce), retractLine(testVote(7, 0).Nonce)},
				b: {retractLine(testVote(1, 1).Nonce)},
			}
			for s, want := range wantRetracted {
				var got []string
				for _, p := range logPayloads(t, s.dir) {
					if strings.HasPrefix(p, retractPrefix) {
						got = append(got, p)
					}
				}
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("retractions %q, want %q", got, want)
				}
			}
			// A retracted stamp is no decoy.
			for _, s := range []*Store{a, b} {
				for _, o := range testOptions {
					for _, st := range s.Recent(o, 100) {
						for _, lost := range []Vote{testVote(1, 1), testVote(2, 3), testVote(7, 0)} {
							if st == lost.Voter {
								t.Errorf("Recent(%q) offers the retracted stamp %s", o, st)
							}
						}
					}
				}
			}
			// A retry of the losing vote is refused, of the winner repeated.
			if _, err := a.Accept(context.Background(), testVoter(2), testVote(2, 3)); !errors.Is(err, ErrAlreadyVoted) {
				t.Errorf("retry of a retracted vote: %v", err)
			}
			if res := acceptT(t, a, 1, 0); res != (Result{Seq: 1, Repeat: true}) {
				t.Errorf("retry of a winning vote = %+v", res)
			}
			if res := acceptT(t, a, 2, 2); res != (Result{Repeat: true}) {
				t.Errorf("retry at A of B's winning vote = %+v", res)
			}

			// Reopening keeps all of it, retractions included.
			checkRecent := a.Recent(testOptions[1], 100)
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			a = openT(t, a.dir, opt)
			checkMirrored(t, a, b)
			if got := a.Recent(testOptions[1], 100); !slices.Equal(got, checkRecent) {
				t.Errorf("Recent after reopen %q, before %q", got, checkRecent)
			}
		})
	}
}

// TestLinksRetain checks that links go only once the twin has confirmed
// them and Retain has passed since, and what Accept answers then.
func TestLinksRetain(t *testing.T) {
	clock := newFakeClock()
	opt := Options{Clock: clock.Now, Retain: 10 * time.Minute}
	a := openT(t, t.TempDir(), opt)
	b := openT(t, t.TempDir(), opt)
	for i := range 6 {
		acceptT(t, a, i, 0)
	}
	held := func() int {
		pairs, _, err := a.Links(0, 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(pairs)
	}

	// B applies 1..4 and confirms them; A keeps the links for Retain.
	pairs, _, _ := a.Links(0, 4)
	if err := b.ApplyTwin(pairs, 4); err != nil {
		t.Fatal(err)
	}
	if err := a.Confirm(4); err != nil {
		t.Fatal(err)
	}
	clock.Advance(9 * time.Minute)
	if err := a.Confirm(6); err != nil { // B has applied the rest too
		t.Fatal(err)
	}
	if n := held(); n != 6 {
		t.Fatalf("%d links held before Retain, want 6", n)
	}
	if res := acceptT(t, a, 2, 0); res != (Result{Seq: 3, Repeat: true}) {
		t.Errorf("retry with the link held = %+v", res)
	}

	clock.Advance(time.Minute) // 10 min after the first confirmation
	if err := a.Confirm(6); err != nil {
		t.Fatal(err)
	}
	if n := held(); n != 2 {
		t.Fatalf("%d links held after Retain of seqs 1..4, want 2", n)
	}
	if pairs, _, _ := a.Links(0, 100); pairs[0].Seq != 5 {
		t.Errorf("first held link is %d, want 5", pairs[0].Seq)
	}
	// Without the link a retry is still recognised by its vote record.
	if res := acceptT(t, a, 2, 0); res != (Result{Repeat: true}) {
		t.Errorf("retry without the link = %+v", res)
	}
	if _, err := a.Accept(context.Background(), testVoter(2), testVote(2, 1)); !errors.Is(err, ErrAlreadyVoted) {
		t.Errorf("other vote without the link: %v", err)
	}

	// After a restart the confirmations are forgotten: the twin's next
	// request confirms again and Retain starts over.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	a = openT(t, a.dir, opt)
	if err := a.Confirm(6); err != nil {
		t.Fatal(err)
	}
	if n := held(); n != 2 {
		t.Fatalf("%d links held after restart, want 2", n)
	}
	clock.Advance(10 * time.Minute)
	if err := a.Confirm(6); err != nil {
		t.Fatal(err)
	}
	if n := held(); n != 0 {
		t.Fatalf("%d links held, want 0", n)
	}
	if _, last, _ := a.Links(0, 100); last != 6 {
		t.Errorf("last seq %d, want 6", last)
	}
	if res := acceptT(t, a, 9, 0); res.Seq != 7 {
		t.Errorf("next own seq %d, want 7", res.Seq)
	}
}

// When the link of a split vote is gone before the twin's vote arrives
// (Retain too short), the mirror rule cannot decide: it keeps the vote
// held here and says so.
func TestMirrorLinkGone(t *testing.T) {
	clock := newFakeClock()
	var logged lockedBuffer
	a := openT(t, t.TempDir(), Options{Clock: clock.Now, Retain: time.Second, Logger: newTextLogger(&logged)})
	acceptT(t, a, 1, 0)
	if err := a.Confirm(1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if err := a.Confirm(1); err != nil {
		t.Fatal(err)
	}
	twin := testVote(1, 1)
	twin.PUTC = "1" // would win
	if err := a.ApplyTwin([]Pair{{Seq: 1, Voter: testVoter(1), Vote: twin}}, 1); err != nil {
		t.Fatal(err)
	}
	if got := liveVotes(t, a); !slices.Equal(got, []string{testVote(1, 0).Line()}) {
		t.Errorf("live votes %q", got)
	}
	if !strings.Contains(logged.String(), "level=ERROR") || !strings.Contains(logged.String(), "twin_seq=1") {
		t.Errorf("no error logged: %s", logged.String())
	}
	if strings.Contains(logged.String(), twin.Voter) || strings.Contains(logged.String(), testVote(1, 0).Voter) {
		t.Errorf("log names a vote: %s", logged.String())
	}
}
