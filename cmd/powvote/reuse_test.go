package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/pow"
	"github.com/powvote/powvote/wire"
)

// The tests of this file attack a running platform as anyone on the
// Internet can: with what the votes list and a receipt show (every vote's
// P-UTC, P-SIG, voter stamp, nonce and option), mandates of their own and
// their own proof of work, through the public edge only. The campaigns use
// the low threshold of test campaigns, so that the attacker's work takes
// milliseconds.

// attackVote is a vote request as an attacker builds it: a hex mandate
// token, the vote's fields and the nonce. Say is sent as the voter's
// software sends it (wire.EncodeOption).
type attackVote struct {
	token string
	v     listline.Vote
}

// request builds the GET of the vote.
func (a attackVote) request(t *testing.T, edge string) *http.Request {
	t.Helper()
	raw, err := hex.DecodeString(a.token)
	if err != nil || len(raw) != 120 {
		t.Fatalf("token %q", a.token)
	}
	req, err := http.NewRequest("GET", edge+"/"+hex.EncodeToString(a.v.Nonce), nil)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.StdEncoding.EncodeToString
	for k, v := range map[string]string{
		"Auth-Pkey": enc(raw[:32]), "Auth-Sig": enc(raw[32:96]), "Auth-Id": enc(raw[96:]),
		"P-UTC": a.v.PUTC, "P-SIG": enc(a.v.PSig[:]), "Voter": a.v.Voter, "Say": wire.EncodeOption(a.v.Option),
	} {
		req.Header[k] = []string{v}
	}
	return req
}

// send casts the vote and returns the answer's status and headers.
func (a attackVote) send(t *testing.T, edge string) (int, http.Header) {
	t.Helper()
	resp, err := http.DefaultClient.Do(a.request(t, edge))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// rawAnswer casts the vote on a connection of its own and returns the
// answer's lines as sent, without Date.
func (a attackVote) rawAnswer(t *testing.T, edge string) []string {
	t.Helper()
	var req bytes.Buffer
	r := a.request(t, edge)
	r.Header.Set("Connection", "close")
	if err := r.Write(&req); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(edge, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(req.Bytes()); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := b.ReadFrom(conn); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(b.String(), "\r\n") {
		if !strings.HasPrefix(l, "Date: ") {
			out = append(out, l)
		}
	}
	return out
}

// rework gives a its own nonce, with work for its fields at threshold.
func (a attackVote) rework(t *testing.T, threshold int) attackVote {
	t.Helper()
	res, err := (&pow.Solver{Workers: 1}).Solve(context.Background(), a.v.Work(), threshold)
	if err != nil {
		t.Fatal(err)
	}
	a.v.Nonce = res.Nonce
	return a
}

// recordOf returns the vote line a collector recorded with this voter
// stamp, and how many of its records carry the stamp.
func recordOf(t *testing.T, ins *insider, url, voter string) (listline.Vote, int) {
	t.Helper()
	var v listline.Vote
	n := 0
	for _, l := range strings.Split(voteRecords(t, ins, url), "\n") {
		_, line, _ := strings.Cut(l, " ")
		if !strings.Contains(line, " "+voter+" ") {
			continue
		}
		n++
		var err error
		if v, err = listline.ParseVote(line); err != nil {
			t.Fatalf("record %q: %v", l, err)
		}
	}
	return v, n
}

// hasReceipt reports whether an answer carries any receipt header.
func hasReceipt(h http.Header) bool {
	for k := range h {
		if strings.HasPrefix(k, "Receipt") {
			return true
		}
	}
	return false
}

// TestStampReuse takes a recorded vote's (P-UTC, P-SIG, Voter), as anyone
// can from the votes list or from the decoys of a receipt, and casts votes
// with them under mandates of its own, for the other option, each with
// fresh proof of work: through the edge that relayed the vote and through
// an edge process started later, under a mandate of the vote's pair and of
// the other pair. Every one is refused with 486 and no collector records
// it; an edge process that has not yet learnt of the vote is stood in for
// by posting the attack to the vote's collectors as an edge would, and
// they refuse it too. The voter's own request, retried at either edge,
// still gets its receipt.
func TestStampReuse(t *testing.T) {
	tp := startTwoPairs(t)
	ins, urls, tokens, first, own, k := tp.ins, tp.urls, tp.tokens, tp.first, tp.own, tp.k
	const threshold = replayThreshold
	recorded, _ := recordOf(t, ins, urls[2*k], own)
	second := tp.edge(t)

	// Mandates of the attacker's, one of each pair.
	var mine [2]string
	for _, tok := range tokens[1:] {
		if p := tokenPair(t, tok); mine[p] == "" {
			mine[p] = tok
		}
	}
	if mine[0] == "" || mine[1] == "" {
		t.Fatal("15 mandates, not one of each pair")
	}
	attack := func(pair int, option string) attackVote {
		v := recorded
		v.Option = option
		return attackVote{token: mine[pair], v: v}.rework(t, threshold)
	}
	for _, tc := range []struct {
		name string
		edge string
		a    attackVote
	}{
		{"the same edge, a mandate of the vote's pair", first, attack(k, "Evil Neptune")},
		{"the same edge, a mandate of the other pair", first, attack(1-k, "Evil Neptune")},
		{"another edge, a mandate of the vote's pair", second, attack(k, "Evil Neptune")},
		{"another edge, a mandate of the other pair", second, attack(1-k, "Humble Pluto")},
	} {
		status, h := tc.a.send(t, tc.edge)
		if status != 486 || hasReceipt(h) {
			t.Errorf("%s: status %d, receipt headers %v; want 486 and none", tc.name, status, hasReceipt(h))
		}
	}
	// An edge process that has not read the vote's records yet (another
	// one, in the same second) would forward the attack: the collectors of
	// the pair refuse it themselves.
	direct := attack(k, "Evil Neptune")
	for _, url := range urls[2*k : 2*k+2] {
		req := direct.request(t, url)
		req.Method, req.URL.Path = http.MethodPost, "/vote"
		req.Header.Set("Nonce", hex.EncodeToString(direct.v.Nonce))
		resp, err := ins.as(campaign.RoleEdge).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 486 || hasReceipt(resp.Header) {
			t.Errorf("the attack posted to collector %s: status %d, receipt %v; want 486 and none", url, resp.StatusCode, hasReceipt(resp.Header))
		}
	}
	for i, url := range urls {
		want := 0
		if i/2 == k {
			want = 1
		}
		if _, n := recordOf(t, ins, url, own); n != want {
			t.Errorf("collector %d records %d votes with the stamp, want %d", i, n, want)
		}
	}

	// The voter's own request again, at either edge: its receipt.
	voter := attackVote{token: tokens[0], v: recorded}
	for _, edge := range []string{first, second} {
		status, h := voter.send(t, edge)
		if status != 204 || h.Get("Receipt-Sig") == "" || !slices.Contains(receiptValues(h), own+" Humble Pluto") {
			t.Errorf("the voter's retry at %s: status %d, receipt %q; want 204 with the own stamp", edge, status, receiptValues(h))
		}
	}
}

// receiptValues returns the Receipt01.. values of an answer.
func receiptValues(h http.Header) []string {
	var out []string
	for i := 1; i <= 99 && h.Get(fmt.Sprintf("Receipt%02d", i)) != ""; i++ {
		out = append(out, h.Get(fmt.Sprintf("Receipt%02d", i)))
	}
	return out
}

// TestNonceReplay attacks the decoy design of receipts (PROTOCOL.md 5.4):
// a coercer who holds a voter's receipt looks up each of its stamps' nonces
// in the votes list and replays each nonce with well-formed headers of
// their own; were the edge to answer any request with a cached nonce
// alike, the nonce whose answer is the voter's receipt would be the
// voter's line. Each replay with other values (another mandate, another
// option, both) gets 480 and no receipt, and
// reaches no collector. The voter's own request gets the same answer, byte
// for byte, as often as it asks.
func TestNonceReplay(t *testing.T) {
	s := newPair(t)
	token, r := s.vote(t, s.edgeU, "", "Humble Pluto")
	if r.code != 0 {
		t.Fatalf("vote: %s", r.stderr)
	}
	own := ownStamp(t, r.stdout)
	recorded, _ := recordOf(t, s.ins, s.url[0], own)
	sig := regexp.MustCompile(`Receipt-Sig: (\S+)`).FindStringSubmatch(r.stdout)
	if sig == nil {
		t.Fatalf("no Receipt-Sig in %q", r.stdout)
	}
	key := filepath.Join(s.data, "solar", campaign.DemoAuthorityKey)
	coercer := strings.TrimSpace(mustRun(t, "mandates", "--key", key, "--count", "1", "--format", "tokens"))
	before := [2]string{voteRecords(t, s.ins, s.url[0]), voteRecords(t, s.ins, s.url[1])}

	voter := attackVote{token: token, v: recorded}
	otherOption := voter
	otherOption.v.Option = "Evil Neptune"
	both := otherOption
	both.token = coercer
	for _, tc := range []struct {
		name string
		a    attackVote
	}{
		{"another mandate", attackVote{token: coercer, v: recorded}},
		{"another option", otherOption},
		{"another mandate and option", both},
	} {
		status, h := tc.a.send(t, s.edgeU)
		if status != 480 || hasReceipt(h) || h.Get("Receipt-Sig") != "" || h.Get("Cache-Control") != "" {
			t.Errorf("%s: status %d, receipt %q, Receipt-Sig %q; want 480 without a receipt", tc.name, status, receiptValues(h), h.Get("Receipt-Sig"))
		}
	}
	after := [2]string{voteRecords(t, s.ins, s.url[0]), voteRecords(t, s.ins, s.url[1])}
	if after != before {
		t.Errorf("the collectors' records changed:\n%q\n%q", before, after)
	}

	// The voter's own request: the receipt `powvote vote` printed, in the
	// same bytes each time.
	again := voter.rawAnswer(t, s.edgeU)
	if again[0] != "HTTP/1.1 204 No Content" || !slices.Contains(again, "Receipt-Sig: "+sig[1]) || !slices.Contains(again, "Receipt02: "+own+" Humble Pluto") {
		t.Fatalf("the voter's retry: %q, want 204 with the receipt of the vote", again)
	}
	if third := voter.rawAnswer(t, s.edgeU); !slices.Equal(third, again) {
		t.Errorf("the voter's retries differ:\n%q\n%q", again, third)
	}
}
