package edge

import (
	"errors"
	"slices"
	"testing"
)

// TestCampaignsListing asks an edge of three campaigns for /campaigns.txt
// under Hosts of each campaign, of none and of an unknown one: every
// answer is the three names, sorted, cacheable, and readable by an allowed
// origin alone.
func TestCampaignsListing(t *testing.T) {
	const origin = "https://vote.example.org"
	_, base := serve(t, Config{
		Campaigns: []Campaign{
			offline(t, settings("solar", "Pluto")), offline(t, settings("city", "Yes", "No")), offline(t, settings("zoo-2", "Lion")),
		},
		AllowOrigins: []string{origin},
	})
	const want = "city\nsolar\nzoo-2\n"
	for _, tc := range []struct {
		method, host, origin string
		allowed              bool
	}{
		{"GET", "solar.example.org", "", false},
		{"GET", "CITY.example.org:8080", origin, true},
		{"GET", "unknown.example.org", origin, true},
		{"GET", "127.0.0.1", "https://evil.example.org", false},
		{"HEAD", "zoo-2", origin, true},
	} {
		hdr := map[string]string{"Host": tc.host}
		if tc.origin != "" {
			hdr["Origin"] = tc.origin
		}
		resp, body := do(t, tc.method, base+CampaignsPath, hdr)
		wantBody := want
		if tc.method == "HEAD" {
			wantBody = ""
		}
		if resp.StatusCode != 200 || body != wantBody {
			t.Errorf("%s Host %s: status %d body %q, want 200 %q", tc.method, tc.host, resp.StatusCode, body, wantBody)
		}
		for k, v := range map[string]string{
			"Content-Type":  "text/plain; charset=utf-8",
			"Cache-Control": "max-age=300",
			"Vary":          "Origin",
		} {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s Host %s: %s = %q, want %q", tc.method, tc.host, k, got, v)
			}
		}
		allow := resp.Header.Get("Access-Control-Allow-Origin")
		if tc.allowed && allow != tc.origin || !tc.allowed && allow != "" {
			t.Errorf("%s Host %s Origin %q: Access-Control-Allow-Origin %q", tc.method, tc.host, tc.origin, allow)
		}
	}
	// Other methods and near paths are no listing.
	for _, tc := range []struct{ method, path string }{{"POST", CampaignsPath}, {"GET", CampaignsPath + "/"}, {"GET", "/campaigns"}} {
		resp, body := do(t, tc.method, base+tc.path, map[string]string{"Host": "solar"})
		if resp.StatusCode != 400 || body != "" {
			t.Errorf("%s %s: status %d body %q, want 400 empty", tc.method, tc.path, resp.StatusCode, body)
		}
	}
}

func TestParseCampaigns(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"solar\n", []string{"solar"}},
		{"a\nb-2\nc\n", []string{"a", "b-2", "c"}},
	} {
		got, err := ParseCampaigns([]byte(tc.in))
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseCampaigns(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		if f := FormatCampaigns(got); f != tc.in {
			t.Errorf("FormatCampaigns(%q) = %q, want %q", got, f, tc.in)
		}
	}
	for _, in := range []string{"solar", "solar\r\n", "b\na\n", "a\na\n", "Solar\n", "\n", "a\n\nb\n", "-a\n", "a b\n", string(make([]byte, MaxCampaignsSize+1))} {
		if got, err := ParseCampaigns([]byte(in)); !errors.Is(err, ErrCampaigns) {
			t.Errorf("ParseCampaigns(%.20q) = %q, %v; want ErrCampaigns", in, got, err)
		}
	}
}

// FuzzParseCampaigns checks that whatever ParseCampaigns accepts is what
// FormatCampaigns writes for the names it returns.
func FuzzParseCampaigns(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		names, err := ParseCampaigns(data)
		if err != nil {
			return
		}
		if got := FormatCampaigns(names); got != string(data) {
			t.Fatalf("ParseCampaigns(%q) = %q, written back as %q", data, names, got)
		}
	})
}
