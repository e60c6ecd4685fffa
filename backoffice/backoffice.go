// Package backoffice is the platform's back office: operator accounts with
// roles, their sign-in and sessions, the CSRF defences of every change,
// and the append-only log of what operators did. Its Server is the
// handler that the operator listener (package internal/operator) serves
// beside /metrics, /health and /ready; the organizer's dashboard, the
// auditors' downloads (package downloads) and the campaign actions are
// mounted on it (Server.Mount) and never see a request that has not
// signed in with the right role.
//
// # Accounts and roles
//
// The accounts live in the platform directory, in the file "operators"
// (AccountsFile), mode 0600, replaced atomically and durably at each
// change (powvote operator add|remove). One line per account:
//
//	# powvote operator accounts: NAME ROLE CREATED ARGON2ID-HASH (powvote operator add|list|remove)
//	alice operator 2026-05-01T09:30:00Z $argon2id$v=19$m=65536,t=3,p=2$SALT$KEY
//
// NAME is 1 to 32 of a-z, 0-9, '.', '_', '-', starting with a letter; ROLE
// one of the three below; CREATED a UTC time in RFC 3339; the hash is in
// the PHC string format, salt (16 bytes) and key (32 bytes) in unpadded
// base64. The file holds no password. A password is checked by deriving
// the key again with the stored parameters and comparing in constant
// time. Each role has fixed rights:
//
//	role      View  Act  Download
//	viewer     x
//	operator   x     x
//	auditor    x          x
//
// View reads the dashboard, the campaigns and the action log; Act adds,
// pauses, resumes, closes and archives campaigns; Download fetches
// archives and reports. A mount names the right its reads (GET, HEAD) and
// its writes (POST) need.
//
// # Sign-in and sessions
//
// GET /login shows a form (English, German or Polish by Accept-Language);
// POST /login with the fields name and password signs in. A wrong
// password and a name no account has get the same answer (401, the form
// again) after the same work: an unknown name is checked against a decoy
// hash of Config.Params. At most Config.MaxLogins checks run at once (an
// argon2id check holds 64 MiB); a login that finds no place within
// Config.LoginWait is answered 503 at once. After Lockout.Free failures in
// a row a name (whether an account has it or not) is locked out (429) for
// Lockout.First, doubling with each further failure up to Lockout.Max; so
// is a client address after Lockout.FreeAddress failures.
//
// A session is 32 random bytes in a cookie: "__Host-powvote_session" over
// HTTPS (Secure), "powvote_session" over plain HTTP on loopback; HttpOnly,
// SameSite=Strict, Path=/, no Max-Age (it ends with the browser). The
// server keeps the SHA-256 of each token, never the token. A session ends
// after Config.IdleTimeout without a request, Config.MaxAge after its
// sign-in, at POST /logout, and when its account is removed or its
// password changed. The role is the account's current one at each
// request.
//
// # Changes and CSRF
//
// GET and HEAD never change anything. Every POST, /logout included, must
// carry the session's CSRF token, in the form field "csrf" (CSRFField) or
// the header X-CSRF-Token (CSRFHeader), compared in constant time; and
// when the browser says where the request comes from, Sec-Fetch-Site must
// be same-origin and Origin this listener's own. POST /login needs the
// same origin checks (no token: there is no session yet). A refused POST
// is answered 403 before any mounted handler sees it.
//
// # Answers
//
// A request for a mount without a session: a browser's page load is sent
// to /login (303, then back to the page once signed in), anything else
// gets 401. A session without the right: 403. Every answer carries
// Content-Security-Policy (default-src 'self', frame-ancestors 'none'),
// X-Content-Type-Options: nosniff, Referrer-Policy: same-origin (not
// no-referrer, under which Chromium sends a form's POST with Origin: null,
// which the CSRF check must refuse) and Cache-Control: no-store. With no account at all, every path answers 404:
// the back office is off.
//
// Besides the mounts: GET / lists the mounts the session may read and
// signs out; GET /session tells the name, role, rights and CSRF token
// (JSON) for a page's scripts; GET /actions serves the last entries of the
// action log (JSON, ?n= up to MaxTail).
//
// # The action log
//
// "operator-actions.log" (LogFile) in the platform directory, mode 0600:
// one JSON object per line (Entry), written in one append and fsynced:
// every sign-in (with the name tried, never the password) and its
// outcome, every sign-out, every account change from the command line,
// every mounted POST a session was refused, and what mounted handlers
// record (Record). A sign-in that the log cannot hold is refused (503):
// no session acts without its author in the log.
package backoffice

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
)

// Names of the session cookie, of the form field and header that carry
// the CSRF token.
const (
	CookieTLS   = "__Host-powvote_session"
	CookiePlain = "powvote_session"
	CSRFField   = "csrf"
	CSRFHeader  = "X-CSRF-Token"
)

// Config is what a Server needs. Zero values mean the defaults named.
type Config struct {
	// Accounts are the accounts that may sign in; nil or none: the back
	// office is off (404) until SetAccounts gives some.
	Accounts *Accounts
	// Log is the action log; required.
	Log *Log
	// Secure says the listener serves HTTPS: the cookie is then
	// CookieTLS, Secure, and Origin must be https.
	Secure bool
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// IdleTimeout ends a session without requests for that long; default
	// 30 min.
	IdleTimeout time.Duration
	// MaxAge ends a session that long after its sign-in; default 12 h.
	MaxAge time.Duration
	// MaxLogins bounds the password checks that run at once; default 2.
	MaxLogins int
	// LoginWait is how long a login waits for a place among MaxLogins
	// before a 503; default 250 ms.
	LoginWait time.Duration
	// Params are the parameters of the decoy check of a name no account
	// has; zero: DefaultParams, those of new accounts. Keep them those of
	// the accounts, or the time of a failure tells which names exist.
	Params Params
	// Lockout is how failures lock out; zero fields: its defaults.
	Lockout Lockout
	// Logger gets what goes wrong on the server's side (an action log
	// that cannot be written); nil: discard.
	Logger *slog.Logger
	// Metrics gets powvote_backoffice_logins_total{outcome}; nil: a set
	// of the server's own.
	Metrics *metrics.Set
}

// Mount is a handler the Server serves to signed-in sessions.
type Mount struct {
	// Prefix selects the requests: their path starts with it. It starts
	// and ends with '/' ("/dashboard/"); the path without the last '/'
	// is redirected to it.
	Prefix string
	// Title names the mount on the home page; empty: not listed.
	Title string
	// Read is the right GET and HEAD need; it must not be zero.
	Read Right
	// Write is the right POST needs, beside the CSRF token; zero: POST
	// is answered 405.
	Write Right
	// Handler answers. It can ask Who, CSRFToken, and Record what it
	// did. It may set its own Content-Security-Policy.
	Handler fasthttp.RequestHandler
}

// reserved are the paths the Server answers itself, and those of the
// operator listener.
var reserved = []string{"/", "/login", "/logout", "/session", "/actions", "/backoffice.css", "/metrics", "/health", "/ready"}

// Server answers the back office's requests. Safe for concurrent use.
type Server struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	actions  *Log
	accounts atomic.Pointer[Accounts]
	sessions *sessions
	limit    *limiter
	logins   chan struct{} // a place per password check running
	decoy    Hash

	mountMu sync.RWMutex
	mounts  []Mount // guarded by mountMu

	counts map[string]*metrics.Counter // by outcome, fixed at New

	// onCheck, when set (tests), is called as a password check starts
	// (+1) and ends (-1).
	onCheck func(delta int)
}

// Login outcomes counted in powvote_backoffice_logins_total.
const (
	loginOK      = "ok"
	loginWrong   = "wrong"
	loginLocked  = "locked"
	loginBusy    = "busy"
	loginRefused = "refused" // cross-site or malformed
)

// New makes a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Log == nil {
		return nil, errors.New("backoffice: no action log")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 30 * time.Minute
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = 12 * time.Hour
	}
	if cfg.MaxLogins == 0 {
		cfg.MaxLogins = 2
	}
	if cfg.LoginWait == 0 {
		cfg.LoginWait = 250 * time.Millisecond
	}
	if cfg.Params == (Params{}) {
		cfg.Params = DefaultParams
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewSet()
	}
	if cfg.IdleTimeout < 0 || cfg.MaxAge < 0 || cfg.MaxLogins < 0 || cfg.LoginWait < 0 {
		return nil, errors.New("backoffice: negative IdleTimeout, MaxAge, MaxLogins or LoginWait")
	}
	decoy, err := NewHash("", cfg.Params)
	if err != nil {
		return nil, fmt.Errorf("backoffice: Params: %w", err)
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		now:      cfg.Now,
		actions:  cfg.Log,
		sessions: newSessions(),
		limit:    newLimiter(cfg.Lockout),
		logins:   make(chan struct{}, cfg.MaxLogins),
		decoy:    decoy,
		counts:   make(map[string]*metrics.Counter),
	}
	for _, o := range []string{loginOK, loginWrong, loginLocked, loginBusy, loginRefused} {
		s.counts[o] = cfg.Metrics.GetOrCreateCounter(`powvote_backoffice_logins_total{outcome="` + o + `"}`)
	}
	s.accounts.Store(cfg.Accounts)
	return s, nil
}

// SetAccounts replaces the accounts (a reload of the accounts file). The
// sessions of accounts removed, or whose password changed, end; a role
// that changed holds from the next request on.
func (s *Server) SetAccounts(as *Accounts) {
	s.accounts.Store(as)
	s.sessions.retain(func(ss *session) bool {
		a, ok := as.Lookup(ss.name)
		return ok && a.fingerprint() == ss.fp
	})
}

// Enabled reports whether any account may sign in.
func (s *Server) Enabled() bool { return s.accounts.Load().Len() > 0 }

// Log is the action log.
func (s *Server) Log() *Log { return s.actions }

// Mount adds a handler. It refuses a prefix that is not /.../, that
// overlaps another mount's or a path the Server answers itself, a zero
// Read right or a nil handler.
func (s *Server) Mount(m Mount) error {
	p := m.Prefix
	if len(p) < 3 || p[0] != '/' || p[len(p)-1] != '/' || strings.Contains(p, "//") || strings.ContainsAny(p, "?#%\\") {
		return fmt.Errorf("backoffice: mount %q: want a path such as /dashboard/", p)
	}
	if m.Read == 0 || m.Handler == nil {
		return fmt.Errorf("backoffice: mount %q: no Read right or no handler", p)
	}
	for _, r := range reserved {
		if r != "/" && (strings.HasPrefix(r+"/", p) || strings.HasPrefix(p, r+"/")) {
			return fmt.Errorf("backoffice: mount %q: overlaps %s", p, r)
		}
	}
	s.mountMu.Lock()
	defer s.mountMu.Unlock()
	for _, o := range s.mounts {
		if strings.HasPrefix(o.Prefix, p) || strings.HasPrefix(p, o.Prefix) {
			return fmt.Errorf("backoffice: mount %q: overlaps %q", p, o.Prefix)
		}
	}
	s.mounts = append(s.mounts, m)
	return nil
}

// mount finds the mount of path; exact says path is its prefix without
// the last '/'.
func (s *Server) mount(path string) (m Mount, exact, ok bool) {
	s.mountMu.RLock()
	defer s.mountMu.RUnlock()
	for _, m := range s.mounts {
		if strings.HasPrefix(path, m.Prefix) {
			return m, false, true
		}
		if path == m.Prefix[:len(m.Prefix)-1] {
			return m, true, true
		}
	}
	return Mount{}, false, false
}

// csp is the policy of every answer: this origin only, never in a frame,
// forms posted here only.
const csp = "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// Handle answers one request of the back office.
func (s *Server) Handle(ctx *fasthttp.RequestCtx) {
	h := &ctx.Response.Header
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	if !s.Enabled() {
		plain(ctx, fasthttp.StatusNotFound, "not found: no back office here (no operator account: powvote operator add)\n")
		return
	}
	path := string(ctx.Path())
	switch path {
	case "/login":
		s.handleLogin(ctx)
	case "/logout":
		s.serve(ctx, route{write: View}, s.handleLogout)
	case "/":
		s.serve(ctx, route{read: View}, s.handleHome)
	case "/session":
		s.serve(ctx, route{read: View}, s.handleSession)
	case "/actions":
		s.serve(ctx, route{read: View}, s.handleActions)
	case "/backoffice.css":
		if !ctx.IsGet() && !ctx.IsHead() {
			methodNotAllowed(ctx, "GET, HEAD")
			return
		}
		ctx.SetContentType("text/css; charset=utf-8")
		ctx.SetBody(css)
	default:
		m, exact, ok := s.mount(path)
		if !ok {
			plain(ctx, fasthttp.StatusNotFound, "not found\n")
			return
		}
		if exact {
			s.serve(ctx, route{read: m.Read}, func(ctx *fasthttp.RequestCtx) { redirect(ctx, m.Prefix) })
			return
		}
		s.serve(ctx, route{read: m.Read, write: m.Write}, m.Handler)
	}
}

// route is what a path's methods need: Read for GET and HEAD, Write for
// POST; a zero right refuses its methods (405).
type route struct{ read, write Right }

// reqKey holds a served request's *request among the ctx's user values.
const reqKey = "powvote.backoffice.request"

// request is what a handler behind serve may ask of its request.
type request struct {
	srv   *Server
	user  User
	csrf  string
	token []byte // the session's cookie
}

// User is the account a request is signed in with.
type User struct {
	Name string
	Role Role
}

// serve answers with h once the request is signed in with the rights rt
// asks for its method and, for a POST, has passed the CSRF checks.
func (s *Server) serve(ctx *fasthttp.RequestCtx, rt route, h fasthttp.RequestHandler) {
	var need Right
	switch {
	case ctx.IsGet() || ctx.IsHead():
		need = rt.read
	case ctx.IsPost():
		need = rt.write
	}
	if need == 0 {
		var allow []string
		if rt.read != 0 {
			allow = append(allow, "GET", "HEAD")
		}
		if rt.write != 0 {
			allow = append(allow, "POST")
		}
		methodNotAllowed(ctx, strings.Join(allow, ", "))
		return
	}
	tok, sess, account, ok := s.signedIn(ctx)
	if !ok {
		if ctx.IsGet() && wantsPage(ctx) {
			redirect(ctx, "/login?next="+url.QueryEscape(string(ctx.RequestURI())))
			return
		}
		plain(ctx, fasthttp.StatusUnauthorized, "sign in first: /login\n")
		return
	}
	user := User{Name: account.Name, Role: account.Role}
	if !user.Role.Can(need) {
		if ctx.IsPost() {
			s.record(ctx, user.Name, string(ctx.Path()), "", "refused: role "+user.Role.String()+" may not")
		}
		plain(ctx, fasthttp.StatusForbidden, "forbidden: the role "+user.Role.String()+" may not do this\n")
		return
	}
	if ctx.IsPost() {
		if why := s.checkCSRF(ctx, sess.csrf); why != "" {
			s.record(ctx, user.Name, string(ctx.Path()), "", "refused: "+why)
			plain(ctx, fasthttp.StatusForbidden, "forbidden: "+why+"\n")
			return
		}
	}
	ctx.SetUserValue(reqKey, &request{srv: s, user: user, csrf: sess.csrf, token: tok})
	h(ctx)
}

// signedIn finds the request's session. A session past its time, or
// whose account is gone or changed password, ends here, and its cookie is
// cleared.
func (s *Server) signedIn(ctx *fasthttp.RequestCtx) (tok []byte, sess session, a Account, ok bool) {
	tok = ctx.Request.Header.Cookie(s.cookieName())
	if !validToken(tok) {
		return nil, session{}, Account{}, false
	}
	tok = slices.Clone(tok)
	accounts := s.accounts.Load()
	sess, ok, ended := s.sessions.use(tok, s.now(), func(ss *session, now time.Time) bool {
		if !s.live(ss, now) {
			return false
		}
		acc, found := accounts.Lookup(ss.name)
		if !found || acc.fingerprint() != ss.fp {
			return false
		}
		a = acc
		return true
	})
	if ended {
		s.clearCookie(ctx)
	}
	return tok, sess, a, ok
}

// live reports whether a session is within its idle and absolute times.
func (s *Server) live(ss *session, now time.Time) bool {
	return now.Sub(ss.seen) < s.cfg.IdleTimeout && now.Sub(ss.created) < s.cfg.MaxAge
}

// checkCSRF says why a POST of a session whose token is want is refused;
// "" when it passes.
func (s *Server) checkCSRF(ctx *fasthttp.RequestCtx, want string) string {
	if why := s.crossSite(ctx); why != "" {
		return why
	}
	got := ctx.Request.Header.Peek(CSRFHeader)
	if len(got) == 0 {
		got = ctx.PostArgs().Peek(CSRFField)
	}
	if len(got) == 0 {
		return "no CSRF token"
	}
	if subtle.ConstantTimeCompare(got, []byte(want)) != 1 {
		return "wrong CSRF token"
	}
	return ""
}

// crossSite says why a POST comes from another site, by what the browser
// tells of it: Sec-Fetch-Site other than same-origin, or an Origin other
// than this listener's. "" when neither says so (or neither is sent: a
// client that is not a browser).
func (s *Server) crossSite(ctx *fasthttp.RequestCtx) string {
	if site := ctx.Request.Header.Peek("Sec-Fetch-Site"); len(site) > 0 && string(site) != "same-origin" {
		return "request from another site (Sec-Fetch-Site: " + clip(string(site)) + ")"
	}
	origin := ctx.Request.Header.Peek("Origin")
	if len(origin) == 0 {
		return ""
	}
	scheme := "http://"
	if s.cfg.Secure {
		scheme = "https://"
	}
	if !strings.EqualFold(string(origin), scheme+string(ctx.Host())) {
		return "request from another origin (Origin: " + clip(string(origin)) + ")"
	}
	return ""
}

// wantsPage reports whether a request is a browser loading a page, which
// is sent to /login, rather than a script or a client, which gets 401.
func wantsPage(ctx *fasthttp.RequestCtx) bool {
	if mode := ctx.Request.Header.Peek("Sec-Fetch-Mode"); len(mode) > 0 {
		return string(mode) == "navigate"
	}
	return strings.Contains(string(ctx.Request.Header.Peek("Accept")), "text/html")
}

func (s *Server) cookieName() string {
	if s.cfg.Secure {
		return CookieTLS
	}
	return CookiePlain
}

func (s *Server) setCookie(ctx *fasthttp.RequestCtx, value string, clear bool) {
	c := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(c)
	c.SetKey(s.cookieName())
	c.SetValue(value)
	c.SetPath("/")
	c.SetHTTPOnly(true)
	c.SetSecure(s.cfg.Secure)
	c.SetSameSite(fasthttp.CookieSameSiteStrictMode)
	if clear {
		c.SetMaxAge(-1)
	}
	ctx.Response.Header.SetCookie(c)
}

func (s *Server) clearCookie(ctx *fasthttp.RequestCtx) { s.setCookie(ctx, "", true) }

// record appends an entry of the request's action to the log; an error
// goes to the logger: what is recorded this way (a failure, a refusal, a
// sign-out) has happened or been refused already.
func (s *Server) record(ctx *fasthttp.RequestCtx, who, action, target, outcome string) {
	e := Entry{Time: s.now(), Who: who, Action: action, Target: target, Outcome: outcome, From: ctx.RemoteIP().String()}
	if err := s.actions.Append(e); err != nil {
		s.log.Error("back office: couldn't write the action log", "err", err, "who", who, "action", action)
	}
}

// Who returns the account a mounted handler's request is signed in with;
// ok false outside a mounted handler.
func Who(ctx *fasthttp.RequestCtx) (u User, ok bool) {
	r, ok := ctx.UserValue(reqKey).(*request)
	if !ok {
		return User{}, false
	}
	return r.user, true
}

// CSRFToken returns the token a page served by a mounted handler puts in
// its forms (field CSRFField) or its scripts' POSTs (header CSRFHeader);
// "" outside a mounted handler.
func CSRFToken(ctx *fasthttp.RequestCtx) string {
	if r, ok := ctx.UserValue(reqKey).(*request); ok {
		return r.csrf
	}
	return ""
}

// ErrNotServed is Record's error outside a mounted handler.
var ErrNotServed = errors.New("backoffice: not a request served by the back office")

// Record appends to the action log what a mounted handler did: the
// action ("pause"), its target ("solar") and its outcome, OutcomeOK when
// err is nil and err's text otherwise. The account and the client's
// address come from the request. Record the action once it is done or
// has failed; an error means the log could not be written, which the
// handler should tell its user (the sign-in itself is refused while the
// log cannot be written).
func Record(ctx *fasthttp.RequestCtx, action, target string, err error) error {
	r, ok := ctx.UserValue(reqKey).(*request)
	if !ok {
		return ErrNotServed
	}
	outcome := OutcomeOK
	if err != nil {
		outcome = err.Error()
	}
	return r.srv.actions.Append(Entry{Time: r.srv.now(), Who: r.user.Name, Action: action, Target: target, Outcome: outcome, From: ctx.RemoteIP().String()})
}

func plain(ctx *fasthttp.RequestCtx, status int, body string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyString(body)
}

// redirect sends the client to the path to with 303 See Other: a relative
// Location, right whatever scheme and host the client used.
func redirect(ctx *fasthttp.RequestCtx, to string) {
	ctx.Response.Header.Set("Location", to)
	ctx.SetStatusCode(fasthttp.StatusSeeOther)
}

func methodNotAllowed(ctx *fasthttp.RequestCtx, allow string) {
	ctx.Response.Header.Set("Allow", allow)
	plain(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed: "+allow+"\n")
}

func writeJSON(ctx *fasthttp.RequestCtx, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		plain(ctx, fasthttp.StatusInternalServerError, "internal error\n")
		return
	}
	ctx.SetContentType("application/json")
	ctx.SetBody(append(b, '\n'))
}

// handleHome lists what the session may read, and signs out.
func (s *Server) handleHome(ctx *fasthttp.RequestCtx) {
	r := ctx.UserValue(reqKey).(*request)
	lang := pickLanguage(ctx.Request.Header.Peek("Accept-Language"))
	p := page{Lang: lang, T: languages[lang], Name: r.user.Name, Role: r.user.Role.String(), CSRF: r.csrf}
	s.mountMu.RLock()
	for _, m := range s.mounts {
		if m.Title != "" && r.user.Role.Can(m.Read) {
			p.Links = append(p.Links, link{Href: m.Prefix, Title: m.Title})
		}
	}
	s.mountMu.RUnlock()
	p.Links = append(p.Links, link{Href: "/actions", Title: p.T.ActionLog})
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetBody(render("home", p))
}

// sessionInfo is what GET /session answers.
type sessionInfo struct {
	Name   string   `json:"name"`
	Role   string   `json:"role"`
	Rights []string `json:"rights"`
	CSRF   string   `json:"csrf"`
}

func (s *Server) handleSession(ctx *fasthttp.RequestCtx) {
	r := ctx.UserValue(reqKey).(*request)
	info := sessionInfo{Name: r.user.Name, Role: r.user.Role.String(), CSRF: r.csrf, Rights: []string{}}
	for _, x := range []struct {
		r    Right
		name string
	}{{View, "view"}, {Act, "act"}, {Download, "download"}} {
		if r.user.Role.Can(x.r) {
			info.Rights = append(info.Rights, x.name)
		}
	}
	writeJSON(ctx, info)
}

// handleActions serves the tail of the action log: {"actions": [...]},
// oldest first.
func (s *Server) handleActions(ctx *fasthttp.RequestCtx) {
	n := 100
	if v := ctx.QueryArgs().Peek("n"); len(v) > 0 {
		x, err := strconv.Atoi(string(v))
		if err != nil || x < 1 || x > MaxTail {
			plain(ctx, fasthttp.StatusBadRequest, fmt.Sprintf("n: want 1..%d\n", MaxTail))
			return
		}
		n = x
	}
	entries, err := s.actions.Tail(n)
	if err != nil {
		s.log.Error("back office: couldn't read the action log", "err", err)
		plain(ctx, fasthttp.StatusInternalServerError, "couldn't read the action log\n")
		return
	}
	if entries == nil {
		entries = []Entry{}
	}
	writeJSON(ctx, struct {
		Actions []Entry `json:"actions"`
	}{entries})
}

// handleLogout ends the session.
func (s *Server) handleLogout(ctx *fasthttp.RequestCtx) {
	r := ctx.UserValue(reqKey).(*request)
	s.sessions.end(r.token)
	s.clearCookie(ctx)
	s.record(ctx, r.user.Name, ActionLogout, "", OutcomeOK)
	redirect(ctx, "/login")
}

// handleLogin shows the form (GET) or signs in (POST).
func (s *Server) handleLogin(ctx *fasthttp.RequestCtx) {
	lang := pickLanguage(ctx.Request.Header.Peek("Accept-Language"))
	p := page{Lang: lang, T: languages[lang]}
	switch {
	case ctx.IsGet() || ctx.IsHead():
		p.Next = safeNext(ctx.QueryArgs().Peek("next"))
		if _, _, _, ok := s.signedIn(ctx); ok {
			redirect(ctx, p.Next)
			return
		}
		loginPage(ctx, fasthttp.StatusOK, p)
	case ctx.IsPost():
		s.login(ctx, p)
	default:
		methodNotAllowed(ctx, "GET, HEAD, POST")
	}
}

func loginPage(ctx *fasthttp.RequestCtx, status int, p page) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetBody(render("login", p))
}

// login checks a POST /login and signs in.
func (s *Server) login(ctx *fasthttp.RequestCtx, p page) {
	if why := s.crossSite(ctx); why != "" {
		s.counts[loginRefused].Inc()
		p.Message = p.T.CrossSite
		loginPage(ctx, fasthttp.StatusForbidden, p)
		return
	}
	form := ctx.PostArgs()
	p.Next = safeNext(form.Peek("next"))
	name := strings.ToLower(string(form.Peek("name")))
	password := string(form.Peek("password"))
	if name == "" || password == "" || len(name) > 4*maxNameLen || len(password) > MaxPasswordLen {
		s.counts[loginRefused].Inc()
		p.Message = p.T.Missing
		loginPage(ctx, fasthttp.StatusBadRequest, p)
		return
	}
	keys := []string{nameKey(name), addrKey(ctx.RemoteIP())}
	if wait := s.limit.locked(s.now(), keys...); wait > 0 {
		s.counts[loginLocked].Inc()
		ctx.Response.Header.Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		p.Message = p.T.Locked
		loginPage(ctx, fasthttp.StatusTooManyRequests, p)
		return
	}
	account, known := s.accounts.Load().Lookup(name)
	hash := s.decoy
	if known {
		hash = account.Hash
	}
	right, ok := s.check(hash, password)
	if !ok {
		s.counts[loginBusy].Inc()
		ctx.Response.Header.Set("Retry-After", "1")
		p.Message = p.T.Busy
		loginPage(ctx, fasthttp.StatusServiceUnavailable, p)
		return
	}
	who := name
	if CheckName(name) != nil {
		who = "(not an account name)"
	}
	if !known || !right {
		s.counts[loginWrong].Inc()
		outcome := "wrong password"
		if !known {
			outcome = "no such account"
		}
		if lock := s.limit.fail(s.now(), keys[0], keys[1]); lock > 0 {
			outcome += "; locked out for " + lock.String()
		}
		s.record(ctx, who, ActionLogin, "", outcome)
		p.Message = p.T.Wrong
		loginPage(ctx, fasthttp.StatusUnauthorized, p)
		return
	}
	s.limit.clear(keys...)
	// No session whose sign-in the log does not hold: what it does
	// would have no author there.
	if err := s.actions.Append(Entry{Time: s.now(), Who: who, Action: ActionLogin, Outcome: OutcomeOK, From: ctx.RemoteIP().String()}); err != nil {
		s.log.Error("back office: couldn't write the action log; sign-in refused", "err", err, "who", who)
		plain(ctx, fasthttp.StatusServiceUnavailable, "the action log cannot be written: no sign-in until it can (see the server's log)\n")
		return
	}
	if old := ctx.Request.Header.Cookie(s.cookieName()); validToken(old) {
		s.sessions.end(old) // a new session, never one a cookie planted
	}
	tok, _ := s.sessions.create(&account, s.now(), s.live)
	s.setCookie(ctx, tok, false)
	s.counts[loginOK].Inc()
	redirect(ctx, p.Next)
}

// check verifies password against h once a place among MaxLogins is
// free; ok false when none is within LoginWait.
func (s *Server) check(h Hash, password string) (right, ok bool) {
	t := time.NewTimer(s.cfg.LoginWait)
	defer t.Stop()
	select {
	case s.logins <- struct{}{}:
	case <-t.C:
		return false, false
	}
	defer func() { <-s.logins }()
	if s.onCheck != nil {
		s.onCheck(1)
		defer s.onCheck(-1)
	}
	return h.Verify(password), true
}

// safeNext returns where a login goes on to: next when it is a path of
// this listener, "/" otherwise (an absolute or scheme-relative URL would
// send a fresh session's browser elsewhere).
func safeNext(next []byte) string {
	n := string(next)
	if len(n) == 0 || len(n) > 1024 || n[0] != '/' || strings.HasPrefix(n, "//") || strings.HasPrefix(n, "/login") || strings.HasPrefix(n, "/logout") {
		return "/"
	}
	for i := 0; i < len(n); i++ {
		if n[i] < 0x21 || n[i] >= 0x7f || n[i] == '\\' {
			return "/"
		}
	}
	return n
}
