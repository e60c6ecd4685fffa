package collector_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/collector"
	"github.com/powvote/powvote/collector/internal/store"
	"github.com/powvote/powvote/internal/mtls"
	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/stamp"
	"github.com/powvote/powvote/wire"
)

// The collectors under test are real: collector.New and Run on a loopback
// listener, a Pebble store in a temporary directory. Tests talk to them
// over HTTP, as the edge and the twin do (docs/INTERNAL.md), with a client
// that is not the server's own HTTP implementation.

// testOptions is the ballot: plain ASCII, non-ASCII (percent-encoded in
// headers) and ASCII with spaces.
var testOptions = []string{"Pluto", "Énergie solaire", "none of the above"}

var (
	campaignStart = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	campaignEnd   = campaignStart.Add(30 * 24 * time.Hour)
)

const maxStampAge = 30 * time.Minute

// fakeClock is a clock tests set by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is one campaign: its settings and platform secrets, the authority
// that signs mandates, a clock the collectors share and an HTTP client.
type env struct {
	settings  *campaign.Settings
	secrets   *campaign.Secrets
	authority ed25519.PrivateKey
	stranger  ed25519.PrivateKey // an authority the campaign does not list
	clock     *fakeClock
	client    *http.Client
	logs      *lockedBuffer // what every collector of the env logs
	// plain gives each role its plain-HTTP token: these tests speak to
	// the collector as each role does (TLS: cmd/powvote's tests).
	plain *mtls.Plain
}

func newEnv(t testing.TB) *env {
	t.Helper()
	sec, err := campaign.GenerateSecrets("solar", nil)
	if err != nil {
		t.Fatal(err)
	}
	authPub, authPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, stranger, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	t.Cleanup(tr.CloseIdleConnections)
	e := &env{
		settings: &campaign.Settings{
			Name:        "solar",
			Options:     testOptions,
			Authorities: []ed25519.PublicKey{authPub},
			Threshold:   1, // the collector does not check the proof of work
			BatchSize:   1,
			Start:       campaignStart,
			End:         campaignEnd,
			MaxStampAge: maxStampAge,
		},
		secrets:   sec,
		authority: authPriv,
		stranger:  stranger,
		clock:     &fakeClock{now: campaignStart.Add(24 * time.Hour)},
		client:    &http.Client{Transport: tr, Timeout: 20 * time.Second},
		logs:      &lockedBuffer{},
		plain:     mtls.NewPlain("solar"),
	}
	for _, r := range campaign.Roles {
		e.plain.Link(string(r), mtls.AnyInstance)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("collector logs:\n%s", e.logs.String())
		}
	})
	return e
}

// config is a collector configuration for dir with no twin.
func (e *env) config(dir string) collector.Config {
	return collector.Config{
		Settings: e.settings,
		Secrets:  e.secrets,
		Dir:      dir,
		Link:     e.plain.Link(string(campaign.RoleCollector), mtls.AnyInstance),
		Clock:    e.clock.Now,
		Logger:   slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
}

// pass is the edge's Pass header value; passOf another role's.
func (e *env) pass() string { return e.passOf(campaign.RoleEdge) }

func (e *env) passOf(r campaign.Role) string {
	return e.plain.Link(string(r), mtls.AnyInstance).Pass()
}

// noErrorsLogged fails the test if a collector logged at level ERROR.
func (e *env) noErrorsLogged(t *testing.T) {
	t.Helper()
	if strings.Contains(e.logs.String(), "level=ERROR") {
		t.Error("a collector logged an error")
	}
}

// lockedBuffer is a log destination that many goroutines write to.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// instance is a running collector.
type instance struct {
	srv  *collector.Server
	addr string // host:port it listens on
	url  string
	stop func() // cancels Run and waits for it to return; later calls do nothing
}

func listen(t testing.TB, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// start runs a collector on a new loopback listener.
func (e *env) start(t testing.TB, cfg collector.Config) *instance {
	t.Helper()
	return e.startOn(t, cfg, listen(t, "127.0.0.1:0"))
}

// startOn runs a collector on ln. The test fails if Run returns an error or
// takes more than 8 s to return once stopped.
func (e *env) startOn(t testing.TB, cfg collector.Config, ln net.Listener) *instance {
	t.Helper()
	srv, err := collector.New(cfg)
	if err != nil {
		ln.Close()
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()
	in := &instance{srv: srv, addr: ln.Addr().String(), url: "http://" + ln.Addr().String()}
	in.stop = sync.OnceFunc(func() {
		// The client's transport may hold connections it dialed for a
		// request that another connection then carried. The server counts
		// a connection that has not sent its first request as active until
		// ReadTimeout, and a graceful shutdown waits for those: close them.
		e.client.CloseIdleConnections()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run of %s: %v", in.addr, err)
			}
		case <-time.After(8 * time.Second):
			t.Errorf("Run of %s has not returned 8 s after its context ended", in.addr)
		}
	})
	t.Cleanup(in.stop)
	return in
}

// reply is a collector's answer.
type reply struct {
	code   int
	header http.Header
	body   []byte
}

// do sends one request; hdr is sent with its names as given.
func (e *env) do(t testing.TB, method, url string, hdr map[string]string) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = []string{v}
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return reply{code: resp.StatusCode, header: resp.Header, body: body}
}

// get sends an authenticated GET.
func (e *env) get(t testing.TB, in *instance, path string) reply {
	t.Helper()
	return e.do(t, http.MethodGet, in.url+path, map[string]string{"Pass": e.passFor(path)})
}

// passFor is the Pass of a role that may use path (docs/INTERNAL.md,
// Authorisation).
func (e *env) passFor(path string) string {
	switch p, _, _ := strings.Cut(path, "?"); p {
	case "/sync", "/snapshot":
		return e.passOf(campaign.RoleCollector)
	case "/records/voters":
		return e.passOf(campaign.RolePublisher)
	}
	return e.pass()
}

// wantEmpty fails the test unless r has status code and an empty body.
func wantEmpty(t *testing.T, r reply, code int) {
	t.Helper()
	if r.code != code || len(r.body) != 0 {
		t.Errorf("answer %d with a %d-byte body %q, want %d with an empty body", r.code, len(r.body), r.body, code)
	}
}

// eventually polls cond until it holds, failing the test after 15 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		<-tick.C
	}
}

// healthy waits until the instance answers /health with 204.
func (e *env) healthy(t testing.TB, in *instance) {
	t.Helper()
	eventually(t, in.addr+" takes votes", func() bool { return e.get(t, in, "/health").code == http.StatusNoContent })
}

// ballot is one vote request as the edge forwards it (docs/INTERNAL.md
// POST /vote): a mandate, a platform stamp, a voter stamp, an option and
// a nonce. Tests change fields to break it.
type ballot struct {
	pkey, sig, id []byte
	putc          string
	psig          []byte
	voter         string
	say           string // the Say header as sent
	nonce         string // the Nonce header as sent
	option        string // what say decodes to
}

// newMandate signs a fresh mandate with key.
func newMandate(key ed25519.PrivateKey) (pkey, sig, id []byte) {
	id = make([]byte, 24)
	rand.Read(id)
	return key.Public().(ed25519.PublicKey), ed25519.Sign(key, id), id
}

// newBallot is a valid vote for option by a fresh mandate, stamped now.
func (e *env) newBallot(t testing.TB, option string) *ballot {
	t.Helper()
	b := &ballot{option: option, say: wire.EncodeOption(option)}
	b.pkey, b.sig, b.id = newMandate(e.authority)
	e.restamp(t, b, e.clock.Now())
	return b
}

// restamp gives b a new platform stamp for at, a new voter stamp and a new
// nonce, keeping its mandate and option: another vote of the same holder.
func (e *env) restamp(t testing.TB, b *ballot, at time.Time) {
	t.Helper()
	b.putc = strconv.FormatInt(at.Unix(), 10)
	b.psig = ed25519.Sign(e.secrets.UTCSign, []byte(b.putc))
	voter, err := stamp.NewVoter(e.secrets.VoterStampKey, rand.Reader, b.putc, b.psig)
	if err != nil {
		t.Fatal(err)
	}
	b.voter = voter
	nonce := make([]byte, 8)
	rand.Read(nonce)
	b.nonce = hex.EncodeToString(nonce)
}

// clone returns a copy of b that shares no slices with it.
func (b *ballot) clone() *ballot {
	c := *b
	c.pkey, c.sig, c.id, c.psig = bytes.Clone(b.pkey), bytes.Clone(b.sig), bytes.Clone(b.id), bytes.Clone(b.psig)
	return &c
}

func (b *ballot) headers(pass string) map[string]string {
	enc := base64.StdEncoding.EncodeToString
	return map[string]string{
		"Pass":      pass,
		"Auth-Pkey": enc(b.pkey),
		"Auth-Sig":  enc(b.sig),
		"Auth-Id":   enc(b.id),
		"P-UTC":     b.putc,
		"P-SIG":     enc(b.psig),
		"Voter":     b.voter,
		"Say":       b.say,
		"Nonce":     b.nonce,
	}
}

// voteLine is the line the votes list (and /records/votes) shows for b.
func (b *ballot) voteLine() string {
	nonce, _ := hex.DecodeString(b.nonce)
	return fmt.Sprintf("%s %s %s %x %q", b.putc, base64.StdEncoding.EncodeToString(b.psig), b.voter, nonce, b.option)
}

// voterLine is the line the voters list (and /records/voters) shows for b.
func (b *ballot) voterLine() string {
	enc := base64.StdEncoding.EncodeToString
	return enc(b.pkey) + " " + enc(b.sig) + " " + enc(b.id)
}

// vote sends b to in.
func (e *env) vote(t testing.TB, in *instance, b *ballot) reply {
	t.Helper()
	return e.voteWith(t, in, b.headers(e.pass()))
}

func (e *env) voteWith(t testing.TB, in *instance, hdr map[string]string) reply {
	t.Helper()
	return e.do(t, http.MethodPost, in.url+"/vote", hdr)
}

// mustVote sends b to in and fails the test unless it is accepted.
func (e *env) mustVote(t testing.TB, in *instance, b *ballot) reply {
	t.Helper()
	r := e.vote(t, in, b)
	if r.code != http.StatusNoContent {
		t.Fatalf("vote for %q answered %d, want 204", b.option, r.code)
	}
	return r
}

// receiptLines returns Receipt01.. of r, in order, and checks that no
// line is missing in between.
func receiptLines(t *testing.T, r reply) []string {
	t.Helper()
	var lines []string
	for i := 1; i <= 99; i++ {
		v := r.header.Get(fmt.Sprintf("Receipt%02d", i))
		if v == "" {
			break
		}
		lines = append(lines, v)
	}
	return lines
}

// checkCounts fails the test unless in holds voters voters and votes votes.
func checkCounts(t *testing.T, in *instance, voters, votes int) {
	t.Helper()
	if v, n := in.srv.Counts(); v != voters || n != votes {
		t.Errorf("%s counts %d voters, %d votes; want %d, %d", in.addr, v, n, voters, votes)
	}
}

// allRecords reads every record of in's vote log, a page of 3 at a time,
// and checks the indexes and the Next header.
func (e *env) allRecords(t *testing.T, in *instance) []listline.Record {
	t.Helper()
	var all []listline.Record
	next := "1"
	for {
		r := e.get(t, in, "/records/votes?from="+next+"&limit=3")
		if r.code != http.StatusOK {
			t.Fatalf("/records/votes answered %d", r.code)
		}
		if len(r.body) == 0 {
			return all
		}
		for _, l := range strings.Split(strings.TrimSuffix(string(r.body), "\n"), "\n") {
			idx, rec, err := listline.ParseIndexed(l)
			if err != nil {
				t.Fatalf("record %q: %v", l, err)
			}
			if want := uint64(len(all) + 1); idx != want {
				t.Fatalf("record %q, want index %d", l, want)
			}
			all = append(all, rec)
		}
		next = r.header.Get("Next")
		if want := strconv.Itoa(len(all) + 1); next != want {
			t.Fatalf("Next is %q after %d records, want %s", next, len(all), want)
		}
	}
}

// retractions returns, for each retraction in in's vote log, the
// retracted vote's line (the latest earlier vote record with its nonce),
// the winner's line (the record that follows) and the retraction.
func (e *env) retractions(t *testing.T, in *instance) (out []struct {
	loser, winner string
	r             listline.Retraction
}) {
	t.Helper()
	all := e.allRecords(t, in)
	for i, r := range all {
		if r.Retraction == nil {
			continue
		}
		var loser string
		for _, v := range all[:i] {
			if v.Vote != nil && bytes.Equal(v.Vote.Nonce, r.Retraction.Nonce) {
				loser = v.Vote.Line()
			}
		}
		if loser == "" || i+1 >= len(all) || all[i+1].Vote == nil {
			t.Fatalf("record %d: a retraction without its vote before it or its winner after it", i+1)
		}
		out = append(out, struct {
			loser, winner string
			r             listline.Retraction
		}{loser, all[i+1].Vote.Line(), *r.Retraction})
	}
	return out
}

// records reads /records/votes and /records/voters of in, paging by a
// small limit. It returns the live vote lines (each vote line not
// withdrawn by a later retraction), sorted, and the voter lines in the
// order served.
func (e *env) records(t *testing.T, in *instance) (votes, voters []string) {
	t.Helper()
	type rec struct {
		line  string
		nonce string
	}
	var all []rec
	for _, r := range e.allRecords(t, in) {
		if r.Vote != nil {
			all = append(all, rec{line: r.Vote.Line(), nonce: hex.EncodeToString(r.Vote.Nonce)})
		} else {
			all = append(all, rec{nonce: hex.EncodeToString(r.Retraction.Nonce)})
		}
	}
	live := make(map[int]bool)
	for i, r := range all {
		if r.line != "" {
			live[i] = true
			continue
		}
		// A retraction withdraws the latest live vote with its nonce.
		j := -1
		for k := range i {
			if live[k] && all[k].nonce == r.nonce {
				j = k
			}
		}
		if j < 0 {
			t.Fatalf("record %d retracts %s, which is no live vote", i+1, r.nonce)
		}
		delete(live, j)
	}
	for i := range live {
		votes = append(votes, all[i].line)
	}
	slices.Sort(votes)

	after := ""
	for {
		r := e.get(t, in, "/records/voters?after="+after+"&limit=2")
		if r.code != http.StatusOK {
			t.Fatalf("/records/voters answered %d", r.code)
		}
		if len(r.body) == 0 {
			break
		}
		page := strings.Split(strings.TrimSuffix(string(r.body), "\n"), "\n")
		voters = append(voters, page...)
		v, err := store.ParseVoterLine(page[len(page)-1])
		if err != nil {
			t.Fatal(err)
		}
		m := v.Mandate()
		after = base64.RawURLEncoding.EncodeToString(m[:])
	}
	return votes, voters
}

func sorted(s ...string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
