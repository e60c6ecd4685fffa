package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/wire"
)

// TestSplitRetraction splits a pair for real: one mandate votes through
// the edge while only instance 0 runs, and again, for another option,
// while only instance 1 runs. Once the twins meet, the mirror rule keeps
// one vote and the instance holding the other retracts it, bound to the
// winner by the receipt key. The publisher publishes the winner, then
// the retraction; the strict audit verifies the retracted list and counts
// the retraction; the loser's receipt fails, showing the retraction, the
// winning vote and a binding that verifies; the winner's passes.
func TestSplitRetraction(t *testing.T) {
	s := preparePair(t)
	alone := func(i int) {
		t.Helper()
		s.col[i] = startProc(t, "collector", "--dir", s.data, "--instance", strconv.Itoa(i), "--listen", s.addr[i])
		waitHealthy(t, s.ins, s.url[i])
	}
	alone(0)
	edgeAddr := freeAddr(t)
	s.edge = startProc(t, "edge", "--dir", s.data, "--listen", edgeAddr, "--pair", s.url[0]+","+s.url[1])
	s.edgeU = "http://" + edgeAddr

	// The same mandate votes twice, each time reaching one instance.
	receipts := t.TempDir()
	token, r := s.vote(t, s.edgeU, "", "Humble Pluto")
	if r.code != 0 {
		t.Fatalf("first vote: %s", r.stderr)
	}
	first := filepath.Join(receipts, "first.txt")
	auditWriteFile(t, first, r.stdout)
	s.col[0].kill(t)
	alone(1)
	_, r = s.vote(t, s.edgeU, token, "Zürich")
	if r.code != 0 {
		t.Fatalf("second vote: %s", r.stderr)
	}
	second := filepath.Join(receipts, "second.txt")
	auditWriteFile(t, second, r.stdout)
	s.col[1].kill(t)

	// The twins meet, and the publisher publishes what they agree on.
	for i := range 2 {
		s.startCollector(t, i)
	}
	for i := range 2 {
		waitHealthy(t, s.ins, s.url[i])
	}
	pubAddr := freeAddr(t)
	startProc(t, "publisher", "--dir", s.data, "--listen", pubAddr, "--pair", s.url[0]+","+s.url[1], "--interval", "200ms")
	pub := "http://" + pubAddr
	var retracted string
	eventually(t, "the retraction is published", func() bool {
		retracted = fetch(t, pub+"/solar-retracted.log")
		return retracted != ""
	})
	rl, err := listline.ParseRetracted(strings.TrimSuffix(retracted, "\n"))
	if err != nil || strings.Count(retracted, "\n") != 1 {
		t.Fatalf("retracted list %q: %v", retracted, err)
	}
	loser, winner := second, first
	if own := receiptStamps(t, first); own["Humble Pluto"] == rl.Vote.Voter {
		loser, winner = first, second
	}

	settings := filepath.Join(s.data, "solar", campaign.SettingsFile)
	r = run(t, "audit", pub, "--settings", settings, "--strict")
	if r.code != 0 {
		t.Fatalf("audit: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"ok    retracted-format ", "ok    retraction-loser ", "ok    retraction-winner ", "ok    retraction-signature ",
		"1 retracted vote(s) counted", "checkpoint powvote/solar/retracted: 1 lines", "receipt key (solar-receipt.key)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the audit report lacks %q:\n%s", want, r.stdout)
		}
	}

	r = run(t, "receipt", "verify", loser, "--edge", pub)
	if r.code != 1 || !strings.Contains(r.stderr, "(retracted)") {
		t.Errorf("receipt verify of the retracted vote: exit %d, stderr %s", r.code, r.stderr)
	}
	for _, want := range []string{"it was retracted, line 1 of solar-retracted.log, proved included under its signed checkpoint",
		"the vote counted instead for the same mandate, line 1 of solar-vote.log",
		"ok    it beats the retracted vote by the mirror rule",
		"ok    the binding verifies under the receipt key (solar-receipt.key)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("receipt verify of the retracted vote lacks %q:\n%s", want, r.stdout)
		}
	}
	if r := run(t, "receipt", "verify", winner, "--edge", pub); r.code != 0 {
		t.Errorf("receipt verify of the winning vote: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}

// receiptStamps returns the stamp against each option of a saved receipt.
func receiptStamps(t *testing.T, file string) map[string]string {
	t.Helper()
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	_, lines, _, err := wire.ParseReceipt(string(text))
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string)
	for _, l := range lines {
		stamp, o, _ := strings.Cut(l, " ")
		if d, err := wire.DecodeOption(o); err == nil {
			out[d] = stamp
		}
	}
	return out
}
