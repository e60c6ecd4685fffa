package loadtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/mandate"
	"github.com/powvote/powvote/stamp"
)

// fixture is n votes and their mandates as the publisher would list them.
type fixture struct {
	votes  []listline.Vote
	voters []listline.Voter
	acked  []Acked
}

func newFixture(t *testing.T, n int) *fixture {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var psig [64]byte
	f := &fixture{}
	for range n {
		voter, err := stamp.NewVoter(make([]byte, 32), rand.Reader, "1767225600", psig[:])
		if err != nil {
			t.Fatal(err)
		}
		tok, err := mandate.Issue(key, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		nonce := make([]byte, 8)
		if _, err := rand.Read(nonce); err != nil {
			t.Fatal(err)
		}
		f.votes = append(f.votes, listline.Vote{PUTC: "1767225600", PSig: psig, Voter: voter, Nonce: nonce, Option: "Zürich"})
		f.voters = append(f.voters, listline.Voter{Pkey: tok.AuthPkey, Sig: tok.AuthSig, ID: tok.AuthID})
		f.acked = append(f.acked, Acked{Voter: voter, Mandate: keyOf(&tok)})
	}
	return f
}

func (f *fixture) lists() (votes, voters []byte) {
	for _, v := range f.votes {
		votes = append(v.AppendLine(votes), '\n')
	}
	for _, v := range f.voters {
		voters = append(voters, v.Line()+"\n"...)
	}
	return votes, voters
}

func TestCheckLists(t *testing.T) {
	for _, tc := range []struct {
		name      string
		change    func(f *fixture)
		raw       func(votes, voters []byte) ([]byte, []byte)
		allowance int
		want      func(c ListCheck) bool
		fail      bool
	}{
		{name: "all published", want: func(c ListCheck) bool { return c.PublishedOnce == 5 && c.Lost == 0 && c.LengthsEqual }},
		{name: "lost", change: func(f *fixture) { f.votes, f.voters = f.votes[1:], f.voters[1:] },
			want: func(c ListCheck) bool { return c.Lost == 1 && c.PublishedOnce == 4 }, fail: true},
		{name: "pending batch", allowance: 3, change: func(f *fixture) { f.votes, f.voters = f.votes[2:], f.voters[2:] },
			want: func(c ListCheck) bool { return c.Lost == 0 && c.PendingBatch == 2 }},
		{name: "more missing than a batch holds back", allowance: 1, change: func(f *fixture) { f.votes, f.voters = f.votes[2:], f.voters[2:] },
			want: func(c ListCheck) bool { return c.Lost == 2 && c.PendingBatch == 0 }, fail: true},
		{name: "voter without its vote's mandate", change: func(f *fixture) {
			other := newFixture(t, 1)
			f.voters[0] = other.voters[0]
		}, want: func(c ListCheck) bool { return c.Lost == 1 && c.PublishedOnce == 5 }, fail: true},
		{name: "duplicated stamp", change: func(f *fixture) {
			v := f.votes[0]
			v.Nonce = []byte("another!")
			f.votes = append(f.votes, v)
			f.voters = append(f.voters, newFixture(t, 1).voters[0])
		}, want: func(c ListCheck) bool { return c.DupStamps == 1 && c.PublishedOnce == 4 && c.LengthsEqual }, fail: true},
		{name: "duplicated nonce", change: func(f *fixture) {
			g := newFixture(t, 1)
			g.votes[0].Nonce = f.votes[3].Nonce
			f.votes = append(f.votes, g.votes[0])
			f.voters = append(f.voters, g.voters[0])
		}, want: func(c ListCheck) bool { return c.DupNonces == 1 && c.PublishedOnce == 5 }, fail: true},
		{name: "duplicated mandate", change: func(f *fixture) {
			g := newFixture(t, 1)
			f.votes = append(f.votes, g.votes[0])
			f.voters = append(f.voters, f.voters[2])
		}, want: func(c ListCheck) bool { return c.DupMandates == 1 && c.Duplicated == 1 }, fail: true},
		{name: "unequal lengths", change: func(f *fixture) { f.voters = append(f.voters, newFixture(t, 1).voters[0]) },
			want: func(c ListCheck) bool { return !c.LengthsEqual && c.VoteLines == 5 && c.AuthLines == 6 && c.Lost == 0 }, fail: true},
		{name: "malformed line", raw: func(votes, voters []byte) ([]byte, []byte) {
			return append(votes, "garbage\n"...), append(voters, "garbage\n"...)
		}, want: func(c ListCheck) bool { return c.Malformed == 2 && c.LengthsEqual }, fail: true},
		{name: "a last line without its line feed does not count", raw: func(votes, voters []byte) ([]byte, []byte) {
			return votes[:len(votes)-1], voters[:len(voters)-1]
		}, want: func(c ListCheck) bool { return c.VoteLines == 4 && c.Lost == 1 }, fail: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 5)
			acked := append([]Acked(nil), f.acked...)
			if tc.change != nil {
				tc.change(f)
			}
			votes, voters := f.lists()
			if tc.raw != nil {
				votes, voters = tc.raw(votes, voters)
			}
			c := CheckLists(votes, voters, acked, nil, tc.allowance)
			if !tc.want(c) {
				t.Errorf("verdict %+v", c)
			}
			if p := c.Problems(); (len(p) > 0) != tc.fail {
				t.Errorf("problems %q, want failure %v", p, tc.fail)
			}
		})
	}
}

func TestCheckListsUnacked(t *testing.T) {
	f := newFixture(t, 3)
	votes, voters := f.lists()
	c := CheckLists(votes, voters, f.acked[:1], []string{f.acked[1].Voter, strings.Repeat("0000-", 7) + "0000"}, 0)
	if c.PublishedUnacked != 1 || len(c.Problems()) != 0 {
		t.Errorf("verdict %+v, problems %q", c, c.Problems())
	}
}
