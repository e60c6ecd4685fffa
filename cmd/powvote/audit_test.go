package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/powvote/powvote/audit"
	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/pow"
)

// TestAudit audits what a real platform published, with its checkpoints
// and history: through the edge after each of two batches, keeping the
// checkpoints of the first for --since, then from a downloaded folder,
// then the folder with one mutation at a time, each of which must be named.
func TestAudit(t *testing.T) {
	data := filepath.Join(t.TempDir(), "pv")
	p := startUp(t, data)
	const batch = 4 // the demo campaign's batch size
	settings := filepath.Join(data, "solar", campaign.SettingsFile)
	s, err := campaign.LoadSettings(data, "solar")
	if err != nil {
		t.Fatal(err)
	}

	// Two batches: the publisher publishes one and keeps one back.
	castVotes(t, data, p.edge, 2*batch)
	waitPublished(t, p.edge, batch)
	kept := t.TempDir()
	r := run(t, "audit", p.edge, "--settings", settings, "--save-checkpoints", kept)
	if r.code != 0 {
		t.Fatalf("audit after the first batch: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	since := []string{filepath.Join(kept, "solar-vote.checkpoint.4"), filepath.Join(kept, "solar-auth.checkpoint.4")}
	for _, f := range since {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("--save-checkpoints: %v", err)
		}
	}

	const n = 2 * batch // of the 3 batches cast, all but the one kept back
	castVotes(t, data, p.edge, batch)
	waitPublished(t, p.edge, n)
	votes, auths := fetch(t, p.edge+"/solar-vote.log"), fetch(t, p.edge+"/solar-auth.log")

	r = run(t, "audit", p.edge, "--settings", settings, "--since", since[0], "--since", since[1])
	if r.code != 0 {
		t.Fatalf("audit of the edge: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	for _, o := range s.Options {
		want := strings.Count(votes, `"`+o+`"`)
		if !auditTallyRow(r.stdout, o, want) {
			t.Errorf("the report lacks the row %q %d:\n%s", o, want, r.stdout)
		}
	}
	for _, c := range audit.LogChecks {
		if !strings.Contains(r.stdout, "ok    "+c+" ") {
			t.Errorf("the report does not pass %s:\n%s", c, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "every check passed") || !strings.Contains(r.stdout, "largest growth") {
		t.Errorf("report:\n%s", r.stdout)
	}
	// The report names the settings it checked against, and the
	// checkpoints commit to the same hash.
	settingsBytes, err := os.ReadFile(settings)
	if err != nil {
		t.Fatal(err)
	}
	settingsHash := audit.SettingsHash(settingsBytes)
	if !strings.Contains(r.stdout, "settings sha256 "+settingsHash+" (given)") ||
		!strings.Contains(r.stdout, "authority "+base64.StdEncoding.EncodeToString(s.Authorities[0])) ||
		!strings.Contains(r.stdout, fmt.Sprintf("threshold %d bits", s.Threshold)) ||
		!strings.Contains(r.stdout, "settings "+settingsHash+"\n") {
		t.Errorf("the report does not name the settings %s:\n%s", settingsHash, r.stdout)
	}
	// The edge also serves the settings: the audit can take them from it.
	if r := run(t, "audit", p.edge, "--campaign", "solar"); r.code != 0 || !strings.Contains(r.stdout, "settings: "+p.edge+"/solar-settings.yaml") {
		t.Errorf("audit of the edge with its own settings: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}

	r = run(t, "audit", p.edge, "--settings", settings, "--json", "--workers", "2")
	var rep struct {
		OK bool `json:"ok"`
		audit.Report
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
		t.Fatalf("--json: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	if !rep.OK || rep.Votes != n || rep.Voters != n || len(rep.Tally) != len(s.Options) ||
		rep.Logs == nil || rep.Logs.Vote == nil || rep.Logs.Vote.Tree.N != n || rep.Logs.History != 2 {
		t.Errorf("--json report %+v, logs %+v", rep, rep.Logs)
	}
	if rep.Settings.SHA256 != settingsHash || !rep.Settings.Given || rep.Settings.Threshold != s.Threshold ||
		len(rep.Settings.Authorities) != len(s.Authorities) || rep.Logs.Vote.Settings != settingsHash {
		t.Errorf("--json settings %+v, checkpoint %+v; want %s", rep.Settings, rep.Logs.Vote, settingsHash)
	}

	// A folder of downloads, with the settings beside the lists.
	files := map[string]string{"solar-vote.log": votes, "solar-auth.log": auths}
	for _, name := range []string{"solar-vote.checkpoint", "solar-auth.checkpoint", "solar-log.vkey", "solar-history.log",
		"solar-retracted.log", "solar-retracted.checkpoint"} {
		files[name] = fetch(t, p.edge+"/"+name)
	}
	p.stop(t)
	b, err := os.ReadFile(settings)
	if err != nil {
		t.Fatal(err)
	}
	files[campaign.SettingsFile] = string(b)
	dir := auditFolder(t, files)
	if r := run(t, "audit", dir, "--strict", "--settings", settings); r.code != 0 || strings.Contains(r.stdout, "skip  checkpoint") || strings.Contains(r.stdout, "skip  settings") {
		t.Fatalf("audit of the folder: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	checkAuditReport(t, dir, settings)
	// --strict needs the auditor's own settings: those beside the lists
	// came with them.
	if r := run(t, "audit", dir, "--strict"); r.code != 1 || !strings.Contains(r.stdout, "FAIL  settings ") || !strings.Contains(r.stdout, "taken from the source under audit") {
		t.Errorf("--strict without --settings: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	// The key given out of band, as a file and as text.
	vkey := filepath.Join(kept, "solar-log.vkey")
	auditWriteFile(t, vkey, files["solar-log.vkey"])
	for _, k := range []string{vkey, strings.TrimSpace(files["solar-log.vkey"])} {
		if r := run(t, "audit", dir, "--log-key", k, "--since", since[0]); r.code != 0 {
			t.Errorf("--log-key %s: exit %d\nstdout: %s\nstderr: %s", k, r.code, r.stdout, r.stderr)
		}
	}

	// Without the publisher's files the log checks are skipped, and fail
	// under --strict.
	bare := auditFolder(t, map[string]string{"solar-vote.log": votes, "solar-auth.log": auths, campaign.SettingsFile: string(b)})
	if r := run(t, "audit", bare); r.code != 0 || !strings.Contains(r.stdout, "skip  checkpoint-signature") || !strings.Contains(r.stdout, "skip  history") {
		t.Errorf("audit of the lists alone: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, "audit", bare, "--strict"); r.code != 1 || !strings.Contains(r.stdout, "FAIL  checkpoint-signature") {
		t.Errorf("--strict audit of the lists alone: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	vl := strings.SplitAfter(votes, "\n")
	vl = vl[:len(vl)-1] // the empty string after the last line feed
	al := strings.SplitAfter(auths, "\n")
	al = al[:len(al)-1]
	join := func(ls ...[]string) string {
		var b strings.Builder
		for _, l := range ls {
			b.WriteString(strings.Join(l, ""))
		}
		return b.String()
	}
	swapped := slices.Clone(vl)
	swapped[1], swapped[batch+2] = swapped[batch+2], swapped[1]
	inBatch := slices.Clone(vl)
	inBatch[0], inBatch[1] = inBatch[1], inBatch[0]
	altered := slices.Clone(vl)
	altered[2] = auditOtherOption(t, altered[2], s.Options)

	for _, c := range []struct {
		name  string
		edit  map[string]string
		args  []string
		wants []string
	}{
		{"one line deleted", map[string]string{"solar-vote.log": join(vl[:1], vl[2:])}, nil,
			[]string{audit.CheckCountsEqual, audit.CheckCheckpointSize}},
		{"one line altered", map[string]string{"solar-vote.log": join(altered)}, nil,
			[]string{audit.CheckCheckpointRoot, audit.CheckHistory}},
		{"two lines swapped across batches", map[string]string{"solar-vote.log": join(swapped)}, nil,
			[]string{audit.CheckCheckpointRoot}},
		{"the tail truncated", map[string]string{"solar-vote.log": join(vl[:batch]), "solar-auth.log": join(al[:batch])}, nil,
			[]string{audit.CheckCheckpointSize, audit.CheckHistory}},
		// A line beyond the checkpoint is unsigned: named, not counted,
		// and a failure under --strict.
		{"a duplicate mandate appended", map[string]string{"solar-auth.log": join(al, al[:1])}, []string{"--strict", "--settings", settings},
			[]string{audit.CheckDuplicateMandate, audit.CheckCountsEqual, audit.CheckCheckpointSize}},
		{"a vote below the threshold inserted", map[string]string{"solar-vote.log": join(vl[:batch], []string{auditWeakVote(t, vl[0], s.Threshold)}, vl[batch:])},
			[]string{"--strict", "--settings", settings},
			[]string{audit.CheckProofOfWork, audit.CheckCheckpointSize}},
		// A platform that serves settings with an authority key of its own:
		// the checkpoints it signed commit to the settings it started
		// with, and the auditor's own copy is not what it serves.
		{"the settings served with an authority added", map[string]string{campaign.SettingsFile: auditAddAuthority(t, files[campaign.SettingsFile])}, nil,
			[]string{audit.CheckSettings}},
		{"the settings served with an authority added, --settings", map[string]string{"solar-settings.yaml": auditAddAuthority(t, files[campaign.SettingsFile])},
			[]string{"--settings", settings}, []string{audit.CheckSettings}},
		{"a rewritten list against --since", map[string]string{"solar-vote.log": join(inBatch)}, []string{"--since", since[0]},
			[]string{audit.CheckConsistency, audit.CheckCheckpointRoot}},
		{"a forged checkpoint", map[string]string{"solar-vote.checkpoint": strings.Replace(files["solar-vote.checkpoint"], "\n8\n", "\n9\n", 1)}, nil,
			[]string{audit.CheckCheckpointSignature}},
	} {
		t.Run(c.name, func(t *testing.T) {
			mutated := maps.Clone(files)
			maps.Copy(mutated, c.edit)
			r := run(t, append([]string{"audit", auditFolder(t, mutated)}, c.args...)...)
			if r.code != 1 {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			errLines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			last := errLines[len(errLines)-1]
			for _, w := range c.wants {
				if !strings.Contains(r.stdout, "FAIL  "+w+" ") || !strings.Contains(last, w) {
					t.Errorf("%s not named\nstdout: %s\nstderr: %s", w, r.stdout, r.stderr)
				}
			}
		})
	}

	auditPlatformStamps(t, data, dir, files, vl, s.Threshold)
}

// auditPlatformStamps checks the platform stamps of the folder dir holding
// files, the real platform's: skipped while the campaign is open, even
// under --strict; passed with the UTC-SIGN key given or from a keys file;
// failed on a decoy stamp and on a malformed keys file.
func auditPlatformStamps(t *testing.T, data, dir string, files map[string]string, vl []string, threshold int) {
	t.Helper()
	c, err := campaign.Load(data, "solar")
	if err != nil {
		t.Fatal(err)
	}
	signPub := c.Secrets.UTCSign.Public().(ed25519.PublicKey)
	b64 := base64.StdEncoding.EncodeToString
	keys := "utc-sign " + b64(signPub) + "\nutc-hole " + b64(c.Secrets.UTCHole.Public().(ed25519.PublicKey)) + "\n"

	settings := filepath.Join(data, "solar", campaign.SettingsFile)
	if r := run(t, "audit", dir, "--strict", "--settings", settings); r.code != 0 || !strings.Contains(r.stdout, "skip  platform-stamp ") || !strings.Contains(r.stdout, "has not closed") {
		t.Errorf("platform stamps of an open campaign: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	keyFile := filepath.Join(t.TempDir(), "utc-sign.pub")
	auditWriteFile(t, keyFile, hex.EncodeToString(signPub)+"\n")
	for _, k := range []string{b64(signPub), keyFile} {
		if r := run(t, "audit", dir, "--utc-sign-key", k); r.code != 0 || !strings.Contains(r.stdout, "ok    platform-stamp ") || !strings.Contains(r.stdout, "utc-sign key (given): "+b64(signPub)) {
			t.Errorf("--utc-sign-key %s: exit %d\n%s%s", k, r.code, r.stdout, r.stderr)
		}
	}
	if r := run(t, "audit", dir, "--utc-sign-key", "AAAA"); r.code != 2 || !strings.Contains(r.stderr, "--utc-sign-key") {
		t.Errorf("a bad --utc-sign-key: exit %d\n%s", r.code, r.stderr)
	}

	closed := maps.Clone(files)
	closed["solar-keys.txt"] = keys
	if r := run(t, "audit", auditFolder(t, closed), "--strict", "--settings", settings); r.code != 0 || !strings.Contains(r.stdout, "ok    platform-stamp ") || !strings.Contains(r.stdout, "utc-sign key (solar-keys.txt)") {
		t.Errorf("audit of a closed campaign: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Line 3 with a decoy stamp of its own second, and its proof of work
	// solved again: the stamp is what the check must catch.
	v, err := listline.ParseVote(strings.TrimSuffix(vl[2], "\n"))
	if err != nil {
		t.Fatal(err)
	}
	v.PSig = [64]byte(ed25519.Sign(c.Secrets.UTCHole, []byte(v.PUTC)))
	res, err := (&pow.Solver{}).Solve(t.Context(), v.Work(), threshold)
	if err != nil {
		t.Fatal(err)
	}
	v.Nonce = res.Nonce
	decoy := maps.Clone(closed)
	decoy["solar-vote.log"] = strings.Join(vl[:2], "") + v.Line() + "\n" + strings.Join(vl[3:], "")
	if r := run(t, "audit", auditFolder(t, decoy)); r.code != 1 || !strings.Contains(r.stdout, "FAIL  platform-stamp ") ||
		!strings.Contains(r.stdout, "line 3: P-SIG is the UTC-HOLE signature") || !strings.Contains(r.stdout, "a decoy stamp (UTC-HOLE) in the votes list") ||
		strings.Contains(r.stdout, "FAIL  proof-of-work") {
		t.Errorf("a decoy stamp: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	bad := maps.Clone(closed)
	bad["solar-keys.txt"] = keys + "utc-sign " + b64(signPub) + "\n"
	if r := run(t, "audit", auditFolder(t, bad)); r.code != 1 || !strings.Contains(r.stdout, "solar-keys.txt: line 3: utc-sign again") {
		t.Errorf("a malformed keys file: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// waitPublished polls the edge until both lists hold n lines and both
// latest checkpoints and the history cover them.
func waitPublished(t *testing.T, edgeURL string, n int) {
	t.Helper()
	size := fmt.Sprintf("\n%d\n", n)
	eventually(t, fmt.Sprintf("%d lines published with their checkpoints", n), func() bool {
		for _, name := range []string{"solar-vote.log", "solar-auth.log"} {
			if body, code := auditGet(t, edgeURL+"/"+name); code != 200 || strings.Count(body, "\n") != n {
				return false
			}
		}
		for _, name := range []string{"solar-vote.checkpoint", "solar-auth.checkpoint"} {
			if body, code := auditGet(t, edgeURL+"/"+name); code != 200 || !strings.Contains(body, size) {
				return false
			}
		}
		body, code := auditGet(t, edgeURL+"/solar-history.log")
		return code == 200 && strings.HasPrefix(body[strings.LastIndex(strings.TrimSuffix(body, "\n"), "\n")+1:], fmt.Sprint(n)+" ")
	})
}

// auditGet GETs url and returns the body and status, a 404 included.
func auditGet(t *testing.T, url string) (string, int) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), resp.StatusCode
}

// auditFolder writes files into a new folder.
func auditFolder(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		auditWriteFile(t, filepath.Join(dir, name), text)
	}
	return dir
}

// auditAddAuthority returns settings with one more authority key.
func auditAddAuthority(t *testing.T, settings string) string {
	t.Helper()
	s, err := campaign.Parse([]byte(settings))
	if err != nil {
		t.Fatal(err)
	}
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Authorities = append(s.Authorities, pub)
	b, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// auditOtherOption returns a vote line (with its line feed) for another
// option of the ballot.
func auditOtherOption(t *testing.T, line string, options []string) string {
	t.Helper()
	v, err := listline.ParseVote(strings.TrimSuffix(line, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range options {
		if o != v.Option {
			v.Option = o
			return v.Line() + "\n"
		}
	}
	t.Fatal("a ballot of one option")
	return ""
}

// auditWeakVote returns a well-formed vote line (with its line feed), with
// a stamp of its own, whose proof of work scores below threshold.
func auditWeakVote(t *testing.T, line string, threshold int) string {
	t.Helper()
	v, err := listline.ParseVote(strings.TrimSuffix(line, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	// A stamp no vote of the list has: the first symbol changed.
	first := byte('0')
	if v.Voter[0] == '0' {
		first = '1'
	}
	v.Voter = string(first) + v.Voter[1:]
	v.Nonce = make([]byte, pow.MinNonce)
	for i := range uint64(1 << 16) {
		v.Nonce[6], v.Nonce[7] = byte(i>>8), byte(i)
		if _, err := pow.Verify(v.Work(), v.Nonce, threshold); err != nil {
			return v.Line() + "\n"
		}
	}
	t.Fatal("no nonce below the threshold")
	return ""
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

// checkAuditReport runs the audit of a folder with --report: the file
// is public (0644), holds nothing fetched from elsewhere, and its tally
// and verdicts are the audit's own (--json, the same run). A failed
// audit writes its report too, which says what failed.
func checkAuditReport(t *testing.T, dir, settings string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "report.html")
	r := run(t, "audit", dir, "--settings", settings, "--json", "--report", file)
	var rep struct {
		OK bool `json:"ok"`
		audit.Report
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 || !rep.OK {
		t.Fatalf("audit --report: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("--report wrote %s with mode %v, want 0644", file, st.Mode().Perm())
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	// Self-contained: nothing to load, from anywhere.
	if m := regexp.MustCompile(`(?i)(src|href)\s*=|url\(|@import|<script|<link|https?://`).FindString(page); m != "" {
		t.Errorf("the report loads or links something: %q", m)
	}
	rows := regexp.MustCompile(`<tr><td>([^<]*)</td><td class="num">(\d+)</td>`).FindAllStringSubmatch(page, -1)
	if len(rows) < len(rep.Tally) {
		t.Fatalf("the report has %d rows for %d options", len(rows), len(rep.Tally))
	}
	total := 0
	for i, oc := range rep.Tally {
		if html.UnescapeString(rows[i][1]) != oc.Option || rows[i][2] != strconv.Itoa(oc.Votes) {
			t.Errorf("report row %d: %q, the audit has %s %d", i+1, rows[i][1:], oc.Option, oc.Votes)
		}
		total += oc.Votes
	}
	if !strings.Contains(page, fmt.Sprintf(`id="total">%d<`, total)) || total != rep.Votes {
		t.Errorf("the report's total is not the audit's %d votes", rep.Votes)
	}
	if !strings.Contains(page, `<p class="verdict pass" id="verdict">Every check passed.</p>`) ||
		!strings.Contains(page, `<tr data-check="history" data-result="ok">`) {
		t.Errorf("the report does not say every check passed")
	}

	// One vote line deleted: the audit fails, and its report says why.
	votes, err := os.ReadFile(filepath.Join(dir, "solar-vote.log"))
	if err != nil {
		t.Fatal(err)
	}
	bad := t.TempDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "solar-vote.log" {
			_, rest, _ := strings.Cut(string(votes), "\n")
			data = []byte(rest)
		}
		auditWriteFile(t, filepath.Join(bad, e.Name()), string(data))
	}
	r = run(t, "audit", bad, "--settings", settings, "--report", file)
	b, err = os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if r.code != 1 || !strings.Contains(string(b), `<tr data-check="counts-equal" data-result="FAIL">`) || !strings.Contains(string(b), `id="verdict">Failed: `) {
		t.Errorf("a failed audit with --report: exit %d, the report:\n%s", r.code, b)
	}
}

func auditWriteFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
