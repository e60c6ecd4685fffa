package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// checkHeld checks Held against what dir/links holds.
func checkHeld(t *testing.T, s *Store, links, pending int) {
	t.Helper()
	l, p := s.Held()
	if l != links || p != pending {
		t.Errorf("Held = %d links, %d pending; want %d, %d", l, p, links, pending)
	}
	var gotL, gotP int
	err := s.read(func() error {
		if err := scanTable(s.links, tPair, func(_, _ []byte) error { gotL++; return nil }); err != nil {
			return err
		}
		return scanTable(s.links, tVoter, func(_, _ []byte) error { gotP++; return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	if gotL != links || gotP != pending {
		t.Errorf("%s holds %d links, %d pending voters; want %d, %d", LinksDir, gotL, gotP, links, pending)
	}
}

// tableSize is the number of entries of the voter table in dir/voters.
func tableSize(t *testing.T, s *Store) int {
	t.Helper()
	n := 0
	err := s.read(func() error {
		return scanTable(s.voters, tVoter, func(_, _ []byte) error { n++; return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// wantVoters returns the voter lines of mandates, sorted by key as
// VoterRecords returns them.
func wantVoters(mandates ...int) []string {
	vs := make([]Voter, 0, len(mandates))
	for _, i := range mandates {
		vs = append(vs, testVoter(i))
	}
	slices.SortFunc(vs, func(a, b Voter) int { return strings.Compare(string(voterKey(a)), string(voterKey(b))) })
	var out []string
	for _, v := range vs {
		out = append(out, v.Line())
	}
	return out
}

func seqRange(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// TestMover follows voters from dir/links to the voter table: an own vote's
// voter once its link is dropped, a copied vote's at once, never fewer than
// MoveBatch at a time; VoterRecords and Accept see them wherever they are.
func TestMover(t *testing.T) {
	clock := newFakeClock()
	a := openT(t, t.TempDir(), Options{Clock: clock.Now, MoveBatch: 10})
	for i := range 8 {
		acceptT(t, a, i, 0)
	}
	checkHeld(t, a, 8, 8)
	// Two copied votes: eligible at once, but 2 is less than 10.
	if err := a.ApplyTwin([]Pair{{Seq: 1, Voter: testVoter(100), Vote: testVote(100, 0)}, {Seq: 2, Voter: testVoter(101), Vote: testVote(101, 0)}}, 2); err != nil {
		t.Fatal(err)
	}
	if err := a.moveNow(); err != nil {
		t.Fatal(err)
	}
	checkHeld(t, a, 8, 10)
	if n := tableSize(t, a); n != 0 {
		t.Fatalf("the voter table has %d entries before a move, want 0", n)
	}
	all := append(seqRange(0, 8), 100, 101)
	if got := allVoters(t, a); !slices.Equal(got, wantVoters(all...)) {
		t.Fatalf("VoterRecords before a move: %d voters, want the 10 pending", len(got))
	}

	// The twin confirms 1..5: 7 eligible, still too few.
	if err := a.Confirm(5, 2); err != nil {
		t.Fatal(err)
	}
	if err := a.moveNow(); err != nil {
		t.Fatal(err)
	}
	checkHeld(t, a, 3, 10)
	if n := a.moves.Load(); n != 0 {
		t.Fatalf("%d moves of fewer than MoveBatch voters", n)
	}
	// 6..8 too: 10 eligible; the writer moves them on its own, a second
	// after it last compacted dir/links for the links dropped above.
	clock.Advance(moveInterval)
	if err := a.Confirm(8, 2); err != nil {
		t.Fatal(err)
	}
	if err := a.moveNow(); err != nil {
		t.Fatal(err)
	}
	checkHeld(t, a, 0, 0)
	if n := tableSize(t, a); n != 10 || a.moves.Load() != 1 {
		t.Fatalf("the voter table has %d entries after %d moves, want 10 after 1", n, a.moves.Load())
	}
	if got := allVoters(t, a); !slices.Equal(got, wantVoters(all...)) {
		t.Fatalf("VoterRecords after a move: %d voters, want all 10", len(got))
	}
	if v, n := a.Counts(); v != 10 || n != 10 {
		t.Errorf("Counts = %d, %d; want 10, 10", v, n)
	}

	// A moved mandate has voted: a retry is a repeat, another vote refused.
	if res := acceptT(t, a, 3, 0); res != (Result{Repeat: true}) {
		t.Errorf("retry of a moved voter's vote = %+v", res)
	}
	if _, err := a.Accept(context.Background(), testVoter(3), testVote(3, 1), Receipt{}); !errors.Is(err, ErrAlreadyVoted) {
		t.Errorf("another vote of a moved voter: %v", err)
	}
	if _, err := a.Accept(context.Background(), testVoter(100), testVote(100, 1), Receipt{}); !errors.Is(err, ErrAlreadyVoted) {
		t.Errorf("another vote of a moved copied voter: %v", err)
	}
	if err := a.ApplyTwin([]Pair{{Seq: 3, Voter: testVoter(4), Vote: testVote(4, 0)}}, 3); err != nil {
		t.Fatal(err)
	}
	if v, n := a.Counts(); v != 10 || n != 10 {
		t.Errorf("Counts = %d, %d after the twin sent a moved voter's vote again; want 10, 10", v, n)
	}

	// Pending and moved voters page together in key order.
	for i := 20; i < 25; i++ {
		acceptT(t, a, i, 0)
	}
	all = append(all, seqRange(20, 25)...)
	if got := allVoters(t, a); !slices.Equal(got, wantVoters(all...)) {
		t.Fatalf("VoterRecords of moved and pending voters: %d, want %d in key order", len(got), len(all))
	}
	checkProjection(t, a)

	// Reopened, the Store finds the same.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	a = openT(t, a.dir, Options{Clock: clock.Now, MoveBatch: 10})
	checkHeld(t, a, 5, 5)
	if got := allVoters(t, a); !slices.Equal(got, wantVoters(all...)) {
		t.Fatalf("VoterRecords after reopen: %d, want %d", len(got), len(all))
	}
	if v, n := a.Counts(); v != 15 || n != 15 {
		t.Errorf("Counts = %d, %d after reopen; want 15, 15", v, n)
	}
}

// The mover waits a second between runs, by the Store's clock.
func TestMoverPace(t *testing.T) {
	clock := newFakeClock()
	a := openT(t, t.TempDir(), Options{Clock: clock.Now, MoveBatch: 2})
	pair := func(seq int) Pair { return Pair{Seq: uint64(seq), Voter: testVoter(seq), Vote: testVote(seq, 0)} }
	if err := a.ApplyTwin([]Pair{pair(1), pair(2)}, 2); err != nil {
		t.Fatal(err)
	}
	if err := a.moveNow(); err != nil {
		t.Fatal(err)
	}
	if n := a.moves.Load(); n != 1 {
		t.Fatalf("%d moves, want 1", n)
	}
	if err := a.ApplyTwin([]Pair{pair(3), pair(4)}, 4); err != nil {
		t.Fatal(err)
	}
	if err := a.moveNow(); err != nil { // paced: no move
		t.Fatal(err)
	}
	checkHeld(t, a, 0, 2)
	clock.Advance(moveInterval)
	if err := a.ApplyTwin(nil, 4); err != nil { // any request wakes the writer
		t.Fatal(err)
	}
	if err := a.moveNow(); err != nil {
		t.Fatal(err)
	}
	checkHeld(t, a, 0, 0)
	if n := a.moves.Load(); n != 2 {
		t.Fatalf("%d moves, want 2", n)
	}
}

// TestPurge: after Purge of a store whose votes the twin has all
// confirmed, a copy of the directory holds no link at all, and the
// sequence numbers are zeroed; with votes not confirmed, Purge keeps
// exactly their links and says how many, until forced.
func TestPurge(t *testing.T) {
	clock := newFakeClock()
	opt := Options{Clock: clock.Now, MoveBatch: 100} // more than there are votes
	a := openT(t, t.TempDir(), opt)
	b := openT(t, t.TempDir(), opt)
	voters, votes := diskCase(0, 40)
	for i := range 30 {
		if _, err := a.Accept(context.Background(), voters[i], votes[i], Receipt{}); err != nil {
			t.Fatal(err)
		}
	}
	twinTakes(t, clock, b, a)
	// Ten more that the twin has not confirmed.
	for i := 30; i < 40; i++ {
		if _, err := a.Accept(context.Background(), voters[i], votes[i], Receipt{}); err != nil {
			t.Fatal(err)
		}
	}
	checkHeld(t, a, 10, 40)
	// Before Purge the pending voters are all on the disk by order.
	settle(t, a)
	rep := attack(t, copyDir(t, a.dir), voters, votes)
	t.Logf("before Purge: %v", rep)
	if len(rep.linked) != 10 {
		t.Errorf("before Purge: %d votes linked, want the 10 held links", len(rep.linked))
	}

	err := a.Purge(context.Background(), false)
	if !errors.Is(err, ErrUnconfirmed) || !strings.Contains(err.Error(), "10 links") {
		t.Fatalf("Purge with 10 unconfirmed votes = %v, want ErrUnconfirmed naming 10 links", err)
	}
	checkHeld(t, a, 10, 10)
	settle(t, a)
	rep = attack(t, copyDir(t, a.dir), voters, votes)
	t.Logf("after Purge, 10 unconfirmed: %v", rep)
	for i := range rep.linked {
		if i < 30 {
			t.Errorf("vote %d, confirmed, is linked after Purge", i)
		}
	}
	if len(rep.linked) != 10 {
		t.Errorf("after Purge: %d votes linked, want the 10 unconfirmed", len(rep.linked))
	}

	// The twin confirms the rest: Purge leaves no link.
	twinTakes(t, clock, b, a)
	if err := a.Purge(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	checkHeld(t, a, 0, 0)
	settle(t, a)
	copied := copyDir(t, a.dir)
	rep = attack(t, copied, voters, votes)
	t.Logf("after Purge, all confirmed: %v", rep)
	if len(rep.linked) != 0 || rep.best > 4 {
		t.Errorf("after Purge: %d votes linked, %d ordered like their votes", len(rep.linked), rep.best)
	}
	checkPurged(t, copied)
	if v, n := a.Counts(); v != 40 || n != 40 || len(allVoters(t, a)) != 40 {
		t.Errorf("Counts = %d, %d after Purge; want 40, 40", v, n)
	}
	checkProjection(t, a)
	checkMirrored(t, a, b)

	// Force drops links the twin has not confirmed.
	acceptT(t, a, 50, 0)
	if err := a.Purge(context.Background(), false); !errors.Is(err, ErrUnconfirmed) {
		t.Fatalf("Purge = %v, want ErrUnconfirmed", err)
	}
	if err := a.Purge(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	checkHeld(t, a, 0, 0)
	if pairs, _, _ := a.Links(0, 100); len(pairs) != 0 {
		t.Errorf("Links returns %d pairs after a forced Purge", len(pairs))
	}
	if res := acceptT(t, a, 50, 0); res != (Result{Repeat: true}) {
		t.Errorf("retry after a forced Purge = %+v", res)
	}
}

// checkPurged checks a purged copy: dir/links holds nothing but its marks,
// and neither it nor dir/voters has a write-ahead log that holds a record
// or a table with a sequence number other than zero. dir/votes is left
// out: it holds vote records, in the order their keys give anyway, and
// counters.
func checkPurged(t *testing.T, dir string) {
	t.Helper()
	for _, f := range readDisk(t, dir) {
		base := filepath.Base(f.path)
		for _, e := range f.entries {
			if f.source == VotesDir {
				// Vote records and counters: public, or of no voter.
				continue
			}
			if isWAL(base) {
				t.Errorf("%s holds a record after Purge: %q", f.path, e.key)
				continue
			}
			if e.seq != 0 {
				t.Errorf("%s: key %q has sequence number %d after Purge", f.path, e.key, e.seq)
			}
			if f.source == LinksDir && e.key[0] != lowKey[0] && e.key[0] != highKey[0] && string(e.key) != string(metaLayout) {
				t.Errorf("%s holds %q after Purge", f.path, e.key)
			}
		}
	}
}

// TestCrashBetweenCommits stops the writer where a crash would leave the
// databases apart, then reopens: nothing acknowledged is lost, nothing is
// recorded twice, and the counters agree with the records.
func TestCrashBetweenCommits(t *testing.T) {
	errFault := errors.New("injected crash")
	for _, tc := range []struct {
		name  string
		point int
	}{
		{"group in links only", faultGroupLinks},
		{"move in the voter table only", faultMoveVoters},
		{"move not compacted", faultMoveLinks},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			dir := t.TempDir()
			opt := Options{Clock: clock.Now, MoveBatch: 4}
			s := openT(t, dir, opt)
			for i := range 6 {
				acceptT(t, s, i, 0)
			}
			if err := s.Confirm(3, 0); err != nil { // 1..3 eligible, fewer than 4
				t.Fatal(err)
			}
			// The own vote 6 in a group of its own, then one group with
			// two copied votes (one eligible at once, making 4 with 1..3
			// for the mover) and a split vote for mandate 5 that wins
			// over ours, so a retraction. (In one group with the Accept,
			// which group the Accept lands in would be up to the
			// scheduler.)
			acceptT(t, s, 6, 0)
			clock.Advance(moveInterval) // past the compaction for the links dropped
			s.fault = func(p int) error {
				if p == tc.point {
					return errFault
				}
				return nil
			}
			twinWins := testVote(5, 1)
			twinWins.PUTC = "999999999"
			errs := make(chan error, 1)
			errs <- s.ApplyTwin([]Pair{
				{Seq: 1, Voter: testVoter(7), Vote: testVote(7, 0)},
				{Seq: 2, Voter: testVoter(5), Vote: twinWins},
			}, 2)
			acked := []error{<-errs}
			if tc.point == faultGroupLinks {
				for _, err := range acked {
					if !errors.Is(err, ErrFailed) {
						t.Fatalf("a write of the group = %v, want ErrFailed", err)
					}
				}
			} else {
				for _, err := range acked {
					if err != nil && !errors.Is(err, ErrFailed) {
						t.Fatal(err)
					}
				}
				if err := s.moveNow(); !errors.Is(err, ErrFailed) && s.Err() == nil {
					t.Fatalf("the move did not fail: %v", err)
				}
				// Stopped between the two commits of the move, readers
				// see each voter once.
				if got := allVoters(t, s); !slices.Equal(got, wantVoters(0, 1, 2, 3, 4, 5, 6, 7)) {
					t.Errorf("VoterRecords during the cut move: %d voters, want 8 once each", len(got))
				}
			}
			if !errors.Is(s.Err(), ErrFailed) {
				t.Fatalf("Err() = %v after the fault", s.Err())
			}
			s.Close()

			var logged lockedBuffer
			s = openT(t, dir, Options{Clock: clock.Now, MoveBatch: 4, Logger: newTextLogger(&logged)})
			checkProjection(t, s)
			want := []string{testVote(0, 0).Line(), testVote(1, 0).Line(), testVote(2, 0).Line(), testVote(3, 0).Line(),
				testVote(4, 0).Line(), testVote(6, 0).Line(), testVote(7, 0).Line(), twinWins.Line()}
			slices.Sort(want)
			if got := liveVotes(t, s); !slices.Equal(got, want) {
				t.Errorf("live votes after reopen\n got %q\nwant %q", got, want)
			}
			if got := allVoters(t, s); !slices.Equal(got, wantVoters(0, 1, 2, 3, 4, 5, 6, 7)) {
				t.Errorf("VoterRecords after reopen: %d voters, want 8 once each", len(got))
			}
			if v, n := s.Counts(); v != 8 || n != 8 {
				t.Errorf("Counts = %d, %d; want 8, 8", v, n)
			}
			links, pending := s.Held()
			if links != 4 || tableSize(t, s)+pending != 8 {
				t.Errorf("Held = %d links, %d pending with %d in the voter table; want 4 links and 8 voters in all", links, pending, tableSize(t, s))
			}
			checkHeld(t, s, links, pending)
			if s.TwinCursor() != 2 {
				t.Errorf("twin cursor %d, want 2", s.TwinCursor())
			}
			// The links are intact: the own vote 6 repeats with its seq,
			// the retracted one is refused.
			if res := acceptT(t, s, 6, 0); res != (Result{Seq: 7, Repeat: true}) {
				t.Errorf("retry of vote 6 = %+v", res)
			}
			if _, err := s.Accept(context.Background(), testVoter(5), testVote(5, 0), Receipt{}); !errors.Is(err, ErrAlreadyVoted) {
				t.Errorf("retry of the retracted vote: %v", err)
			}
			if tc.point == faultGroupLinks && !strings.Contains(logged.String(), "committed again the last group") {
				t.Errorf("no report of the redo:\n%s", logged.String())
			}
			if tc.point == faultMoveVoters && !strings.Contains(logged.String(), "voter table holds already") {
				t.Errorf("no report of the cut move:\n%s", logged.String())
			}
		})
	}
}

// An old-layout directory (one database dir/voters with everything) is
// refused, and left as it was.
func TestOldLayout(t *testing.T) {
	dir := t.TempDir()
	db, err := pebble.Open(filepath.Join(dir, VotersDir), &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v := testVoter(1)
	for k, val := range map[string][]byte{
		string(mandateKey(tVoter, v)): v.Sig[:],
		string(numKey(tVote, 1)):      []byte(testVote(1, 0).Line()),
		string(metaIndex):             u64(1),
	} {
		if err := db.Set([]byte(k), val, pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir, Options{})
	if !errors.Is(err, ErrOldLayout) || !strings.Contains(err.Error(), VotersDir) {
		t.Fatalf("Open of an old-layout directory = %v, want ErrOldLayout naming %s", err, VotersDir)
	}
	t.Logf("Open: %v", err)
	if _, err := os.Stat(filepath.Join(dir, VotesDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open created %s in a directory it refused: %v", VotesDir, err)
	}

	// An old dir/voters put next to a new dir/votes: its data has no
	// layout mark.
	if err := os.Mkdir(filepath.Join(dir, VotesDir), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrOldLayout) {
		t.Fatalf("Open with an unmarked voter table = %v, want ErrOldLayout", err)
	}
	// A new Store opens again.
	dir = t.TempDir()
	s := openT(t, dir, Options{})
	acceptT(t, s, 1, 0)
	s.Close()
	openT(t, dir, Options{})
}

// TestNoWALRecycling: Pebble recycles write-ahead logs of dir/votes, whose
// old records are public anyway, and never those of dir/links and
// dir/voters.
func TestNoWALRecycling(t *testing.T) {
	s := &Store{log: newTextLogger(&lockedBuffer{})}
	for _, name := range []string{VotesDir, LinksDir, VotersDir} {
		recycled := 0
		o := s.dbOptions(name)
		o.EventListener = &pebble.EventListener{WALCreated: func(info pebble.WALCreateInfo) {
			if info.RecycledFileNum != 0 {
				recycled++
			}
		}}
		db, err := pebble.Open(filepath.Join(t.TempDir(), name), o)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			if err := db.Set(numKey(tVote, uint64(i)), []byte("x"), pebble.Sync); err != nil {
				t.Fatal(err)
			}
			if err := db.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if name == VotesDir && recycled == 0 {
			t.Errorf("%s: no write-ahead log recycled: the test does not see recycling", name)
		}
		if name != VotesDir && recycled != 0 {
			t.Errorf("%s: %d write-ahead logs recycled", name, recycled)
		}
	}
}
