package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/mandate"
	"github.com/powvote/powvote/wire"
)

// typedCard writes a card's 12 lines as a voter types them from paper:
// with the printed line numbers on some lines, in lower case, without the
// spaces on others, O for 0 and l for 1, and a blank line in between.
func typedCard(m mandate.Token) string {
	var b strings.Builder
	for i, l := range m.Card() {
		switch i % 4 {
		case 0:
			l = fmt.Sprintf("%2d: %s", i+1, l) // as printed
		case 1:
			l = strings.ToLower(strings.NewReplacer("0", "o", "1", "l").Replace(l))
		case 2:
			l = fmt.Sprintf("%d. %s", i+1, strings.ReplaceAll(l, " ", ""))
		case 3:
			l = "  " + strings.NewReplacer("0", "O", "1", "I").Replace(l) + "\t"
		}
		b.WriteString(l + "\n")
		if i == 5 {
			b.WriteString("\n")
		}
	}
	return b.String()
}

// runStdin runs the binary with stdin as its standard input.
func runStdin(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

// TestVoteCardAndAuditURL casts one vote with the card typed into a file
// and one with the card on standard input against `powvote up`, each
// receipt carrying the vote's own stamp; then audits the edge's URL with
// no --campaign: the edge names its one campaign, which is audited.
func TestVoteCardAndAuditURL(t *testing.T) {
	data := filepath.Join(t.TempDir(), "pv")
	p := startUp(t, data)
	defer p.stop(t)
	c, err := campaign.Load(data, "solar")
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(data, "solar", campaign.DemoAuthorityKey)
	tokens := strings.Fields(mustRun(t, "mandates", "--key", key, "--count", "2", "--format", "tokens"))
	cards := make([]string, len(tokens))
	for i, tok := range tokens {
		m, err := mandate.ParseHex(tok)
		if err != nil {
			t.Fatal(err)
		}
		cards[i] = typedCard(m)
	}
	file := filepath.Join(t.TempDir(), "card.txt")
	if err := os.WriteFile(file, []byte(cards[0]), 0o600); err != nil {
		t.Fatal(err)
	}
	code := func() string { return strings.TrimSpace(mustRun(t, "booth", "code", "--dir", data)) }
	for i, tc := range []struct {
		name, card, stdin string
	}{
		{"file", file, ""},
		{"stdin", "-", cards[1]},
	} {
		say := c.Settings.Options[i]
		r := runStdin(t, tc.stdin, "vote", "--edge", p.edge, "--card", tc.card, "--booth-code", code(), "--say", say)
		if r.code != 0 {
			t.Fatalf("%s: exit %d\nstdout: %s\nstderr: %s", tc.name, r.code, r.stdout, r.stderr)
		}
		_, lines, _, err := wire.ParseReceipt(r.stdout)
		if err != nil {
			t.Fatalf("%s: receipt %q: %v", tc.name, r.stdout, err)
		}
		if stamp, opt, _ := strings.Cut(lines[i], " "); opt != wire.EncodeOption(say) || len(stamp) != 39 {
			t.Errorf("%s: receipt line %d is %q, want the own stamp against %q", tc.name, i+1, lines[i], say)
		}
	}

	r := run(t, "audit", p.edge)
	if r.code != 0 || !strings.Contains(r.stdout, p.edge+"/solar-settings.yaml") {
		t.Errorf("audit of %s without --campaign: exit %d\nstdout: %s\nstderr: %s", p.edge, r.code, r.stdout, r.stderr)
	}
}

// TestVoteCardRefused: a mistyped line is named by its number on the card
// and nothing is sent; the mandate is given exactly once.
func TestVoteCardRefused(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	m, err := mandate.Issue(priv, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	lines := m.Card()
	lines[6] = mistype(lines[6])
	typo := strings.Join(lines[:], "\n") + "\n"
	file := filepath.Join(t.TempDir(), "card.txt")
	if err := os.WriteFile(file, []byte(typo), 0o600); err != nil {
		t.Fatal(err)
	}
	// Nothing listens here: a card that does not read must fail before
	// any request.
	dead := "http://127.0.0.1:1"
	vote := []string{"vote", "--edge", dead, "--booth-code", "6263917", "--say", "Pluto"}
	for _, tc := range []struct {
		name, stdin string
		args        []string
		code        int
		msg         string
	}{
		{"typo in a file", "", []string{"--card", file}, 1, "card line 7: check symbol does not match"},
		{"typo on stdin", typo, []string{"--card", "-"}, 1, "card line 7: check symbol does not match"},
		{"11 lines", strings.Join(lines[:11], "\n"), []string{"--card", "-"}, 1, "does not have 12 lines: got 11"},
		{"both", "", []string{"--card", file, "--mandate", m.Hex()}, 2, "--mandate HEX or --card FILE"},
		{"neither", "", nil, 2, "--mandate HEX or --card FILE"},
		{"no file", "", []string{"--card", file + ".missing"}, 1, "no such file"},
		{"not a card", strings.Repeat(typo, 3000), []string{"--card", "-"}, 1, "standard input is over 64 KiB: not a card"},
	} {
		r := runStdin(t, tc.stdin, append(vote, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) || strings.Contains(r.stderr, "127.0.0.1:1") {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and %q, no request", tc.name, r.code, r.stderr, tc.code, tc.msg)
		}
	}
}

// TestAuditCampaignFromEdge: the audit of a URL without --campaign asks
// the edge for its campaigns. An edge of two names both and asks for
// --campaign; an edge without the listing gets the message of old.
func TestAuditCampaignFromEdge(t *testing.T) {
	data := filepath.Join(t.TempDir(), "pv")
	mustRun(t, "init", "river", "--dir", data, "--option", "Yes", "--option", "No")
	mustRun(t, "init", "hills", "--dir", data, "--option", "Up", "--option", "Down")
	p := startUp(t, data)
	defer p.stop(t)
	r := run(t, "audit", p.edge)
	if want := "the edge serves campaigns hills, river: give --campaign"; r.code != 2 || !strings.Contains(r.stderr, want) {
		t.Errorf("audit of two campaigns: exit %d, stderr %q; want exit 2 and %q", r.code, r.stderr, want)
	}

	old := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadRequest) }))
	defer old.Close()
	r = run(t, "audit", old.URL)
	if want := "no settings: give --settings FILE, or --campaign C"; r.code != 2 || !strings.Contains(r.stderr, want) {
		t.Errorf("audit of an edge without the listing: exit %d, stderr %q; want exit 2 and %q", r.code, r.stderr, want)
	}
}
