package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/edge"
	"github.com/powvote/powvote/internal/mtls"
	"github.com/powvote/powvote/web"
)

func init() {
	register(command{name: "edge", summary: "run the edge: the platform's public server", run: runEdge})
}

const edgeHelp = `
Runs the edge for every campaign of D (C alone with --campaign): the only
server voters reach. It picks the campaign of a request by the first label
of its Host (solar.vote.example.org is campaign solar; while it serves one
campaign, any Host reaches it) and a published file by its name. It answers
/list and /stamp, checks votes (proof of work, platform and voter stamps)
and routes each by its mandate to both collecting instances of its pair.
It serves the web apps (/ and /app/...) and, with --publisher, the
published lists, checkpoints and files of the campaign (/C-...), relayed
from the publisher's public server as they are.
Give one --pair per pair of collectors, in order: pair k is instances 2k and
2k+1, and the list must stay the same for the campaign's life. Every
campaign of D uses these pairs: a collector process serves instance N of
each campaign at one URL. SIGHUP starts serving the campaigns added to D
since (each checked first; one that fails is logged and changes nothing).

Before it listens, the edge reads the collectors' records of the votes whose
stamps are still live (up to 15 s; then in the background), and it keeps
reading them every second: a recorded vote sent again with a mandate of
another pair is refused with 481, and a vote whose voter stamp a recorded
vote carries with another nonce with 486.

Connections: at most --max-conns at once, and --max-conns-per-ip from one
IPv4 address or IPv6 /64 (512 by default, for voters behind large NATs).
From --idle-close-at percent of --max-conns on, a new connection closes
the longest-idle one, so that connections carrying no request cannot
fill the edge. Beyond the limits, 503 with an empty body. Behind a proxy
or TLS terminator every connection comes from its address: give
--max-conns-per-ip 0 and limit clients at the proxy.

The links to the collectors are TLS 1.3 with the edge's certificate from D
(powvote export --role edge): give https:// URLs. Each collector must show
a certificate of the campaign's CA for its instance. SIGHUP reloads the
edge's certificate.

Public TLS: with --tls-cert and --tls-key the edge serves HTTPS itself
(TLS 1.2 or later, HTTP/1.1 only) with a certificate chain and its key in
PEM files from any CA or ACME client. The edge picks the campaign by the
first label of Host, so the certificate must cover every campaign's host
name (a wildcard such as *.vote.example.org, or one name per campaign).
After a renewal, replace both files and send SIGHUP: new connections get
the new certificate, open ones keep theirs; a pair that does not load
keeps the old one (logged). A key that does not match its certificate
stops the start. The connection limits count TCP connections, below TLS;
beyond them a connection is closed at once, without the 503.

--metrics HOST:PORT serves the operator endpoints: GET /metrics
(Prometheus text), /health and /ready (docs/OPERATIONS.md), on a
loopback or private address; and the back office (/login) once D holds
operator accounts (powvote operator add; SIGHUP reloads them).

Example:
  powvote edge --dir /srv/powvote --listen 0.0.0.0:443 \
      --pair https://10.0.0.1:9100,https://10.0.0.2:9100 --publisher http://10.0.0.4:8443 \
      --allow-origin https://vote.example.org \
      --tls-cert /etc/powvote/tls/fullchain.pem --tls-key /etc/powvote/tls/privkey.pem
`

func runEdge(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "edge", "--dir D [--campaign C] --listen HOST:PORT --pair URL,URL...", edgeHelp)
	pf := addPublicFlags(fs, "address to listen on (required)", 10000)
	var origins stringList
	fs.Var(&origins, "allow-origin", "origin allowed by CORS, repeatable")
	pubURL := fs.String("publisher", "", "base URL of the publisher's public server, whose lists the edge serves (http(s)://HOST:PORT)")
	tf := addTLSFlags(fs)
	mf := addMetricsFlag(fs)
	if err := pf.parse(fs, args); err != nil {
		return err
	}
	if err := tf.load(); err != nil {
		return err
	}
	if err := mf.load(); err != nil {
		return err
	}
	logger, err := newLogger(e)
	if err != nil {
		return err
	}
	log := logger.With("component", "edge")
	var lists fasthttp.RequestHandler
	if *pubURL != "" {
		if lists, err = edge.ListsFrom(*pubURL); err != nil {
			return usagef("--publisher: %v", err)
		}
	} else {
		log.Warn("no --publisher: the edge serves no published lists; observers must reach the publisher itself")
	}
	// The campaigns of D at start go to New; those added later (SIGHUP)
	// to the running server.
	var srv *edge.Server
	var sites []edge.Campaign
	set := newCampaignSet(*pf.dir, *pf.name, campaign.RoleEdge, log, func(ctx context.Context, c *campaign.Campaign) error {
		link, err := internalLink(ctx, c, campaign.RoleEdge, mtls.AnyInstance, log.With("campaign", c.Settings.Name))
		if err != nil {
			return err
		}
		site := edge.CampaignFor(c, link, pf.urls, lists)
		if srv == nil {
			sites = append(sites, site)
			return nil
		}
		cctx, cancel := context.WithTimeout(ctx, catchUpTimeout)
		defer cancel()
		return srv.AddCampaign(cctx, site)
	})
	if err := set.open(ctx); err != nil {
		return err
	}
	cfg := edgeConfig(sites, log, pf.limits)
	cfg.AllowOrigins = origins
	cfg.TLS = tf.config(ctx, log)
	cfg.Metrics = metrics.NewSet()
	if srv, err = edge.New(cfg); err != nil {
		return err
	}
	if err := startOperator(ctx, mf, cfg.Metrics, srv.Ready, log, *pf.dir); err != nil {
		return err
	}
	settings := make([]*campaign.Settings, len(sites))
	relays := make([]fasthttp.RequestHandler, len(sites))
	for i, site := range sites {
		settings[i], relays[i] = site.Settings, site.Lists
	}
	if err := mf.startDashboard(ctx, cfg.Metrics, settingsCampaigns(settings, relays), log); err != nil {
		return err
	}
	catchUp(ctx, srv, log)
	ln, err := net.Listen("tcp", *pf.listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *pf.listen, err)
	}
	for _, s := range sites {
		fmt.Fprintf(e.Stdout, "edge for %s listening on %s\n", s.Settings.Name, ln.Addr())
	}
	set.watch(ctx)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return <-errc
}

// edgeConfig is the configuration of an edge serving sites, as powvote
// up and powvote edge both run it: the web apps, the connection limits,
// and a write timeout a whole list fits in.
func edgeConfig(sites []edge.Campaign, log *slog.Logger, limits *connLimits) edge.Config {
	cfg := edge.Config{
		Campaigns:    sites,
		Logger:       log,
		Static:       web.FS,
		WriteTimeout: listWriteTimeout,
	}
	cfg.MaxConns, cfg.MaxConnsPerIP, cfg.IdleCloseAt = limits.config()
	return cfg
}

// listWriteTimeout bounds the writing of one answer of the edge: the
// lists are served there too, and a whole list must fit.
const listWriteTimeout = 30 * time.Minute

// publicFlags are the flags of a public server of the platform, the edge
// or the publisher: D, the campaign, the address, the pairs in order and
// the connection limits.
type publicFlags struct {
	dir, name, listen *string
	pairs             stringList
	limits            *connLimits
	urls              [][2]string // the pairs, once parsed
}

func addPublicFlags(fs *flag.FlagSet, listenUsage string, maxConns int) *publicFlags {
	pf := &publicFlags{
		dir:    fs.String("dir", "", "directory that holds campaigns (required)"),
		name:   fs.String("campaign", "", "campaign (default: the only one in D)"),
		listen: fs.String("listen", "", listenUsage),
	}
	fs.Var(&pf.pairs, "pair", "the two collector URLs of a pair, comma-separated; repeat per pair in order (required)")
	pf.limits = addConnLimits(fs, maxConns)
	return pf
}

// parse parses args and checks the flags.
func (pf *publicFlags) parse(fs *flag.FlagSet, args []string) error {
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *pf.dir == "" || *pf.listen == "" || len(pf.pairs) == 0 {
		return usagef("--dir, --listen and at least one --pair are required")
	}
	if err := pf.limits.check(); err != nil {
		return err
	}
	var err error
	pf.urls, err = parsePairs(pf.pairs)
	return err
}

// parsePairs reads the --pair flags: two different collector URLs each,
// in order.
func parsePairs(pairs []string) ([][2]string, error) {
	var urls [][2]string
	for _, p := range pairs {
		u := strings.Split(p, ",")
		if len(u) != 2 || u[0] == "" || u[1] == "" || u[0] == u[1] {
			return nil, usagef("--pair %q: want two different collector URLs separated by a comma", p)
		}
		urls = append(urls, [2]string{u[0], u[1]})
	}
	return urls, nil
}

// catchUpTimeout bounds the edge's first read of the collectors' vote
// records; an instance that does not answer in time is read later.
const catchUpTimeout = 15 * time.Second

// catchUp has the edge learn, before it serves, which pair holds each vote
// whose stamp is still live (edge.Server.CatchUp).
func catchUp(ctx context.Context, srv *edge.Server, log *slog.Logger) {
	cctx, cancel := context.WithTimeout(ctx, catchUpTimeout)
	defer cancel()
	if err := srv.CatchUp(cctx); err != nil {
		log.Warn("edge: serving before every collector's vote records were read; they are read in the background", "err", err)
	}
}
