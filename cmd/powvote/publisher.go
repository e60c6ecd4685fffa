package main

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/dashboard"
	"github.com/powvote/powvote/downloads"
	"github.com/powvote/powvote/internal/mtls"
	"github.com/powvote/powvote/internal/operator"
	"github.com/powvote/powvote/publisher"
)

func init() {
	register(command{name: "publisher", summary: "run the publisher: merge the collectors into the published lists and serve them", run: runPublisher})
}

const publisherHelp = `
Runs the publisher of every campaign of D (C alone with --campaign), on
one port: a request goes to the campaign its Host's first label names,
else to the one its file name names. SIGHUP starts the campaigns added to
D since. For each campaign, every interval it pulls the new vote
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

With --tls-cert and --tls-key the publisher serves HTTPS itself, as the
edge does (see powvote edge --help, Public TLS); SIGHUP reloads them too.

--metrics HOST:PORT serves the operator endpoints: GET /metrics
(Prometheus text), /health and /ready (docs/OPERATIONS.md), on a
loopback or private address; and the back office (/login) once D holds
operator accounts (powvote operator add; SIGHUP reloads them).

Example:
  powvote publisher --dir /srv/powvote --listen 0.0.0.0:8443 \
      --pair https://10.0.0.1:9100,https://10.0.0.2:9100
`

func runPublisher(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "publisher", "--dir D [--campaign C] --listen HOST:PORT --pair URL,URL...", publisherHelp)
	pf := addPublicFlags(fs, "address to serve the lists on (required)", 4096)
	interval := fs.Duration("interval", 2*time.Second, "how often to pull from the collectors")
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
	if *interval <= 0 {
		return usagef("--interval %v: want a positive duration", *interval)
	}
	logger, err := newLogger(e)
	if err != nil {
		return err
	}
	log := logger.With("component", "publisher")
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	front, err := publisher.NewFront()
	if err != nil {
		return err
	}
	tlsCfg := tf.config(ctx, log)
	// One set of metrics for every campaign, labelled by campaign, and
	// their readiness.
	mset := metrics.NewSet()
	var readiness operator.Readiness
	var (
		first   *publisher.Config // the server's limits and timeouts
		wg      sync.WaitGroup
		mu      sync.Mutex
		started []*publisher.Publisher
		boards  []dashboard.Campaign // the campaigns opened, for the dashboard
		fatal   = make(chan error, 1)
		set     *campaignSet
	)
	// The auditors' downloads read each campaign's files from its
	// publisher, in the process, as the campaigns open.
	files, err := downloads.New(ctx, downloads.Config{Logger: logger.With("component", "downloads")})
	if err != nil {
		return err
	}
	set = newCampaignSet(*pf.dir, *pf.name, campaign.RolePublisher, log, func(ctx context.Context, c *campaign.Campaign) error {
		clog := log.With("campaign", c.Settings.Name)
		link, err := internalLink(ctx, c, campaign.RolePublisher, mtls.AnyInstance, clog)
		if err != nil {
			return err
		}
		cfg, err := publisher.ConfigFor(c, pf.urls, link)
		if err != nil {
			return err
		}
		cfg.Interval, cfg.Logger = *interval, clog
		cfg.MaxConns, cfg.MaxConnsPerIP, cfg.IdleCloseAt = pf.limits.config()
		cfg.TLS, cfg.Metrics = tlsCfg, mset
		p, err := publisher.New(cfg)
		if err != nil {
			return err
		}
		readiness.Add(p.Ready)
		if err := front.Add(p); err != nil {
			p.Close()
			return err
		}
		if err := files.Add(downloads.Campaign{Name: c.Settings.Name, Files: p.Handle}); err != nil {
			// Only a campaign opened twice, which front.Add refused.
			return err
		}
		mu.Lock()
		started = append(started, p)
		boards = append(boards, dashboardCampaigns([]*campaign.Campaign{c}, []fasthttp.RequestHandler{p.Handle})...)
		if first == nil {
			first = &cfg
		}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := p.Loop(ctx)
			if err == nil || ctx.Err() != nil {
				return
			}
			if set.count() > 1 {
				// Its files stay served as they are; the others publish on.
				clog.Error("this campaign stopped publishing; the process's other campaigns go on: fix the cause and restart the process", "err", err)
				return
			}
			select {
			case fatal <- err:
			default:
			}
		}()
		return nil
	})
	if err := set.open(ctx); err != nil {
		return err
	}
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range started {
			p.Close()
		}
	}()
	if err := startOperator(ctx, mf, mset, readiness.Check, log, *pf.dir, files.Mount()); err != nil {
		return err
	}
	mu.Lock()
	opened := slices.Clone(boards)
	mu.Unlock()
	if err := mf.startDashboard(ctx, mset, opened, log); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *pf.listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *pf.listen, err)
	}
	for _, n := range set.names() {
		fmt.Fprintf(e.Stdout, "publisher for %s listening on %s\n", n, ln.Addr())
	}
	set.watch(ctx)
	served := make(chan error, 1)
	go func() { served <- front.Serve(ctx, ln, *first) }()
	var runErr error
	select {
	case runErr = <-fatal:
		cancel()
		<-served
	case runErr = <-served:
		cancel()
	}
	wg.Wait()
	return runErr
}
