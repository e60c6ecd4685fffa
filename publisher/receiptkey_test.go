package publisher

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
)

// TestServeReceiptKey checks /solar-receipt.key over HTTP, before and
// after the close: the receipt public key in base64 on one line when
// Config.ReceiptPub is set, with or without the logs, and a 404 that
// caches do not keep when it is not; HEAD answers the same headers
// without a body. After the close the key is still served, and it is the
// one C-keys.txt names.
func TestServeReceiptKey(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	line := base64.StdEncoding.EncodeToString(pub) + "\n"
	for _, tc := range []struct {
		name   string
		pub    ed25519.PublicKey
		logKey bool
		status int
		body   string
	}{
		{"key and logs", pub, true, 200, line},
		{"key without logs", pub, false, 200, line},
		{"no key", nil, true, 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := ""
			if tc.logKey {
				key = testLogKey(t)
			}
			p := logPublisher(t, t.TempDir(), key, (&tickClock{}).now, func(c *Config) { c.ReceiptPub = tc.pub })
			base := serve(t, p)
			check := func(when string) {
				t.Helper()
				for _, method := range []string{"GET", "HEAD"} {
					a := get(t, base+"/solar-receipt.key", map[string]string{":method": method})
					want := tc.body
					if method == "HEAD" {
						want = ""
					}
					if a.status != tc.status || a.body != want || a.header.Get("Cache-Control") != "no-cache" {
						t.Errorf("%s %s: %d %q, Cache-Control %q; want %d %q, no-cache",
							when, method, a.status, a.body, a.header.Get("Cache-Control"), tc.status, want)
					}
					if tc.status == 200 {
						if ct := a.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
							t.Errorf("%s %s: Content-Type %q", when, method, ct)
						}
						if cl := a.header.Get("Content-Length"); cl != "45" {
							t.Errorf("%s %s: Content-Length %q, want 45", when, method, cl)
						}
					}
				}
				if a := get(t, base+"/solar-receipt.key", map[string]string{":method": "POST"}); a.status != 400 {
					t.Errorf("%s POST: %d, want 400", when, a.status)
				}
			}
			check("before the close")
			if err := p.Finish(context.Background()); err != nil {
				t.Fatalf("Finish: %v", err)
			}
			if !p.Status().Closed {
				t.Fatal("Finish did not close the campaign")
			}
			check("after the close")
			keys := get(t, base+"/solar-keys.txt", nil)
			if named := strings.Contains(keys.body, "receipt "+line); keys.status != 200 || named != (tc.pub != nil) {
				t.Errorf("keys.txt: %d\n%s\nnames the served receipt key: %v, want %v", keys.status, keys.body, named, tc.pub != nil)
			}
		})
	}
}
