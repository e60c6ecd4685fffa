package main

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/publisher"
)

func init() {
	register(command{name: "publisher", summary: "run the publisher: merge the collectors into the published lists and serve them", run: runPublisher})
}

const publisherHelp = `
Runs the publisher of campaign C of D. Every interval it pulls the new vote
records and the voter tables of both instances of every pair, publishes the
votes and voters that both instances of their pair hold (never a retracted
vote), in equal numbers and in batches of at least batch_size lines,
keeping at least a batch back until the close so that the last batch is
not small either, and serves the lists:

  /C-vote.log   one vote a line:  P-UTC P-SIG Voter nonce "option"
  /C-auth.log   one voter a line: auth-pkey auth-sig auth-id

with ETag, Last-Modified and byte ranges, so wget -c and curl -C - resume
a download, and /C-settings.yaml, the public settings. The lists are
kept in D/C/published/ and survive restarts. Once the campaign has ended
and the stamps of its last votes have expired, and nothing is pending,
the publisher closes it: it publishes the last batch, all that was kept
back (fewer than batch_size lines only if the campaign had fewer votes), then /C-keys.txt (the public keys kept secret until then) and
/C-archive.tar.gz (everything needed to run powvote audit offline).
Give one --pair per pair of collectors, in order, as to the edge. A pair
with an instance down publishes nothing new until it is back.

Connections are limited as the edge's are (--max-conns, 4096 by default,
--max-conns-per-ip, --idle-close-at; see powvote edge --help): a download
may take 30 minutes, and one address's slow readers hold at most
--max-conns-per-ip connections.

The links to the collectors are TLS 1.3 with the publisher's certificate
from D (powvote export --role publisher): give https:// URLs. A collector
answers the publisher its records and nothing else. SIGHUP reloads the
certificate.

--metrics HOST:PORT serves the operator endpoints: GET /metrics
(Prometheus text), /health and /ready (docs/OPERATIONS.md), on a
loopback or private address.

Example:
  powvote publisher --dir /srv/powvote --listen 0.0.0.0:8443 \
      --pair https://10.0.0.1:9100,https://10.0.0.2:9100
`

func runPublisher(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "publisher", "--dir D [--campaign C] --listen HOST:PORT --pair URL,URL...", publisherHelp)
	pf := addPublicFlags(fs, "address to serve the lists on (required)", 4096)
	interval := fs.Duration("interval", 2*time.Second, "how often to pull from the collectors")
	metricsAddr := addMetricsFlag(fs)
	if err := pf.parse(fs, args); err != nil {
		return err
	}
	dir, name, listen, limits, urls := pf.dir, pf.name, pf.listen, pf.limits, pf.urls
	if *interval <= 0 {
		return usagef("--interval %v: want a positive duration", *interval)
	}
	c, log, link, err := roleProcess(ctx, e, *dir, *name, campaign.RolePublisher)
	if err != nil {
		return err
	}
	cfg, err := publisher.ConfigFor(c, urls, link)
	if err != nil {
		return err
	}
	cfg.Interval, cfg.Logger = *interval, log
	cfg.MaxConns, cfg.MaxConnsPerIP, cfg.IdleCloseAt = limits.config()
	cfg.Metrics = metrics.NewSet()
	p, err := publisher.New(cfg)
	if err != nil {
		return err
	}
	defer p.Close()
	if err := startOperator(ctx, *metricsAddr, cfg.Metrics, p.Ready, log); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *listen, err)
	}
	fmt.Fprintf(e.Stdout, "publisher for %s listening on %s\n", c.Settings.Name, ln.Addr())
	return p.Run(ctx, ln)
}
