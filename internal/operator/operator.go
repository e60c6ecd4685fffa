// Package operator serves a process's operator endpoints on a listener of
// their own, apart from the public and internal servers, for the
// operator's monitoring and nobody else:
//
//   - GET /metrics: the process's metrics in the Prometheus text format,
//     written by github.com/VictoriaMetrics/metrics from the process's one
//     *metrics.Set, followed by the Go runtime's and the process's own
//     (go_*, process_*);
//   - GET /health: 200 "ok" while the process runs (liveness);
//   - GET /ready: 200 "ready" once every component of the process has
//     caught up and serves, otherwise 503 with one line saying what is not
//     ready, such as "collector 1 of solar: catching up from its twin".
//
// HEAD is answered like GET, any other method 405; every answer is
// text/plain. These three are for scrapers and probes: they ask for no
// sign-in, and nothing else answers them.
//
// Every other path goes to Config.App when it is set: the back office
// (package backoffice), which signs its users in itself. Without it, any
// other path is answered 404. The App's sessions and forms need larger
// limits than a scraper: with an App the server reads up to 8 KiB of
// request line and headers (cookies) and 8 KiB of body (a login, an
// action's form), against 2 KiB and 1 KiB without one; timeouts and the
// connection limit are the same, but for the App's paths under
// Config.LongWrites (the auditors' downloads), whose answers may take
// Config.LongWriteTimeout (30 minutes) rather than 10 s to be written.
//
// The listener should be on loopback or a private network: the metrics
// tell how many votes arrive and how many wrong booth codes are tried
// (docs/OPERATIONS.md). Run warns, once, when it is neither, and serves
// all the same.
package operator

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/powvote/powvote/internal/publictls"
	"github.com/valyala/fasthttp"
)

// Config is what an operator server needs. Zero values mean the defaults
// named on each field.
type Config struct {
	// Metrics is the process's set of metrics, written at /metrics; nil:
	// only the Go runtime's and the process's.
	Metrics *metrics.Set
	// Ready reports whether the process is ready: nil when it is, an error
	// whose text says what is not otherwise (one line; Readiness.Check).
	// Nil: always ready.
	Ready func() error
	// Logger gets the warning about an exposed address and serving errors;
	// nil: discard.
	Logger *slog.Logger
	// TLS, when not nil, has Run serve HTTPS with it (package publictls);
	// nil: plain HTTP, for a loopback or private address.
	TLS *tls.Config
	// App answers every path but /metrics, /health and /ready: the back
	// office. Nil: those paths are answered 404.
	App fasthttp.RequestHandler

	ReadTimeout  time.Duration // whole request; default 5s
	WriteTimeout time.Duration // whole answer; default 10s
	// LongWrites are path prefixes of the App ("/downloads/") whose
	// answers get LongWriteTimeout to be written instead of WriteTimeout:
	// a campaign's archive can take minutes to a distant client. Only
	// the App's large answers take longer, and it gives them to signed-in
	// accounts only. Nil: none.
	LongWrites       []string
	LongWriteTimeout time.Duration // default 30m, the publisher's
}

// Limits of the server: the endpoints take no body, a scraper's request
// line and headers take some hundreds of bytes, and a scraper or two and
// an operator's curl are all that should ever connect. An App (the back
// office) gets room for a session cookie and a small form, and a few
// operators' browsers.
const (
	maxHeaderBytes    = 2 << 10
	maxBody           = 1 << 10
	maxAppHeaderBytes = 8 << 10
	maxAppBody        = 8 << 10
	maxConns          = 64
	// shutdownBudget bounds the wait for answers in flight when Run's
	// context ends.
	shutdownBudget = 5 * time.Second
)

// Server serves the operator endpoints. Its fields are set by New and
// never change.
type Server struct {
	cfg Config
	log *slog.Logger
	srv *fasthttp.Server
}

// New makes an operator server; it does not listen yet.
func New(cfg Config) *Server {
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = 5 * time.Second
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.LongWriteTimeout == 0 {
		cfg.LongWriteTimeout = 30 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: cfg.Logger}
	headers, body := maxHeaderBytes, maxBody
	if cfg.App != nil {
		headers, body = maxAppHeaderBytes, maxAppBody
	}
	s.srv = &fasthttp.Server{
		Handler:            s.Handle,
		Name:               "powvote-operator",
		ReadTimeout:        cfg.ReadTimeout,
		WriteTimeout:       cfg.WriteTimeout,
		IdleTimeout:        time.Minute,
		ReadBufferSize:     headers,
		MaxRequestBodySize: body,
		Concurrency:        maxConns,
		CloseOnShutdown:    true,
		// Nothing here takes a multipart form: never parse one.
		DisablePreParseMultipartForm: true,
		Logger:                       slogPrinter{cfg.Logger},
	}
	if cfg.App != nil && len(cfg.LongWrites) > 0 {
		s.srv.HeaderReceived = s.requestConfig
	}
	return s
}

// requestConfig gives the requests for a path under Config.LongWrites
// their longer write timeout. A path spelled otherwise (percent-encoded,
// absolute URI) keeps WriteTimeout, which is only shorter.
func (s *Server) requestConfig(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	uri := h.RequestURI()
	for _, p := range s.cfg.LongWrites {
		if bytes.HasPrefix(uri, []byte(p)) {
			return fasthttp.RequestConfig{WriteTimeout: s.cfg.LongWriteTimeout}
		}
	}
	return fasthttp.RequestConfig{}
}

// Handle answers one request.
func (s *Server) Handle(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	scrape := path == "/metrics" || path == "/health" || path == "/ready"
	if !scrape && s.cfg.App != nil {
		s.cfg.App(ctx)
		return
	}
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.Response.Header.Set("Allow", "GET, HEAD")
		text(ctx, fasthttp.StatusMethodNotAllowed, "GET or HEAD only\n")
		return
	}
	switch path {
	case "/metrics":
		ctx.SetStatusCode(fasthttp.StatusOK)
		// The version of the text format Prometheus asks for by default.
		ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
		s.WriteMetrics(ctx)
	case "/health":
		text(ctx, fasthttp.StatusOK, "ok\n")
	case "/ready":
		if err := s.ready(); err != nil {
			text(ctx, fasthttp.StatusServiceUnavailable, oneLine(err.Error())+"\n")
			return
		}
		text(ctx, fasthttp.StatusOK, "ready\n")
	default:
		text(ctx, fasthttp.StatusNotFound, "not found: /metrics, /health and /ready are served here\n")
	}
}

// WriteMetrics writes what /metrics answers to w.
func (s *Server) WriteMetrics(w io.Writer) {
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.WritePrometheus(w)
	}
	metrics.WriteProcessMetrics(w)
}

func (s *Server) ready() error {
	if s.cfg.Ready == nil {
		return nil
	}
	return s.cfg.Ready()
}

func text(ctx *fasthttp.RequestCtx, status int, body string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyString(body)
}

// oneLine keeps the first line of s: /ready answers one.
func oneLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' || s[i] == '\r' {
			return s[:i]
		}
	}
	return s
}

// Run serves on ln until ctx is done, then shuts down gracefully (answers
// in flight get shutdownBudget) and returns. It warns first when ln is on
// an address that may face the Internet (Exposed).
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	if Exposed(ln.Addr()) {
		s.log.Warn("operator endpoints (metrics, health, readiness, back office) on an address that is neither loopback nor private: keep it off the Internet", "addr", ln.Addr().String())
	}
	served := ln
	if s.cfg.TLS != nil {
		served = publictls.Listen(ln, s.cfg.TLS)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(served) }()
	select {
	case err := <-errc:
		return fmt.Errorf("operator: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownBudget)
	defer cancel()
	err := s.srv.ShutdownWithContext(sctx)
	// Shutdown does nothing to a Serve that has not registered ln yet;
	// closing ln ends that one too.
	ln.Close()
	if serr := <-errc; serr != nil && err == nil && !errors.Is(serr, net.ErrClosed) {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("operator: shutdown: %w", err)
	}
	return nil
}

// Exposed reports whether a listener's address may be reached from the
// Internet: anything but a loopback, private (RFC 1918, RFC 4193) or
// link-local address, the unspecified address (every interface) included.
func Exposed(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return true
	}
	ip, ok := netip.AddrFromSlice(tcp.IP)
	if !ok {
		return true
	}
	ip = ip.Unmap()
	return !ip.IsLoopback() && !ip.IsPrivate() && !ip.IsLinkLocalUnicast()
}

// Readiness gathers the readiness checks of a process's components. Safe
// for concurrent use: a process adds the checks of its components as it
// starts them, while /ready is already served.
type Readiness struct {
	mu     sync.Mutex
	checks []func() error
}

// Add adds checks, each nil when its component is ready and an error
// saying what is not otherwise.
func (r *Readiness) Add(checks ...func() error) {
	r.mu.Lock()
	r.checks = append(r.checks, checks...)
	r.mu.Unlock()
}

// Check runs the checks in the order added and returns the first error:
// nil when every component is ready.
func (r *Readiness) Check() error {
	r.mu.Lock()
	checks := r.checks
	r.mu.Unlock()
	for _, c := range checks {
		if err := c(); err != nil {
			return err
		}
	}
	return nil
}

// slogPrinter routes fasthttp's own messages to the structured logger.
type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Printf(format string, args ...any) {
	p.l.Warn("fasthttp", "msg", fmt.Sprintf(format, args...))
}
