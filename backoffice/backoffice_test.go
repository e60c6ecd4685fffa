package backoffice

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/internal/operator"
	"github.com/powvote/powvote/internal/publictls"
	"github.com/powvote/powvote/internal/publictls/publictlstest"
)

// clock is a test's clock: it moves only when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// The accounts of the tests, one per role, and their passwords.
var (
	testRoles     = map[string]Role{"alice": Viewer, "bob": Operator, "carol": Auditor}
	testPasswords = map[string]string{"alice": "alice's own password", "bob": "bob's own password", "carol": "carol's own password"}
)

// office is a back office served by a real operator listener on
// loopback, with stub handlers mounted as the dashboard (/dashboard/),
// the campaign actions (/campaigns/) and the archives (/archives/).
type office struct {
	t      *testing.T
	srv    *Server
	base   string // http(s)://127.0.0.1:port
	origin string // what a browser on the back office sends as Origin
	hc     *http.Client
	clock  *clock
	dir    string
	paused atomic.Int32 // the campaign actions' state: POST /campaigns/pause adds one
}

// startOffice starts an office; tune changes its Config, secure serves
// it over HTTPS.
func startOffice(t *testing.T, tune func(*Config), secure bool) *office {
	t.Helper()
	o := &office{t: t, clock: &clock{now: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}, dir: t.TempDir()}
	var as *Accounts
	for name, role := range testRoles {
		var err error
		if as, err = as.With(testAccount(t, name, role, testPasswords[name]), false); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{
		Accounts: as,
		Log:      OpenLog(LogPath(o.dir)),
		Secure:   secure,
		Now:      o.clock.Now,
		Params:   testParams,
		Lockout:  Lockout{Free: 1000, FreeAddress: 1000},
	}
	if tune != nil {
		tune(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	o.srv = srv
	mounts := []Mount{
		{Prefix: "/dashboard/", Title: "Dashboard", Read: View, Handler: func(ctx *fasthttp.RequestCtx) {
			u, _ := Who(ctx)
			ctx.SetBodyString("dashboard for " + u.Name)
		}},
		{Prefix: "/campaigns/", Title: "Campaigns", Read: View, Write: Act, Handler: func(ctx *fasthttp.RequestCtx) {
			if !ctx.IsPost() {
				ctx.SetBodyString("campaigns")
				return
			}
			o.paused.Add(1)
			if err := Record(ctx, "pause", "solar", nil); err != nil {
				t.Errorf("Record: %v", err)
			}
			ctx.SetBodyString("paused")
		}},
		{Prefix: "/archives/", Title: "Archives", Read: Download, Handler: func(ctx *fasthttp.RequestCtx) {
			ctx.SetBodyString("archive")
		}},
	}
	for _, m := range mounts {
		if err := srv.Mount(m); err != nil {
			t.Fatal(err)
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ocfg := operator.Config{App: srv.Handle}
	transport := &http.Transport{}
	scheme := "http://"
	if secure {
		ca := publictlstest.NewCA(t)
		cert, err := publictls.Load(ca.Issue(t, time.Hour).Write(t, t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		ocfg.TLS = cert.Config()
		transport.TLSClientConfig = ca.ClientConfig("http/1.1")
		scheme = "https://"
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- operator.New(ocfg).Run(ctx, ln) }()
	o.base = scheme + ln.Addr().String()
	o.origin = o.base
	o.hc = &http.Client{
		Transport: transport,
		Timeout:   20 * time.Second,
		// The tests look at each redirect themselves.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	t.Cleanup(func() {
		o.hc.CloseIdleConnections()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("operator listener: %v", err)
		}
	})
	return o
}

// answer is a response with its body read.
type answer struct {
	*http.Response
	body string
}

// do sends a request: form, when not nil, as the urlencoded body; the
// session cookie when not nil; extra headers.
func (o *office) do(method, path string, cookie *http.Cookie, form url.Values, headers ...string) answer {
	o.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, o.base+path, body)
	if err != nil {
		o.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := o.hc.Do(req)
	if err != nil {
		o.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		o.t.Fatal(err)
	}
	return answer{resp, string(b)}
}

// post is a POST as the back office's own pages send it: a form with
// the Origin and Sec-Fetch-Site a browser adds.
func (o *office) post(path string, cookie *http.Cookie, form url.Values) answer {
	o.t.Helper()
	return o.do("POST", path, cookie, form, "Origin", o.origin, "Sec-Fetch-Site", "same-origin")
}

// loginAnswer tries to sign in.
func (o *office) loginAnswer(name, password string) answer {
	o.t.Helper()
	return o.post("/login", nil, url.Values{"name": {name}, "password": {password}})
}

// sessionCookie is the session cookie of an answer, nil if none.
func (o *office) sessionCookie(a answer) *http.Cookie {
	for _, c := range a.Cookies() {
		if c.Name == o.srv.cookieName() && c.Value != "" {
			return c
		}
	}
	return nil
}

// login signs in as name and returns the session cookie and CSRF token.
func (o *office) login(name string) (*http.Cookie, string) {
	o.t.Helper()
	a := o.loginAnswer(name, testPasswords[name])
	c := o.sessionCookie(a)
	if a.StatusCode != http.StatusSeeOther || c == nil {
		o.t.Fatalf("login as %s: %d, cookie %v: %s", name, a.StatusCode, c, a.body)
	}
	return c, o.csrf(c)
}

// csrf reads a session's CSRF token from /session.
func (o *office) csrf(c *http.Cookie) string {
	o.t.Helper()
	a := o.do("GET", "/session", c, nil)
	var info sessionInfo
	if a.StatusCode != 200 || json.Unmarshal([]byte(a.body), &info) != nil || len(info.CSRF) != tokenLen {
		o.t.Fatalf("GET /session: %d %s", a.StatusCode, a.body)
	}
	return info.CSRF
}

// actions reads the action log as /actions serves it, to a signed-in
// session c.
func (o *office) actions(c *http.Cookie) []Entry {
	o.t.Helper()
	a := o.do("GET", "/actions?n=1000", c, nil)
	var got struct{ Actions []Entry }
	if a.StatusCode != 200 || json.Unmarshal([]byte(a.body), &got) != nil {
		o.t.Fatalf("GET /actions: %d %s", a.StatusCode, a.body)
	}
	return got.Actions
}

// lastEntry is the last entry of the action log, read from the file.
func (o *office) lastEntry() Entry {
	o.t.Helper()
	es, err := o.srv.Log().Tail(1)
	if err != nil || len(es) != 1 {
		o.t.Fatalf("Tail(1): %v, %d entries", err, len(es))
	}
	return es[0]
}

func (o *office) logLen() int {
	o.t.Helper()
	es, err := o.srv.Log().Tail(MaxTail)
	if err != nil {
		o.t.Fatal(err)
	}
	return len(es)
}

// TestRoles is each role's allowed and refused actions: every role reads
// the dashboard, the campaigns and the action log; only an operator
// pauses a campaign; only an auditor downloads an archive. A refused
// action changes nothing and is logged as refused; a done one is logged
// as done, by whom.
func TestRoles(t *testing.T) {
	o := startOffice(t, nil, false)
	type req struct {
		method, path string
	}
	var (
		dashboard = req{"GET", "/dashboard/"}
		campaigns = req{"GET", "/campaigns/"}
		pause     = req{"POST", "/campaigns/pause"}
		archive   = req{"GET", "/archives/solar.tar"}
		actions   = req{"GET", "/actions"}
		session   = req{"GET", "/session"}
		postDash  = req{"POST", "/dashboard/"}
		postArch  = req{"POST", "/archives/solar.tar"}
		putCamp   = req{"PUT", "/campaigns/pause"}
	)
	tests := []struct {
		name string
		want map[req]int
	}{
		{"alice", map[req]int{dashboard: 200, campaigns: 200, pause: 403, archive: 403, actions: 200, session: 200, postDash: 405, postArch: 405, putCamp: 405}},
		{"bob", map[req]int{dashboard: 200, campaigns: 200, pause: 200, archive: 403, actions: 200, session: 200, postDash: 405, postArch: 405, putCamp: 405}},
		{"carol", map[req]int{dashboard: 200, campaigns: 200, pause: 403, archive: 200, actions: 200, session: 200, postDash: 405, postArch: 405, putCamp: 405}},
	}
	for _, tt := range tests {
		t.Run(testRoles[tt.name].String(), func(t *testing.T) {
			o.t = t
			c, token := o.login(tt.name)
			for _, r := range []req{dashboard, campaigns, pause, archive, actions, session, postDash, postArch, putCamp} {
				before, logged := o.paused.Load(), o.logLen()
				form := url.Values{CSRFField: {token}}
				a := o.do(r.method, r.path, c, form, "Origin", o.origin, "Sec-Fetch-Site", "same-origin")
				if a.StatusCode != tt.want[r] {
					t.Errorf("%s %s as %s: %d %q, want %d", r.method, r.path, tt.name, a.StatusCode, a.body, tt.want[r])
				}
				changed := o.paused.Load() - before
				if r == pause {
					wantChange := int32(0)
					if tt.want[r] == 200 {
						wantChange = 1
					}
					if changed != wantChange {
						t.Errorf("POST /campaigns/pause as %s: the state changed by %d, want %d", tt.name, changed, wantChange)
					}
					e := o.lastEntry()
					wantOutcome, wantAction := OutcomeOK, "pause"
					if tt.want[r] == 403 {
						wantOutcome, wantAction = "refused: role "+testRoles[tt.name].String()+" may not", "/campaigns/pause"
					}
					if e.Who != tt.name || e.Action != wantAction || e.Outcome != wantOutcome || e.From != "127.0.0.1" || !e.Time.Equal(o.clock.Now()) {
						t.Errorf("POST /campaigns/pause as %s logged %+v, want %s by %s: %s", tt.name, e, wantAction, tt.name, wantOutcome)
					}
					if o.logLen() != logged+1 {
						t.Errorf("POST /campaigns/pause as %s: %d entries logged, want 1", tt.name, o.logLen()-logged)
					}
				} else if changed != 0 || (r.method == "GET" && o.logLen() != logged) {
					t.Errorf("%s %s as %s changed the state or the log", r.method, r.path, tt.name)
				}
			}
			if a := o.do("GET", "/dashboard/", c, nil); a.body != "dashboard for "+tt.name {
				t.Errorf("the dashboard's handler saw %q", a.body)
			}
			// The home page lists what the role may read, no more.
			home := o.do("GET", "/", c, nil)
			if home.StatusCode != 200 || strings.Contains(home.body, `href="/archives/"`) != testRoles[tt.name].Can(Download) ||
				!strings.Contains(home.body, `href="/dashboard/"`) || !strings.Contains(home.body, `value="`+token+`"`) {
				t.Errorf("home page of %s: %d\n%s", tt.name, home.StatusCode, home.body)
			}
		})
	}
	o.t = t
	if got := o.paused.Load(); got != 1 {
		t.Errorf("the campaign was paused %d times, want once (by the operator)", got)
	}
}

// TestNotSignedIn checks that no mounted handler sees a request without
// a live session: a browser's page load goes to /login and back, any
// other request gets 401.
func TestNotSignedIn(t *testing.T) {
	o := startOffice(t, nil, false)
	forged := &http.Cookie{Name: CookiePlain, Value: newToken()}
	short := &http.Cookie{Name: CookiePlain, Value: "abc"}
	tests := []struct {
		method, path string
		cookie       *http.Cookie
		headers      []string
		status       int
		location     string
	}{
		{"GET", "/dashboard/", nil, []string{"Accept", "text/html,application/xhtml+xml"}, 303, "/login?next=%2Fdashboard%2F"},
		{"GET", "/dashboard/x?y=1", nil, []string{"Sec-Fetch-Mode", "navigate"}, 303, "/login?next=%2Fdashboard%2Fx%3Fy%3D1"},
		{"GET", "/dashboard/", nil, []string{"Sec-Fetch-Mode", "cors", "Accept", "text/html"}, 401, ""},
		{"GET", "/dashboard/", nil, []string{"Accept", "application/json"}, 401, ""},
		{"GET", "/", nil, []string{"Accept", "text/html"}, 303, "/login?next=%2F"},
		{"GET", "/actions", nil, nil, 401, ""},
		{"GET", "/session", nil, nil, 401, ""},
		{"GET", "/archives/a", forged, nil, 401, ""},
		{"GET", "/archives/a", short, nil, 401, ""},
		{"POST", "/campaigns/pause", nil, []string{"Accept", "text/html"}, 401, ""},
		{"POST", "/campaigns/pause", forged, nil, 401, ""},
		{"POST", "/logout", nil, nil, 401, ""},
		{"GET", "/nothing", nil, nil, 404, ""},
	}
	for _, tt := range tests {
		a := o.do(tt.method, tt.path, tt.cookie, url.Values{CSRFField: {"x"}}, tt.headers...)
		if a.StatusCode != tt.status || a.Header.Get("Location") != tt.location {
			t.Errorf("%s %s %v: %d Location %q, want %d %q", tt.method, tt.path, tt.headers, a.StatusCode, a.Header.Get("Location"), tt.status, tt.location)
		}
		if strings.Contains(a.body, "dashboard for") || strings.Contains(a.body, "archive") || strings.Contains(a.body, "paused") {
			t.Errorf("%s %s reached a mounted handler: %q", tt.method, tt.path, a.body)
		}
	}
	if o.paused.Load() != 0 || o.logLen() != 0 {
		t.Errorf("requests without a session paused %d times, logged %d entries", o.paused.Load(), o.logLen())
	}

	// Signing in from the redirect goes back to the page.
	a := o.post("/login", nil, url.Values{"name": {"alice"}, "password": {testPasswords["alice"]}, "next": {"/dashboard/x?y=1"}})
	if a.StatusCode != 303 || a.Header.Get("Location") != "/dashboard/x?y=1" {
		t.Errorf("login with next: %d %q", a.StatusCode, a.Header.Get("Location"))
	}
	for _, next := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example", "/login", "dashboard", "/x\ny"} {
		a := o.post("/login", nil, url.Values{"name": {"alice"}, "password": {testPasswords["alice"]}, "next": {next}})
		if a.StatusCode != 303 || a.Header.Get("Location") != "/" {
			t.Errorf("login with next %q: %d Location %q, want /", next, a.StatusCode, a.Header.Get("Location"))
		}
	}
	// The login form carries next on.
	if a := o.do("GET", "/login?next=%2Fdashboard%2F", nil, nil); !strings.Contains(a.body, `name="next" value="/dashboard/"`) {
		t.Errorf("the login form does not carry next:\n%s", a.body)
	}
	// Signed in, /login goes on to next.
	c, _ := o.login("alice")
	if a := o.do("GET", "/login?next=%2Fdashboard%2F", c, nil); a.StatusCode != 303 || a.Header.Get("Location") != "/dashboard/" {
		t.Errorf("GET /login signed in: %d %q", a.StatusCode, a.Header.Get("Location"))
	}
	// A mount's prefix without its last '/' goes to it.
	if a := o.do("GET", "/dashboard", c, nil); a.StatusCode != 303 || a.Header.Get("Location") != "/dashboard/" {
		t.Errorf("GET /dashboard: %d %q", a.StatusCode, a.Header.Get("Location"))
	}
}

// TestWrongPassword checks that a wrong password and a name no account
// has get the same answer after about the same time, that neither signs
// in, and that the log tells them apart without holding the password.
func TestWrongPassword(t *testing.T) {
	// Parameters whose check takes some milliseconds (tens under the
	// race detector), so that a skipped check shows.
	heavy := Params{Time: 1, Memory: 4 << 10, Threads: 1}
	o := startOffice(t, func(c *Config) {
		c.Params = heavy
		as := c.Accounts
		h, err := NewHash(testPasswords["bob"], heavy)
		if err != nil {
			t.Fatal(err)
		}
		c.Accounts, _ = as.With(Account{Name: "bob", Role: Operator, Created: time.Date(2026, 5, 1, 9, 30, 0, 0, time.UTC), Hash: h}, true)
	}, false)
	type try struct{ name, password, outcome string }
	tries := []try{
		{"bob", "bob's own passwore", "wrong password"},
		{"mallory", "bob's own password", "no such account"},
		{"bob", "", ""},                    // no password: refused before any check
		{"Bob", "wrong", "wrong password"}, // names are lowered
		{"b\x00b", "wrong", "no such account"},
	}
	var first answer
	for i, tr := range tries {
		a := o.loginAnswer(tr.name, tr.password)
		if o.sessionCookie(a) != nil || a.StatusCode == 303 {
			t.Fatalf("login %q/%q signed in", tr.name, tr.password)
		}
		if tr.password == "" {
			if a.StatusCode != 400 {
				t.Errorf("login without a password: %d", a.StatusCode)
			}
			continue
		}
		if i == 0 {
			first = a
		}
		if a.StatusCode != 401 || a.body != first.body {
			t.Errorf("login %q: %d, a body other than the first failure's:\n%s", tr.name, a.StatusCode, a.body)
		}
		if !strings.Contains(a.body, "Wrong account name or password.") {
			t.Errorf("failure page: %s", a.body)
		}
		e := o.lastEntry()
		who := strings.ToLower(tr.name)
		if CheckName(who) != nil {
			who = "(not an account name)"
		}
		if e.Action != ActionLogin || e.Who != who || e.Outcome != tr.outcome {
			t.Errorf("login %q logged %+v, want %s by %s", tr.name, e, tr.outcome, who)
		}
	}
	data, _ := os.ReadFile(LogPath(o.dir))
	if strings.Contains(string(data), "passwore") || strings.Contains(string(data), "own password") {
		t.Errorf("the action log holds a password:\n%s", data)
	}
	fi, err := os.Stat(LogPath(o.dir))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("action log: %v, mode %v, want 0600", err, fi.Mode())
	}

	// Time: the medians of a wrong password and of an unknown name, tried
	// in turn, stay within a factor of four of each other (a skipped
	// check is ten to a hundred times faster).
	var known, unknown []time.Duration
	for range 9 {
		for _, name := range []string{"bob", "mallory"} {
			start := time.Now()
			o.loginAnswer(name, "not the password at all")
			if name == "bob" {
				known = append(known, time.Since(start))
			} else {
				unknown = append(unknown, time.Since(start))
			}
		}
	}
	median := func(ds []time.Duration) time.Duration { slices.Sort(ds); return ds[len(ds)/2] }
	if k, u := median(known), median(unknown); u*4 < k || k*4 < u {
		t.Errorf("a wrong password takes %v, an unknown name %v: the time tells names apart", k, u)
	}
	t.Logf("median failure: known name %v, unknown name %v", median(known), median(unknown))
}

// TestCSRF checks that a POST without the session's token, with a wrong
// one, or from another site changes nothing and is logged as refused;
// and that the token in the form or in the header passes.
func TestCSRF(t *testing.T) {
	o := startOffice(t, nil, false)
	c, token := o.login("bob")
	_, otherToken := o.login("bob")
	altered := []byte(token)
	altered[10] ^= 1
	tests := []struct {
		name    string
		form    url.Values
		headers []string
		ok      bool
		why     string
	}{
		{"no token", url.Values{}, []string{"Origin", o.origin, "Sec-Fetch-Site", "same-origin"}, false, "no CSRF token"},
		{"empty token", url.Values{CSRFField: {""}}, nil, false, "no CSRF token"},
		{"altered token", url.Values{CSRFField: {string(altered)}}, nil, false, "wrong CSRF token"},
		{"another session's token", url.Values{CSRFField: {otherToken}}, nil, false, "wrong CSRF token"},
		{"the token cut", url.Values{CSRFField: {token[:20]}}, nil, false, "wrong CSRF token"},
		{"token in a query", nil, nil, false, "no CSRF token"},
		{"cross-site Origin", url.Values{CSRFField: {token}}, []string{"Origin", "http://evil.example"}, false, "request from another origin"},
		{"null Origin", url.Values{CSRFField: {token}}, []string{"Origin", "null"}, false, "request from another origin"},
		{"https Origin of plain listener", url.Values{CSRFField: {token}}, []string{"Origin", strings.Replace(o.origin, "http:", "https:", 1)}, false, "request from another origin"},
		{"cross-site fetch", url.Values{CSRFField: {token}}, []string{"Sec-Fetch-Site", "cross-site"}, false, "request from another site"},
		{"same-site fetch", url.Values{CSRFField: {token}}, []string{"Sec-Fetch-Site", "same-site"}, false, "request from another site"},
		{"form token", url.Values{CSRFField: {token}}, []string{"Origin", o.origin, "Sec-Fetch-Site", "same-origin"}, true, ""},
		{"header token", url.Values{}, []string{CSRFHeader, token, "Origin", o.origin}, true, ""},
		{"client without Origin", url.Values{CSRFField: {token}}, nil, true, ""},
	}
	for _, tt := range tests {
		before := o.paused.Load()
		path := "/campaigns/pause"
		if tt.form == nil {
			path += "?" + CSRFField + "=" + token
		}
		a := o.do("POST", path, c, tt.form, tt.headers...)
		changed := o.paused.Load() != before
		e := o.lastEntry()
		if tt.ok {
			if a.StatusCode != 200 || !changed || e.Outcome != OutcomeOK || e.Action != "pause" {
				t.Errorf("%s: %d %q, changed %v, logged %+v; want it done", tt.name, a.StatusCode, a.body, changed, e)
			}
			continue
		}
		if a.StatusCode != 403 || changed {
			t.Errorf("%s: %d %q, changed %v; want 403 and no change", tt.name, a.StatusCode, a.body, changed)
		}
		if e.Who != "bob" || e.Action != "/campaigns/pause" || !strings.HasPrefix(e.Outcome, "refused: "+tt.why) {
			t.Errorf("%s: logged %+v, want refused: %s", tt.name, e, tt.why)
		}
	}

	// A login from another site is refused too, and signs nobody in.
	for _, h := range [][]string{{"Origin", "http://evil.example"}, {"Sec-Fetch-Site", "cross-site"}} {
		a := o.do("POST", "/login", nil, url.Values{"name": {"bob"}, "password": {testPasswords["bob"]}}, h...)
		if a.StatusCode != 403 || o.sessionCookie(a) != nil {
			t.Errorf("login with %v: %d, cookie %v", h, a.StatusCode, o.sessionCookie(a))
		}
	}
}

// TestSessionExpiry checks the idle and the absolute expiry with the
// test's clock.
func TestSessionExpiry(t *testing.T) {
	o := startOffice(t, func(c *Config) {
		c.IdleTimeout = 30 * time.Minute
		c.MaxAge = 2 * time.Hour
	}, false)
	get := func(c *http.Cookie) int { return o.do("GET", "/dashboard/", c, nil).StatusCode }

	// Idle: each request restarts the idle time; 30 minutes without one
	// end the session, for good.
	c, _ := o.login("alice")
	o.clock.Advance(29 * time.Minute)
	if s := get(c); s != 200 {
		t.Fatalf("after 29 idle minutes: %d", s)
	}
	o.clock.Advance(29 * time.Minute)
	if s := get(c); s != 200 {
		t.Fatalf("after 29 more idle minutes: %d", s)
	}
	o.clock.Advance(30 * time.Minute)
	a := o.do("GET", "/dashboard/", c, nil)
	if a.StatusCode != 401 {
		t.Errorf("after 30 idle minutes: %d, want 401", a.StatusCode)
	}
	if cleared := clearedCookie(a, CookiePlain); !cleared {
		t.Errorf("an ended session's cookie is not cleared: %v", a.Header["Set-Cookie"])
	}
	o.clock.Advance(-29 * time.Minute)
	if s := get(c); s != 401 {
		t.Errorf("an idle-ended session came back: %d", s)
	}

	// Absolute: a session used every 20 minutes ends 2 hours after its
	// sign-in all the same.
	c, _ = o.login("alice")
	for elapsed := 20 * time.Minute; elapsed < 2*time.Hour; elapsed += 20 * time.Minute {
		o.clock.Advance(20 * time.Minute)
		if s := get(c); s != 200 {
			t.Fatalf("%v after sign-in, in use: %d", elapsed, s)
		}
	}
	o.clock.Advance(20 * time.Minute)
	if s := get(c); s != 401 {
		t.Errorf("2 hours after sign-in, in use: %d, want 401", s)
	}
	if n := o.srv.sessions.len(); n != 0 {
		t.Errorf("%d sessions held after both ended", n)
	}
}

func clearedCookie(a answer, name string) bool {
	for _, c := range a.Cookies() {
		if c.Name == name && c.Value == "" && c.MaxAge < 0 {
			return true
		}
	}
	return false
}

// TestLogout checks that signing out needs the CSRF token, ends the
// session on the server (the old cookie no longer signs in) and is
// logged.
func TestLogout(t *testing.T) {
	o := startOffice(t, nil, false)
	c, token := o.login("carol")
	other, _ := o.login("carol")
	if a := o.post("/logout", c, url.Values{}); a.StatusCode != 403 {
		t.Errorf("logout without the token: %d", a.StatusCode)
	}
	if a := o.do("GET", "/archives/x", c, nil); a.StatusCode != 200 {
		t.Fatalf("a refused logout ended the session: %d", a.StatusCode)
	}
	a := o.post("/logout", c, url.Values{CSRFField: {token}})
	if a.StatusCode != 303 || a.Header.Get("Location") != "/login" || !clearedCookie(a, CookiePlain) {
		t.Errorf("logout: %d %q, cookies %v", a.StatusCode, a.Header.Get("Location"), a.Header["Set-Cookie"])
	}
	if e := o.lastEntry(); e.Who != "carol" || e.Action != ActionLogout || e.Outcome != OutcomeOK {
		t.Errorf("logout logged %+v", e)
	}
	if a := o.do("GET", "/archives/x", c, nil); a.StatusCode != 401 {
		t.Errorf("the cookie of a session signed out: %d, want 401", a.StatusCode)
	}
	if a := o.post("/logout", c, url.Values{CSRFField: {token}}); a.StatusCode != 401 {
		t.Errorf("a second logout: %d, want 401", a.StatusCode)
	}
	if a := o.do("GET", "/archives/x", other, nil); a.StatusCode != 200 {
		t.Errorf("logout ended the account's other session: %d", a.StatusCode)
	}
}

// TestCookieFlags checks the session cookie over plain HTTP and over
// HTTPS, and that its token is stored only hashed.
func TestCookieFlags(t *testing.T) {
	for _, secure := range []bool{false, true} {
		o := startOffice(t, nil, secure)
		a := o.loginAnswer("alice", testPasswords["alice"])
		raw := a.Header.Values("Set-Cookie")
		if len(raw) != 1 {
			t.Fatalf("secure %v: Set-Cookie %q", secure, raw)
		}
		c := o.sessionCookie(a)
		wantName := map[bool]string{false: CookiePlain, true: CookieTLS}[secure]
		if c == nil || c.Name != wantName || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" ||
			c.Secure != secure || c.Domain != "" || c.MaxAge != 0 || !c.Expires.IsZero() || len(c.Value) != tokenLen {
			t.Errorf("secure %v: cookie %q", secure, raw)
		}
		if a := o.do("GET", "/dashboard/", c, nil); a.StatusCode != 200 {
			t.Errorf("secure %v: the cookie does not sign in: %d", secure, a.StatusCode)
		}
		// The store holds the token's hash, never the token.
		o.srv.sessions.mu.Lock()
		_, byToken := o.srv.sessions.m[[32]byte([]byte(c.Value)[:32])]
		_, byHash := o.srv.sessions.m[key([]byte(c.Value))]
		o.srv.sessions.mu.Unlock()
		if byToken || !byHash {
			t.Errorf("secure %v: sessions kept by token %v, by hash %v", secure, byToken, byHash)
		}
		// The other scheme's cookie name does not sign in.
		wrong := &http.Cookie{Name: map[bool]string{true: CookiePlain, false: CookieTLS}[secure], Value: c.Value}
		if a := o.do("GET", "/dashboard/", wrong, nil); a.StatusCode != 401 {
			t.Errorf("secure %v: cookie %s signs in: %d", secure, wrong.Name, a.StatusCode)
		}
		// Over HTTPS, Origin must be https.
		if secure {
			c2, token2 := o.login("bob")
			plainOrigin := strings.Replace(o.origin, "https:", "http:", 1)
			if a := o.do("POST", "/campaigns/pause", c2, url.Values{CSRFField: {token2}}, "Origin", plainOrigin); a.StatusCode != 403 {
				t.Errorf("HTTPS, Origin %s: %d, want 403", plainOrigin, a.StatusCode)
			}
			if a := o.post("/campaigns/pause", c2, url.Values{CSRFField: {token2}}); a.StatusCode != 200 {
				t.Errorf("HTTPS, Origin %s: %d, want 200", o.origin, a.StatusCode)
			}
		}
	}
}

// TestHeaders checks the security headers on every kind of answer.
func TestHeaders(t *testing.T) {
	o := startOffice(t, nil, false)
	c, _ := o.login("alice")
	for _, tt := range []struct {
		method, path string
		cookie       *http.Cookie
		status       int
	}{
		{"GET", "/login", nil, 200},
		{"GET", "/backoffice.css", nil, 200},
		{"GET", "/dashboard/", nil, 401},
		{"GET", "/dashboard/", c, 200},
		{"GET", "/", c, 200},
		{"GET", "/actions", c, 200},
		{"POST", "/campaigns/pause", c, 403},
		{"GET", "/nothing", c, 404},
		{"DELETE", "/login", nil, 405},
	} {
		a := o.do(tt.method, tt.path, tt.cookie, nil)
		h := a.Header
		if a.StatusCode != tt.status || h.Get("Content-Security-Policy") != csp || !strings.Contains(csp, "default-src 'self'") ||
			!strings.Contains(csp, "frame-ancestors 'none'") || h.Get("X-Content-Type-Options") != "nosniff" ||
			h.Get("Referrer-Policy") != "same-origin" || h.Get("Cache-Control") != "no-store" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s %s: %d, headers %v", tt.method, tt.path, a.StatusCode, h)
		}
	}
	// The scrapers' endpoints are as before: no sign-in.
	if a := o.do("GET", "/health", nil, nil); a.StatusCode != 200 || a.body != "ok\n" {
		t.Errorf("GET /health beside the back office: %d %q", a.StatusCode, a.body)
	}
}

// TestLockout checks that failures lock a name out, whether an account
// has it or not, and an address out, and that the lockout ends.
func TestLockout(t *testing.T) {
	o := startOffice(t, func(c *Config) {
		c.Lockout = Lockout{Free: 3, FreeAddress: 1000, First: 30 * time.Second, Max: 10 * time.Minute}
	}, false)
	for _, name := range []string{"bob", "nobody"} {
		for i := 0; i < 3; i++ {
			if a := o.loginAnswer(name, "wrong password here"); a.StatusCode != 401 {
				t.Fatalf("%s: failure %d: %d", name, i+1, a.StatusCode)
			}
		}
		if !strings.Contains(o.lastEntry().Outcome, "; locked out for 30s") {
			t.Errorf("%s: the third failure logged %+v", name, o.lastEntry())
		}
		// Locked out: the right password is refused too, without a check.
		a := o.loginAnswer(name, testPasswords[name]+"x")
		if a.StatusCode != 429 || a.Header.Get("Retry-After") != "31" || !strings.Contains(a.body, "Too many failed sign-ins") {
			t.Errorf("%s locked out: %d Retry-After %q", name, a.StatusCode, a.Header.Get("Retry-After"))
		}
		if name == "bob" {
			if a := o.loginAnswer("bob", testPasswords["bob"]); a.StatusCode != 429 || o.sessionCookie(a) != nil {
				t.Errorf("bob locked out, right password: %d", a.StatusCode)
			}
		}
		o.clock.Advance(31 * time.Second)
	}
	if a := o.loginAnswer("bob", testPasswords["bob"]); a.StatusCode != 303 {
		t.Errorf("bob after the lockout: %d", a.StatusCode)
	}
	// The lockout doubles with each failure after it.
	for range 3 {
		o.loginAnswer("carol", "wrong password here")
	}
	o.clock.Advance(31 * time.Second)
	o.loginAnswer("carol", "wrong password here")
	if e := o.lastEntry(); !strings.HasSuffix(e.Outcome, "locked out for 1m0s") {
		t.Errorf("fourth failure logged %+v, want a lockout of 1m0s", e)
	}

	// An address: failures on many names lock it out.
	o2 := startOffice(t, func(c *Config) { c.Lockout = Lockout{Free: 1000, FreeAddress: 4} }, false)
	for _, name := range []string{"n1", "n2", "n3", "alice"} {
		o2.loginAnswer(name, "wrong password here")
	}
	if a := o2.loginAnswer("bob", testPasswords["bob"]); a.StatusCode != 429 {
		t.Errorf("an address after 4 failures on 4 names: %d, want 429", a.StatusCode)
	}
	o2.clock.Advance(31 * time.Second)
	if a := o2.loginAnswer("bob", testPasswords["bob"]); a.StatusCode != 303 {
		t.Errorf("after the address's lockout: %d", a.StatusCode)
	}
}

// TestLoginFlood sends many logins at once while the checks that start
// are held: at most MaxLogins start, and every other login is answered
// 503 while they are still held, without waiting for them.
func TestLoginFlood(t *testing.T) {
	const maxLogins, flood = 2, 24
	o := startOffice(t, func(c *Config) {
		c.MaxLogins = maxLogins
		c.LoginWait = 5 * time.Millisecond
	}, false)
	var running, peak atomic.Int32
	release := make(chan struct{})
	o.srv.onCheck = func(d int) {
		n := running.Add(int32(d))
		if d < 0 {
			return
		}
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		<-release
	}
	statuses := make(chan int, flood)
	for range flood {
		go func() {
			form := url.Values{"name": {"nobody"}, "password": {"some password"}}
			req, _ := http.NewRequest("POST", o.base+"/login", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := o.hc.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	timeout := time.After(15 * time.Second)
	for i := range flood - maxLogins {
		select {
		case s := <-statuses:
			if s != 503 {
				t.Errorf("login %d answered while %d checks are held: %d, want 503", i, maxLogins, s)
			}
		case <-timeout:
			close(release)
			t.Fatalf("only %d of %d logins answered while %d checks are held; %d checks ran at once", i, flood, maxLogins, peak.Load())
		}
	}
	if p := peak.Load(); p != maxLogins {
		t.Errorf("%d checks ran at once, want %d", p, maxLogins)
	}
	close(release)
	for range maxLogins {
		if s := <-statuses; s != 401 {
			t.Errorf("a held login, released: %d, want 401", s)
		}
	}
}

// TestAccountsReload checks SetAccounts: a removed account's sessions
// end, so do those of an account whose password changed; a new role
// holds at the next request.
func TestAccountsReload(t *testing.T) {
	o := startOffice(t, nil, false)
	ca, _ := o.login("alice")
	cb, _ := o.login("bob")
	cc, _ := o.login("carol")
	as := o.srv.accounts.Load()
	as, _ = as.Without("alice")
	as, _ = as.With(testAccount(t, "bob", Operator, "bob's new password"), true)
	carol, _ := as.Lookup("carol")
	carol.Role = Viewer
	as, _ = as.With(carol, true)
	o.srv.SetAccounts(as)
	if a := o.do("GET", "/dashboard/", ca, nil); a.StatusCode != 401 {
		t.Errorf("a removed account's session: %d", a.StatusCode)
	}
	if a := o.do("GET", "/dashboard/", cb, nil); a.StatusCode != 401 {
		t.Errorf("a session from before a password change: %d", a.StatusCode)
	}
	if a := o.do("GET", "/archives/x", cc, nil); a.StatusCode != 403 {
		t.Errorf("auditor made viewer, GET /archives/: %d, want 403", a.StatusCode)
	}
	if a := o.do("GET", "/dashboard/", cc, nil); a.StatusCode != 200 {
		t.Errorf("auditor made viewer, GET /dashboard/: %d", a.StatusCode)
	}
	if a := o.loginAnswer("bob", "bob's new password"); a.StatusCode != 303 {
		t.Errorf("bob with his new password: %d", a.StatusCode)
	}

	// No account at all: the back office is off, the scrapers' endpoints
	// are not.
	o.srv.SetAccounts(nil)
	for _, p := range []string{"/login", "/", "/dashboard/", "/backoffice.css"} {
		if a := o.do("GET", p, cc, nil); a.StatusCode != 404 {
			t.Errorf("no accounts, GET %s: %d, want 404", p, a.StatusCode)
		}
	}
	if a := o.do("GET", "/ready", nil, nil); a.StatusCode != 200 {
		t.Errorf("no accounts, GET /ready: %d", a.StatusCode)
	}
}

// TestActionLog checks the log /actions serves after a sequence of
// actions: each one, in order, with its outcome; ?n limits it.
func TestActionLog(t *testing.T) {
	o := startOffice(t, nil, false)
	o.loginAnswer("bob", "not bob's password")
	c, token := o.login("bob")
	o.clock.Advance(time.Minute)
	o.post("/campaigns/pause", c, url.Values{CSRFField: {token}})
	o.post("/campaigns/pause", c, url.Values{})
	va, vt := o.login("alice")
	o.post("/campaigns/pause", va, url.Values{CSRFField: {vt}})
	o.post("/logout", va, url.Values{CSRFField: {vt}})
	got := o.actions(c)
	want := []Entry{
		{Who: "bob", Action: "login", Outcome: "wrong password"},
		{Who: "bob", Action: "login", Outcome: "ok"},
		{Who: "bob", Action: "pause", Target: "solar", Outcome: "ok"},
		{Who: "bob", Action: "/campaigns/pause", Outcome: "refused: no CSRF token"},
		{Who: "alice", Action: "login", Outcome: "ok"},
		{Who: "alice", Action: "/campaigns/pause", Outcome: "refused: role viewer may not"},
		{Who: "alice", Action: "logout", Outcome: "ok"},
	}
	if len(got) != len(want) {
		t.Fatalf("/actions holds %d entries, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Who != w.Who || g.Action != w.Action || g.Target != w.Target || g.Outcome != w.Outcome || g.From != "127.0.0.1" {
			t.Errorf("entry %d: %+v, want %+v", i, g, w)
		}
	}
	if !got[1].Time.Equal(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)) || !got[2].Time.Equal(time.Date(2026, 5, 1, 9, 1, 0, 0, time.UTC)) {
		t.Errorf("times %v, %v", got[1].Time, got[2].Time)
	}
	a := o.do("GET", "/actions?n=2", c, nil)
	var two struct{ Actions []Entry }
	json.Unmarshal([]byte(a.body), &two)
	if len(two.Actions) != 2 || two.Actions[1].Action != "logout" || a.Header.Get("Content-Type") != "application/json" {
		t.Errorf("/actions?n=2: %s", a.body)
	}
	for _, n := range []string{"0", "-1", "1001", "x"} {
		if a := o.do("GET", "/actions?n="+n, c, nil); a.StatusCode != 400 {
			t.Errorf("/actions?n=%s: %d", n, a.StatusCode)
		}
	}
}

// TestLogUnwritable checks that no session starts while the action log
// cannot be written: its sign-in would not be in the log.
func TestLogUnwritable(t *testing.T) {
	o := startOffice(t, nil, false)
	if err := os.Mkdir(LogPath(o.dir), 0o700); err != nil { // a directory where the file should be
		t.Fatal(err)
	}
	a := o.loginAnswer("bob", testPasswords["bob"])
	if a.StatusCode != 503 || o.sessionCookie(a) != nil {
		t.Errorf("sign-in with an unwritable log: %d, cookie %v", a.StatusCode, o.sessionCookie(a))
	}
	if n := o.srv.sessions.len(); n != 0 {
		t.Errorf("%d sessions started", n)
	}
	os.Remove(LogPath(o.dir))
	if a := o.loginAnswer("bob", testPasswords["bob"]); a.StatusCode != 303 {
		t.Errorf("sign-in once the log is writable: %d", a.StatusCode)
	}
}

func TestMountRefuses(t *testing.T) {
	srv, err := New(Config{Log: OpenLog(filepath.Join(t.TempDir(), LogFile)), Params: testParams})
	if err != nil {
		t.Fatal(err)
	}
	h := func(*fasthttp.RequestCtx) {}
	if err := srv.Mount(Mount{Prefix: "/dashboard/", Read: View, Handler: h}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []Mount{
		{Prefix: "/dashboard/", Read: View, Handler: h},
		{Prefix: "/dashboard/x/", Read: View, Handler: h},
		{Prefix: "/", Read: View, Handler: h},
		{Prefix: "/login/", Read: View, Handler: h},
		{Prefix: "/metrics/", Read: View, Handler: h},
		{Prefix: "/campaigns", Read: View, Handler: h},
		{Prefix: "campaigns/", Read: View, Handler: h},
		{Prefix: "/a//b/", Read: View, Handler: h},
		{Prefix: "/campaigns/", Handler: h},
		{Prefix: "/campaigns/", Read: View},
	} {
		if err := srv.Mount(m); err == nil {
			t.Errorf("Mount(%q, read %d, handler %v) worked", m.Prefix, m.Read, m.Handler != nil)
		}
	}
}

func TestLanguages(t *testing.T) {
	o := startOffice(t, nil, false)
	tests := []struct{ header, lang, word string }{
		{"", "en", "Sign in"},
		{"de-DE,de;q=0.9,en;q=0.8", "de", "Anmelden"},
		{"pl", "pl", "Hasło"},
		{"fr-FR, en;q=0.5, pl;q=0.7", "pl", "Zaloguj"},
		{"fr", "en", "Password"},
		{"de;q=0, en", "en", "Password"},
		{"de;q=abc, pl;q=0.1", "pl", "Hasło"},
	}
	for _, tt := range tests {
		a := o.do("GET", "/login", nil, nil, "Accept-Language", tt.header)
		if !strings.Contains(a.body, `<html lang="`+tt.lang+`">`) || !strings.Contains(a.body, tt.word) {
			t.Errorf("Accept-Language %q: want %s with %q:\n%s", tt.header, tt.lang, tt.word, a.body)
		}
	}
	a := o.do("POST", "/login", nil, url.Values{"name": {"alice"}, "password": {"wrong"}}, "Accept-Language", "de")
	if !strings.Contains(a.body, "Kontoname oder Passwort falsch.") {
		t.Errorf("German failure page:\n%s", a.body)
	}
}

// FuzzRequest sends the back office requests whose cookie, form, origin
// and language come from the fuzzer: none reaches a mounted handler or
// signs in without the right password, and none makes it panic.
func FuzzRequest(f *testing.F) {
	f.Add("POST", "/login", "", "name=alice&password=alice%27s+own+password", "", "de")
	f.Add("POST", "/login", "", "name=alice&password=x&next=//evil", "http://evil", "")
	f.Add("GET", "/dashboard/", "powvote_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "", "", "pl;q=0.5,de")
	f.Add("POST", "/campaigns/pause", "powvote_session=x; powvote_session=y", "csrf=&csrf=z", "null", "")
	f.Add("POST", "/logout", "", "%zz=%", "", ";q=;,")
	as, _ := (*Accounts)(nil).With(testAccount(f, "alice", Operator, testPasswords["alice"]), false)
	srv, err := New(Config{Accounts: as, Log: OpenLog(filepath.Join(f.TempDir(), LogFile)), Params: testParams, LoginWait: time.Second})
	if err != nil {
		f.Fatal(err)
	}
	var reached atomic.Bool
	for _, p := range []string{"/dashboard/", "/campaigns/"} {
		srv.Mount(Mount{Prefix: p, Read: View, Write: Act, Handler: func(*fasthttp.RequestCtx) { reached.Store(true) }})
	}
	f.Fuzz(func(t *testing.T, method, path, cookie, body, origin, lang string) {
		var req fasthttp.Request
		req.Header.SetMethod(method)
		req.SetRequestURI(path)
		req.Header.Set("Cookie", cookie)
		req.Header.Set("Origin", origin)
		req.Header.Set("Accept-Language", lang)
		req.Header.SetContentType("application/x-www-form-urlencoded")
		req.SetBodyString(body)
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, nil)
		reached.Store(false)
		srv.Handle(&ctx)
		if reached.Load() {
			t.Fatalf("a request without a session reached a mounted handler")
		}
		signedIn := false
		for _, v := range ctx.Response.Header.Cookies() {
			var c fasthttp.Cookie
			c.ParseBytes(v)
			if len(c.Value()) > 0 {
				signedIn = true
			}
		}
		form := ctx.PostArgs()
		if signedIn && (string(form.Peek("password")) != testPasswords["alice"] || !strings.EqualFold(string(form.Peek("name")), "alice")) {
			t.Fatalf("signed in with %q", body)
		}
		if loc := string(ctx.Response.Header.Peek("Location")); loc != "" && (!strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//")) {
			t.Fatalf("redirect to %q", loc)
		}
		if lang := pickLanguage([]byte(lang)); languages[lang] == nil {
			t.Fatalf("pickLanguage chose %q", lang)
		}
	})
}
