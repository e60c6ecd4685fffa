package publisher

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/powvote/powvote/listline"
)

// TestBatchesAroundTheClose casts votes one at a time, with a round after
// each, before the campaign's end and after it (stamped before it, so
// still valid), then lets the campaign close. No batch of the history
// and no step between two checkpoints is smaller than the batch size,
// the last one at the close included; until the close every round keeps
// a batch back, after the end as before it; every vote is published by
// the close. A restart in the middle changes none of it, and a campaign
// with fewer votes than the batch size has one batch, of all of them, at
// the close.
func TestBatchesAroundTheClose(t *testing.T) {
	const batch = 3
	for _, c := range []struct {
		name          string
		before, after int   // votes cast before the end, and after it
		restarts      []int // restart the publisher after these votes, counted from 1
	}{
		{name: "trickle across the end", before: 7, after: 4},
		{name: "restarts before and after the end", before: 7, after: 4, restarts: []int{4, 7, 9}},
		{name: "every vote after the end", before: 0, after: 7},
		{name: "between one and two batches", before: 2, after: 2},
		{name: "fewer than a batch", before: 1, after: 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			tc := newTestCampaign(t)
			pr := startPair(t, tc, 0)
			dir := t.TempDir()
			clock := &jumpClock{tick: &tc.clock}
			end := time.Unix(1767225600+100000, 0)
			const closeDelay = time.Hour
			tweak := func(cfg *Config) {
				cfg.BatchSize = batch
				cfg.End = end
				cfg.CloseDelay = closeDelay
				cfg.Clock = clock.now
			}
			tp := newPublisher(t, tc, dir, []*testPair{pr}, tweak)

			total := c.before + c.after
			var voters []listline.Voter
			var votes []listline.Vote
			var want int64 // lines published
			for k := 1; k <= total; k++ {
				if k == c.before+1 {
					// Past the end, an hour before the close: every
					// collector still takes votes stamped before it.
					clock.skip.Store(end.Unix() - clock.tick.now().Unix() + 1)
				}
				m, v := tc.mandate(t), tc.vote(t, k, 1)
				tc.cast(t, pr.urls[0], m, v)
				tc.cast(t, pr.urls[1], m, v)
				voters, votes = append(voters, m), append(votes, v)
				tp.mustRound(t)
				wantBatches(t, dir, batch)
				// All k are final: once two batches wait, a round
				// publishes all but one.
				if int64(k)-want >= 2*batch {
					want = int64(k - batch)
				}
				if s := tp.Status(); s.Lines != want || s.Closed {
					t.Errorf("after vote %d of %d (%d after the end): status %+v, want %d lines and open",
						k, total, max(0, k-c.before), s, want)
				}
				if slices.Contains(c.restarts, k) {
					tp.Close()
					tp = newPublisher(t, tc, dir, []*testPair{pr}, tweak)
				}
			}

			// The close: the first round past End plus CloseDelay.
			clock.skip.Store(end.Add(closeDelay).Unix() - clock.tick.now().Unix() + 1)
			tp.mustRound(t)
			if s := tp.Status(); s.Lines != int64(total) || !s.Closed {
				t.Fatalf("after the close: status %+v, want %d lines and closed", s, total)
			}
			tp.wantPublished(t, voters, votes)
			sizes := wantBatches(t, dir, min(batch, total))
			if total < batch && len(sizes) != 1 {
				t.Errorf("%d votes in all, fewer than a batch: batches end at %v, want one batch at the close", total, sizes)
			}
		})
	}
}

// wantBatches checks that every batch of the history, and every step
// between two checkpoints of each list, adds at least size lines, and
// that the checkpoints stand at the sizes of the history; it returns
// those sizes.
func wantBatches(t *testing.T, dir string, size int) []int64 {
	t.Helper()
	var sizes []int64
	for _, l := range readLines(t, filepath.Join(dir, "solar-history.log")) {
		n, err := strconv.ParseInt(strings.Fields(l)[0], 10, 64)
		if err != nil {
			t.Fatalf("history line %q: %v", l, err)
		}
		sizes = append(sizes, n)
	}
	for j, n := range sizes {
		prev := int64(0)
		if j > 0 {
			prev = sizes[j-1]
		}
		if n-prev < int64(size) {
			t.Fatalf("history: a batch of %d lines (%d to %d), fewer than %d; batches end at %v", n-prev, prev, n, size, sizes)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, word := range listWords {
		var cps []int64
		for _, e := range entries {
			if num, ok := strings.CutPrefix(e.Name(), "solar-"+word+".checkpoint."); ok {
				n, err := strconv.ParseInt(num, 10, 64)
				if err != nil {
					t.Fatalf("checkpoint file %s", e.Name())
				}
				cps = append(cps, n)
			}
		}
		slices.Sort(cps)
		if !slices.Equal(cps, sizes) {
			t.Fatalf("%s checkpoints at %v, the history's batches end at %v", word, cps, sizes)
		}
	}
	return sizes
}

// TestBatchLen: before the close a round keeps BatchSize back and
// publishes only a batch of BatchSize or more; the last batch takes
// everything; a batch size of 1 keeps nothing back.
func TestBatchLen(t *testing.T) {
	for _, tc := range []struct {
		b, ready int
		flushing bool
		want     int
	}{
		{4, 0, false, 0},
		{4, 3, false, 0},
		{4, 7, false, 0},
		{4, 8, false, 4},
		{4, 11, false, 7},
		{4, 3, true, 3},
		{4, 11, true, 11},
		{1, 1, false, 1},
		{1, 5, false, 5},
		{0, 2, false, 2},
	} {
		if got := batchLen(tc.b, tc.ready, tc.flushing); got != tc.want {
			t.Errorf("batchLen(%d, %d, %v) = %d, want %d", tc.b, tc.ready, tc.flushing, got, tc.want)
		}
	}
	for _, tc := range []struct {
		now, modified int64
		want          bool
	}{{100, 99, true}, {100, 100, false}, {99, 100, false}} {
		if got := clockAllows(tc.now, tc.modified); got != tc.want {
			t.Errorf("clockAllows(%d, %d) = %v, want %v", tc.now, tc.modified, got, tc.want)
		}
	}
}
