package publisher

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/powvote/powvote/listline"
)

// TestRebuiltInstance: instance 1 of a pair loses its disk, with votes
// only it held, and is rebuilt from instance 0 at the same address. Its vote log has a new identity,
// so the publisher reads it again from the start: the votes only instance
// 0 held while the twins were cut off get published, every vote once,
// those queued at the moment of the rebuild too, and a publisher started
// again afterwards from its state publishes nothing twice either.
func TestRebuiltInstance(t *testing.T) {
	t.Parallel()
	tc := newTestCampaign(t)
	pr := startPair(t, tc, 0)
	dir := t.TempDir()
	batch4 := func(c *Config) { c.BatchSize = 4 }
	pub := newPublisher(t, tc, dir, []*testPair{pr}, batch4)

	var voters []listline.Voter
	var votes []listline.Vote
	castBoth := func(n int) {
		for range n {
			m, v := tc.mandate(t), tc.vote(t, len(votes), 5)
			tc.cast(t, pr.urls[0], m, v)
			tc.cast(t, pr.urls[1], m, v)
			voters, votes = append(voters, m), append(votes, v)
		}
	}
	castBoth(10)
	eventually(t, "the twins converge", func() bool { return pr.converged(10, 10) })
	pub.mustRound(t)
	// Votes of instance 0 alone, which instance 1 never gets, then the
	// lost disk: instance 1 stops.
	pr.setTwins(false)
	for range 3 {
		m, v := tc.mandate(t), tc.vote(t, len(votes), 5)
		tc.cast(t, pr.urls[0], m, v)
		voters, votes = append(voters, m), append(votes, v)
	}
	// And votes that only instance 1 took, lost with its disk: its old log
	// is longer than the new one will be, and its indexes mean other
	// votes there.
	for range 5 {
		tc.cast(t, pr.urls[1], tc.mandate(t), tc.vote(t, 0, 5))
	}
	pub.mustRound(t)
	// Votes are queued, final but not yet published (batches of 4),
	// when instance 1's log changes: they must not be queued again.
	if st := pub.Status(); st.Lines == 0 || st.HeldVotes == 0 {
		t.Fatalf("status before the rebuild: %+v, want lines published and votes queued", st)
	}
	addr := strings.TrimPrefix(pr.urls[1], "http://")
	pr.stop[1]()
	pr.setTwins(true)

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	pr.run(t, tc, 1, ln, t.TempDir(), true)
	pr.ready(t, tc)
	eventually(t, "the rebuilt instance holds every vote", func() bool { return pr.converged(len(votes), len(votes)) })
	castBoth(3)
	eventually(t, "the twins converge", func() bool { return pr.converged(len(votes), len(votes)) })
	flush := func(p *testPublisher) {
		t.Helper()
		// Rounds until every vote is final (the rebuilt log read again),
		// then a flush publishes what batches keep back.
		deadline := time.Now().Add(20 * time.Second)
		for st := p.Status(); st.Lines+int64(st.HeldVotes) < int64(len(votes)) && time.Now().Before(deadline); st = p.Status() {
			p.mustRound(t)
		}
		if err := p.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		p.rounds = append(p.rounds, p.Status().Lines)
		p.check(t)
	}
	flush(pub)
	pub.wantPublished(t, voters, votes)
	if st := pub.Status(); st.Anomalies != 0 {
		t.Errorf("%d anomalies", st.Anomalies)
	}
	if !strings.Contains(pub.log.String(), "new identity") {
		t.Error("the publisher did not log the new log identity")
	}

	// A publisher started again from the state reads on from its cursors
	// in the new log, and publishes nothing twice.
	pub.Close()
	again := newPublisher(t, tc, dir, []*testPair{pr}, batch4)
	castBoth(4)
	eventually(t, "the twins converge", func() bool { return pr.converged(len(votes), len(votes)) })
	flush(again)
	again.wantPublished(t, voters, votes)
	if strings.Contains(again.log.String(), "new identity") {
		t.Error("the restarted publisher took a log it had read for a new one")
	}
}
