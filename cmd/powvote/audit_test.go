package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/powvote/powvote/audit"
	"github.com/powvote/powvote/campaign"
)

// TestAudit audits what a real platform published, through the edge and
// from a downloaded folder, then the folder with one vote line deleted.
func TestAudit(t *testing.T) {
	data := filepath.Join(t.TempDir(), "pv")
	p := startUp(t, data)
	const n = 4 // the demo campaign's batch size: one batch is published
	castVotes(t, data, p.edge, n)
	var votes, auths string
	eventually(t, "the lists hold every vote", func() bool {
		votes, auths = fetch(t, p.edge+"/solar-vote.log"), fetch(t, p.edge+"/solar-auth.log")
		return strings.Count(votes, "\n") == n && strings.Count(auths, "\n") == n
	})
	settings := filepath.Join(data, "solar", campaign.SettingsFile)
	s, err := campaign.LoadSettings(data, "solar")
	if err != nil {
		t.Fatal(err)
	}

	r := run(t, "audit", p.edge, "--settings", settings)
	if r.code != 0 {
		t.Fatalf("audit of the edge: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	for _, o := range s.Options {
		want := strings.Count(votes, `"`+o+`"`)
		if !auditTallyRow(r.stdout, o, want) {
			t.Errorf("the report lacks the row %q %d:\n%s", o, want, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "every check passed") {
		t.Errorf("report:\n%s", r.stdout)
	}

	r = run(t, "audit", p.edge, "--settings", settings, "--json", "--workers", "2")
	var rep struct {
		OK bool `json:"ok"`
		audit.Report
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
		t.Fatalf("--json: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	if !rep.OK || rep.Votes != n || rep.Voters != n || len(rep.Tally) != len(s.Options) {
		t.Errorf("--json report %+v", rep)
	}
	p.stop(t)

	// A folder of downloads, with the settings beside the lists.
	dir := t.TempDir()
	auditWriteFile(t, filepath.Join(dir, "solar-vote.log"), votes)
	auditWriteFile(t, filepath.Join(dir, "solar-auth.log"), auths)
	b, err := os.ReadFile(settings)
	if err != nil {
		t.Fatal(err)
	}
	auditWriteFile(t, filepath.Join(dir, campaign.SettingsFile), string(b))
	if r := run(t, "audit", dir); r.code != 0 {
		t.Fatalf("audit of the folder: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}

	// One vote line deleted.
	lines := strings.SplitAfter(votes, "\n")
	auditWriteFile(t, filepath.Join(dir, "solar-vote.log"), strings.Join(append(lines[:1], lines[2:]...), ""))
	r = run(t, "audit", dir, "--campaign", "solar")
	if r.code != 1 {
		t.Fatalf("audit with a vote deleted: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	errLines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if last := errLines[len(errLines)-1]; !strings.Contains(last, audit.CheckCountsEqual) {
		t.Errorf("the last stderr line %q does not name %s", last, audit.CheckCountsEqual)
	}
	if !strings.Contains(r.stdout, "FAIL  counts-equal") {
		t.Errorf("report:\n%s", r.stdout)
	}
}

func TestAuditArgs(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"audit"}, 2, "want 1 argument"},
		{[]string{"audit", filepath.Join(dir, "nowhere")}, 2, "neither an http(s) URL nor a folder"},
		{[]string{"audit", dir}, 2, "no settings"},
		{[]string{"audit", dir, "--campaign", "solar"}, 2, "solar-settings.yaml"},
		{[]string{"audit", dir, "--settings", filepath.Join(dir, "missing.yaml")}, 1, "couldn't read the settings"},
	} {
		r := run(t, c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d and %q", c.args, r.code, r.stderr, c.code, c.msg)
		}
	}
}

// auditTallyRow reports whether the text report has the row "<option>  <n>".
func auditTallyRow(report, option string, n int) bool {
	for _, l := range strings.Split(report, "\n") {
		if rest, ok := strings.CutPrefix(l, option); ok && strings.TrimSpace(rest) == strconv.Itoa(n) {
			return true
		}
	}
	return false
}

func auditWriteFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
