package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/powvote/powvote/internal/operator/operatortest"
)

// TestUpMetrics runs powvote up with --metrics, waits for /ready, casts
// votes with powvote vote and checks the scrape: what the collectors
// acknowledged and store equals the votes cast, as do the edge's 2xx
// answers to votes, and no label carries a voter's or a client's data.
func TestUpMetrics(t *testing.T) {
	data := filepath.Join(t.TempDir(), "pv")
	addr := freeAddr(t)
	p := startUp(t, data, "--metrics", addr)
	defer p.stop(t)
	base := "http://" + addr
	hc := &http.Client{Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()

	if a := get(t, hc, base+"/health", nil); a.StatusCode != 200 || a.body != "ok\n" {
		t.Fatalf("GET /health: %d %q", a.StatusCode, a.body)
	}
	ready := func() answer { return get(t, hc, base+"/ready", nil) }
	for deadline := time.Now().Add(30 * time.Second); ready().StatusCode != 200 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if a := ready(); a.StatusCode != 200 || a.body != "ready\n" {
		t.Fatalf("GET /ready after 30 s: %d %q", a.StatusCode, a.body)
	}

	const cast = 2
	castVotes(t, data, p.edge, cast)
	scrape := func() operatortest.Samples {
		a := get(t, hc, base+"/metrics", nil)
		if a.StatusCode != 200 {
			t.Fatalf("GET /metrics: %d", a.StatusCode)
		}
		s, err := operatortest.Parse([]byte(a.body))
		if err != nil {
			t.Fatalf("/metrics does not parse: %v\n%s", err, a.body)
		}
		return s
	}
	inst := func(i string) []string { return []string{"campaign", "solar", "pair", "0", "instance", i} }
	// Both instances hold every vote once the twins have pulled.
	var s operatortest.Samples
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		s = scrape()
		if s[operatortest.Key("powvote_collector_votes_stored", inst("0")...)] == cast &&
			s[operatortest.Key("powvote_collector_votes_stored", inst("1")...)] == cast {
			break
		}
	}
	for _, i := range []string{"0", "1"} {
		if got := s.Get(t, "powvote_collector_votes_stored", inst(i)...); got != cast {
			t.Errorf("instance %s stores %v votes, want %d", i, got, cast)
		}
		// The edge sends each vote to both instances; one that got it
		// from its twin first answers it as a repeat.
		acked := s.Get(t, "powvote_collector_votes_acknowledged_total", inst(i)...)
		repeated := s.Get(t, "powvote_collector_votes_repeated_total", inst(i)...)
		if acked+repeated != cast {
			t.Errorf("instance %s acknowledged %v new votes and %v repeats, want %d in all", i, acked, repeated, cast)
		}
		if got := s.Get(t, "powvote_collector_ready", inst(i)...); got != 1 {
			t.Errorf("instance %s ready = %v", i, got)
		}
	}
	if got := s.Get(t, "powvote_edge_requests_total", "campaign", "solar", "endpoint", "vote", "code", "204"); got != cast {
		t.Errorf("the edge answered %v votes with 204, want %d", got, cast)
	}
	if got := s.Get(t, "powvote_edge_stamps_served_total", "campaign", "solar", "kind", "genuine"); got < cast {
		t.Errorf("the edge served %v genuine stamps for %d votes", got, cast)
	}
	if got := s.Get(t, "powvote_publisher_ready", "campaign", "solar"); got != 1 {
		t.Errorf("publisher ready = %v", got)
	}
	s.CheckLabels(t, "powvote_", "campaign", "endpoint", "code", "reason", "kind", "pair", "instance", "call", "outcome", "limit", "list")
	var names []string
	for _, k := range s.Names("powvote_") {
		names = append(names, strings.SplitN(k, "{", 2)[0])
	}
	for _, prefix := range []string{"powvote_edge_", "powvote_collector_", "powvote_publisher_"} {
		if !strings.Contains(strings.Join(names, " "), prefix) {
			t.Errorf("no %s metric in the scrape", prefix)
		}
	}
}
