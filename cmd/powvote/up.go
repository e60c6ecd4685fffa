package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/collector"
	"github.com/powvote/powvote/edge"
	"github.com/powvote/powvote/internal/mtls"
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
	limits := addConnLimits(fs, 10000)
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if err := limits.check(); err != nil {
		return err
	}
	_, perIP, idleCloseAt := limits.config()
	logger, err := newLogger(e)
	if err != nil {
		return err
	}
	log := logger
	if *pprofAddr != "" {
		if err := startPprof(ctx, *pprofAddr, log); err != nil {
			return err
		}
	}

	names, err := campaign.List(*dir)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		c, err := createCampaign(*dir, campaign.Demo(time.Now(), pub), priv)
		if err != nil {
			return fmt.Errorf("create demo campaign: %w", err)
		}
		log.Info("created demo campaign", "campaign", c.Settings.Name, "dir", c.Dir)
		names = []string{c.Settings.Name}
	}

	// Collectors run until the edge has stopped, so that no vote in flight
	// loses its collector.
	colCtx, stopCollectors := context.WithCancel(context.Background())
	defer stopCollectors()
	cols, colCtx := errgroup.WithContext(colCtx)
	var sites []edge.Campaign
	var all []*campaign.Campaign
	var colURLs [][2]string
	var pubs []*publisher.Publisher
	if *plainLinks {
		log.Warn("internal links in plain HTTP (--insecure-plain-internal-http): anyone who can read loopback traffic reads mandates with their votes")
	}
	for _, n := range names {
		if err := campaign.EnsureLinkCA(*dir, n); err != nil {
			return err
		}
		c, err := campaign.Load(*dir, n)
		if err != nil {
			return err
		}
		all = append(all, c)
		link := func(role campaign.Role, instance int) (*mtls.Link, error) { return c.Link(role, instance) }
		if *plainLinks {
			plain := mtls.NewPlain(n)
			for _, r := range campaign.Roles {
				plain.Link(string(r), mtls.AnyInstance)
			}
			link = func(role campaign.Role, _ int) (*mtls.Link, error) {
				return plain.Link(string(role), mtls.AnyInstance), nil
			}
		}
		edgeLink, err := link(campaign.RoleEdge, mtls.AnyInstance)
		if err != nil {
			return err
		}
		pubLink, err := link(campaign.RolePublisher, mtls.AnyInstance)
		if err != nil {
			return err
		}
		var urls [2]string
		var lns [2]net.Listener
		for i := range lns {
			if lns[i], err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
				return fmt.Errorf("listen for collector: %w", err)
			}
			urls[i] = edgeLink.Scheme() + "://" + lns[i].Addr().String()
		}
		for i := range lns {
			colLink, err := link(campaign.RoleCollector, i)
			if err != nil {
				return err
			}
			ccfg := collector.ConfigFor(c, i, "", urls[1-i], colLink)
			ccfg.Logger = log.With("component", "collector", "campaign", n, "instance", i)
			srv, err := collector.New(ccfg)
			if err != nil {
				return err
			}
			ln := lns[i]
			cols.Go(func() error { return srv.Run(colCtx, ln) })
		}
		colURLs = append(colURLs, urls)
		pcfg, err := publisher.ConfigFor(c, [][2]string{urls}, pubLink)
		if err != nil {
			return err
		}
		pcfg.Logger = log.With("component", "publisher", "campaign", n)
		// Its own listener is on loopback and unannounced (the edge
		// serves the lists); it gets the edge's limits all the same.
		pcfg.MaxConnsPerIP, pcfg.IdleCloseAt = perIP, idleCloseAt
		pub, err := publisher.New(pcfg)
		if err != nil {
			return err
		}
		defer pub.Close()
		pubs = append(pubs, pub)
		pubLn, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("listen for publisher: %w", err)
		}
		cols.Go(func() error { return pub.Run(colCtx, pubLn) })
		sites = append(sites, edge.CampaignFor(c, edgeLink, [][2]string{urls}, pub.Handle))
	}

	srv, err := edge.New(edgeConfig(sites, log.With("component", "edge"), limits))
	if err != nil {
		return err
	}
	catchUp(ctx, srv, log.With("component", "edge"))
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *addr, err)
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(e.Stdout, "powvote is up at %s (data in %s)\n", base, *dir)
	for i, c := range all {
		s := c.Settings
		fmt.Fprintf(e.Stdout, "campaign %s:\n", s.Name)
		fmt.Fprintf(e.Stdout, "  collectors:  %s %s (private)\n", colURLs[i][0], colURLs[i][1])
		fmt.Fprintf(e.Stdout, "  ballot:      %s/list\n", base)
		fmt.Fprintf(e.Stdout, "  lists:       %s/%s-vote.log %s/%s-auth.log\n", base, s.Name, base, s.Name)
		fmt.Fprintf(e.Stdout, "  settings:    %s/%s-settings.yaml (keys and archive at the close: %s-keys.txt, %s-archive.tar.gz)\n", base, s.Name, s.Name, s.Name)
		fmt.Fprintf(e.Stdout, "  booth code:  powvote booth code --dir %s --campaign %s --pretty\n", *dir, s.Name)
		demoKey := filepath.Join(c.Dir, campaign.DemoAuthorityKey)
		if _, err := os.Stat(demoKey); err == nil {
			fmt.Fprintf(e.Stdout, "  a mandate:   powvote mandates --key %s --count 1 --format tokens\n", demoKey)
		}
		fmt.Fprintf(e.Stdout, "  vote:        powvote vote --edge %s --mandate HEX --booth-code CODE --say %q\n", base, s.Options[0])
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var runErr error
	select {
	case runErr = <-errc:
		runErr = fmt.Errorf("edge: %w", runErr)
	case <-ctx.Done():
	case <-colCtx.Done():
		runErr = errors.New("a collector stopped")
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Warn("edge shutdown", "err", err)
	}
	// A campaign whose voting is over is closed while its collectors
	// still answer, so that the last round sees everything; one still
	// running is left open, so that a restart for maintenance resumes it.
	for _, pub := range pubs {
		if !pub.Ended() {
			continue
		}
		fctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := pub.Finish(fctx); err != nil {
			log.Error("couldn't close the campaign", "err", err)
			if runErr == nil {
				runErr = err
			}
		}
		cancel()
	}
	stopCollectors()
	if err := cols.Wait(); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}
