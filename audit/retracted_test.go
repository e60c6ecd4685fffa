package audit

import (
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/wire"
)

// retractedFixture is a folder of lists whose votes list holds the winners
// of some retractions, and the receipt key that signs the bindings.
type retractedFixture struct {
	f       *fixture
	votes   []listline.Vote // the votes list, parsed
	receipt ed25519.PrivateKey
}

func newRetractedFixture(t *testing.T) *retractedFixture {
	t.Helper()
	f := sharedFixture(t)
	rf := &retractedFixture{f: f, receipt: ed25519.NewKeyFromSeed([]byte(strings.Repeat("r", ed25519.SeedSize)))}
	for _, l := range f.votes[:12] {
		v, err := listline.ParseVote(l)
		if err != nil {
			t.Fatal(err)
		}
		rf.votes = append(rf.votes, v)
	}
	return rf
}

// loser returns a vote, with work, that winner beats by mirror rule 3:
// it was stamped later, putcOffset seconds after the winner.
func (rf *retractedFixture) loser(t *testing.T, winner listline.Vote, putcOffset int64) listline.Vote {
	t.Helper()
	v := rf.f.unsolved(winner.Option)
	at, _ := strconv.ParseInt(winner.PUTC, 10, 64)
	v.PUTC = strconv.FormatInt(at+putcOffset, 10)
	rf.f.solve(t, &v, testThreshold)
	return v
}

// line is the retracted list's line of loser bound to winner by key.
func line(key ed25519.PrivateKey, loser, winner listline.Vote) string {
	sig := wire.SignRetraction(key, "solar", loser.Line(), winner.Line())
	return listline.Retracted{Winner: winner.Nonce, Sig: [64]byte(sig), Vote: loser}.Line()
}

// folder writes the lists under their checkpoints, and the retracted
// list under a checkpoint of its first signed lines, with the receipt
// key served as the publisher serves it.
func (rf *retractedFixture) folder(t *testing.T, retracted []string, signed int) Dir {
	t.Helper()
	f := rf.f
	signer, vkey := logKeys(t)
	votes, voters := f.votes[:12], f.voters[:12]
	dir := writeRetracted(t, write(t, votes, voters), retracted...)
	pub := rf.receipt.Public().(ed25519.PublicKey)
	for name, text := range map[string]string{
		"solar-vote.checkpoint":      checkpoint(t, signer, "powvote/solar/vote", votes, 12),
		"solar-auth.checkpoint":      checkpoint(t, signer, "powvote/solar/auth", voters, 12),
		"solar-retracted.checkpoint": checkpoint(t, signer, "powvote/solar/retracted", retracted, signed),
		"solar-log.vkey":             vkey + "\n",
		"solar-history.log":          history(f, votes, 4, 8, 12),
		"solar-receipt.key":          base64.StdEncoding.EncodeToString(pub) + "\n",
	} {
		if err := os.WriteFile(filepath.Join(string(dir), name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestRetractions plays the dishonest party against the retracted list: a
// collector insider who swaps a vote for one of its own making and lists
// the original as retracted, or anyone who forges or pads the list. Each
// must fail the audit, naming the line; an honest list passes and its
// retractions are counted.
func TestRetractions(t *testing.T) {
	rf := newRetractedFixture(t)
	w := rf.votes
	key := rf.receipt
	honest := []string{line(key, rf.loser(t, w[2], 5), w[2]), line(key, rf.loser(t, w[7], 1), w[7])}

	// Someone without the receipt key signs with a key of their own.
	forger := ed25519.NewKeyFromSeed([]byte(strings.Repeat("f", ed25519.SeedSize)))
	forged := line(forger, rf.loser(t, w[3], 5), w[3])
	// An insider holds the key: it binds a vote to a "winner" that was
	// stamped later, to a vote the votes list lacks, or to a winner that
	// already explains another retraction.
	stampedEarlier := line(key, rf.loser(t, w[4], -5), w[4])
	absent, err := listline.ParseVote(rf.f.votes[30])
	if err != nil {
		t.Fatal(err)
	}
	notListed := line(key, rf.loser(t, absent, 5), absent)
	again := line(key, rf.loser(t, w[2], 9), w[2])
	// A retracted vote that is no vote: no work, or stamped after the end.
	noWork := rf.loser(t, w[5], 5)
	noWork.Nonce[0] ^= 0xff
	if voteScore(noWork) >= testThreshold {
		noWork.Nonce[1] ^= 0xff
	}
	late := rf.loser(t, w[6], rf.f.settings.End.Unix()-mustAtoi(t, w[6].PUTC)+60)
	// A "retracted" vote that is counted all the same, bound to the
	// earliest vote no other line names.
	first := 0
	for i, v := range w {
		if i != 2 && i != 7 && i != 8 && listline.Wins(v, w[first]) {
			first = i
		}
	}
	if !listline.Wins(w[first], w[8]) {
		t.Fatal("test setup: vote 8 is the earliest")
	}
	published := line(key, w[8], w[first])
	// A retracted vote under the nonce of a counted vote, with a stamp of
	// its own: work done again until that nonce fits.
	sameNonce := rf.loser(t, w[first], 3)
	for sameNonce.Nonce = w[9].Nonce; voteScore(sameNonce) < testThreshold; {
		sameNonce.Voter = rf.f.unsolved(sameNonce.Option).Voter
	}

	for _, c := range []struct {
		name      string
		retracted []string
		signed    int // lines under the retracted list's checkpoint; -1: all
		strict    bool
		given     bool // the receipt key given rather than served
		fail      []string
		failLine  int // the line of the retracted list the failures name
		counted   int
	}{
		{name: "honest", retracted: honest, signed: -1, strict: true, counted: 2},
		{name: "honest, key given", retracted: honest, signed: -1, strict: true, given: true, counted: 2},
		{name: "forged signature", retracted: append(slices.Clone(honest), forged), signed: -1,
			fail: []string{CheckRetractionSignature}, failLine: 3, counted: 3},
		{name: "forged signature, key given", retracted: append(slices.Clone(honest), forged), signed: -1, given: true,
			fail: []string{CheckRetractionSignature}, failLine: 3, counted: 3},
		{name: "winner stamped later", retracted: append(slices.Clone(honest), stampedEarlier), signed: -1,
			fail: []string{CheckRetractionWinner}, failLine: 3, counted: 3},
		{name: "winner not in the votes list", retracted: append(slices.Clone(honest), notListed), signed: -1,
			fail: []string{CheckRetractionWinner}, failLine: 3, counted: 3},
		{name: "one winner, two retractions", retracted: append(slices.Clone(honest), again), signed: -1,
			fail: []string{CheckRetractionWinner}, failLine: 3, counted: 3},
		{name: "retracted vote without work", retracted: append(slices.Clone(honest), line(key, noWork, w[5])), signed: -1,
			fail: []string{CheckProofOfWork}, failLine: 3, counted: 3},
		{name: "retracted vote stamped after the end", retracted: append(slices.Clone(honest), line(key, late, w[6])), signed: -1,
			fail: []string{CheckStampTime}, failLine: 3, counted: 3},
		{name: "retracted vote counted", retracted: append(slices.Clone(honest), published), signed: -1,
			fail: []string{CheckRetractionLoser}, failLine: 3, counted: 3},
		{name: "retracted vote's nonce counted", retracted: append(slices.Clone(honest), line(key, sameNonce, w[first])), signed: -1,
			fail: []string{CheckRetractionLoser}, failLine: 3, counted: 3},
		{name: "bare vote line", retracted: append(slices.Clone(honest), rf.f.votes[20]), signed: -1,
			fail: []string{CheckRetractedFormat}, failLine: 3, counted: 3},
		// A line appended beyond the checkpoint: not counted, and fatal
		// under strict, even a well-formed one.
		{name: "unsigned tail", retracted: honest, signed: 1, counted: 1},
		{name: "unsigned tail, strict", retracted: honest, signed: 1, strict: true, fail: []string{CheckCheckpointSize}, counted: 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			signed := c.signed
			if signed < 0 {
				signed = len(c.retracted)
			}
			dir := rf.folder(t, c.retracted, signed)
			opt := Options{Logs: &LogOptions{Strict: c.strict}, SettingsGiven: true}
			if c.given {
				opt.ReceiptKey = key.Public().(ed25519.PublicKey)
				os.Remove(filepath.Join(string(dir), "solar-receipt.key"))
			}
			r := run(t, dir, rf.f, opt)
			var text strings.Builder
			r.WriteText(&text)
			if failed := slices.Compact(r.Failed()); !slices.Equal(failed, c.fail) {
				t.Fatalf("failed %v, want %v\n%s", failed, c.fail, text.String())
			}
			for _, f := range r.Failures {
				if c.failLine > 0 && (f.List != "solar-retracted.log" || !slices.Equal(f.Lines, []int{c.failLine})) {
					t.Errorf("failure %+v does not name line %d of the retracted list", f, c.failLine)
				}
			}
			if r.Retractions != c.counted {
				t.Errorf("%d retractions counted, want %d\n%s", r.Retractions, c.counted, text.String())
			}
			wantFrom := "solar-receipt.key"
			if c.given {
				wantFrom = "given"
			}
			if r.ReceiptKeyFrom != wantFrom || !strings.Contains(text.String(), "receipt key ("+wantFrom+")") {
				t.Errorf("receipt key from %q, want %q\n%s", r.ReceiptKeyFrom, wantFrom, text.String())
			}
			if c.signed >= 0 && !c.strict {
				want := []Unsigned{{List: "solar-retracted.log", First: int64(c.signed) + 1, Last: int64(len(c.retracted))}}
				if !slices.Equal(r.Logs.Unsigned, want) || !strings.Contains(text.String(), "UNSIGNED: lines 2 to 2 of solar-retracted.log") {
					t.Errorf("unsigned %+v, want %+v\n%s", r.Logs.Unsigned, want, text.String())
				}
			}
		})
	}
}

// TestRetractionsNoKey checks that without a receipt key the bindings
// are reported as not checked, and fail under strict; and that a source
// without a retracted list gets its checks skipped.
func TestRetractionsNoKey(t *testing.T) {
	rf := newRetractedFixture(t)
	honest := []string{line(rf.receipt, rf.loser(t, rf.votes[2], 5), rf.votes[2])}
	dir := rf.folder(t, honest, 1)
	os.Remove(filepath.Join(string(dir), "solar-receipt.key"))
	r := run(t, dir, rf.f, Options{Logs: &LogOptions{}, SettingsGiven: true})
	if !r.OK() || !slices.ContainsFunc(r.Skipped, func(s Skip) bool { return s.Check == CheckRetractionSignature }) {
		t.Errorf("without a key: failed %v, skipped %+v", r.Failed(), r.Skipped)
	}
	r = run(t, dir, rf.f, Options{Logs: &LogOptions{Strict: true}, SettingsGiven: true})
	if !slices.Equal(r.Failed(), []string{CheckRetractionSignature}) {
		t.Errorf("without a key, strict: failed %v", r.Failed())
	}
	os.Remove(filepath.Join(string(dir), "solar-retracted.log"))
	os.Remove(filepath.Join(string(dir), "solar-retracted.checkpoint"))
	r = run(t, dir, rf.f, Options{Logs: &LogOptions{}, SettingsGiven: true})
	if !r.OK() || len(r.Skipped) != 5 || len(r.Logs.Skipped) != 1 { // the four, platform-stamp; consistency
		t.Errorf("no retracted list: failed %v, skipped %+v and %+v", r.Failed(), r.Skipped, r.Logs.Skipped)
	}
	r = run(t, dir, rf.f, Options{Logs: &LogOptions{Strict: true}, SettingsGiven: true})
	if !slices.Equal(r.Failed(), []string{CheckCheckpointSignature}) {
		t.Errorf("no retracted list, strict: failed %v", r.Failed())
	}
}

func mustAtoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
