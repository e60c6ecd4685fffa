package downloads

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/mod/sumdb/note"

	"github.com/powvote/powvote/audit"
	"github.com/powvote/powvote/backoffice"
	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/internal/mtls"
	"github.com/powvote/powvote/internal/operator"
	"github.com/powvote/powvote/published"
	"github.com/powvote/powvote/publisher"
)

// The accounts of the tests, one per role; their password is their name
// twice over.
var testRoles = map[string]backoffice.Role{"alice": backoffice.Viewer, "bob": backoffice.Operator, "carol": backoffice.Auditor}

func password(name string) string { return name + "'s password, " + name }

// campaignPublisher is a real publisher of a campaign whose collectors
// never answer: its lists stay empty, and Finish closes it with its keys
// file and archive. pub serves its handler on loopback, the way the
// public listener does, for audit.URL.
type campaignPublisher struct {
	*publisher.Publisher
	name string
	dir  string
	pub  string // http://127.0.0.1:port
}

func newPublisher(t *testing.T, name string) *campaignPublisher {
	t.Helper()
	_, authority, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s := campaign.Demo(time.Now(), authority.Public().(ed25519.PublicKey))
	s.Name = name
	settings, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	skey, _, err := note.GenerateKey(rand.Reader, campaign.LogKeyName(name))
	if err != nil {
		t.Fatal(err)
	}
	receipt, _, _ := ed25519.GenerateKey(rand.Reader)
	utcSign, _, _ := ed25519.GenerateKey(rand.Reader)
	utcHole, _, _ := ed25519.GenerateKey(rand.Reader)
	plain := mtls.NewPlain(name)
	dir := t.TempDir()
	p, err := publisher.New(publisher.Config{
		Campaign:   name,
		Pairs:      [][2]string{{"http://127.0.0.1:1", "http://127.0.0.1:2"}},
		Link:       plain.Link(string(campaign.RolePublisher), mtls.AnyInstance),
		Dir:        dir,
		BatchSize:  s.BatchSize,
		Options:    s.Options,
		LogKey:     skey,
		Settings:   settings,
		ReceiptPub: receipt,
		UTCSignPub: utcSign,
		UTCHolePub: utcHole,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: p.Handle}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	return &campaignPublisher{Publisher: p, name: name, dir: dir, pub: "http://" + ln.Addr().String()}
}

// auditOf is the report `powvote audit` writes of the publisher's files
// read over its listener: what a download of the report must be.
func (cp *campaignPublisher) auditOf(t *testing.T) ([]byte, *audit.Report) {
	t.Helper()
	src := &audit.URL{Base: cp.pub}
	settings, data, err := audit.OpenSettings(src, published.SettingsName(cp.name))
	if err != nil {
		t.Fatal(err)
	}
	r, err := audit.Run(context.Background(), src, settings, audit.Options{Logs: &audit.LogOptions{}, SettingsData: data})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), r
}

// office is a back office on a real operator listener with the downloads
// mounted, and one account per role.
type office struct {
	t        *testing.T
	dl       *Server
	log      *backoffice.Log
	logPath  string
	base     string
	hc       *http.Client
	mu       sync.Mutex
	computed map[string]int // reports computed, by campaign
	gate     chan struct{}  // when not nil, a computation waits for it to close
}

func startOffice(t *testing.T, cfg Config, campaigns ...*campaignPublisher) *office {
	t.Helper()
	o := &office{t: t, computed: make(map[string]int)}
	var as *backoffice.Accounts
	for name, role := range testRoles {
		h, err := backoffice.NewHash(password(name), backoffice.Params{Time: 1, Memory: 1 << 10, Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		a := backoffice.Account{Name: name, Role: role, Created: time.Now().UTC().Truncate(time.Second), Hash: h}
		if as, err = as.With(a, false); err != nil {
			t.Fatal(err)
		}
	}
	o.logPath = backoffice.LogPath(t.TempDir())
	o.log = backoffice.OpenLog(o.logPath)
	office, err := backoffice.New(backoffice.Config{Accounts: as, Log: o.log, Params: backoffice.Params{Time: 1, Memory: 1 << 10, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if o.dl, err = New(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	o.dl.onCompute = func(c string) {
		o.mu.Lock()
		o.computed[c]++
		gate := o.gate
		o.mu.Unlock()
		if gate != nil {
			<-gate
		}
	}
	for _, c := range campaigns {
		if err := o.dl.Add(Campaign{Name: c.name, Files: c.Handle}); err != nil {
			t.Fatal(err)
		}
	}
	if err := office.Mount(o.dl.Mount()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- operator.New(operator.Config{App: office.Handle, LongWrites: []string{Prefix}}).Run(ctx, ln)
	}()
	o.base = "http://" + ln.Addr().String()
	o.hc = &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(func() {
		o.hc.CloseIdleConnections()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("operator listener: %v", err)
		}
	})
	return o
}

func (o *office) computations(c string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.computed[c]
}

// signIn signs the account in and returns its session cookie.
func (o *office) signIn(name string) *http.Cookie {
	o.t.Helper()
	resp, err := o.hc.PostForm(o.base+"/login", url.Values{"name": {name}, "password": {password(name)}})
	if err != nil {
		o.t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == backoffice.CookiePlain && resp.StatusCode == http.StatusSeeOther {
			return c
		}
	}
	o.t.Fatalf("sign-in of %s: %d", name, resp.StatusCode)
	return nil
}

// answer is a response with its body read.
type answer struct {
	*http.Response
	body []byte
}

// get GETs path with the session cookie (nil: signed out) and headers
// given as name, value pairs.
func (o *office) get(cookie *http.Cookie, path string, headers ...string) answer {
	o.t.Helper()
	req, err := http.NewRequest(http.MethodGet, o.base+path, nil)
	if err != nil {
		o.t.Fatal(err)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := o.hc.Do(req)
	if err != nil {
		o.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		o.t.Fatal(err)
	}
	return answer{resp, b}
}

// downloads are the log's download entries, as "who target outcome".
func (o *office) downloads() []string {
	o.t.Helper()
	entries, err := o.log.Tail(backoffice.MaxTail)
	if err != nil {
		o.t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.Action == ActionDownload {
			out = append(out, e.Who+" "+e.Target+" "+e.Outcome)
		}
	}
	return out
}

// TestRoles: only an auditor downloads; a viewer and an operator get 403
// and cause no computation, a request without a session 401, and none of
// them is a download in the log.
func TestRoles(t *testing.T) {
	cp := newPublisher(t, "solar")
	o := startOffice(t, Config{}, cp)
	paths := []string{"/downloads/", "/downloads/solar/report.html", "/downloads/solar/archive.tar.gz", "/downloads/solar/solar-vote.log", "/downloads/downloads.css"}
	for _, name := range []string{"alice", "bob"} {
		cookie := o.signIn(name)
		for _, p := range paths {
			if a := o.get(cookie, p); a.StatusCode != http.StatusForbidden {
				t.Errorf("%s (%s) GET %s: %d %q, want 403", name, testRoles[name], p, a.StatusCode, clip(a.body))
			}
		}
	}
	for _, p := range paths {
		if a := o.get(nil, p); a.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s signed out: %d, want 401", p, a.StatusCode)
		}
	}
	if n := o.computations("solar"); n != 0 {
		t.Errorf("%d reports computed for accounts that may not download", n)
	}
	if got := o.downloads(); len(got) != 0 {
		t.Errorf("downloads logged: %q", got)
	}
	// The auditor may.
	carol := o.signIn("carol")
	if a := o.get(carol, "/downloads/"); a.StatusCode != http.StatusOK || !bytes.Contains(a.body, []byte(`href="/downloads/solar/report.html"`)) {
		t.Errorf("carol GET /downloads/: %d\n%s", a.StatusCode, a.body)
	}
}

// TestHandlerChecksTheRight: the handler refuses a request that the back
// office let in without the right Download (a mount with the wrong
// right) or that did not come through the back office at all.
func TestHandlerChecksTheRight(t *testing.T) {
	cp := newPublisher(t, "solar")
	dl, err := New(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := dl.Add(Campaign{Name: "solar", Files: cp.Handle}); err != nil {
		t.Fatal(err)
	}
	var rc fasthttp.RequestCtx
	var req fasthttp.Request
	req.SetRequestURI("/downloads/solar/archive.tar.gz")
	rc.Init(&req, loopback, nil)
	dl.Handle(&rc)
	if rc.Response.StatusCode() != fasthttp.StatusForbidden {
		t.Errorf("a request outside the back office: %d, want 403", rc.Response.StatusCode())
	}
}

// TestReportAndArchive: the auditor's report is `powvote audit --report`
// of the files the publisher serves, byte for byte, before and after the
// close; it is computed once per size and state; the archive is 404
// before the close and the publisher's file after it, whole or in part;
// every download is in the action log under the auditor's name.
func TestReportAndArchive(t *testing.T) {
	cp := newPublisher(t, "solar")
	o := startOffice(t, Config{}, cp)
	carol := o.signIn("carol")

	want, r := cp.auditOf(t)
	if len(r.Tally) != len(campaign.Demo(time.Now(), nil).Options) || r.Logs == nil || r.Logs.Vote == nil {
		t.Fatalf("the audit of the publisher: tally %v, logs %+v", r.Tally, r.Logs)
	}
	for i := range 2 {
		a := o.get(carol, "/downloads/solar/report.html")
		if a.StatusCode != http.StatusOK || !bytes.Equal(a.body, want) {
			t.Fatalf("download %d of the report: %d, %d bytes; want the audit's %d bytes", i, a.StatusCode, len(a.body), len(want))
		}
		if cd := a.Header.Get("Content-Disposition"); cd != `inline; filename="solar-report.html"` {
			t.Errorf("report Content-Disposition %q", cd)
		}
		if cc := a.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("report Cache-Control %q", cc)
		}
		if csp := a.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'") || !strings.Contains(csp, "style-src 'sha256-") {
			t.Errorf("report Content-Security-Policy %q", csp)
		}
	}
	if n := o.computations("solar"); n != 1 {
		t.Errorf("two downloads at one size: %d computations, want 1", n)
	}

	if a := o.get(carol, "/downloads/solar/archive.tar.gz"); a.StatusCode != http.StatusNotFound {
		t.Errorf("archive before the close: %d", a.StatusCode)
	}
	if a := o.get(carol, "/downloads/"); !bytes.Contains(a.body, []byte("after the close")) || bytes.Contains(a.body, []byte("archive.tar.gz\"")) {
		t.Errorf("the listing before the close:\n%s", a.body)
	}
	if err := cp.Finish(context.Background()); err != nil {
		t.Fatal(err)
	}
	archive, err := os.ReadFile(filepath.Join(cp.dir, published.ArchiveName("solar")))
	if err != nil || len(archive) < 100 {
		t.Fatalf("the publisher's archive: %d bytes, %v", len(archive), err)
	}
	a := o.get(carol, "/downloads/solar/archive.tar.gz")
	if a.StatusCode != http.StatusOK || !bytes.Equal(a.body, archive) {
		t.Fatalf("archive after the close: %d, %d bytes, want the publisher's %d", a.StatusCode, len(a.body), len(archive))
	}
	if cd, ct := a.Header.Get("Content-Disposition"), a.Header.Get("Content-Type"); cd != `attachment; filename="solar-archive.tar.gz"` || ct != "application/gzip" {
		t.Errorf("archive Content-Disposition %q, Content-Type %q", cd, ct)
	}
	// A download resumes where it stopped.
	part := o.get(carol, "/downloads/solar/archive.tar.gz", "Range", "bytes=10-")
	if part.StatusCode != http.StatusPartialContent || !bytes.Equal(part.body, archive[10:]) {
		t.Errorf("archive from byte 10: %d, %d bytes", part.StatusCode, len(part.body))
	}
	if a := o.get(carol, "/downloads/"); !bytes.Contains(a.body, []byte(`href="/downloads/solar/archive.tar.gz"`)) {
		t.Errorf("the listing after the close:\n%s", a.body)
	}
	// The lists and checkpoints, as the publisher serves them.
	for _, name := range []string{published.CheckpointName("solar", published.Vote), published.KeysName("solar"), published.SettingsName("solar")} {
		want := fetch(t, cp.pub+"/"+name)
		if a := o.get(carol, "/downloads/solar/"+name); a.StatusCode != http.StatusOK || !bytes.Equal(a.body, want) {
			t.Errorf("%s: %d %q, want %q", name, a.StatusCode, a.body, want)
		}
	}
	if a := o.get(carol, "/downloads/solar/solar-vote/tile/0/000"); a.StatusCode != http.StatusNotFound {
		t.Errorf("a tile: %d, want 404", a.StatusCode)
	}

	// Closed: the report is audited again, now with the keys file.
	want, r = cp.auditOf(t)
	if r.UTCSignFrom != published.KeysName("solar") {
		t.Fatalf("the audit after the close read no keys file: %+v", r)
	}
	if a := o.get(carol, "/downloads/solar/report.html"); a.StatusCode != http.StatusOK || !bytes.Equal(a.body, want) {
		t.Errorf("the report after the close: %d, not the audit's", a.StatusCode)
	}
	if n := o.computations("solar"); n != 2 {
		t.Errorf("the report after the close: %d computations in all, want 2", n)
	}

	ok := "carol solar/report.html ok"
	wantLog := []string{ok, ok,
		"carol solar/archive.tar.gz not published: the campaign is not closed (404)",
		"carol solar/archive.tar.gz ok", "carol solar/archive.tar.gz ok",
		"carol solar/solar-vote.checkpoint ok", "carol solar/solar-keys.txt ok", "carol solar/solar-settings.yaml ok",
		ok}
	if got := o.downloads(); strings.Join(got, "\n") != strings.Join(wantLog, "\n") {
		t.Errorf("the action log's downloads:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantLog, "\n"))
	}
}

// TestReportInTheBackground: a report that takes longer than Wait is
// answered 202 with Retry-After, and so is one asked while another is
// being computed; the computation goes on, and the report is served once
// it is done, without computing it again.
func TestReportInTheBackground(t *testing.T) {
	solar, lunar := newPublisher(t, "solar"), newPublisher(t, "lunar")
	o := startOffice(t, Config{Wait: 50 * time.Millisecond, RetryAfter: 2 * time.Second}, solar, lunar)
	carol := o.signIn("carol")
	gate := make(chan struct{})
	o.mu.Lock()
	o.gate = gate
	o.mu.Unlock()

	a := o.get(carol, "/downloads/solar/report.html", "Accept-Language", "de")
	if a.StatusCode != http.StatusAccepted || a.Header.Get("Retry-After") != "2" ||
		!bytes.Contains(a.body, []byte(`<meta http-equiv="refresh" content="2">`)) || !bytes.Contains(a.body, []byte(languages["de"].Computing)) {
		t.Errorf("a report not ready: %d, Retry-After %q\n%s", a.StatusCode, a.Header.Get("Retry-After"), a.body)
	}
	if a := o.get(carol, "/downloads/lunar/report.html"); a.StatusCode != http.StatusAccepted || !bytes.Contains(a.body, []byte(languages["en"].Busy)) {
		t.Errorf("a report while another is computed: %d\n%s", a.StatusCode, a.body)
	}
	if a := o.get(carol, "/downloads/solar/report.html"); a.StatusCode != http.StatusAccepted {
		t.Errorf("the report asked again: %d", a.StatusCode)
	}
	if o.computations("lunar") != 0 || o.computations("solar") != 1 {
		t.Errorf("computations: solar %d, lunar %d; want 1 and 0", o.computations("solar"), o.computations("lunar"))
	}
	close(gate)
	want, _ := solar.auditOf(t)
	deadline := time.Now().Add(20 * time.Second)
	for {
		a := o.get(carol, "/downloads/solar/report.html")
		if a.StatusCode == http.StatusOK {
			if !bytes.Equal(a.body, want) {
				t.Errorf("the report computed in the background is not the audit's")
			}
			break
		}
		if a.StatusCode != http.StatusAccepted || time.Now().After(deadline) {
			t.Fatalf("the report once its computation may end: %d", a.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := o.computations("solar"); n != 1 {
		t.Errorf("solar's report computed %d times, want 1", n)
	}
	got := o.downloads()
	if len(got) < 4 || got[0] != "carol solar/report.html "+errComputing.Error() || got[1] != "carol lunar/report.html "+errBusy.Error() ||
		got[len(got)-1] != "carol solar/report.html ok" {
		t.Errorf("the action log's downloads:\n%s", strings.Join(got, "\n"))
	}
}

// TestNoDownloadWithoutTrace: when the action log cannot be written, a
// download is refused (503) and nothing is sent.
func TestNoDownloadWithoutTrace(t *testing.T) {
	cp := newPublisher(t, "solar")
	if err := cp.Finish(context.Background()); err != nil {
		t.Fatal(err)
	}
	o := startOffice(t, Config{}, cp)
	carol := o.signIn("carol")
	// A folder where the log's file was: every append fails.
	if err := os.Remove(o.logPath); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(o.logPath, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/downloads/solar/archive.tar.gz", "/downloads/solar/solar-vote.checkpoint", "/downloads/solar/report.html"} {
		a := o.get(carol, p)
		if a.StatusCode != http.StatusServiceUnavailable || a.Header.Get("Content-Disposition") != "" || bytes.Contains(a.body, []byte("powvote/solar")) {
			t.Errorf("GET %s with no action log: %d %q", p, a.StatusCode, clip(a.body))
		}
	}
}

// TestAdd refuses what cannot be served.
func TestAdd(t *testing.T) {
	dl, err := New(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	h := func(*fasthttp.RequestCtx) {}
	for _, c := range []struct {
		c    Campaign
		fail bool
	}{
		{Campaign{Name: "solar", Files: h}, false},
		{Campaign{Name: "solar", Files: h}, true},
		{Campaign{Name: "Solar", Files: h}, true},
		{Campaign{Name: "a/b", Files: h}, true},
		{Campaign{Name: "lunar"}, true},
	} {
		if err := dl.Add(c.c); (err != nil) != c.fail {
			t.Errorf("Add(%q): %v", c.c.Name, err)
		}
	}
	if _, err := New(context.Background(), Config{Wait: -1}); err == nil {
		t.Error("New took a negative Wait")
	}
}

func fetch(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return b
}

// TestBadPaths: a path that names no campaign or no file of it is 404,
// and not a download in the log; another method than GET and HEAD 405.
func TestBadPaths(t *testing.T) {
	o := startOffice(t, Config{}, newPublisher(t, "solar"), newPublisher(t, "lunar"))
	carol := o.signIn("carol")
	for _, p := range []string{
		"/downloads/nosuch/report.html",
		"/downloads/solar",
		"/downloads/solar/",
		"/downloads/solar/report.htm",
		"/downloads/solar/lunar-vote.log",           // another campaign's file
		"/downloads/lunar/solar-settings.yaml",      // the same
		"/downloads/solar/solar-archive.tar.gz",     // the archive has its own path
		"/downloads/solar/solar-vote.log/x",         // no such file
		"/downloads/solar/solar-vote/checkpoint",    // for tlog-tiles clients, on the public listener
		"/downloads/solar/solar-vote.checkpoint.01", // a size spelled another way
		"/downloads/solar/..%2fsolar-vote.log",
		"/downloads/solar/solar-state.json", // the publisher's own
		"/downloads/Solar/report.html",
	} {
		if a := o.get(carol, p); a.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d %q, want 404", p, a.StatusCode, clip(a.body))
		}
	}
	if got := o.downloads(); len(got) != 0 {
		t.Errorf("downloads logged: %q", got)
	}
	req, _ := http.NewRequest(http.MethodPut, o.base+"/downloads/solar/report.html", nil)
	req.AddCookie(carol)
	resp, err := o.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("PUT: %d, want 405", resp.StatusCode)
	}
	if n := o.computations("solar"); n != 0 {
		t.Errorf("%d reports computed", n)
	}
	// The listing in Polish, the campaigns in the order added.
	a := o.get(carol, "/downloads/", "Accept-Language", "pl")
	solar, lunar := bytes.Index(a.body, []byte(`<h2>solar</h2>`)), bytes.Index(a.body, []byte(`<h2>lunar</h2>`))
	if !bytes.Contains(a.body, []byte(`<html lang="pl">`)) || bytes.Count(a.body, []byte(languages["pl"].AfterClose)) != 2 || solar < 0 || lunar < solar {
		t.Errorf("the listing in Polish:\n%s", a.body)
	}
}

// clip cuts a body to what a failure message needs.
func clip(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}
