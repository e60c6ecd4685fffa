package collector_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/powvote/powvote/collector"
	"github.com/powvote/powvote/internal/operator/operatortest"
)

// TestMetricsTwins runs a pair whose instances share one set of metrics,
// as powvote up runs them, votes through both, and reads the counts back:
// what each acknowledged, what each stores (every vote of the pair), the
// refusals by code, the pairs each applied from its twin, and the twin lag
// once they agree.
func TestMetricsTwins(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	set := metrics.NewSet()
	lnA, lnB := listen(t, "127.0.0.1:0"), listen(t, "127.0.0.1:0")
	cfgA := e.twinConfig(t.TempDir(), "http://"+lnB.Addr().String())
	cfgB := e.twinConfig(t.TempDir(), "http://"+lnA.Addr().String())
	cfgB.Instance = 1
	cfgA.Metrics, cfgB.Metrics = set, set
	a, b := e.startOn(t, cfgA, lnA), e.startOn(t, cfgB, lnB)
	e.healthy(t, a)
	e.healthy(t, b)

	const toA, toB = 4, 3
	var first *ballot
	for i := range toA + toB {
		bl := e.newBallot(t, testOptions[i%len(testOptions)])
		in := a
		if i >= toA {
			in = b
		}
		e.mustVote(t, in, bl)
		if i == 0 {
			first = bl
		}
	}
	for _, in := range []*instance{a, b} {
		eventually(t, in.addr+" holds every vote", func() bool { _, n := in.srv.Counts(); return n == toA+toB })
	}
	// Through B: the first vote again (a repeat), another vote of its
	// mandate (481), and a malformed one (400).
	e.mustVote(t, b, first)
	other := first.clone()
	e.restamp(t, other, e.clock.Now())
	wantEmpty(t, e.vote(t, b, other), 481)
	bad := e.newBallot(t, testOptions[0])
	bad.nonce = "not hex"
	wantEmpty(t, e.vote(t, b, bad), 400)
	if r := e.stampRequest(t, a, "5", ""); r.code != 200 {
		t.Fatalf("GET /stamp: %d", r.code)
	}

	inst := func(i string) []string { return []string{"campaign", "solar", "pair", "0", "instance", i} }
	with := func(l []string, kv ...string) []string { return append(append([]string(nil), l...), kv...) }
	// Each has pulled since the other's last vote once the lag is 0 on
	// both and the pairs applied add up.
	eventually(t, "the twins' lag is 0", func() bool {
		s := operatortest.Scrape(t, set)
		return s[operatortest.Key("powvote_collector_twin_lag_records", inst("0")...)] == 0 &&
			s[operatortest.Key("powvote_collector_twin_lag_records", inst("1")...)] == 0 &&
			s[operatortest.Key("powvote_collector_twin_pairs_applied_total", inst("0")...)] == toB &&
			s[operatortest.Key("powvote_collector_twin_pairs_applied_total", inst("1")...)] == toA
	})
	s := operatortest.Scrape(t, set)
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"powvote_collector_votes_acknowledged_total", inst("0"), toA},
		{"powvote_collector_votes_acknowledged_total", inst("1"), toB},
		{"powvote_collector_votes_repeated_total", inst("1"), 1},
		{"powvote_collector_votes_repeated_total", inst("0"), 0},
		{"powvote_collector_votes_stored", inst("0"), toA + toB},
		{"powvote_collector_votes_stored", inst("1"), toA + toB},
		{"powvote_collector_voters_stored", inst("1"), toA + toB},
		{"powvote_collector_votes_refused_total", with(inst("1"), "code", "481"), 1},
		{"powvote_collector_votes_refused_total", with(inst("1"), "code", "400"), 1},
		{"powvote_collector_votes_refused_total", with(inst("0"), "code", "481"), 0},
		{"powvote_collector_votes_failed_total", inst("0"), 0},
		{"powvote_collector_stamps_signed_total", inst("0"), 5},
		{"powvote_collector_stamps_signed_total", inst("1"), 0},
		{"powvote_collector_ready", inst("0"), 1},
		{"powvote_collector_ready", inst("1"), 1},
		{"powvote_collector_requests_refused_total", with(inst("0"), "reason", "unauthorized"), 0},
	} {
		if got := s.Get(t, tc.name, tc.labels...); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	// The last successful pull is recent: the twins pull every 20 ms on a
	// clock that does not move.
	if age := s.Get(t, "powvote_collector_twin_last_pull_age_seconds", inst("0")...); age != 0 {
		t.Errorf("last pull age %v s on a clock that stands still, want 0", age)
	}
	// Links are held until the twin confirms them: at most every vote
	// each accepted.
	if links := s.Get(t, "powvote_collector_links_held", inst("0")...); links > toA {
		t.Errorf("instance 0 holds %v links, more than the %d votes it accepted", links, toA)
	}
	s.CheckLabels(t, "powvote_collector_", "campaign", "pair", "instance", "code", "reason")
}

// TestMetricsGroupCommit checks the group commit's histograms: votes sent
// one after the other make one group each.
func TestMetricsGroupCommit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	set := metrics.NewSet()
	cfg := e.config(t.TempDir())
	cfg.Metrics = set
	in := e.start(t, cfg)
	e.healthy(t, in)
	const n = 5
	for i := range n {
		e.mustVote(t, in, e.newBallot(t, testOptions[i%len(testOptions)]))
	}
	s := operatortest.Scrape(t, set)
	l := []string{"campaign", "solar", "pair", "0", "instance", "0"}
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"powvote_collector_group_commit_requests_count", l, n},
		{"powvote_collector_group_commit_requests_sum", l, n},
		{"powvote_collector_group_commit_requests_bucket", append(l, "le", "1"), n},
		{"powvote_collector_group_commit_seconds_count", l, n},
		{"powvote_collector_votes_acknowledged_total", l, n},
		{"powvote_collector_votes_stored", l, n},
		{"powvote_collector_twin_last_pull_age_seconds", l, 0}, // no twin
	} {
		if got := s.Get(t, tc.name, tc.labels...); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
}

// TestReady checks what Ready says before Run, while the instance catches
// up from a twin that does not answer, and once it takes votes.
func TestReady(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// A twin that accepts connections and never answers.
	mute := listen(t, "127.0.0.1:0")
	t.Cleanup(func() { mute.Close() })
	go func() {
		for {
			c, err := mute.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	set := metrics.NewSet()
	cfg := e.twinConfig(t.TempDir(), "http://"+mute.Addr().String())
	cfg.CatchUpTimeout = 2 * time.Second
	cfg.Metrics = set
	ln := listen(t, "127.0.0.1:0")
	in := e.startOn(t, cfg, ln)
	eventually(t, "the instance serves", func() bool {
		err := in.srv.Ready()
		return err != nil && !strings.HasSuffix(err.Error(), "not serving")
	})
	if err := in.srv.Ready(); err == nil || err.Error() != "collector 0 of solar: catching up from its twin" {
		t.Errorf("Ready while catching up = %v", err)
	}
	if got := operatortest.Scrape(t, set).Get(t, "powvote_collector_ready", "campaign", "solar", "pair", "0", "instance", "0"); got != 0 {
		t.Errorf("ready gauge while catching up = %v, want 0", got)
	}
	e.healthy(t, in)
	if err := in.srv.Ready(); err != nil {
		t.Errorf("Ready once taking votes = %v", err)
	}
	in.stop()
	if err := in.srv.Ready(); err == nil || err.Error() != "collector 0 of solar: not serving" {
		t.Errorf("Ready after Run returned = %v", err)
	}
}

// TestMetricsAfterFailedOpen checks that an instance whose store does not
// open leaves nothing in a shared set: the same instance then starts with
// that set (it would panic on a metric registered twice).
func TestMetricsAfterFailedOpen(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	set := metrics.NewSet()
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := e.config(filepath.Join(notDir, "data"))
	cfg.Metrics = set
	if _, err := collector.New(cfg); err == nil {
		t.Fatal("New over a file: no error")
	}
	if names := set.ListMetricNames(); len(names) != 0 {
		t.Errorf("a failed New left %v in the set", names)
	}
	cfg.Dir = t.TempDir()
	in := e.start(t, cfg)
	e.healthy(t, in)
	if got := operatortest.Scrape(t, set).Get(t, "powvote_collector_votes_stored", "campaign", "solar", "pair", "0", "instance", "0"); got != 0 {
		t.Errorf("votes stored %v, want 0", got)
	}
}
