package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/powvote/powvote/audit"
	"github.com/powvote/powvote/backoffice"
	"github.com/powvote/powvote/published"
)

// TestOperatorDownloads runs powvote up with --metrics and an account of
// each role: the auditor downloads the election report, which is the
// audit of what the edge publishes, byte for byte, computed once for two
// downloads; the viewer and the operator get 403 and nothing is
// computed, a request without a session 401; the downloads are in the
// action log under the auditor's name.
func TestOperatorDownloads(t *testing.T) {
	data := filepath.Join(t.TempDir(), "pv")
	addr := freeAddr(t)
	p := startUp(t, data, "--metrics", addr)
	defer p.stop(t)
	base := "http://" + addr
	hc := &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer hc.CloseIdleConnections()
	roles := map[string]string{"alice": "viewer", "bob": "operator", "carol": "auditor"}
	var accounts []operatorAccount
	for name, role := range roles {
		accounts = append(accounts, operatorAccount{name, role, "the password of " + name})
	}
	addOperators(t, p, data, base, accounts...)
	session := make(map[string]http.Header)
	for name := range roles {
		resp, err := hc.PostForm(base+"/login", url.Values{"name": {name}, "password": {"the password of " + name}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for _, c := range resp.Cookies() {
			if c.Name == backoffice.CookiePlain && resp.StatusCode == http.StatusSeeOther {
				session[name] = http.Header{"Cookie": {c.Name + "=" + c.Value}}
			}
		}
		if session[name] == nil {
			t.Fatalf("sign-in of %s: %d", name, resp.StatusCode)
		}
	}

	castVotes(t, data, p.edge, 2*demoBatch)
	waitPublished(t, p.edge, demoBatch)

	const report = "/downloads/solar/report.html"
	for _, name := range []string{"alice", "bob"} {
		for _, path := range []string{"/downloads/", report, "/downloads/solar/archive.tar.gz"} {
			if a := get(t, hc, base+path, session[name]); a.StatusCode != http.StatusForbidden {
				t.Errorf("%s (%s) GET %s: %d, want 403", name, roles[name], path, a.StatusCode)
			}
		}
	}
	if a := get(t, hc, base+report, nil); a.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET %s signed out: %d, want 401", report, a.StatusCode)
	}
	if n := strings.Count(p.stderr.String(), "election report computed"); n != 0 {
		t.Fatalf("%d reports computed for accounts that may not download", n)
	}

	// What `powvote audit --report` writes of the edge's files.
	src := &audit.URL{Base: p.edge}
	settings, settingsData, err := audit.OpenSettings(src, published.SettingsName("solar"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := audit.Run(context.Background(), src, settings, audit.Options{Logs: &audit.LogOptions{}, SettingsData: settingsData})
	if err != nil {
		t.Fatal(err)
	}
	votes := fetch(t, p.edge+"/solar-vote.log")
	total := 0
	for _, row := range r.Tally {
		if want := strings.Count(votes, `"`+row.Option+`"`); row.Votes != want {
			t.Errorf("the audit counts %d for %q, the votes list %d", row.Votes, row.Option, want)
		}
		total += row.Votes
	}
	if total != demoBatch || !r.OK() {
		t.Fatalf("the audit of the edge: %d votes, failures %v", total, r.Failed())
	}
	var want bytes.Buffer
	if err := r.WriteHTML(&want); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		var a answer
		eventually(t, "the report computed", func() bool {
			a = get(t, hc, base+report, session["carol"])
			return a.StatusCode != http.StatusAccepted
		})
		if a.StatusCode != http.StatusOK || a.body != want.String() {
			t.Fatalf("download %d of the report: %d, %d bytes; want the audit's %d bytes", i, a.StatusCode, len(a.body), want.Len())
		}
	}
	if n := strings.Count(p.stderr.String(), "election report computed"); n != 1 {
		t.Errorf("two downloads at one size: %d reports computed, want 1", n)
	}
	if a := get(t, hc, base+"/downloads/solar/archive.tar.gz", session["carol"]); a.StatusCode != http.StatusNotFound {
		t.Errorf("the archive of an open campaign: %d, want 404", a.StatusCode)
	}
	if a := get(t, hc, base+"/downloads/", session["carol"]); a.StatusCode != http.StatusOK ||
		!strings.Contains(a.body, "after the close") || !strings.Contains(a.body, `href="/downloads/solar/solar-vote.log"`) {
		t.Errorf("GET /downloads/: %d\n%s", a.StatusCode, a.body)
	}
	// The back office's home lists the downloads for the auditor only.
	if a := get(t, hc, base+"/", session["carol"]); !strings.Contains(a.body, `href="/downloads/"`) {
		t.Errorf("the auditor's home does not link the downloads:\n%s", a.body)
	}
	if a := get(t, hc, base+"/", session["alice"]); strings.Contains(a.body, `href="/downloads/"`) {
		t.Errorf("the viewer's home links the downloads:\n%s", a.body)
	}

	a := get(t, hc, base+"/actions", session["carol"])
	var got struct{ Actions []backoffice.Entry }
	if err := json.Unmarshal([]byte(a.body), &got); err != nil {
		t.Fatalf("GET /actions: %d %v", a.StatusCode, err)
	}
	var downloads []string
	for _, e := range got.Actions {
		// A report asked while it was being computed (202) is logged
		// too; a loaded machine may take that long.
		if e.Action == "download" && !strings.HasPrefix(e.Outcome, "not ready") {
			downloads = append(downloads, e.Who+" "+e.Target+" "+e.Outcome)
		}
	}
	wantLog := []string{"carol solar/report.html ok", "carol solar/report.html ok", "carol solar/archive.tar.gz not published: the campaign is not closed (404)"}
	if strings.Join(downloads, "\n") != strings.Join(wantLog, "\n") {
		t.Errorf("the action log's downloads:\n%s\nwant:\n%s", strings.Join(downloads, "\n"), strings.Join(wantLog, "\n"))
	}
}
