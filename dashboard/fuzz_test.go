package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"
)

// FuzzReading feeds two scrapes of any text to the sampler, as a process
// on the network might send them: whatever expfmt accepts, the figures
// taken are finite and not negative, the increases too, and data.json
// and the event always encode.
func FuzzReading(f *testing.F) {
	p := newFakeProc()
	p.vote("solar", 204, 3)
	p.vote("solar", 489, 2)
	p.stamps("solar", 4, 1)
	p.gauge(mLines, 7, "campaign", "solar", "list", "vote")
	p.gauge(mDelay, 1.5, "campaign", "solar")
	p.stored("solar", 0, 1, 9)
	p.gauge(mNonceEntries, 3)
	var b bytes.Buffer
	p.set.WritePrometheus(&b)
	f.Add(b.Bytes(), b.Bytes())
	f.Add([]byte(`powvote_edge_requests_total{campaign="solar",endpoint="vote",code="204"} 5`+"\n"),
		[]byte(`powvote_edge_requests_total{campaign="solar",endpoint="vote",code="204"} 2`+"\n"))
	f.Add([]byte(`powvote_edge_requests_total{campaign="solar",endpoint="vote",code="204"} NaN`+"\n"),
		[]byte(`powvote_edge_requests_total{campaign="solar",endpoint="vote",code="204"} +Inf`+"\n"))
	f.Add([]byte(`powvote_collector_votes_stored{campaign="solar",pair="63",instance="1"} 1e308`+"\n"),
		[]byte(`powvote_collector_votes_stored{campaign="solar",pair="-1",instance="1"} -4`+"\n"))
	f.Add([]byte("# TYPE powvote_publisher_lines gauge\npowvote_publisher_lines{campaign=\"a\",list=\"vote\"} 1\n"), []byte("garbage{"))
	f.Fuzz(func(t *testing.T, first, second []byte) {
		for _, text := range [][]byte{first, second} {
			r, err := parseReading(text)
			if err != nil {
				continue
			}
			check := func(what string, v float64) {
				if math.IsInf(v, 0) || v < 0 {
					t.Fatalf("%s = %v taken from %q", what, v, text)
				}
			}
			check("nonce entries", r.nonceEntries)
			check("open connections", r.openConns)
			for _, c := range r.camps {
				for _, v := range append([]float64{c.acked, c.stamps, c.lines, c.delay}, c.refused[:]...) {
					check("a campaign's figure", v)
				}
				for k, in := range c.instances {
					if k.pair < 0 || k.pair >= maxPairs || k.instance < 0 || k.instance > 1 {
						t.Fatalf("instance %+v taken from %q", k, text)
					}
					for _, v := range []float64{in.ready, in.lag, in.stored, in.pullAge} {
						check("an instance's figure", v)
					}
				}
			}
		}
		d, err := New(Config{Interval: time.Second, Bucket: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		texts := [][]byte{first, second}
		i := 0
		d.sources = []*source{{name: "fuzz", read: func(context.Context) ([]byte, error) { return texts[i], nil }}}
		ch := d.subscribe()
		for ; i < 2; i++ {
			d.sample(context.Background(), t0.Add(time.Duration(i)*time.Second))
			full := *d.full.Load()
			var data Data
			if err := json.Unmarshal(full, &data); err != nil {
				t.Fatalf("data.json does not decode: %v\n%s", err, full)
			}
			for _, c := range data.Campaigns {
				for _, s := range [][]Num{c.Series.Acknowledged, c.Series.Stamps, c.Series.Published} {
					for _, v := range s {
						if float64(v) < 0 {
							t.Fatalf("a negative increase in %s", full)
						}
					}
				}
			}
			if ev := <-ch; !json.Valid(ev) {
				t.Fatalf("the event does not encode: %s", ev)
			}
		}
	})
}

// FuzzHistoryFeed: a history read in two parts, split anywhere, gives the
// lines, the counts and the growth of one reading: only whole lines are
// taken, and numbered in the whole file.
func FuzzHistoryFeed(f *testing.F) {
	f.Add([]byte("10 100 6 4\n20 160 12 8\n30 220 18 12\n"), 13)
	f.Add([]byte("10 100 6 4\nx y\n20 160 12 8\n"), 11)
	f.Add([]byte("10 100 6 4\n20 160 12 8"), 5)
	f.Add([]byte("\n\n10  100 6 4\n-1 2 3 4\n1 2 3 -4\n"), 3)
	f.Add([]byte("9223372036854775807 1 9223372036854775807 0\n"), 0)
	f.Fuzz(func(t *testing.T, data []byte, split int) {
		opts := []string{"A", "B"}
		var whole histState
		wholeLines := whole.feed(data, opts, 1<<30)
		if split < 0 || split > len(data) {
			split = len(data) / 2
		}
		var parts histState
		got := parts.feed(data[:split], opts, 1<<30)
		got = append(got, parts.feed(data[parts.offset:], opts, 1<<30)...)
		if !reflect.DeepEqual(got, wholeLines) && (len(got) > 0 || len(wholeLines) > 0) {
			t.Fatalf("in two parts at %d: %+v; in one: %+v", split, got, wholeLines)
		}
		if parts.offset != whole.offset || parts.lines != whole.lines || parts.bad != whole.bad ||
			!reflect.DeepEqual(parts.growth, whole.growth) {
			t.Fatalf("in two parts at %d: offset %d lines %d bad %d; in one: %d %d %d",
				split, parts.offset, parts.lines, parts.bad, whole.offset, whole.lines, whole.bad)
		}
		if whole.offset > int64(len(data)) || (whole.offset > 0 && data[whole.offset-1] != '\n') {
			t.Fatalf("offset %d of %d bytes, not after a line feed", whole.offset, len(data))
		}
		_ = shareJumps(nil, wholeLines, opts, defaults)
	})
}
