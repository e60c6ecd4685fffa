package edge

import (
	"slices"
	"strings"
	"testing"
)

// TestVoteAnswerVaries: every answer the edge keeps under a nonce names, in
// Vary, each header a vote consists of, so that a shared cache between the
// edge and voters (a CDN, a proxy) does not give a vote's receipt to
// another request for the same URL; CORS adds Origin to the list.
func TestVoteAnswerVaries(t *testing.T) {
	for _, cors := range []bool{false, true} {
		e := startEnv(t, 1, func(c *Config) {
			if cors {
				c.AllowOrigins = []string{"*"}
			}
		})
		want := []string{"Auth-Pkey", "Auth-Sig", "Auth-Id", "P-UTC", "P-SIG", "Voter", "Say"}
		if cors {
			want = append(want, "Origin")
		}
		accepted := e.ballot(t, e.rightCode(t), "Yes")
		decoy := e.ballot(t, e.wrongCode(t), "Yes")
		for _, tc := range []struct {
			name   string
			b      ballot
			status int
		}{{"accepted", accepted, 204}, {"decoy", decoy, 488}} {
			resp, _ := e.cast(t, tc.b)
			var got []string
			for _, v := range strings.Split(resp.Header.Get("Vary"), ",") {
				got = append(got, strings.TrimSpace(v))
			}
			if resp.StatusCode != tc.status || !slices.Equal(got, want) {
				t.Errorf("CORS %v, %s: status %d, Vary %q; want %d, %q", cors, tc.name, resp.StatusCode, got, tc.status, want)
			}
		}
	}
}
