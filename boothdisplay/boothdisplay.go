// Package boothdisplay serves the booth display of a booth code generator:
// a kiosk page, meant for a browser on the generator itself, that shows the
// booth code of the current step in very large digits, the station's name,
// and a warning in the last seconds of the step (PROTOCOL.md section 4).
//
// The server holds the campaign's TOTP seed, already unwrapped by the
// caller, and computes each code on request from its clock. The page only
// displays what /code returns, so the seed never reaches the browser.
package boothdisplay

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/powvote/powvote/internal/localpage"
	"github.com/powvote/powvote/totp"
	"github.com/powvote/powvote/web/booth"
)

// Config is what a booth display needs.
type Config struct {
	// Station is the voting station's name as in the deployment map; the
	// page shows it so that voters and observers can tell which generator
	// they are looking at.
	Station string
	// Seed is the campaign's TOTP seed, [totp.SeedSize] bytes.
	Seed []byte
	// Clock returns the current time; nil means time.Now. Tests set it.
	Clock func() time.Time
	// Logger receives errors; nil discards them.
	Logger *slog.Logger
}

// Server is a booth display. Create it with [New]; it is safe for
// concurrent use.
type Server struct {
	station string
	seed    []byte
	clock   func() time.Time
	log     *slog.Logger
	assets  map[string]asset
}

// asset is a static file of the page, read once at start.
type asset struct {
	contentType string
	body        []byte
}

// contentSecurityPolicy allows the page its own script, style and /code and
// nothing else: no inline code, no frames, no forms, no other origin. A
// display that only shows a number has no use for more, and anything more
// would be a way to exfiltrate the code.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// pages maps the paths the display serves to its embedded files.
var pages = map[string]struct{ file, contentType string }{
	"/":          {"index.html", "text/html; charset=utf-8"},
	"/booth.js":  {"booth.js", "text/javascript; charset=utf-8"},
	"/booth.css": {"booth.css", "text/css; charset=utf-8"},
}

// New checks cfg and returns a display for it.
func New(cfg Config) (*Server, error) {
	if strings.TrimSpace(cfg.Station) == "" {
		return nil, errors.New("boothdisplay: no station name")
	}
	if len(cfg.Seed) != totp.SeedSize {
		return nil, fmt.Errorf("boothdisplay: seed is %d bytes, want %d", len(cfg.Seed), totp.SeedSize)
	}
	s := &Server{
		station: cfg.Station,
		// A copy, so that a caller wiping its buffer cannot change the
		// codes shown, and vice versa.
		seed:   append([]byte(nil), cfg.Seed...),
		clock:  cfg.Clock,
		log:    cfg.Logger,
		assets: make(map[string]asset, len(pages)),
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	for path, p := range pages {
		b, err := fs.ReadFile(booth.FS, p.file)
		if err != nil {
			// Unreachable unless the embed list and pages disagree.
			return nil, fmt.Errorf("boothdisplay: %w", err)
		}
		s.assets[path] = asset{p.contentType, b}
	}
	return s, nil
}

// Code is the JSON body of /code: the booth code of the current step and
// how long it remains valid.
type Code struct {
	// Code is the 7 characters a voter types: check character, then the 6
	// digits ("6263917").
	Code string `json:"code"`
	// Display is Code spaced for reading ("6 263 917").
	Display string `json:"display"`
	// Check is the check character alone: the sum of the digits mod 11.
	Check string `json:"check"`
	// Remaining is the whole seconds left in the step, rounded up, in
	// 1..Step: what a countdown shows.
	Remaining int `json:"remaining"`
	// RemainingMS is the time left in milliseconds, rounded up, so that the
	// page can poll in step with the generator's clock, not its own.
	RemainingMS int64 `json:"remaining_ms"`
	// Warn is set in the last [totp.WarnBefore] of the step, when a voter
	// should wait for the next code rather than start typing this one.
	Warn bool `json:"warn"`
	// Station is the station's name.
	Station string `json:"station"`
	// Step is the TOTP step in seconds.
	Step int `json:"step"`
}

// Current returns the booth code at t.
func (s *Server) Current(t time.Time) (Code, error) {
	code, err := totp.BoothCode(s.seed, t)
	if err != nil {
		return Code{}, err
	}
	left := totp.Remaining(t)
	return Code{
		Code:        code,
		Display:     totp.FormatBooth(code),
		Check:       code[:1],
		Remaining:   int((left + time.Second - 1) / time.Second),
		RemainingMS: int64((left + time.Millisecond - 1) / time.Millisecond),
		Warn:        totp.Warn(t),
		Station:     s.station,
		Step:        int(totp.Step / time.Second),
	}, nil
}

// Handler returns the display's HTTP handler: the page at /, its script
// and style sheet, and the current code at /code.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	localpage.SetHeaders(h, contentSecurityPolicy)
	// Any IP address will do: a booth's browser may open the display
	// from another machine of the booth; a name in Host is refused.
	if !localpage.HostAllowed(r.Host, false) {
		http.Error(w, "booth display: address the display by IP address or localhost", http.StatusMisdirectedRequest)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == "/code" {
		s.serveCode(w)
		return
	}
	a, ok := s.assets[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h.Set("Content-Type", a.contentType)
	// The page changes only with the binary; no-cache still lets a
	// restarted kiosk browser revalidate instead of showing an old page.
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Length", fmt.Sprint(len(a.body)))
	w.Write(a.body)
}

func (s *Server) serveCode(w http.ResponseWriter) {
	h := w.Header()
	// A cached code is a wrong code half a minute later.
	h.Set("Cache-Control", "no-store")
	c, err := s.Current(s.clock())
	if err != nil {
		s.log.Error("booth code", "err", err)
		http.Error(w, "booth display: no code for the generator's clock", http.StatusInternalServerError)
		return
	}
	b, err := json.Marshal(c)
	if err != nil {
		s.log.Error("booth code", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", fmt.Sprint(len(b)+1))
	w.Write(append(b, '\n'))
}
