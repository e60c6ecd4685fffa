package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/powvote/powvote/campaign"
)

// proc is a powvote process started by a test.
type proc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan error
}

// syncBuffer is a process's stderr, which a test may read while the
// process still writes it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var listening = regexp.MustCompile(`listening on (\S+)`)

// startProc runs the binary with args and waits for its "listening on"
// line.
func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	return launch(t, args, listening.MatchString)
}

// launch starts the binary with args and reads its stdout until ready
// says a line shows it is up.
func launch(t *testing.T, args []string, ready func(line string) bool) *proc {
	t.Helper()
	cmd := exec.Command(binary, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	sc := bufio.NewScanner(stdout)
	found := false
	for sc.Scan() {
		if ready(sc.Text()) {
			found = true
			break
		}
	}
	if !found {
		t.Fatalf("powvote %v never said it was up; stderr: %s", args, p.stderr)
	}
	go func() {
		io.Copy(io.Discard, stdout)
		p.done <- cmd.Wait()
	}()
	return p
}

func (p *proc) kill(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// interrupt stops the process as an operator would and expects a clean exit.
func (p *proc) interrupt(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("powvote %v exited with %v; stderr: %s", p.cmd.Args[1:], err, p.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("process did not stop within 20 s; stderr: %s", p.stderr)
	}
}

// freeAddr returns a loopback address nobody listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitHealthy polls a collector's /health until it answers 204.
func waitHealthy(t *testing.T, ins *insider, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest("GET", url+"/health", nil)
		if resp, err := ins.as(campaign.RolePublisher).Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 204 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("collector %s not healthy within 30 s", url)
}

// pairSetup is a campaign with two collector processes and an edge.
type pairSetup struct {
	data  string
	ins   *insider
	addr  [2]string
	url   [2]string
	col   [2]*proc
	edge  *proc
	edgeU string
}

func (s *pairSetup) startCollector(t *testing.T, i int) {
	t.Helper()
	s.col[i] = startProc(t, "collector", "--dir", s.data, "--instance", fmt.Sprint(i), "--listen", s.addr[i], "--twin", s.url[1-i])
}

func newPair(t *testing.T) *pairSetup {
	t.Helper()
	s := preparePair(t)
	for i := range 2 {
		s.startCollector(t, i)
	}
	for i := range 2 {
		waitHealthy(t, s.ins, s.url[i])
	}
	edgeAddr := freeAddr(t)
	s.edge = startProc(t, "edge", "--dir", s.data, "--listen", edgeAddr, "--pair", s.url[0]+","+s.url[1])
	s.edgeU = "http://" + edgeAddr
	return s
}

// preparePair makes the campaign of newPair and picks the collectors'
// addresses, starting nothing.
func preparePair(t *testing.T) *pairSetup {
	t.Helper()
	s := &pairSetup{data: filepath.Join(t.TempDir(), "pv")}
	mustRun(t, "init", "solar", "--dir", s.data, "--threshold", "12", "--batch-size", "1",
		"--option", "Evil Neptune", "--option", "Humble Pluto", "--option", "Zürich")
	c, err := campaign.Load(s.data, "solar")
	if err != nil {
		t.Fatal(err)
	}
	s.ins = insiders(t, c)
	for i := range 2 {
		s.addr[i] = freeAddr(t)
		s.url[i] = "https://" + s.addr[i]
	}
	return s
}

// vote casts one vote with a fresh demo mandate and returns the token and
// the printed receipt, or the failure.
func (s *pairSetup) vote(t *testing.T, edgeURL, token, say string) (string, result) {
	t.Helper()
	if token == "" {
		key := filepath.Join(s.data, "solar", campaign.DemoAuthorityKey)
		token = strings.TrimSpace(mustRun(t, "mandates", "--key", key, "--count", "1", "--format", "tokens"))
	}
	code := strings.TrimSpace(mustRun(t, "booth", "code", "--dir", s.data))
	return token, run(t, "vote", "--edge", edgeURL, "--mandate", token, "--booth-code", code, "--say", say, "--timeout", "20s")
}

func ownStamp(t *testing.T, receipt string) string {
	t.Helper()
	m := regexp.MustCompile(`Receipt02: (\S+) Humble Pluto`).FindStringSubmatch(receipt)
	if m == nil {
		t.Fatalf("no own stamp in receipt %q", receipt)
	}
	return m[1]
}

// eventually polls cond until it holds or 30 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30 s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCollectorKill9 kills one collector with SIGKILL right after receipts
// came back and finds every acknowledged vote on both instances after it
// restarts.
func TestCollectorKill9(t *testing.T) {
	s := newPair(t)
	var stamps []string
	for range 4 {
		_, r := s.vote(t, s.edgeU, "", "Humble Pluto")
		if r.code != 0 {
			t.Fatalf("vote: %s", r.stderr)
		}
		stamps = append(stamps, ownStamp(t, r.stdout))
	}
	s.col[0].kill(t)
	s.startCollector(t, 0)
	waitHealthy(t, s.ins, s.url[0])
	for i := range 2 {
		log := collectorState(t, s.data, i)
		for _, st := range stamps {
			if n := strings.Count(log, st); n != 1 {
				t.Errorf("collector %d holds %s %d times", i, st, n)
			}
		}
		if v := votersOf(t, s.ins, s.url[i]); v != len(stamps) {
			t.Errorf("collector %d holds %d voters, want %d", i, v, len(stamps))
		}
	}

	// powvote collector purge on the stopped instance 1: without --force
	// it purges or names the links its twin has not confirmed; forced,
	// it leaves none, and a second run finds nothing to do. No vote is
	// lost.
	s.col[1].interrupt(t)
	purge := []string{"collector", "purge", "--dir", s.data, "--instance", "1"}
	if r := run(t, purge...); r.code != 0 && !strings.Contains(r.stderr, "--force") {
		t.Errorf("purge: exit %d, %q", r.code, r.stderr)
	}
	mustRun(t, append(purge, "--force")...)
	if out := mustRun(t, purge...); !strings.Contains(out, "moved 0 voter records, dropped 0 links") {
		t.Errorf("second purge: %q", out)
	}
	if r := run(t, "collector", "purge", "--dir", s.data, "--instance", "7"); r.code == 0 || !strings.Contains(r.stderr, "holds no collecting instance") {
		t.Errorf("purge of an instance that never ran: exit %d, %q", r.code, r.stderr)
	}
	s.startCollector(t, 1)
	waitHealthy(t, s.ins, s.url[1])
	if v := votersOf(t, s.ins, s.url[1]); v != len(stamps) {
		t.Errorf("after the purge collector 1 holds %d voters, want %d", v, len(stamps))
	}
}

// TestReceiptRepeatsAcrossEdges plays a vote seller who votes, then sends
// the same vote again through another edge process, and again after both
// collectors of the pair were killed and restarted, hoping for a second
// valid receipt whose decoys differ: the line the receipts share would
// prove the choice. Every answer must carry the first receipt, byte for
// byte (the collectors keep it with the vote).
func TestReceiptRepeatsAcrossEdges(t *testing.T) {
	s := newPair(t)
	opts := []string{"Evil Neptune", "Humble Pluto", "Zürich"}
	for i := range 9 {
		if _, r := s.vote(t, s.edgeU, "", opts[i%3]); r.code != 0 {
			t.Fatalf("vote: %s", r.stderr)
		}
	}
	time.Sleep(3500 * time.Millisecond) // a vote's stamp is a decoy once it is 3 s durable
	tok, r := s.vote(t, s.edgeU, "", "Humble Pluto")
	if r.code != 0 {
		t.Fatalf("vote: %s", r.stderr)
	}
	v, n := recordOf(t, s.ins, s.url[0], ownStamp(t, r.stdout))
	if n != 1 {
		t.Fatalf("%d records of the vote", n)
	}
	receipt := func(edgeURL string) string {
		t.Helper()
		resp, err := http.DefaultClient.Do(voteRequest(t, edgeURL, tok, v))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("the vote again at %s: status %d", edgeURL, resp.StatusCode)
		}
		var b strings.Builder
		for i := 1; i <= 3; i++ {
			fmt.Fprintf(&b, "%s\n", resp.Header.Get(fmt.Sprintf("Receipt%02d", i)))
		}
		b.WriteString(resp.Header.Get("Receipt-Sig"))
		return b.String()
	}
	first := receipt(s.edgeU) // the edge that answered the vote
	for i, l := range strings.Split(first, "\n") {
		want := fmt.Sprintf("Receipt%02d: %s", i+1, l)
		if i == 3 {
			want = "Receipt-Sig: " + l
		}
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("the first edge's answer again is not the voter's receipt: %q lacks %q", r.stdout, want)
		}
	}
	edge := func() string {
		addr := freeAddr(t)
		startProc(t, "edge", "--dir", s.data, "--listen", addr, "--pair", s.url[0]+","+s.url[1])
		return "http://" + addr
	}
	if got := receipt(edge()); got != first {
		t.Errorf("through another edge process: another receipt\n got %q\nwant %q", got, first)
	}
	for i := range 2 {
		s.col[i].kill(t)
		s.startCollector(t, i)
	}
	for i := range 2 {
		waitHealthy(t, s.ins, s.url[i])
	}
	if got := receipt(edge()); got != first {
		t.Errorf("after both collectors restarted: another receipt\n got %q\nwant %q", got, first)
	}
}

// TestInstanceDown stops one instance, votes through the other, brings it
// back and checks it caught up and refuses a mandate that voted meanwhile.
func TestInstanceDown(t *testing.T) {
	s := newPair(t)
	s.col[1].interrupt(t)
	var stamps, tokens []string
	for range 3 {
		tok, r := s.vote(t, s.edgeU, "", "Humble Pluto")
		if r.code != 0 {
			t.Fatalf("vote with one instance down: %s", r.stderr)
		}
		stamps = append(stamps, ownStamp(t, r.stdout))
		tokens = append(tokens, tok)
	}
	s.startCollector(t, 1)
	waitHealthy(t, s.ins, s.url[1])
	// Caught up before it said it was healthy: the votes are there now.
	log := collectorState(t, s.data, 1)
	for _, st := range stamps {
		if !strings.Contains(log, st) {
			t.Errorf("instance 1 lacks %s after catching up", st)
		}
	}
	if a, b := votersOf(t, s.ins, s.url[0]), votersOf(t, s.ins, s.url[1]); a != 3 || b != 3 {
		t.Errorf("voters %d and %d, want 3 and 3", a, b)
	}
	// Through instance 1 alone (an edge whose other instance is dead), a
	// mandate that voted through instance 0 is refused.
	deadAddr := freeAddr(t)
	edgeAddr := freeAddr(t)
	startProc(t, "edge", "--dir", s.data, "--listen", edgeAddr, "--pair", "https://"+deadAddr+","+s.url[1])
	_, r := s.vote(t, "http://"+edgeAddr, tokens[0], "Evil Neptune")
	if r.code == 0 || !strings.Contains(r.stderr, "481") {
		t.Errorf("second vote through the other instance: exit %d, %q; want 481", r.code, r.stderr)
	}
	// And a new mandate voting through instance 1 alone reaches instance 0.
	_, r = s.vote(t, "http://"+edgeAddr, "", "Humble Pluto")
	if r.code != 0 {
		t.Fatalf("vote through instance 1 alone: %s", r.stderr)
	}
	st := ownStamp(t, r.stdout)
	eventually(t, "instance 0 pulls the vote instance 1 took alone", func() bool {
		return strings.Contains(collectorState(t, s.data, 0), st)
	})
}

func votersOf(t *testing.T, ins *insider, url string) int {
	t.Helper()
	return strings.Count(collectorGet(t, ins, url+"/records/voters?after=&limit=10000"), "\n")
}

// startCollectors runs n collector processes of the campaign in data
// (instance i's twin is i^1, so n is even), each on its own loopback port,
// and returns their URLs once every one answers /health.
func startCollectors(t *testing.T, data string, ins *insider, n int) []string {
	t.Helper()
	addrs, urls := make([]string, n), make([]string, n)
	for i := range addrs {
		addrs[i] = freeAddr(t)
		urls[i] = "https://" + addrs[i]
	}
	for i := range addrs {
		startProc(t, "collector", "--dir", data, "--instance", strconv.Itoa(i), "--listen", addrs[i], "--twin", urls[i^1])
	}
	for _, u := range urls {
		waitHealthy(t, ins, u)
	}
	return urls
}
