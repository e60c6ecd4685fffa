package collector_test

import (
	"crypto/ed25519"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/powvote/powvote/collector"
	"github.com/powvote/powvote/wire"
)

// twinConfig is a collector configuration for dir whose twin is at twin,
// pulling every 20 ms so that tests need not wait long.
func (e *env) twinConfig(dir, twin string) collector.Config {
	cfg := e.config(dir)
	cfg.Twin = twin
	cfg.SyncInterval = 20 * time.Millisecond
	cfg.CatchUpTimeout = 5 * time.Second
	return cfg
}

// sameRecords fails the test unless a and b count the same voters and
// votes, as many of each, and serve the same live votes and voters.
func (e *env) sameRecords(t *testing.T, a, b *instance) (votes, voters []string) {
	t.Helper()
	va, na := a.srv.Counts()
	vb, nb := b.srv.Counts()
	if va != vb || na != nb || va != na {
		t.Errorf("counts: %s %d voters, %d votes; %s %d, %d", a.addr, va, na, b.addr, vb, nb)
	}
	votesA, votersA := e.records(t, a)
	votesB, votersB := e.records(t, b)
	if !slices.Equal(votesA, votesB) {
		t.Errorf("live votes differ:\n%s %q\n%s %q", a.addr, votesA, b.addr, votesB)
	}
	if !slices.Equal(votersA, votersB) {
		t.Errorf("voters differ:\n%s %q\n%s %q", a.addr, votersA, b.addr, votersB)
	}
	if len(votesA) != va || len(votersA) != va {
		t.Errorf("%s serves %d votes and %d voters, counts %d", a.addr, len(votesA), len(votersA), va)
	}
	return votesA, votersA
}

// TestTwins runs two collectors that are each other's twin: what one
// accepts reaches the other, a mandate counts once through either, and an
// instance that was down catches up before it takes votes again.
func TestTwins(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lnA, lnB := listen(t, "127.0.0.1:0"), listen(t, "127.0.0.1:0")
	urlA, urlB := "http://"+lnA.Addr().String(), "http://"+lnB.Addr().String()
	dirA, dirB := t.TempDir(), t.TempDir()
	a := e.startOn(t, e.twinConfig(dirA, urlB), lnA)
	b := e.startOn(t, e.twinConfig(dirB, urlA), lnB)
	e.healthy(t, a)
	e.healthy(t, b)

	var ballots []*ballot
	send := func(in *instance, n int) {
		t.Helper()
		for i := range n {
			bl := e.newBallot(t, testOptions[(len(ballots)+i)%3])
			e.mustVote(t, in, bl)
			ballots = append(ballots, bl)
		}
	}
	reaches := func(in *instance) {
		t.Helper()
		eventually(t, in.addr+" holds every vote", func() bool {
			v, n := in.srv.Counts()
			return v == len(ballots) && n == len(ballots)
		})
	}

	// Votes that only A received (the edge reached only A) reach B.
	send(a, 5)
	reaches(b)
	// And the other way.
	send(b, 3)
	reaches(a)

	// A mandate that voted through A is refused another vote through B;
	// the same vote again is a retry and gets its receipt from B too.
	other := ballots[0].clone()
	e.restamp(t, other, e.clock.Now())
	wantEmpty(t, e.vote(t, b, other), 481)
	r := e.mustVote(t, b, ballots[0])
	if l := receiptLines(t, r); len(l) != 3 || l[0] != ballots[0].voter+" Pluto" {
		t.Errorf("B's receipt for A's vote: %q", l)
	}

	// B goes down; A takes votes meanwhile.
	b.stop()
	send(a, 4)
	// B comes back on the same address and directory. It pulls from A
	// before it says it takes votes; with a sync interval of an hour, only
	// that catch-up can have brought A's new votes.
	cfg := e.twinConfig(dirB, urlA)
	cfg.SyncInterval = time.Hour
	b = e.startOn(t, cfg, relisten(t, lnB.Addr().String()))
	e.healthy(t, b)
	checkCounts(t, b, len(ballots), len(ballots))
	votes, voters := e.sameRecords(t, a, b)
	var want, wantVoters []string
	for _, bl := range ballots {
		want = append(want, bl.voteLine())
		wantVoters = append(wantVoters, bl.voterLine())
	}
	if !slices.Equal(votes, sorted(want...)) {
		t.Errorf("live votes\n got %q\nwant %q", votes, sorted(want...))
	}
	if !slices.Equal(sorted(voters...), sorted(wantVoters...)) {
		t.Errorf("voters\n got %q\nwant %q", voters, wantVoters)
	}
	// A mandate that voted through A while B was down is refused by B.
	other = ballots[len(ballots)-1].clone()
	e.restamp(t, other, e.clock.Now())
	wantEmpty(t, e.vote(t, b, other), 481)
	// A still pulls from B.
	send(b, 2)
	reaches(a)
	e.noErrorsLogged(t)
}

// relisten listens on addr again, which the test's previous listener there
// has just given up.
func relisten(t *testing.T, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	eventually(t, "listening on "+addr+" again", func() bool {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err == nil
	})
	return ln
}

// TestSplit has both instances of a pair accept a different vote for the
// same mandates while they could not see each other, then become twins:
// both keep the same single winner per mandate (docs/MIRRORS.md), and as
// many votes as voters.
func TestSplit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	a := e.start(t, e.config(dirA)) // no twin: they cannot see each other
	b := e.start(t, e.config(dirB))
	e.healthy(t, a)
	e.healthy(t, b)
	now := e.clock.Now()

	// Mandate 1: B's vote has the earlier P-UTC and wins.
	w1 := e.newBallot(t, testOptions[0])
	e.restamp(t, w1, now.Add(-10*time.Second))
	v1 := w1.clone()
	e.restamp(t, v1, now.Add(-20*time.Second))
	v1.option, v1.say = testOptions[2], testOptions[2]
	// Mandate 2: the same P-UTC, A's nonce is smaller and wins.
	w2 := e.newBallot(t, testOptions[1])
	w2.nonce = "00000000000000000001"
	v2 := w2.clone()
	e.restamp(t, v2, now)
	v2.putc, v2.psig = w2.putc, w2.psig
	v2.nonce = "ff000000000000000000"
	// Mandate 3: the same P-UTC and nonce; the smaller voter stamp wins.
	w3 := e.newBallot(t, testOptions[0])
	v3 := w3.clone()
	v3.voter = e.newBallot(t, testOptions[0]).voter
	if v3.voter == w3.voter {
		t.Fatal("test setup: two equal voter stamps")
	}
	winner3 := w3
	if v3.voter < w3.voter {
		winner3 = v3
	}
	// Mandates 4 and 5: one instance each, no conflict.
	only := []*ballot{e.newBallot(t, testOptions[1]), e.newBallot(t, testOptions[2])}
	for _, bl := range []*ballot{w1, w2, w3, only[0]} {
		e.mustVote(t, a, bl)
	}
	for _, bl := range []*ballot{v1, v2, v3, only[1]} {
		e.mustVote(t, b, bl)
	}
	a.stop()
	b.stop()

	// Both come back as twins.
	lnA, lnB := listen(t, "127.0.0.1:0"), listen(t, "127.0.0.1:0")
	a = e.startOn(t, e.twinConfig(dirA, "http://"+lnB.Addr().String()), lnA)
	b = e.startOn(t, e.twinConfig(dirB, "http://"+lnA.Addr().String()), lnB)
	e.healthy(t, a)
	e.healthy(t, b)
	want := sorted(v1.voteLine(), w2.voteLine(), winner3.voteLine(), only[0].voteLine(), only[1].voteLine())
	eventually(t, "both hold the winners", func() bool {
		for _, in := range []*instance{a, b} {
			if votes, _ := e.records(t, in); !slices.Equal(votes, want) {
				return false
			}
		}
		return true
	})
	votes, voters := e.sameRecords(t, a, b)
	if !slices.Equal(votes, want) || len(voters) != 5 {
		t.Errorf("live votes\n got %q\nwant %q\n%d voters", votes, want, len(voters))
	}
	checkCounts(t, a, 5, 5)
	checkCounts(t, b, 5, 5)
	// Each loser is retracted where it was held, bound to its winner by
	// the receipt key: A retracts w1 and w3 or v3, B retracts v2.
	loser3, lost := v3, map[string]string{}
	if winner3 == v3 {
		loser3 = w3
	}
	for _, in := range []*instance{a, b} {
		for _, r := range e.retractions(t, in) {
			if err := wire.VerifyRetraction(e.secrets.ReceiptKey.Public().(ed25519.PublicKey), "solar", r.loser, r.winner, r.r.Sig); err != nil || !r.r.Bound() {
				t.Errorf("retraction of %s for %s: %v", r.loser, r.winner, err)
			}
			lost[r.loser] = r.winner
		}
	}
	wantLost := map[string]string{w1.voteLine(): v1.voteLine(), v2.voteLine(): w2.voteLine(), loser3.voteLine(): winner3.voteLine()}
	if !maps.Equal(lost, wantLost) {
		t.Errorf("retractions %q, want %q", lost, wantLost)
	}
	// Through either instance, the winner is repeated and the loser refused.
	for _, in := range []*instance{a, b} {
		e.mustVote(t, in, v1)
		wantEmpty(t, e.vote(t, in, w1), 481)
		e.mustVote(t, in, w2)
		wantEmpty(t, e.vote(t, in, v2), 481)
	}
	e.noErrorsLogged(t)
}

// standIn is a twin that answers GET /sync with nothing to copy, once the
// test releases it. It records what each request carried.
type standIn struct {
	url     string
	release chan struct{} // closed by releaseNow
	once    sync.Once
	got     chan http.Header // headers, path and query of the requests, as they arrive
}

// releaseNow lets every /sync, held or future, answer.
func (s *standIn) releaseNow() { s.once.Do(func() { close(s.release) }) }

func newStandIn(t *testing.T) *standIn {
	t.Helper()
	s := &standIn{release: make(chan struct{}), got: make(chan http.Header, 1000)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		h.Set("X-Path", r.URL.Path)
		h.Set("X-Query", r.URL.RawQuery)
		select {
		case s.got <- h:
		default:
		}
		select {
		case <-s.release:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Last-Seq", "0")
		w.WriteHeader(http.StatusOK)
	}))
	s.url = srv.URL
	t.Cleanup(func() {
		s.releaseNow()
		srv.Close()
	})
	return s
}

// TestCatchUp starts a collector whose twin holds its first /sync until
// the test releases it: meanwhile the collector answers 503 to votes and
// to /health, and still serves /sync to its twin; once the twin answers it
// takes votes. The pull carries the pass and the collector's last own seq.
func TestCatchUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := t.TempDir()
	// Two own votes from an earlier run, without a twin.
	first := e.start(t, e.config(dir))
	e.healthy(t, first)
	e.mustVote(t, first, e.newBallot(t, testOptions[0]))
	e.mustVote(t, first, e.newBallot(t, testOptions[1]))
	first.stop()

	twin := newStandIn(t)
	in := e.start(t, e.twinConfig(dir, twin.url))
	var h http.Header
	select {
	case h = <-twin.got:
	case <-time.After(10 * time.Second):
		t.Fatal("the collector did not pull from its twin")
	}
	if h.Get("X-Path") != "/sync" || h.Get("X-Query") != "after=0&limit=2000" {
		t.Errorf("pulled %s?%s", h.Get("X-Path"), h.Get("X-Query"))
	}
	if h.Get("Pass") != e.passFor("/sync") {
		t.Error("the pull does not carry the pass")
	}
	if h.Get("Last-Seq") != "2" {
		t.Errorf("the pull's Last-Seq is %q, want 2", h.Get("Last-Seq"))
	}

	// The twin has not answered: no votes.
	b := e.newBallot(t, testOptions[2])
	wantEmpty(t, e.vote(t, in, b), http.StatusServiceUnavailable)
	wantEmpty(t, e.get(t, in, "/health"), http.StatusServiceUnavailable)
	checkCounts(t, in, 2, 2)
	// Its twin may be catching up from it at the same time.
	if r := e.get(t, in, "/sync?after=0&limit=10"); r.code != http.StatusOK || r.header.Get("Last-Seq") != "2" {
		t.Errorf("/sync while catching up: %d, Last-Seq %q", r.code, r.header.Get("Last-Seq"))
	}

	twin.releaseNow()
	e.healthy(t, in)
	e.mustVote(t, in, b)
	checkCounts(t, in, 3, 3)
}

// TestTwinHangs gives a collector a twin that accepts connections but
// never answers: it answers 503 until CatchUpTimeout has passed, then takes
// votes, and stops promptly although a pull is under way.
func TestTwinHangs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// A listener nobody accepts from: the kernel completes the connection,
	// nothing ever answers.
	hang := listen(t, "127.0.0.1:0")
	defer hang.Close()
	cfg := e.twinConfig(t.TempDir(), "http://"+hang.Addr().String())
	cfg.CatchUpTimeout = time.Second
	started := time.Now()
	in := e.start(t, cfg)

	// Whatever answers before CatchUpTimeout is 503; the first 204 comes
	// after it.
	b := e.newBallot(t, testOptions[0])
	r := e.vote(t, in, b)
	if r.code == http.StatusNoContent {
		if time.Since(started) < cfg.CatchUpTimeout {
			t.Fatal("a vote was taken before the catch-up gave up on the twin")
		}
	} else {
		wantEmpty(t, r, http.StatusServiceUnavailable)
		checkCounts(t, in, 0, 0)
	}
	saw503 := r.code == http.StatusServiceUnavailable
	eventually(t, "the collector takes votes without its twin", func() bool {
		r := e.get(t, in, "/health")
		if r.code == http.StatusServiceUnavailable {
			saw503 = true
			return false
		}
		return true
	})
	if time.Since(started) < cfg.CatchUpTimeout {
		t.Error("/health said 204 before CatchUpTimeout")
	}
	if !saw503 {
		t.Log("no request arrived before CatchUpTimeout: the 503 was not observed")
	}
	e.mustVote(t, in, b)
	checkCounts(t, in, 1, 1)

	// The sync loop is now waiting on the twin; Run must not wait for it.
	t0 := time.Now()
	in.stop()
	if d := time.Since(t0); d > 3*time.Second {
		t.Errorf("Run took %v to return with a pull to a hung twin under way", d)
	}
}

// TestReceiptRepeats plays a vote seller: the same vote sent again must
// get the same receipt byte for byte, or the line that stays the same
// across two valid receipts is the seller's choice. The vote goes to both
// instances of a pair, as the edge sends it (A signs, B is asked for an
// unsigned answer), then again to A, to B asked to sign (as an edge does
// when A fails) once B has pulled from A, and to both after a restart.
// Many recent votes per option make fresh decoys differ almost surely.
func TestReceiptRepeats(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lnA, lnB := listen(t, "127.0.0.1:0"), listen(t, "127.0.0.1:0")
	dirA, dirB := t.TempDir(), t.TempDir()
	cfg := func(dir string, ln net.Listener, instance int) collector.Config {
		c := e.twinConfig(dir, "http://"+ln.Addr().String())
		c.Instance = instance
		c.DecoyAge = -1 // every vote a decoy at once
		return c
	}
	a := e.startOn(t, cfg(dirA, lnB, 0), lnA)
	b := e.startOn(t, cfg(dirB, lnA, 1), lnB)
	e.healthy(t, a)
	e.healthy(t, b)
	for i := range 30 {
		e.mustVote(t, a, e.newBallot(t, testOptions[i%len(testOptions)]))
	}
	bl := e.newBallot(t, testOptions[0])
	signed := e.mustVote(t, a, bl)
	unsigned := bl.headers(e.pass())
	unsigned["Receipt-Sign"] = "no"
	if r := e.voteWith(t, b, unsigned); r.code != http.StatusNoContent {
		t.Fatalf("B: %d", r.code)
	}
	want := receiptOf(t, signed)
	same := func(what string, r reply) {
		t.Helper()
		if got := receiptOf(t, r); got != want {
			t.Errorf("%s: another receipt\n got %s\nwant %s", what, got, want)
		}
	}
	same("A again", e.mustVote(t, a, bl))
	// B pulls A's pairs in order: once it has a later vote A alone took,
	// it has applied A's pair of bl.
	e.mustVote(t, a, e.newBallot(t, testOptions[1]))
	eventually(t, "B holds A's votes", func() bool {
		v, _ := b.srv.Counts()
		return v == 32
	})
	same("B asked to sign, after its pull from A", e.mustVote(t, b, bl))
	a.stop()
	b.stop()
	a = e.startOn(t, cfg(dirA, lnB, 0), relisten(t, lnA.Addr().String()))
	b = e.startOn(t, cfg(dirB, lnA, 1), relisten(t, lnB.Addr().String()))
	e.healthy(t, a)
	e.healthy(t, b)
	same("A after a restart", e.mustVote(t, a, bl))
	same("B after a restart", e.mustVote(t, b, bl))
}

// receiptOf is a signed receipt as one text: its lines and Receipt-Sig.
func receiptOf(t *testing.T, r reply) string {
	t.Helper()
	sig := r.header.Get("Receipt-Sig")
	if sig == "" {
		t.Fatal("the receipt is not signed")
	}
	return strings.Join(receiptLines(t, r), "\n") + "\n" + sig
}
