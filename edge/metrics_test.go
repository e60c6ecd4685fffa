package edge

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/internal/operator/operatortest"
	"github.com/powvote/powvote/pow"
)

// TestMetricsVotes provokes votes answered 204, 481 and 489, a replay and
// stamps for right and wrong codes, and reads each count back from the
// exposition.
func TestMetricsVotes(t *testing.T) {
	set := metrics.NewSet()
	e := startEnv(t, 1, func(c *Config) { c.Metrics = set })
	const accepted, refused, decoys = 3, 2, 2

	var first ballot
	for i := range accepted {
		b := e.ballot(t, e.rightCode(t), "Yes")
		if resp, _ := e.cast(t, b); resp.StatusCode != 204 {
			t.Fatalf("vote %d: status %d, want 204", i, resp.StatusCode)
		}
		if i == 0 {
			first = b
		}
	}
	e.votesSettled([]int64{accepted, accepted})
	// The same vote again: from the nonce cache.
	if resp, _ := e.cast(t, first); resp.StatusCode != 204 {
		t.Fatalf("replay: status %d, want 204", resp.StatusCode)
	}
	e.answerAll(reply{status: 481})
	for i := range refused {
		if resp, _ := e.cast(t, e.ballot(t, e.rightCode(t), "Yes")); resp.StatusCode != 481 {
			t.Fatalf("vote %d: status %d, want 481", i, resp.StatusCode)
		}
	}
	e.votesSettled([]int64{accepted + refused, accepted + refused})
	// Work below the threshold, refused by the edge itself.
	low := e.ballot(t, e.rightCode(t), "Yes")
	w := low.work(t)
	for i := uint64(0); ; i++ {
		n := binary.BigEndian.AppendUint64(nil, i)
		if _, err := pow.Verify(w, n, testThreshold); err != nil {
			low.path = "/" + hex.EncodeToString(n)
			break
		}
	}
	if resp, _ := e.cast(t, low); resp.StatusCode != 489 {
		t.Fatalf("low work: status %d, want 489", resp.StatusCode)
	}
	for range decoys {
		e.getStamp(t, e.wrongCode(t))
	}
	const genuine = accepted + refused + 1 // one stamp per ballot

	s := operatortest.Scrape(t, set)
	c := func(labels ...string) []string { return append([]string{"campaign", "solar"}, labels...) }
	stats := e.srv.Stats()
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"powvote_edge_requests_total", c("endpoint", "vote", "code", "204"), accepted + 1},
		{"powvote_edge_requests_total", c("endpoint", "vote", "code", "481"), refused},
		{"powvote_edge_requests_total", c("endpoint", "vote", "code", "489"), 1},
		{"powvote_edge_requests_total", c("endpoint", "vote", "code", "503"), 0},
		{"powvote_edge_requests_total", c("endpoint", "stamp", "code", "204"), genuine + decoys},
		{"powvote_edge_requests_total", c("endpoint", "list", "code", "204"), 0},
		{"powvote_edge_request_duration_seconds_count", c("endpoint", "vote"), accepted + 1 + refused + 1},
		{"powvote_edge_request_duration_seconds_bucket", c("endpoint", "stamp", "le", "+Inf"), genuine + decoys},
		{"powvote_edge_refusals_total", c("reason", "low_work"), 1},
		{"powvote_edge_refusals_total", c("reason", "held_elsewhere"), 0},
		{"powvote_edge_stamps_served_total", c("kind", "genuine"), genuine},
		{"powvote_edge_stamps_served_total", c("kind", "decoy"), decoys},
		{"powvote_edge_stamp_pool_spent_total", c(), 0},
		{"powvote_edge_nonce_cache_hits_total", c(), 1},
		// Both instances answer every vote.
		{"powvote_edge_collector_calls_total", c("pair", "0", "instance", "0", "call", "vote", "outcome", "ok"), accepted},
		{"powvote_edge_collector_calls_total", c("pair", "0", "instance", "1", "call", "vote", "outcome", "ok"), accepted},
		{"powvote_edge_collector_calls_total", c("pair", "0", "instance", "0", "call", "vote", "outcome", "refused"), refused},
		{"powvote_edge_collector_calls_total", c("pair", "0", "instance", "1", "call", "vote", "outcome", "refused"), refused},
		{"powvote_edge_collector_calls_total", c("pair", "0", "instance", "0", "call", "vote", "outcome", "error"), 0},
		// The pools: the edge's own counters say how many were fetched.
		{"powvote_edge_collector_calls_total", c("pair", "0", "instance", "0", "call", "stamp", "outcome", "ok"), float64(stats["stamp_fetches"])},
		{"powvote_edge_platform_stamps_received_total", c(), float64(stats["stamp_pool_signed"])},
		{"powvote_edge_nonce_cache_entries", nil, accepted + refused},
		{"powvote_edge_unknown_campaign_requests_total", nil, 0},
	} {
		if got := s.Get(t, tc.name, tc.labels...); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if stats["stamp_fetches"] == 0 {
		t.Error("no platform stamp fetch counted")
	}
	s.CheckLabels(t, "powvote_edge_", "campaign", "endpoint", "code", "reason", "kind", "pair", "instance", "call", "outcome", "limit")
	for _, v := range s.LabelValues("powvote_edge_", "campaign") {
		if v != "solar" {
			t.Errorf("campaign label %q", v)
		}
	}
}

// TestMetricsCampaigns checks that each campaign counts its own requests,
// and that a Host naming no campaign is counted without one.
func TestMetricsCampaigns(t *testing.T) {
	set := metrics.NewSet()
	_, base := serve(t, Config{Metrics: set, TailInterval: -1, Campaigns: []Campaign{
		offline(t, settings("solar", "Yes")), offline(t, settings("lunar", "Yes"))}})
	for range 2 {
		get(t, "GET", base+"/list", "solar.example.org")
	}
	get(t, "GET", base+"/list", "lunar.example.org")
	get(t, "GET", base+"/nowhere", "lunar.example.org")
	get(t, "GET", base+"/list", "nowhere.example.org")
	s := operatortest.Scrape(t, set)
	for _, tc := range []struct {
		campaign, endpoint, code string
		want                     float64
	}{
		{"solar", "list", "204", 2},
		{"lunar", "list", "204", 1},
		{"lunar", "other", "400", 1},
		{"solar", "other", "400", 0},
	} {
		if got := s.Get(t, "powvote_edge_requests_total", "campaign", tc.campaign, "endpoint", tc.endpoint, "code", tc.code); got != tc.want {
			t.Errorf("%s %s %s: %v, want %v", tc.campaign, tc.endpoint, tc.code, got, tc.want)
		}
	}
	if got := s.Get(t, "powvote_edge_unknown_campaign_requests_total"); got != 1 {
		t.Errorf("unknown campaign: %v, want 1", got)
	}
	if got := s.LabelValues("powvote_edge_", "campaign"); strings.Join(got, ",") != "lunar,solar" {
		t.Errorf("campaign labels %v, want lunar and solar", got)
	}
}

// TestMetricsConnections checks the open connections and the refusals at
// the connection limit.
func TestMetricsConnections(t *testing.T) {
	set := metrics.NewSet()
	_, base := serve(t, Config{Metrics: set, TailInterval: -1, MaxConns: 1, IdleCloseAt: -1,
		Campaigns: []Campaign{offline(t, settings("solar", "Yes"))}})
	addr := strings.TrimPrefix(base, "http://")
	held := dialBusy(t, addr)
	defer held.Close()
	waitFor(2*time.Second, func() bool { return operatortest.Scrape(t, set)["powvote_edge_open_connections"] == 1 })
	// One more: over the limit, answered 503 and closed.
	extra := dialBusy(t, addr)
	buf := make([]byte, 64)
	extra.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _ := extra.Read(buf)
	extra.Close()
	if !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 503") {
		t.Fatalf("connection over the limit got %q, want a 503", buf[:n])
	}
	s := operatortest.Scrape(t, set)
	if got := s.Get(t, "powvote_edge_open_connections"); got != 1 {
		t.Errorf("open connections %v, want 1", got)
	}
	if got := s.Get(t, "powvote_edge_connections_refused_total", "limit", "max"); got != 1 {
		t.Errorf("refused at the limit %v, want 1", got)
	}
}

// dialBusy opens a connection to addr and sends half a request, so that
// the edge holds it busy.
func dialBusy(t *testing.T, addr string) net.Conn {
	t.Helper()
	c := dialFrom(t, "127.0.0.1", addr)
	io.WriteString(c, "GET /list HTTP/1.1\r\nHost: solar.example.org\r\nX-Slow: ")
	return c
}

func TestReady(t *testing.T) {
	e := startEnv(t, 1, func(c *Config) { c.TailInterval = -1 })
	// Serve runs on a goroutine of its own: wait for it to begin.
	waitFor(5*time.Second, func() bool { return !errors.Is(e.srv.Ready(), errNotServing) })
	err := e.srv.Ready()
	if err == nil || !strings.Contains(err.Error(), "collector 0 of solar") {
		t.Fatalf("Ready before the records were read = %v, want one naming collector 0 of solar", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.srv.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Ready(); err != nil {
		t.Errorf("Ready once caught up = %v", err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	if err := e.srv.Shutdown(ctx2); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Ready(); !errors.Is(err, errNotServing) {
		t.Errorf("Ready after Shutdown = %v, want %v", err, errNotServing)
	}
}

func TestCodeSlot(t *testing.T) {
	for i, c := range answerCodes {
		if got := codeSlot(c); got != i {
			t.Errorf("codeSlot(%d) = %d, want %d", c, got, i)
		}
	}
	for _, c := range []int{-1, 0, 100, 201, 299, 490, 599, 600, 1000} {
		if got := codeSlot(c); got != numCodes-1 {
			t.Errorf("codeSlot(%d) = %d, want the other slot %d", c, got, numCodes-1)
		}
	}
}

// TestObserveAllocs checks that counting an answer allocates nothing: it
// runs on every request.
func TestObserveAllocs(t *testing.T) {
	s, err := New(Config{TailInterval: -1, Campaigns: []Campaign{offline(t, settings("solar", "Yes"))}})
	if err != nil {
		t.Fatal(err)
	}
	st := s.siteMap()["solar"]
	var ctx fasthttp.RequestCtx
	ctx.Response.SetStatusCode(481)
	refusal := reject(heldElsewhere, errHeldElsewhere)
	if n := testing.AllocsPerRun(100, func() {
		st.noteRefusal(refusal)
		s.observe(&ctx, st, epVote)
	}); n != 0 {
		t.Errorf("counting an answer allocates %v times", n)
	}
	if got := st.m.answers[epVote][codeSlot(481)].Get(); got != 101 {
		t.Errorf("counted %d answers, want 101 (100 runs and the warm-up)", got)
	}
}
