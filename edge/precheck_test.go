package edge

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/powvote/powvote/pow"
	"github.com/powvote/powvote/stamp"
)

// The edge answers the collectors' 485 and 482 itself (vote.go, steps 7 and
// 8), so that no collector is handed a complete mandate with a vote it will
// refuse for its time or its option. These tests sign platform stamps for
// any second with the campaign's UTC-SIGN key, as a collector does, and
// vote with mandates of an authority the campaign lists.

// The campaign of a windowEnv: it opens at the clock's start and runs for
// windowLength; a stamp lives windowMaxAge.
const (
	windowLength = time.Hour
	windowMaxAge = time.Minute
)

// windowEnv is a testEnv whose campaign has a known window and an
// authority whose private key the test holds.
type windowEnv struct {
	*testEnv
	t0   time.Time // the campaign's start, and the clock's
	auth ed25519.PrivateKey
}

func startWindowEnv(t *testing.T) *windowEnv {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	w := &windowEnv{auth: priv}
	w.testEnv = startEnv(t, 1, func(c *Config) {
		w.t0 = c.Clock()
		s := c.Campaigns[0].Settings // ballot "Yes", "Other"
		s.Start, s.End, s.MaxStampAge = w.t0, w.t0.Add(windowLength), windowMaxAge
		s.Authorities = []ed25519.PublicKey{pub}
	})
	return w
}

// at sets the clock of the edge and of the stand-in collectors to d after
// the campaign's start.
func (w *windowEnv) at(d time.Duration) { w.clock.ns.Store(w.t0.Add(d).UnixNano()) }

// validMandate returns the headers of a mandate of the campaign's authority,
// one a collector would record a vote with.
func (w *windowEnv) validMandate() map[string]string {
	id := randBytes(authIDLen)
	enc := base64.StdEncoding.EncodeToString
	return map[string]string{
		"Auth-Pkey": enc(w.auth.Public().(ed25519.PublicKey)),
		"Auth-Sig":  enc(ed25519.Sign(w.auth, id)),
		"Auth-Id":   enc(id),
	}
}

// forgedMandate returns a mandate under the campaign's authority key whose
// signature is over another Auth-Id: a collector answers it 483.
func (w *windowEnv) forgedMandate() map[string]string {
	m := w.validMandate()
	m["Auth-Id"] = base64.StdEncoding.EncodeToString(randBytes(authIDLen))
	return m
}

// platformStamp returns P-UTC, P-SIG and Voter for the second d after the
// campaign's start: P-SIG by key (the UTC-SIGN key for a genuine stamp),
// Voter by the edge's voter-stamp key for the stamp of second macAt.
func (w *windowEnv) platformStamp(t *testing.T, d time.Duration, key ed25519.PrivateKey, macAt time.Duration) map[string]string {
	t.Helper()
	sec := func(d time.Duration) string { return strconv.FormatInt(w.t0.Add(d).Unix(), 10) }
	putc := sec(d)
	psig := ed25519.Sign(key, []byte(putc))
	voter, err := stamp.NewVoter(w.keys.voterKey, rand.Reader, sec(macAt), ed25519.Sign(key, []byte(sec(macAt))))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"P-UTC": putc, "P-SIG": base64.StdEncoding.EncodeToString(psig), "Voter": voter}
}

// makeVote makes a vote under mandate m with the platform stamp ps for say, a
// Say header value as sent, with a nonce that meets the threshold.
func makeVote(t *testing.T, m, ps map[string]string, say string) ballot {
	t.Helper()
	b := ballot{hdr: map[string]string{"Say": say}}
	for _, h := range []map[string]string{m, ps} {
		for k, v := range h {
			b.hdr[k] = v
		}
	}
	return b.solve(t)
}

// genuineVote is makeVote with a genuine platform stamp of second d.
func (w *windowEnv) genuineVote(t *testing.T, m map[string]string, d time.Duration, say string) ballot {
	t.Helper()
	return makeVote(t, m, w.platformStamp(t, d, w.keys.sign, d), say)
}

// belowThreshold returns b with a nonce that does not meet the threshold.
func belowThreshold(t *testing.T, b ballot) ballot {
	t.Helper()
	w := b.work(t)
	for i := uint64(0); ; i++ {
		n := binary.BigEndian.AppendUint64(nil, i)
		if _, err := pow.Verify(w, n, testThreshold); err != nil {
			b.path = "/" + hex.EncodeToString(n)
			return b
		}
	}
}

// carried counts the vote requests the stand-in collectors received that
// carried any private part of mandate m: its Auth-Sig or its Auth-Id.
func (w *windowEnv) carried(m map[string]string) int {
	n := 0
	for _, c := range w.cols {
		for _, r := range c.received() {
			if r["Auth-Sig"] == m["Auth-Sig"] || r["Auth-Id"] == m["Auth-Id"] {
				n++
			}
		}
	}
	return n
}

// wantRefused casts b twice and wants status from the edge both times, with
// an empty body, the nonce cache's Cache-Control and Vary and no receipt:
// the first answer counted under reason, the second a replay from the
// nonce cache (489, which is answered again each time, excepted). No
// collector may receive either request: the counts of votes stay as they
// were, and no request ever carried the ballot's mandate.
func (w *windowEnv) wantRefused(t *testing.T, b ballot, status int, reason string) {
	t.Helper()
	before, stats := w.votes(), w.srv.Stats()
	for i := range 2 {
		resp, body := w.cast(t, b)
		wantEmpty(t, "request "+strconv.Itoa(i+1), resp, body, status, true)
		if v := resp.Header.Get("Vary"); v != voteVary {
			t.Errorf("request %d: Vary %q, want %q", i+1, v, voteVary)
		}
		if r := resp.Header.Get("Receipt01"); r != "" {
			t.Errorf("request %d: a receipt with a refusal: %q", i+1, r)
		}
	}
	fresh, replays := uint64(1), uint64(1)
	if status == 489 {
		fresh, replays = 2, 0
	}
	st := w.srv.Stats()
	if st[reason] != stats[reason]+fresh || st["replay"] != stats["replay"]+replays {
		t.Errorf("%s %d→%d, replay %d→%d; want +%d, +%d", reason, stats[reason], st[reason], stats["replay"], st["replay"], fresh, replays)
	}
	for _, c := range []string{"relayed_482", "relayed_485"} {
		if st[c] != stats[c] {
			t.Errorf("%s %d→%d: a collector answered", c, stats[c], st[c])
		}
	}
	if got := w.votes(); !slices.Equal(got, before) {
		t.Errorf("the collectors received %v votes, %v before: the edge forwarded a vote it answers %d", got, before, status)
	}
	if n := w.carried(mandateOf(b)); n != 0 {
		t.Errorf("%d requests to the collectors carried the mandate of a vote the edge answers %d", n, status)
	}
}

// wantForwarded casts b and wants it at both instances of the pair, the
// mandate with it, and status relayed, counted under counter.
func (w *windowEnv) wantForwarded(t *testing.T, b ballot, status int, counter string) {
	t.Helper()
	before, stats := w.votes(), w.srv.Stats()
	resp, body := w.cast(t, b)
	if resp.StatusCode != status || body != "" {
		t.Errorf("status %d body %q, want %d from the collectors", resp.StatusCode, body, status)
	}
	want := []int64{before[0] + 1, before[1] + 1}
	if got := w.votesSettled(want); !slices.Equal(got, want) {
		t.Errorf("the collectors received %v votes, %v before: want the vote at both", got, before)
	}
	// An instance counts a vote before it keeps its headers.
	waitFor(2*time.Second, func() bool { return w.carried(mandateOf(b)) == 2 })
	if n := w.carried(mandateOf(b)); n != 2 {
		t.Errorf("%d requests carried the vote's mandate, want 2", n)
	}
	if st := w.srv.Stats(); st[counter] != stats[counter]+1 || st["bad_time"] != stats["bad_time"] || st["bad_option"] != stats["bad_option"] {
		t.Errorf("stats %v, want %s +1 and no bad_time or bad_option", st, counter)
	}
}

func mandateOf(b ballot) map[string]string {
	return map[string]string{"Auth-Pkey": b.hdr["Auth-Pkey"], "Auth-Sig": b.hdr["Auth-Sig"], "Auth-Id": b.hdr["Auth-Id"]}
}

// TestVoteStampWindow: a vote whose platform stamp is outside the campaign,
// ahead of the clock by more than the collectors allow, or older than the
// maximum stamp age is answered 485 by the edge, and no collector sees its
// mandate; a stamp on any bound is accepted, as a collector accepts it.
// Each refused case breaks one bound only.
func TestVoteStampWindow(t *testing.T) {
	const s, half = time.Second, 500 * time.Millisecond
	end := windowLength
	for _, tc := range []struct {
		name      string
		now, putc time.Duration // after the campaign's start
		ok        bool
	}{
		{"a second before the start", 10 * s, -s, false},
		{"at the start", 10 * s, 0, true},
		{"a second after the end", end + 10*s, end + s, false},
		{"at the end", end + 10*s, end, true},
		{"a second beyond the future skew", 100 * s, 100*s + futureSkew + s, false},
		{"at the future skew", 100 * s, 100*s + futureSkew, true},
		{"half a second beyond the future skew", 100*s - half, 100*s + futureSkew, false},
		{"stamped this second", 100*s + half, 100 * s, true},
		{"a second older than the maximum age", 1000 * s, 1000*s - windowMaxAge - s, false},
		{"at the maximum age", 1000 * s, 1000*s - windowMaxAge, true},
		{"half a second older than the maximum age", 1000*s + half, 1000*s - windowMaxAge, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := startWindowEnv(t)
			w.at(tc.now)
			b := w.genuineVote(t, w.validMandate(), tc.putc, "Yes")
			if tc.ok {
				w.wantForwarded(t, b, 204, "accepted")
			} else {
				w.wantRefused(t, b, 485, "bad_time")
			}
		})
	}
}

// TestVoteOffBallot: a vote for a text that is not an option of the ballot,
// byte for byte once decoded, is answered 482 by the edge, and no collector
// sees its mandate. PROTOCOL.md puts 485, 484 and 483 before 482: a stale
// stamp is still 485, and a vote whose mandate is no authority's or does
// not verify goes to the collectors, whose 484 or 483 the edge relays. That
// mandate is no mandate anyone can cast.
func TestVoteOffBallot(t *testing.T) {
	const s = time.Second
	type mandateKind int
	const (
		valid   mandateKind = iota
		unknown             // random bytes: no authority's key (484)
		forged              // the authority's key, a signature over another id (483)
	)
	for _, tc := range []struct {
		name    string
		say     string // the Say header as sent
		m       mandateKind
		putc    time.Duration // the clock is at 100 s
		reply   int           // what the stand-in collectors answer
		status  int
		counter string
		fwd     bool // the vote reaches the collectors
	}{
		{"on the ballot", "Yes", valid, 95 * s, 204, 204, "accepted", true},
		{"on the ballot, escaped", "Y%65s", valid, 95 * s, 204, 204, "accepted", true},
		{"lower case", "yes", valid, 95 * s, 204, 482, "bad_option", false},
		{"upper case", "YES", valid, 95 * s, 204, 482, "bad_option", false},
		{"trailing space", "Yes%20", valid, 95 * s, 204, 482, "bad_option", false},
		{"leading space", "%20Yes", valid, 95 * s, 204, 482, "bad_option", false},
		{"trailing line feed", "Other%0A", valid, 95 * s, 204, 482, "bad_option", false},
		{"a prefix of an option", "Othe", valid, 95 * s, 204, 482, "bad_option", false},
		{"two options", "Yes, Other", valid, 95 * s, 204, 482, "bad_option", false},
		{"no option", "Maybe", valid, 95 * s, 204, 482, "bad_option", false},
		{"no option, stale stamp", "Maybe", valid, 100*s - windowMaxAge - s, 204, 485, "bad_time", false},
		{"no option, no authority's key", "Maybe", unknown, 95 * s, 484, 484, "relayed_484", true},
		{"no option, signature over another id", "Maybe", forged, 95 * s, 483, 483, "relayed_483", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := startWindowEnv(t)
			w.at(100 * s)
			w.answerAll(reply{status: tc.reply})
			m := map[mandateKind]func() map[string]string{valid: w.validMandate, unknown: mandate, forged: w.forgedMandate}[tc.m]()
			b := w.genuineVote(t, m, tc.putc, tc.say)
			if tc.fwd {
				w.wantForwarded(t, b, tc.status, tc.counter)
			} else {
				w.wantRefused(t, b, tc.status, tc.counter)
			}
		})
	}
}

// TestVoteOwnChecksFirst: the edge's checks that come before 485 and 482
// answer first, in PROTOCOL.md's order: 489, 488, 487, and 486 for a voter
// stamp that a recorded vote carries.
func TestVoteOwnChecksFirst(t *testing.T) {
	const s = time.Second
	stale := 100*s - windowMaxAge - s // the clock is at 100 s
	for _, tc := range []struct {
		name   string
		b      func(t *testing.T, w *windowEnv) ballot
		status int
		reason string
	}{
		{"stale stamp, work below the threshold", func(t *testing.T, w *windowEnv) ballot {
			return belowThreshold(t, w.genuineVote(t, w.validMandate(), stale, "Yes"))
		}, 489, "low_work"},
		{"off the ballot, work below the threshold", func(t *testing.T, w *windowEnv) ballot {
			return belowThreshold(t, w.genuineVote(t, w.validMandate(), 95*s, "Maybe"))
		}, 489, "low_work"},
		{"stale stamp, decoy", func(t *testing.T, w *windowEnv) ballot {
			return makeVote(t, w.validMandate(), w.platformStamp(t, stale, w.keys.hole, stale), "Yes")
		}, 488, "not_genuine"},
		{"off the ballot, decoy", func(t *testing.T, w *windowEnv) ballot {
			return makeVote(t, w.validMandate(), w.platformStamp(t, 95*s, w.keys.hole, 95*s), "Maybe")
		}, 488, "not_genuine"},
		{"stale stamp, voter stamp of another second", func(t *testing.T, w *windowEnv) ballot {
			return makeVote(t, w.validMandate(), w.platformStamp(t, stale, w.keys.sign, 95*s), "Yes")
		}, 487, "bad_voter"},
		{"off the ballot, voter stamp of another second", func(t *testing.T, w *windowEnv) ballot {
			return makeVote(t, w.validMandate(), w.platformStamp(t, 95*s, w.keys.sign, 94*s), "Maybe")
		}, 487, "bad_voter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := startWindowEnv(t)
			w.at(100 * s)
			w.wantRefused(t, tc.b(t, w), tc.status, tc.reason)
		})
	}

	// A voter stamp that a recorded vote carries, again with another nonce
	// under another mandate: 486, whether the option is off the ballot or
	// the stamp has gone stale meanwhile.
	w := startWindowEnv(t)
	w.at(100 * s)
	ps := w.platformStamp(t, 95*s, w.keys.sign, 95*s)
	w.wantForwarded(t, makeVote(t, w.validMandate(), ps, "Yes"), 204, "accepted")
	t.Run("recorded stamp, off the ballot", func(t *testing.T) {
		w.wantRefused(t, makeVote(t, w.validMandate(), ps, "Maybe"), 486, "stamp_used")
	})
	w.at(95*s + windowMaxAge + s)
	t.Run("recorded stamp, gone stale", func(t *testing.T) {
		w.wantRefused(t, makeVote(t, w.validMandate(), ps, "Other"), 486, "stamp_used")
	})
}

// TestVoteOwnVerdictsWire: the edge's own 485 and 482 are, byte for byte
// but the Date, the answers it relays when a collector gives those codes.
func TestVoteOwnVerdictsWire(t *testing.T) {
	const s = time.Second
	w := startWindowEnv(t)
	w.at(1000 * s)
	exchange := func(b ballot) []string { return withoutDate(rawExchange(t, w.base, b.raw())) }

	stale := w.genuineVote(t, w.validMandate(), 1000*s-windowMaxAge-s, "Yes")
	offBallot := w.genuineVote(t, w.validMandate(), 995*s, "Maybe")
	own485, own482 := exchange(stale), exchange(offBallot)
	if got := w.votes(); got[0] != 0 || got[1] != 0 {
		t.Fatalf("the collectors received %v votes, want none", got)
	}

	w.answerAll(reply{status: 485})
	relayed485 := exchange(w.genuineVote(t, w.validMandate(), 995*s, "Yes"))
	w.votesSettled([]int64{1, 1})
	w.answerAll(reply{status: 482})
	relayed482 := exchange(w.genuineVote(t, w.validMandate(), 995*s, "Other"))
	w.votesSettled([]int64{2, 2})

	for _, tc := range []struct {
		code         string
		own, relayed []string
	}{{"485", own485, relayed485}, {"482", own482, relayed482}} {
		if len(tc.own) == 0 || tc.own[0] != "HTTP/1.1 "+tc.code+" Unknown Status Code" {
			t.Errorf("the edge's own %s: %q", tc.code, tc.own)
		}
		if !slices.Equal(tc.own, tc.relayed) {
			t.Errorf("the edge's own %s differs from a collector's relayed:\n%s\nthen\n%s", tc.code, strings.Join(tc.own, "\n"), strings.Join(tc.relayed, "\n"))
		}
	}
	st := w.srv.Stats()
	for _, c := range []string{"bad_time", "bad_option", "relayed_485", "relayed_482"} {
		if st[c] != 1 {
			t.Errorf("%s = %d, want 1", c, st[c])
		}
	}
	if n := w.carried(mandateOf(stale)) + w.carried(mandateOf(offBallot)); n != 0 {
		t.Errorf("%d requests to the collectors carried the mandates the edge refused", n)
	}
}
