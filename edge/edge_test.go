package edge

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"github.com/valyala/fasthttp"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/powvote/powvote/campaign"
)

// testThreshold keeps the proofs of work of tests to a few hundred hashes.
const testThreshold = 8

func settings(name string, options ...string) *campaign.Settings {
	pub, _, _ := ed25519.GenerateKey(nil)
	return &campaign.Settings{
		Name: name, Options: options, Authorities: []ed25519.PublicKey{pub},
		Threshold: testThreshold, BatchSize: 1, Start: time.Unix(1e9, 0), End: time.Unix(2e9, 0),
		MaxStampAge: time.Minute,
	}
}

// offline is a campaign whose collectors are not running: enough for the
// tests that never reach them.
func offline(t *testing.T, s *campaign.Settings) Campaign {
	t.Helper()
	k := newKeys(t)
	return Campaign{Settings: s, UTCSignPub: k.signPub(), UTCHole: k.hole, VoterKey: k.voterKey, Link: k.link,
		Pairs: [][2]string{{deadURL(t), deadURL(t)}}}
}

// serve starts an edge on a loopback port and returns it and its base URL.
// hook, if not nil, is called with the server before it starts serving.
func serve(t testing.TB, cfg Config, hook ...func(*Server)) (*Server, string) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hook {
		h(s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return s, "http://" + ln.Addr().String()
}

// do sends a request with the given headers ("Host" sets the Host) and
// returns the answer with its body read and closed.
func do(t testing.TB, method, url string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header[k] = []string{v} // as written: P-UTC, not P-Utc
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := bufio.NewReader(resp.Body).WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return resp, b.String()
}

func get(t *testing.T, method, url, host string) *http.Response {
	t.Helper()
	hdr := map[string]string{}
	if host != "" {
		hdr["Host"] = host
	}
	resp, _ := do(t, method, url, hdr)
	return resp
}

// wantEmpty checks an error answer: its status, an empty body, and whether
// it carries the nonce cache's max-age.
func wantEmpty(t *testing.T, what string, resp *http.Response, body string, status int, cached bool) {
	t.Helper()
	if resp.StatusCode != status || body != "" {
		t.Errorf("%s: status %d body %q, want %d and empty", what, resp.StatusCode, body, status)
	}
	cc := resp.Header.Get("Cache-Control")
	if cached && cc != "max-age=300" || !cached && cc != "" {
		t.Errorf("%s: Cache-Control %q, cached %v", what, cc, cached)
	}
}

func TestList(t *testing.T) {
	s := settings("solar", "Humble Pluto", "Zürich Nord")
	s.ListMaxAge = 90 * time.Second
	_, base := serve(t, Config{Campaigns: []Campaign{offline(t, s)}})
	resp := get(t, "GET", base+"/list", "anything.example")
	if resp.StatusCode != 204 {
		t.Fatalf("status %d, want 204", resp.StatusCode)
	}
	want := map[string]string{"Say01": "Humble Pluto", "Say02": "Z%C3%BCrich%20Nord", "Cache-Control": "max-age=90", "Campaign": "solar", "Pow-Threshold": strconv.Itoa(testThreshold)}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if got := resp.Header.Get("Say03"); got != "" {
		t.Errorf("Say03 = %q, want none", got)
	}
	if got := resp.Header.Get("Vary"); got != "" {
		t.Errorf("Vary = %q without CORS origins", got)
	}
}

func TestBadRequests(t *testing.T) {
	srv, base := serve(t, Config{Campaigns: []Campaign{offline(t, settings("solar", "A"))}})
	for _, tc := range []struct{ method, path string }{
		{"GET", "/hello"}, {"POST", "/list"}, {"PUT", "/list"}, {"GET", "/list/"}, {"GET", "/LIST"},
		{"HEAD", "/list"}, {"POST", "/stamp"}, {"GET", "/stamp/"}, {"GET", "/"}, {"OPTIONS", "/list"},
		{"POST", "/00112233445566778899aabbccddeeff"}, {"DELETE", "/00112233445566778899aabbccddeeff"},
	} {
		resp, body := do(t, tc.method, base+tc.path, nil)
		if resp.StatusCode != 400 || body != "" {
			t.Errorf("%s %s: status %d body %q, want 400 empty", tc.method, tc.path, resp.StatusCode, body)
		}
	}
	if got := srv.Stats()["bad_request"]; got != 12 {
		t.Errorf("bad_request = %d, want 12", got)
	}
}

func TestCampaignByHost(t *testing.T) {
	_, base := serve(t, Config{Campaigns: []Campaign{offline(t, settings("solar", "Pluto")), offline(t, settings("city", "Yes", "No"))}})
	for _, tc := range []struct {
		host, say01 string
		status      int
	}{
		{"solar.example.org", "Pluto", 204},
		{"CITY.example.org:8080", "Yes", 204},
		{"city", "Yes", 204},
		{"other.example.org", "", 400},
	} {
		resp := get(t, "GET", base+"/list", tc.host)
		if resp.StatusCode != tc.status || resp.Header.Get("Say01") != tc.say01 {
			t.Errorf("Host %s: status %d Say01 %q, want %d %q", tc.host, resp.StatusCode, resp.Header.Get("Say01"), tc.status, tc.say01)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("no campaigns: no error")
	}
	if _, err := New(Config{Campaigns: []Campaign{offline(t, settings("a", "x")), offline(t, settings("a", "y"))}}); err == nil || !strings.Contains(err.Error(), `"a" given twice`) {
		t.Errorf("duplicate campaign: %v", err)
	}
	bad := settings("solar", "x")
	bad.Threshold = 0
	if _, err := New(Config{Campaigns: []Campaign{offline(t, bad)}}); err == nil {
		t.Error("invalid settings: no error")
	}
	for _, tc := range []struct {
		name   string
		change func(*Campaign)
		want   string
	}{
		{"no settings", func(c *Campaign) { c.Settings = nil }, "without settings"},
		{"short UTC-SIGN key", func(c *Campaign) { c.UTCSignPub = c.UTCSignPub[:31] }, "UTCSignPub is 31 bytes"},
		{"short voter key", func(c *Campaign) { c.VoterKey = c.VoterKey[:15] }, "VoterKey is 15 bytes"},
		{"no link", func(c *Campaign) { c.Link = nil }, "no credentials for the internal links"},
		{"no pairs", func(c *Campaign) { c.Pairs = nil }, "no collector pairs"},
		{"twin is itself", func(c *Campaign) { c.Pairs[0][1] = c.Pairs[0][0] }, "instances 0 and 1 are both"},
		{"same instance in two pairs", func(c *Campaign) { c.Pairs = append(c.Pairs, [2]string{c.Pairs[0][1] + "/", "http://127.0.0.1:1"}) }, "instances 1 and 2 are both"},
		{"not http", func(c *Campaign) { c.Pairs[0][1] = "ftp://127.0.0.1:9" }, "instance 1: collector URL"},
		{"with a path", func(c *Campaign) { c.Pairs[0][0] = "http://127.0.0.1:9/vote" }, "instance 0: collector URL"},
		{"no host", func(c *Campaign) { c.Pairs[0][0] = "http://" }, "instance 0: collector URL"},
	} {
		c := offline(t, settings("solar", "x"))
		tc.change(&c)
		if _, err := New(Config{Campaigns: []Campaign{c}}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	// One collector process serves several campaigns at one URL.
	a, b := offline(t, settings("solar", "x")), offline(t, settings("city", "y"))
	b.Pairs = a.Pairs
	if _, err := New(Config{Campaigns: []Campaign{a, b}}); err != nil {
		t.Errorf("collectors shared by two campaigns: %v", err)
	}
	c := offline(t, settings("solar", "x"))
	if _, err := New(Config{Campaigns: []Campaign{c}, NonceCacheTTL: time.Millisecond}); err == nil {
		t.Error("NonceCacheTTL of 1ms: no error")
	}
}

// TestAddCampaign adds a campaign to a running edge: from then on a Host
// must name its campaign, and a campaign cannot be added twice.
func TestAddCampaign(t *testing.T) {
	a, b := offline(t, settings("solar", "x")), offline(t, settings("city", "y"))
	srv, err := New(Config{Campaigns: []Campaign{a}, TailInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if st := srv.siteFor([]byte("anything.example")); st == nil || st.name != "solar" {
		t.Fatalf("one campaign: Host anything reached %v", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := srv.AddCampaign(ctx, b); err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]string{"solar.vote.example": "solar", "CITY.vote.example": "city", "city:8080": "city", "anything.example": ""} {
		got := ""
		if st := srv.siteFor([]byte(host)); st != nil {
			got = st.name
		}
		if got != want {
			t.Errorf("Host %s: campaign %q, want %q", host, got, want)
		}
	}
	if err := srv.AddCampaign(ctx, offline(t, settings("city", "z"))); err == nil || !strings.Contains(err.Error(), "served already") {
		t.Errorf("city added twice: %v", err)
	}
	bad := offline(t, settings("town", "z"))
	bad.Pairs = nil
	if err := srv.AddCampaign(ctx, bad); err == nil || srv.siteFor([]byte("town.x")) != nil {
		t.Errorf("a campaign without pairs: %v", err)
	}
}

func TestListsMounted(t *testing.T) {
	c := offline(t, settings("solar", "A"))
	var mu sync.Mutex // guards served: the handler runs on the server's goroutines
	var served []string
	c.Lists = func(ctx *fasthttp.RequestCtx) {
		mu.Lock()
		served = append(served, string(ctx.Method())+" "+string(ctx.Path()))
		mu.Unlock()
		ctx.SetStatusCode(200)
		ctx.SetBodyString("list")
	}
	_, base := serve(t, Config{Campaigns: []Campaign{c}})
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/solar-vote.log", 200},
		{"HEAD", "/solar-auth.log", 200},
		{"GET", "/solar-vote.checkpoint", 200},
		{"POST", "/solar-vote.log", 400},
		{"GET", "/lunar-vote.log", 400},
		{"GET", "/solar-vote/tile/0/000", 200},
		{"GET", "/solar-../x.log", 400},
		{"GET", "/solar-", 400},
	} {
		if resp := get(t, tc.method, base+tc.path, ""); resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(served) != 4 {
		t.Errorf("lists handler saw %v", served)
	}
}

// TestServeAfterShutdown: a Serve that starts after Shutdown (a signal at
// once after the start) returns instead of serving for ever: fasthttp
// closes only the listeners its Serve registered before.
func TestServeAfterShutdown(t *testing.T) {
	s, err := New(Config{Campaigns: []Campaign{offline(t, settings("solar", "A"))}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after Shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		ln.Close()
		t.Fatal("Serve after Shutdown still serving after 5 s")
	}
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Error("the listener still accepts after Serve returned")
	}
}
