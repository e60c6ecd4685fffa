package edge

import (
	"strings"
	"testing"
)

const exposed = "P-UTC, P-SIG, Voter, Say01, Say02, Receipt01, Receipt02, Receipt-Sig, Cache-Control, Campaign, Pow-Threshold"

func TestCORSPreflight(t *testing.T) {
	e := startEnv(t, 1, func(c *Config) { c.AllowOrigins = []string{"https://vote.example.org", "http://localhost:8080"} })
	nonce := "/00112233445566778899AABBCCDDEEFF"
	for _, path := range []string{"/stamp", "/list", nonce} {
		resp, body := do(t, "OPTIONS", e.base+path, map[string]string{
			"Origin":                         "https://vote.example.org",
			"Access-Control-Request-Method":  "GET",
			"Access-Control-Request-Headers": "auth-pkey,auth-sig,auth-id,p-utc,p-sig,voter,say",
		})
		if resp.StatusCode != 204 || body != "" {
			t.Errorf("preflight %s: status %d body %q, want 204", path, resp.StatusCode, body)
		}
		for k, v := range map[string]string{
			"Access-Control-Allow-Origin":   "https://vote.example.org",
			"Access-Control-Allow-Methods":  "GET",
			"Access-Control-Allow-Headers":  "TOTP, Auth-Pkey, Auth-Sig, Auth-Id, P-UTC, P-SIG, Voter, Say",
			"Access-Control-Max-Age":        "7200",
			"Access-Control-Expose-Headers": exposed,
			"Vary":                          "Origin",
		} {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("preflight %s: %s = %q, want %q", path, k, got, v)
			}
		}
	}
	for _, tc := range []struct{ name, origin, path string }{
		{"origin not allowed", "https://evil.example.org", "/stamp"},
		{"origin differs in scheme", "http://vote.example.org", "/stamp"},
		{"origin differs in port", "http://localhost:8081", "/stamp"},
		{"no origin", "", "/stamp"},
		{"path not served", "https://vote.example.org", "/hello"},
		{"nonce too short", "https://vote.example.org", "/0011"},
	} {
		hdr := map[string]string{"Access-Control-Request-Method": "GET"}
		if tc.origin != "" {
			hdr["Origin"] = tc.origin
		}
		resp, body := do(t, "OPTIONS", e.base+tc.path, hdr)
		if resp.StatusCode != 400 || body != "" || resp.Header.Get("Access-Control-Allow-Methods") != "" {
			t.Errorf("%s: status %d body %q Allow-Methods %q, want 400 empty", tc.name, resp.StatusCode, body, resp.Header.Get("Access-Control-Allow-Methods"))
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); tc.name != "path not served" && tc.name != "nonce too short" && got != "" {
			t.Errorf("%s: Access-Control-Allow-Origin %q", tc.name, got)
		}
	}
	if st := e.srv.Stats(); st["preflight"] != 3 || st["bad_request"] != 6 {
		t.Errorf("stats %v, want preflight 3, bad_request 6", st)
	}
}

func TestCORSExposure(t *testing.T) {
	e := startEnv(t, 1, func(c *Config) { c.AllowOrigins = []string{"https://vote.example.org"} })
	origin := map[string]string{"Origin": "https://vote.example.org"}
	with := func(k, v string) map[string]string { return map[string]string{"Origin": origin["Origin"], k: v} }
	b := e.ballot(t, e.rightCode(t), "Yes").with("Origin", origin["Origin"])
	bad := b.with("Voter", "-")
	for _, tc := range []struct {
		name, path string
		hdr        map[string]string
		status     int
	}{
		{"list", "/list", origin, 204},
		{"stamp", "/stamp", with("TOTP", e.rightCode(t)), 204},
		{"vote", b.path, b.hdr, 204},
		{"replayed vote", b.path, b.hdr, 204},
		{"malformed vote", bad.path, bad.hdr, 400},
		{"unknown path", "/hello", origin, 400},
	} {
		resp, _ := do(t, "GET", e.base+tc.path, tc.hdr)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
		vary := "Origin"
		if tc.status == 204 && strings.Contains(tc.name, "vote") {
			vary = voteVary + ", Origin" // TestVoteAnswerVaries
		}
		for k, v := range map[string]string{
			"Access-Control-Allow-Origin":   "https://vote.example.org",
			"Access-Control-Expose-Headers": exposed,
			"Vary":                          vary,
		} {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", tc.name, k, got, v)
			}
		}
	}

	// Another origin gets the answer without CORS headers; the browser
	// keeps it from the page.
	resp, _ := do(t, "GET", e.base+"/list", map[string]string{"Origin": "https://evil.example.org"})
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.Header.Get("Vary") != "Origin" {
		t.Errorf("other origin: status %d, Allow-Origin %q, Vary %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Get("Vary"))
	}
}

func TestCORSAnyOrigin(t *testing.T) {
	e := startEnv(t, 1, func(c *Config) { c.AllowOrigins = []string{"*"} })
	for _, o := range []string{"https://a.example", "http://localhost:3000"} {
		resp, _ := do(t, "OPTIONS", e.base+"/stamp", map[string]string{"Origin": o, "Access-Control-Request-Method": "GET"})
		if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != o {
			t.Errorf("origin %s: status %d Allow-Origin %q, want 204 and the origin", o, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	}
	// Without Origin there is nothing to allow.
	resp, _ := do(t, "OPTIONS", e.base+"/stamp", nil)
	if resp.StatusCode != 400 {
		t.Errorf("preflight without Origin: status %d, want 400", resp.StatusCode)
	}
}
