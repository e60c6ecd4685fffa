package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/wire"
)

// TestReceiptVerify saves the receipt of the last vote of a batch, checks
// it against the running platform once enough votes have come after it
// for the batch to be published, from the edge and from a folder of
// downloads, then alters it line by line.
func TestReceiptVerify(t *testing.T) {
	data := filepath.Join(t.TempDir(), "pv")
	p := startUp(t, data)
	c, err := campaign.Load(data, "solar")
	if err != nil {
		t.Fatal(err)
	}
	receiptPub := base64.StdEncoding.EncodeToString(c.Secrets.ReceiptKey.Public().(ed25519.PublicKey))

	// Three votes first, so that the saved receipt carries other voters'
	// stamps against their options besides its own.
	const batch = 4
	earlier := castVotes(t, data, p.edge, batch-1)
	// A vote's stamp stands as a decoy 3 s after the edge read its record,
	// which it does once a second.
	time.Sleep(5 * time.Second)
	key := filepath.Join(data, "solar", campaign.DemoAuthorityKey)
	token := strings.TrimSpace(mustRun(t, "mandates", "--key", key, "--count", "1", "--format", "tokens"))
	code := strings.TrimSpace(mustRun(t, "booth", "code", "--dir", data))
	say := c.Settings.Options[batch-1]
	saved := filepath.Join(t.TempDir(), "receipt.txt")
	mustRun(t, "vote", "--edge", p.edge, "--mandate", token, "--booth-code", code, "--say", say, "--out", saved)
	text, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	name, rlines, sig, err := wire.ParseReceipt(string(text))
	if err != nil {
		t.Fatal(err)
	}
	own := batch - 1 // the receipt line of the chosen option
	ownStamp, _, _ := strings.Cut(rlines[own], " ")

	waitPublished(t, p.edge, castUntilPublished(t, data, p.edge, batch, append(earlier, ownStamp)))

	// Without --receipt-pubkey, the key the edge serves.
	r := run(t, "receipt", "verify", saved, "--edge", p.edge)
	if r.code != 0 || !strings.Contains(r.stdout, "ok    Receipt-Sig verifies under the receipt key (solar-receipt.key)") {
		t.Fatalf("receipt verify: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	// Every stamp of the receipt was looked up: the own one and the other
	// voters' decoys (one for each earlier vote's option, unless the edge
	// had not read it yet), the rest are "-".
	stamps := 0
	for _, l := range rlines {
		if !strings.HasPrefix(l, "- ") {
			stamps++
		}
	}
	if got := strings.Count(r.stdout, "proved included"); got != stamps || stamps < 2 {
		t.Errorf("%d lines proved, want the %d stamps of the receipt, at least one a decoy:\n%s", got, stamps, r.stdout)
	}
	if !strings.Contains(r.stdout, ownStamp) {
		t.Errorf("the own stamp %s is not in the report:\n%s", ownStamp, r.stdout)
	}
	r = run(t, "receipt", "verify", saved, "--edge", p.edge, "--receipt-pubkey", receiptPub)
	if r.code != 0 || !strings.Contains(r.stdout, "ok    Receipt-Sig") {
		t.Fatalf("with --receipt-pubkey: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}

	// From a folder of downloads, with the log key given out of band.
	dir := t.TempDir()
	for _, f := range []string{"solar-vote.log", "solar-vote.checkpoint", "solar-log.vkey"} {
		auditWriteFile(t, filepath.Join(dir, f), fetch(t, p.edge+"/"+f))
	}
	vkey := filepath.Join(t.TempDir(), "solar-log.vkey")
	auditWriteFile(t, vkey, fetch(t, p.edge+"/solar-log.vkey"))
	p.stop(t)
	if r := run(t, "receipt", "verify", saved, "--dir", dir, "--log-key", vkey, "--receipt-pubkey", receiptPub); r.code != 0 {
		t.Fatalf("from a folder: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	// A folder without the receipt key and no --receipt-pubkey: the
	// stamps are checked, the signature is not, and the report says so.
	if r := run(t, "receipt", "verify", saved, "--dir", dir, "--log-key", vkey); r.code != 0 || !strings.Contains(r.stdout, "signature not checked") {
		t.Fatalf("from a folder without the key: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}

	// A stamp changed in its last symbol, and the own line's option
	// changed to another: each fails, naming its receipt line.
	other := c.Settings.Options[0]
	if other == say {
		t.Fatal("the own option is the first")
	}
	changedStamp := ownStamp[:len(ownStamp)-1] + map[bool]string{true: "1", false: "0"}[ownStamp[len(ownStamp)-1] == '0']
	for _, m := range []struct {
		name, line string
	}{
		{"stamp changed", changedStamp + " " + wire.EncodeOption(say)},
		{"option changed", ownStamp + " " + wire.EncodeOption(other)},
	} {
		t.Run(m.name, func(t *testing.T) {
			altered := append([]string(nil), rlines...)
			altered[own] = m.line
			f := filepath.Join(t.TempDir(), "receipt.txt")
			auditWriteFile(t, f, wire.FormatReceipt(name, altered, sig))
			r := run(t, "receipt", "verify", f, "--dir", dir)
			errLines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if last := errLines[len(errLines)-1]; r.code != 1 || !strings.Contains(last, "Receipt04") || strings.Contains(last, "Receipt01") {
				t.Errorf("exit %d, last stderr line %q\nstdout: %s", r.code, last, r.stdout)
			}
			if !strings.Contains(r.stdout, "FAIL  Receipt04") {
				t.Errorf("report:\n%s", r.stdout)
			}
			// The signature covers the lines: with the key, it fails too.
			r = run(t, "receipt", "verify", f, "--dir", dir, "--receipt-pubkey", receiptPub)
			if r.code != 1 || !strings.Contains(r.stderr, "Receipt-Sig") {
				t.Errorf("with --receipt-pubkey: exit %d, %s", r.code, r.stderr)
			}
		})
	}
}

func TestReceiptVerifyArgs(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "receipt.txt")
	auditWriteFile(t, f, wire.FormatReceipt("solar", []string{"- Bold Jupiter"}, "AAAA"))
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"receipt", "verify", f}, 2, "exactly one of --edge and --dir"},
		{[]string{"receipt", "verify", f, "--edge", "http://127.0.0.1:1", "--dir", dir}, 2, "exactly one of --edge and --dir"},
		{[]string{"receipt", "verify", filepath.Join(dir, "nothing"), "--dir", dir}, 1, "no such file"},
		{[]string{"receipt", "verify", f, "--dir", dir}, 1, "solar-log.vkey"},
	} {
		r := run(t, c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d and %q", c.args, r.code, r.stderr, c.code, c.msg)
		}
	}
}
