package store

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// voterLines returns the lines of voters, in their order.
func voterLines(voters []Voter) []string {
	ls := make([]string, len(voters))
	for i, v := range voters {
		ls[i] = v.Line()
	}
	return ls
}

// sortedLines returns the lines of voters in key order.
func sortedLines(voters []Voter) []string {
	vs := slices.Clone(voters)
	slices.SortFunc(vs, func(a, b Voter) int { return bytes.Compare(voterKey(a), voterKey(b)) })
	return voterLines(vs)
}

func TestVotersSince(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	accept := func(from, to int) []Voter {
		t.Helper()
		var vs []Voter
		for i := from; i < to; i++ {
			if _, err := s.Accept(ctx, testVoter(i), testVote(i, 0), Receipt{}); err != nil {
				t.Fatal(err)
			}
			vs = append(vs, testVoter(i))
		}
		return vs
	}
	ask := func(c string) ([]Voter, string) {
		t.Helper()
		vs, next, err := s.VotersSince(c)
		if err != nil {
			t.Fatalf("VotersSince(%q): %v", c, err)
		}
		return vs, next
	}
	want := func(what string, got, want []Voter) {
		t.Helper()
		if g, w := voterLines(got), sortedLines(want); !slices.Equal(g, w) {
			t.Fatalf("%s: got voters\n%s\nwant (in key order)\n%s", what, strings.Join(g, "\n"), strings.Join(w, "\n"))
		}
	}

	accept(0, 5) // before the first cursor: the table's, not the cursor's
	none, c0 := ask("")
	if len(none) != 0 || !ValidCursor(c0) || c0 == "" {
		t.Fatalf("VotersSince(\"\") = %d voters, cursor %q", len(none), c0)
	}
	first := accept(5, 25)
	// The twin's votes come by the cursor too.
	var pairs []Pair
	for i := 100; i < 110; i++ {
		pairs = append(pairs, Pair{Seq: uint64(i - 99), Voter: testVoter(i), Vote: testVote(i, 0)})
		first = append(first, testVoter(i))
	}
	if err := s.ApplyTwin(pairs, 10); err != nil {
		t.Fatal(err)
	}
	got, c1 := ask(c0)
	want("after the first cursor", got, first)
	// A lost answer: asking again with the same cursor gets the same.
	again, c1b := ask(c0)
	want("asked again", again, first)
	if c1b != c1 {
		t.Fatalf("next cursor %q, then %q", c1, c1b)
	}
	// A repeated vote adds no voter.
	if _, err := s.Accept(ctx, testVoter(7), testVote(7, 0), Receipt{}); err != nil {
		t.Fatal(err)
	}
	second := accept(25, 30)
	got, c2 := ask(c1)
	want("after the second cursor", got, second)
	got, c3 := ask(c2)
	if len(got) != 0 || c3 != c2 {
		t.Fatalf("nothing new: got %d voters, cursor %q after %q", len(got), c3, c2)
	}
	// Asking past voters forgets them.
	if _, _, err := s.VotersSince(c0); !errors.Is(err, ErrCursorGone) {
		t.Fatalf("VotersSince(taken cursor) = %v, want ErrCursorGone", err)
	}
	epoch, _, _ := strings.Cut(c2, ".")
	for _, c := range []string{
		epoch + ".99",                    // beyond what was added
		"0123456789abcdef.0",             // another opening
		epoch + ".01",                    // not spelt as a cursor
		epoch,                            // no number
		strings.ToUpper(c2),              // upper-case hex
		epoch + ".1.2",                   // two dots
		epoch + ".-1",                    // a sign
		epoch + ".184467440737095516160", // 21 digits
	} {
		if _, _, err := s.VotersSince(c); !errors.Is(err, ErrCursorGone) {
			t.Errorf("VotersSince(%q) = %v, want ErrCursorGone", c, err)
		}
	}

	// A cursor names one opening of the Store: after a restart the
	// reader reads the table in full.
	s.Close()
	s = openT(t, dir, Options{})
	if _, _, err := s.VotersSince(c2); !errors.Is(err, ErrCursorGone) {
		t.Fatalf("VotersSince(cursor of the earlier opening) = %v, want ErrCursorGone", err)
	}
}

// TestJournalBound checks that voters no reader takes are dropped past the
// bound, and that a reader whose cursor they were then gets
// ErrCursorGone, not an answer with a gap.
func TestJournalBound(t *testing.T) {
	j, err := newJournal()
	if err != nil {
		t.Fatal(err)
	}
	_, c0, _ := j.since("")
	var all []Voter
	for i := range journalMax + 10 {
		all = append(all, testVoter(i))
	}
	j.add(all[:journalMax])
	_, c1, _ := j.since("") // the end, before the last 10
	j.add(all[journalMax:])
	if _, _, err := j.since(c0); !errors.Is(err, ErrCursorGone) {
		t.Fatalf("since(cursor of dropped voters) = %v, want ErrCursorGone", err)
	}
	got, _, err := j.since(c1)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := voterLines(got), sortedLines(all[journalMax:]); !slices.Equal(g, w) {
		t.Fatalf("since(kept cursor): %d voters, want the last %d", len(g), len(w))
	}
	j.mu.Lock()
	held := len(j.held)
	j.mu.Unlock()
	if held != 10 {
		t.Fatalf("journal holds %d voters after the reader took all but 10, want 10", held)
	}
}

// FuzzVotersSince checks that no cursor text breaks the journal: only the
// empty cursor and cursors it handed out are answered.
func FuzzVotersSince(f *testing.F) {
	f.Add("")
	f.Add("0123456789abcdef.0")
	f.Add("0123456789abcdef.18446744073709551615")
	f.Add(".")
	f.Fuzz(func(t *testing.T, c string) {
		j, err := newJournal()
		if err != nil {
			t.Fatal(err)
		}
		j.epoch = "0123456789abcdef"
		j.add([]Voter{testVoter(1), testVoter(2)})
		_, _, err = j.since("0123456789abcdef.1") // the reader has the first
		if err != nil {
			t.Fatal(err)
		}
		valid := ValidCursor(c)
		vs, next, err := j.since(c)
		if err != nil && !errors.Is(err, ErrCursorGone) {
			t.Fatalf("since(%q): %v", c, err)
		}
		answered := err == nil
		if answered && !valid {
			t.Fatalf("since(%q) answered a cursor ValidCursor refuses", c)
		}
		if want := c == "" || c == "0123456789abcdef.1" || c == "0123456789abcdef.2"; answered != want {
			t.Fatalf("since(%q): answered %v, want %v", c, answered, want)
		}
		if answered && (next != "0123456789abcdef.2" || len(vs) > 1) {
			t.Fatalf("since(%q) = %d voters, next %q", c, len(vs), next)
		}
	})
}
