package audit

import (
	"context"
	"crypto/ed25519"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/mandate"
	"github.com/powvote/powvote/pow"
)

// fixture is a campaign with lists made of real mandates and real proofs of
// work, and spare lines to add in mutations.
type fixture struct {
	settings *campaign.Settings
	rng      *rand.ChaCha8
	priv     ed25519.PrivateKey
	votes    []string
	voters   []string
	spare    []string // voter lines not in the list
}

var testOptions = []string{"Evil Neptune", "Humble Pluto", "Pluto", "Énergie solaire"}

// testStart is inside the campaign window of newFixture.
var testStart = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func newFixture(t testing.TB, n, threshold int) *fixture {
	t.Helper()
	rng := rand.NewChaCha8([32]byte{'a', 'u', 'd', 'i', 't'})
	seed := make([]byte, ed25519.SeedSize)
	rng.Read(seed)
	priv := ed25519.NewKeyFromSeed(seed)
	s := &campaign.Settings{
		Name:        "solar",
		Options:     testOptions,
		Authorities: []ed25519.PublicKey{priv.Public().(ed25519.PublicKey)},
		Threshold:   threshold,
		BatchSize:   4,
		Start:       testStart,
		End:         testStart.Add(30 * 24 * time.Hour),
		MaxStampAge: 30 * time.Minute,
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	f := &fixture{settings: s, rng: rng, priv: priv}
	for i := range n {
		f.votes = append(f.votes, f.vote(t, testOptions[i%len(testOptions)], threshold).Line())
		f.voters = append(f.voters, f.voter(t, priv))
	}
	for range 4 {
		f.spare = append(f.spare, f.voter(t, priv))
	}
	return f
}

// voter issues a mandate with priv and returns its voters-list line.
func (f *fixture) voter(t testing.TB, priv ed25519.PrivateKey) string {
	t.Helper()
	tok, err := mandate.Issue(priv, f.rng)
	if err != nil {
		t.Fatal(err)
	}
	return listline.Voter{Pkey: tok.AuthPkey, Sig: tok.AuthSig, ID: tok.AuthID}.Line()
}

// unsolved returns a vote for say with a fresh stamp and no nonce.
func (f *fixture) unsolved(say string) listline.Vote {
	const symbols = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	var v listline.Vote
	v.PUTC = strconv.FormatInt(testStart.Unix()+int64(f.rng.Uint64()%86400), 10)
	f.rng.Read(v.PSig[:])
	var b strings.Builder
	for i := range 32 {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(symbols[f.rng.Uint64()%32])
	}
	v.Voter = b.String()
	v.Option = say
	return v
}

// vote returns a vote for say whose proof of work scores at least
// threshold.
func (f *fixture) vote(t testing.TB, say string, threshold int) listline.Vote {
	t.Helper()
	v := f.unsolved(say)
	f.solve(t, &v, threshold)
	return v
}

func (f *fixture) solve(t testing.TB, v *listline.Vote, threshold int) {
	t.Helper()
	s := pow.Solver{Workers: 1, Rand: f.rng}
	res, err := s.Solve(context.Background(), v.Work(), threshold)
	if err != nil {
		t.Fatal(err)
	}
	v.Nonce = res.Nonce
}

// write stores the lists in a new folder.
func write(t testing.TB, votes, voters []string) Dir {
	t.Helper()
	dir := t.TempDir()
	for name, ls := range map[string][]string{"solar-vote.log": votes, "solar-auth.log": voters} {
		text := strings.Join(ls, "\n")
		if len(ls) > 0 {
			text += "\n"
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Dir(dir)
}
