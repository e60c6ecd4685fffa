package publisher

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/collector"
	"github.com/powvote/powvote/internal/mtls"
	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/stamp"
	"github.com/powvote/powvote/wire"
)

// listWords are the words of the two lists in the names of their files,
// as the tests spell those names.
var listWords = [2]string{"vote", "auth"}

// testCampaign is campaign "solar" with a test authority whose mandates the
// collectors accept.
type testCampaign struct {
	settings *campaign.Settings
	secrets  *campaign.Secrets
	authKey  ed25519.PrivateKey
	client   *http.Client
	clock    tickClock // shared by every publisher of the test, restarts included
	plain    *mtls.Plain
}

// link is the plain-HTTP link of role (these tests run the collectors in
// this process; cmd/powvote's tests run them over TLS).
func (tc *testCampaign) link(role campaign.Role) *mtls.Link {
	return tc.plain.Link(string(role), mtls.AnyInstance)
}

func newTestCampaign(t *testing.T) *testCampaign {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sec, err := campaign.GenerateSecrets("solar", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	t.Cleanup(c.CloseIdleConnections)
	tc := &testCampaign{settings: campaign.Demo(time.Now(), pub), secrets: sec, authKey: priv, client: c, plain: mtls.NewPlain("solar")}
	for _, r := range campaign.Roles {
		tc.link(r)
	}
	return tc
}

// mandate issues a new mandate of the test authority.
func (tc *testCampaign) mandate(t *testing.T) listline.Voter {
	t.Helper()
	var v listline.Voter
	copy(v.Pkey[:], tc.authKey.Public().(ed25519.PublicKey))
	rand.Read(v.ID[:])
	copy(v.Sig[:], ed25519.Sign(tc.authKey, v.ID[:]))
	return v
}

// vote makes a vote for option i with a platform stamp age seconds old.
// The collectors do not check the proof of work or P-SIG (the edge does),
// so the vote has neither.
func (tc *testCampaign) vote(t *testing.T, i int, age int64) listline.Vote {
	t.Helper()
	v := listline.Vote{PUTC: strconv.FormatInt(time.Now().Unix()-age, 10), Nonce: make([]byte, 8), Option: tc.settings.Options[i%len(tc.settings.Options)]}
	rand.Read(v.PSig[:])
	rand.Read(v.Nonce)
	s, err := stamp.NewVoter(tc.secrets.VoterStampKey, rand.Reader, v.PUTC, v.PSig[:])
	if err != nil {
		t.Fatal(err)
	}
	v.Voter = s
	return v
}

// cast sends a vote to one collecting instance as the edge does and wants
// 204.
func (tc *testCampaign) cast(t *testing.T, base string, m listline.Voter, v listline.Vote) {
	t.Helper()
	req, err := http.NewRequest("POST", base+"/vote", nil)
	if err != nil {
		t.Fatal(err)
	}
	e := base64.StdEncoding
	for k, val := range map[string]string{
		"Pass":      tc.link(campaign.RoleEdge).Pass(),
		"Auth-Pkey": e.EncodeToString(m.Pkey[:]),
		"Auth-Sig":  e.EncodeToString(m.Sig[:]),
		"Auth-Id":   e.EncodeToString(m.ID[:]),
		"P-UTC":     v.PUTC,
		"P-SIG":     e.EncodeToString(v.PSig[:]),
		"Voter":     v.Voter,
		"Say":       wire.EncodeOption(v.Option),
		"Nonce":     hex.EncodeToString(v.Nonce),
	} {
		req.Header.Set(k, val)
	}
	resp, err := tc.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST /vote to %s: status %d, want 204", base, resp.StatusCode)
	}
}

// records returns the /records/votes body of a collector from index 1.
func (tc *testCampaign) records(t *testing.T, base string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/records/votes?from=1&limit=10000", nil)
	req.Header.Set("Pass", tc.link(campaign.RolePublisher).Pass())
	resp, err := tc.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// gate is a loopback HTTP proxy to one collector that the test opens and
// closes: closed, it answers 503 as an unreachable instance would fail.
// Closing waits for the requests it passed on to be answered, so that none
// carries what the collector holds after the gate closed.
type gate struct {
	url    string
	mu     sync.RWMutex // held for reading by each request passed on
	closed bool
}

// set opens or closes the gate.
func (g *gate) set(open bool) {
	g.mu.Lock()
	g.closed = !open
	g.mu.Unlock()
}

func newGate(t *testing.T, target string) *gate {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ErrorLog = log.New(io.Discard, "", 0) // a collector shutting down at the end of a test
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.RLock()
		defer g.mu.RUnlock()
		if g.closed {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	g.url = srv.URL
	return g
}

// testPair is a pair of real collecting instances on loopback. Each reaches
// its twin through a gate (twin[i] is instance i's way to the other), and
// the publisher reaches each through another (pub[i]).
type testPair struct {
	cols [2]*collector.Server
	dirs [2]string // the instances' data directories
	urls [2]string
	twin [2]*gate
	pub  [2]*gate
	k    int
	stop [2]func() // stops instance i and waits for its Run; later calls do nothing
}

func startPair(t *testing.T, tc *testCampaign, k int) *testPair {
	t.Helper()
	tp := &testPair{k: k}
	var lns [2]net.Listener
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[i] = ln
		tp.urls[i] = "http://" + ln.Addr().String()
	}
	for i := range lns {
		tp.twin[i] = newGate(t, tp.urls[1-i])
		tp.pub[i] = newGate(t, tp.urls[i])
	}
	for i := range lns {
		tp.run(t, tc, i, lns[i], t.TempDir(), false)
	}
	tp.ready(t, tc)
	return tp
}

// run starts instance i of the pair on ln with its store in dir.
func (tp *testPair) run(t *testing.T, tc *testCampaign, i int, ln net.Listener, dir string, rebuild bool) {
	t.Helper()
	srv, err := collector.New(collector.Config{
		Settings: tc.settings, Secrets: tc.secrets, Dir: dir, Instance: 2*tp.k + i,
		Twin: tp.twin[i].url, SyncInterval: 10 * time.Millisecond, Link: tc.link(campaign.RoleCollector),
		Rebuild: rebuild,
	})
	if err != nil {
		t.Fatal(err)
	}
	tp.cols[i], tp.dirs[i] = srv, dir
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()
	tp.stop[i] = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("collector %d: %v", 2*tp.k+i, err)
		}
	})
	t.Cleanup(tp.stop[i])
}

// ready waits until both instances take votes.
func (tp *testPair) ready(t *testing.T, tc *testCampaign) {
	t.Helper()
	k := tp.k
	// An instance answers 503 to votes until it has caught up from its twin.
	for i := range tp.urls {
		eventually(t, fmt.Sprintf("collector %d ready", 2*k+i), func() bool {
			req, _ := http.NewRequest("GET", tp.urls[i]+"/health", nil)
			req.Header.Set("Pass", tc.link(campaign.RolePublisher).Pass())
			resp, err := tc.client.Do(req)
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusNoContent
		})
	}
}

// setTwins cuts or restores the sync between the two instances.
func (tp *testPair) setTwins(open bool) {
	tp.twin[0].set(open)
	tp.twin[1].set(open)
}

// converged reports whether both instances hold voters and votes of each.
func (tp *testPair) converged(voters, votes int) bool {
	for _, c := range tp.cols {
		if a, v := c.Counts(); a != voters || v != votes {
			return false
		}
	}
	return true
}

// eventually polls cond until it holds, for state that other processes
// reach on their own schedule (collectors syncing with their twins); it
// never stands in for waiting on a goroutine of this package.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// tickClock is a clock that moves one second each time it is read, so
// that every round may grow the lists.
type tickClock struct{ n atomic.Int64 }

func (c *tickClock) now() time.Time { return time.Unix(1767225600+c.n.Add(1), 0) }

// logBuffer collects a publisher's log for the test to read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// testPublisher is a publisher over dir and the pairs' gates.
type testPublisher struct {
	*Publisher
	dir    string
	log    *logBuffer
	rounds []int64 // lines after each round, to check the order within each
}

func newPublisher(t *testing.T, tc *testCampaign, dir string, pairs []*testPair, tweak func(*Config)) *testPublisher {
	t.Helper()
	tp := &testPublisher{dir: dir, log: &logBuffer{}}
	cfg := Config{
		Campaign: "solar", Link: tc.link(campaign.RolePublisher), Dir: dir,
		PageSize: 4, // several pages of votes and of voters
		Logger:   slog.New(slog.NewTextHandler(tp.log, nil)),
		Clock:    tc.clock.now,
		LogKey:   tc.secrets.LogKey,
		Options:  tc.settings.Options,
	}
	for _, pr := range pairs {
		cfg.Pairs = append(cfg.Pairs, [2]string{pr.pub[0].url, pr.pub[1].url})
	}
	if tweak != nil {
		tweak(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tp.Publisher = p
	tp.rounds = []int64{p.Status().Lines}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("publisher log:\n%s", tp.log)
		}
		p.Close()
	})
	return tp
}

// round runs PullOnce and checks the lists; it returns PullOnce's error.
func (tp *testPublisher) round(t *testing.T) error {
	t.Helper()
	err := tp.PullOnce(context.Background())
	tp.rounds = append(tp.rounds, tp.Status().Lines)
	tp.check(t)
	return err
}

// mustRound is round for rounds where every collector answers.
func (tp *testPublisher) mustRound(t *testing.T) {
	t.Helper()
	if err := tp.round(t); err != nil {
		t.Fatal(err)
	}
}

// lists returns the lines of the votes and voters lists on disk.
func (tp *testPublisher) lists(t *testing.T) (votes, voters []string) {
	t.Helper()
	read := func(name string) []string {
		b, err := os.ReadFile(filepath.Join(tp.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 {
			return nil
		}
		if b[len(b)-1] != '\n' {
			t.Fatalf("%s does not end with a line feed", name)
		}
		return strings.Split(string(b[:len(b)-1]), "\n")
	}
	return read("solar-vote.log"), read("solar-auth.log")
}

// check verifies the invariants of the lists: equal lengths, every line
// well formed, a nonce and a mandate at most once, and the lines of each
// round sorted (votes by voter stamp, voters by auth-sig).
func (tp *testPublisher) check(t *testing.T) {
	t.Helper()
	votes, voters := tp.lists(t)
	if len(votes) != len(voters) || int64(len(votes)) != tp.rounds[len(tp.rounds)-1] {
		t.Fatalf("%d votes and %d voters published, status says %d", len(votes), len(voters), tp.rounds[len(tp.rounds)-1])
	}
	nonces := make(map[string]bool)
	stamps := make([]string, len(votes))
	for i, l := range votes {
		v, err := listline.ParseVote(l)
		if err != nil {
			t.Fatalf("votes line %d: %v", i+1, err)
		}
		if nonces[string(v.Nonce)] {
			t.Fatalf("votes line %d: nonce %x published twice", i+1, v.Nonce)
		}
		nonces[string(v.Nonce)] = true
		stamps[i] = v.Voter
	}
	mandates := make(map[listline.Mandate]bool)
	sigs := make([]string, len(voters))
	for i, l := range voters {
		v, err := listline.ParseVoter(l)
		if err != nil {
			t.Fatalf("voters line %d: %v", i+1, err)
		}
		if mandates[v.Mandate()] {
			t.Fatalf("voters line %d: mandate published twice", i+1)
		}
		mandates[v.Mandate()] = true
		sigs[i] = strings.Fields(l)[1]
	}
	for r := 1; r < len(tp.rounds); r++ {
		from, to := tp.rounds[r-1], tp.rounds[r]
		if !slices.IsSorted(stamps[from:to]) || !slices.IsSorted(sigs[from:to]) {
			t.Fatalf("lines %d to %d, published in one round, are not sorted", from+1, to)
		}
	}
}

// wantPublished checks that the lists hold exactly these votes and voters.
func (tp *testPublisher) wantPublished(t *testing.T, voters []listline.Voter, votes []listline.Vote) {
	t.Helper()
	gotVotes, gotVoters := tp.lists(t)
	var wantVotes, wantVoters []string
	for _, v := range votes {
		wantVotes = append(wantVotes, v.Line())
	}
	for _, v := range voters {
		wantVoters = append(wantVoters, v.Line())
	}
	for _, s := range [][]string{gotVotes, gotVoters, wantVotes, wantVoters} {
		slices.Sort(s)
	}
	if !slices.Equal(gotVotes, wantVotes) {
		t.Errorf("votes list:\n%s\nwant:\n%s", strings.Join(gotVotes, "\n"), strings.Join(wantVotes, "\n"))
	}
	if !slices.Equal(gotVoters, wantVoters) {
		t.Errorf("voters list:\n%s\nwant:\n%s", strings.Join(gotVoters, "\n"), strings.Join(wantVoters, "\n"))
	}
}
