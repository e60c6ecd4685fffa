package store

import (
	"slices"
	"testing"
	"time"
)

// TestRecentRipens: Recent offers a stamp only once its vote has been
// durable for DecoyAge, keeps the newest 64 ripe stamps per option, and
// after a restart offers the stamps it finds again at once (their votes
// were durable before the restart).
func TestRecentRipens(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	s := openT(t, dir, Options{Clock: clock.Now, DecoyAge: time.Second})
	opt := testOptions[0] // mandates 0, 3, 6, ... choose it
	var stamps []string
	for i := 0; i < 3*70; i += 3 {
		acceptT(t, s, i, 0)
		stamps = append(stamps, testVote(i, 0).Voter)
		if got := s.Recent(opt, 100); len(got) > 0 && got[0] == testVote(i, 0).Voter {
			t.Fatalf("vote %d: its stamp is offered at once", i)
		}
		clock.Advance(100 * time.Millisecond)
	}
	// 70 votes 0.1 s apart, the clock 7 s after the first: votes up to
	// 6 s old, the first 61, are ripe.
	want := slices.Clone(stamps[:61])
	slices.Reverse(want)
	if got := s.Recent(opt, 100); !slices.Equal(got, want) {
		t.Fatalf("Recent = %d stamps, want the 61 ripe ones, newest first", len(got))
	}
	clock.Advance(time.Second)
	got := s.Recent(opt, 100)
	wantAll := slices.Clone(stamps[len(stamps)-recentKeep:])
	slices.Reverse(wantAll)
	if !slices.Equal(got, wantAll) {
		t.Fatalf("a second later: Recent = %d stamps, want the newest %d", len(got), recentKeep)
	}
	s.Close()
	s = openT(t, dir, Options{Clock: clock.Now, DecoyAge: time.Hour})
	if got := s.Recent(opt, 100); !slices.Equal(got, wantAll) {
		t.Fatalf("after Open: Recent = %d stamps, want the newest %d at once", len(got), recentKeep)
	}
}
