package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/wire"
)

// platform is a running `powvote up` process.
type platform struct {
	*proc
	edge       string
	collectors [2]string
}

var (
	upURL  = regexp.MustCompile(`powvote is up at (http://\S+)`)
	colURL = regexp.MustCompile(`collectors: +(http://\S+) (http://\S+)`)
)

func startUp(t *testing.T, data string) *platform {
	t.Helper()
	p := &platform{}
	p.proc = launch(t, []string{"up", "--dir", data, "--addr", "127.0.0.1:0"}, func(line string) bool {
		if m := upURL.FindStringSubmatch(line); m != nil {
			p.edge = m[1]
		}
		if m := colURL.FindStringSubmatch(line); m != nil {
			p.collectors = [2]string{m[1], m[2]}
			return true
		}
		return false
	})
	if p.edge == "" {
		t.Fatalf("up printed no edge URL; stderr: %s", p.stderr)
	}
	return p
}

func (p *platform) stop(t *testing.T) { t.Helper(); p.interrupt(t) }

// castVotes issues n demo mandates and casts one vote with each, returning
// the receipts' own stamps by option.
func castVotes(t *testing.T, data, edgeURL string, n int) []string {
	t.Helper()
	c, err := campaign.Load(data, "solar")
	if err != nil {
		t.Fatal(err)
	}
	receiptPub := base64.StdEncoding.EncodeToString(c.Secrets.ReceiptKey.Public().(ed25519.PublicKey))
	key := filepath.Join(data, "solar", campaign.DemoAuthorityKey)
	tokens := strings.Fields(mustRun(t, "mandates", "--key", key, "--count", fmt.Sprint(n), "--format", "tokens"))
	var stamps []string
	for i, tok := range tokens {
		code := strings.TrimSpace(mustRun(t, "booth", "code", "--dir", data))
		say := c.Settings.Options[i%len(c.Settings.Options)]
		out := mustRun(t, "vote", "--edge", edgeURL, "--mandate", tok, "--booth-code", code, "--say", say, "--receipt-pubkey", receiptPub)
		name, lines, sig, err := wire.ParseReceipt(out)
		if err != nil {
			t.Fatalf("vote printed %q: %v", out, err)
		}
		if name != "solar" || len(lines) != len(c.Settings.Options) {
			t.Fatalf("receipt for campaign %q with %d lines", name, len(lines))
		}
		pub := c.Secrets.ReceiptKey.Public().(ed25519.PublicKey)
		if err := wire.VerifyReceipt(pub, name, lines, sig); err != nil {
			t.Fatal(err)
		}
		own, opt, _ := strings.Cut(lines[i%len(lines)], " ")
		if opt != wire.EncodeOption(say) || len(own) != 39 {
			t.Fatalf("receipt line for %q is %q", say, lines[i%len(lines)])
		}
		stamps = append(stamps, own)
	}
	return stamps
}

// collectorState returns the votes.log of a collector of solar.
func collectorState(t *testing.T, data string, instance int) (log string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(data, "solar", fmt.Sprintf("collector-%d", instance), "votes.log"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestVoteEndToEnd casts votes with `powvote vote` against `powvote up`,
// kills the whole platform with SIGKILL right after the receipts, restarts
// it and finds every vote on both instances.
func TestVoteEndToEnd(t *testing.T) {
	data := filepath.Join(t.TempDir(), "pv")
	p := startUp(t, data)
	stamps := castVotes(t, data, p.edge, 3)
	p.kill(t)

	p = startUp(t, data)
	for i := range 2 {
		log := collectorState(t, data, i)
		for _, s := range stamps {
			if n := strings.Count(log, s); n != 1 {
				t.Errorf("collector %d holds stamp %s %d times", i, s, n)
			}
		}
		c, err := campaign.Load(data, "solar")
		if err != nil {
			t.Fatal(err)
		}
		pass := base64.StdEncoding.EncodeToString(c.Secrets.PassSecret)
		if v := votersOf(t, pass, p.collectors[i]); v != len(stamps) {
			t.Errorf("collector %d holds %d voters, want %d", i, v, len(stamps))
		}
	}
	// The platform still takes votes after the restart.
	more := castVotes(t, data, p.edge, 1)
	all := append(stamps, more...)
	// Every vote is published once through the edge, with as many voters.
	eventually(t, "the lists hold every vote", func() bool {
		votes, auths := fetch(t, p.edge+"/solar-vote.log"), fetch(t, p.edge+"/solar-auth.log")
		return strings.Count(votes, "\n") == len(all) && strings.Count(auths, "\n") == len(all)
	})
	votes := fetch(t, p.edge+"/solar-vote.log")
	for _, s := range all {
		if n := strings.Count(votes, s); n != 1 {
			t.Errorf("stamp %s published %d times", s, n)
		}
	}
	p.stop(t)
	for i := range 2 {
		if !strings.Contains(collectorState(t, data, i), more[0]) {
			t.Errorf("collector %d lacks the vote cast after the restart", i)
		}
	}
}

func fetch(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	return string(b)
}
