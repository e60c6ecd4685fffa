package store

import (
	"context"
	"crypto/ed25519"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/powvote/powvote/wire"
)

// pull is one GET /sync of to against from: confirm what to has applied
// and to's last own seq, fetch what follows, apply it. It returns how many
// pairs it applied.
func pull(t *testing.T, to, from *Store) int {
	t.Helper()
	cur, last := to.TwinCursor(), to.LastSeq()
	if err := from.Confirm(cur, last); err != nil {
		t.Fatalf("Confirm(%d, %d): %v", cur, last, err)
	}
	pairs, fromLast, err := from.Links(cur, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) > 0 && (pairs[0].Seq <= cur || pairs[len(pairs)-1].Seq > fromLast) {
		t.Fatalf("Links(%d) returned seqs %d..%d, last %d", cur, pairs[0].Seq, pairs[len(pairs)-1].Seq, fromLast)
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
	res, err := s.Accept(context.Background(), testVoter(i), testVote(i, try), Receipt{})
	if err != nil {
		t.Fatalf("Accept(%d, %d): %v", i, try, err)
	}
	return res
}

func TestMirror(t *testing.T) {
	// Links are retained past their confirmation, so that the test can
	// count them.
	opt := Options{Retain: time.Hour}
	a := openT(t, t.TempDir(), opt)
	b := openT(t, t.TempDir(), opt)
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
	if _, err := b.Accept(context.Background(), testVoter(31), testVote(30, 0), Receipt{}); err != nil {
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
	if _, err := a.Accept(context.Background(), testVoter(12), testVote(12, 1), Receipt{}); !errors.Is(err, ErrAlreadyVoted) {
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
			key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
			opt := Options{Clock: clock.Now, Retain: time.Minute, ReceiptKey: key, Campaign: "solar"}
			a := openT(t, t.TempDir(), opt)
			b := openT(t, t.TempDir(), opt)
			acceptT(t, a, 1, 0) // A: try 0 wins over B's try 1
			acceptT(t, b, 1, 1)
			acceptT(t, a, 2, 3) // B: try 2 wins over A's try 3
			acceptT(t, b, 2, 2)
			acceptT(t, a, 7, 0) // B: earlier P-UTC wins over a smaller nonce
			if _, err := b.Accept(context.Background(), testVoter(7), earlier, Receipt{}); err != nil {
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
			// Each loser is retracted on the instance that had it, only
			// there, bound to its winner by the receipt key.
			retraction := func(loser, winner Vote) string {
				sig := wire.SignRetraction(key, "solar", loser.Line(), winner.Line())
				return string(Retraction{Nonce: loser.Nonce, Winner: winner.Nonce, Sig: sig}.AppendRecord(nil))
			}
			wantRetracted := map[*Store][]string{
				a: {retraction(testVote(2, 3), testVote(2, 2)), retraction(testVote(7, 0), earlier)},
				b: {retraction(testVote(1, 1), testVote(1, 0))},
			}
			for s, want := range wantRetracted {
				var got []string
				for _, p := range logPayloads(t, s.dir) {
					if strings.HasPrefix(p, "retract ") {
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
			if _, err := a.Accept(context.Background(), testVoter(2), testVote(2, 3), Receipt{}); !errors.Is(err, ErrAlreadyVoted) {
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

	// B applies 1..4 and confirms them; A keeps the links for Retain. B
	// has no votes of its own: its last own seq is 0 throughout.
	pairs, _, _ := a.Links(0, 4)
	if err := b.ApplyTwin(pairs, 4); err != nil {
		t.Fatal(err)
	}
	if err := a.Confirm(4, 0); err != nil {
		t.Fatal(err)
	}
	clock.Advance(9 * time.Minute)
	if err := a.Confirm(6, 0); err != nil { // B has applied the rest too
		t.Fatal(err)
	}
	if n := held(); n != 6 {
		t.Fatalf("%d links held before Retain, want 6", n)
	}
	if res := acceptT(t, a, 2, 0); res != (Result{Seq: 3, Repeat: true}) {
		t.Errorf("retry with the link held = %+v", res)
	}

	clock.Advance(time.Minute) // 10 min after the first confirmation
	if err := a.Confirm(6, 0); err != nil {
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
	if _, err := a.Accept(context.Background(), testVoter(2), testVote(2, 1), Receipt{}); !errors.Is(err, ErrAlreadyVoted) {
		t.Errorf("other vote without the link: %v", err)
	}

	// After a restart the confirmations are forgotten: the twin's next
	// request confirms again and Retain starts over.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	a = openT(t, a.dir, opt)
	if err := a.Confirm(6, 0); err != nil {
		t.Fatal(err)
	}
	if n := held(); n != 2 {
		t.Fatalf("%d links held after restart, want 2", n)
	}
	clock.Advance(10 * time.Minute)
	if err := a.Confirm(6, 0); err != nil {
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
// (here because the twin claimed it had no votes of its own, as a twin
// whose data was lost would), the mirror rule cannot decide: it keeps the
// vote held here and says so.
func TestMirrorLinkGone(t *testing.T) {
	clock := newFakeClock()
	var logged lockedBuffer
	a := openT(t, t.TempDir(), Options{Clock: clock.Now, Retain: time.Second, Logger: newTextLogger(&logged)})
	acceptT(t, a, 1, 0)
	if err := a.Confirm(1, 0); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if err := a.Confirm(1, 0); err != nil {
		t.Fatal(err)
	}
	if pairs, _, _ := a.Links(0, 10); len(pairs) != 0 {
		t.Fatalf("%d links held, want 0", len(pairs))
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

// TestLinksWaitForTwinCursor checks the second condition for dropping a
// link: besides Retain, this instance must have applied every own vote the
// twin had when it confirmed (its twinLast), and a confirmation that does
// not say (TwinLastUnknown) never lets a link go.
func TestLinksWaitForTwinCursor(t *testing.T) {
	clock := newFakeClock()
	opt := Options{Clock: clock.Now, Retain: time.Minute}
	a := openT(t, t.TempDir(), opt)
	b := openT(t, t.TempDir(), opt)
	for i := range 3 {
		acceptT(t, a, i, 0)
	}
	for i := 10; i < 12; i++ {
		acceptT(t, b, i, 0)
	}
	held := func() int {
		t.Helper()
		pairs, _, err := a.Links(0, 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(pairs)
	}
	confirm := func(upto, twinLast uint64) {
		t.Helper()
		if err := a.Confirm(upto, twinLast); err != nil {
			t.Fatal(err)
		}
	}
	bPairs, _, err := b.Links(0, 100)
	if err != nil || len(bPairs) != 2 {
		t.Fatalf("B's links: %d, %v", len(bPairs), err)
	}

	// Without a twinLast, Retain alone lets nothing go.
	confirm(3, TwinLastUnknown)
	clock.Advance(time.Hour)
	confirm(3, TwinLastUnknown)
	if n := held(); n != 3 {
		t.Fatalf("%d links held after confirmations without twinLast, want 3", n)
	}
	// B says it has 2 own votes; A has applied none of them.
	confirm(3, 2)
	if n := held(); n != 3 {
		t.Fatalf("%d links held with the twin cursor at 0 of 2, want 3", n)
	}
	if err := a.ApplyTwin(bPairs[:1], 1); err != nil {
		t.Fatal(err)
	}
	confirm(3, 2)
	if n := held(); n != 3 {
		t.Fatalf("%d links held with the twin cursor at 1 of 2, want 3", n)
	}
	if err := a.ApplyTwin(bPairs[1:], 2); err != nil {
		t.Fatal(err)
	}
	// The cursor alone drops nothing: the next confirmation does.
	if n := held(); n != 3 {
		t.Fatalf("%d links held before the next confirmation, want 3", n)
	}
	confirm(3, 2)
	if n := held(); n != 0 {
		t.Fatalf("%d links held with the twin cursor at 2 of 2 and Retain passed, want 0", n)
	}
}

// TestMirrorAsymmetricPartition is the case the twin cursor condition is
// for. During a split A accepts W and B accepts V for the same mandate, and
// V wins. Then B can pull from A but A cannot pull from B: B applies W,
// keeps V (it wins) and waits for A to retract W; it keeps confirming W to
// A long past Retain. If A dropped the link of W then, it could no longer
// weigh V against W when the network heals (mirror rule 4) and the two
// instances would keep different votes. A keeps it until it has applied
// every vote B had when it confirmed, then both converge on V.
func TestMirrorAsymmetricPartition(t *testing.T) {
	clock := newFakeClock()
	var logged lockedBuffer
	opt := Options{Clock: clock.Now, Retain: time.Minute, Logger: newTextLogger(&logged)}
	a := openT(t, t.TempDir(), opt)
	b := openT(t, t.TempDir(), opt)
	// Same P-UTC; V's nonce starts with try 1, W's with try 3: V wins.
	w, v := testVote(1, 3), testVote(1, 1)
	if !wins(v, w) {
		t.Fatal("test setup: V does not win over W")
	}
	acceptT(t, a, 1, 3)
	acceptT(t, b, 1, 1)
	acceptT(t, a, 2, 0) // no conflict, one on each side
	acceptT(t, b, 3, 0)

	// Only B pulls, for much longer than Retain.
	for range 5 {
		pull(t, b, a)
		clock.Advance(time.Minute)
	}
	pull(t, b, a)
	if got, want := liveVotes(t, b), sorted(v.Line(), testVote(2, 0).Line(), testVote(3, 0).Line()); !slices.Equal(got, want) {
		t.Fatalf("B's live votes\n got %q\nwant %q", got, want)
	}
	pairs, _, err := a.Links(0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 2 || pairs[0].Vote.Line() != w.Line() {
		t.Errorf("A holds %d links, want both, W's first: B's vote is not applied here yet", len(pairs))
	}

	// The network heals.
	syncBoth(t, a, b)
	checkMirrored(t, a, b)
	if got, want := liveVotes(t, a), sorted(v.Line(), testVote(2, 0).Line(), testVote(3, 0).Line()); !slices.Equal(got, want) {
		t.Errorf("live votes\n got %q\nwant %q", got, want)
	}
	if v, n := a.Counts(); v != 3 || n != 3 {
		t.Errorf("Counts %d, %d; want 3, 3", v, n)
	}
	if strings.Contains(logged.String(), "level=ERROR") {
		t.Errorf("an error was logged:\n%s", logged.String())
	}
	// Now that A has applied all of B's votes, B's next request lets A's
	// links go (Retain passed long ago), and B's too once A confirms.
	syncBoth(t, b, a)
	clock.Advance(time.Minute)
	syncBoth(t, b, a)
	for name, s := range map[string]*Store{"A": a, "B": b} {
		if pairs, _, _ := s.Links(0, 10); len(pairs) != 0 {
			t.Errorf("%s holds %d links after both synced, want 0", name, len(pairs))
		}
	}
	checkMirrored(t, a, b)
}

// TestMirrorSameNonce has both instances accept, for one mandate, votes
// with the same P-UTC and nonce but different voter stamps: a holder can
// make them on purpose. They are two votes, not copies of one: both
// instances must keep the same one, the smaller voter stamp.
func TestMirrorSameNonce(t *testing.T) {
	va := testVote(5, 0)
	vb := testVote(5, 0)
	vb.Voter = testStamp("another stamp")
	winner := va
	if vb.Voter < va.Voter {
		winner = vb
	}
	for _, order := range []string{"A pulls first", "B pulls first"} {
		t.Run(order, func(t *testing.T) {
			var logged lockedBuffer
			opt := Options{Logger: newTextLogger(&logged)}
			a := openT(t, t.TempDir(), opt)
			b := openT(t, t.TempDir(), opt)
			for s, v := range map[*Store]Vote{a: va, b: vb} {
				if _, err := s.Accept(context.Background(), testVoter(5), v, Receipt{}); err != nil {
					t.Fatal(err)
				}
			}
			if order == "A pulls first" {
				syncBoth(t, a, b)
			} else {
				syncBoth(t, b, a)
			}
			checkMirrored(t, a, b)
			if got := liveVotes(t, a); !slices.Equal(got, []string{winner.Line()}) {
				t.Errorf("live votes %q, want the smaller stamp's %q", got, winner.Line())
			}
			if strings.Contains(logged.String(), "level=ERROR") {
				t.Errorf("an error was logged:\n%s", logged.String())
			}
		})
	}
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}

// TestMirrorSameStamp has the two instances accept, for two mandates,
// votes that carry one voter stamp with different nonces: what a stamp
// taken from a vote and used again gives when each instance records one
// of the two first (at once, or during a split). Each mandate counts, so
// both instances keep both votes, and from then on both refuse the stamp.
func TestMirrorSameStamp(t *testing.T) {
	first := testVote(1, 0)
	copied := testVote(2, 0)
	copied.PUTC, copied.PSig, copied.Voter = first.PUTC, first.PSig, first.Voter
	for _, order := range []string{"A pulls first", "B pulls first"} {
		t.Run(order, func(t *testing.T) {
			var logged lockedBuffer
			opt := Options{Logger: newTextLogger(&logged)}
			a := openT(t, t.TempDir(), opt)
			b := openT(t, t.TempDir(), opt)
			if _, err := a.Accept(context.Background(), testVoter(1), first, Receipt{}); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Accept(context.Background(), testVoter(2), copied, Receipt{}); err != nil {
				t.Fatal(err)
			}
			if order == "A pulls first" {
				syncBoth(t, a, b)
			} else {
				syncBoth(t, b, a)
			}
			checkMirrored(t, a, b)
			if got, want := liveVotes(t, a), sorted(first.Line(), copied.Line()); !slices.Equal(got, want) {
				t.Errorf("live votes %q, want both %q", got, want)
			}
			if n := strings.Count(logged.String(), "carries a voter stamp a vote here carries too"); n != 2 {
				t.Errorf("%d warnings about the shared stamp, want one per instance:\n%s", n, logged.String())
			}
			third := testVote(3, 0)
			third.PUTC, third.PSig, third.Voter = first.PUTC, first.PSig, first.Voter
			for name, s := range map[string]*Store{"A": a, "B": b} {
				if _, err := s.Accept(context.Background(), testVoter(3), third, Receipt{}); !errors.Is(err, ErrDuplicateStamp) {
					t.Errorf("%s: a third vote with the stamp: %v, want ErrDuplicateStamp", name, err)
				}
			}
			// Each holder's retry still gets its receipt, on either side.
			for _, s := range []*Store{a, b} {
				for i, v := range map[int]Vote{1: first, 2: copied} {
					if res, err := s.Accept(context.Background(), testVoter(i), v, Receipt{}); err != nil || !res.Repeat {
						t.Errorf("retry of mandate %d: %+v, %v; want a repeat", i, res, err)
					}
				}
			}
		})
	}
}

// TestMirrorStampOfRetracted: the voter stamp index holds the votes no
// retraction withdrew, so both instances of a pair hold the same stamps
// once they have synced, whichever of them had the losing vote of a split.
func TestMirrorStampOfRetracted(t *testing.T) {
	a := openT(t, t.TempDir(), Options{})
	b := openT(t, t.TempDir(), Options{})
	lost := testVote(7, 0)
	won := testVote(7, 1)
	won.PUTC = "999999999" // the earlier P-UTC wins
	if _, err := a.Accept(context.Background(), testVoter(7), lost, Receipt{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Accept(context.Background(), testVoter(7), won, Receipt{}); err != nil {
		t.Fatal(err)
	}
	syncBoth(t, a, b)
	checkMirrored(t, a, b)
	for name, s := range map[string]*Store{"A": a, "B": b} {
		if got := indexTable(t, s, tStamp); len(got) != 1 || got[string(stampKey(won.Voter))] == nil {
			t.Errorf("%s: stamp index %v, want the winner's stamp alone", name, got)
		}
	}
}

// TestIndexStamps opens a database made before the voter stamp index (the
// index and its mark removed): Open builds the index from the live votes,
// retractions and a stamp held twice included, and refuses a used stamp
// from then on.
func TestIndexStamps(t *testing.T) {
	var logged lockedBuffer
	opt := Options{Logger: newTextLogger(&logged)}
	a := openT(t, t.TempDir(), opt)
	b := openT(t, t.TempDir(), opt)
	for i := range 30 {
		acceptT(t, a, i, 0)
	}
	acceptT(t, a, 40, 1) // loses to B's vote for mandate 40: retracted on A
	won := testVote(40, 0)
	won.PUTC = "999999999"
	if _, err := b.Accept(context.Background(), testVoter(40), won, Receipt{}); err != nil {
		t.Fatal(err)
	}
	copied := testVote(41, 0) // vote 3's stamp under mandate 41, at B
	copied.PUTC, copied.PSig, copied.Voter = testVote(3, 0).PUTC, testVote(3, 0).PSig, testVote(3, 0).Voter
	if _, err := b.Accept(context.Background(), testVoter(41), copied, Receipt{}); err != nil {
		t.Fatal(err)
	}
	syncBoth(t, a, b)
	checkMirrored(t, a, b)
	want := indexTable(t, a, tStamp)
	if len(want) != 31 || len(want[string(stampKey(copied.Voter))]) != 2 {
		t.Fatalf("stamp index of %d entries, %d records under the shared stamp; want 31 and 2", len(want), len(want[string(stampKey(copied.Voter))]))
	}

	// Make it a database of before the index, then reopen it.
	err := a.read(func() error {
		del := a.votes.NewBatch()
		defer del.Close()
		if err := del.DeleteRange([]byte{tStamp}, []byte{tStamp + 1}, nil); err != nil {
			return err
		}
		if err := del.Delete(metaStamps, nil); err != nil {
			return err
		}
		return del.Commit(pebble.Sync)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	a = openT(t, a.dir, opt)
	if got := indexTable(t, a, tStamp); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("rebuilt stamp index\n got %v\nwant %v", got, want)
	}
	if !strings.Contains(logged.String(), `indexed the voter stamps of the recorded votes" votes=32`) {
		t.Errorf("no report of the build in the log:\n%s", logged.String())
	}
	checkMirrored(t, a, b)
	reuse := testVote(50, 0)
	reuse.PUTC, reuse.PSig, reuse.Voter = testVote(5, 0).PUTC, testVote(5, 0).PSig, testVote(5, 0).Voter
	if _, err := a.Accept(context.Background(), testVoter(50), reuse, Receipt{}); !errors.Is(err, ErrDuplicateStamp) {
		t.Errorf("a recorded stamp after the rebuild: %v, want ErrDuplicateStamp", err)
	}

	// An index is built once: the next Open leaves it as it is.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	logged = lockedBuffer{}
	a = openT(t, a.dir, Options{Logger: newTextLogger(&logged)})
	if strings.Contains(logged.String(), "indexed") {
		t.Errorf("the index was built again:\n%s", logged.String())
	}
	checkProjection(t, a)
}
