package publisher

import (
	"context"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/powvote/powvote/internal/operator/operatortest"
	"github.com/powvote/powvote/listline"
)

// TestMetrics runs rounds with an instance down, then up, and reads back
// the pull errors, the votes pending and queued, the age of the oldest
// unpublished vote, the lines of each list (equal to the files'), the
// checkpoints' sizes and the rounds.
func TestMetrics(t *testing.T) {
	tc := newTestCampaign(t)
	pr := startPair(t, tc, 0)
	set := metrics.NewSet()
	// A clock 100 s ahead of the votes' stamps, one second further at
	// every reading, so that every round may publish.
	base := time.Now().Unix() + 100
	var ticks atomic.Int64
	tp := newPublisher(t, tc, t.TempDir(), []*testPair{pr}, func(c *Config) {
		c.Metrics = set
		c.Clock = func() time.Time { return time.Unix(base+ticks.Add(1), 0) }
	})
	pr.pub[1].set(false)

	const n = 3
	var votes []listline.Vote
	var voters []listline.Voter
	for j := range n {
		m, v := tc.mandate(t), tc.vote(t, j, int64(j)) // stamps 0, 1 and 2 s old
		tc.cast(t, pr.urls[0], m, v)
		tc.cast(t, pr.urls[1], m, v)
		votes, voters = append(votes, v), append(voters, m)
	}
	for range 2 {
		if err := tp.round(t); err == nil {
			t.Fatal("round with instance 1 down: no error")
		}
	}
	c := []string{"campaign", "solar"}
	pair := append(c, "pair", "0")
	with := func(l []string, kv ...string) []string { return append(append([]string(nil), l...), kv...) }
	oldest, _ := strconv.ParseInt(votes[n-1].PUTC, 10, 64)

	s := operatortest.Scrape(t, set)
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"powvote_publisher_rounds_total", c, 2},
		{"powvote_publisher_round_duration_seconds_count", c, 2},
		{"powvote_publisher_pull_errors_total", with(pair, "instance", "1"), 2},
		{"powvote_publisher_pull_errors_total", with(pair, "instance", "0"), 0},
		{"powvote_publisher_pending_votes", pair, n},
		{"powvote_publisher_queued_votes", pair, 0},
		{"powvote_publisher_queued_voters", c, 0},
		{"powvote_publisher_lines", with(c, "list", "vote"), 0},
		{"powvote_publisher_anomalies_total", c, 0},
		{"powvote_publisher_closed", c, 0},
		{"powvote_publisher_ready", c, 0}, // not serving: Run does not run
	} {
		if got := s.Get(t, tc.name, tc.labels...); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if got := tp.m.oldest.Load(); got != oldest {
		t.Errorf("oldest unpublished P-UTC %d, want %d, the oldest stamp's", got, oldest)
	}
	if age := s.Get(t, "powvote_publisher_oldest_unpublished_vote_age_seconds", c...); age < 100 || age > 200 {
		t.Errorf("oldest unpublished vote age %v s, want about 100 (the clock's lead, plus its ticks)", age)
	}

	pr.pub[1].set(true)
	tp.mustRound(t)
	tp.wantPublished(t, voters, votes)
	listVotes, listVoters := tp.lists(t)
	s = operatortest.Scrape(t, set)
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"powvote_publisher_rounds_total", c, 3},
		{"powvote_publisher_lines", with(c, "list", "vote"), float64(len(listVotes))},
		{"powvote_publisher_lines", with(c, "list", "auth"), float64(len(listVoters))},
		{"powvote_publisher_lines", with(c, "list", "vote"), n},
		{"powvote_publisher_lines", with(c, "list", "retracted"), 0},
		{"powvote_publisher_checkpoint_size", with(c, "list", "vote"), n},
		{"powvote_publisher_checkpoint_size", with(c, "list", "auth"), n},
		{"powvote_publisher_pending_votes", pair, 0},
		{"powvote_publisher_queued_votes", pair, 0},
		{"powvote_publisher_oldest_unpublished_vote_age_seconds", c, 0},
		{"powvote_publisher_pull_errors_total", with(pair, "instance", "1"), 2},
	} {
		if got := s.Get(t, tc.name, tc.labels...); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}

	// The anomalies the merge rule and the queue count, added up.
	tp.roundMu.Lock()
	tp.pairs[0].anomalies += 2
	tp.anomalies++
	tp.roundMu.Unlock()
	tp.mustRound(t)
	if got := operatortest.Scrape(t, set).Get(t, "powvote_publisher_anomalies_total", c...); got != 3 {
		t.Errorf("anomalies %v, want 3", got)
	}
	s.CheckLabels(t, "powvote_publisher_", "campaign", "pair", "instance", "list")
}

// TestReady checks what Ready says before Run, while an instance is down,
// and once a round has reached both.
func TestReady(t *testing.T) {
	tc := newTestCampaign(t)
	pr := startPair(t, tc, 0)
	tp := newPublisher(t, tc, t.TempDir(), []*testPair{pr}, func(c *Config) { c.Interval = 20 * time.Millisecond })
	if err := tp.Ready(); err == nil || err.Error() != "publisher of solar: not serving" {
		t.Errorf("Ready before Run = %v", err)
	}
	pr.pub[1].set(false)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tp.Run(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	eventually(t, "a round with instance 1 down", func() bool { return tp.m.rounds.Get() >= 1 && tp.m.serving.Load() })
	if err := tp.Ready(); err == nil || err.Error() != "publisher of solar: waiting for a round that reaches every collector" {
		t.Errorf("Ready with instance 1 down = %v", err)
	}
	pr.pub[1].set(true)
	eventually(t, "ready", func() bool { return tp.Ready() == nil })
}

func TestCheckpointSize(t *testing.T) {
	for _, tc := range []struct {
		cp   string
		want int64
	}{
		{"", 0},
		{"example.org/solar-vote\n12\nhash=\n\n— sig\n", 12},
		{"origin\nnot a number\n", 0},
		{"origin only", 0},
	} {
		if got := checkpointSize([]byte(tc.cp)); got != tc.want {
			t.Errorf("checkpointSize(%q) = %d, want %d", tc.cp, got, tc.want)
		}
	}
}
