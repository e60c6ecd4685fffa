package publisher

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/powvote/powvote/internal/mtls"
	"github.com/powvote/powvote/listline"
)

// TestPublishMergesPairs feeds two pairs of real collectors as the edge
// would, and as an edge that reached only one instance of a pair would,
// and checks that every vote and every voter is published exactly once.
func TestPublishMergesPairs(t *testing.T) {
	tc := newTestCampaign(t)
	pairs := []*testPair{startPair(t, tc, 0), startPair(t, tc, 1)}
	tp := newPublisher(t, tc, t.TempDir(), pairs, nil)

	var voters []listline.Voter
	var votes []listline.Vote
	for k, pr := range pairs {
		for j := range 15 {
			m, v := tc.mandate(t), tc.vote(t, j, 1)
			switch j % 3 {
			case 0: // the usual case: the edge reaches both
				tc.cast(t, pr.urls[0], m, v)
				tc.cast(t, pr.urls[1], m, v)
			case 1: // the twin gets it by sync
				tc.cast(t, pr.urls[0], m, v)
			case 2:
				tc.cast(t, pr.urls[1], m, v)
			}
			voters, votes = append(voters, m), append(votes, v)
		}
		// A round while the instances may still be syncing: whatever it
		// publishes obeys the invariants (checked by round).
		tp.mustRound(t)
		eventually(t, fmt.Sprintf("pair %d converged", k), func() bool { return pr.converged(15, 15) })
	}
	tp.mustRound(t)
	tp.wantPublished(t, voters, votes)
	if s := tp.Status(); s != (Status{Lines: 30}) {
		t.Errorf("status %+v, want 30 lines and nothing held", s)
	}

	// Nothing new: a round changes nothing, not even the state file.
	before, err := os.ReadFile(filepath.Join(tp.dir, "solar-state.json"))
	if err != nil {
		t.Fatal(err)
	}
	tp.mustRound(t)
	after, _ := os.ReadFile(filepath.Join(tp.dir, "solar-state.json"))
	if string(before) != string(after) {
		t.Errorf("an idle round rewrote the state:\n%s\n%s", before, after)
	}
}

// TestRestartResumes restarts the publisher while a vote is known to one
// instance only, with a torn tail on a list, and checks that it publishes
// the rest once, without duplicates.
func TestRestartResumes(t *testing.T) {
	tc := newTestCampaign(t)
	pr := startPair(t, tc, 0)
	dir := t.TempDir()
	tp := newPublisher(t, tc, dir, []*testPair{pr}, nil)

	pr.setTwins(false)
	var voters []listline.Voter
	var votes []listline.Vote
	for j := range 6 {
		m, v := tc.mandate(t), tc.vote(t, j, 1)
		tc.cast(t, pr.urls[0], m, v)
		if j < 4 {
			tc.cast(t, pr.urls[1], m, v)
		}
		voters, votes = append(voters, m), append(votes, v)
	}
	tp.mustRound(t)
	tp.wantPublished(t, voters[:4], votes[:4])
	if s := tp.Status(); s.Lines != 4 || s.Pending != 2 || s.HeldVotes != 0 || s.HeldVoters != 0 {
		t.Errorf("status %+v, want 4 lines and 2 votes pending", s)
	}
	// Instance 0 showed records 1 to 6; 5 and 6 are still open.
	if c := tp.st.Cursors[0]; c != [2]uint64{5, 5} {
		t.Errorf("cursors %v, want [5 5]", c)
	}
	tp.Close()

	// A crash in the middle of a round leaves lines beyond the commit.
	for _, name := range []string{"solar-vote.log", "solar-auth.log"} {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("half a line")
		f.Close()
	}
	tp = newPublisher(t, tc, dir, []*testPair{pr}, nil)
	if !strings.Contains(tp.log.String(), "cutting lines that were written but never published") {
		t.Errorf("no word of the cut tail in the log:\n%s", tp.log)
	}
	tp.check(t)
	tp.mustRound(t)
	tp.wantPublished(t, voters[:4], votes[:4])

	pr.setTwins(true)
	eventually(t, "pair converged", func() bool { return pr.converged(6, 6) })
	tp.mustRound(t)
	tp.wantPublished(t, voters, votes)

	// Once more from the start: nothing is published twice.
	tp.Close()
	tp = newPublisher(t, tc, dir, []*testPair{pr}, nil)
	tp.mustRound(t)
	tp.wantPublished(t, voters, votes)
	if s := tp.Status(); s != (Status{Lines: 6}) {
		t.Errorf("status %+v after restart, want 6 lines and nothing held", s)
	}
}

// TestSplitVote makes both instances of a pair accept a different vote for
// one mandate while they cannot see each other: the publisher holds both
// back, then publishes the winner once the twins have applied the mirror
// rule, and never the loser.
func TestSplitVote(t *testing.T) {
	tc := newTestCampaign(t)
	pr := startPair(t, tc, 0)
	tp := newPublisher(t, tc, t.TempDir(), []*testPair{pr}, nil)

	var voters []listline.Voter
	var votes []listline.Vote
	for j := range 2 {
		m, v := tc.mandate(t), tc.vote(t, j, 1)
		tc.cast(t, pr.urls[0], m, v)
		tc.cast(t, pr.urls[1], m, v)
		voters, votes = append(voters, m), append(votes, v)
	}
	pr.setTwins(false)
	m := tc.mandate(t)
	winner, loser := tc.vote(t, 0, 2), tc.vote(t, 1, 1) // the older stamp wins
	tc.cast(t, pr.urls[0], m, winner)
	tc.cast(t, pr.urls[1], m, loser)

	// The split mandate is on both instances, so it is final; which two
	// of the three final voters go out with the two final votes is the
	// order's business, not the test's.
	tp.mustRound(t)
	if got, _ := tp.lists(t); len(got) != 2 || strings.Contains(strings.Join(got, "\n"), winner.Voter) || strings.Contains(strings.Join(got, "\n"), loser.Voter) {
		t.Errorf("votes published during the split:\n%s", strings.Join(got, "\n"))
	}
	if s := tp.Status(); s.Lines != 2 || s.Pending != 2 || s.HeldVoters != 1 || s.HeldVotes != 0 {
		t.Errorf("status %+v during the split, want 2 lines, 2 votes pending, a voter held", s)
	}

	pr.setTwins(true)
	retraction := "retract " + hex.EncodeToString(loser.Nonce)
	eventually(t, "instance 1 retracted the losing vote", func() bool {
		r := tc.records(t, pr.urls[1])
		return strings.Contains(r, retraction) && strings.Contains(r, winner.Line())
	})
	tp.mustRound(t)
	tp.wantPublished(t, append(voters, m), append(votes, winner))
	if s := tp.Status(); s != (Status{Lines: 3}) {
		t.Errorf("status %+v, want 3 lines, nothing held, no anomaly", s)
	}
}

// TestInstanceDown checks that a pair publishes nothing new while one of
// its instances does not answer, and catches up when it is back.
func TestInstanceDown(t *testing.T) {
	tc := newTestCampaign(t)
	pr := startPair(t, tc, 0)
	tp := newPublisher(t, tc, t.TempDir(), []*testPair{pr}, nil)
	pr.pub[1].set(false)

	var voters []listline.Voter
	var votes []listline.Vote
	for j := range 3 {
		m, v := tc.mandate(t), tc.vote(t, j, 1)
		tc.cast(t, pr.urls[0], m, v)
		tc.cast(t, pr.urls[1], m, v)
		voters, votes = append(voters, m), append(votes, v)
	}
	for range 2 {
		err := tp.round(t)
		if err == nil || !strings.Contains(err.Error(), "pair 0 instance 1") || !strings.Contains(err.Error(), "status 503") {
			t.Fatalf("round with instance 1 down: %v", err)
		}
	}
	tp.wantPublished(t, nil, nil)
	if n := strings.Count(tp.log.String(), "collector not answering"); n != 1 {
		t.Errorf("%d warnings about the instance down over two rounds, want 1:\n%s", n, tp.log)
	}

	pr.pub[1].set(true)
	tp.mustRound(t)
	tp.wantPublished(t, voters, votes)
	if !strings.Contains(tp.log.String(), "collector answering again") {
		t.Errorf("no word of the instance coming back:\n%s", tp.log)
	}
}

// TestWriteFailureStops makes a list unwritable: the round fails with
// ErrFailed, every later round too, and a restart publishes everything
// once.
func TestWriteFailureStops(t *testing.T) {
	tc := newTestCampaign(t)
	pr := startPair(t, tc, 0)
	dir := t.TempDir()
	tp := newPublisher(t, tc, dir, []*testPair{pr}, nil)
	m, v := tc.mandate(t), tc.vote(t, 0, 1)
	tc.cast(t, pr.urls[0], m, v)
	tc.cast(t, pr.urls[1], m, v)

	// The voters list is written second: the votes list gets its line,
	// the state does not.
	ro, err := os.Open(filepath.Join(dir, "solar-auth.log"))
	if err != nil {
		t.Fatal(err)
	}
	rw := tp.files[votersList]
	tp.files[votersList] = ro
	err = tp.PullOnce(context.Background())
	tp.files[votersList] = rw
	ro.Close()
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("round with an unwritable list: %v, want ErrFailed", err)
	}
	if err := tp.PullOnce(context.Background()); !errors.Is(err, ErrFailed) {
		t.Fatalf("round after a failure: %v, want ErrFailed", err)
	}
	if s := tp.snap.Load(); s.size != [4]int64{0, 0, 0, 0} {
		t.Errorf("handlers serve %v bytes of lists that were not committed", s.size)
	}
	tp.Close()

	tp = newPublisher(t, tc, dir, []*testPair{pr}, nil)
	tp.check(t)
	tp.mustRound(t)
	tp.wantPublished(t, []listline.Voter{m}, []listline.Vote{v})
}

// TestNewRefuses checks that New refuses, naming the problem, a
// configuration that cannot work and files that contradict each other.
func TestNewRefuses(t *testing.T) {
	var clock tickClock
	good := func(dir string) Config {
		return Config{Campaign: "solar", Pairs: [][2]string{{"http://10.0.0.1:9100", "http://10.0.0.2:9100"}}, Link: mtls.NewPlain("solar").Link("publisher", mtls.AnyInstance), Dir: dir, Clock: clock.now}
	}
	for _, tc := range []struct {
		name  string
		tweak func(*Config)
		msg   string
	}{
		{"bad name", func(c *Config) { c.Campaign = "Solar" }, "Campaign"},
		{"no pairs", func(c *Config) { c.Pairs = nil }, "Pairs"},
		{"twin is itself", func(c *Config) { c.Pairs[0][1] = c.Pairs[0][0] }, "Pairs[0][1]"},
		{"not a URL", func(c *Config) { c.Pairs[0][0] = "10.0.0.1:9100" }, "Pairs[0][0]"},
		{"credentials stay out", func(c *Config) { c.Pairs[0][0] = "ftp://u:hunter2@x" }, "ftp://x"},
		{"no link", func(c *Config) { c.Link = nil }, "Link"},
		{"no dir", func(c *Config) { c.Dir = "" }, "Dir"},
		{"negative interval", func(c *Config) { c.Interval = -1 }, "Interval"},
	} {
		cfg := good(t.TempDir())
		tc.tweak(&cfg)
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), tc.msg) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: New: %v, want an error naming %q", tc.name, err, tc.msg)
		}
	}

	// Files that contradict each other.
	dir := t.TempDir()
	p, err := New(good(dir))
	if err != nil {
		t.Fatal(err)
	}
	p.voteQueue = []*pendingVote{{vote: listline.Vote{Nonce: []byte("12345678")}, line: exampleVote}}
	p.voterQueue = []listline.Voter{{}}
	if err := p.publish(); err != nil {
		t.Fatal(err)
	}
	p.Close()
	cfg := good(dir)
	cfg.Pairs = append(cfg.Pairs, [2]string{"http://10.0.0.3:9100", "http://10.0.0.4:9100"})
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "pairs never change") {
		t.Errorf("New with another pair: %v", err)
	}
	votesPath := filepath.Join(dir, "solar-vote.log")
	if err := os.Truncate(votesPath, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := New(good(dir)); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "but 176 were published") {
		t.Errorf("New with a short list: %v", err)
	}
	if err := os.Remove(filepath.Join(dir, "solar-state.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := New(good(dir)); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "refusing to guess") {
		t.Errorf("New with lists and no state: %v", err)
	}
}

// TestRunShutsDown runs the publisher on loopback with no collector
// answering and checks that it serves, then stops when told.
func TestRunShutsDown(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + dead.Addr().String()
	dead.Close()
	log := &logBuffer{}
	p, err := New(Config{
		Campaign: "solar", Pairs: [][2]string{{deadURL, deadURL + "/other"}}, Link: mtls.NewPlain("solar").Link("publisher", mtls.AnyInstance), Dir: t.TempDir(),
		Logger: newTextLogger(log),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, ln) }()
	resp := get(t, "http://"+ln.Addr().String()+"/solar-vote.log", nil)
	if resp.status != 200 || resp.body != "" {
		t.Errorf("empty list: %d %q", resp.status, resp.body)
	}
	// The first round's pulls run beside the serving; on a loaded machine
	// they may not have failed yet when the list was served.
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(log.String(), "collector not answering") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if !strings.Contains(log.String(), "collector not answering") {
		t.Errorf("no warning about the dead collectors:\n%s", log)
	}
}
