package collector_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/powvote/powvote/collector"
	"github.com/powvote/powvote/wire"
)

// TestPass checks that every endpoint refuses a request without the pass
// secret, or with a wrong one, with 401 and an empty body, and that a
// refused vote is not recorded.
func TestPass(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := e.start(t, e.config(t.TempDir()))
	e.healthy(t, in)

	right := e.pass()
	wrong := []byte(right)
	wrong[len(wrong)-1] ^= 1
	passes := []struct {
		name string
		pass *string // nil: no Pass header
	}{
		{"no Pass", nil},
		{"empty", ptr("")},
		{"last bit flipped", ptr(string(wrong))},
		{"one character short", ptr(right[:len(right)-1])},
		{"hex", ptr(fmt.Sprintf("%x", right))},
		{"lower case", ptr(strings.ToLower(right))},
		{"upper case", ptr(strings.ToUpper(right))},
	}
	b := e.newBallot(t, testOptions[0])
	requests := []struct {
		method, path string
		hdr          map[string]string
	}{
		{http.MethodPost, "/vote", b.headers("")},
		{http.MethodGet, "/stamp", map[string]string{"TOTP": "123456"}},
		{http.MethodGet, "/health", nil},
		{http.MethodGet, "/sync?after=0&limit=10", map[string]string{"Last-Seq": "0"}},
		{http.MethodGet, "/records/votes?from=1&limit=10", nil},
		{http.MethodGet, "/records/voters?after=&limit=10", nil},
		{http.MethodGet, "/no-such-path", nil},
	}
	for _, p := range passes {
		for _, rq := range requests {
			t.Run(p.name+" "+rq.path, func(t *testing.T) {
				hdr := make(map[string]string)
				for k, v := range rq.hdr {
					hdr[k] = v
				}
				delete(hdr, "Pass")
				if p.pass != nil {
					hdr["Pass"] = *p.pass
				}
				wantEmpty(t, e.do(t, rq.method, in.url+rq.path, hdr), http.StatusUnauthorized)
			})
		}
	}
	checkCounts(t, in, 0, 0)
	// The refused vote was valid: with the pass it is taken.
	e.mustVote(t, in, b)
	checkCounts(t, in, 1, 1)
}

func ptr[T any](v T) *T { return &v }

// TestRoutes checks that paths and methods other than those of
// docs/INTERNAL.md get 400 with an empty body.
func TestRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := e.start(t, e.config(t.TempDir()))
	e.healthy(t, in)
	for _, rq := range []struct{ method, path string }{
		{http.MethodGet, "/vote"},
		{http.MethodPost, "/stamp"},
		{http.MethodPost, "/health"},
		{http.MethodPost, "/sync?after=0&limit=1"},
		{http.MethodGet, "/"},
		{http.MethodGet, "/0123456789abcdef"}, // the edge's vote path, not the collector's
		{http.MethodGet, "/vote/"},
		{http.MethodGet, "/records"},
	} {
		t.Run(rq.method+" "+rq.path, func(t *testing.T) {
			wantEmpty(t, e.do(t, rq.method, in.url+rq.path, map[string]string{"Pass": e.pass()}), http.StatusBadRequest)
		})
	}
}

// TestMalformed sends votes with one header missing or malformed: each
// gets 400 with an empty body and nothing is recorded.
func TestMalformed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := e.start(t, e.config(t.TempDir()))
	e.healthy(t, in)

	b64 := base64.StdEncoding.EncodeToString
	unpadded := func(n int) string { return strings.Repeat("A", base64.StdEncoding.EncodedLen(n)) }
	// nonCanonical changes the last symbol before the padding so that the
	// padding bits are not zero: it decodes to the same bytes, loosely.
	nonCanonical := func(n int) string {
		s := []byte(b64(make([]byte, n)))
		s[strings.IndexByte(string(s), '=')-1] = 'B'
		return string(s)
	}
	for _, tc := range []struct {
		name, header, value string // value "" with delete set removes the header
		delete              bool
	}{
		{name: "no Auth-Pkey", header: "Auth-Pkey", delete: true},
		{name: "no Auth-Sig", header: "Auth-Sig", delete: true},
		{name: "no Auth-Id", header: "Auth-Id", delete: true},
		{name: "no P-UTC", header: "P-UTC", delete: true},
		{name: "no P-SIG", header: "P-SIG", delete: true},
		{name: "no Voter", header: "Voter", delete: true},
		{name: "no Say", header: "Say", delete: true},
		{name: "no Nonce", header: "Nonce", delete: true},

		{name: "Auth-Pkey not base64", header: "Auth-Pkey", value: strings.Repeat("!", 44)},
		{name: "Auth-Pkey URL alphabet", header: "Auth-Pkey", value: strings.Repeat("-", 43) + "="},
		{name: "Auth-Pkey padding bits", header: "Auth-Pkey", value: nonCanonical(32)},
		{name: "Auth-Pkey 31 bytes", header: "Auth-Pkey", value: b64(make([]byte, 31))},
		{name: "Auth-Pkey 33 bytes", header: "Auth-Pkey", value: b64(make([]byte, 33))},
		// The right length unpadded holds more bytes than the field.
		{name: "Auth-Pkey unpadded", header: "Auth-Pkey", value: unpadded(32)},
		{name: "Auth-Sig 63 bytes", header: "Auth-Sig", value: b64(make([]byte, 63))},
		{name: "Auth-Sig 65 bytes", header: "Auth-Sig", value: b64(make([]byte, 65))},
		{name: "Auth-Sig unpadded", header: "Auth-Sig", value: unpadded(64)},
		{name: "Auth-Sig padding bits", header: "Auth-Sig", value: nonCanonical(64)},
		{name: "Auth-Id 23 bytes", header: "Auth-Id", value: b64(make([]byte, 23))},
		{name: "Auth-Id 25 bytes", header: "Auth-Id", value: b64(make([]byte, 25))},
		{name: "Auth-Id not base64", header: "Auth-Id", value: strings.Repeat("*", 32)},
		{name: "P-SIG 63 bytes", header: "P-SIG", value: b64(make([]byte, 63))},
		{name: "P-SIG 65 bytes", header: "P-SIG", value: b64(make([]byte, 65))},
		{name: "P-SIG unpadded", header: "P-SIG", value: unpadded(64)},
		{name: "P-SIG not base64", header: "P-SIG", value: strings.Repeat("?", 88)},

		{name: "P-UTC empty", header: "P-UTC", value: ""},
		{name: "P-UTC leading zero", header: "P-UTC", value: "0" + strconv.FormatInt(e.clock.Now().Unix(), 10)},
		{name: "P-UTC sign", header: "P-UTC", value: "+" + strconv.FormatInt(e.clock.Now().Unix(), 10)},
		{name: "P-UTC fraction", header: "P-UTC", value: strconv.FormatInt(e.clock.Now().Unix(), 10) + ".5"},
		{name: "P-UTC letters", header: "P-UTC", value: "17x9"},
		{name: "P-UTC 13 digits", header: "P-UTC", value: "1000000000000"},

		{name: "Voter 38 characters", header: "Voter", value: "ABCD-ABCD-ABCD-ABCD-ABCD-ABCD-ABCD-ABC"},
		{name: "Voter 40 characters", header: "Voter", value: "ABCD-ABCD-ABCD-ABCD-ABCD-ABCD-ABCD-ABCDE"},
		{name: "Voter lower case", header: "Voter", value: "abcd-abcd-abcd-abcd-abcd-abcd-abcd-abcd"},
		{name: "Voter letter O", header: "Voter", value: "OBCD-ABCD-ABCD-ABCD-ABCD-ABCD-ABCD-ABCD"},
		{name: "Voter without dashes", header: "Voter", value: "ABCDEABCDEABCDEABCDEABCDEABCDEABCDEABCD"},

		{name: "Say empty", header: "Say", value: ""},
		{name: "Say lone percent", header: "Say", value: "%"},
		{name: "Say short escape", header: "Say", value: "Plut%6"},
		{name: "Say bad hex escape", header: "Say", value: "%G1uto"},
		{name: "Say escape not UTF-8", header: "Say", value: "%C3nergie"},

		{name: "nonce empty", header: "Nonce", value: ""},
		{name: "nonce odd length", header: "Nonce", value: "0123456789abcdef0"},
		{name: "nonce 7 bytes", header: "Nonce", value: "0123456789abcd"},
		{name: "nonce 33 bytes", header: "Nonce", value: strings.Repeat("ab", 33)},
		{name: "nonce not hex", header: "Nonce", value: "0123456789abcdeg"},
		{name: "nonce 0x", header: "Nonce", value: "0x0123456789abcdef"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := e.newBallot(t, testOptions[1]).headers(e.pass())
			if tc.delete {
				delete(hdr, tc.header)
			} else {
				hdr[tc.header] = tc.value
			}
			wantEmpty(t, e.voteWith(t, in, hdr), http.StatusBadRequest)
		})
	}
	checkCounts(t, in, 0, 0)
	// The same ballots unbroken are taken, upper-case nonce and all.
	b := e.newBallot(t, testOptions[1])
	b.nonce = strings.ToUpper(b.nonce)
	e.mustVote(t, in, b)
	checkCounts(t, in, 1, 1)
}

// TestChecks covers the collector's checks (PROTOCOL.md 5.3): 485, 484,
// 483, 482 and 481, their boundaries, and their order: a request that
// fails several checks gets the code of the first.
func TestChecks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config(t.TempDir())
	cfg.FutureSkew = 5 * time.Second
	in := e.start(t, cfg)
	e.healthy(t, in)
	now := e.clock.Now()

	// A mandate that has voted, for the 481 cases.
	voted := e.newBallot(t, testOptions[0])
	e.mustVote(t, in, voted)
	votedAgain := func(t *testing.T, b *ballot) {
		b.pkey, b.sig, b.id = voted.pkey, voted.sig, voted.id
	}
	stampAt := func(at time.Time) func(*testing.T, *ballot) {
		return func(t *testing.T, b *ballot) { e.restamp(t, b, at) }
	}
	unknownAuthority := func(t *testing.T, b *ballot) { b.pkey, b.sig, b.id = newMandate(e.stranger) }
	badSig := func(t *testing.T, b *ballot) {
		_, b.sig, _ = newMandate(e.authority) // a signature of another id
	}
	option := func(say string) func(*testing.T, *ballot) {
		return func(t *testing.T, b *ballot) { b.say = say }
	}
	badNonce := func(t *testing.T, b *ballot) { b.nonce = "xyz" }
	// The voter stamp of the recorded vote, with fresh work (a nonce of
	// its own): what anyone can take from the votes list or a receipt.
	usedStamp := func(t *testing.T, b *ballot) {
		b.putc, b.psig, b.voter = voted.putc, bytes.Clone(voted.psig), voted.voter
	}

	at := func(d time.Duration) time.Time { return now.Add(d) }
	for _, tc := range []struct {
		name  string
		clock time.Time // zero: now
		edits []func(*testing.T, *ballot)
		want  int
	}{
		{name: "valid", want: 204},
		{name: "before start", clock: campaignStart.Add(time.Minute), edits: steps(stampAt(campaignStart.Add(-time.Second))), want: 485},
		{name: "at start", clock: campaignStart.Add(time.Minute), edits: steps(stampAt(campaignStart)), want: 204},
		{name: "after end", clock: campaignEnd.Add(time.Minute), edits: steps(stampAt(campaignEnd.Add(time.Second))), want: 485},
		{name: "at end", clock: campaignEnd.Add(time.Minute), edits: steps(stampAt(campaignEnd)), want: 204},
		{name: "future beyond skew", edits: steps(stampAt(at(6 * time.Second))), want: 485},
		{name: "future within skew", edits: steps(stampAt(at(5 * time.Second))), want: 204},
		{name: "older than max age", edits: steps(stampAt(at(-maxStampAge - time.Second))), want: 485},
		{name: "as old as max age", edits: steps(stampAt(at(-maxStampAge))), want: 204},
		{name: "unknown authority", edits: steps(unknownAuthority), want: 484},
		{name: "bad signature", edits: steps(badSig), want: 483},
		{name: "signature of another authority key", edits: steps(func(t *testing.T, b *ballot) {
			b.sig = ed25519.Sign(e.stranger, b.id)
		}), want: 483},
		{name: "option not on the ballot", edits: steps(option("Plutonium")), want: 482},
		{name: "option in another case", edits: steps(option("pluto")), want: 482},
		{name: "option percent-encoded partly", edits: steps(option("%C3%89nergie")), want: 482},
		{name: "plain option percent-encoded", edits: steps(option("%50luto")), want: 204},
		{name: "non-ASCII option with lower-case escapes", edits: steps(option("%c3%89nergie%20solaire")), want: 204},
		{name: "non-ASCII option unencoded", edits: steps(option("Énergie solaire")), want: 204},
		{name: "second vote of a mandate", edits: steps(votedAgain), want: 481},
		{name: "replay of a vote under another mandate", edits: steps(func(t *testing.T, b *ballot) {
			*b = *voted.clone()
			b.pkey, b.sig, b.id = newMandate(e.authority)
		}), want: 481},
		{name: "voter stamp of a recorded vote under another mandate", edits: steps(usedStamp), want: 486},
		{name: "voter stamp of a recorded vote, another option", edits: steps(usedStamp, option(testOptions[2])), want: 486},

		// Order: 400, 485, 484, 483, 482, 481.
		{name: "400 before 485", edits: steps(stampAt(at(time.Hour)), badNonce), want: 400},
		{name: "voter stamp form before 485", edits: steps(stampAt(at(time.Hour)), func(t *testing.T, b *ballot) {
			b.voter = strings.ToLower(b.voter)
		}), want: 400},
		{name: "485 before 484", edits: steps(stampAt(at(time.Hour)), unknownAuthority), want: 485},
		{name: "485 before all", edits: steps(votedAgain, badSig, option("Mars"), unknownAuthority, stampAt(at(-time.Hour))), want: 485},
		{name: "484 before 483", edits: steps(unknownAuthority, badSig), want: 484},
		{name: "484 before 482", edits: steps(unknownAuthority, option("Mars")), want: 484},
		{name: "483 before 482", edits: steps(badSig, option("Mars")), want: 483},
		{name: "483 before 481", edits: steps(votedAgain, badSig), want: 483},
		{name: "482 before 481", edits: steps(votedAgain, option("Mars")), want: 482},
		{name: "481 before 486", edits: steps(votedAgain, usedStamp), want: 481},
		{name: "482 before 486", edits: steps(usedStamp, option("Mars")), want: 482},
		{name: "485 before 486", clock: now.Add(maxStampAge + time.Second), edits: steps(usedStamp), want: 485},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := tc.clock
			if clock.IsZero() {
				clock = now
			}
			e.clock.Set(clock)
			defer e.clock.Set(now)
			b := e.newBallot(t, testOptions[1])
			for _, f := range tc.edits {
				f(t, b)
			}
			voters, votes := in.srv.Counts()
			r := e.vote(t, in, b)
			if tc.want == 204 {
				if r.code != 204 || len(r.body) != 0 || len(receiptLines(t, r)) != len(testOptions) {
					t.Fatalf("answer %d with %d receipt lines, want 204 with %d", r.code, len(receiptLines(t, r)), len(testOptions))
				}
				checkCounts(t, in, voters+1, votes+1)
				return
			}
			wantEmpty(t, r, tc.want)
			if r.header.Get("Receipt01") != "" || r.header.Get("Receipt-Sig") != "" {
				t.Error("a refusal carries a receipt")
			}
			checkCounts(t, in, voters, votes)
		})
	}
	// The vote whose stamp was used again still gets its receipt when its
	// own request is retried.
	if r := e.vote(t, in, voted); r.code != 204 || !slices.Contains(receiptLines(t, r), voted.voter+" "+voted.say) {
		t.Errorf("retry of the vote whose stamp was used again: %d %q, want 204 with its own stamp", r.code, receiptLines(t, r))
	}
	// The accepted percent-encoded options are recorded decoded.
	votes, _ := e.records(t, in)
	n := 0
	for _, v := range votes {
		switch {
		case strings.HasSuffix(v, ` "Pluto"`):
			n++
		case strings.HasSuffix(v, ` "Énergie solaire"`):
		default:
			t.Errorf("recorded %q", v)
		}
	}
	if n != 2 { // voted, %50luto
		t.Errorf("%d votes for Pluto recorded, want 2", n)
	}
}

// steps lists the changes a test case makes to a valid ballot, in order.
func steps(f ...func(*testing.T, *ballot)) []func(*testing.T, *ballot) { return f }

// TestDecoysRipen: a vote's stamp stands as a decoy on other receipts only
// once it has been durable for DecoyAge, by when every edge has read its
// vote and refuses the stamp for any other (docs/THREAT_MODEL.md).
func TestDecoysRipen(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := e.start(t, e.config(t.TempDir()))
	e.healthy(t, in)
	first := e.newBallot(t, testOptions[0])
	e.mustVote(t, in, first)
	decoy := func() string {
		t.Helper()
		r := e.mustVote(t, in, e.newBallot(t, testOptions[1]))
		st, _, _ := strings.Cut(receiptLines(t, r)[0], " ")
		return st
	}
	e.clock.Set(e.clock.Now().Add(2999 * time.Millisecond))
	if st := decoy(); st != "-" {
		t.Errorf("a receipt 2.999 s after the only vote for %q shows %q against it, want -", testOptions[0], st)
	}
	e.clock.Set(e.clock.Now().Add(time.Millisecond))
	if st := decoy(); st != first.voter {
		t.Errorf("a receipt 3 s after the only vote for %q shows %q against it, want its stamp %s", testOptions[0], st, first.voter)
	}
}

// TestReceipts checks the receipt of PROTOCOL.md 5.4 and 6: one line per
// option in ballot order, the voter's own stamp against the chosen option,
// "-" against an option nobody has chosen yet and otherwise the stamp of an
// earlier voter who chose it, the signature, and what a retry and a second
// vote of the same mandate get.
func TestReceipts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := e.start(t, e.config(t.TempDir()))
	e.healthy(t, in)
	receiptPub := e.secrets.ReceiptKey.Public().(ed25519.PublicKey)

	encoded := []string{"Pluto", "%C3%89nergie%20solaire", "none of the above"}
	chosen := make(map[string][]string) // option -> stamps of the voters who chose it
	var ballots []*ballot
	// Options in an order that leaves each unchosen for a while.
	for i, o := range []int{0, 0, 1, 0, 1, 2, 2, 1, 0, 2, 1, 1} {
		// Each vote's stamp may stand as a decoy from DecoyAge on.
		e.clock.Set(e.clock.Now().Add(3 * time.Second))
		b := e.newBallot(t, testOptions[o])
		r := e.mustVote(t, in, b)
		if len(r.body) != 0 {
			t.Errorf("vote %d: a 204 with a body", i)
		}
		lines := receiptLines(t, r)
		if len(lines) != len(testOptions) || r.header.Get(fmt.Sprintf("Receipt%02d", len(testOptions)+1)) != "" {
			t.Fatalf("vote %d: %d receipt lines, want %d", i, len(lines), len(testOptions))
		}
		for j, l := range lines {
			st, text, ok := strings.Cut(l, " ")
			if !ok || text != encoded[j] {
				t.Fatalf("vote %d: Receipt%02d is %q, want the option %q", i, j+1, l, encoded[j])
			}
			switch {
			case j == o:
				if st != b.voter {
					t.Errorf("vote %d: own option's line %q, want the own stamp %s", i, l, b.voter)
				}
			case len(chosen[testOptions[j]]) == 0:
				if st != "-" {
					t.Errorf("vote %d: Receipt%02d is %q before anyone chose it, want \"-\"", i, j+1, l)
				}
			case !slices.Contains(chosen[testOptions[j]], st):
				t.Errorf("vote %d: Receipt%02d stamp %s is not that of an earlier voter of %q", i, j+1, st, testOptions[j])
			}
		}
		sig := r.header.Get("Receipt-Sig")
		if err := wire.VerifyReceipt(receiptPub, e.settings.Name, lines, sig); err != nil {
			t.Errorf("vote %d: Receipt-Sig: %v", i, err)
		}
		// The signature covers the campaign and every line.
		if wire.VerifyReceipt(receiptPub, "lunar", lines, sig) == nil {
			t.Errorf("vote %d: Receipt-Sig verifies for another campaign", i)
		}
		tampered := slices.Clone(lines)
		tampered[o] = strings.Replace(tampered[o], b.voter[:4], "0000", 1)
		if tampered[o] != lines[o] && wire.VerifyReceipt(receiptPub, e.settings.Name, tampered, sig) == nil {
			t.Errorf("vote %d: Receipt-Sig verifies for another stamp", i)
		}
		chosen[b.option] = append(chosen[b.option], b.voter)
		ballots = append(ballots, b)
	}
	checkCounts(t, in, len(ballots), len(ballots))

	// A retried request, as a voter's software sends it after a 503, gets
	// a receipt with the same own line.
	first := ballots[2] // the first voter of testOptions[1]
	r := e.mustVote(t, in, first)
	lines := receiptLines(t, r)
	if len(lines) != 3 || lines[1] != first.voter+" "+encoded[1] {
		t.Errorf("retry's receipt %q", lines)
	}
	if err := wire.VerifyReceipt(receiptPub, e.settings.Name, lines, r.header.Get("Receipt-Sig")); err != nil {
		t.Errorf("retry's Receipt-Sig: %v", err)
	}
	checkCounts(t, in, len(ballots), len(ballots))
	// Asked for no signature (the edge does so of the second instance of
	// a pair), the same retry gets its receipt lines without Receipt-Sig;
	// asked again, it gets them signed.
	hdr := first.headers(e.pass())
	hdr["Receipt-Sign"] = "no"
	r = e.voteWith(t, in, hdr)
	if lines := receiptLines(t, r); r.code != http.StatusNoContent || len(lines) != 3 || lines[1] != first.voter+" "+encoded[1] || r.header.Get("Receipt-Sig") != "" {
		t.Errorf("unsigned retry: %d, lines %q, Receipt-Sig %q", r.code, lines, r.header.Get("Receipt-Sig"))
	}
	r = e.mustVote(t, in, first)
	if err := wire.VerifyReceipt(receiptPub, e.settings.Name, receiptLines(t, r), r.header.Get("Receipt-Sig")); err != nil {
		t.Errorf("signed retry after the unsigned one: %v", err)
	}
	checkCounts(t, in, len(ballots), len(ballots))
	// Another vote of the same mandate is refused.
	again := first.clone()
	e.restamp(t, again, e.clock.Now())
	again.option, again.say = testOptions[0], testOptions[0]
	wantEmpty(t, e.vote(t, in, again), 481)
	checkCounts(t, in, len(ballots), len(ballots))

	// Records hold exactly the accepted votes and voters.
	var wantVotes, wantVoters []string
	for _, b := range ballots {
		wantVotes = append(wantVotes, b.voteLine())
		wantVoters = append(wantVoters, b.voterLine())
	}
	votes, voters := e.records(t, in)
	if !slices.Equal(votes, sorted(wantVotes...)) {
		t.Errorf("recorded votes\n got %q\nwant %q", votes, sorted(wantVotes...))
	}
	if !slices.Equal(sorted(voters...), sorted(wantVoters...)) {
		t.Errorf("recorded voters\n got %q\nwant %q", voters, wantVoters)
	}
	e.noErrorsLogged(t)
}

// TestRecordsPaging reads /records/votes and /records/voters a page at a
// time and checks the pages against what was voted.
func TestRecordsPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := e.start(t, e.config(t.TempDir()))
	e.healthy(t, in)
	var ballots []*ballot
	for i := range 7 {
		b := e.newBallot(t, testOptions[i%3])
		e.mustVote(t, in, b)
		ballots = append(ballots, b)
	}

	// Votes: in arrival order, indexes from 1, Next after each page.
	for _, p := range []struct {
		from, limit string
		first, n    int // first index, records
		next        string
	}{
		{"0", "3", 1, 3, "4"}, // 0 reads as 1
		{"1", "3", 1, 3, "4"},
		{"4", "3", 4, 3, "7"},
		{"7", "3", 7, 1, "8"},
		{"8", "3", 0, 0, "8"},
		{"100", "3", 0, 0, "100"},
		{"2", "1000000", 2, 6, "8"},
	} {
		r := e.get(t, in, "/records/votes?from="+p.from+"&limit="+p.limit)
		if r.code != http.StatusOK || r.header.Get("Next") != p.next {
			t.Errorf("from %s limit %s: %d, Next %q; want 200, Next %q", p.from, p.limit, r.code, r.header.Get("Next"), p.next)
			continue
		}
		var want strings.Builder
		for i := p.first; i > 0 && i < p.first+p.n; i++ {
			fmt.Fprintf(&want, "%d %s\n", i, ballots[i-1].voteLine())
		}
		if string(r.body) != want.String() {
			t.Errorf("from %s limit %s:\n got %q\nwant %q", p.from, p.limit, r.body, want.String())
		}
	}

	// Voters: in key order, each once, after the key of the last one.
	var all []string
	after := ""
	for page := 0; ; page++ {
		r := e.get(t, in, "/records/voters?after="+after+"&limit=3")
		if r.code != http.StatusOK {
			t.Fatalf("voters after %q: %d", after, r.code)
		}
		if len(r.body) == 0 {
			if page != 3 {
				t.Errorf("%d pages of 3 for 7 voters, want 3", page)
			}
			break
		}
		lines := strings.Split(strings.TrimSuffix(string(r.body), "\n"), "\n")
		if len(lines) > 3 {
			t.Fatalf("a page of %d voters for limit 3", len(lines))
		}
		all = append(all, lines...)
		// after is the key of the last voter: auth-pkey then auth-id.
		f := strings.Split(lines[len(lines)-1], " ")
		if len(f) != 3 {
			t.Fatalf("voter line %q", lines[len(lines)-1])
		}
		pk, err1 := base64.StdEncoding.DecodeString(f[0])
		id, err2 := base64.StdEncoding.DecodeString(f[2])
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		after = base64.RawURLEncoding.EncodeToString(append(pk, id...))
	}
	// Key order is auth-pkey then auth-id; with one authority, id order.
	byID := slices.Clone(ballots)
	slices.SortFunc(byID, func(a, b *ballot) int { return strings.Compare(string(a.id), string(b.id)) })
	var want []string
	for _, b := range byID {
		want = append(want, b.voterLine())
	}
	if !slices.Equal(all, want) {
		t.Errorf("voters\n got %q\nwant %q", all, want)
	}

	// New voters by cursor: none for the empty cursor, then those voted
	// since, in key order, with the next cursor.
	r := e.get(t, in, "/records/voters?since=")
	c0 := r.header.Get("Next")
	if r.code != http.StatusOK || len(r.body) != 0 || c0 == "" {
		t.Fatalf("since= (empty): %d, %d bytes, Next %q; want 200, nothing, a cursor", r.code, len(r.body), c0)
	}
	var later []*ballot
	for i := range 4 {
		b := e.newBallot(t, testOptions[i%3])
		e.mustVote(t, in, b)
		later = append(later, b)
	}
	slices.SortFunc(later, func(a, b *ballot) int { return strings.Compare(string(a.id), string(b.id)) })
	var wantNew strings.Builder
	for _, b := range later {
		wantNew.WriteString(b.voterLine() + "\n")
	}
	r = e.get(t, in, "/records/voters?since="+c0)
	c1 := r.header.Get("Next")
	if r.code != http.StatusOK || string(r.body) != wantNew.String() || c1 == "" || c1 == c0 {
		t.Fatalf("since=%s: %d, Next %q,\n got %q\nwant %q", c0, r.code, c1, r.body, wantNew.String())
	}
	if r = e.get(t, in, "/records/voters?since="+c1); r.code != http.StatusOK || len(r.body) != 0 || r.header.Get("Next") != c1 {
		t.Errorf("since=%s (nothing new): %d, %q, Next %q", c1, r.code, r.body, r.header.Get("Next"))
	}
	epoch, _, _ := strings.Cut(c1, ".")
	// Taken (asked past), of another opening, or beyond the end: 410.
	for _, c := range []string{c0, "0123456789abcdef.1", epoch + ".1000"} {
		t.Run("since="+c, func(t *testing.T) { wantEmpty(t, e.get(t, in, "/records/voters?since="+c), http.StatusGone) })
	}

	for _, q := range []string{
		"/records/votes?from=1", "/records/votes?limit=3", "/records/votes?from=-1&limit=3",
		"/records/votes?from=1&limit=0", "/records/votes?from=x&limit=3",
		"/records/voters?after=&limit=0", "/records/voters?after=&limit=x", "/records/voters?after=***&limit=3",
		"/records/voters?after=",
		"/records/voters?since=" + epoch, "/records/voters?since=" + epoch + ".01", "/records/voters?since=x.1",
	} {
		t.Run(q, func(t *testing.T) { wantEmpty(t, e.get(t, in, q), http.StatusBadRequest) })
	}
}

// TestSyncLinks checks GET /sync as the twin sees it: the pairs after its
// cursor, Last-Seq, and when the links of confirmed pairs go. A request
// without Last-Seq confirms but never lets a link go; with it, links go
// once Retain (10 minutes by default) has passed and this instance has
// applied the twin's votes up to it.
func TestSyncLinks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := e.start(t, e.config(t.TempDir()))
	e.healthy(t, in)
	var ballots []*ballot
	var decoys []string // each vote's receipt as a pair line carries it
	for i := range 3 {
		b := e.newBallot(t, testOptions[i])
		var d []string
		for j, l := range receiptLines(t, e.mustVote(t, in, b)) {
			st, _, _ := strings.Cut(l, " ")
			if j == i {
				st = "*"
			}
			d = append(d, st)
		}
		ballots = append(ballots, b)
		decoys = append(decoys, strings.Join(d, ","))
	}
	// sync asks for the pairs after after, which confirms those up to it,
	// and sends lastSeq as Last-Seq unless it is empty.
	sync := func(after, limit int, lastSeq string) []string {
		t.Helper()
		hdr := map[string]string{"Pass": e.passFor("/sync")}
		if lastSeq != "" {
			hdr["Last-Seq"] = lastSeq
		}
		r := e.do(t, http.MethodGet, in.url+"/sync?after="+strconv.Itoa(after)+"&limit="+strconv.Itoa(limit), hdr)
		if r.code != http.StatusOK || r.header.Get("Last-Seq") != "3" {
			t.Fatalf("/sync after %d: %d, Last-Seq %q; want 200, 3", after, r.code, r.header.Get("Last-Seq"))
		}
		if len(r.body) == 0 {
			return nil
		}
		return strings.Split(strings.TrimSuffix(string(r.body), "\n"), "\n")
	}
	pairLine := func(seq int) string {
		b := ballots[seq-1]
		return fmt.Sprintf("%d %s r1=%s %s", seq, b.voterLine(), decoys[seq-1], b.voteLine())
	}
	if got := sync(0, 2, ""); !slices.Equal(got, []string{pairLine(1), pairLine(2)}) {
		t.Errorf("after 0:\n got %q\nwant pairs 1 and 2", got)
	}
	if got := sync(2, 2, ""); !slices.Equal(got, []string{pairLine(3)}) {
		t.Errorf("after 2:\n got %q\nwant pair 3", got)
	}
	// Asking after 0 confirms nothing.
	held := func() int { return len(sync(0, 10, "")) }

	// Confirmations without Last-Seq, long past Retain: all held.
	sync(3, 10, "")
	e.clock.Advance(11 * time.Minute)
	sync(3, 10, "")
	if n := held(); n != 3 {
		t.Fatalf("%d links held after confirmations without Last-Seq, want 3", n)
	}
	// The twin says it has a vote of its own that this instance has not
	// applied (it has applied nothing): held.
	sync(3, 10, "1")
	if n := held(); n != 3 {
		t.Fatalf("%d links held while the twin's vote 1 is not applied here, want 3", n)
	}
	// The twin has no vote of its own: Retain has passed since the first
	// confirmations, so the links go.
	sync(3, 10, "0")
	if n := held(); n != 0 {
		t.Fatalf("%d links held, want 0", n)
	}
	// The votes stay, and a retried request still gets its receipt.
	checkCounts(t, in, 3, 3)
	r := e.mustVote(t, in, ballots[1])
	if l := receiptLines(t, r); len(l) != 3 || l[1] != ballots[1].voter+" %C3%89nergie%20solaire" {
		t.Errorf("retry without the link: receipt %q", l)
	}
	for _, q := range []string{"after=0", "limit=1", "after=x&limit=1", "after=-1&limit=1", "after=0&limit=0"} {
		wantEmpty(t, e.get(t, in, "/sync?"+q), http.StatusBadRequest)
	}
	for _, bad := range []string{"x", "-1", "1.5"} {
		r := e.do(t, http.MethodGet, in.url+"/sync?after=0&limit=1", map[string]string{"Pass": e.passFor("/sync"), "Last-Seq": bad})
		wantEmpty(t, r, http.StatusBadRequest)
	}
	e.noErrorsLogged(t)
}

// TestNewRefuses checks that New refuses a configuration it cannot run
// with, and that it does so before it locks the data directory.
func TestNewRefuses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		edit func(*collector.Config)
	}{
		{"no settings", func(c *collector.Config) { c.Settings = nil }},
		{"no secrets", func(c *collector.Config) { c.Secrets = nil }},
		{"no directory", func(c *collector.Config) { c.Dir = "" }},
		{"negative instance", func(c *collector.Config) { c.Instance = -1 }},
		{"invalid settings", func(c *collector.Config) {
			s := *c.Settings
			s.Authorities = []ed25519.PublicKey{make([]byte, 31)}
			c.Settings = &s
		}},
		{"twin URL without scheme", func(c *collector.Config) { c.Twin = "127.0.0.1:9102" }},
		{"twin URL of another scheme", func(c *collector.Config) { c.Twin = "ftp://127.0.0.1:9102" }},
		{"twin URL without host", func(c *collector.Config) { c.Twin = "http://" }},
		{"twin URL with a path", func(c *collector.Config) { c.Twin = "http://127.0.0.1:9102/sync" }},
		{"twin URL with a query", func(c *collector.Config) { c.Twin = "http://127.0.0.1:9102?x=1" }},
		{"twin URL that does not parse", func(c *collector.Config) { c.Twin = "http://[::1" }},
		{"twin URL with a password and a path", func(c *collector.Config) { c.Twin = "http://user:hunter2@127.0.0.1:9102/x" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := e.config(dir)
			tc.edit(&cfg)
			if _, err := collector.New(cfg); err == nil {
				t.Fatal("New accepted it")
			} else if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error names the password: %v", err)
			}
		})
	}
	// Nothing above kept the directory: a good configuration opens it,
	// with a trailing "/" on the twin URL.
	cfg := e.config(dir)
	cfg.Twin = "http://user:hunter2@127.0.0.1:1/"
	cfg.CatchUpTimeout = 10 * time.Millisecond
	in := e.start(t, cfg)
	e.healthy(t, in)
	if strings.Contains(e.logs.String(), "hunter2") {
		t.Error("the twin's password reached the log")
	}
}

// TestRunStops checks that Run returns, with the store closed, when its
// context ends at once, and with an error when its listener is closed
// under it.
func TestRunStops(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := t.TempDir()
	// A context that has ended before Run starts races Serve's start with
	// the shutdown; each round must still return, and release the store
	// for the next.
	for i := range 5 {
		srv, err := collector.New(e.config(dir))
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx, listen(t, "127.0.0.1:0")) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("round %d: Run: %v", i, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: Run did not return", i)
		}
	}

	for _, twin := range []bool{false, true} {
		t.Run(fmt.Sprintf("listener closed, twin %v", twin), func(t *testing.T) {
			cfg := e.config(t.TempDir())
			cfg.SyncInterval = 10 * time.Millisecond
			if twin {
				peer := e.start(t, e.config(t.TempDir()))
				cfg.Twin = peer.url
			}
			srv, err := collector.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ln := listen(t, "127.0.0.1:0")
			in := &instance{srv: srv, addr: ln.Addr().String(), url: "http://" + ln.Addr().String()}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- srv.Run(ctx, ln) }()
			e.healthy(t, in)
			ln.Close()
			select {
			case err := <-done:
				if err == nil {
					t.Error("Run returned nil after its listener was closed under it")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after its listener was closed")
			}
			// The store is closed: another collector can open the directory.
			e.start(t, cfg)
		})
	}
}

// TestConcurrentVotes sends many votes at once, some of them repeated and
// some second votes of a mandate: every mandate counts once.
func TestConcurrentVotes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := e.start(t, e.config(t.TempDir()))
	e.healthy(t, in)
	const mandates = 40
	var ballots [][]*ballot // per mandate: the vote, a retry of it, another vote
	for i := range mandates {
		b := e.newBallot(t, testOptions[i%3])
		other := b.clone()
		e.restamp(t, other, e.clock.Now())
		ballots = append(ballots, []*ballot{b, b, other})
	}
	codes := make([][]int, mandates)
	var wg sync.WaitGroup
	for i, bs := range ballots {
		codes[i] = make([]int, len(bs))
		for j, b := range bs {
			wg.Go(func() {
				// No t.Fatal off the test goroutine: the code is checked below.
				req, _ := http.NewRequest(http.MethodPost, in.url+"/vote", nil)
				for k, v := range b.headers(e.pass()) {
					req.Header[k] = []string{v}
				}
				resp, err := e.client.Do(req)
				if err != nil {
					return
				}
				resp.Body.Close()
				codes[i][j] = resp.StatusCode
			})
		}
	}
	wg.Wait()
	for i, c := range codes {
		// The vote and its retry are both 204 or both 481 (the other vote
		// came first); exactly one of the two votes counts.
		if !(c[0] == 204 && c[1] == 204 && c[2] == 481) && !(c[0] == 481 && c[1] == 481 && c[2] == 204) {
			t.Errorf("mandate %d: codes %v", i, c)
		}
	}
	checkCounts(t, in, mandates, mandates)
}

// TestEdgeDecoys: the edge's Decoys header (drawn from every pair's votes)
// becomes the receipt's decoys when it fits the ballot; a header that does
// not (a field too few, the own stamp as a decoy, no "*" or a "*" on
// another option, a field that is no stamp) is ignored, and the instance
// draws its own.
func TestEdgeDecoys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := e.start(t, e.config(t.TempDir()))
	e.healthy(t, in)
	const other = "7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS-1NCA-8FYQ"
	for _, tc := range []struct {
		name   string
		decoys func(own string) string
		taken  bool
	}{
		{"fits", func(string) string { return "*," + other + ",-" }, true},
		{"a field too few", func(string) string { return "*," + other }, false},
		{"the own stamp", func(own string) string { return "*," + own + ",-" }, false},
		{"no star", func(string) string { return "-," + other + ",-" }, false},
		{"star elsewhere", func(string) string { return other + ",*,-" }, false},
		{"no stamp", func(string) string { return "*,x,-" }, false},
	} {
		b := e.newBallot(t, testOptions[0])
		hdr := b.headers(e.pass())
		hdr["Decoys"] = tc.decoys(b.voter)
		r := e.voteWith(t, in, hdr)
		if r.code != http.StatusNoContent {
			t.Fatalf("%s: %d", tc.name, r.code)
		}
		lines := receiptLines(t, r)
		got := lines[1] == other+" "+wire.EncodeOption(testOptions[1]) && lines[2] == "- "+wire.EncodeOption(testOptions[2])
		if got != tc.taken || lines[0] != b.voter+" "+wire.EncodeOption(testOptions[0]) {
			t.Errorf("%s: receipt %q; edge's decoys taken: %v, want %v", tc.name, lines, got, tc.taken)
		}
	}
}
