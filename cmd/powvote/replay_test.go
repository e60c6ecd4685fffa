package main

import (
	"crypto/sha256"
	"encoding/base64"
	be "encoding/binary"
	"encoding/hex"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/listline"
)

// TestCrossPairReplay copies a recorded vote under a mandate routed to the
// other of two pairs, at an edge process started after the vote, which
// never answered it. The edge refuses it with 481 (it learnt which pair
// holds the vote while catching up), and no collector of the other pair
// ever holds it.
func TestCrossPairReplay(t *testing.T) {
	tp := startTwoPairs(t)
	ins, urls, k, own := tp.ins, tp.urls, tp.k, tp.own
	v, n := recordOf(t, ins, urls[2*k], own)
	if n == 0 {
		t.Fatalf("no record of the vote %s at collector %d", own, 2*k)
	}
	var other string
	for _, tok := range tp.tokens[1:] {
		if tokenPair(t, tok) != k {
			other = tok
			break
		}
	}
	if other == "" {
		t.Fatal("no mandate of the other pair among 15")
	}

	second := tp.edge(t)
	resp, err := http.DefaultClient.Do(voteRequest(t, second, other, v))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 481 {
		t.Fatalf("the copy under a mandate of pair %d: status %d, want 481", 1-k, resp.StatusCode)
	}
	for _, i := range []int{2 * (1 - k), 2*(1-k) + 1} {
		if recs := voteRecords(t, ins, urls[i]); strings.Contains(recs, own) {
			t.Errorf("collector %d of the other pair holds the copy: %s", i, recs)
		}
	}
}

// voteRequest is the vote request (PROTOCOL.md 5) of v under the hex
// mandate token, to the edge at edgeURL: the request its voter sent, when
// the token is the one that cast v.
func voteRequest(t *testing.T, edgeURL, token string, v listline.Vote) *http.Request {
	t.Helper()
	raw, err := hex.DecodeString(token)
	if err != nil || len(raw) != 120 {
		t.Fatalf("token %q", token)
	}
	req, err := http.NewRequest("GET", edgeURL+"/"+hex.EncodeToString(v.Nonce), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Auth-Pkey", base64.StdEncoding.EncodeToString(raw[:32]))
	req.Header.Set("Auth-Sig", base64.StdEncoding.EncodeToString(raw[32:96]))
	req.Header.Set("Auth-Id", base64.StdEncoding.EncodeToString(raw[96:]))
	req.Header.Set("P-UTC", v.PUTC)
	req.Header.Set("P-SIG", base64.StdEncoding.EncodeToString(v.PSig[:]))
	req.Header.Set("Voter", v.Voter)
	req.Header.Set("Say", v.Option)
	return req
}

// replayThreshold is the proof-of-work threshold of startTwoPairs'
// campaign: low, so that an attacker's fresh work takes no time here.
const replayThreshold = 12

// twoPairs is a campaign with two pairs of collector processes, edge
// processes in front of both, and one vote cast through the first edge.
type twoPairs struct {
	data     string
	ins      *insider
	urls     []string // instance i; pair k is 2k and 2k+1
	pairArgs []string // the --pair flags of an edge
	tokens   []string // hex mandates of the demo authority; tokens[0] voted
	first    string   // the edge that relayed the vote
	own      string   // the vote's voter stamp
	k        int      // the vote's pair
}

// startTwoPairs makes the campaign, starts 4 collectors and an edge, and
// casts a vote for "Humble Pluto" with tokens[0].
func startTwoPairs(t *testing.T) *twoPairs {
	t.Helper()
	tp := &twoPairs{data: filepath.Join(t.TempDir(), "pv")}
	mustRun(t, "init", "solar", "--dir", tp.data, "--threshold", strconv.Itoa(replayThreshold), "--batch-size", "1",
		"--option", "Evil Neptune", "--option", "Humble Pluto")
	c, err := campaign.Load(tp.data, "solar")
	if err != nil {
		t.Fatal(err)
	}
	tp.ins = insiders(t, c)
	tp.urls = startCollectors(t, tp.data, tp.ins, 4)
	tp.pairArgs = []string{"--pair", tp.urls[0] + "," + tp.urls[1], "--pair", tp.urls[2] + "," + tp.urls[3]}
	tp.first = tp.edge(t)
	key := filepath.Join(tp.data, "solar", campaign.DemoAuthorityKey)
	tp.tokens = strings.Fields(mustRun(t, "mandates", "--key", key, "--count", "16", "--format", "tokens"))
	code := strings.TrimSpace(mustRun(t, "booth", "code", "--dir", tp.data))
	r := run(t, "vote", "--edge", tp.first, "--mandate", tp.tokens[0], "--booth-code", code, "--say", "Humble Pluto", "--timeout", "20s")
	if r.code != 0 {
		t.Fatalf("vote: %s", r.stderr)
	}
	tp.own = ownStamp(t, r.stdout)
	tp.k = tokenPair(t, tp.tokens[0])
	return tp
}

// edge starts another edge process in front of both pairs and returns its
// URL.
func (tp *twoPairs) edge(t *testing.T) string {
	t.Helper()
	addr := freeAddr(t)
	startProc(t, append([]string{"edge", "--dir", tp.data, "--listen", addr}, tp.pairArgs...)...)
	return "http://" + addr
}

// tokenPair is the pair a hex mandate token routes to among two
// (PROTOCOL.md 5.3 leaves the function to the platform: docs/INTERNAL.md).
func tokenPair(t *testing.T, token string) int {
	t.Helper()
	raw, err := hex.DecodeString(token)
	if err != nil || len(raw) != 120 {
		t.Fatalf("token %q", token)
	}
	d := sha256.Sum256(append(append([]byte{}, raw[:32]...), raw[96:]...))
	return int(be.BigEndian.Uint64(d[:8]) % 2)
}

// voteRecords returns a collector's vote records.
func voteRecords(t *testing.T, ins *insider, url string) string {
	t.Helper()
	return collectorGet(t, ins, url+"/records/votes?from=1&limit=10000")
}

// collectorGet sends GET to a collector as the publisher, wants 200 and
// returns the body.
func collectorGet(t *testing.T, ins *insider, url string) string {
	t.Helper()
	return collectorGetAs(t, ins.as(campaign.RolePublisher), url)
}

// TestDecoysAcrossPairs: a receipt's decoys come from the recent votes of
// every pair, not only the voter's own: were they drawn from one pair,
// published receipts would sort the votes list into pairs, and the voters
// list tells each mandate's pair. Every vote for "Evil Neptune" is cast
// with mandates of the other pair; a later vote for "Humble Pluto" in the
// first pair must show one of them as its decoy, where its own pair has
// none to show.
func TestDecoysAcrossPairs(t *testing.T) {
	tp := startTwoPairs(t)
	neptune := regexp.MustCompile(`Receipt01: (\S+) Evil Neptune`)
	var others []string
	var mine []string // further mandates of the first vote's pair
	for _, tok := range tp.tokens[1:] {
		if tokenPair(t, tok) == tp.k {
			mine = append(mine, tok)
			continue
		}
		if len(others) == 3 {
			continue
		}
		code := strings.TrimSpace(mustRun(t, "booth", "code", "--dir", tp.data))
		out := mustRun(t, "vote", "--edge", tp.first, "--mandate", tok, "--booth-code", code, "--say", "Evil Neptune", "--timeout", "20s")
		m := neptune.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no own stamp in %q", out)
		}
		others = append(others, m[1])
	}
	if len(others) < 3 || len(mine) == 0 {
		t.Fatalf("mandates: %d of the other pair, %d of this one, among 15", len(others), len(mine))
	}
	// A stamp is a decoy 3 s after the edge read its record, which it does
	// once a second: try with the mandates of this pair, a second apart,
	// until a receipt shows a decoy against Evil Neptune, for 20 s at most
	// (a loaded machine reads the records late), with more mandates of
	// this pair when those run out.
	var out string
	var m []string
	deadline := time.Now().Add(20 * time.Second)
	key := filepath.Join(tp.data, "solar", campaign.DemoAuthorityKey)
	for len(mine) > 0 && time.Now().Before(deadline) {
		tok := mine[0]
		mine = mine[1:]
		for len(mine) == 0 {
			more := strings.Fields(mustRun(t, "mandates", "--key", key, "--count", "8", "--format", "tokens"))
			for _, x := range more {
				if tokenPair(t, x) == tp.k {
					mine = append(mine, x)
				}
			}
		}
		time.Sleep(time.Second)
		code := strings.TrimSpace(mustRun(t, "booth", "code", "--dir", tp.data))
		out = mustRun(t, "vote", "--edge", tp.first, "--mandate", tok, "--booth-code", code, "--say", "Humble Pluto", "--timeout", "20s")
		if m = neptune.FindStringSubmatch(out); m == nil || m[1] != "-" {
			break
		}
	}
	if m == nil || !slices.Contains(others, m[1]) {
		t.Errorf("the decoy against Evil Neptune on a receipt of pair %d is %q, want one of the other pair's votes %q:\n%s", tp.k, m, others, out)
	}
}
