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
	"slices"
	"strings"
	"testing"
	"time"

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
	upURL  = regexp.MustCompile(`powvote is up at (https?://\S+)`)
	colURL = regexp.MustCompile(`collectors: +(https?://\S+) (https?://\S+)`)
)

// startUp runs `powvote up` on data, with extra flags if any.
func startUp(t *testing.T, data string, extra ...string) *platform {
	t.Helper()
	p := &platform{}
	p.proc = launch(t, append([]string{"up", "--dir", data, "--addr", "127.0.0.1:0"}, extra...), func(line string) bool {
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

// demoBatch is the batch size of the demo campaign `powvote up` creates.
var demoBatch = campaign.Demo(time.Now(), nil).BatchSize

// castUntilPublished casts more votes after the cast ones already cast,
// at least a batch at a time, until the votes of these stamps are all
// published, and returns the lines the lists then hold. Until the close
// the publisher keeps at least a batch of votes back, and publishes only
// when that leaves a batch to publish (docs/PUBLISHING.md): a vote waits
// for a batch of votes to become final after it, in later rounds or
// sorted after it in its own. After each cast the lists must come to
// hold exactly all the votes cast but a batch.
func castUntilPublished(t *testing.T, data, edgeURL string, cast int, stamps []string) int {
	t.Helper()
	for range 4 {
		lines := strings.Count(fetch(t, edgeURL+"/solar-vote.log"), "\n")
		// A batch after the last vote, and two batches waiting.
		more := max(demoBatch, 2*demoBatch-(cast-lines))
		castVotes(t, data, edgeURL, more)
		cast += more
		want := cast - demoBatch
		eventually(t, fmt.Sprintf("all but a batch of %d votes published", cast), func() bool {
			return strings.Count(fetch(t, edgeURL+"/solar-vote.log"), "\n") == want &&
				strings.Count(fetch(t, edgeURL+"/solar-auth.log"), "\n") == want
		})
		votes := fetch(t, edgeURL+"/solar-vote.log")
		if !slices.ContainsFunc(stamps, func(s string) bool { return !strings.Contains(votes, s) }) {
			return want
		}
	}
	t.Fatalf("the votes of %v are not all published after %d votes", stamps, cast)
	return 0
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
		pass := insiders(t, c)
		if v := votersOf(t, pass, p.collectors[i]); v != len(stamps) {
			t.Errorf("collector %d holds %d voters, want %d", i, v, len(stamps))
		}
	}
	// The platform still takes votes after the restart.
	more := castVotes(t, data, p.edge, 1)
	all := append(stamps, more...)
	// Every vote is published once through the edge, with as many voters,
	// once enough votes have come after it.
	castUntilPublished(t, data, p.edge, len(all), all)
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
