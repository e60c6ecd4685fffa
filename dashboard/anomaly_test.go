package dashboard

import (
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/powvote/powvote/audit"
)

var defaults = func() Anomaly {
	cfg, err := Config{}.withDefaults()
	if err != nil {
		panic(err)
	}
	return cfg.Anomaly
}()

func TestJudge(t *testing.T) {
	a := defaults // factor 3, at least 10, at least 3 trailing
	for _, tc := range []struct {
		name     string
		v        float64
		trailing []float64
		low      bool
		dir      string
		median   float64
	}{
		{"0 then 2 is nothing", 2, []float64{0, 0, 0}, true, "", 0},
		{"0 then the least count", 10, []float64{0, 0, 0}, true, High, 0},
		{"three times is not above", 30, []float64{10, 10, 10}, true, "", 10},
		{"above three times", 31, []float64{10, 10, 10}, true, High, 10},
		{"below a third", 3, []float64{10, 10, 10}, true, Low, 10},
		{"not below a third", 4, []float64{10, 10, 10}, true, "", 10},
		{"low not asked", 3, []float64{10, 10, 10}, false, "", 10},
		{"a median under the least count is never low", 0, []float64{9, 9, 9}, true, "", 9},
		{"too few trailing", 50, []float64{0, 0}, true, "", 0},
		{"even median", 40, []float64{100, 10, 14, 12}, true, High, 13},
		{"even median, not above", 39, []float64{100, 10, 14, 12}, true, "", 13},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, m := judge(tc.v, append([]float64(nil), tc.trailing...), a, tc.low)
			if dir != tc.dir || m != tc.median {
				t.Errorf("judge(%v, %v) = %q, %v; want %q, %v", tc.v, tc.trailing, dir, m, tc.dir, tc.median)
			}
		})
	}
}

// TestBucketFlags runs minutes of votes, stamps and 489s through the
// sampler and compares every flag: a burst and a flood of 489s in minute
// 4, a fall in minute 5, and a burst in the minute still filling.
func TestBucketFlags(t *testing.T) {
	r := newRig(t, Config{Interval: 10 * time.Second, Anomaly: Anomaly{Trailing: 5}})
	r.at(0)
	votes := []int{20, 22, 18, 21, 80, 5, 90}
	low := []int{0, 0, 1, 0, 60, 2, 0}
	for i := range votes {
		r.p.vote("solar", 204, votes[i])
		r.p.vote("solar", 489, low[i])
		r.p.stamps("solar", 20, 0)
		r.at(time.Duration(i)*time.Minute + 30*time.Second)
	}
	b := func(i int) float64 { return float64(t0.Unix()) + float64(i*60) }
	want := []Flag{
		{Kind: KindVotes, Dir: High, From: b(4), To: b(5), Value: 80, Base: 20.5},
		{Kind: KindRefusals, Dir: High, Code: 489, From: b(4), To: b(5), Value: 60, Base: 0},
		{Kind: KindVotes, Dir: Low, From: b(5), To: b(6), Value: 5, Base: 21},
		{Kind: KindVotes, Dir: High, From: b(6), To: b(7), Value: 90, Base: 21, Live: true},
	}
	if got := r.last.campaign(t, "solar").Flags; !reflect.DeepEqual(got, want) {
		t.Errorf("flags\n%+v\nwant\n%+v", got, want)
	}
	// Once minute 6 closes, its flag is no longer live.
	r.p.vote("solar", 204, 21)
	r.p.stamps("solar", 20, 0)
	r.at(7*time.Minute + 30*time.Second)
	want[3].Live = false
	if got := r.last.campaign(t, "solar").Flags; !reflect.DeepEqual(got, want) {
		t.Errorf("after minute 6 closed, flags\n%+v\nwant\n%+v", got, want)
	}
	// Flags leave with their bucket (the window is 1440 buckets).
	r.at(time.Duration(4+1440) * time.Minute)
	if got := r.last.campaign(t, "solar").Flags; !reflect.DeepEqual(got, want[2:]) {
		t.Errorf("a day later, flags %+v, want those of minutes 5 and 6", got)
	}
}

// stallCase builds a campaign whose buckets 0.. hold the stored votes of
// each pair and the votes acknowledged, and returns the stall flags of
// its last bucket.
func stallFlagsOf(stored [][]float64, acked []float64, skip int, a Anomaly) []Flag {
	c := &campState{ring: make([]campBucket, 16)}
	for i := range c.ring {
		c.ring[i].no = -1
	}
	for i, ack := range acked {
		if i == skip {
			continue
		}
		b := c.makeBucket(int64(i))
		b.acked = ack
		for _, s := range stored {
			b.stored = append(b.stored, s[i])
		}
	}
	return c.stallFlags(int64(len(acked)-1), a, 60)
}

func TestStall(t *testing.T) {
	a := defaults
	a.StallBuckets = 3
	pair := func(p int) *int { return &p }
	for _, tc := range []struct {
		name   string
		stored [][]float64
		acked  []float64
		skip   int // a bucket not sampled; -1 none
		want   []Flag
	}{
		{"stalls while votes arrive", [][]float64{{5, 5, 5, 5}, {1, 5, 9, 13}}, []float64{0, 10, 10, 10}, -1,
			[]Flag{{Kind: KindStall, Pair: pair(0), From: 60, To: 240, Value: 5, Base: 30}}},
		{"an idle campaign", [][]float64{{5, 5, 5, 5}, {7, 7, 7, 7}}, []float64{0, 0, 0, 0}, -1, nil},
		{"the other pair grows", [][]float64{{5, 5, 5, 5}, {0, 4, 8, 12}}, []float64{0, 3, 3, 3}, -1,
			[]Flag{{Kind: KindStall, Pair: pair(0), From: 60, To: 240, Value: 5, Base: 12}}},
		{"the other pair grows too little", [][]float64{{5, 5, 5, 5}, {0, 3, 6, 9}}, []float64{0, 3, 3, 3}, -1, nil},
		{"grew by one", [][]float64{{5, 5, 5, 6}, {1, 5, 9, 13}}, []float64{0, 10, 10, 10}, -1, nil},
		{"a bucket not sampled", [][]float64{{5, 5, 5, 5}, {1, 5, 9, 13}}, []float64{0, 10, 10, 10}, 2, nil},
		{"one pair", [][]float64{{5, 5, 5, 5}}, []float64{0, 4, 4, 4}, -1,
			[]Flag{{Kind: KindStall, Pair: pair(0), From: 60, To: 240, Value: 5, Base: 12}}},
		{"one pair, too few votes", [][]float64{{5, 5, 5, 5}}, []float64{0, 3, 3, 3}, -1, nil},
		{"unknown at the start", [][]float64{{nan, 5, 5, 5}}, []float64{0, 9, 9, 9}, -1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := stallFlagsOf(tc.stored, tc.acked, tc.skip, a)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("stall flags %s, want %s", flagsString(got), flagsString(tc.want))
			}
		})
	}
}

func flagsString(fs []Flag) string {
	s := "["
	for _, f := range fs {
		p := "-"
		if f.Pair != nil {
			p = fmt.Sprint(*f.Pair)
		}
		s += fmt.Sprintf("{%s pair %s %v..%v value %v base %v} ", f.Kind, p, f.From, f.To, f.Value, f.Base)
	}
	return s + "]"
}

// TestStallRun: a pair whose twin stops storing stalls over the sampler's
// buckets, and the minutes it stays stalled extend one flag.
func TestStallRun(t *testing.T) {
	r := newRig(t, Config{Interval: 10 * time.Second, Anomaly: Anomaly{StallBuckets: 3}})
	r.at(0)
	stored := [2]float64{}
	for i := range 8 {
		stored[0] += 10
		if i <= 2 {
			stored[1] += 10
		}
		for p, s := range stored {
			r.p.stored("solar", p, 0, s)
			r.p.stored("solar", p, 1, s)
		}
		r.p.vote("solar", 204, 20)
		r.at(time.Duration(i)*time.Minute + 30*time.Second)
	}
	// Pair 1 holds 30 from minute 2 on: stalled over minutes 3 to 5 when
	// minute 5 closes, and on to 6 when minute 6 does.
	one := 1
	want := []Flag{{Kind: KindStall, Pair: &one, From: float64(t0.Unix() + 3*60), To: float64(t0.Unix() + 7*60), Value: 30, Base: 60}}
	if got := r.last.campaign(t, "solar").Flags; !reflect.DeepEqual(got, want) {
		t.Errorf("flags %s, want %s", flagsString(got), flagsString(want))
	}
}

func TestShareJumps(t *testing.T) {
	a := defaults
	a.ShareMinVotes = 100
	opts := []string{"A", "B"}
	line := func(tm int64, counts ...int) audit.HistoryLine {
		return audit.HistoryLine{Size: int64(sum(counts)), Time: tm, Counts: counts}
	}
	for _, tc := range []struct {
		name  string
		prev  *audit.HistoryLine
		lines []audit.HistoryLine
		want  []Flag
	}{
		{"the first line", nil, []audit.HistoryLine{line(1, 5, 5)}, nil},
		{"small moves", &audit.HistoryLine{Time: 1, Counts: []int{60, 40}}, []audit.HistoryLine{line(2, 70, 40)}, nil},
		{"a jump", &audit.HistoryLine{Time: 1, Counts: []int{60, 40}}, []audit.HistoryLine{line(2, 80, 40)}, []Flag{
			{Kind: KindShare, Option: "A", From: 1, To: 2, Value: 80.0 / 120, Base: 0.6},
			{Kind: KindShare, Option: "B", From: 1, To: 2, Value: 40.0 / 120, Base: 0.4},
		}},
		{"too few votes before", &audit.HistoryLine{Time: 1, Counts: []int{50, 40}}, []audit.HistoryLine{line(2, 90, 40)}, nil},
		{"a chain", &audit.HistoryLine{Time: 1, Counts: []int{60, 40}}, []audit.HistoryLine{line(2, 61, 41), line(3, 100, 41)}, []Flag{
			{Kind: KindShare, Option: "A", From: 2, To: 3, Value: 100.0 / 141, Base: 61.0 / 102},
			{Kind: KindShare, Option: "B", From: 2, To: 3, Value: 41.0 / 141, Base: 41.0 / 102},
		}},
		{"exactly the jump", &audit.HistoryLine{Time: 1, Counts: []int{50, 50}}, []audit.HistoryLine{line(2, 55, 45)}, []Flag{
			{Kind: KindShare, Option: "A", From: 1, To: 2, Value: 0.55, Base: 0.5},
			{Kind: KindShare, Option: "B", From: 1, To: 2, Value: 0.45, Base: 0.5},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := shareJumps(tc.prev, tc.lines, opts, a)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("share flags\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		want float64
	}{{nil, 0}, {[]float64{4}, 4}, {[]float64{9, 1, 5}, 5}, {[]float64{9, 1, 5, 3}, 4}} {
		if got := median(tc.xs); got != tc.want && !(math.IsNaN(got) && math.IsNaN(tc.want)) {
			t.Errorf("median(%v) = %v, want %v", tc.xs, got, tc.want)
		}
	}
}
