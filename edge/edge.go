// Package edge is the public face of the platform: the only server voters'
// software and the Internet talk to. It chooses the campaign by the first
// label of the Host header, answers the ballot (/list) from memory and
// refuses any path or method it does not serve with 400 and an empty body
// (PROTOCOL.md 5).
package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/wire"
)

// Config is what an edge needs. Zero durations and sizes mean the defaults
// named on each field.
type Config struct {
	Campaigns []*campaign.Settings // at least one; names must differ
	Logger    *slog.Logger         // nil means discard

	ReadTimeout    time.Duration // whole request incl. headers; default 10s
	WriteTimeout   time.Duration // default 10s
	IdleTimeout    time.Duration // keep-alive idle; default 60s
	MaxHeaderBytes int           // request line and headers; default 8 KiB
	MaxConns       int           // concurrent connections; default 10000
	MaxConnsPerIP  int           // default 0: no per-IP limit (many voters share a NAT)
}

func (c *Config) withDefaults() {
	if c.ReadTimeout == 0 {
		c.ReadTimeout = 10 * time.Second
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 60 * time.Second
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = 8 << 10
	}
	if c.MaxConns == 0 {
		c.MaxConns = 10000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// site is what the edge serves for one campaign; built once, read-only.
type site struct {
	settings *campaign.Settings
	listHdr  [][2]string // Say01.. headers and Cache-Control, ready to send
}

// Server is an edge process. Its fields are set by New and never change.
type Server struct {
	cfg    Config
	sites  map[string]*site
	single *site // set when one campaign is served: any Host reaches it
	srv    *fasthttp.Server
}

// New checks cfg and builds the server.
func New(cfg Config) (*Server, error) {
	cfg.withDefaults()
	if len(cfg.Campaigns) == 0 {
		return nil, errors.New("edge: no campaign to serve")
	}
	s := &Server{cfg: cfg, sites: make(map[string]*site)}
	for _, c := range cfg.Campaigns {
		if err := c.Validate(); err != nil {
			return nil, fmt.Errorf("edge: %w", err)
		}
		if _, dup := s.sites[c.Name]; dup {
			return nil, fmt.Errorf("edge: campaign %q given twice", c.Name)
		}
		st := &site{settings: c}
		for i, o := range c.Options {
			st.listHdr = append(st.listHdr, [2]string{fmt.Sprintf("Say%02d", i+1), wire.EncodeOption(o)})
		}
		st.listHdr = append(st.listHdr, [2]string{"Cache-Control", "max-age=" + strconv.Itoa(int(c.CacheMaxAge().Seconds()))})
		s.sites[c.Name] = st
	}
	if len(cfg.Campaigns) == 1 {
		s.single = s.sites[cfg.Campaigns[0].Name]
	}
	s.srv = &fasthttp.Server{
		Handler:            s.Handle,
		Name:               "powvote",
		ReadTimeout:        cfg.ReadTimeout,
		WriteTimeout:       cfg.WriteTimeout,
		IdleTimeout:        cfg.IdleTimeout,
		ReadBufferSize:     cfg.MaxHeaderBytes,
		MaxRequestBodySize: 1 << 10, // no endpoint takes a body
		Concurrency:        cfg.MaxConns,
		MaxConnsPerIP:      cfg.MaxConnsPerIP,
		CloseOnShutdown:    true,
		Logger:             slogPrinter{cfg.Logger},
	}
	return s, nil
}

// Serve answers connections from ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(ln) }

// Shutdown stops accepting, lets requests in flight finish and returns when
// they have or when ctx is done.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.ShutdownWithContext(ctx) }

// siteFor picks the campaign by the first label of Host.
func (s *Server) siteFor(host []byte) *site {
	if s.single != nil {
		return s.single
	}
	h := string(host)
	if i := strings.IndexByte(h, '.'); i >= 0 {
		h = h[:i]
	} else if i := strings.IndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	return s.sites[strings.ToLower(h)]
}

// Handle is the request handler.
func (s *Server) Handle(ctx *fasthttp.RequestCtx) {
	st := s.siteFor(ctx.Host())
	if st == nil || !ctx.IsGet() {
		badRequest(ctx)
		return
	}
	switch string(ctx.Path()) {
	case "/list":
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		for _, h := range st.listHdr {
			ctx.Response.Header.Set(h[0], h[1])
		}
	default:
		badRequest(ctx)
	}
}

func badRequest(ctx *fasthttp.RequestCtx) {
	ctx.Response.Reset()
	ctx.SetStatusCode(fasthttp.StatusBadRequest)
}

// slogPrinter routes fasthttp's own messages to the structured logger.
type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Printf(format string, args ...any) {
	p.l.Warn("fasthttp", "msg", fmt.Sprintf(format, args...))
}
