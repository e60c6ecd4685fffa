package dashboard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/powvote/powvote/audit"
)

// TestHistoryFeed: whole lines only, numbered in the whole file; bad lines
// counted; a chunk of limit bytes without a line feed skipped.
func TestHistoryFeed(t *testing.T) {
	var h histState
	opts := []string{"A", "B"}
	got := h.feed([]byte("10 100 6 4\n20 160 12 8\n30 220 1"), opts, historyLimit)
	want := []audit.HistoryLine{{Line: 1, Size: 10, Time: 100, Counts: []int{6, 4}}, {Line: 2, Size: 20, Time: 160, Counts: []int{12, 8}}}
	if !reflect.DeepEqual(got, want) || h.offset != 23 || h.lines != 2 {
		t.Fatalf("first chunk: %+v, offset %d, lines %d", got, h.offset, h.lines)
	}
	got = h.feed([]byte("30 220 18 12\nx y\n40 280 25 15\n"), opts, historyLimit)
	want = []audit.HistoryLine{{Line: 3, Size: 30, Time: 220, Counts: []int{18, 12}}, {Line: 5, Size: 40, Time: 280, Counts: []int{25, 15}}}
	if !reflect.DeepEqual(got, want) || h.lines != 5 || h.bad != 1 || h.offset != 23+30 {
		t.Fatalf("second chunk: %+v, lines %d, bad %d, offset %d", got, h.lines, h.bad, h.offset)
	}
	// The audit's growth figure over the lines: A grew 6 6 6 7, B 4 4 4 3.
	wantGrowth := []audit.Growth{
		{Option: "A", Largest: 7, Median: 6, AtSize: 40, AtTime: 280},
		{Option: "B", Largest: 4, Median: 4, AtSize: 10, AtTime: 100},
	}
	if !reflect.DeepEqual(h.growth, wantGrowth) {
		t.Errorf("growth %+v, want %+v", h.growth, wantGrowth)
	}
	// No line feed in a whole chunk: not a history line.
	if got := h.feed(bytes.Repeat([]byte("9"), 8), opts, 8); got != nil || h.offset != 53+8 || h.bad != 2 {
		t.Errorf("a chunk without a line feed: %v, offset %d, bad %d", got, h.offset, h.bad)
	}
	// Shorter than the limit: the line may still be being written.
	if got := h.feed([]byte("50 3"), opts, 8); got != nil || h.offset != 61 {
		t.Errorf("a short partial line: %v, offset %d", got, h.offset)
	}
}

// TestHistoryHeld: the lines held are bounded, and the growth figure over
// them counts the first held line's increase from the line before it.
func TestHistoryHeld(t *testing.T) {
	var h histState
	var b strings.Builder
	for i := 1; i <= maxHistoryLines+60; i++ {
		// A grows by 2 a line, B by 1, but by 50 at line 10 (no longer
		// held at the end) and by 9 at the last.
		a, bb := 2*i, i+49*boolInt(i >= 10)+8*boolInt(i == maxHistoryLines+60)
		fmt.Fprintf(&b, "%d %d %d %d\n", a+bb, 1000+i, a, bb)
	}
	h.feed([]byte(b.String()), []string{"A", "B"}, 1<<30)
	if len(h.held) != maxHistoryLines || h.held[0].Line != 61 || h.base[0] != 120 {
		t.Fatalf("held %d lines from line %d, base %v", len(h.held), h.held[0].Line, h.base)
	}
	last := maxHistoryLines + 60
	want := []audit.Growth{
		{Option: "B", Largest: 9, Median: 1, AtSize: int64(3*last + 57), AtTime: int64(1000 + last)},
		{Option: "A", Largest: 2, Median: 2, AtSize: int64(3*61 + 49), AtTime: 1061},
	}
	if !reflect.DeepEqual(h.growth, want) {
		t.Errorf("growth %+v, want %+v (not from zero: the first held line grew by 2 and 1)", h.growth, want)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// historyServer serves a history that the test grows and replaces, by
// net/http's own Range support, as the publisher does (200, 206, and
// 416 with "bytes */size").
type historyServer struct {
	mu   sync.Mutex
	data []byte
	hits int
}

func (s *historyServer) set(data string) {
	s.mu.Lock()
	s.data = []byte(data)
	s.mu.Unlock()
}

func (s *historyServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	data := s.data
	s.hits++
	s.mu.Unlock()
	if r.URL.Path != "/solar-history.log" || data == nil {
		http.NotFound(w, r)
		return
	}
	http.ServeContent(w, r, "solar-history.log", time.Time{}, bytes.NewReader(data))
}

// TestHistorySources reads a growing history over HTTP and through a
// fasthttp handler: what is new each time, nothing before it is
// published, and again from the start when it is replaced by a shorter
// one.
func TestHistorySources(t *testing.T) {
	srv := &historyServer{}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	for name, src := range map[string]HistorySource{
		"http":    HTTPHistory(hs.Client(), hs.URL+"/", "solar"),
		"handler": HandlerHistory(fasthttpadaptor.NewFastHTTPHandler(srv), "solar"),
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			srv.mu.Lock()
			srv.data = nil
			srv.mu.Unlock()
			if b, err := src(ctx, 0, 16); b != nil || err != nil {
				t.Fatalf("not published: %q, %v", b, err)
			}
			srv.set("10 100 6 4\n20 160 12 8\n")
			b, err := src(ctx, 0, 16)
			if string(b) != "10 100 6 4\n20 16" || err != nil {
				t.Fatalf("from 0: %q, %v", b, err)
			}
			if b, err := src(ctx, 11, 100); string(b) != "20 160 12 8\n" || err != nil {
				t.Fatalf("from 11: %q, %v", b, err)
			}
			if b, err := src(ctx, 23, 100); len(b) != 0 || err != nil {
				t.Fatalf("at the end: %q, %v", b, err)
			}
			srv.set("10 100 6 4\n")
			if _, err := src(ctx, 23, 100); !errors.Is(err, ErrHistoryRewound) {
				t.Fatalf("replaced by a shorter one: %v, want ErrHistoryRewound", err)
			}
		})
	}
}

// TestHistoryInSamples: the sampler reads the history as it grows, flags
// a share jump, and reads it again from the start when it is replaced.
func TestHistoryInSamples(t *testing.T) {
	srv := &historyServer{}
	hs := httptest.NewServer(srv)
	r := newRig(t, Config{Interval: 10 * time.Second, Anomaly: Anomaly{ShareMinVotes: 100},
		Campaigns: []Campaign{{Name: "solar", Options: []string{"Sun", "Moon"}, History: HTTPHistory(hs.Client(), hs.URL, "solar")}}})
	// History times within the window.
	tm := func(dt int64) int64 { return t0.Unix() + dt }
	lines := []string{
		fmt.Sprintf("60 %d 36 24\n", tm(-100)),
		fmt.Sprintf("120 %d 72 48\n", tm(-40)),
		fmt.Sprintf("180 %d 132 48\n", tm(5)),
	}
	srv.set(lines[0] + lines[1])
	d := r.at(0)
	h := d.campaign(t, "solar").History
	if h == nil || h.Lines != 2 || h.Size != 120 || h.Time != tm(-40) || h.Failed ||
		!reflect.DeepEqual(h.Shares, []ShareData{{"Sun", 72, 0.6}, {"Moon", 48, 0.4}}) {
		t.Fatalf("history %+v", h)
	}
	if f := d.campaign(t, "solar").Flags; len(f) != 0 {
		t.Fatalf("flags %+v before any jump", f)
	}
	srv.set(lines[0] + lines[1] + lines[2])
	d = r.at(10 * time.Second)
	from, to := float64(tm(-40)), float64(tm(5))
	want := []Flag{
		{Kind: KindShare, Option: "Sun", From: from, To: to, Value: 132.0 / 180, Base: 0.6},
		{Kind: KindShare, Option: "Moon", From: from, To: to, Value: 48.0 / 180, Base: 0.4},
	}
	if got := d.campaign(t, "solar").Flags; !reflect.DeepEqual(got, want) {
		t.Fatalf("flags %+v, want %+v", got, want)
	}
	// The publisher's data replaced: read again from the start, and the
	// old share flags go.
	srv.set(fmt.Sprintf("6 %d 3 3\n", tm(10)))
	d = r.at(20 * time.Second)
	h = d.campaign(t, "solar").History
	if h.Lines != 1 || h.Size != 6 || len(d.campaign(t, "solar").Flags) != 0 {
		t.Fatalf("after the history was replaced: %+v, flags %+v", h, d.campaign(t, "solar").Flags)
	}
	// A server that stops answering: the history says so.
	hs.Close()
	d = r.at(30 * time.Second)
	if h := d.campaign(t, "solar").History; !h.Failed || h.Lines != 1 {
		t.Fatalf("history of a server gone: %+v", h)
	}
}

// TestHistoryCountsFit: a line whose counts outnumber its size is not the
// publisher's, and is counted bad.
func TestHistoryCountsFit(t *testing.T) {
	var h histState
	got := h.feed([]byte("10 1 6 4\n10 2 6 5\n20 3 9223372036854775807 9223372036854775807\n20 4 10 10\n"), []string{"A", "B"}, historyLimit)
	if len(got) != 2 || got[0].Line != 1 || got[1].Line != 4 || h.bad != 2 || h.lines != 4 {
		t.Errorf("lines %+v, bad %d, lines read %d; want lines 1 and 4, 2 bad", got, h.bad, h.lines)
	}
}

// TestHistoryHangs: a history that never comes holds the sample up no
// longer than ScrapeTimeout, and the page says it failed.
func TestHistoryHangs(t *testing.T) {
	release := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hs.Close()
	defer close(release)
	var cs []Campaign
	for _, n := range []string{"a", "b", "c"} {
		cs = append(cs, Campaign{Name: n, Options: []string{"x"}, History: HTTPHistory(hs.Client(), hs.URL, n)})
	}
	r := newRig(t, Config{Interval: time.Second, ScrapeTimeout: 300 * time.Millisecond, Campaigns: cs})
	start := time.Now()
	d := r.at(0)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("a sample took %v with three histories hanging and a timeout of 300 ms", took)
	}
	for _, n := range []string{"a", "b", "c"} {
		if h := d.campaign(t, n).History; h == nil || !h.Failed {
			t.Errorf("history of %s: %+v, want failed", n, h)
		}
	}
}
