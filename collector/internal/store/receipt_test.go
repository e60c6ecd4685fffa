package store

import (
	"context"
	"errors"
	"testing"
)

// TestReceiptKept: the receipt Accept was given with a new vote is the
// one every later Accept of the same vote returns, whatever it is given
// then: with the link held, after the link is gone, and after a reopen.
// The twin gets it with the pair; the instance that prefers the twin's
// receipts gives the twin's for a vote both accepted, and the copied
// vote's for a vote it only copied.
func TestReceiptKept(t *testing.T) {
	clock := newFakeClock()
	a := openT(t, t.TempDir(), Options{Clock: clock.Now})
	b := openT(t, t.TempDir(), Options{Clock: clock.Now, PreferTwinReceipts: true})
	first := Receipt{Decoys: "7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS-1NCA-8FYQ,*,-", Given: true}
	second := Receipt{Decoys: "-,*,1NCA-8FYQ-7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS"}
	third := Receipt{Decoys: "-,*,-", Given: true}
	ctx := context.Background()

	res, err := a.Accept(ctx, testVoter(1), testVote(1, 0), first)
	if err != nil || res.Receipt != first || res.Repeat {
		t.Fatalf("Accept = %+v, %v; want the receipt given", res, err)
	}
	again := func(s *Store, i int, want Receipt, when string) {
		t.Helper()
		res, err := s.Accept(ctx, testVoter(i), testVote(i, 0), third)
		if err != nil || !res.Repeat || res.Receipt != want {
			t.Errorf("%s: repeat = %+v, %v; want Repeat with %+v", when, res, err, want)
		}
	}
	again(a, 1, first, "link held")

	// B accepted the same vote itself, with its own decoys, as both
	// instances of a pair do, but was not asked to sign them (the edge
	// asks one); and a vote A never saw, which it signed.
	if res, err := b.Accept(ctx, testVoter(1), testVote(1, 0), second); err != nil || res.Receipt != second {
		t.Fatalf("B: Accept = %+v, %v", res, err)
	}
	secondGiven := second
	secondGiven.Given = true
	if _, err := b.Accept(ctx, testVoter(2), testVote(2, 0), secondGiven); err != nil {
		t.Fatal(err)
	}
	pairs, _, err := a.Links(0, 10)
	if err != nil || len(pairs) != 1 || pairs[0].Receipt != first {
		t.Fatalf("Links = %+v, %v; want the pair with its receipt", pairs, err)
	}
	twinTakes(t, clock, b, a) // B applies A's pair: A's given receipt wins on B
	twinTakes(t, clock, a, b) // A copies vote 2 with B's receipt; keeps its own for vote 1
	again(b, 1, first, "B, after A's pair")
	again(a, 1, first, "A, after B's pair")
	again(a, 2, secondGiven, "A, a copied vote")

	// Links gone (B confirms again, now that A has B's votes), then
	// reopened.
	twinTakes(t, clock, b, a)
	if l, _ := a.Held(); l != 0 {
		t.Fatalf("A still holds %d links", l)
	}
	again(a, 1, first, "link gone")
	a.Close()
	a = openT(t, a.dir, Options{Clock: clock.Now})
	again(a, 1, first, "after a reopen")

	// A receipt kept but never given becomes given when a repeat gives
	// it; both instances gave one: the instance that prefers the twin's
	// takes the twin's.
	c := openT(t, t.TempDir(), Options{Clock: clock.Now})
	d := openT(t, t.TempDir(), Options{Clock: clock.Now, PreferTwinReceipts: true})
	if _, err := c.Accept(ctx, testVoter(5), testVote(5, 0), second); err != nil {
		t.Fatal(err)
	}
	if res, err := c.Accept(ctx, testVoter(5), testVote(5, 0), third); err != nil || res.Receipt != secondGiven {
		t.Errorf("a repeat that gives the kept receipt = %+v, %v; want it given", res, err)
	}
	if _, err := d.Accept(ctx, testVoter(5), testVote(5, 0), third); err != nil {
		t.Fatal(err)
	}
	twinTakes(t, clock, d, c)
	twinTakes(t, clock, c, d)
	again(c, 5, secondGiven, "both given: the instance that keeps its own")
	again(d, 5, secondGiven, "both given: the instance that prefers the twin's")

	// A receipt is one token.
	if _, err := a.Accept(ctx, testVoter(3), testVote(3, 0), Receipt{Decoys: "a b"}); !errors.Is(err, ErrSyntax) {
		t.Errorf("a receipt with a space: %v", err)
	}
}
