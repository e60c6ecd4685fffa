package store

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestAccept(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	ctx := context.Background()

	otherStamp := testVote(1, 0)
	otherStamp.Voter = testStamp("other")
	replay := testVote(1, 0) // mandate 2 sending mandate 1's vote
	badNonce := testVote(3, 0)
	badNonce.Nonce = badNonce.Nonce[:7]
	badOption := testVote(3, 0)
	badOption.Option = `say "yes"`
	// Vote 1's voter stamp with fresh work: another nonce, any option.
	stampReuse := testVote(6, 0)
	stampReuse.PUTC, stampReuse.PSig, stampReuse.Voter = testVote(1, 0).PUTC, testVote(1, 0).PSig, testVote(1, 0).Voter

	for _, tc := range []struct {
		name    string
		voter   Voter
		vote    Vote
		want    Result
		wantErr error
		field   string // of a FieldError
	}{
		{name: "first", voter: testVoter(1), vote: testVote(1, 0), want: Result{Seq: 1}},
		{name: "second mandate", voter: testVoter(2), vote: testVote(2, 0), want: Result{Seq: 2}},
		{name: "retry", voter: testVoter(1), vote: testVote(1, 0), want: Result{Seq: 1, Repeat: true}},
		{name: "other nonce", voter: testVoter(1), vote: testVote(1, 1), wantErr: ErrAlreadyVoted},
		{name: "same nonce, other stamp", voter: testVoter(1), vote: otherStamp, wantErr: ErrAlreadyVoted},
		{name: "replay under a new mandate", voter: testVoter(5), vote: replay, wantErr: ErrDuplicateVote},
		{name: "replay under a voted mandate", voter: testVoter(2), vote: replay, wantErr: ErrAlreadyVoted},
		{name: "voter stamp of a recorded vote under a new mandate", voter: testVoter(6), vote: stampReuse, wantErr: ErrDuplicateStamp},
		{name: "voter stamp of a recorded vote under a voted mandate", voter: testVoter(2), vote: stampReuse, wantErr: ErrAlreadyVoted},
		{name: "voter stamp of a recorded vote, retried", voter: testVoter(6), vote: stampReuse, wantErr: ErrDuplicateStamp},
		{name: "the stamp's own vote, retried", voter: testVoter(1), vote: testVote(1, 0), want: Result{Seq: 1, Repeat: true}},
		{name: "short nonce", voter: testVoter(3), vote: badNonce, wantErr: ErrSyntax, field: "nonce"},
		{name: "quote in option", voter: testVoter(3), vote: badOption, wantErr: ErrSyntax, field: "option"},
		{name: "third mandate", voter: testVoter(3), vote: testVote(3, 0), want: Result{Seq: 3}},
		{name: "retry second", voter: testVoter(2), vote: testVote(2, 0), want: Result{Seq: 2, Repeat: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Accept(ctx, tc.voter, tc.vote, Receipt{})
			if !errors.Is(err, tc.wantErr) || got != tc.want {
				t.Fatalf("Accept = %+v, %v; want %+v, %v", got, err, tc.want, tc.wantErr)
			}
			var fe *FieldError
			if tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field) {
				t.Fatalf("error %v, want a %s FieldError", err, tc.field)
			}
		})
	}

	if v, n := s.Counts(); v != 3 || n != 3 {
		t.Errorf("Counts = %d, %d; want 3, 3", v, n)
	}
	want := []string{testVote(1, 0).Line(), testVote(2, 0).Line(), testVote(3, 0).Line()}
	if got := logPayloads(t, dir); !slices.Equal(got, want) {
		t.Errorf("votes.log\n got %q\nwant %q", got, want)
	}
	checkProjection(t, s)
	voters := allVoters(t, s)
	for _, i := range []int{1, 2, 3} {
		if !slices.Contains(voters, testVoter(i).Line()) {
			t.Errorf("voter table lacks mandate %d", i)
		}
	}
	if len(voters) != 3 {
		t.Errorf("voter table has %d entries, want 3", len(voters))
	}
	// testVote(3, 0) chose the same option as testVote(0, 0).
	if got := s.Recent(testOptions[0], 5); !slices.Equal(got, []string{testVote(3, 0).Voter}) {
		t.Errorf("Recent(%q) = %q", testOptions[0], got)
	}
	if got := s.Recent(testOptions[1], 0); got != nil {
		t.Errorf("Recent(n=0) = %q", got)
	}
	pairs, last, err := s.Links(0, 10)
	if err != nil || last != 3 || len(pairs) != 3 {
		t.Fatalf("Links = %d pairs, last %d, %v", len(pairs), last, err)
	}
	for i, p := range pairs {
		if p.Seq != uint64(i+1) || p.Voter != testVoter(i+1) || p.Vote.Line() != testVote(i+1, 0).Line() {
			t.Errorf("pair %d = %+v", i, p)
		}
	}
	if pairs, _, _ := s.Links(1, 1); len(pairs) != 1 || pairs[0].Seq != 2 {
		t.Errorf("Links(1, 1) = %+v", pairs)
	}
}

// A caller's buffer must not alias what the Store keeps.
func TestAcceptCopiesNonce(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	v := testVote(1, 0)
	if _, err := s.Accept(context.Background(), testVoter(1), v, Receipt{}); err != nil {
		t.Fatal(err)
	}
	want := testVote(1, 0).Line()
	v.Nonce[0] ^= 0xff
	if got := liveVotes(t, s); !slices.Equal(got, []string{want}) {
		t.Errorf("votes %q, want %q", got, want)
	}
}

// TestAcceptSameStamp sends votes of many mandates that carry one voter
// stamp, each with its own nonce, all at once: the writer checks each
// against the requests before it in its group, so exactly one is recorded
// and every other gets ErrDuplicateStamp.
func TestAcceptSameStamp(t *testing.T) {
	const n = 64
	s := openT(t, t.TempDir(), Options{})
	shared := testStamp("shared")
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			v := testVote(i, 0)
			v.Voter = shared
			<-start
			_, errs[i] = s.Accept(context.Background(), testVoter(i), v, Receipt{})
		})
	}
	close(start)
	wg.Wait()
	accepted := 0
	for i, err := range errs {
		switch {
		case err == nil:
			accepted++
		case !errors.Is(err, ErrDuplicateStamp):
			t.Errorf("vote %d: %v, want nil or ErrDuplicateStamp", i, err)
		}
	}
	if v, votes := s.Counts(); accepted != 1 || v != 1 || votes != 1 {
		t.Errorf("%d accepted, Counts %d, %d; want exactly one", accepted, v, votes)
	}
	checkProjection(t, s)
}

// TestAcceptConcurrent has 2000 goroutines try 500 mandates 4 times each,
// with different votes, all at once.
func TestAcceptConcurrent(t *testing.T) {
	const mandates, tries = 500, 4
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	type outcome struct {
		mandate, try int
		res          Result
		err          error
	}
	out := make(chan outcome, mandates*tries)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range mandates {
		for try := range tries {
			wg.Go(func() {
				<-start
				res, err := s.Accept(context.Background(), testVoter(i), testVote(i, try), Receipt{})
				out <- outcome{i, try, res, err}
			})
		}
	}
	close(start)
	wg.Wait()
	close(out)

	winner := make(map[int]int)
	seqs := make(map[uint64]bool)
	for o := range out {
		switch {
		case o.err == nil && !o.res.Repeat:
			if w, ok := winner[o.mandate]; ok {
				t.Fatalf("mandate %d accepted twice: tries %d and %d", o.mandate, w, o.try)
			}
			winner[o.mandate] = o.try
			if seqs[o.res.Seq] {
				t.Fatalf("seq %d given twice", o.res.Seq)
			}
			seqs[o.res.Seq] = true
		case !errors.Is(o.err, ErrAlreadyVoted):
			t.Fatalf("mandate %d try %d: %+v, %v", o.mandate, o.try, o.res, o.err)
		}
	}
	if len(winner) != mandates {
		t.Fatalf("%d mandates accepted, want %d", len(winner), mandates)
	}
	if v, n := s.Counts(); v != mandates || n != mandates {
		t.Errorf("Counts = %d, %d; want %d, %d", v, n, mandates, mandates)
	}
	var want []string
	for i, try := range winner {
		want = append(want, testVote(i, try).Line())
	}
	slices.Sort(want)
	log := logPayloads(t, dir)
	slices.Sort(log)
	if !slices.Equal(log, want) {
		t.Errorf("votes.log does not hold exactly the winning votes (%d lines)", len(log))
	}
	checkProjection(t, s)
	if n := len(allVoters(t, s)); n != mandates {
		t.Errorf("voter table has %d entries", n)
	}
	// Group commit: far fewer commits and fsyncs than requests.
	commits, fsyncs := s.commits.Load(), s.fsyncs.Load()
	t.Logf("%d requests, %d commits, %d fsyncs", mandates*tries, commits, fsyncs)
	if commits > mandates*tries/8 || fsyncs > commits {
		t.Errorf("%d commits and %d fsyncs for %d requests: not grouped", commits, fsyncs, mandates*tries)
	}
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	ctx := context.Background()
	for i := range 10 {
		if _, err := s.Accept(ctx, testVoter(i), testVote(i, 0), Receipt{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ApplyTwin([]Pair{{Seq: 7, Voter: testVoter(20), Vote: testVote(20, 0)}}, 9); err != nil {
		t.Fatal(err)
	}
	recent := s.Recent(testOptions[2], 10)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Accept(ctx, testVoter(30), testVote(30, 0), Receipt{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Accept after Close: %v", err)
	}
	if _, _, err := s.VoteRecords(1, 10); !errors.Is(err, ErrClosed) {
		t.Errorf("VoteRecords after Close: %v", err)
	}

	s = openT(t, dir, Options{})
	if v, n := s.Counts(); v != 11 || n != 11 {
		t.Errorf("Counts = %d, %d", v, n)
	}
	if c := s.TwinCursor(); c != 9 {
		t.Errorf("TwinCursor = %d, want 9", c)
	}
	if got := s.Recent(testOptions[2], 10); !slices.Equal(got, recent) || len(got) != 4 {
		t.Errorf("Recent after reopen %q, before %q", got, recent)
	}
	res, err := s.Accept(ctx, testVoter(10), testVote(10, 0), Receipt{})
	if err != nil || res.Seq != 11 {
		t.Errorf("Accept after reopen = %+v, %v; want seq 11", res, err)
	}
	res, err = s.Accept(ctx, testVoter(3), testVote(3, 0), Receipt{})
	if err != nil || res != (Result{Seq: 4, Repeat: true}) {
		t.Errorf("retry after reopen = %+v, %v", res, err)
	}
	checkProjection(t, s)
}

func TestOptions(t *testing.T) {
	for _, opt := range []Options{{MaxBatch: -1}, {Retain: -time.Second}} {
		if s, err := Open(t.TempDir(), opt); err == nil {
			s.Close()
			t.Errorf("Open(%+v) accepted", opt)
		}
	}
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	if _, err := Open(dir, Options{}); err == nil {
		t.Error("a second Open of a directory in use succeeded")
	}
	if err := s.Confirm(1, 0); err == nil {
		t.Error("Confirm beyond the last own seq accepted")
	}
	for _, tc := range []struct {
		pairs []Pair
		seq   uint64
	}{
		{[]Pair{{Seq: 2, Voter: testVoter(1), Vote: testVote(1, 0)}, {Seq: 2, Voter: testVoter(2), Vote: testVote(2, 0)}}, 2},
		{[]Pair{{Seq: 5, Voter: testVoter(1), Vote: testVote(1, 0)}}, 4},
		{[]Pair{{Seq: 5, Voter: testVoter(1), Vote: Vote{PUTC: "x"}}}, 5},
	} {
		if err := s.ApplyTwin(tc.pairs, tc.seq); err == nil {
			t.Errorf("ApplyTwin(%d pairs, %d) accepted", len(tc.pairs), tc.seq)
		}
	}
	if v, n := s.Counts(); v != 0 || n != 0 || s.TwinCursor() != 0 {
		t.Errorf("refused calls wrote something: %d, %d, %d", v, n, s.TwinCursor())
	}
}

// An Accept whose context ends before the writer takes it writes nothing.
func TestAcceptCancelled(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Accept(ctx, testVoter(1), testVote(1, 0), Receipt{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Accept = %v", err)
	}
	if v, n := s.Counts(); v != 0 || n != 0 || s.commits.Load() != 0 {
		t.Fatalf("Counts = %d, %d after a cancelled Accept", v, n)
	}
}

// BenchmarkAccept measures votes per second with many concurrent callers
// (32 per CPU), as a collector serving many voters has: group commit makes
// the rate grow with the callers while fsyncs per second stay flat.
func BenchmarkAccept(b *testing.B) {
	benchAccept(b, false)
}

// BenchmarkAcceptConfirmed is BenchmarkAccept with a twin that confirms
// every own vote five times a second, as its pulls do: links are dropped
// and dir/links is compacted (the mover) while votes go in, as in a pair.
func BenchmarkAcceptConfirmed(b *testing.B) {
	benchAccept(b, true)
}

func benchAccept(b *testing.B, confirm bool) {
	s := openT(b, b.TempDir(), Options{})
	if confirm {
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
				}
				if err := s.Confirm(s.LastSeq(), 0); err != nil {
					b.Error(err)
					return
				}
			}
		}()
		defer func() { close(stop); <-done }()
	}
	var mu sync.Mutex
	next := 0
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			i := next
			next++
			mu.Unlock()
			if _, err := s.Accept(context.Background(), testVoter(i), testVote(i, 0), Receipt{}); err != nil {
				b.Errorf("Accept %d: %v", i, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "votes/s")
	b.ReportMetric(float64(b.N)/float64(max(s.commits.Load(), 1)), "votes/commit")
}
