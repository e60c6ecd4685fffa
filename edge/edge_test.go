package edge

import (
	"context"
	"crypto/ed25519"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/powvote/powvote/campaign"
)

func settings(name string, options ...string) *campaign.Settings {
	pub, _, _ := ed25519.GenerateKey(nil)
	return &campaign.Settings{
		Name: name, Options: options, Authorities: []ed25519.PublicKey{pub},
		Threshold: 10, BatchSize: 1, Start: time.Unix(1e9, 0), End: time.Unix(2e9, 0),
		MaxStampAge: time.Minute,
	}
}

// serve starts an edge on a loopback port and returns its base URL.
func serve(t *testing.T, cfg Config) string {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
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
	return "http://" + ln.Addr().String()
}

func get(t *testing.T, method, url, host string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestList(t *testing.T) {
	s := settings("solar", "Humble Pluto", "Zürich Nord")
	s.ListMaxAge = 90 * time.Second
	base := serve(t, Config{Campaigns: []*campaign.Settings{s}})
	resp := get(t, "GET", base+"/list", "anything.example")
	if resp.StatusCode != 204 {
		t.Fatalf("status %d, want 204", resp.StatusCode)
	}
	want := map[string]string{"Say01": "Humble Pluto", "Say02": "Z%C3%BCrich%20Nord", "Cache-Control": "max-age=90"}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if got := resp.Header.Get("Say03"); got != "" {
		t.Errorf("Say03 = %q, want none", got)
	}
}

func TestBadRequests(t *testing.T) {
	base := serve(t, Config{Campaigns: []*campaign.Settings{settings("solar", "A")}})
	for _, tc := range []struct{ method, path string }{
		{"GET", "/hello"}, {"POST", "/list"}, {"PUT", "/list"}, {"GET", "/list/"}, {"GET", "/LIST"},
	} {
		resp := get(t, tc.method, base+tc.path, "")
		if resp.StatusCode != 400 || resp.ContentLength > 0 {
			t.Errorf("%s %s: status %d length %d, want 400 empty", tc.method, tc.path, resp.StatusCode, resp.ContentLength)
		}
	}
}

func TestCampaignByHost(t *testing.T) {
	base := serve(t, Config{Campaigns: []*campaign.Settings{settings("solar", "Pluto"), settings("city", "Yes", "No")}})
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
	if _, err := New(Config{Campaigns: []*campaign.Settings{settings("a", "x"), settings("a", "y")}}); err == nil {
		t.Error("duplicate campaign: no error")
	}
	bad := settings("solar", "x")
	bad.Threshold = 0
	if _, err := New(Config{Campaigns: []*campaign.Settings{bad}}); err == nil {
		t.Error("invalid settings: no error")
	}
}
