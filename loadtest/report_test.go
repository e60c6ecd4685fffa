package loadtest

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// TestPercentiles records 1 ms .. 1000 ms once each: the percentiles are
// the values themselves, within the histogram's 3 significant digits.
func TestPercentiles(t *testing.T) {
	rec := newRecorder()
	for i := 1000; i >= 1; i-- {
		rec.answer(204)
		rec.finish(true, time.Duration(i)*time.Millisecond)
	}
	rec.finish(false, 5*time.Minute) // beyond the range: clamped to 60 s, not dropped
	_, done, good, l := rec.snapshot()
	if done != 1001 || good != 1000 || l.N != 1001 {
		t.Fatalf("done %d good %d n %d", done, good, l.N)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"p50", l.P50, 501}, {"p90", l.P90, 901}, {"p99", l.P99, 991}, {"p999", l.P999, 1000}, {"max", l.Max, 60000},
	} {
		if math.Abs(c.got-c.want) > c.want*0.002 {
			t.Errorf("%s = %v ms, want %v", c.name, c.got, c.want)
		}
	}
	w := rec.takeWindow()
	if w.ok != 1000 || w.n != 1001 || w.p50 < 490*time.Millisecond || w.p50 > 510*time.Millisecond {
		t.Errorf("window %+v", w)
	}
	if w := rec.takeWindow(); w.n != 0 || w.ok != 0 {
		t.Errorf("second window not empty: %+v", w)
	}
}

// TestReportJSON builds a report from a run's state and checks its JSON
// against the fields docs/CLI.md promises, and the verdicts.
func TestReportJSON(t *testing.T) {
	r := &runner{
		cfg:      Config{Schedule: Schedule{Rate: 4, Duration: time.Second}, Adversarial: 0.5},
		votesRec: newRecorder(), listRec: newRecorder(), stampRec: newRecorder(), junkRec: newRecorder(),
		codes:    []uint16{204, 204, 204, 204},
		sigs:     map[int32]string{1: "sig1"},
		junk:     []junkItem{{kind: junkReplay, target: 1}, {kind: junkBadPow}},
		junkCode: []uint16{204, 489},
		junkSig:  []string{"sig1", ""},
	}
	for i := range 4 {
		r.votesRec.answer(204)
		r.votesRec.finish(true, time.Duration(i+1)*time.Millisecond)
		r.listRec.answer(204)
		r.listRec.finish(true, time.Millisecond)
		r.stampRec.answer(204)
		r.stampRec.finish(true, time.Millisecond)
	}
	r.started.Store(4)
	start := time.Now().Add(-time.Second)
	r.lastAck.Store(start.Add(time.Second).UnixNano())
	rep := r.report(start, 1500*time.Millisecond)
	rep.setLists(ListCheck{VoteLines: 4, AuthLines: 4, LengthsEqual: true, Acknowledged: 4, PublishedOnce: 4}, 2*time.Second)
	rep.finalize()
	if !rep.OK {
		t.Fatalf("a clean run fails: %q", rep.Errors)
	}
	data, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]float64{
		"rate_target": 4, "rate_achieved": 4, "duration_s": 1, "acknowledged": 4, "published_once": 4,
		"lost": 0, "duplicated": 0, "pending_batch": 0, "altered": 0, "prepare_s": 1.5,
	} {
		if got, ok := m[k].(float64); !ok || got != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
	lat, _ := m["latency_ms"].(map[string]any)
	for _, k := range []string{"p50", "p90", "p99", "p999", "max"} {
		if _, ok := lat[k].(float64); !ok {
			t.Errorf("latency_ms.%s missing: %v", k, lat)
		}
	}
	if mx, p50 := lat["max"].(float64), lat["p50"].(float64); math.Abs(mx-4) > 0.005 || math.Abs(p50-2) > 0.003 {
		t.Errorf("latency_ms %v, want p50 2 and max 4", lat)
	}
	status, _ := m["status"].(map[string]any)
	if status["204"] != 4.0 || status["503"] != 0.0 {
		t.Errorf("status %v", status)
	}
	for _, k := range []string{"stamp_latency_ms", "list_latency_ms", "adversarial"} {
		if _, ok := m[k].(map[string]any); !ok {
			t.Errorf("%s missing", k)
		}
	}
	if m["list_lengths_equal"] != true || m["ok"] != true {
		t.Errorf("list_lengths_equal %v ok %v", m["list_lengths_equal"], m["ok"])
	}
	if e, ok := m["errors"].([]any); !ok || len(e) != 0 {
		t.Errorf("errors %v", m["errors"])
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil || !strings.HasPrefix(text.String(), "loadtest PASS") {
		t.Errorf("text report %q, %v", text.String(), err)
	}
}

// TestReportFails: each kind of failure makes the report fail.
func TestReportFails(t *testing.T) {
	clean := ListCheck{VoteLines: 2, AuthLines: 2, LengthsEqual: true, Acknowledged: 2, PublishedOnce: 2}
	for _, tc := range []struct {
		name  string
		codes []uint16
		junk  []uint16 // answers to a bad proof of work
		sig   string   // the replay's receipt signature
		lists ListCheck
	}{
		{name: "lost", lists: ListCheck{VoteLines: 1, AuthLines: 1, LengthsEqual: true, Acknowledged: 2, PublishedOnce: 1, Missing: 1, Lost: 1}},
		{name: "duplicated", lists: ListCheck{VoteLines: 3, AuthLines: 3, LengthsEqual: true, Acknowledged: 2, PublishedOnce: 2, DupNonces: 1, Duplicated: 1}},
		{name: "lengths differ", lists: ListCheck{VoteLines: 2, AuthLines: 3, Acknowledged: 2, PublishedOnce: 2}},
		{name: "pending a batch", lists: ListCheck{VoteLines: 1, AuthLines: 1, LengthsEqual: true, Acknowledged: 2, PublishedOnce: 1, Missing: 1, PendingBatch: 1}},
		{name: "altered", lists: ListCheck{VoteLines: 2, AuthLines: 2, LengthsEqual: true, Acknowledged: 2, PublishedOnce: 1, Altered: 1, FirstAltered: "another option"}},
		{name: "valid vote refused", codes: []uint16{204, 485}, lists: clean},
		{name: "bad proof of work accepted", junk: []uint16{204}, lists: clean},
		{name: "replay answered differently", sig: "other", lists: clean},
	} {
		t.Run(tc.name, func(t *testing.T) {
			codes := tc.codes
			if codes == nil {
				codes = []uint16{204, 204}
			}
			junk := tc.junk
			if junk == nil {
				junk = []uint16{489}
			}
			sig := tc.sig
			if sig == "" {
				sig = "sig0"
			}
			r := &runner{
				cfg:      Config{Schedule: Schedule{Rate: 2, Duration: time.Second}, Adversarial: 1, NoBrowse: true},
				votesRec: newRecorder(), junkRec: newRecorder(),
				codes:    codes,
				sigs:     map[int32]string{0: "sig0"},
				junk:     []junkItem{{kind: junkBadPow}, {kind: junkReplay, target: 0}},
				junkCode: append(junk, 204),
				junkSig:  []string{"", sig},
			}
			rep := r.report(time.Now(), time.Second)
			rep.setLists(tc.lists, time.Second)
			rep.finalize()
			if rep.OK || len(rep.Errors) == 0 {
				t.Errorf("report passes: %+v", rep)
			}
		})
	}
}
