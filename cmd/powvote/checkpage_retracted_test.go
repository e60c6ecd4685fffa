package main

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/wire"
)

// checkRetractedList serves every client retracted lists signed as a
// platform holding both keys would sign them: the checkpoints with the
// campaign's log key, the bindings with its receipt key.
//
// A retracted vote bound to the counted vote that beats it is shown as
// retracted in favour of that vote by "Find my vote" and on a receipt,
// also when it carries its winner's stamp; the page's order of the mirror
// rule is listline.Wins's. A forged binding, a winner that does not beat
// its loser, a "retracted" vote that the votes list counts and a winner
// that is not there are each named as a problem, and a stamp under a
// forged binding is shown as missing from the count. Lines after the
// retracted list's checkpoint explain nothing.
func checkRetractedList(t *testing.T, b *browser, d *dishonestPublisher, edgeURL string, c *campaign.Campaign, s logSigner) {
	t.Helper()
	votes := listLines(fetch(t, edgeURL+"/solar-vote.log"))
	if len(votes) < 3 {
		t.Fatalf("%d votes published, want 3 or more", len(votes))
	}
	parse := func(line string) listline.Vote {
		t.Helper()
		v, err := listline.ParseVote(line)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	w := []listline.Vote{parse(votes[0]), parse(votes[1]), parse(votes[2])}

	// variant mines a vote of w's mandate stamped delta seconds after it,
	// for another option, with a stamp of its own unless sameStamp.
	variant := func(w listline.Vote, delta int64, sameStamp bool, tag byte) string {
		t.Helper()
		v := w
		putc, err := strconv.ParseInt(w.PUTC, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		v.PUTC = strconv.FormatInt(putc+delta, 10)
		for _, o := range c.Settings.Options {
			if o != w.Option {
				v.Option = o
				break
			}
		}
		if !sameStamp {
			st := []byte(w.Voter)
			st[0] = map[bool]byte{true: '1', false: '0'}[st[0] == '0']
			v.Voter = string(st)
		}
		return mineVote(t, v, c.Settings.Threshold, func(v *listline.Vote, i uint32) {
			v.Nonce = []byte{tag, tag, tag, tag, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
		})
	}
	// bind is the retracted list's line that retracts loser in favour of
	// winner, its binding signed with the campaign's receipt key (one bit
	// of it changed when forged).
	bind := func(loser, winner string, forged bool) string {
		sig := wire.SignRetraction(c.Secrets.ReceiptKey, "solar", loser, winner)
		if forged {
			sig[5] ^= 1
		}
		return hex.EncodeToString(parse(winner).Nonce) + " " + base64.StdEncoding.EncodeToString(sig) + " " + loser
	}
	// serve serves the platform's votes under a checkpoint of them all,
	// and the retracted list under a checkpoint of its first signed lines,
	// to a browser that remembers nothing.
	serve := func(retracted []string, signed int) {
		t.Helper()
		body := ""
		if len(retracted) > 0 {
			body = joinLines(retracted)
		}
		d.serve(publisherView{all: map[string]string{
			"/solar-vote.log":             joinLines(votes),
			"/solar-vote.checkpoint":      s.checkpoint(t, "vote", votes, len(votes)),
			"/solar-retracted.log":        body,
			"/solar-retracted.checkpoint": s.checkpoint(t, "retracted", retracted, signed),
		}})
		remember(b, d.URL, nil)
	}
	summary := func() string { return b.text("#sum-sumRetracted") }
	stampOf := func(line string) string { return parse(line).Voter }

	// Two retractions that hold: one with a stamp of its own, one with its
	// winner's stamp.
	lost := variant(w[0], 60, false, 0xa0)
	lostSame := variant(w[1], 1, true, 0xa1)
	good := []string{bind(lost, votes[0], false), bind(lostSame, votes[1], false)}
	serve(good, len(good))
	openThrough(b, d.URL, "two retractions that hold")
	b.shot("retracted")
	b.fits("retracted")
	if got := dataResult(b, "cp-retracted"); got != "match" {
		t.Errorf("two retractions: the retracted list's checkpoint %q (%q), want match", got, b.text("#cp-retracted"))
	}
	if ps := problems(b); len(ps) != 0 {
		t.Errorf("two retractions that hold: problems %v", ps)
	}
	if got := summary(); got != "2, of which 2 are proved by a binding the receipt key signed" {
		t.Errorf("two retractions that hold: the summary says %q", got)
	}
	if got := findStamp(b, stampOf(lost)); got != "retracted" {
		t.Errorf("finding a retracted vote's stamp: %q (%q), want retracted", got, b.text("#find-result"))
	} else if txt := b.text("#find-result"); !strings.Contains(txt, fmt.Sprintf("also voted %s, on line 1 of the votes list", w[0].Option)) {
		t.Errorf("finding a retracted vote's stamp shows %q, want it to name its winner", txt)
	}
	if got := findStamp(b, w[1].Voter); got != "counted" {
		t.Errorf("finding a stamp that both a counted and a retracted vote carry: %q, want counted", got)
	}
	receipt := fmt.Sprintf("Campaign: solar\nReceipt01: %s %s\nReceipt02: %s %s\nReceipt03: %s %s\nReceipt-Sig: %s\n",
		stampOf(lost), wire.EncodeOption(parse(lost).Option),
		w[1].Voter, wire.EncodeOption(parse(lostSame).Option),
		w[1].Voter, wire.EncodeOption(w[1].Option),
		base64.StdEncoding.EncodeToString(make([]byte, 64)))
	if got := strings.Join(receiptResults(b, receipt, "stamps of retracted votes"), " "); got != "retracted retracted ok" {
		t.Errorf("a receipt with two retracted votes and a counted one: %s, want retracted retracted ok", got)
	}

	// The page's mirror rule against listline.Wins, on every ordered pair.
	pairs := []string{votes[0], votes[1], votes[2], lost, lostSame}
	arg, _ := json.Marshal(pairs)
	gotWins := evalJS[[][]bool](b, fmt.Sprintf(`((ls) => ls.map((a) => ls.map((b) => window.powcheck.wins(a, b))))(%s)`, arg))
	for i, a := range pairs {
		for j, bb := range pairs {
			if i != j && gotWins[i][j] != listline.Wins(parse(a), parse(bb)) {
				t.Errorf("the page says %v that %q beats %q, listline.Wins the opposite", gotWins[i][j], a, bb)
			}
		}
	}

	// Retractions that do not hold, each signed with the real keys but for
	// the forged binding.
	ghost := variant(w[1], 5, false, 0xa2) // a winner the votes list lacks
	forgedLoser := variant(w[2], 60, false, 0xa3)
	bad := []string{
		bind(forgedLoser, votes[2], true),                     // forged binding
		bind(variant(w[0], -1, false, 0xa4), votes[0], false), // the loser is stamped first
		bind(votes[1], votes[0], false),                       // the loser is counted
		bind(variant(w[1], 60, false, 0xa5), ghost, false),    // the winner is not there
	}
	serve(bad, len(bad))
	openThrough(b, d.URL, "retractions that do not hold")
	b.shot("retracted-refused")
	b.fits("retracted-refused")
	want := map[string]int{"retract_badSig": 1, "retract_order": 1, "retract_counted": 1, "retract_noWinner": 1}
	if got := problems(b); !mapsEqual(got, want) {
		t.Errorf("retractions that do not hold: problems %v, want %v", got, want)
	}
	if got := summary(); got != "4, of which 0 are proved by a binding the receipt key signed" {
		t.Errorf("retractions that do not hold: the summary says %q", got)
	}
	if got := findStamp(b, stampOf(forgedLoser)); got != "retractedBad" {
		t.Errorf("finding the stamp of a vote retracted by a forged binding: %q (%q), want retractedBad", got, b.text("#find-result"))
	} else if txt := b.text("#find-result"); !strings.Contains(txt, "its signature does not verify under the receipt key") {
		t.Errorf("finding the stamp of a vote retracted by a forged binding shows %q", txt)
	}

	// A retraction after the signed lines: it explains nothing.
	serve(good[:1], 0)
	openThrough(b, d.URL, "a retraction after the signed lines")
	if got := dataResult(b, "cp-retracted"); got != "tail" {
		t.Errorf("an unsigned retraction: the retracted list's checkpoint %q (%q), want tail", got, b.text("#cp-retracted"))
	}
	if got := summary(); got != "0" {
		t.Errorf("an unsigned retraction: the summary says %q, want 0", got)
	}
	if got := findStamp(b, stampOf(lost)); got != "missing" {
		t.Errorf("finding the stamp of a vote retracted only after the signed lines: %q, want missing", got)
	}
}
