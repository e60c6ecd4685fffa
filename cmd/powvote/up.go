package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/edge"
)

func init() {
	register(command{name: "up", summary: "run the whole platform on this machine (demo campaign on first run)", run: runUp})
}

const upHelp = `
Runs the platform on this machine for every campaign in D. When D holds no
campaign, creates the demo campaign "solar" (the nine planets, a low
proof-of-work threshold) with fresh platform secrets and a demo authority
key. A second run on the same D resumes with all its data. Prints the URLs
to open, and runs until interrupted (a second interrupt aborts).

Example:
  powvote up
  powvote up --dir /srv/powvote --addr 0.0.0.0:8080
`

func runUp(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "up", "[--dir D] [--addr HOST:PORT]", upHelp)
	dir := fs.String("dir", "./powvote-data", "directory of the campaigns and their data")
	addr := fs.String("addr", "127.0.0.1:8080", "address the edge listens on")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(e.Stderr, nil))

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
	var all []*campaign.Settings
	for _, n := range names {
		c, err := campaign.Load(*dir, n)
		if err != nil {
			return err
		}
		all = append(all, c.Settings)
	}
	srv, err := edge.New(edge.Config{Campaigns: all, Logger: log.With("component", "edge")})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *addr, err)
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(e.Stdout, "powvote is up at %s (data in %s)\n", base, *dir)
	for _, s := range all {
		fmt.Fprintf(e.Stdout, "campaign %s:\n", s.Name)
		fmt.Fprintf(e.Stdout, "  ballot:      %s/list\n", base)
		fmt.Fprintf(e.Stdout, "  booth code:  powvote booth code --dir %s --campaign %s --pretty\n", *dir, s.Name)
		demoKey := filepath.Join(*dir, s.Name, campaign.DemoAuthorityKey)
		if _, err := os.Stat(demoKey); err == nil {
			fmt.Fprintf(e.Stdout, "  a mandate:   powvote mandates --key %s --count 1 --format tokens\n", demoKey)
		}
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("edge: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return <-errc
}
