package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
	"golang.org/x/sync/errgroup"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/collector"
	"github.com/powvote/powvote/downloads"
	"github.com/powvote/powvote/edge"
	"github.com/powvote/powvote/internal/mtls"
	"github.com/powvote/powvote/internal/operator"
	"github.com/powvote/powvote/published"
	"github.com/powvote/powvote/publisher"
)

func init() {
	register(command{name: "up", summary: "run the whole platform on this machine (demo campaign on first run)", run: runUp})
}

const upHelp = `
Runs the platform on this machine for every campaign in D: the edge on
--addr and, per campaign, one mirrored pair of collecting instances on
loopback. When D holds no campaign, creates the demo campaign "solar" (the
nine planets, a low proof-of-work threshold) with fresh platform secrets and
a demo authority key. A second run on the same D resumes with all its data.
Prints the URLs to open, and runs until interrupted (a second interrupt
aborts).

The internal links between the edge, the collectors and the publisher are
TLS 1.3 with certificates issued in memory by the campaign's internal CA,
as on separate machines. --insecure-plain-internal-http runs them in plain
HTTP on loopback instead (each role then authenticates by a random token
held only in memory): only to compare the cost of TLS, or to watch the
internal traffic.

The edge's connections are limited as by powvote edge (--max-conns,
--max-conns-per-ip, --idle-close-at; see powvote edge --help). A load
test from one machine needs --max-conns-per-ip 0.

With --tls-cert and --tls-key the edge serves HTTPS (see powvote edge
--help, Public TLS) and the URLs printed are https; SIGHUP reloads the
files. A browser installs the voter app and its offline worker only
from https or from localhost.

--metrics HOST:PORT serves the operator endpoints of the whole process:
GET /metrics (Prometheus text; every component's metrics, labelled by
campaign), /health and /ready (200 once every collector has caught up,
every publisher has reached its collectors and the edge has read their
records; docs/OPERATIONS.md), on a loopback or private address; and the
back office (/login) once D holds operator accounts (powvote operator
add; SIGHUP reloads them).

Example:
  powvote up
  powvote up --dir /srv/powvote --addr 0.0.0.0:8080
`

func runUp(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "up", "[--dir D] [--addr HOST:PORT]", upHelp)
	dir := fs.String("dir", "./powvote-data", "directory of the campaigns and their data")
	addr := fs.String("addr", "127.0.0.1:8080", "address the edge listens on")
	pprofAddr := fs.String("pprof", "", "also serve Go's profiles on this loopback address (e.g. 127.0.0.1:6060)")
	plainLinks := fs.Bool("insecure-plain-internal-http", false, "run the internal links in plain HTTP on loopback (no TLS): for measurements only")
	mf := addMetricsFlag(fs)
	limits := addConnLimits(fs, 10000)
	tf := addTLSFlags(fs)
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if err := limits.check(); err != nil {
		return err
	}
	if err := tf.load(); err != nil {
		return err
	}
	if err := mf.load(); err != nil {
		return err
	}
	log, err := newLogger(e)
	if err != nil {
		return err
	}
	if *pprofAddr != "" {
		if err := startPprof(ctx, *pprofAddr, log); err != nil {
			return err
		}
	}
	// One set of metrics for every component, and their readiness, the
	// process's only once the edge serves.
	set := metrics.NewSet()
	var readiness operator.Readiness
	var started atomic.Bool
	readiness.Add(func() error {
		if !started.Load() {
			return errors.New("powvote up: starting")
		}
		return nil
	})
	// The auditors' downloads read each campaign's files from its
	// publisher, in the process, as the campaigns open.
	files, err := downloads.New(ctx, downloads.Config{Logger: log.With("component", "downloads")})
	if err != nil {
		return err
	}
	if err := startOperator(ctx, mf, set, readiness.Check, log, *dir, files.Mount()); err != nil {
		return err
	}
	names, err := campaignsOrDemo(*dir, log)
	if err != nil {
		return err
	}
	if *plainLinks {
		log.Warn("internal links in plain HTTP (--insecure-plain-internal-http): anyone who can read loopback traffic reads mandates with their votes")
	}

	// Collectors and publishers run until the edge has stopped, so that
	// no vote in flight loses its collector.
	back := newBackOffice(*dir, *plainLinks, limits, log)
	back.metrics, back.ready = set, &readiness
	defer back.stop()
	for _, n := range names {
		if err := back.start(n); err != nil {
			return err
		}
	}
	handlers := make([]fasthttp.RequestHandler, len(back.pubs))
	for i, p := range back.pubs {
		handlers[i] = p.Handle
		if err := files.Add(downloads.Campaign{Name: back.campaigns[i].Settings.Name, Files: p.Handle}); err != nil {
			return err
		}
	}
	if err := mf.startDashboard(ctx, set, dashboardCampaigns(back.campaigns, handlers), log); err != nil {
		return err
	}

	ecfg := edgeConfig(back.sites, log.With("component", "edge"), limits)
	ecfg.TLS = tf.config(ctx, log.With("component", "edge"))
	ecfg.Metrics = set
	srv, err := edge.New(ecfg)
	if err != nil {
		return err
	}
	readiness.Add(srv.Ready)
	catchUp(ctx, srv, log.With("component", "edge"))
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *addr, err)
	}
	printUp(e.Stdout, tf.scheme()+"://"+ln.Addr().String(), *dir, back)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	started.Store(true)
	var runErr error
	select {
	case runErr = <-errc:
		runErr = fmt.Errorf("edge: %w", runErr)
	case <-ctx.Done():
	case <-back.ctx.Done():
		runErr = errors.New("a collector stopped")
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Warn("edge shutdown", "err", err)
	}
	if err := back.closeEnded(); err != nil && runErr == nil {
		runErr = err
	}
	if err := back.stop(); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// campaignsOrDemo returns the campaigns of dir, creating the demo campaign
// when it holds none.
func campaignsOrDemo(dir string, log *slog.Logger) ([]string, error) {
	names, err := campaign.List(dir)
	if err != nil || len(names) > 0 {
		return names, err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	c, err := createCampaign(dir, campaign.Demo(time.Now(), pub), priv)
	if err != nil {
		return nil, fmt.Errorf("create demo campaign: %w", err)
	}
	log.Info("created demo campaign", "campaign", c.Settings.Name, "dir", c.Dir)
	return []string{c.Settings.Name}, nil
}

// backOffice is what powvote up runs behind its edge: per campaign, a
// mirrored pair of collecting instances and a publisher on loopback.
type backOffice struct {
	dir    string
	plain  bool // internal links in plain HTTP
	perIP  int  // the edge's connection limits, for the publishers too
	idleAt int
	log    *slog.Logger

	metrics *metrics.Set        // every component's
	ready   *operator.Readiness // gets every component's readiness check

	ctx    context.Context // done once any of them stops
	cancel context.CancelFunc
	group  *errgroup.Group

	campaigns []*campaign.Campaign
	pairs     [][2]string // the URLs of each campaign's pair
	pubs      []*publisher.Publisher
	sites     []edge.Campaign
}

func newBackOffice(dir string, plain bool, limits *connLimits, log *slog.Logger) *backOffice {
	ctx, cancel := context.WithCancel(context.Background())
	group, ctx := errgroup.WithContext(ctx)
	b := &backOffice{dir: dir, plain: plain, log: log, ctx: ctx, cancel: cancel, group: group}
	_, b.perIP, b.idleAt = limits.config()
	return b
}

// links returns the internal link of each role of campaign c: from its CA
// in D, or in plain mode tokens held in memory.
func (b *backOffice) links(c *campaign.Campaign) func(role campaign.Role, instance int) (*mtls.Link, error) {
	if !b.plain {
		return c.Link
	}
	plain := mtls.NewPlain(c.Settings.Name)
	for _, r := range campaign.Roles {
		plain.Link(string(r), mtls.AnyInstance)
	}
	return func(role campaign.Role, _ int) (*mtls.Link, error) {
		return plain.Link(string(role), mtls.AnyInstance), nil
	}
}

// start loads campaign n and starts its pair and its publisher, and adds
// its entry for the edge.
func (b *backOffice) start(n string) error {
	if err := campaign.EnsureLinkCA(b.dir, n); err != nil {
		return err
	}
	c, err := campaign.Load(b.dir, n)
	if err != nil {
		return err
	}
	link := b.links(c)
	edgeLink, err := link(campaign.RoleEdge, mtls.AnyInstance)
	if err != nil {
		return err
	}
	urls, err := b.startPair(c, link, edgeLink.Scheme())
	if err != nil {
		return err
	}
	pub, err := b.startPublisher(c, link, urls)
	if err != nil {
		return err
	}
	b.campaigns = append(b.campaigns, c)
	b.pairs = append(b.pairs, urls)
	b.sites = append(b.sites, edge.CampaignFor(c, edgeLink, [][2]string{urls}, pub.Handle))
	return nil
}

// startPair starts the two collecting instances of c on loopback and
// returns their URLs.
func (b *backOffice) startPair(c *campaign.Campaign, link func(campaign.Role, int) (*mtls.Link, error), scheme string) ([2]string, error) {
	var urls [2]string
	var lns [2]net.Listener
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return urls, fmt.Errorf("listen for collector: %w", err)
		}
		lns[i], urls[i] = ln, scheme+"://"+ln.Addr().String()
	}
	for i, ln := range lns {
		colLink, err := link(campaign.RoleCollector, i)
		if err != nil {
			return urls, err
		}
		cfg := collector.ConfigFor(c, i, "", urls[1-i], colLink)
		cfg.Logger = b.log.With("component", "collector", "campaign", c.Settings.Name, "instance", i)
		cfg.Metrics = b.metrics
		srv, err := collector.New(cfg)
		if err != nil {
			return urls, err
		}
		b.ready.Add(srv.Ready)
		b.group.Go(func() error { return srv.Run(b.ctx, ln) })
	}
	return urls, nil
}

// startPublisher starts the publisher of c, pulling from its pair. Its own
// listener is on loopback and unannounced (the edge serves the lists); it
// gets the edge's limits all the same.
func (b *backOffice) startPublisher(c *campaign.Campaign, link func(campaign.Role, int) (*mtls.Link, error), urls [2]string) (*publisher.Publisher, error) {
	pubLink, err := link(campaign.RolePublisher, mtls.AnyInstance)
	if err != nil {
		return nil, err
	}
	cfg, err := publisher.ConfigFor(c, [][2]string{urls}, pubLink)
	if err != nil {
		return nil, err
	}
	cfg.Logger = b.log.With("component", "publisher", "campaign", c.Settings.Name)
	cfg.MaxConnsPerIP, cfg.IdleCloseAt = b.perIP, b.idleAt
	cfg.Metrics = b.metrics
	pub, err := publisher.New(cfg)
	if err != nil {
		return nil, err
	}
	b.ready.Add(pub.Ready)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		pub.Close()
		return nil, fmt.Errorf("listen for publisher: %w", err)
	}
	b.pubs = append(b.pubs, pub)
	b.group.Go(func() error { return pub.Run(b.ctx, ln) })
	return pub, nil
}

// closeEnded closes each campaign whose voting is over while its
// collectors still answer, so that the last round sees everything; one
// still running is left open, so that a restart for maintenance resumes
// it.
func (b *backOffice) closeEnded() error {
	var first error
	for _, pub := range b.pubs {
		if !pub.Ended() {
			continue
		}
		fctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := pub.Finish(fctx); err != nil {
			b.log.Error("couldn't close the campaign", "err", err)
			if first == nil {
				first = err
			}
		}
		cancel()
	}
	return first
}

// stop stops the collectors and the publishers and waits for them; a
// second call only waits.
func (b *backOffice) stop() error {
	b.cancel()
	err := b.group.Wait()
	for _, pub := range b.pubs {
		pub.Close()
	}
	b.pubs = nil
	return err
}

// printUp tells the operator where everything is.
func printUp(out io.Writer, base, dir string, b *backOffice) {
	fmt.Fprintf(out, "powvote is up at %s (data in %s)\n", base, dir)
	for i, c := range b.campaigns {
		s := c.Settings
		fmt.Fprintf(out, "campaign %s:\n", s.Name)
		fmt.Fprintf(out, "  collectors:  %s %s (private)\n", b.pairs[i][0], b.pairs[i][1])
		fmt.Fprintf(out, "  ballot:      %s/list\n", base)
		fmt.Fprintf(out, "  lists:       %s/%s %s/%s\n", base, published.LogName(s.Name, published.Vote), base, published.LogName(s.Name, published.Auth))
		fmt.Fprintf(out, "  settings:    %s/%s (keys and archive at the close: %s, %s)\n",
			base, published.SettingsName(s.Name), published.KeysName(s.Name), published.ArchiveName(s.Name))
		fmt.Fprintf(out, "  booth code:  powvote booth code --dir %s --campaign %s --pretty\n", dir, s.Name)
		demoKey := filepath.Join(c.Dir, campaign.DemoAuthorityKey)
		if _, err := os.Stat(demoKey); err == nil {
			fmt.Fprintf(out, "  a mandate:   powvote mandates --key %s --count 1 --format tokens\n", demoKey)
		}
		fmt.Fprintf(out, "  vote:        powvote vote --edge %s --mandate HEX --booth-code CODE --say %q\n", base, s.Options[0])
	}
}
