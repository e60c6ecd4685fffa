package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/edge"
	"github.com/powvote/powvote/internal/mtls"
)

func init() {
	register(command{name: "edge", summary: "run the edge: the platform's public server", run: runEdge})
}

const edgeHelp = `
Runs the edge for campaign C of D: the only server voters reach. It answers
/list and /stamp, checks votes (proof of work, platform and voter stamps)
and routes each by its mandate to both collecting instances of its pair.
Give one --pair per pair of collectors, in order: pair k is instances 2k and
2k+1, and the list must stay the same for the campaign's life.

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

Example:
  powvote edge --dir /srv/powvote --listen 0.0.0.0:443 \
      --pair https://10.0.0.1:9100,https://10.0.0.2:9100 --allow-origin https://vote.example.org
`

func runEdge(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "edge", "--dir D [--campaign C] --listen HOST:PORT --pair URL,URL...", edgeHelp)
	dir := fs.String("dir", "", "directory that holds campaigns (required)")
	name := fs.String("campaign", "", "campaign (default: the only one in D)")
	listen := fs.String("listen", "", "address to listen on (required)")
	var pairs, origins stringList
	fs.Var(&pairs, "pair", "the two collector URLs of a pair, comma-separated; repeat per pair in order (required)")
	fs.Var(&origins, "allow-origin", "origin allowed by CORS, repeatable")
	limits := addConnLimits(fs, 10000)
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *dir == "" || *listen == "" || len(pairs) == 0 {
		return usagef("--dir, --listen and at least one --pair are required")
	}
	if err := limits.check(); err != nil {
		return err
	}
	c, err := loadRole(*dir, *name, campaign.RoleEdge)
	if err != nil {
		return err
	}
	logger, err := newLogger(e)
	if err != nil {
		return err
	}
	log := logger.With("component", "edge")
	link, err := internalLink(ctx, c, campaign.RoleEdge, mtls.AnyInstance, log)
	if err != nil {
		return err
	}
	site := edge.Campaign{
		Settings:   c.Settings,
		UTCSignPub: c.Secrets.UTCSignPub,
		UTCHole:    c.Secrets.UTCHole,
		VoterKey:   c.Secrets.VoterStampKey,
		Link:       link,
	}
	for _, p := range pairs {
		urls := strings.Split(p, ",")
		if len(urls) != 2 || urls[0] == "" || urls[1] == "" || urls[0] == urls[1] {
			return usagef("--pair %q: want two different collector URLs separated by a comma", p)
		}
		site.Pairs = append(site.Pairs, [2]string{urls[0], urls[1]})
	}
	cfg := edge.Config{Campaigns: []edge.Campaign{site}, AllowOrigins: origins, Logger: log,
		NonceCacheTTL: nonceMemory([]*campaign.Campaign{c})}
	cfg.MaxConns, cfg.MaxConnsPerIP, cfg.IdleCloseAt = limits.config()
	srv, err := edge.New(cfg)
	if err != nil {
		return err
	}
	catchUp(ctx, srv, log)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *listen, err)
	}
	fmt.Fprintf(e.Stdout, "edge for %s listening on %s\n", c.Settings.Name, ln.Addr())
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
