package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/powvote/powvote/campaign"
)

// The fault-injection suite runs the platform as separate processes (the
// edge, collector instances 0 and 1, the publisher) for one campaign,
// drives it with the real `powvote loadtest` and, in the middle of the
// timed phase, breaks one part: kill -9 and restart, a collector down for
// twenty seconds, a torn tail of votes.log, a full disk. Afterwards the
// load test's zero-loss verdict and `powvote audit` must both pass.
//
// By default TestFaults runs the scenarios marked short (a collector's and
// the publisher's kill -9, a full disk, a collector's disk lost and
// rebuilt from its twin: half a minute each at 300 votes/s for 10 s);
// POWVOTE_FAULTS=all runs every one at 300 votes/s for 30 s
// (scripts/faults.sh, make faults), POWVOTE_FAULTS=NAME,NAME the named
// ones.

// faultCampaign is the campaign every scenario creates afresh.
const faultCampaign = "faults"

// faultRig is one scenario's platform: four processes and, in front of
// them, the router a deployment puts before its public processes.
type faultRig struct {
	data    string
	ins     *insider
	colAddr [2]string
	colURL  [2]string
	colData [2]string // --data of each instance; "" for the default
	colSkew [2]string // --clock-skew of each instance; "" for none
	rebuild [2]bool   // start the instance with --rebuild
	col     [2]*proc
	edgeA   string
	edge    *proc
	pubA    string
	pub     *proc
	front   string // base URL of the router: the URL voters and auditors use
}

func newFaultRig(t *testing.T) *faultRig {
	t.Helper()
	r := &faultRig{data: filepath.Join(t.TempDir(), "pv")}
	mustRun(t, "init", faultCampaign, "--dir", r.data, "--threshold", "8", "--batch-size", "10",
		"--option", "Evil Neptune", "--option", "Humble Pluto", "--option", "Zürich")
	c, err := campaign.Load(r.data, faultCampaign)
	if err != nil {
		t.Fatal(err)
	}
	r.ins = insiders(t, c)
	for i := range 2 {
		r.colAddr[i] = freeAddr(t)
		r.colURL[i] = "https://" + r.colAddr[i]
	}
	r.edgeA, r.pubA = freeAddr(t), freeAddr(t)
	return r
}

// start brings up the collectors, the edge, the publisher and the router.
func (r *faultRig) start(t *testing.T) {
	t.Helper()
	for i := range 2 {
		r.startCollector(t, i)
	}
	for i := range 2 {
		waitHealthy(t, r.ins, r.colURL[i])
	}
	r.startEdge(t)
	r.startPublisher(t)
	r.front = startFront(t, "http://"+r.edgeA, "http://"+r.pubA)
}

func (r *faultRig) startCollector(t *testing.T, i int) {
	t.Helper()
	args := []string{"collector", "--dir", r.data, "--instance", fmt.Sprint(i), "--listen", r.colAddr[i], "--twin", r.colURL[1-i]}
	if r.colData[i] != "" {
		args = append(args, "--data", r.colData[i])
	}
	if r.colSkew[i] != "" {
		args = append(args, "--clock-skew", r.colSkew[i])
	}
	if r.rebuild[i] {
		args = append(args, "--rebuild")
	}
	r.col[i] = startProc(t, args...)
}

func (r *faultRig) startEdge(t *testing.T) {
	t.Helper()
	// Behind the front every connection comes from its address, as
	// behind a deployment's proxy: no per-address limit.
	r.edge = startProc(t, "edge", "--dir", r.data, "--listen", r.edgeA, "--pair", r.colURL[0]+","+r.colURL[1], "--max-conns-per-ip", "0")
}

func (r *faultRig) startPublisher(t *testing.T) {
	t.Helper()
	r.pub = startProc(t, "publisher", "--dir", r.data, "--listen", r.pubA, "--pair", r.colURL[0]+","+r.colURL[1], "--interval", "1s", "--max-conns-per-ip", "0")
}

// dumpOnFailure stops the processes of a failed scenario and logs the end
// of what each wrote on stderr (read only once the process has exited).
func (r *faultRig) dumpOnFailure(t *testing.T) {
	if !t.Failed() {
		return
	}
	for _, p := range []struct {
		name string
		p    *proc
	}{{"collector 0", r.col[0]}, {"collector 1", r.col[1]}, {"edge", r.edge}, {"publisher", r.pub}} {
		if p.p == nil {
			continue
		}
		p.p.cmd.Process.Signal(syscall.SIGKILL)
		select {
		case <-p.p.done:
		case <-time.After(10 * time.Second):
			t.Logf("%s did not exit after SIGKILL", p.name)
			continue
		}
		t.Logf("%s stderr (end):\n%s", p.name, loadTail(p.p.stderr.String(), 4000))
	}
}

// votesLogPath is instance i's votes.log.
func (r *faultRig) votesLogPath(i int) string {
	return filepath.Join(r.dataDir(i), "votes.log")
}

// dataDir is instance i's data directory.
func (r *faultRig) dataDir(i int) string {
	if r.colData[i] != "" {
		return r.colData[i]
	}
	return filepath.Join(r.data, faultCampaign, fmt.Sprintf("collector-%d", i))
}

// health returns the status of instance i's /health, 0 when it does not
// answer.
func (r *faultRig) health(i int) int {
	req, err := http.NewRequest("GET", r.colURL[i]+"/health", nil)
	if err != nil {
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := r.ins.as(campaign.RolePublisher).Do(req.WithContext(ctx))
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// startFront serves, on a loopback port, what a deployment's router in
// front of the public processes serves: the published files
// (/<campaign>-...) from the publisher, everything else from the edge.
// When the edge or the publisher is down it closes the client's
// connection without an answer, as the dead process itself would, so the
// load test sees what it would see talking to the edge directly.
func startFront(t *testing.T, edgeURL, pubURL string) string {
	t.Helper()
	proxy := func(target string) *httputil.ReverseProxy {
		u, err := url.Parse(target)
		if err != nil {
			t.Fatal(err)
		}
		p := httputil.NewSingleHostReverseProxy(u)
		p.Transport = &http.Transport{
			DialContext:           (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			MaxIdleConns:          2048,
			MaxIdleConnsPerHost:   1024,
			IdleConnTimeout:       time.Minute,
			ResponseHeaderTimeout: 60 * time.Second,
		}
		p.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) {
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
					return
				}
			}
			w.WriteHeader(http.StatusBadGateway)
		}
		return p
	}
	edge, pub := proxy(edgeURL), proxy(pubURL)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if strings.HasPrefix(req.URL.Path, "/"+faultCampaign+"-") {
				pub.ServeHTTP(w, req)
				return
			}
			edge.ServeHTTP(w, req)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// faultLoad is one run of `powvote loadtest` in the background.
type faultLoad struct {
	started chan time.Time // the timed phase began
	done    chan faultLoadResult
}

// faultReport is the part of `powvote loadtest --json` this suite reads
// beyond what TestLoadtest reads.
type faultReport struct {
	loadReport
	Sent             int      `json:"sent"`
	Refused          int      `json:"refused"`
	Unanswered       int      `json:"unanswered"`
	DupMandates      int      `json:"duplicated_mandates"`
	Altered          int      `json:"altered"`
	AuthListLines    int      `json:"auth_list_lines"`
	PublishedUnacked int      `json:"published_unacknowledged"`
	Notes            []string `json:"notes"`
}

type faultLoadResult struct {
	rep    faultReport
	code   int
	stdout string
	stderr string
	err    error
}

// startLoad runs `powvote loadtest` against the router at rate votes/s for
// d. The drain is long enough for votes retried across a restart or a
// twenty-second outage, and connection errors while the edge is down are
// retried like 503s.
func startLoad(r *faultRig, rate int, d time.Duration) *faultLoad {
	l := &faultLoad{started: make(chan time.Time, 1), done: make(chan faultLoadResult, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	cmd := exec.CommandContext(ctx, binary, "loadtest", "--edge", r.front, "--dir", r.data,
		"--rate", fmt.Sprint(rate), "--duration", d.String(), "--no-browse",
		"--drain", "60s", "--settle", "60s", "--json")
	var out bytes.Buffer
	cmd.Stdout = &out
	stderr, err := cmd.StderrPipe()
	if err != nil {
		cancel()
		l.done <- faultLoadResult{err: err}
		return l
	}
	if err := cmd.Start(); err != nil {
		cancel()
		l.done <- faultLoadResult{err: fmt.Errorf("start loadtest: %w", err)}
		return l
	}
	var errb bytes.Buffer
	go func() {
		defer cancel()
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			errb.WriteString(line + "\n")
			if !sent && strings.HasPrefix(line, "prepared ") {
				l.started <- time.Now()
				sent = true
			}
		}
		err := cmd.Wait()
		res := faultLoadResult{stdout: out.String(), stderr: errb.String()}
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			res.code = ee.ExitCode()
		case err != nil:
			res.err = fmt.Errorf("loadtest: %w", err)
		}
		if res.err == nil {
			if err := json.Unmarshal(out.Bytes(), &res.rep); err != nil {
				res.err = fmt.Errorf("loadtest exit %d, stdout not one JSON object: %w", res.code, err)
			}
		}
		close(l.started)
		l.done <- res
	}()
	return l
}

// faultScenario is one fault injected into a running platform.
type faultScenario struct {
	name  string
	short bool          // part of the default (make test) run
	at    time.Duration // into a 30 s timed phase; scaled to a shorter one
	// setup prepares the rig before the processes start (nil: nothing).
	setup func(t *testing.T, r *faultRig)
	// inject breaks something and repairs it; it runs on the test's
	// goroutine while the load goes on, and returns a note for the report.
	inject func(t *testing.T, r *faultRig) string
}

// faultOutcome is one scenario's line in the summary.
type faultOutcome struct {
	name                      string
	acked, published, unans   int
	lost, duplicated, dupMand int
	voteLines, authLines      int
	p99MS, maxMS              float64
	loadOK                    bool
	audit                     string
	note                      string
}

func TestFaults(t *testing.T) {
	sel := os.Getenv("POWVOTE_FAULTS")
	all := sel != ""
	rate, duration := 300, 10*time.Second
	if all {
		duration = 30 * time.Second
	}
	var outcomes []faultOutcome
	for _, sc := range faultScenarios() {
		if !(sc.short && sel == "") && sel != "all" && !slices.Contains(strings.Split(sel, ","), sc.name) {
			continue
		}
		t.Run(sc.name, func(t *testing.T) {
			// A scenario that stops early still gets its line.
			o := faultOutcome{name: sc.name, audit: "not run", note: "stopped early"}
			defer func() { outcomes = append(outcomes, o) }()
			runFaultScenario(t, sc, rate, duration, &o)
		})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "fault scenarios at %d votes/s for %v:\n", rate, duration)
	fmt.Fprintf(&b, "  %-28s %6s %9s %10s %4s %4s %7s %7s %8s %11s %5s  %s\n", "scenario", "acked", "published", "unanswered", "lost", "dup", "p99 ms", "max ms", "loadtest", "lists", "audit", "note")
	for _, o := range outcomes {
		verdict := "PASS"
		if !o.loadOK {
			verdict = "FAIL"
		}
		fmt.Fprintf(&b, "  %-28s %6d %9d %10d %4d %4d %7.0f %7.0f %8s %5d/%-5d %5s  %s\n", o.name, o.acked, o.published, o.unans,
			o.lost, o.duplicated+o.dupMand, o.p99MS, o.maxMS, verdict, o.voteLines, o.authLines, o.audit, o.note)
	}
	t.Log("\n" + b.String())
	if dir := os.Getenv("POWVOTE_ARTIFACTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err == nil {
			os.WriteFile(filepath.Join(dir, "faults.txt"), []byte(b.String()), 0o644)
		}
	}
}

// runFaultScenario runs one scenario on a fresh platform and fills in o.
func runFaultScenario(t *testing.T, sc faultScenario, rate int, duration time.Duration, o *faultOutcome) {
	r := newFaultRig(t)
	if sc.setup != nil {
		sc.setup(t, r)
	}
	r.start(t)
	load := startLoad(r, rate, duration)
	begun, ok := <-load.started
	if !ok {
		res := <-load.done
		t.Fatalf("loadtest ended before its timed phase: exit %d, %v\nstderr: %s", res.code, res.err, loadTail(res.stderr, 3000))
	}
	at := time.Duration(float64(sc.at) * duration.Seconds() / 30)
	time.Sleep(time.Until(begun.Add(at)))
	o.note = sc.inject(t, r)
	if o.note == "" {
		o.note = "-"
	}
	injected := time.Since(begun)
	res := <-load.done
	if res.err != nil {
		t.Fatalf("%v\nstderr: %s", res.err, loadTail(res.stderr, 3000))
	}
	rep := res.rep
	defer r.dumpOnFailure(t)
	o.acked, o.published, o.unans = rep.Acknowledged, rep.PublishedOnce, rep.Unanswered
	o.lost, o.duplicated, o.dupMand = rep.Lost, rep.Duplicated, rep.DupMandates
	o.p99MS, o.maxMS = rep.LatencyMS["p99"], rep.LatencyMS["max"]
	o.voteLines, o.authLines, o.loadOK = rep.VoteListLines, rep.AuthListLines, res.code == 0 && rep.OK
	t.Logf("%s: fault at %.1fs of the timed phase, repaired by %.1fs; acknowledged %d of %d, published once %d, lost %d, duplicated %d (mandates %d), lists %d/%d, status %v, notes %q",
		sc.name, at.Seconds(), injected.Seconds(), rep.Acknowledged, rep.Votes, rep.PublishedOnce, rep.Lost, rep.Duplicated, rep.DupMandates,
		rep.VoteListLines, rep.AuthListLines, rep.Status, rep.Notes)
	if !o.loadOK {
		t.Errorf("loadtest verdict: exit %d, ok %v, errors %q\nstderr tail: %s", res.code, rep.OK, rep.Errors, loadTail(res.stderr, 3000))
	}
	// published_once counts the acknowledged votes whose whole vote line
	// and whole voter line stand once in their lists, as sent; altered
	// the votes of the run published on another line (loadtest.CheckLists).
	if rep.Lost != 0 || rep.Duplicated != 0 || rep.DupMandates != 0 || rep.PendingBatch != 0 || rep.Altered != 0 || rep.PublishedOnce != rep.Acknowledged || !rep.ListLengthsEqual {
		t.Errorf("zero loss: lost %d, duplicated %d, mandates twice %d, pending %d, altered %d, published once %d of %d acknowledged, lengths equal %v",
			rep.Lost, rep.Duplicated, rep.DupMandates, rep.PendingBatch, rep.Altered, rep.PublishedOnce, rep.Acknowledged, rep.ListLengthsEqual)
	}
	// Votes acknowledged on both sides of the fault: the check above is
	// only worth something when load went on through it.
	if rep.Acknowledged < rep.Votes/2 {
		t.Errorf("only %d of %d votes acknowledged: the platform did not take load through the fault", rep.Acknowledged, rep.Votes)
	}
	if rep.VoteListLines < rep.Acknowledged {
		t.Errorf("votes list of %d lines for %d acknowledged votes", rep.VoteListLines, rep.Acknowledged)
	}

	// --strict wants the settings from elsewhere than the audited source:
	// the operator's campaign directory stands for the authority's copy.
	a := run(t, "audit", r.front, "--campaign", faultCampaign, "--strict",
		"--settings", filepath.Join(r.data, faultCampaign, campaign.SettingsFile))
	if a.code == 0 {
		o.audit = "PASS"
	} else {
		o.audit = "FAIL"
		t.Errorf("powvote audit %s: exit %d\nstdout: %s\nstderr: %s", r.front, a.code, loadTail(a.stdout, 3000), a.stderr)
	}
}

func faultScenarios() []faultScenario {
	restartCollector := func(i int) func(t *testing.T, r *faultRig) string {
		return func(t *testing.T, r *faultRig) string {
			r.col[i].kill(t)
			time.Sleep(time.Second)
			r.startCollector(t, i)
			waitHealthy(t, r.ins, r.colURL[i])
			return ""
		}
	}
	return []faultScenario{
		{name: "edge-kill9", at: 12 * time.Second, inject: func(t *testing.T, r *faultRig) string {
			r.edge.kill(t)
			time.Sleep(time.Second)
			r.startEdge(t)
			return ""
		}},
		{name: "collector0-kill9", short: true, at: 12 * time.Second, inject: restartCollector(0)},
		{name: "collector1-kill9", at: 12 * time.Second, inject: restartCollector(1)},
		{name: "publisher-kill9", short: true, at: 12 * time.Second, inject: func(t *testing.T, r *faultRig) string {
			r.pub.kill(t)
			time.Sleep(time.Second)
			r.startPublisher(t)
			return ""
		}},
		{name: "collector1-down-20s", at: 3 * time.Second, inject: collectorDown},
		{name: "collector1-disk-lost-rebuild", short: true, at: 10 * time.Second, inject: diskLost},
		{name: "collector1-sigstop-20s", at: 3 * time.Second, inject: collectorStopped},
		{name: "collector0-torn-tail", at: 12 * time.Second, inject: tornTail},
		{name: "collector0-disk-full", short: true, at: 8 * time.Second, setup: diskFullSetup, inject: diskFull(false)},
		{name: "collector0-disk-full-restart", at: 8 * time.Second, setup: diskFullSetup, inject: diskFull(true)},
		{name: "collector0-clock-behind-3m", at: 8 * time.Second, inject: skewCollector(0, "-3m")},
		{name: "collector1-clock-ahead-3m", at: 8 * time.Second, inject: skewCollector(1, "3m")},
	}
}

// skewCollector restarts instance i with its clock skewed by skew. Behind,
// it sees every platform stamp as coming from the future and refuses the
// votes (485); ahead, it sees them as minutes old, still within the
// campaign's maximum stamp age. Either way its twin takes the votes, and
// the mirror must bring them to it: every acknowledged vote published.
func skewCollector(i int, skew string) func(t *testing.T, r *faultRig) string {
	return func(t *testing.T, r *faultRig) string {
		r.col[i].kill(t)
		r.colSkew[i] = skew
		r.startCollector(t, i)
		waitHealthy(t, r.ins, r.colURL[i])
		return fmt.Sprintf("instance %d restarted with its clock %s", i, skew)
	}
}

// collectorDown kills instance 1, keeps it down for 20 s under load, and
// restarts it: before its /health says 204 it must hold every vote
// instance 0 held when it came back.
func collectorDown(t *testing.T, r *faultRig) string {
	r.col[1].kill(t)
	time.Sleep(20 * time.Second)
	before := votePayloads(t, r.votesLogPath(0))
	r.startCollector(t, 1)
	restarted := time.Now()
	var first time.Time
	not204 := 0
	deadline := time.Now().Add(60 * time.Second)
	for {
		if code := r.health(1); code == http.StatusNoContent {
			first = time.Now()
			break
		} else if code != 0 {
			not204++
		}
		if time.Now().After(deadline) {
			t.Fatal("instance 1 not healthy within 60 s of its restart")
		}
		time.Sleep(10 * time.Millisecond)
	}
	after := votePayloads(t, r.votesLogPath(1))
	missing := 0
	for p := range before {
		if !after[p] {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("instance 1 said 204 while it lacked %d of the %d votes instance 0 held before its restart", missing, len(before))
	}
	return fmt.Sprintf("caught up %d votes, healthy %.1fs after restart (%d non-204 answers first)", len(before), first.Sub(restarted).Seconds(), not204)
}

// diskLost kills instance 1 with SIGKILL, deletes its data directory, as a
// disk lost for good, and starts it again with --rebuild: it copies
// instance 0's state and only then serves, while the load goes on. Before
// its /health says 204 it must hold every vote instance 0 held when it
// started copying, and 503 is all it may answer before that.
func diskLost(t *testing.T, r *faultRig) string {
	r.col[1].kill(t)
	if err := os.RemoveAll(r.dataDir(1)); err != nil {
		t.Fatal(err)
	}
	before := votePayloads(t, r.votesLogPath(0))
	r.rebuild[1] = true
	r.startCollector(t, 1)
	r.rebuild[1] = false // a later restart opens what the rebuild wrote
	restarted := time.Now()
	other := 0
	for code := r.health(1); code != http.StatusNoContent; code = r.health(1) {
		if code != 0 && code != http.StatusServiceUnavailable {
			other++
		}
		if time.Since(restarted) > 60*time.Second {
			t.Fatal("instance 1 not healthy within 60 s of its rebuild")
		}
		time.Sleep(10 * time.Millisecond)
	}
	healthy := time.Since(restarted)
	after := votePayloads(t, r.votesLogPath(1))
	missing := 0
	for p := range before {
		if !after[p] {
			missing++
		}
	}
	if missing > 0 || other > 0 {
		t.Errorf("rebuilt instance 1 said 204 while it lacked %d of the %d votes instance 0 held before; %d answers other than 503 before",
			missing, len(before), other)
	}
	return fmt.Sprintf("rebuilt from instance 0 (%d votes), healthy %.1fs after start", len(before), healthy.Seconds())
}

// collectorStopped freezes instance 1 with SIGSTOP for 20 s under load and
// lets it go on: a hung twin, not a dead one.
func collectorStopped(t *testing.T, r *faultRig) string {
	p := r.col[1].cmd.Process
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Second)
	if err := p.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	eventually(t, "instance 1 answers /health 204 after SIGCONT", func() bool { return r.health(1) == http.StatusNoContent })
	return "stopped 20 s, then SIGCONT"
}

// tornTail kills instance 0 with SIGKILL, cuts its votes.log in the middle
// of the last record and appends half a record more, as a write torn by a
// power cut would leave it, and restarts it. Recovery must drop the torn
// bytes and the cut record must come back (from the database or the twin).
func tornTail(t *testing.T, r *faultRig) string {
	r.col[0].kill(t)
	path := r.votesLogPath(0)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	end := bytes.LastIndexByte(b, '\n')
	if end < 0 {
		t.Fatal("votes.log holds no record")
	}
	b = b[:end+1]
	start := bytes.LastIndexByte(b[:end], '\n') + 1
	last := b[start:]
	payload := string(last[9 : len(last)-1])
	torn := append(append([]byte{}, b[:start+len(last)/2]...), b[start:start+len(last)/3]...)
	if err := os.WriteFile(path, torn, 0o600); err != nil {
		t.Fatal(err)
	}
	r.startCollector(t, 0)
	waitHealthy(t, r.ins, r.colURL[0])
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Every line of the log is a whole record again.
	for i, line := range bytes.SplitAfter(got, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if len(line) < 10 || line[len(line)-1] != '\n' || line[8] != ' ' {
			t.Errorf("votes.log line %d after recovery is not a record: %q", i+1, line)
		}
	}
	if !votePayloads(t, path)[payload] {
		t.Errorf("the record cut in half (%.40q...) is not back in votes.log after recovery", payload)
	}
	return fmt.Sprintf("cut %d of %d bytes of the last record, appended %d", len(last)-len(last)/2, len(last), len(last)/3)
}

// faultMountSize is the size of the size-limited file system of the disk-full scenario.
const faultMountSize = 64 << 20

func diskFullSetup(t *testing.T, r *faultRig) {
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0700", faultMountSize), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("no size-limited file system for the disk-full scenario (mount -t tmpfs needs root): %v: %s", err, out)
	}
	t.Cleanup(func() {
		// The collector, killed by an earlier cleanup or not, must let go
		// of the mount before it can go.
		if r.col[0] != nil {
			r.col[0].cmd.Process.Kill()
		}
		for range 50 {
			if exec.Command("umount", dir).Run() == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("umount %s failed", dir)
	})
	r.colData[0] = filepath.Join(dir, "collector-0")
}

// diskFull fills instance 0's file system for 10 s under load, then frees
// it. The instance must not acknowledge what it could not store (the edge
// then answers from its twin), and once the disk has room again the pair
// must publish every acknowledged vote. With restart, an operator restarts
// the instance (kill -9, start) once the disk has room, as after an alert;
// without, the platform must recover by itself.
func diskFull(restart bool) func(t *testing.T, r *faultRig) string {
	return func(t *testing.T, r *faultRig) string {
		fill := filepath.Join(filepath.Dir(r.colData[0]), "fill")
		f, err := os.OpenFile(fill, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		chunk := make([]byte, 64<<10)
		filled := 0
		for {
			n, err := f.Write(chunk)
			filled += n
			if err != nil {
				break
			}
		}
		f.Close()
		var exitErr error
		exited := false
		for end := time.Now().Add(10 * time.Second); !exited && time.Now().Before(end); {
			select {
			case exitErr = <-r.col[0].done:
				exited = true
			case <-time.After(100 * time.Millisecond):
			}
		}
		if err := os.Remove(fill); err != nil {
			t.Fatal(err)
		}
		note := fmt.Sprintf("disk full (%d MiB filler) for 10 s", filled>>20)
		switch {
		case exited:
			t.Logf("instance 0 exited while its disk was full (%v); stderr: %s", exitErr, loadTail(r.col[0].stderr.String(), 2000))
			note += fmt.Sprintf("; instance 0 exited (%v), restarted", exitErr)
			r.startCollector(t, 0)
		case restart:
			r.col[0].kill(t)
			r.startCollector(t, 0)
			note += "; instance 0 restarted by the operator"
		default:
			note += "; no restart"
		}
		eventually(t, "instance 0 answers /health 204 once its disk has room", func() bool { return r.health(0) == http.StatusNoContent })
		return note
	}
}

// votePayloads returns the set of vote lines in a votes.log: whole, framed
// records only (a line still being written is left out), retractions left
// out.
func votePayloads(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if len(line) < 10 || line[len(line)-1] != '\n' || line[8] != ' ' {
			continue
		}
		p := string(line[9 : len(line)-1])
		if !strings.HasPrefix(p, "retract ") {
			set[p] = true
		}
	}
	return set
}
