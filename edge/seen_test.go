package edge

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/powvote/powvote/internal/crockford"
	"github.com/powvote/powvote/listline"
)

func TestSeenVotes(t *testing.T) {
	const keep = 600
	t0 := int64(1767225600)
	stamp := "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH"
	other := "ZZZZ-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH"
	nonce := []byte("0123456789abcdef")
	fresh := []byte("fedcba9876543210")

	sv := newSeenVotes(keep)
	if got, _ := sv.find(t0, stamp, nonce); got != stampUnknown {
		t.Fatalf("an empty set knows a stamp: %v", got)
	}
	sv.add(t0, stamp, nonce, 3, t0)
	// A later report of the stamp under another pair or nonce is a copy
	// or a used stamp: the first stays.
	sv.add(t0, stamp, nonce, 5, t0+1)
	sv.add(t0, stamp, fresh, 7, t0+1)
	for _, tc := range []struct {
		name  string
		putc  int64
		stamp string
		nonce []byte
		want  seenVote
		pair  int
	}{
		{"the recorded vote", t0, stamp, nonce, stampSame, 3},
		{"its stamp with another nonce", t0, stamp, fresh, stampOther, 0},
		{"another stamp with its nonce", t0, other, nonce, stampUnknown, 0},
		{"another stamp", t0, other, fresh, stampUnknown, 0},
		// A vote with the stamp carries its P-UTC; the lookup is by its
		// minute.
		{"its stamp under another P-UTC", t0 + 3600, stamp, nonce, stampUnknown, 0},
		{"its stamp later in the same minute", t0 + 59, stamp, fresh, stampOther, 0},
	} {
		if got, k := sv.find(tc.putc, tc.stamp, tc.nonce); got != tc.want || k != tc.pair {
			t.Errorf("%s: find = %v, pair %d; want %v, pair %d", tc.name, got, k, tc.want, tc.pair)
		}
	}
	// A stamp too old for any collector is not kept.
	if sv.add(t0, other, fresh, 1, t0+keep+1); sv.len() != 1 {
		t.Fatalf("len = %d after adding a dead stamp, want 1", sv.len())
	}
	// Minutes whose stamps are all dead are dropped on the next add.
	later := t0 + keep + 120
	sv.add(later, other, fresh, 1, later)
	if got, _ := sv.find(t0, stamp, nonce); got != stampUnknown {
		t.Fatal("an expired stamp is still known")
	}
	if got, k := sv.find(later, other, fresh); got != stampSame || k != 1 || sv.len() != 1 {
		t.Fatalf("find = %v, pair %d, len %d; want stampSame, 1, 1", got, k, sv.len())
	}
	// Pairs up to the largest a campaign may have keep their number.
	sv.add(later, stamp, nonce, math.MaxUint16, later)
	if got, k := sv.find(later, stamp, nonce); got != stampSame || k != math.MaxUint16 {
		t.Fatalf("find = %v, pair %d; want stampSame, %d", got, k, math.MaxUint16)
	}
}

func TestParseRecords(t *testing.T) {
	good := testVoteLine(1767225600, "c0ffee00c0ffee00")
	// A retraction without a binding, and one bound to the vote that won.
	bound := "retract c0ffee00c0ffee00 00c0ffee00c0ffee " + strings.Repeat("A", 86) + "=="
	recs, err := parseRecords([]byte("7 "+good+"\n8 retract c0ffee00c0ffee00\n9 "+bound+"\n"), 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0].putc != 1767225600 || fmt.Sprintf("%x", recs[0].nonce) != "c0ffee00c0ffee00" || recs[0].option != "Yes" ||
		recs[0].voter != "0000-0000-0000-0000-0000-0000-0000-0000" || recs[1].nonce != nil || recs[2].nonce != nil {
		t.Fatalf("records %+v", recs)
	}
	if recs, err := parseRecords(nil, 1); err != nil || len(recs) != 0 {
		t.Fatalf("empty page: %v, %v", recs, err)
	}
	for _, tc := range []struct{ name, body string }{
		{"no line feed", "7 " + good},
		{"wrong number", "8 " + good + "\n"},
		{"no number", good + "\n"},
		{"bad vote line", "7 1767225600 junk\n"},
		{"bad P-UTC", "7 " + strings.Replace(good, "1767225600", "0176722560", 1) + "\n"},
		{"second record misnumbered", "7 " + good + "\n7 " + good + "\n"},
		{"bad retraction", "7 retract c0ffee\n"},
		{"retraction without its signature", "7 retract c0ffee00c0ffee00 00c0ffee00c0ffee\n"},
	} {
		if _, err := parseRecords([]byte(tc.body), 7); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

// testVoteLine is a well-formed vote line with this P-UTC and nonce.
func testVoteLine(putc int64, nonceHex string) string {
	return testVoteLineStamp(putc, "0000-0000-0000-0000-0000-0000-0000-0000", nonceHex)
}

// testVoteLineStamp is a well-formed vote line with this P-UTC, voter
// stamp and nonce.
func testVoteLineStamp(putc int64, voter, nonceHex string) string {
	return fmt.Sprintf("%d %s %s %s \"Yes\"", putc, base64.StdEncoding.EncodeToString(make([]byte, 64)), voter, nonceHex)
}

// testStamp is a well-formed voter stamp made from i (no MAC checks it in
// records).
func testStamp(i int) string {
	return crockford.Group(crockford.Encode(binary.BigEndian.AppendUint64(make([]byte, 12), uint64(i))), "-", 4)
}

// otherPair returns b with a fresh mandate that routes to a pair other
// than b's.
func otherPair(t *testing.T, b ballot, pairs int) ballot {
	t.Helper()
	k := ballotPair(t, b, pairs)
	for {
		c := b
		c.hdr = mandate()
		for _, h := range []string{"P-UTC", "P-SIG", "Voter", "Say"} {
			c.hdr[h] = b.hdr[h]
		}
		if ballotPair(t, c, pairs) != k {
			return c
		}
	}
}

func ballotPair(t *testing.T, b ballot, pairs int) int {
	t.Helper()
	pkey, err1 := base64.StdEncoding.DecodeString(b.hdr["Auth-Pkey"])
	id, err2 := base64.StdEncoding.DecodeString(b.hdr["Auth-Id"])
	if err1 != nil || err2 != nil {
		t.Fatal("ballot mandate does not decode")
	}
	return pairIndex(pkey, id, pairs)
}

// TestHeldElsewhere copies recorded votes under mandates of the other pair
// to an edge process that never answered them: one started after the vote
// (it learns of it while catching up) and the same process later (it
// learns from its background reads). Both copies are refused with 481 and
// never reach a collector; the voter's own retry still goes through.
func TestHeldElsewhere(t *testing.T) {
	e := startEnv(t, 2, func(c *Config) { c.TailInterval = 10 * time.Millisecond })
	code := e.rightCode(t)
	b := e.ballot(t, code, "Yes")
	if resp, _ := e.cast(t, b); resp.StatusCode != 204 {
		t.Fatalf("vote: status %d", resp.StatusCode)
	}
	k := ballotPair(t, b, 2)
	e.votesSettled(pairVotes(k, 1, 1))

	// A second edge process: its nonce cache has never seen the vote.
	var second *Server
	second, base2 := serve(t, e.cfg, func(s *Server) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.CatchUp(ctx); err != nil {
			t.Errorf("catch up: %v", err)
		}
	})
	e2 := *e
	e2.srv, e2.base = second, base2

	copied := otherPair(t, b, 2)
	resp, body := e2.cast(t, copied)
	if resp.StatusCode != 481 || body != "" || resp.Header.Get("Cache-Control") != "" {
		t.Fatalf("copy under a mandate of the other pair: status %d body %q Cache-Control %q; want 481, empty, not cached",
			resp.StatusCode, body, resp.Header.Get("Cache-Control"))
	}
	// Not from the nonce cache: the refusal belongs to that mandate.
	if resp, _ := e2.cast(t, copied); resp.StatusCode != 481 {
		t.Fatalf("the copy again: status %d, want 481", resp.StatusCode)
	}
	if got := second.Stats()["held_elsewhere"]; got != 2 {
		t.Errorf("held_elsewhere = %d, want 2", got)
	}
	// The voter's own request, retried at the second process, goes to its
	// pair as before.
	if resp, _ := e2.cast(t, b); resp.StatusCode != 204 {
		t.Fatalf("the voter's retry: status %d, want 204", resp.StatusCode)
	}
	e.votesSettled(pairVotes(k, 2, 2))

	// A vote relayed by the first process after the second started: the
	// second learns of it in the background.
	b2 := e.ballot(t, code, "Other")
	if resp, _ := e.cast(t, b2); resp.StatusCode != 204 {
		t.Fatalf("second vote: status %d", resp.StatusCode)
	}
	k2 := ballotPair(t, b2, 2)
	waitFor(10*time.Second, func() bool {
		seen, _ := second.single.Load().seen.find(mustInt(t, b2.hdr["P-UTC"]), b2.hdr["Voter"], b2.nonce(t))
		return seen == stampSame
	})
	// Both instances of b2's pair have it before the count is taken: the
	// edge may answer before the slower instance's copy has arrived.
	settled := pairVotes(k, 2, 2)
	settled[2*k2]++
	settled[2*k2+1]++
	waitFor(10*time.Second, func() bool { return slices.Equal(e.votes(), settled) })
	before := e.votes()
	if !slices.Equal(before, settled) {
		t.Fatalf("votes per instance %v, want %v before the copy", before, settled)
	}
	resp, _ = e2.cast(t, otherPair(t, b2, 2))
	if resp.StatusCode != 481 {
		t.Fatalf("copy of the second vote: status %d, want 481", resp.StatusCode)
	}
	time.Sleep(50 * time.Millisecond)
	if after := e.votes(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("votes per instance went from %v to %v: a refused copy reached a collector (pair %d)", before, after, 1-k2)
	}
}

// pairVotes is how many votes each instance of two pairs has received when
// pair k's instances received a and b and the other pair none.
func pairVotes(k int, a, b int64) []int64 {
	v := make([]int64, 4)
	v[2*k], v[2*k+1] = a, b
	return v
}

// TestFindStart checks the binary search over a log whose P-UTC is not
// sorted: no record with a live stamp stands before the start, and the
// start is not much older than twice the stamp age.
func TestFindStart(t *testing.T) {
	e := startEnv(t, 1, func(c *Config) { c.TailInterval = -1 })
	st := e.srv.single.Load()
	age := st.settings.MaxStampAge + stampMargin
	now := e.clock.now()
	col := e.cols[0]
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 3000
	span := 12 * age
	accepted := make([]time.Time, n+1)
	putc := make([]int64, n+1)
	for i := 1; i <= n; i++ {
		accepted[i] = now.Add(-span + time.Duration(i)*span/n)
		putc[i] = accepted[i].Add(-time.Duration(rng.Int64N(int64(st.settings.MaxStampAge)))).Unix()
		if i%97 == 0 {
			col.addRecord("retract 00000000000000000000")
			continue
		}
		col.addRecord(testVoteLineStamp(putc[i], testStamp(i), fmt.Sprintf("%016x", i)))
	}
	tl := st.tails[0]
	start, err := tl.findStart(now)
	if err != nil {
		t.Fatal(err)
	}
	if start < 1 || start > n+1 {
		t.Fatalf("start %d out of 1..%d", start, n+1)
	}
	for i := 1; i < int(start); i++ {
		if i%97 != 0 && putc[i] >= now.Add(-age).Unix() {
			t.Fatalf("record %d has a live stamp but stands before the start %d", i, start)
		}
	}
	if start <= n && accepted[start].Before(now.Add(-2*age-span/n)) {
		t.Errorf("start %d was accepted %v before now; want at most about 2 stamp ages (%v)", start, now.Sub(accepted[start]), 2*age)
	}
	if reads := col.reads.Load(); reads > 20 {
		t.Errorf("%d reads for %d records, want a binary search", reads, n)
	}
	// Catching up from there reads everything after the start.
	if err := tl.catchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := st.seen.len(); got == 0 {
		t.Fatal("nothing remembered after catching up")
	}
	for i := 1; i <= n; i++ {
		if i%97 == 0 || putc[i] < now.Add(-age).Unix() {
			continue
		}
		nonce := make([]byte, 8)
		fmt.Sscanf(fmt.Sprintf("%016x", i), "%x", &nonce)
		if seen, _ := st.seen.find(putc[i], testStamp(i), nonce); seen != stampSame {
			t.Fatalf("record %d with a live stamp was not remembered", i)
		}
	}
}

// TestTailNewLog: a collector's store is replaced (rebuilt from its twin)
// by a log as long as the old one or longer, whose indexes mean other
// votes: the new Log-Id makes the edge find its start in the new log and
// read the votes that stand before its old position there.
func TestTailNewLog(t *testing.T) {
	e := startEnv(t, 1, func(c *Config) { c.TailInterval = -1 })
	st := e.srv.single.Load()
	col := e.cols[0]
	now := e.clock.now().Unix()
	lines := func(from, n int) []string {
		var out []string
		for i := from; i < from+n; i++ {
			out = append(out, testVoteLineStamp(now-1, testStamp(i), fmt.Sprintf("%016x", i)))
		}
		return out
	}
	col.replaceLog("0123456789abcdef0123456789abcdef", lines(1, 20))
	tl := st.tails[0]
	if err := tl.catchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	col.replaceLog("fedcba9876543210fedcba9876543210", lines(1000, 25))
	for range 3 {
		if err := tl.catchUp(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range []int{1000, 1010, 1024} {
		nonce := make([]byte, 8)
		fmt.Sscanf(fmt.Sprintf("%016x", i), "%x", &nonce)
		if seen, _ := st.seen.find(now-1, testStamp(i), nonce); seen != stampSame {
			t.Errorf("vote %d of the new log was not read", i)
		}
	}
}

func TestTailErrors(t *testing.T) {
	e := startEnv(t, 1, func(c *Config) { c.TailInterval = -1 })
	tl := e.srv.single.Load().tails[0]
	e.cols[0].setPass("wrong")
	if err := tl.catchUp(context.Background()); !errors.Is(err, errTailAnswer) {
		t.Fatalf("catch up against a collector refusing the pass: %v, want errTailAnswer", err)
	}
	e.cols[0].stop()
	if err := tl.catchUp(context.Background()); err == nil {
		t.Fatal("catch up against a stopped collector: no error")
	}
	_ = listline.Vote{}
}

// silentCollector accepts connections and never answers; it counts them.
func silentCollector(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			n.Add(1)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return "http://" + ln.Addr().String(), &n
}

// TestShutdownWhileReading stops an edge whose read of a collector's
// records hangs: Shutdown returns when its context ends, not when the
// read's own 30 s timeout would.
func TestShutdownWhileReading(t *testing.T) {
	a, accepted := silentCollector(t)
	b, _ := silentCollector(t)
	k := newKeys(t)
	s, err := New(Config{
		Campaigns: []Campaign{{Settings: settings("solar", "Yes"), UTCSignPub: k.signPub(), UTCHole: k.hole, VoterKey: k.voterKey, Link: k.link,
			Pairs: [][2]string{{a, b}}}},
		TailInterval: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	waitFor(10*time.Second, func() bool { return accepted.Load() > 0 })
	if accepted.Load() == 0 {
		t.Fatal("the edge never asked the collector for its records")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	s.Shutdown(ctx)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Shutdown took %v with a 500 ms context", d)
	}
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}

// TestStampUsed takes the platform and voter stamps of a recorded vote, as
// anyone can from the votes list or a receipt, and casts votes with them,
// each with fresh work: under a mandate of the same pair, of the other
// pair, for another option, at the edge process that relayed the vote and
// at one started later that learnt of it from the records. Each is refused
// with 486 and reaches no collector, and the refusal is kept under its own
// nonce; the voter's own request still gets its receipt at both.
func TestStampUsed(t *testing.T) {
	e := startEnv(t, 2, func(c *Config) { c.TailInterval = -1 })
	b := e.ballot(t, e.rightCode(t), "Yes")
	if resp, _ := e.cast(t, b); resp.StatusCode != 204 {
		t.Fatalf("vote: status %d", resp.StatusCode)
	}
	k := ballotPair(t, b, 2)
	e.votesSettled(pairVotes(k, 1, 1))

	second, base2 := serve(t, e.cfg, func(s *Server) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.CatchUp(ctx); err != nil {
			t.Errorf("catch up: %v", err)
		}
	})
	e2 := *e
	e2.srv, e2.base = second, base2

	// used returns a vote with b's stamps, a fresh mandate of pair k and
	// fresh work for say.
	used := func(pair int, say string) ballot {
		for {
			c := b.with("Say", say)
			for h, v := range mandate() {
				c = c.with(h, v)
			}
			if ballotPair(t, c, 2) == pair {
				return c.solve(t)
			}
		}
	}
	for _, tc := range []struct {
		name string
		env  *testEnv
		b    ballot
	}{
		{"same edge, mandate of the same pair", e, used(k, "Yes")},
		{"same edge, mandate of the other pair", e, used(1-k, "Yes")},
		{"same edge, another option", e, used(k, "Other")},
		{"another edge, mandate of the same pair", &e2, used(k, "Yes")},
		{"another edge, mandate of the other pair", &e2, used(1-k, "Other")},
	} {
		before := e.votes()
		stats := tc.env.srv.Stats()
		for i := range 2 {
			resp, body := tc.env.cast(t, tc.b)
			if resp.StatusCode != 486 || body != "" || resp.Header.Get("Receipt-Sig") != "" || resp.Header.Get("Receipt01") != "" {
				t.Fatalf("%s, request %d: status %d body %q receipt %q; want 486 without a receipt", tc.name, i+1, resp.StatusCode, body, resp.Header.Get("Receipt01"))
			}
			if resp.Header.Get("Cache-Control") != "max-age=300" {
				t.Errorf("%s: Cache-Control %q, want max-age=300: the stamp stays used", tc.name, resp.Header.Get("Cache-Control"))
			}
		}
		after := tc.env.srv.Stats()
		if after["stamp_used"] != stats["stamp_used"]+1 || after["replay"] != stats["replay"]+1 {
			t.Errorf("%s: stamp_used %d→%d, replay %d→%d; want +1 each (the second from the nonce cache)",
				tc.name, stats["stamp_used"], after["stamp_used"], stats["replay"], after["replay"])
		}
		time.Sleep(20 * time.Millisecond)
		if got := e.votes(); !slices.Equal(got, before) {
			t.Errorf("%s: votes per instance went from %v to %v: a used stamp reached a collector", tc.name, before, got)
		}
	}
	// The voter's own request, at either edge process, gets its receipt.
	for _, env := range []*testEnv{e, &e2} {
		if resp, _ := env.cast(t, b); resp.StatusCode != 204 || resp.Header.Get("Receipt-Sig") == "" {
			t.Fatalf("the voter's retry: status %d, want 204 with its receipt", resp.StatusCode)
		}
	}
}

// TestStampUsedRelayed: a collector's 486 (a stamp its pair recorded that
// this edge process has not learnt of) is relayed and kept like the other
// collector verdicts.
func TestStampUsedRelayed(t *testing.T) {
	e := startEnv(t, 1, func(c *Config) { c.TailInterval = -1 })
	e.answerAll(reply{status: 486})
	b := e.ballot(t, e.rightCode(t), "Yes")
	for i := range 2 {
		resp, body := e.cast(t, b)
		wantEmpty(t, fmt.Sprintf("request %d", i+1), resp, body, 486, true)
	}
	if st := e.srv.Stats(); st["relayed_486"] != 1 || st["replay"] != 1 {
		t.Errorf("stats %v, want relayed_486 1 and replay 1", st)
	}
	if got := e.votesSettled([]int64{1, 1}); got[0] != 1 || got[1] != 1 {
		t.Errorf("instances received %v votes, want 1 each", got)
	}
}
