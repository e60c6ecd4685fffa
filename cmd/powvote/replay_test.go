package main

import (
	"crypto/sha256"
	"encoding/base64"
	be "encoding/binary"
	"encoding/hex"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/listline"
)

// TestCrossPairReplay copies a recorded vote under a mandate routed to the
// other of two pairs, at an edge process started after the vote, which
// never answered it. The edge refuses it with 481 (it learnt which pair
// holds the vote while catching up), and no collector of the other pair
// ever holds it.
func TestCrossPairReplay(t *testing.T) {
	data := filepath.Join(t.TempDir(), "pv")
	mustRun(t, "init", "solar", "--dir", data, "--threshold", "12", "--batch-size", "1",
		"--option", "Evil Neptune", "--option", "Humble Pluto")
	c, err := campaign.Load(data, "solar")
	if err != nil {
		t.Fatal(err)
	}
	pass := base64.StdEncoding.EncodeToString(c.Secrets.PassSecret)
	urls := startCollectors(t, data, pass, 4)
	pairArgs := []string{"--pair", urls[0] + "," + urls[1], "--pair", urls[2] + "," + urls[3]}
	edgeAt := func() string {
		addr := freeAddr(t)
		startProc(t, append([]string{"edge", "--dir", data, "--listen", addr}, pairArgs...)...)
		return "http://" + addr
	}
	first := edgeAt()

	key := filepath.Join(data, "solar", campaign.DemoAuthorityKey)
	tokens := strings.Fields(mustRun(t, "mandates", "--key", key, "--count", "16", "--format", "tokens"))
	code := strings.TrimSpace(mustRun(t, "booth", "code", "--dir", data))
	r := run(t, "vote", "--edge", first, "--mandate", tokens[0], "--booth-code", code, "--say", "Humble Pluto", "--timeout", "20s")
	if r.code != 0 {
		t.Fatalf("vote: %s", r.stderr)
	}
	own := ownStamp(t, r.stdout)
	k := tokenPair(t, tokens[0])
	var line string
	for _, l := range strings.Split(voteRecords(t, pass, urls[2*k]), "\n") {
		if strings.Contains(l, own) {
			_, line, _ = strings.Cut(l, " ")
		}
	}
	v, err := listline.ParseVote(line)
	if err != nil {
		t.Fatalf("the vote's record %q: %v", line, err)
	}
	var other string
	for _, tok := range tokens[1:] {
		if tokenPair(t, tok) != k {
			other = tok
			break
		}
	}
	if other == "" {
		t.Fatal("no mandate of the other pair among 15")
	}

	second := edgeAt()
	raw, _ := hex.DecodeString(other)
	req, _ := http.NewRequest("GET", second+"/"+hex.EncodeToString(v.Nonce), nil)
	req.Header.Set("Auth-Pkey", base64.StdEncoding.EncodeToString(raw[:32]))
	req.Header.Set("Auth-Sig", base64.StdEncoding.EncodeToString(raw[32:96]))
	req.Header.Set("Auth-Id", base64.StdEncoding.EncodeToString(raw[96:]))
	req.Header.Set("P-UTC", v.PUTC)
	req.Header.Set("P-SIG", base64.StdEncoding.EncodeToString(v.PSig[:]))
	req.Header.Set("Voter", v.Voter)
	req.Header.Set("Say", v.Option)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 481 {
		t.Fatalf("the copy under a mandate of pair %d: status %d, want 481", 1-k, resp.StatusCode)
	}
	for _, i := range []int{2 * (1 - k), 2*(1-k) + 1} {
		if recs := voteRecords(t, pass, urls[i]); strings.Contains(recs, own) {
			t.Errorf("collector %d of the other pair holds the copy: %s", i, recs)
		}
	}
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
func voteRecords(t *testing.T, pass, url string) string {
	t.Helper()
	return collectorGet(t, pass, url+"/records/votes?from=1&limit=10000")
}

// collectorGet sends GET with the pass secret to a collector, wants 200 and
// returns the body.
func collectorGet(t *testing.T, pass, url string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Pass", pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	return string(body)
}
