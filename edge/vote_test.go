package edge

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/pow"
	"github.com/powvote/powvote/wire"
)

// ballot is a vote request: its path and headers.
type ballot struct {
	path string // "/" and the nonce in hex
	hdr  map[string]string
}

// mandate returns the headers of a random mandate, under no authority's
// key. The edge looks at a mandate only before it answers 482 (vote.go,
// answerable): a vote under a random mandate goes to the collectors
// whatever its option, for them to answer 484, and the stand-ins accept
// it. Mandates that verify are in precheck_test.go.
func mandate() map[string]string {
	return map[string]string{
		"Auth-Pkey": base64.StdEncoding.EncodeToString(randBytes(32)),
		"Auth-Sig":  base64.StdEncoding.EncodeToString(randBytes(64)),
		"Auth-Id":   base64.StdEncoding.EncodeToString(randBytes(24)),
	}
}

// ballot asks the edge for a platform stamp with code and makes a vote for
// say with a nonce that meets the test threshold.
func (e *testEnv) ballot(t testing.TB, code, say string) ballot {
	t.Helper()
	h := e.getStamp(t, code)
	b := ballot{hdr: mandate()}
	b.hdr["P-UTC"] = h.Get("P-UTC")
	b.hdr["P-SIG"] = h.Get("P-SIG")
	b.hdr["Voter"] = h.Get("Voter")
	b.hdr["Say"] = wire.EncodeOption(say)
	return b.solve(t)
}

// nonce returns the raw nonce of b's path.
func (b ballot) nonce(t *testing.T) []byte {
	t.Helper()
	n, err := hex.DecodeString(b.path[1:])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// work is what the ballot's proof of work covers.
func (b ballot) work(t testing.TB) pow.Work {
	t.Helper()
	sig, err := base64.StdEncoding.DecodeString(b.hdr["P-SIG"])
	if err != nil {
		t.Fatal(err)
	}
	say, err := wire.DecodeOption(b.hdr["Say"])
	if err != nil {
		t.Fatal(err)
	}
	return pow.Work{PUTC: b.hdr["P-UTC"], PSig: sig, Voter: b.hdr["Voter"], Say: say}
}

// solve finds a nonce for the ballot's headers as they are now.
func (b ballot) solve(t testing.TB) ballot {
	t.Helper()
	res, err := (&pow.Solver{Workers: 1}).Solve(context.Background(), b.work(t), testThreshold)
	if err != nil {
		t.Fatal(err)
	}
	b.path = "/" + hex.EncodeToString(res.Nonce)
	return b
}

// with returns a copy of b with header k set to v, or removed if v is
// "-".
func (b ballot) with(k, v string) ballot {
	b.hdr = maps.Clone(b.hdr)
	if v == "-" {
		delete(b.hdr, k)
	} else {
		b.hdr[k] = v
	}
	return b
}

// raw is the ballot as an HTTP/1.1 request, headers in a fixed order.
func (b ballot) raw() string {
	var s strings.Builder
	s.WriteString("GET " + b.path + " HTTP/1.1\r\nHost: solar.example.org\r\n")
	for _, k := range slices.Sorted(maps.Keys(b.hdr)) {
		s.WriteString(k + ": " + b.hdr[k] + "\r\n")
	}
	s.WriteString("\r\n")
	return s.String()
}

func (e *testEnv) cast(t *testing.T, b ballot) (*http.Response, string) {
	t.Helper()
	return do(t, "GET", e.base+b.path, b.hdr)
}

// votesSettled returns how many votes each instance has received, once
// that is want or two seconds have passed: the edge relays a receipt
// without waiting for every instance, so a vote may still be on its way to
// the other when the voter has the answer.
func (e *testEnv) votesSettled(want []int64) []int64 {
	waitFor(2*time.Second, func() bool { return slices.Equal(e.votes(), want) })
	return e.votes()
}

// waitFor polls cond until it holds or d has passed.
func waitFor(d time.Duration, cond func() bool) {
	for end := time.Now().Add(d); !cond() && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond)
	}
}

// votes returns how many votes each instance has received.
func (e *testEnv) votes() []int64 {
	var n []int64
	for _, c := range e.cols {
		n = append(n, c.votes.Load())
	}
	return n
}

func (e *testEnv) answerAll(r reply) {
	for _, c := range e.cols {
		c.answer(r)
	}
}

func TestVoteAccepted(t *testing.T) {
	e := startEnv(t, 1, nil)
	b := e.ballot(t, e.rightCode(t), "Zürich")
	// Either case is accepted in the path; collectors get lower case.
	nonce := b.path[1:]
	b.path = "/" + strings.ToUpper(nonce)
	resp, body := e.cast(t, b)
	if resp.StatusCode != 204 || body != "" {
		t.Fatalf("status %d body %q, want 204", resp.StatusCode, body)
	}
	lines := []string{b.hdr["Voter"] + " Z%C3%BCrich", "c0 Other"} // instance 0's receipt: pair order
	for k, v := range map[string]string{"Receipt01": lines[0], "Receipt02": lines[1], "Cache-Control": "max-age=300", "Instance": ""} {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	sig, err := base64.StdEncoding.DecodeString(resp.Header.Get("Receipt-Sig"))
	if err != nil || !ed25519.Verify(e.keys.receipt.Public().(ed25519.PublicKey), []byte("solar\n"+strings.Join(lines, "\n")), sig) {
		t.Errorf("Receipt-Sig %q does not verify", resp.Header.Get("Receipt-Sig"))
	}

	want := maps.Clone(b.hdr)
	want["Nonce"] = nonce
	e.votesSettled([]int64{1, 1}) // the second instance may still be on it
	for _, c := range e.cols {
		got := c.received()
		if len(got) != 1 || !maps.Equal(got[0], recorded(want)) {
			t.Errorf("%s received %v, want once %v", c.name, got, want)
		}
	}
	if st := e.srv.Stats(); st["accepted"] != 1 || st["collector_requests"] != 3 || st["stamp_fetches"] != 1 {
		t.Errorf("stats %v, want accepted 1, collector_requests 3 (one stamp, two votes)", st)
	}
}

// TestVoteRelay: the edge's answer from the two answers of a pair.
func TestVoteRelay(t *testing.T) {
	ok := reply{status: 204}
	for _, tc := range []struct {
		name     string
		a, b     reply
		status   int
		receipt  string // Receipt02 of an accepted vote: whose answer was relayed
		unreach  bool   // the edge counts no verdict
		relayed  string // the counter that goes up
		duration bool   // an instance hangs: the answer waits for the timeout
		again    bool   // the second instance is asked again for its signature
	}{
		{"both accept", ok, ok, 204, "c0 Other", false, "accepted", false, false},
		{"481 and 204", reply{status: 481}, ok, 204, "c1 Other", false, "accepted", false, true},
		{"204 and 481", ok, reply{status: 481}, 204, "c0 Other", false, "accepted", false, false},
		{"dropped and 204", reply{drop: true}, ok, 204, "c1 Other", false, "accepted", false, true},
		{"204 and dropped", ok, reply{drop: true}, 204, "c0 Other", false, "accepted", false, false},
		{"hangs and 204", reply{hang: true}, ok, 204, "c1 Other", false, "accepted", true, true},
		{"200 and 503", reply{status: 200}, reply{status: 503}, 200, "c0 Other", false, "accepted", false, false},
		{"both 481", reply{status: 481}, reply{status: 481}, 481, "", false, "relayed_481", false, false},
		{"482 and dropped", reply{status: 482}, reply{drop: true}, 482, "", false, "relayed_482", false, false},
		{"503 and 483", reply{status: 503}, reply{status: 483}, 483, "", false, "relayed_483", false, false},
		{"484 and 500", reply{status: 484}, reply{status: 500}, 484, "", false, "relayed_484", false, false},
		{"hangs and 485", reply{hang: true}, reply{status: 485}, 485, "", false, "relayed_485", true, false},
		{"both 486", reply{status: 486}, reply{status: 486}, 486, "", false, "relayed_486", false, false},
		{"486 and 204", reply{status: 486}, ok, 204, "c1 Other", false, "accepted", false, true},
		{"both dropped", reply{drop: true}, reply{drop: true}, 503, "", true, "no_collector", false, false},
		{"401 and 500", reply{status: 401}, reply{status: 500}, 503, "", true, "no_collector", false, false},
		{"unexpected codes", reply{status: 418}, reply{status: 480}, 503, "", true, "no_collector", false, false},
		{"both hang", reply{hang: true}, reply{hang: true}, 503, "", true, "no_collector", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startEnv(t, 1, nil)
			b := e.ballot(t, e.rightCode(t), "Yes")
			e.cols[0].answer(tc.a)
			e.cols[1].answer(tc.b)
			start := time.Now()
			resp, body := e.cast(t, b)
			took := time.Since(start)
			if resp.StatusCode != tc.status || body != "" {
				t.Fatalf("status %d body %q, want %d", resp.StatusCode, body, tc.status)
			}
			if got := resp.Header.Get("Receipt02"); got != tc.receipt {
				t.Errorf("Receipt02 = %q, want %q", got, tc.receipt)
			}
			if cc := resp.Header.Get("Cache-Control"); tc.unreach && cc != "" || !tc.unreach && cc != "max-age=300" {
				t.Errorf("Cache-Control %q", cc)
			}
			if tc.duration && took < 300*time.Millisecond {
				t.Errorf("took %v with a collector timeout of 300ms: did not wait for the hung instance", took)
			}
			// The relayed receipt is signed; the second instance was asked
			// for an unsigned one, and again for a signed one when the
			// first gave none to relay.
			if tc.status/100 == 2 && resp.Header.Get("Receipt-Sig") == "" {
				t.Errorf("the relayed receipt has no Receipt-Sig")
			}
			second := int64(1)
			if tc.again {
				second = 2
			}
			// The edge may relay the first instance's receipt before the
			// second has answered: the counts are read once they settle.
			if got := e.votesSettled([]int64{1, second}); got[0] != 1 || got[1] != second {
				t.Errorf("instances received %v votes, want [1 %d]", got, second)
			}
			wantUnsigned := int64(0)
			if tc.b.status/100 == 2 {
				wantUnsigned = 1
			}
			waitFor(2*time.Second, func() bool { return e.cols[1].unsigned.Load() == wantUnsigned })
			if n := e.cols[1].unsigned.Load(); n != wantUnsigned || e.cols[0].unsigned.Load() != 0 {
				t.Errorf("unsigned receipts sent: %d by the first instance, %d by the second", e.cols[0].unsigned.Load(), n)
			}
			if st := e.srv.Stats(); st[tc.relayed] != 1 {
				t.Errorf("%s = %d, want 1", tc.relayed, st[tc.relayed])
			}

			// 503 is not cached: the retry reaches the collectors again.
			// Every other answer is, and the retry reaches nobody.
			e.answerAll(ok)
			resp2, _ := e.cast(t, b)
			want := []int64{1, second}
			if tc.unreach {
				want = []int64{2, 2}
				if resp2.StatusCode != 204 {
					t.Errorf("retry after 503: status %d, want 204", resp2.StatusCode)
				}
			} else if resp2.StatusCode != tc.status || resp2.Header.Get("Receipt02") != tc.receipt {
				t.Errorf("retry: status %d Receipt02 %q, want the cached %d %q", resp2.StatusCode, resp2.Header.Get("Receipt02"), tc.status, tc.receipt)
			}
			if got := e.votesSettled(want); !slices.Equal(got, want) {
				t.Errorf("after the retry instances received %v votes, want %v", got, want)
			}
		})
	}
}

// TestVoteOneInstanceDown: the live instance's receipt is relayed, signed.
// With the first instance down, the second is asked again for the
// signature it was spared; after that failure the edge asks it for a
// signed receipt at once.
func TestVoteOneInstanceDown(t *testing.T) {
	for dead := range 2 {
		e := startEnv(t, 1, func(c *Config) { c.Campaigns[0].Pairs[0][dead] = deadURL(t) })
		live := e.cols[1-dead]
		for i := range 2 {
			b := e.ballot(t, e.rightCode(t), "Yes")
			resp, body := e.cast(t, b)
			if resp.StatusCode != 204 || body != "" || resp.Header.Get("Receipt02") != live.name+" Other" || resp.Header.Get("Receipt-Sig") == "" {
				t.Errorf("instance %d down, vote %d: status %d Receipt02 %q Receipt-Sig %q, want 204 from %s, signed",
					dead, i, resp.StatusCode, resp.Header.Get("Receipt02"), resp.Header.Get("Receipt-Sig"), live.name)
			}
		}
		want := int64(2) // instance 0 dead: nothing to ask twice
		if dead == 0 {
			want = 3 // the first vote twice, the second once
		}
		if got := e.votes(); got[1-dead] != want || got[dead] != 0 {
			t.Errorf("instance %d down: instances received %v votes, want %d at the live one", dead, got, want)
		}
	}
}

func TestVoteBothDown(t *testing.T) {
	e := startEnv(t, 1, nil)
	b := e.ballot(t, e.rightCode(t), "Yes")
	e.cols[0].stop()
	e.cols[1].stop()
	for range 2 {
		resp, body := e.cast(t, b)
		wantEmpty(t, "both down", resp, body, 503, false)
	}
	if st := e.srv.Stats(); st["no_collector"] != 2 || st["collector_requests"] != 5 {
		t.Errorf("stats %v, want no_collector 2 and collector_requests 5 (a 503 is not cached)", st)
	}
}

// TestVoteRejections: the edge's own verdicts, in order, cached, and never
// a collector request.
func TestVoteRejections(t *testing.T) {
	e := startEnv(t, 1, nil)
	good := e.ballot(t, e.rightCode(t), "Yes")
	decoy := e.ballot(t, e.wrongCode(t), "Yes")

	// A nonce below the threshold.
	lowWork := good
	w := lowWork.work(t)
	for i := uint64(0); ; i++ {
		n := binary.BigEndian.AppendUint64(nil, i)
		if _, err := pow.Verify(w, n, testThreshold); err != nil {
			lowWork.path = "/" + hex.EncodeToString(n)
			break
		}
	}
	// Another option with the same nonce, one the nonce does not meet
	// the threshold for.
	otherSay := good
	for i := 0; ; i++ {
		otherSay = good.with("Say", fmt.Sprint("Other", i))
		if _, err := pow.Verify(otherSay.work(t), good.nonce(t), testThreshold); err != nil {
			break
		}
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == '0' {
			b[i] = '1'
		} else {
			b[i] = '0'
		}
		return string(b)
	}
	for _, tc := range []struct {
		name   string
		b      ballot
		status int
		reason string
	}{
		{"work below threshold", lowWork, 489, "low_work"},
		{"work for another option", otherSay, 489, "low_work"},
		{"decoy stamp", decoy, 488, "not_genuine"},
		{"forged P-SIG", good.with("P-SIG", base64.StdEncoding.EncodeToString(randBytes(64))).solve(t), 488, "not_genuine"},
		{"genuine P-SIG of another second", good.with("P-UTC", fmt.Sprint(e.clock.now().Unix()+1)).solve(t), 488, "not_genuine"},
		{"genuine P-SIG, voter stamp of the decoy", good.with("Voter", decoy.hdr["Voter"]).solve(t), 487, "bad_voter"},
		{"voter stamp altered", good.with("Voter", flip(good.hdr["Voter"], 0)).solve(t), 487, "bad_voter"},
		{"voter stamp MAC altered", good.with("Voter", flip(good.hdr["Voter"], 38)).solve(t), 487, "bad_voter"},
		{"voter stamp in lower case", good.with("Voter", strings.ToLower(good.hdr["Voter"])).solve(t), 487, "bad_voter"},
		{"voter stamp with spaces", good.with("Voter", strings.ReplaceAll(good.hdr["Voter"], "-", " ")).solve(t), 487, "bad_voter"},
	} {
		before := e.srv.Stats()
		for i := range 2 {
			resp, body := e.cast(t, tc.b)
			wantEmpty(t, fmt.Sprintf("%s, request %d", tc.name, i+1), resp, body, tc.status, true)
		}
		// The second request is answered from the nonce cache, but for
		// 489, which is answered again without a cache entry.
		after := e.srv.Stats()
		fresh, replays := uint64(1), uint64(1)
		if tc.status == 489 {
			fresh, replays = 2, 0
		}
		if after[tc.reason] != before[tc.reason]+fresh || after["replay"] != before["replay"]+replays {
			t.Errorf("%s: %s %d→%d, replay %d→%d; want +%d, +%d", tc.name, tc.reason, before[tc.reason], after[tc.reason], before["replay"], after["replay"], fresh, replays)
		}
	}
	if got := e.votes(); got[0] != 0 || got[1] != 0 {
		t.Errorf("collectors received %v votes, want none", got)
	}
}

func TestVoteBadRequests(t *testing.T) {
	e := startEnv(t, 1, nil)
	good := e.ballot(t, e.rightCode(t), "Zürich")
	nonce := good.path[1:]
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(randBytes(n)) }
	psig := good.hdr["P-SIG"]
	// The last symbol before the padding carries 4 bits that must be zero.
	nonCanonical := psig[:85] + string(psig[85]+1) + "=="
	path := func(p string) ballot { b := good; b.path = p; return b }
	for _, tc := range []struct {
		name string
		b    ballot
	}{
		{"nonce of 7 bytes", path("/" + nonce[:14])},
		{"nonce of 33 bytes", path("/" + nonce + strings.Repeat("ab", 33-len(nonce)/2))},
		{"odd number of digits", path("/" + nonce + "a")},
		{"not hex", path("/" + nonce[:len(nonce)-1] + "g")},
		{"trailing slash", path("/" + nonce + "/")},
		{"two segments", path("/" + nonce[:8] + "/" + nonce[8:])},
		{"Auth-Pkey missing", good.with("Auth-Pkey", "-")},
		{"Auth-Pkey 31 bytes", good.with("Auth-Pkey", b64(31))},
		{"Auth-Pkey 33 bytes", good.with("Auth-Pkey", b64(33))},
		{"Auth-Pkey unpadded", good.with("Auth-Pkey", strings.TrimRight(good.hdr["Auth-Pkey"], "="))},
		{"Auth-Pkey hex", good.with("Auth-Pkey", hex.EncodeToString(randBytes(32)))},
		{"Auth-Sig missing", good.with("Auth-Sig", "-")},
		{"Auth-Sig 63 bytes", good.with("Auth-Sig", b64(63))},
		{"Auth-Id missing", good.with("Auth-Id", "-")},
		{"Auth-Id 25 bytes", good.with("Auth-Id", b64(25))},
		{"Auth-Id URL alphabet", good.with("Auth-Id", base64.URLEncoding.EncodeToString([]byte(strings.Repeat("\xff", 24))))},
		{"P-UTC missing", good.with("P-UTC", "-")},
		{"P-UTC leading zero", good.with("P-UTC", "0"+good.hdr["P-UTC"])},
		{"P-UTC negative", good.with("P-UTC", "-5")},
		{"P-UTC decimal", good.with("P-UTC", good.hdr["P-UTC"]+".0")},
		{"P-SIG missing", good.with("P-SIG", "-")},
		{"P-SIG 63 bytes", good.with("P-SIG", b64(63))},
		{"P-SIG pad bits", good.with("P-SIG", nonCanonical)},
		{"Voter missing", good.with("Voter", "-")},
		{"Voter 38 characters", good.with("Voter", good.hdr["Voter"][:38])},
		{"Voter 40 characters", good.with("Voter", good.hdr["Voter"]+"0")},
		{"Say missing", good.with("Say", "-")},
		{"Say bad escape", good.with("Say", "Z%zzrich")},
		{"Say truncated escape", good.with("Say", "Z%C")},
		{"Say not UTF-8", good.with("Say", "Z%C3rich")},
	} {
		resp, body := e.cast(t, tc.b)
		wantEmpty(t, tc.name, resp, body, 400, false)
	}
	if st := e.srv.Stats(); st["bad_request"] != 30 {
		t.Errorf("bad_request = %d, want 30", st["bad_request"])
	}
	if got := e.votes(); got[0] != 0 || got[1] != 0 {
		t.Errorf("collectors received %v votes, want none", got)
	}
	// A 400 is not cached: the nonce of a malformed request still works.
	if resp, _ := e.cast(t, good); resp.StatusCode != 204 {
		t.Errorf("after 400s with its nonce, the good vote got %d, want 204", resp.StatusCode)
	}
}

// TestVoteReplay: a replayed vote gets the same bytes (but the Date) and
// never reaches a collector, whatever the collectors would say now.
func TestVoteReplay(t *testing.T) {
	e := startEnv(t, 1, nil)
	for _, tc := range []struct {
		name   string
		first  reply
		status string
	}{
		{"accepted", reply{status: 204}, "HTTP/1.1 204 No Content"},
		{"481", reply{status: 481}, "HTTP/1.1 481 Unknown Status Code"},
	} {
		e.answerAll(tc.first)
		b := e.ballot(t, e.rightCode(t), "Yes")
		before := e.votes()
		first := rawExchange(t, e.base, b.raw())
		if first[0] != tc.status {
			t.Fatalf("%s: %q, want %q", tc.name, first[0], tc.status)
		}
		e.answerAll(reply{status: 483})
		again := rawExchange(t, e.base, b.raw())
		if !slices.Equal(withoutDate(first), withoutDate(again)) {
			t.Errorf("%s: replay differs:\n%s\nthen\n%s", tc.name, strings.Join(first, "\n"), strings.Join(again, "\n"))
		}
		if got := e.votesSettled([]int64{before[0] + 1, before[1] + 1}); got[0] != before[0]+1 || got[1] != before[1]+1 {
			t.Errorf("%s: instances received %v votes, before %v; want one more each, not two", tc.name, got, before)
		}
		if !slices.Contains(first, "Cache-Control: max-age=300") {
			t.Errorf("%s: no Cache-Control in %q", tc.name, first)
		}
	}
	if st := e.srv.Stats(); st["replay"] != 2 || st["accepted"] != 1 || st["relayed_481"] != 1 {
		t.Errorf("stats %v, want replay 2, accepted 1, relayed_481 1", st)
	}
}

// TestVoteSingleflight: concurrent requests with one nonce share one flight:
// one request per instance, one answer for all.
func TestVoteSingleflight(t *testing.T) {
	const n = 32
	var arrived atomic.Int64
	// The collectors hold the vote until every request has joined its
	// flight, which on a loaded machine may outlast the env's 300 ms.
	e := startEnv(t, 1, func(c *Config) { c.CollectorTimeout = 30 * time.Second }, func(s *Server) { s.testHookVote = func() { arrived.Add(1) } })
	b := e.ballot(t, e.rightCode(t), "Yes")
	gate := make(chan struct{})
	e.answerAll(reply{status: 204, hang: true, gate: gate})

	answers := make([][]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { answers[i], errs[i] = rawLines(e.base, b.raw()) })
	}
	// Let the collectors answer once every request has reached the edge's
	// vote path; until then the first flight is held at the collectors.
	deadline := time.Now().Add(10 * time.Second)
	for arrived.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d requests arrived", arrived.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
	close(gate)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for i, a := range answers {
		if len(a) == 0 || a[0] != "HTTP/1.1 204 No Content" || !slices.Equal(withoutDate(a), withoutDate(answers[0])) {
			t.Fatalf("answer %d: %q, want the same 204 as %q", i, a, answers[0])
		}
	}
	if got := e.votesSettled([]int64{1, 1}); got[0] != 1 || got[1] != 1 {
		t.Errorf("instances received %v votes, want 1 each", got)
	}
	st := e.srv.Stats()
	if st["accepted"]+st["replay"] != n {
		t.Errorf("stats %v: accepted + replay = %d, want %d", st, st["accepted"]+st["replay"], n)
	}
	t.Logf("%d requests shared the flight, %d came late and were answered from the cache", st["accepted"], st["replay"])
}

// TestVoteRouting: each vote goes to the pair pairIndex names, and only
// there.
func TestVoteRouting(t *testing.T) {
	e := startEnv(t, 2, nil)
	code := e.rightCode(t)
	seen := [2]int{}
	for range 12 {
		b := e.ballot(t, code, "Yes")
		pkey, _ := base64.StdEncoding.DecodeString(b.hdr["Auth-Pkey"])
		id, _ := base64.StdEncoding.DecodeString(b.hdr["Auth-Id"])
		d := sha256.Sum256(append(pkey, id...))
		k := int(binary.BigEndian.Uint64(d[:8]) % 2)
		seen[k]++
		before := e.votes()
		if resp, _ := e.cast(t, b); resp.StatusCode != 204 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		wantAfter := slices.Clone(before)
		wantAfter[2*k]++
		wantAfter[2*k+1]++
		after := e.votesSettled(wantAfter)
		for i := range after {
			want := wantAfter[i]
			if after[i] != want {
				t.Errorf("mandate of pair %d: instance %d received %d votes, want %d", k, i, after[i], want)
			}
		}
	}
	t.Logf("votes per pair: %v", seen)
}

func TestPairIndex(t *testing.T) {
	pkey := make([]byte, 32)
	id := make([]byte, 24)
	for i := range pkey {
		pkey[i] = byte(i)
	}
	for i := range id {
		id[i] = byte(100 + i)
	}
	// SHA-256 of the 56 bytes is 2da534c817ab8865..., whose first 8 bytes
	// are 3289093136859236453.
	for _, tc := range []struct{ pairs, want int }{{1, 0}, {2, 1}, {3, 2}, {5, 3}, {7, 5}, {1000, 453}} {
		if got := pairIndex(pkey, id, tc.pairs); got != tc.want {
			t.Errorf("pairIndex with %d pairs = %d, want %d", tc.pairs, got, tc.want)
		}
	}
}

func TestNonceCacheExpiry(t *testing.T) {
	e := startEnv(t, 1, func(c *Config) { c.NonceCacheTTL = time.Second })
	b := e.ballot(t, e.rightCode(t), "Yes")
	resp, _ := e.cast(t, b)
	if resp.StatusCode != 204 || resp.Header.Get("Cache-Control") != "max-age=1" {
		t.Fatalf("status %d Cache-Control %q, want 204 max-age=1", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	e.answerAll(reply{status: 481})
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, _ := e.cast(t, b)
		if resp.StatusCode == 481 {
			break // the entry expired and the vote went to the collectors again
		}
		if resp.StatusCode != 204 || time.Now().After(deadline) {
			t.Fatalf("status %d, want the cached 204 until the entry expires, then 481", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := e.votesSettled([]int64{2, 2}); got[0] != 2 || got[1] != 2 {
		t.Errorf("instances received %v votes, want 2 each", got)
	}
}

// TestJunkKeepsCache: a flood of votes below the threshold takes no place
// in the nonce cache, so the answer of a real vote stays there and its
// replay reaches no collector.
func TestJunkKeepsCache(t *testing.T) {
	e := startEnv(t, 1, func(c *Config) { c.NonceCacheSize = 8 })
	good := e.ballot(t, e.rightCode(t), "Yes")
	if resp, _ := e.cast(t, good); resp.StatusCode != 204 {
		t.Fatalf("vote: %d", resp.StatusCode)
	}
	w := good.work(t)
	junk := 0
	for i := uint64(0); junk < 100; i++ {
		n := binary.BigEndian.AppendUint64(nil, i)
		if _, err := pow.Verify(w, n, testThreshold); err == nil {
			continue
		}
		b := good
		b.path = "/" + hex.EncodeToString(n)
		if resp, _ := e.cast(t, b); resp.StatusCode != 489 {
			t.Fatalf("junk %d: %d, want 489", junk, resp.StatusCode)
		}
		junk++
	}
	before := e.srv.Stats()["replay"]
	if resp, _ := e.cast(t, good); resp.StatusCode != 204 || resp.Header.Get("Receipt-Sig") == "" {
		t.Fatalf("replay after the junk: %d", resp.StatusCode)
	}
	if got := e.votesSettled([]int64{1, 1}); got[0] != 1 || got[1] != 1 {
		t.Errorf("after 100 junk votes the replay reached the collectors: %v votes", got)
	}
	if after := e.srv.Stats()["replay"]; after != before+1 {
		t.Errorf("replay counter %d→%d, want +1", before, after)
	}
}

// TestJunkVoteAllocs: refusing a vote whose work is below the threshold
// (489) allocates three times: the nonce, one string that holds all the
// header values, and the nonce cache's key. Junk comes in floods.
func TestJunkVoteAllocs(t *testing.T) {
	e := startEnv(t, 1, nil)
	good := e.ballot(t, e.rightCode(t), "Yes")
	w := good.work(t)
	var nonces [][]byte
	for i := uint64(0); len(nonces) < 128; i++ {
		if n := binary.BigEndian.AppendUint64(nil, i); scoreOf(w, n) < testThreshold {
			nonces = append(nonces, n)
		}
	}
	prepare := junkVote(good, nonces)
	var ctx fasthttp.RequestCtx
	i := 0
	n := testing.AllocsPerRun(100, func() {
		ctx.Request.Reset()
		ctx.Response.Reset()
		prepare(int64(i), &ctx.Request)
		i++
		e.srv.Handle(&ctx)
	})
	if sc := ctx.Response.StatusCode(); sc != 489 {
		t.Fatalf("status %d, want 489", sc)
	}
	// The allocations of preparing the request, measured alone.
	base := testing.AllocsPerRun(100, func() {
		ctx.Request.Reset()
		prepare(int64(i), &ctx.Request)
		i++
	})
	if got := n - base; got > 3 {
		t.Errorf("refusing junk: %v allocations, want at most 3 (%v with the request's own %v)", got, n, base)
	}
}

// TestParseVoteOwnsValues: the values parseVote keeps are its own copies,
// the same bytes as the request's: a vote goes on to the collectors, in
// other goroutines, after fasthttp has reused the request's memory. A Say
// longer than parseVote's stack buffer is read the same way.
func TestParseVoteOwnsValues(t *testing.T) {
	e := startEnv(t, 1, nil)
	good := e.ballot(t, e.rightCode(t), "Yes")
	for _, say := range []struct{ raw, decoded string }{
		{"Yes", "Yes"},
		{strings.Repeat("%C3%BC", 200), strings.Repeat("ü", 200)},
	} {
		h := maps.Clone(good.hdr)
		h["Say"] = say.raw
		var ctx fasthttp.RequestCtx
		ctx.Request.SetRequestURI(good.path)
		for k, v := range h {
			ctx.Request.Header.Set(k, v)
		}
		var v vote
		if err := parseVote(&ctx, &v); err != nil {
			t.Fatal(err)
		}
		// Overwrite every value in place, as the next request on the
		// connection would.
		for k, val := range h {
			ctx.Request.Header.Set(k, strings.Repeat("x", len(val)))
		}
		for _, f := range []struct{ name, got, want string }{
			{"Nonce", v.nonceHex, strings.ToLower(good.path[1:])},
			{"Auth-Pkey", v.authPkey, h["Auth-Pkey"]},
			{"Auth-Sig", v.authSig, h["Auth-Sig"]},
			{"Auth-Id", v.authID, h["Auth-Id"]},
			{"P-UTC", v.putc, h["P-UTC"]},
			{"P-SIG", v.psig64, h["P-SIG"]},
			{"Voter", v.voter, h["Voter"]},
			{"Say", v.sayRaw, say.raw},
			{"Say, decoded", v.say, say.decoded},
		} {
			if f.got != f.want {
				t.Errorf("Say %.12q...: %s = %q, want %q", say.raw, f.name, f.got, f.want)
			}
		}
	}
}

// TestNonceOtherVote replays the nonce of a cached answer with other
// well-formed headers, as a coercer who holds a voter's receipt would with
// the nonces of its stamps (nonces are public): every such request is
// refused with 480, carries no receipt and no max-age, reaches no
// collector and leaves the cached answer as it was, so that the vote's own
// request still gets it byte for byte. A cached refusal is kept the same
// way.
func TestNonceOtherVote(t *testing.T) {
	e := startEnv(t, 1, nil)
	code := e.rightCode(t)
	other := e.ballot(t, code, "Other") // another voter's vote, not cast
	otherMandate := mandate()
	variants := func(b ballot) []struct {
		name string
		b    ballot
	} {
		return []struct {
			name string
			b    ballot
		}{
			{"another mandate", b.with("Auth-Pkey", otherMandate["Auth-Pkey"]).with("Auth-Sig", otherMandate["Auth-Sig"]).with("Auth-Id", otherMandate["Auth-Id"])},
			{"another Auth-Pkey", b.with("Auth-Pkey", otherMandate["Auth-Pkey"])},
			{"another Auth-Sig", b.with("Auth-Sig", otherMandate["Auth-Sig"])},
			{"another Auth-Id", b.with("Auth-Id", otherMandate["Auth-Id"])},
			{"another option", b.with("Say", "Other")},
			{"another voter stamp", b.with("Voter", other.hdr["Voter"])},
			{"another platform stamp", b.with("P-UTC", other.hdr["P-UTC"]).with("P-SIG", other.hdr["P-SIG"])},
			{"the option spelled otherwise", b.with("Say", "%59es")},
			{"every header of another vote", other.with("Say", b.hdr["Say"])},
		}
	}
	for _, first := range []struct {
		name   string
		b      ballot
		status string
	}{
		{"accepted", e.ballot(t, code, "Yes"), "HTTP/1.1 204 No Content"},
		{"decoy stamp", e.ballot(t, e.wrongCode(t), "Yes"), "HTTP/1.1 488 Unknown Status Code"},
	} {
		answer := withoutDate(rawExchange(t, e.base, first.b.raw()))
		if answer[0] != first.status {
			t.Fatalf("%s: %q, want %s", first.name, answer, first.status)
		}
		// The accepted vote reached both instances; nothing else does.
		before := e.votesSettled([]int64{1, 1})
		stats := e.srv.Stats()
		vs := variants(first.b)
		for _, v := range vs {
			v.b.path = first.b.path
			got := rawExchange(t, e.base, v.b.raw())
			if got[0] != "HTTP/1.1 480 Unknown Status Code" || !slices.Contains(got, "Content-Length: 0") ||
				slices.ContainsFunc(got, func(l string) bool {
					return strings.HasPrefix(l, "Receipt") || strings.HasPrefix(l, "Cache-Control")
				}) {
				t.Errorf("%s, %s: %q; want 480 without a receipt, a max-age or a body", first.name, v.name, got)
			}
		}
		if again := withoutDate(rawExchange(t, e.base, first.b.raw())); !slices.Equal(again, answer) {
			t.Errorf("%s: the vote's own request after the others:\n%s\nwant\n%s", first.name, strings.Join(again, "\n"), strings.Join(answer, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
		if got := e.votes(); !slices.Equal(got, before) {
			t.Errorf("%s: votes per instance went from %v to %v: a request with a cached nonce reached a collector", first.name, before, got)
		}
		st := e.srv.Stats()
		if st["nonce_used"] != stats["nonce_used"]+uint64(len(vs)) || st["replay"] != stats["replay"]+1 {
			t.Errorf("%s: nonce_used %d→%d, replay %d→%d; want +%d, +1", first.name, stats["nonce_used"], st["nonce_used"], stats["replay"], st["replay"], len(vs))
		}
	}
}
