package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/powvote/powvote/backoffice"
)

// TestOperatorCommands runs powvote operator add, list and remove: the
// accounts file they leave (0600, no password), what list prints (never a
// hash), what they refuse, and the action log of every change.
func TestOperatorCommands(t *testing.T) {
	dir := t.TempDir()
	const alicePW, bobPW, alicePW2 = "correct horse battery staple", "another long password", "a third password here"
	r := runStdin(t, alicePW+"\n", "operator", "add", "alice", "--role", "operator", "--dir", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "account alice (operator) added") {
		t.Fatalf("operator add alice: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A last line without its end, and CR LF, count as the line.
	if r := runStdin(t, bobPW, "operator", "add", "bob", "--role", "viewer", "--dir", dir); r.code != 0 {
		t.Fatalf("operator add bob: exit %d %s", r.code, r.stderr)
	}
	if r := runStdin(t, "carol's password\r\n", "operator", "add", "carol", "--dir", dir, "--role", "auditor"); r.code != 0 {
		t.Fatalf("operator add carol: exit %d %s", r.code, r.stderr)
	}

	path := backoffice.AccountsPath(dir)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("accounts file: %v, mode %v, want 0600", err, fi.Mode())
	}
	data, _ := os.ReadFile(path)
	for _, pw := range []string{alicePW, bobPW, "carol's password", "horse"} {
		if strings.Contains(string(data), pw) {
			t.Errorf("the accounts file holds %q:\n%s", pw, data)
		}
	}
	as, err := backoffice.LoadAccounts(path)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, role backoffice.Role, password string) backoffice.Account {
		t.Helper()
		a, ok := as.Lookup(name)
		if !ok || a.Role != role || !a.Hash.Verify(password) || a.Hash.Params != backoffice.DefaultParams {
			t.Errorf("account %s: %v, role %v, params %+v; want %v and its password", name, ok, a.Role, a.Hash.Params, role)
		}
		return a
	}
	aliceBefore := check("alice", backoffice.Operator, alicePW)
	check("bob", backoffice.Viewer, bobPW)
	check("carol", backoffice.Auditor, "carol's password")

	list := mustRun(t, "operator", "list", "--dir", dir)
	listRE := regexp.MustCompile(`^NAME +ROLE +CREATED\nalice +operator +20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ\nbob +viewer +20\S+\ncarol +auditor +20\S+\n$`)
	if !listRE.MatchString(list) || strings.Contains(list, "argon2") {
		t.Errorf("operator list:\n%s", list)
	}

	for _, tc := range []struct {
		stdin string
		args  []string
		code  int
		msg   string
	}{
		{alicePW, []string{"operator", "add", "alice", "--role", "viewer", "--dir", dir}, 1, "exists (give --replace"},
		{alicePW, []string{"operator", "add", "dave", "--role", "admin", "--dir", dir}, 2, `role "admin"`},
		{alicePW, []string{"operator", "add", "dave", "--dir", dir}, 2, "--role is required"},
		{alicePW, []string{"operator", "add", "Dave", "--role", "viewer", "--dir", dir}, 2, "account name"},
		{alicePW, []string{"operator", "add", "dave", "--role", "viewer"}, 2, "--dir is required"},
		{alicePW, []string{"operator", "add", "dave", "--role", "viewer", "--dir", filepath.Join(dir, "none")}, 1, "platform directory"},
		{alicePW, []string{"operator", "add", "dave", "--role", "viewer", "--dir", dir, "--password", "x"}, 2, "flag provided but not defined: -password"},
		{"too short\n", []string{"operator", "add", "dave", "--role", "viewer", "--dir", dir}, 1, "at least 12"},
		{"", []string{"operator", "add", "dave", "--role", "viewer", "--dir", dir}, 1, "no password given"},
		{"tab\tin the password\n", []string{"operator", "add", "dave", "--role", "viewer", "--dir", dir}, 1, "control character"},
		{strings.Repeat("p", 1100) + "\n", []string{"operator", "add", "dave", "--role", "viewer", "--dir", dir}, 1, "longer than 1024"},
		{alicePW, []string{"operator", "add", "dave", "--role", "viewer", "--dir", dir, "--replace"}, 1, "no such account"},
		{"", []string{"operator", "remove", "dave", "--dir", dir}, 1, "no such account"},
		{"", []string{"operator", "remove", "--dir", dir}, 2, "want 1 argument"},
	} {
		r := runStdin(t, tc.stdin, tc.args...)
		// An unknown flag prints the usage after its line.
		oneLine := strings.Count(strings.TrimSpace(r.stderr), "\n") == 0 || strings.HasPrefix(tc.msg, "flag provided")
		if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) || !oneLine {
			t.Errorf("powvote %v: exit %d, stderr %q; want %d and one line naming %q", tc.args, r.code, r.stderr, tc.code, tc.msg)
		}
	}
	if after, _ := os.ReadFile(path); string(after) != string(data) {
		t.Error("a refused change altered the accounts file")
	}

	// --replace: a new role and password, the same creation time.
	if r := runStdin(t, alicePW2+"\n", "operator", "add", "alice", "--role", "auditor", "--dir", dir, "--replace"); r.code != 0 {
		t.Fatalf("operator add --replace: exit %d %s", r.code, r.stderr)
	}
	mustRun(t, "operator", "remove", "bob", "--dir", dir)
	if as, err = backoffice.LoadAccounts(path); err != nil {
		t.Fatal(err)
	}
	if a := check("alice", backoffice.Auditor, alicePW2); a.Hash.Verify(alicePW) || !a.Created.Equal(aliceBefore.Created) {
		t.Errorf("alice replaced: the old password verifies, or created moved from %v to %v", aliceBefore.Created, a.Created)
	}
	if _, ok := as.Lookup("bob"); ok || as.Len() != 2 {
		t.Errorf("after removing bob: %d accounts", as.Len())
	}

	// The action log: every change, and every refused one that reached
	// the accounts, by the system user, never a password.
	logData, err := os.ReadFile(backoffice.LogPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(backoffice.LogPath(dir)); fi.Mode().Perm() != 0o600 {
		t.Errorf("action log mode %v", fi.Mode())
	}
	for _, pw := range []string{alicePW, bobPW, alicePW2, "horse"} {
		if strings.Contains(string(logData), pw) {
			t.Errorf("the action log holds a password:\n%s", logData)
		}
	}
	entries, err := backoffice.OpenLog(backoffice.LogPath(dir)).Tail(100)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ action, target, outcome string }{
		{"account-add", "alice", "ok (role operator)"},
		{"account-add", "bob", "ok (role viewer)"},
		{"account-add", "carol", "ok (role auditor)"},
		{"account-add", "alice", "account alice: an account of that name exists (give --replace to change its role and password)"},
		{"account-replace", "dave", "account dave: no such account (add it without --replace)"},
		{"account-remove", "dave", "account dave: no such account"},
		{"account-replace", "alice", "ok (role auditor)"},
		{"account-remove", "bob", "ok (role viewer)"},
	}
	if len(entries) != len(want) {
		t.Fatalf("action log has %d entries, want %d:\n%s", len(entries), len(want), logData)
	}
	for i, w := range want {
		e := entries[i]
		if e.Action != w.action || e.Target != w.target || e.Outcome != w.outcome || !strings.HasPrefix(e.Who, "cli:") || len(e.Who) < 5 ||
			time.Since(e.Time) > 5*time.Minute {
			t.Errorf("entry %d: %+v, want %s %s: %s by cli:user", i, e, w.action, w.target, w.outcome)
		}
	}
}

// TestOperatorBackOffice runs powvote up with --metrics: without accounts
// the back office is off; an account added and a SIGHUP turn it on, a
// login shows in /actions; removing the account and a SIGHUP end its
// session.
func TestOperatorBackOffice(t *testing.T) {
	data := filepath.Join(t.TempDir(), "pv")
	addr := freeAddr(t)
	p := startUp(t, data, "--metrics", addr)
	defer p.stop(t)
	base := "http://" + addr
	hc := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer hc.CloseIdleConnections()
	eventually(t, "operator endpoints served", func() bool {
		resp, err := hc.Get(base + "/health")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	if a := get(t, hc, base+"/login", nil); a.StatusCode != 404 {
		t.Fatalf("GET /login without accounts: %d", a.StatusCode)
	}

	const password = "the organizer's password"
	addOperators(t, p, data, base, operatorAccount{"alice", "operator", password})

	form := url.Values{"name": {"alice"}, "password": {password}}
	resp, err := hc.PostForm(base+"/login", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == backoffice.CookiePlain {
			cookie = c
		}
	}
	if resp.StatusCode != 303 || cookie == nil {
		t.Fatalf("login: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	withCookie := http.Header{"Cookie": {cookie.Name + "=" + cookie.Value}}
	a := get(t, hc, base+"/actions", withCookie)
	var got struct{ Actions []backoffice.Entry }
	if a.StatusCode != 200 || json.Unmarshal([]byte(a.body), &got) != nil || len(got.Actions) != 2 ||
		got.Actions[0].Action != "account-add" || got.Actions[1].Who != "alice" || got.Actions[1].Action != "login" || got.Actions[1].Outcome != "ok" {
		t.Errorf("GET /actions: %d %s", a.StatusCode, a.body)
	}
	// The dashboard of the campaigns of powvote up, behind the login.
	eventually(t, "the dashboard serves the campaign", func() bool {
		d := get(t, hc, base+"/dashboard/data.json", withCookie)
		return d.StatusCode == 200 && strings.Contains(d.body, `"solar"`)
	})
	if d := get(t, hc, base+"/dashboard/data.json", nil); d.StatusCode != 401 {
		t.Errorf("GET /dashboard/data.json signed out: %d", d.StatusCode)
	}
	if d := get(t, hc, base+"/dashboard/", withCookie); d.StatusCode != 200 || !strings.Contains(d.body, "dashboard") {
		t.Errorf("GET /dashboard/: %d", d.StatusCode)
	}
	// The scrape is as before, and counts the login.
	if a := get(t, hc, base+"/metrics", nil); a.StatusCode != 200 || !strings.Contains(a.body, `powvote_backoffice_logins_total{outcome="ok"} 1`) {
		t.Errorf("GET /metrics: %d, no count of the login", a.StatusCode)
	}

	mustRun(t, "operator", "remove", "alice", "--dir", data)
	p.cmd.Process.Signal(syscall.SIGHUP)
	eventually(t, "the back office off after SIGHUP", func() bool { return get(t, hc, base+"/session", withCookie).StatusCode == 404 })
	if !strings.Contains(p.stderr.String(), "SIGHUP: reloaded the operator accounts") {
		t.Errorf("no reload logged:\n%s", p.stderr)
	}
}

// operatorAccount is an account that addOperators adds.
type operatorAccount struct{ name, role, password string }

// addOperators adds the accounts to the platform directory data with
// powvote operator add, has the running platform p reload them (SIGHUP),
// and waits until its back office at base serves /login.
func addOperators(t *testing.T, p *platform, data, base string, accounts ...operatorAccount) {
	t.Helper()
	for _, a := range accounts {
		if r := runStdin(t, a.password+"\n", "operator", "add", a.name, "--role", a.role, "--dir", data); r.code != 0 {
			t.Fatalf("operator add %s: exit %d %s", a.name, r.code, r.stderr)
		}
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	hc := &http.Client{Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	eventually(t, "the back office on after SIGHUP", func() bool {
		resp, err := hc.Get(base + "/login")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}
