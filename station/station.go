// Package station serves the station desk: a page, for a browser on the
// station's own machine, on which staff issue a fresh mandate for each
// voter and print its card.
//
// The server holds the election authority's private key, which never
// reaches the page or the platform. Each mandate is appended to an issued
// file and synced before its card is shown, so that a card handed out is
// never missing from the desk's record. The issuing endpoint answers only
// the page itself: a POST with the secret of this start, sent in a header
// no other site can set, on a loopback Host.
package station

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/powvote/powvote/internal/localpage"
	"github.com/powvote/powvote/mandate"
	"github.com/powvote/powvote/web"
	stationweb "github.com/powvote/powvote/web/station"
)

// Config is what a station desk needs.
type Config struct {
	// Key is the authority's private key that signs the mandates.
	Key ed25519.PrivateKey
	// Dir is the output directory; the desk appends to Dir/[IssuedFile].
	Dir string
	// Station names the voting station on the page; it may be empty.
	Station string
	// Rand is the source of auth-ids; nil means crypto/rand.
	Rand io.Reader
	// Logger receives errors and warnings, never a token; nil discards.
	Logger *slog.Logger
}

// TokenHeader is the request header that carries the desk's secret of this
// start on POST /issue. A page on another site can neither read the secret
// nor send a custom header here without a CORS preflight, which the desk
// never grants.
const TokenHeader = "X-Station-Token"

// tokenPlaceholder is replaced, in index.html, by the secret of this
// start; the page reads it from its meta element.
const tokenPlaceholder = "__STATION_TOKEN__"

// MaxBody is the largest request body the desk reads. POST /issue takes
// no body at all; the limit only keeps a client from making the desk read
// without end.
const MaxBody = 1024

// qrSize is the side in pixels of the QR image on the page: 4 pixels a
// module (69 with the quiet zone), as on the print sheet of
// `powvote mandates`, scaled up without smoothing by the style sheet.
const qrSize = 4 * 69

// contentSecurityPolicy allows the page its own script, style and requests
// and the QR image, which arrives as a data: URI inside the answer that
// issued it: no other origin, no inline code, no frames, no forms.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// pages maps the static paths of the desk to their files: the desk's own
// and the language helper the voter app and the check page share.
var pages = map[string]struct {
	fsys        fs.FS
	file        string
	contentType string
}{
	"/station.js":   {stationweb.FS, "station.js", "text/javascript; charset=utf-8"},
	"/station.css":  {stationweb.FS, "station.css", "text/css; charset=utf-8"},
	"/i18n/en.json": {stationweb.FS, "i18n/en.json", "application/json"},
	"/i18n/de.json": {stationweb.FS, "i18n/de.json", "application/json"},
	"/i18n/pl.json": {stationweb.FS, "i18n/pl.json", "application/json"},
	"/lang.js":      {web.FS, "voter/lang.js", "text/javascript; charset=utf-8"},
	"/":             {stationweb.FS, "index.html", "text/html; charset=utf-8"},
}

// Server is a station desk. Create it with [New] and Close it when done;
// it is safe for concurrent use.
type Server struct {
	key       ed25519.PrivateKey
	authority string
	station   string
	rand      io.Reader
	log       *slog.Logger
	secret    []byte // the secret of this start, in hex as the page sends it
	assets    map[string]asset

	mu      sync.Mutex
	issued  *issuedLog
	session int   // mandates issued since New
	broken  error // set when the issued file may not hold what it should
}

// asset is a static file of the page, read once at start.
type asset struct {
	contentType string
	body        []byte
}

// New opens the issued file in cfg.Dir and returns a desk for cfg.
func New(cfg Config) (*Server, error) {
	if len(cfg.Key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("station: authority key is %d bytes, want %d", len(cfg.Key), ed25519.PrivateKeySize)
	}
	if cfg.Dir == "" {
		return nil, errors.New("station: no output directory")
	}
	if strings.ContainsAny(cfg.Station, "\x00\r\n") {
		return nil, errors.New("station: station name has a line break or NUL")
	}
	s := &Server{
		key:       cfg.Key,
		authority: base64.StdEncoding.EncodeToString(cfg.Key.Public().(ed25519.PublicKey)),
		station:   strings.TrimSpace(cfg.Station),
		rand:      cfg.Rand,
		log:       cfg.Logger,
		assets:    make(map[string]asset),
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var raw [32]byte
	if _, err := io.ReadFull(rand.Reader, raw[:]); err != nil {
		return nil, fmt.Errorf("station: making the page secret: %w", err)
	}
	s.secret = []byte(hex.EncodeToString(raw[:]))
	for path, p := range pages {
		b, err := fs.ReadFile(p.fsys, p.file)
		if err != nil {
			// Unreachable unless the embed lists and pages disagree.
			return nil, fmt.Errorf("station: %w", err)
		}
		if path == "/" {
			if bytes.Count(b, []byte(tokenPlaceholder)) != 1 {
				return nil, errors.New("station: index.html lacks its secret's place")
			}
			b = bytes.Replace(b, []byte(tokenPlaceholder), s.secret, 1)
		}
		s.assets[path] = asset{p.contentType, b}
	}
	l, err := openIssued(cfg.Dir, cfg.Key.Public().(ed25519.PublicKey), s.log)
	if err != nil {
		return nil, err
	}
	s.issued = l
	return s, nil
}

// Path returns the issued file's path.
func (s *Server) Path() string { return s.issued.path }

// Counts returns the number of mandates in the issued file and the number
// this desk issued since it started.
func (s *Server) Counts() (total, session int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued.lines, s.session
}

// Close releases the issued file. Issuing afterwards fails.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken == nil {
		s.broken = errors.New("station: the desk is closed")
	}
	return s.issued.close()
}

// Issue signs a fresh mandate and returns it once its token is durable in
// the issued file.
func (s *Server) Issue() (mandate.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken != nil {
		return mandate.Token{}, s.broken
	}
	t, err := mandate.Issue(s.key, s.rand)
	if err != nil {
		return mandate.Token{}, err
	}
	if err := s.issued.add(t); err != nil {
		// After a failed write or sync, the file's contents on disk
		// are unknown; issuing on could hand out cards it does not
		// list. A restart checks the file again.
		s.broken = fmt.Errorf("%w; the desk issues nothing more until it is restarted", err)
		return mandate.Token{}, err
	}
	s.session++
	return t, nil
}

// Status is the JSON body of GET /status.
type Status struct {
	// Station is the station's name, possibly empty.
	Station string `json:"station"`
	// Authority is the public key of the authority key, base64.
	Authority string `json:"authority"`
	// Issued is the number of mandates in the issued file.
	Issued int `json:"issued"`
	// Session is the number issued since the desk started.
	Session int `json:"session"`
	// Ready is false once the desk refuses to issue (see Error).
	Ready bool `json:"ready"`
	// Error says why the desk refuses to issue.
	Error string `json:"error,omitempty"`
}

// Card is the JSON body of POST /issue: a new mandate's card as the print
// sheet of `powvote mandates` shows it, and the counts after it.
type Card struct {
	// QR is the QR code, a PNG image as a data: URI.
	QR string `json:"qr"`
	// Lines are the 12 card lines, "Q0C1 E147 7AZR YM3Q N".
	Lines [mandate.CardLines]string `json:"lines"`
	// Needle is the lookup needle.
	Needle string `json:"needle"`
	// CardID is the card id.
	CardID  string `json:"card_id"`
	Issued  int    `json:"issued"`
	Session int    `json:"session"`
}

// Handler returns the desk's HTTP handler: the page at /, its files, the
// counts at GET /status and a new mandate at POST /issue.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	localpage.SetHeaders(h, contentSecurityPolicy)
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if !localpage.HostAllowed(r.Host, true) {
		http.Error(w, "station desk: open the desk at its loopback address (127.0.0.1 or localhost)", http.StatusMisdirectedRequest)
		return
	}
	if r.ContentLength > MaxBody {
		http.Error(w, "station desk: request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	if r.URL.Path == "/issue" {
		if r.Method != http.MethodPost {
			h.Set("Allow", "POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		s.serveIssue(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch r.URL.Path {
	case "/status":
		s.serveStatus(w)
		return
	case "/favicon.ico":
		w.WriteHeader(http.StatusNoContent)
		return
	}
	a, ok := s.assets[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h.Set("Content-Type", a.contentType)
	if r.URL.Path == "/" {
		// The page carries the secret that lets it issue mandates:
		// nothing of it may stay in a cache on the desk's disk.
		h.Set("Cache-Control", "no-store")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	h.Set("Content-Length", fmt.Sprint(len(a.body)))
	w.Write(a.body)
}

func (s *Server) serveStatus(w http.ResponseWriter) {
	s.mu.Lock()
	st := Status{Station: s.station, Authority: s.authority, Issued: s.issued.lines, Session: s.session, Ready: s.broken == nil}
	if s.broken != nil {
		st.Error = s.broken.Error()
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) serveIssue(w http.ResponseWriter, r *http.Request) {
	if why := s.crossSite(r); why != "" {
		http.Error(w, "station desk: "+why, http.StatusForbidden)
		return
	}
	// A body is not expected; one sent without a length must still end
	// within the limit.
	if _, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, MaxBody)); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "station desk: request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "station desk: reading the request failed", http.StatusBadRequest)
		return
	}
	t, err := s.Issue()
	if err != nil {
		s.log.Error("issuing a mandate", "err", err)
		http.Error(w, "station desk: no mandate issued: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	// From here on the mandate is in the issued file: a failure to show
	// it leaves it unused, which is safe.
	png, err := t.QRPNG(qrSize)
	if err != nil {
		s.log.Error("drawing a QR code", "err", err)
		http.Error(w, "station desk: the card could not be drawn; issue another", http.StatusInternalServerError)
		return
	}
	total, session := s.Counts()
	writeJSON(w, http.StatusOK, Card{
		QR:      "data:image/png;base64," + base64.StdEncoding.EncodeToString(png),
		Lines:   t.Card(),
		Needle:  t.Needle(),
		CardID:  t.CardID(),
		Issued:  total,
		Session: session,
	})
}

// crossSite returns why r may not come from the desk's own page, or "" if
// it does: it must carry the secret of this start in TokenHeader, and what
// the browser says about its origin must be this origin.
func (s *Server) crossSite(r *http.Request) string {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return "request from another site (Sec-Fetch-Site: " + site + ")"
	}
	if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
		return "request from another origin"
	}
	got := []byte(r.Header.Get(TokenHeader))
	if subtle.ConstantTimeCompare(got, s.secret) != 1 {
		return "missing or wrong " + TokenHeader + " (reload the page)"
	}
	return ""
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	// A card is a voting credential, and the counts change with every
	// card: neither may come from a cache.
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", fmt.Sprint(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// LoopbackListen reports whether addr (host:port, as for net.Listen) names
// only loopback addresses: anyone who can open the page can issue
// mandates, so the desk must not be reachable from the network.
func LoopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	// A page on another site could otherwise point its own name at the
	// desk (DNS rebinding) and issue mandates from a browser on it.
	return localpage.HostAllowed(host, true)
}
