package publisher

import (
	"net"
	"strings"
	"testing"

	"github.com/powvote/powvote/listline"
)

// TestVoterCursor checks that a round reads the voters new since the last
// round, not the voter tables: with a table of 120 published voters, the
// round that publishes two more votes reads a small fraction of what one
// read of the tables takes. Then an instance restarts (its cursor is
// gone: 410) and the publisher reads the tables in full once, publishing
// every voter once.
func TestVoterCursor(t *testing.T) {
	tc := newTestCampaign(t)
	pr := startPair(t, tc, 0)
	tp := newPublisher(t, tc, t.TempDir(), []*testPair{pr}, func(c *Config) { c.PageSize = 1000 })
	read := func() int64 { return tp.records.read.Load() }

	var voters []listline.Voter
	var votes []listline.Vote
	cast := func(n int) {
		t.Helper()
		for j := range n {
			m, v := tc.mandate(t), tc.vote(t, j, 1)
			tc.cast(t, pr.urls[0], m, v)
			tc.cast(t, pr.urls[1], m, v)
			voters, votes = append(voters, m), append(votes, v)
		}
		eventually(t, "pair converged", func() bool { return pr.converged(len(voters), len(votes)) })
	}
	// table is the size of one voter table as /records/voters sends it.
	table := func() (n int64) {
		for _, v := range voters {
			n += int64(len(v.Line()) + 1)
		}
		return n
	}
	cast(120)
	start := read()
	tp.mustRound(t) // the first round reads both tables in full
	tp.wantPublished(t, voters, votes)
	if got := read() - start; got < 2*table() {
		t.Fatalf("the first round read %d bytes, less than both tables (%d)", got, 2*table())
	}

	cast(2)
	start = read()
	tp.mustRound(t)
	tp.wantPublished(t, voters, votes)
	// Two vote records and two voter lines from each instance, about 600
	// bytes, and the empty pages that end each read.
	if got := read() - start; got > table()/10 {
		t.Errorf("a round with 2 new votes read %d bytes; one voter table is %d", got, table())
	}
	if strings.Contains(tp.log.String(), "no longer knows") {
		t.Errorf("a cursor was refused without a restart:\n%s", tp.log)
	}

	// Instance 1 restarts on its data: a new opening, so its cursor is
	// unknown to it (410) and the pair's tables are read in full again.
	pr.stop[1]()
	ln, err := net.Listen("tcp", strings.TrimPrefix(pr.urls[1], "http://"))
	if err != nil {
		t.Fatal(err)
	}
	pr.run(t, tc, 1, ln, pr.dirs[1], false)
	pr.ready(t, tc)
	cast(3)
	start = read()
	tp.mustRound(t)
	tp.wantPublished(t, voters, votes)
	if got := read() - start; got < 2*table() {
		t.Errorf("the round after a restart read %d bytes, less than both tables (%d): it did not read them again", got, 2*table())
	}
	if !strings.Contains(tp.log.String(), "no longer knows the publisher's voter cursor") {
		t.Errorf("no log of the cursor refused after the restart:\n%s", tp.log)
	}
	if s := tp.Status(); s != (Status{Lines: int64(len(votes))}) {
		t.Errorf("status %+v, want %d lines and nothing held", s, len(votes))
	}
}
