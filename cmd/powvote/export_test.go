package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/powvote/powvote/campaign"
)

// TestRoleExports runs a platform whose every process starts from the
// directory `powvote export` wrote for its role: two collectors, an edge
// and a publisher, each with only its own secrets. A vote goes through and
// is published. The edge serves the web apps, and the publisher's files
// as the publisher serves them: whole, in ranges, conditionally and by
// HEAD; a 502 once the publisher is gone. Afterwards no role's directory tree, with everything the
// process wrote into it, holds a secret of another role in any form; and a
// process refuses a directory made for another role.
func TestRoleExports(t *testing.T) {
	root := t.TempDir()
	full := filepath.Join(root, "full")
	mustRun(t, "init", "solar", "--dir", full, "--threshold", "12", "--batch-size", "1",
		"--option", "Evil Neptune", "--option", "Humble Pluto")
	dirs := map[campaign.Role]string{}
	for _, role := range campaign.Roles {
		dirs[role] = filepath.Join(root, string(role))
		out := mustRun(t, "export", "--dir", full, "--role", string(role), "--out", dirs[role])
		if !strings.Contains(out, string(role)) {
			t.Errorf("export %s printed %q", role, out)
		}
	}
	if r := run(t, "collector", "--dir", dirs[campaign.RoleEdge], "--instance", "0", "--listen", freeAddr(t)); r.code == 0 ||
		!strings.Contains(r.stderr, "role collector") {
		t.Errorf("a collector on the edge's directory: exit %d, stderr %q; want a refusal naming the role", r.code, r.stderr)
	}

	c, err := campaign.Load(full, "solar")
	if err != nil {
		t.Fatal(err)
	}
	ins := insiders(t, c)
	var addrs, urls [2]string
	for i := range addrs {
		addrs[i] = freeAddr(t)
		urls[i] = "https://" + addrs[i]
	}
	for i := range addrs {
		startProc(t, "collector", "--dir", dirs[campaign.RoleCollector], "--instance", fmt.Sprint(i), "--listen", addrs[i], "--twin", urls[1-i])
	}
	for i := range urls {
		waitHealthy(t, ins, urls[i])
	}
	pair := urls[0] + "," + urls[1]
	edgeAddr, pubAddr := freeAddr(t), freeAddr(t)
	edgeP := startProc(t, "edge", "--dir", dirs[campaign.RoleEdge], "--listen", edgeAddr, "--pair", pair, "--publisher", "http://"+pubAddr)
	pubP := startProc(t, "publisher", "--dir", dirs[campaign.RolePublisher], "--listen", pubAddr, "--pair", pair, "--interval", "200ms")

	token := strings.TrimSpace(mustRun(t, "mandates", "--key", filepath.Join(full, "solar", campaign.DemoAuthorityKey), "--count", "1", "--format", "tokens"))
	code := strings.TrimSpace(mustRun(t, "booth", "code", "--dir", full))
	r := run(t, "vote", "--edge", "http://"+edgeAddr, "--mandate", token, "--booth-code", code, "--say", "Humble Pluto", "--timeout", "20s")
	if r.code != 0 {
		t.Fatalf("vote: %s", r.stderr)
	}
	own := ownStamp(t, r.stdout)
	eventually(t, "the vote published", func() bool {
		resp, err := http.Get("http://" + pubAddr + "/solar-vote.log")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), own)
	})
	// The receipt key the publisher serves is the collectors' receipt key.
	resp, err := http.Get("http://" + pubAddr + "/solar-receipt.key")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), base64Std(c.Secrets.ReceiptPub)) {
		t.Errorf("publisher serves receipt key %q, want %s", b, base64Std(c.Secrets.ReceiptPub))
	}
	checkEdgeServesSite(t, "http://"+edgeAddr, "http://"+pubAddr)
	pubP.interrupt(t)
	if a := get(t, http.DefaultClient, "http://"+edgeAddr+"/solar-vote.log", nil); a.StatusCode != http.StatusBadGateway {
		t.Errorf("a list through the edge with the publisher gone: %d, want 502", a.StatusCode)
	}
	if a := get(t, http.DefaultClient, "http://"+edgeAddr+"/", nil); a.StatusCode != http.StatusOK {
		t.Errorf("the voter app with the publisher gone: %d, want 200", a.StatusCode)
	}
	edgeP.interrupt(t)

	sec := c.Secrets
	secrets := map[string][]byte{
		"utc-sign": sec.UTCSign.Seed(), "utc-hole": sec.UTCHole.Seed(), "receipt": sec.ReceiptKey.Seed(),
		"totp": sec.TOTPSeed, "voter-stamp": sec.VoterStampKey, "internal CA": sec.LinkCAKey.Seed(),
		"log": []byte(sec.LogKey), "utc-sign public": sec.UTCSignPub,
	}
	allowed := map[campaign.Role][]string{
		// The edge signs the decoys, which are worth nothing.
		campaign.RoleEdge:      {"utc-sign public", "utc-hole", "voter-stamp"},
		campaign.RoleCollector: {"utc-sign", "totp", "receipt", "utc-sign public"},
		// The publisher publishes the UTC-SIGN public key at the close
		// only; it holds it from the start.
		campaign.RolePublisher: {"log", "utc-sign public"},
	}
	for _, role := range campaign.Roles {
		var tree strings.Builder
		filepath.WalkDir(dirs[role], func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				b, _ := os.ReadFile(p)
				tree.Write(b)
				tree.WriteString("\n")
			}
			return nil
		})
		for name, s := range secrets {
			if slices.Contains(allowed[role], name) {
				continue
			}
			for _, form := range secretForms(s) {
				if strings.Contains(tree.String(), form) {
					t.Errorf("the %s's directory holds the %s secret", role, name)
					break
				}
			}
		}
	}
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// checkEdgeServesSite checks that the edge of a separate-process platform
// serves the web apps, and each published file as the publisher does:
// the same status, bytes and describing headers, for a whole file, a
// range, a HEAD and a conditional request.
func checkEdgeServesSite(t *testing.T, edgeURL, pubURL string) {
	t.Helper()
	for _, path := range []string{"/", "/app/check/index.html"} {
		a := get(t, http.DefaultClient, edgeURL+path, nil)
		if a.StatusCode != http.StatusOK || !strings.Contains(a.body, "<html") || !strings.HasPrefix(a.Header.Get("Content-Type"), "text/html") {
			t.Errorf("GET %s through the edge: %d %q, %d bytes; want the web app", path, a.StatusCode, a.Header.Get("Content-Type"), len(a.body))
		}
	}
	etag := get(t, http.DefaultClient, pubURL+"/solar-vote.log", nil).Header.Get("ETag")
	if etag == "" {
		t.Fatal("the publisher serves the votes list without an ETag")
	}
	for _, tc := range []struct {
		name, method, path string
		hdr                http.Header
		code               int
	}{
		{"the votes list", "GET", "/solar-vote.log", nil, http.StatusOK},
		{"the voters list", "GET", "/solar-auth.log", nil, http.StatusOK},
		{"the votes checkpoint", "GET", "/solar-vote.checkpoint", nil, http.StatusOK},
		{"the settings", "GET", "/solar-settings.yaml", nil, http.StatusOK},
		{"the receipt key", "GET", "/solar-receipt.key", nil, http.StatusOK},
		{"a range of the votes list", "GET", "/solar-vote.log", http.Header{"Range": {"bytes=3-20"}}, http.StatusPartialContent},
		{"a HEAD of the votes list", "HEAD", "/solar-vote.log", nil, http.StatusOK},
		{"an unchanged votes list", "GET", "/solar-vote.log", http.Header{"If-None-Match": {etag}}, http.StatusNotModified},
		{"the keys before the close", "GET", "/solar-keys.txt", nil, http.StatusNotFound},
	} {
		p := request(t, http.DefaultClient, tc.method, pubURL+tc.path, tc.hdr)
		e := request(t, http.DefaultClient, tc.method, edgeURL+tc.path, tc.hdr)
		if p.StatusCode != tc.code {
			t.Errorf("%s from the publisher: %d, want %d", tc.name, p.StatusCode, tc.code)
		}
		if e.StatusCode != p.StatusCode || e.body != p.body {
			t.Errorf("%s through the edge: %d, %d bytes; from the publisher %d, %d bytes", tc.name, e.StatusCode, len(e.body), p.StatusCode, len(p.body))
		}
		for _, k := range []string{"Content-Type", "Content-Length", "Content-Range", "ETag", "Cache-Control"} {
			if e.Header.Get(k) != p.Header.Get(k) {
				t.Errorf("%s: %s through the edge %q, from the publisher %q", tc.name, k, e.Header.Get(k), p.Header.Get(k))
			}
		}
	}
}
