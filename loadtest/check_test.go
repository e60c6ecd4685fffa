package loadtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"slices"
	"testing"
	"time"

	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/mandate"
	"github.com/powvote/powvote/stamp"
)

// fixture is n votes and their mandates as the publisher would list them.
type fixture struct {
	votes  []listline.Vote
	voters []listline.Voter
	acked  []Sent // the votes as sent, before any change to votes and voters
}

func newFixture(t testing.TB, n int) *fixture {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{}
	for i := range n {
		var psig [64]byte
		if _, err := rand.Read(psig[:]); err != nil {
			t.Fatal(err)
		}
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
		v := listline.Vote{PUTC: "1767225600", PSig: psig, Voter: voter, Nonce: nonce, Option: fixtureOptions[i%len(fixtureOptions)]}
		m := listline.Voter{Pkey: tok.AuthPkey, Sig: tok.AuthSig, ID: tok.AuthID}
		f.votes = append(f.votes, v)
		f.voters = append(f.voters, m)
		f.acked = append(f.acked, Sent{Vote: v, Voter: m})
	}
	return f
}

var fixtureOptions = []string{"Zürich", "Evil Neptune", "Humble Pluto"}

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
			want: func(c ListCheck) bool { return c.Lost == 0 && c.PendingBatch == 2 && c.PublishedOnce == 3 }, fail: true},
		{name: "more missing than a batch holds back", allowance: 1, change: func(f *fixture) { f.votes, f.voters = f.votes[2:], f.voters[2:] },
			want: func(c ListCheck) bool { return c.Lost == 2 && c.PendingBatch == 0 }, fail: true},
		{name: "voter without its vote's mandate", change: func(f *fixture) {
			other := newFixture(t, 1)
			f.voters[0] = other.voters[0]
		}, want: func(c ListCheck) bool { return c.Lost == 1 && c.PublishedOnce == 4 }, fail: true},
		{name: "duplicated stamp", change: func(f *fixture) {
			v := f.votes[0]
			v.Nonce = []byte("another!")
			f.votes = append(f.votes, v)
			f.voters = append(f.voters, newFixture(t, 1).voters[0])
		}, want: func(c ListCheck) bool {
			return c.DupStamps == 1 && c.Altered == 1 && c.PublishedOnce == 4 && c.LengthsEqual
		}, fail: true},
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
		}, want: func(c ListCheck) bool { return c.DupMandates == 1 && c.Duplicated == 1 && c.PublishedOnce == 4 }, fail: true},
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
			acked := f.acked
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
	c := CheckLists(votes, voters, f.acked[:1], []Sent{f.acked[1], newFixture(t, 1).acked[0]}, 0)
	if c.PublishedUnacked != 1 || len(c.Problems()) != 0 {
		t.Errorf("verdict %+v, problems %q", c, c.Problems())
	}
}

// TestCheckListsDishonest publishes, beside a run's acknowledged votes and
// a batch of its fillers, the lists a dishonest platform could publish:
// each must fail the check, and the report that carries it must not be
// OK. The honest lists pass.
func TestCheckListsDishonest(t *testing.T) {
	const batch = 4
	const n = 2*batch + 1 // acknowledged votes
	var (
		filled           = pendingAllowance(batch, fillerFirst*batch, fillerFirst*batch)
		fillersOff       = pendingAllowance(batch, 0, 0)
		oneFillerUnacked = pendingAllowance(batch, fillerFirst*batch, fillerFirst*batch-1)
	)
	if filled != 0 || fillersOff == 0 || oneFillerUnacked == 0 {
		t.Fatalf("allowances %d, %d, %d: want none only when every filler was acknowledged", filled, fillersOff, oneFillerUnacked)
	}
	for _, tc := range []struct {
		name      string
		allowance int
		// change turns the honest lists into the published ones: f holds
		// the run's votes, fill the fillers that were published. Nonces
		// are shared with the votes as sent: replace them, never write
		// into them.
		change func(f, fill *fixture)
		want   func(c ListCheck) bool
		pass   bool
	}{
		{name: "honest", allowance: filled, pass: true,
			want: func(c ListCheck) bool { return c.PublishedOnce == n && c.Missing == 0 && c.Altered == 0 }},
		{name: "honest, fillers off, every vote published", allowance: fillersOff, pass: true,
			want: func(c ListCheck) bool { return c.PublishedOnce == n && c.Missing == 0 && c.PendingBatch == 0 }},

		{name: "a: another option, same stamp and nonce", allowance: filled, change: func(f, _ *fixture) {
			f.votes[1].Option = fixtureOptions[(slices.Index(fixtureOptions, f.votes[1].Option)+1)%len(fixtureOptions)]
		}, want: func(c ListCheck) bool { return c.Altered == 1 && c.PublishedOnce == n-1 && c.Missing == 0 }},
		{name: "b: another nonce", allowance: filled, change: func(f, _ *fixture) {
			f.votes[2].Nonce = append(slices.Clone(f.votes[2].Nonce), 0)
		}, want: func(c ListCheck) bool { return c.Altered == 1 && c.PublishedOnce == n-1 }},
		{name: "b: another P-SIG", allowance: filled, change: func(f, _ *fixture) { f.votes[3].PSig[0] ^= 1 },
			want: func(c ListCheck) bool { return c.Altered == 1 && c.PublishedOnce == n-1 }},
		{name: "b: another P-UTC", allowance: filled, change: func(f, _ *fixture) { f.votes[4].PUTC = "1767225601" },
			want: func(c ListCheck) bool { return c.Altered == 1 && c.PublishedOnce == n-1 }},
		{name: "c: voter line with another signature", allowance: filled, change: func(f, _ *fixture) { f.voters[5].Sig[63] ^= 1 },
			want: func(c ListCheck) bool { return c.Altered == 1 && c.PublishedOnce == n-1 && c.Missing == 0 }},

		{name: "d: one vote missing, fillers off", allowance: fillersOff, change: func(f, _ *fixture) {
			f.votes, f.voters = f.votes[1:], f.voters[1:]
		}, want: func(c ListCheck) bool { return c.PendingBatch == 1 && c.Lost == 0 && c.PublishedOnce == n-1 }},
		{name: "d: one voter line kept back, fillers off", allowance: fillersOff, change: func(f, fill *fixture) {
			// A filler's voter line in its place: the lengths agree.
			f.voters[6] = fill.voters[0]
			fill.voters = fill.voters[1:]
		}, want: func(c ListCheck) bool { return c.PendingBatch == 1 && c.PublishedOnce == n-1 && c.LengthsEqual }},
		{name: "e: one vote missing, one filler unacknowledged", allowance: oneFillerUnacked, change: func(f, _ *fixture) {
			f.votes, f.voters = f.votes[:n-1], f.voters[:n-1]
		}, want: func(c ListCheck) bool { return c.PendingBatch == 1 && c.Lost == 0 && c.PublishedOnce == n-1 }},
		{name: "e: one vote line kept back, one filler unacknowledged", allowance: oneFillerUnacked, change: func(f, fill *fixture) {
			f.votes[7] = fill.votes[0]
			fill.votes = fill.votes[1:]
		}, want: func(c ListCheck) bool { return c.PendingBatch == 1 && c.PublishedOnce == n-1 && c.LengthsEqual }},

		{name: "f: a vote published twice", allowance: filled, change: func(f, fill *fixture) {
			f.votes = append(f.votes, f.votes[0])
			f.voters = append(f.voters, fill.voters[0]) // the lengths agree
			fill.voters = fill.voters[1:]
		}, want: func(c ListCheck) bool { return c.DupStamps == 1 && c.PublishedOnce == n-1 && c.LengthsEqual }},
		{name: "f: a voter line published twice", allowance: filled, change: func(f, fill *fixture) {
			f.voters = append(f.voters, f.voters[0])
			f.votes = append(f.votes, fill.votes[0])
			fill.votes = fill.votes[1:]
		}, want: func(c ListCheck) bool { return c.DupMandates == 1 && c.PublishedOnce == n-1 && c.LengthsEqual }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, n)
			fill := newFixture(t, batch+1) // a batch of fillers published, and one more to stand in
			fill.votes, fill.voters = fill.votes[:batch+1], fill.voters[:batch+1]
			if tc.change != nil {
				tc.change(f, fill)
			}
			fill.votes, fill.voters = fill.votes[:batch], fill.voters[:batch]
			v, a := f.lists()
			fv, fa := fill.lists()
			c := CheckLists(append(v, fv...), append(a, fa...), f.acked, nil, tc.allowance)
			if p := c.Problems(); (len(p) == 0) != tc.pass {
				t.Errorf("problems %q, want pass %v", p, tc.pass)
			}
			if !tc.want(c) {
				t.Errorf("verdict %+v", c)
			}
			rep := &Report{}
			rep.setLists(c, time.Second)
			rep.finalize()
			if rep.OK != tc.pass {
				t.Errorf("report ok %v, want %v; errors %q", rep.OK, tc.pass, rep.Errors)
			}
		})
	}
}
