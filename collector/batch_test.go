package collector_test

import (
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/powvote/powvote/internal/operator/operatortest"
	"github.com/powvote/powvote/wire"
)

// batchLine is b as one line of POST /votes (docs/INTERNAL.md), written
// as the edge writes it, with decoys as its Decoys header ("" for none).
func (b *ballot) batchLine(t *testing.T, sign bool, decoys string) string {
	t.Helper()
	h := b.headers("")
	line, err := wire.AppendBatchVote(nil, wire.BatchVote[string]{
		NoSign: !sign, AuthPkey: h["Auth-Pkey"], AuthSig: h["Auth-Sig"], AuthID: h["Auth-Id"], PUTC: h["P-UTC"],
		PSIG: h["P-SIG"], Voter: h["Voter"], Nonce: h["Nonce"], Decoys: decoys, Say: h["Say"],
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(line)
}

// postVotes sends body to in's POST /votes with pass.
func (e *env) postVotes(t *testing.T, in *instance, pass, body string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, in.url+"/votes", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if pass != "" {
		req.Header["Pass"] = []string{pass}
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("POST /votes: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST /votes: reading the body: %v", err)
	}
	return reply{code: resp.StatusCode, header: resp.Header, body: b}
}

// verdictOf is the answer to POST /vote in the form of an answer line of
// POST /votes: the status code, Receipt-Sig and the receipt lines.
func verdictOf(t *testing.T, r reply) wire.BatchAnswer {
	t.Helper()
	return wire.BatchAnswer{Status: r.code, Sig: r.header.Get("Receipt-Sig"), Lines: receiptLines(t, r)}
}

// batchVerdicts reads the answer to POST /votes of n votes.
func batchVerdicts(t *testing.T, r reply, n int) []wire.BatchAnswer {
	t.Helper()
	if r.code != http.StatusOK {
		t.Fatalf("POST /votes answered %d %q, want 200", r.code, r.body)
	}
	out, err := wire.ParseBatchAnswer(r.body, n)
	if err != nil {
		t.Fatalf("POST /votes: %v", err)
	}
	return out
}

// TestBatchMatchesVote sends the same votes one by one to POST /vote on one
// instance and as one batch to POST /votes on another, fresh and identical:
// each vote gets the same status and the same receipt, byte for byte, and
// both record the same. The votes cover every outcome a vote alone can
// provoke, a repeat, and votes of one batch that meet each other: one
// mandate twice, one nonce twice (once in upper case), one voter stamp
// twice. Were the votes of a batch run in any order but the request's, the
// later of two such votes could win.
func TestBatchMatchesVote(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	one := e.start(t, e.config(t.TempDir()))
	batch := e.start(t, e.config(t.TempDir()))
	e.healthy(t, one)
	e.healthy(t, batch)
	now := e.clock.Now()

	type item struct {
		b      *ballot
		sign   bool
		decoys string // the Decoys header; "" for none
		want   int
	}
	ok := e.newBallot(t, testOptions[0])
	decoy := e.newBallot(t, testOptions[1]) // never voted: a stamp for a decoy
	late := e.newBallot(t, testOptions[1])
	e.restamp(t, late, now.Add(-maxStampAge-time.Second))
	stranger := e.newBallot(t, testOptions[1])
	stranger.pkey, stranger.sig, stranger.id = newMandate(e.stranger)
	badSig := e.newBallot(t, testOptions[1])
	_, badSig.sig, _ = newMandate(e.authority)
	offBallot := e.newBallot(t, "Plutonium")
	malformed := e.newBallot(t, testOptions[0])
	malformed.pkey = []byte{1, 2, 3}
	first := e.newBallot(t, testOptions[2])
	again := first.clone()
	e.restamp(t, again, now)
	nonceA := e.newBallot(t, testOptions[0])
	nonceB := e.newBallot(t, testOptions[1])
	nonceB.nonce = strings.ToUpper(nonceA.nonce)
	stampA := e.newBallot(t, testOptions[0])
	stampB := e.newBallot(t, testOptions[2])
	stampB.putc, stampB.psig, stampB.voter = stampA.putc, stampA.psig, stampA.voter

	items := []item{
		{ok, true, "*," + decoy.voter + ",-", 204},
		{e.newBallot(t, testOptions[1]), false, "-,*,-", 204},
		{e.newBallot(t, testOptions[2]), true, "", 204},      // the instance draws the decoys
		{e.newBallot(t, testOptions[2]), true, "*,-,-", 204}, // decoys that do not fit: drawn too
		{late, true, "", 485},
		{stranger, true, "", 484},
		{badSig, true, "", 483},
		{offBallot, true, "", 482},
		{malformed, true, "", 400},
		{ok, true, "*," + decoy.voter + ",-", 204}, // a repeat: the first receipt again
		{first, true, "", 204},
		{again, true, "", 481},
		{nonceA, true, "", 204},
		{nonceB, true, "", 481},
		{stampA, true, "", 204},
		{stampB, true, "", 486},
		{ok, false, "", 204}, // a repeat without a signature
	}
	var body strings.Builder
	var want []wire.BatchAnswer
	for _, it := range items {
		h := it.b.headers(e.pass())
		if !it.sign {
			h["Receipt-Sign"] = "no"
		}
		if it.decoys != "" {
			h["Decoys"] = it.decoys
		}
		want = append(want, verdictOf(t, e.voteWith(t, one, h)))
		body.WriteString(it.b.batchLine(t, it.sign, it.decoys))
	}
	got := batchVerdicts(t, e.postVotes(t, batch, e.pass(), body.String()), len(items))
	for i, it := range items {
		if want[i].Status != it.want {
			t.Errorf("vote %d alone: %d, want %d", i, want[i].Status, it.want)
		}
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("vote %d: batch %+v, alone %+v", i, got[i], want[i])
		}
		if it.want == 204 && (len(got[i].Lines) != len(testOptions) || (got[i].Sig != "") != it.sign) {
			t.Errorf("vote %d: receipt %+v, want %d lines, signed %v", i, got[i], len(testOptions), it.sign)
		}
	}
	votesOne, votersOne := e.records(t, one)
	votesBatch, votersBatch := e.records(t, batch)
	if !reflect.DeepEqual(votesOne, votesBatch) || !reflect.DeepEqual(sorted(votersOne...), sorted(votersBatch...)) {
		t.Errorf("records differ: alone %q %q, batch %q %q", votesOne, votersOne, votesBatch, votersBatch)
	}
	if len(votesBatch) != 7 {
		t.Errorf("%d votes recorded, want 7", len(votesBatch))
	}
	e.noErrorsLogged(t)
}

// TestBadBatches: a batch that is not well formed, too long or too large,
// or that a caller may not send, is refused whole with its code, and
// nothing of it is recorded; a vote that is malformed in a well-formed
// batch gets its own 400 and the others are recorded.
func TestBadBatches(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := e.start(t, e.config(t.TempDir()))
	e.healthy(t, in)
	good := e.newBallot(t, testOptions[0]).batchLine(t, true, "")
	lines := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteString(e.newBallot(t, testOptions[1]).batchLine(t, true, ""))
		}
		return b.String()
	}
	pad := strings.Repeat(good, 4096/len(good)+1) // over the 4 KiB of other requests
	for _, tc := range []struct {
		name, body, pass string
		want             int
		reason           string // in the body of the answer
		// declared: send the headers alone, with the body's length. A
		// server refuses a body over its limit on the length and closes
		// the connection, which the body's bytes would then meet.
		declared bool
	}{
		{"empty", "", e.pass(), 400, "no vote", false},
		{"no final line feed", strings.TrimSuffix(good, "\n"), e.pass(), 400, "line feed", false},
		{"CR LF", strings.ReplaceAll(good, "\n", "\r\n"), e.pass(), 400, "line 1: the Say field holds a carriage return", false},
		{"nine fields", strings.Replace(good, " . ", " ", 1), e.pass(), 400, "line 1: 9 fields, want 10", false},
		{"an empty field", strings.Replace(good, " ", "  ", 1), e.pass(), 400, "line 1: field 2 is empty", false},
		{"an unknown flag", "x" + good[1:], e.pass(), 400, `neither "s" nor "n"`, false},
		{"a tab in a field", strings.Replace(good, " ", "\t", 1), e.pass(), 400, "field 1 holds byte 0x09", false},
		{"empty Say", strings.Replace(good, " Pluto\n", " \n", 1), e.pass(), 400, "line 1: no Say", false},
		{"a good line then a bad one", good + "garbage\n", e.pass(), 400, "line 2: 1 fields", false},
		{"an empty line", good + "\n", e.pass(), 400, "line 2", false},
		{"1025 votes", strings.Repeat(good, 1025), e.pass(), 400, "1025 votes, more than 1024", false},
		{"over 1 MiB", strings.Repeat(good, (1<<20)/len(good)+1), e.pass(), 413, "body over 1048576 bytes", true},
		{"no pass", good, "", 401, "", false},
		{"the publisher's pass", good, e.passOf("publisher"), 403, "may not POST /votes", false},
		// The larger limit is for the edge alone: others are refused
		// for the size before the pass is looked at.
		{"over 4 KiB without the pass", pad, "", 400, "", true},
		{"over 4 KiB with the publisher's pass", pad, e.passOf("publisher"), 400, "", true},
		// The last two are accepted: one records good, the other
		// answers 482 for its option.
		{"over 4 KiB with the edge's pass", pad, e.pass(), 200, "204\t", false},
		{"1 MiB with the edge's pass", strings.Replace(good, "Pluto", strings.Repeat("P", 1<<20-len(good)+len("Pluto")), 1), e.pass(), 200, "482\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r reply
			if tc.declared {
				req := "POST /votes HTTP/1.1\r\nHost: c\r\nPass: " + tc.pass + "\r\nContent-Length: " + strconv.Itoa(len(tc.body)) + "\r\n\r\n"
				if len(tc.body) <= 1<<20 {
					req += tc.body
				}
				code, body, err := rawRequest(in.addr, req)
				if err != nil {
					t.Fatal(err)
				}
				r = reply{code: code, body: []byte(body)}
			} else {
				r = e.postVotes(t, in, tc.pass, tc.body)
			}
			if r.code != tc.want || !strings.Contains(string(r.body), tc.reason) {
				t.Errorf("answer %d %.200q, want %d with %q", r.code, r.body, tc.want, tc.reason)
			}
			// Only the batch of copies of one good vote records it.
			want := 0
			if tc.want == 200 {
				want = 1
			}
			checkCounts(t, in, want, want)
		})
	}

	// The largest batch, and a malformed vote among good ones.
	r := e.postVotes(t, in, e.pass(), lines(1024))
	n := 0
	for _, v := range batchVerdicts(t, r, 1024) {
		if v.Status == 204 {
			n++
		}
	}
	if n != 1024 {
		t.Errorf("a batch of 1024 votes: %d accepted, want all", n)
	}
	checkCounts(t, in, 1+1024, 1+1024)
	bad := e.newBallot(t, testOptions[0])
	bad.nonce = "xyz"
	got := batchVerdicts(t, e.postVotes(t, in, e.pass(), lines(1)+bad.batchLine(t, true, "")+lines(1)), 3)
	if codes := []int{got[0].Status, got[1].Status, got[2].Status}; !reflect.DeepEqual(codes, []int{204, 400, 204}) {
		t.Errorf("a malformed vote between two good ones: %+v, want 204, 400, 204", got)
	}
	checkCounts(t, in, 1+1026, 1+1026)
	e.noErrorsLogged(t)
}

// TestBatchJoinsGroupCommit: the votes of a batch reach the store together
// and share its group commits. Submitted one after the other, each would
// make a group of its own.
func TestBatchJoinsGroupCommit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	set := metrics.NewSet()
	cfg := e.config(t.TempDir())
	cfg.Metrics = set
	in := e.start(t, cfg)
	e.healthy(t, in)
	const n = 64
	var body strings.Builder
	for i := range n {
		body.WriteString(e.newBallot(t, testOptions[i%len(testOptions)]).batchLine(t, true, ""))
	}
	start := time.Now()
	for i, v := range batchVerdicts(t, e.postVotes(t, in, e.pass(), body.String()), n) {
		if v.Status != 204 {
			t.Errorf("vote %d: %d, want 204", i, v.Status)
		}
	}
	s := operatortest.Scrape(t, set)
	l := []string{"campaign", "solar", "pair", "0", "instance", "0"}
	groups := s.Get(t, "powvote_collector_group_commit_requests_count", l...)
	if groups > n/8 {
		t.Errorf("%d votes of one batch took %v groups, want at most %d", n, groups, n/8)
	}
	if got := s.Get(t, "powvote_collector_vote_batches_total", l...); got != 1 {
		t.Errorf("vote_batches_total %v, want 1", got)
	}
	t.Logf("%d votes in %v, %v group commits", n, time.Since(start), groups)
}
