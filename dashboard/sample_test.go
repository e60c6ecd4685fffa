package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// t0 starts a minute.
var t0 = time.Unix(1_700_000_040, 0)

// fakeProc is a process's metrics as the edge, the collectors and the
// publisher name them (docs/OPERATIONS.md), set by hand.
type fakeProc struct{ set *metrics.Set }

func newFakeProc() *fakeProc { return &fakeProc{set: metrics.NewSet()} }

func metricKey(name string, kv ...string) string {
	if len(kv) == 0 {
		return name
	}
	var b strings.Builder
	b.WriteString(name + "{")
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", kv[i], kv[i+1])
	}
	b.WriteString("}")
	return b.String()
}

func (f *fakeProc) counter(name string, kv ...string) *metrics.Counter {
	return f.set.GetOrCreateCounter(metricKey(name, kv...))
}

func (f *fakeProc) gauge(name string, v float64, kv ...string) {
	f.set.GetOrCreateGauge(metricKey(name, kv...), nil).Set(v)
}

// vote counts n answers of code to votes of campaign c.
func (f *fakeProc) vote(c string, code, n int) {
	f.counter(mRequests, "campaign", c, "endpoint", "vote", "code", fmt.Sprint(code)).Add(n)
}

// stamps counts genuine and decoy stamps served.
func (f *fakeProc) stamps(c string, genuine, decoy int) {
	f.counter(mStamps, "campaign", c, "kind", "genuine").Add(genuine)
	f.counter(mStamps, "campaign", c, "kind", "decoy").Add(decoy)
}

func (f *fakeProc) stored(c string, pair, inst int, v float64) {
	f.gauge(mStored, v, "campaign", c, "pair", fmt.Sprint(pair), "instance", fmt.Sprint(inst))
}

// rig is a dashboard on a fake clock with its own process's metrics.
type rig struct {
	t    *testing.T
	d    *Dashboard
	p    *fakeProc
	now  time.Time
	ctx  context.Context
	last *Data
}

func newRig(t *testing.T, cfg Config) *rig {
	t.Helper()
	r := &rig{t: t, p: newFakeProc(), now: t0, ctx: context.Background()}
	if cfg.Metrics == nil {
		cfg.Metrics = r.p.set
	}
	cfg.Now = func() time.Time { return r.now }
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.d = d
	return r
}

// at samples at t0 plus dt and returns data.json as decoded.
func (r *rig) at(dt time.Duration) *Data {
	r.t.Helper()
	r.now = t0.Add(dt)
	r.d.sample(r.ctx, r.now)
	r.last = r.data()
	return r.last
}

func (r *rig) data() *Data {
	r.t.Helper()
	var d Data
	raw := *r.d.full.Load()
	if err := json.Unmarshal(raw, &d); err != nil {
		r.t.Fatalf("data.json does not decode: %v\n%s", err, raw)
	}
	return &d
}

// series reads a campaign's series from the raw JSON, nulls as NaN.
func (r *rig) series(c, name string) []float64 {
	r.t.Helper()
	var raw struct {
		Campaigns []struct {
			Name   string                     `json:"name"`
			Series map[string]json.RawMessage `json:"series"`
		} `json:"campaigns"`
	}
	if err := json.Unmarshal(*r.d.full.Load(), &raw); err != nil {
		r.t.Fatal(err)
	}
	for _, cd := range raw.Campaigns {
		if cd.Name != c {
			continue
		}
		path := strings.Split(name, ".")
		msg := cd.Series[path[0]]
		if len(path) == 2 {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(msg, &m); err != nil {
				r.t.Fatal(err)
			}
			msg = m[path[1]]
			if msg == nil {
				return nil
			}
		}
		var vs []*float64
		if err := json.Unmarshal(msg, &vs); err != nil {
			r.t.Fatalf("series %s: %v", name, err)
		}
		out := make([]float64, len(vs))
		for i, v := range vs {
			out[i] = math.NaN()
			if v != nil {
				out[i] = *v
			}
		}
		return out
	}
	r.t.Fatalf("no campaign %s", c)
	return nil
}

func (d *Data) campaign(t *testing.T, name string) *CampaignData {
	t.Helper()
	for i := range d.Campaigns {
		if d.Campaigns[i].Name == name {
			return &d.Campaigns[i]
		}
	}
	t.Fatalf("no campaign %s in %+v", name, d.Campaigns)
	return nil
}

// same compares series, NaN equal to NaN.
func same(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool { return x == y || math.IsNaN(x) && math.IsNaN(y) })
}

var nan = math.NaN()

// TestSampleCounters: counters become increases per bucket; the first
// reading is a baseline, a counter lower than before is a restart that
// counts whole, a series that appears counts whole; the totals include
// what was counted before the dashboard started.
func TestSampleCounters(t *testing.T) {
	r := newRig(t, Config{Interval: 10 * time.Second})
	p := r.p
	p.vote("solar", 204, 100) // before the dashboard: in the total, in no bucket
	p.vote("solar", 489, 7)
	p.stamps("solar", 90, 30)
	r.at(0)

	p.vote("solar", 204, 5)
	r.at(10 * time.Second)
	p.vote("solar", 204, 6)
	p.vote("solar", 200, 1) // any 2xx is a receipt
	p.stamps("solar", 4, 2)
	r.at(50 * time.Second) // still the first minute
	p.vote("solar", 204, 3)
	p.vote("solar", 482, 2) // a new series: counts whole
	r.at(70 * time.Second)

	// The edge restarts: its counter starts again from zero and is at 4.
	p.counter(mRequests, "campaign", "solar", "endpoint", "vote", "code", "204").Set(4)
	p.counter(mRequests, "campaign", "solar", "endpoint", "vote", "code", "200").Set(0)
	d := r.at(130 * time.Second)

	if want := []float64{0, 60, 120}; !slices.Equal(d.T, offsetT(want)) {
		t.Errorf("T = %v, want t0 + %v", d.T, want)
	}
	if got, want := r.series("solar", "acknowledged"), []float64{12, 3, 4}; !same(got, want) {
		t.Errorf("acknowledged per bucket %v, want %v", got, want)
	}
	if got, want := r.series("solar", "stamps"), []float64{6, 0, 0}; !same(got, want) {
		t.Errorf("stamps per bucket %v, want %v", got, want)
	}
	if got, want := r.series("solar", "refused.482"), []float64{0, 2, 0}; !same(got, want) {
		t.Errorf("482 per bucket %v, want %v", got, want)
	}
	if got := r.series("solar", "refused.489"); got != nil {
		t.Errorf("489 per bucket %v: no 489 after the baseline, want no series", got)
	}
	c := d.campaign(t, "solar")
	// 100 before, 12 + 3 in the buckets, 4 after the restart.
	if c.Acknowledged != 119 || c.Stamps != 126 || c.Refused["489"] != 7 || c.Refused["482"] != 2 || len(c.Refused) != 2 {
		t.Errorf("totals: acknowledged %v, stamps %v, refused %v; want 119, 126, 489:7 482:2", c.Acknowledged, c.Stamps, c.Refused)
	}
}

func offsetT(secs []float64) []float64 {
	out := make([]float64, len(secs))
	for i, s := range secs {
		out[i] = float64(t0.Unix()) + s
	}
	return out
}

// TestSampleGauges: gauges keep the last value of their bucket; the lines
// published become increases that a publisher's restart (a lower value
// for a while) does not count twice; a pair's votes stored are its
// larger instance's; unsampled buckets are null.
func TestSampleGauges(t *testing.T) {
	r := newRig(t, Config{Interval: 10 * time.Second})
	p := r.p
	lines := func(v float64) { p.gauge(mLines, v, "campaign", "solar", "list", "vote") }
	delay := func(v float64) { p.gauge(mDelay, v, "campaign", "solar") }
	lines(40)
	delay(3)
	p.gauge(mNonceEntries, 11)
	p.gauge(mOpenConns, 2)
	p.stored("solar", 0, 0, 50)
	p.stored("solar", 0, 1, 48)
	r.at(0)
	lines(44)
	delay(9)
	r.at(20 * time.Second)
	lines(48)
	delay(5)
	p.stored("solar", 0, 1, 52)
	p.gauge(mNonceEntries, 13)
	r.at(40 * time.Second)
	lines(0) // the publisher restarts
	r.at(60 * time.Second)
	lines(48) // and reads back what it had
	r.at(70 * time.Second)
	lines(52)
	d := r.at(190 * time.Second) // buckets 2 sampled nowhere

	if got, want := r.series("solar", "published"), []float64{8, 0, nan, 4}; !same(got, want) {
		t.Errorf("published per bucket %v, want %v", got, want)
	}
	if got, want := r.series("solar", "lines"), []float64{48, 48, nan, 52}; !same(got, want) {
		t.Errorf("lines %v, want %v", got, want)
	}
	if got, want := r.series("solar", "delay"), []float64{5, 5, nan, 5}; !same(got, want) {
		t.Errorf("delay %v, want %v", got, want)
	}
	c := d.campaign(t, "solar")
	if c.Published != 52 || c.Delay != 5 {
		t.Errorf("published %v, delay %v; want 52, 5", c.Published, c.Delay)
	}
	if len(c.Pairs) != 1 || len(c.Pairs[0].Instances) != 2 || c.Pairs[0].Instances[1].Stored != 52 || c.Pairs[0].Instances[0].Stored != 50 {
		t.Errorf("pairs %+v", c.Pairs)
	}
	if got := d.Process.NonceSeries; len(got) != 4 || got[0] != 13 || !math.IsNaN(float64(got[2])) || got[3] != 13 || d.Process.NonceEntries != 13 || d.Process.OpenConnections != 2 {
		t.Errorf("process %+v", d.Process)
	}
	b := r.d.camps["solar"].bucket(r.d.cur)
	if b == nil || !same(b.stored, []float64{52}) {
		t.Errorf("stored of the last bucket %+v, want the larger instance's, 52", b)
	}
}

// TestWindow: the ring keeps Window buckets, and the series start at the
// window's first.
func TestWindow(t *testing.T) {
	r := newRig(t, Config{Interval: 10 * time.Second, Window: 4, Anomaly: Anomaly{Trailing: 2, StallBuckets: 2}})
	for i := range 7 {
		r.p.vote("solar", 204, i)
		r.at(time.Duration(i) * time.Minute)
	}
	if got, want := r.series("solar", "acknowledged"), []float64{3, 4, 5, 6}; !same(got, want) {
		t.Errorf("acknowledged %v, want the last 4 buckets %v", got, want)
	}
	if want := offsetT([]float64{180, 240, 300, 360}); !slices.Equal(r.last.T, want) {
		t.Errorf("T %v, want %v", r.last.T, want)
	}
}

// TestCampaignsAndLabels: campaigns come from the metrics; labels that
// name no campaign, pair or instance are left out.
func TestCampaignsAndLabels(t *testing.T) {
	r := newRig(t, Config{Interval: 10 * time.Second, Campaigns: []Campaign{{Name: "quiet", Options: []string{"a"}}}})
	p := r.p
	p.vote("solar", 204, 1)
	p.vote("Bad_Name", 204, 1)
	p.vote("lunar", 204, 1)
	p.counter(mRequests, "campaign", "solar", "endpoint", "stamp", "code", "204").Add(9) // not a vote
	p.stored("solar", 0, 2, 5)                                                           // no instance 2
	p.stored("solar", 99, 0, 5)                                                          // beyond maxPairs
	p.gauge(mStored, 5, "campaign", "solar", "pair", "01", "instance", "0")              // not canonical
	p.stored("solar", 1, 0, 7)
	r.at(0)
	p.vote("solar", 204, 2)
	d := r.at(10 * time.Second)
	var names []string
	for _, c := range d.Campaigns {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, []string{"lunar", "quiet", "solar"}) {
		t.Errorf("campaigns %v, want lunar quiet solar", names)
	}
	c := d.campaign(t, "solar")
	if c.Acknowledged != 3 || len(c.Pairs) != 1 || c.Pairs[0].Pair != 1 || c.Pairs[0].Instances[0].Stored != 7 {
		t.Errorf("solar: acknowledged %v, pairs %+v", c.Acknowledged, c.Pairs)
	}
}

// TestNoStampKinds: data.json carries the stamps' total, never the split
// between genuine and decoy stamps (docs/OPERATIONS.md: private).
func TestNoStampKinds(t *testing.T) {
	r := newRig(t, Config{Interval: 10 * time.Second})
	r.p.stamps("solar", 3, 0)
	r.at(0)
	r.p.stamps("solar", 5, 17)
	r.at(10 * time.Second)
	raw := string(*r.d.full.Load())
	for _, w := range []string{"genuine", "decoy"} {
		if strings.Contains(raw, w) {
			t.Errorf("data.json holds %q: %s", w, raw)
		}
	}
	if c := r.last.campaign(t, "solar"); c.Stamps != 25 {
		t.Errorf("stamps %v, want 25", c.Stamps)
	}
	if got := r.series("solar", "stamps"); !same(got, []float64{22}) {
		t.Errorf("stamps per bucket %v, want [22]", got)
	}
}
