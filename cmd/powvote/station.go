package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/powvote/powvote/internal/localpage"
	"github.com/powvote/powvote/keyfile"
	"github.com/powvote/powvote/station"
)

func init() {
	register(command{name: "station serve", summary: "run a station desk: issue and print mandates one by one", run: runStationServe})
}

const stationServeHelp = `
Runs a voting station's desk: a local page on which staff press "Issue
mandate" for each voter, see the new card (QR code, the 12 lines, the card
id) and print it. The desk holds the authority's private key (--key, as
written by powvote authority keygen), which never leaves this machine and
never reaches the page. Before a card appears, its token is appended to
DIR/issued.txt (mode 0600, one token of 240 hex digits a line, as
powvote mandates --format tokens prints them) and synced to disk, so that
every card handed out is on record. The page counts the mandates in the
file and those issued since the desk started.

Open the printed URL in a browser on this machine. The desk listens on the
loopback address only: whoever can open the page can issue mandates. It
answers only to the page it served since it started; after a restart,
reload the page. Only one desk at a time may use DIR.

Example:
  powvote station serve --key authority.key --out desk1 --station "Town Hall"
`

func runStationServe(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "station serve", "--key FILE --out DIR [--listen HOST:PORT] [--station NAME]", stationServeHelp)
	keyPath := fs.String("key", "", "authority private key file (required)")
	out := fs.String("out", "", "directory for issued.txt (required; created 0700)")
	listen := fs.String("listen", "127.0.0.1:8091", "loopback address to serve the desk on")
	name := fs.String("station", "", "the station's name, shown on the page")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *keyPath == "" || *out == "" {
		return usagef("--key and --out are required")
	}
	if !station.LoopbackListen(*listen) {
		return usagef("--listen %s is not a loopback address (127.0.0.1, [::1] or localhost): anyone who reaches the desk can issue mandates", *listen)
	}
	key, err := keyfile.ReadEd25519(*keyPath)
	if err != nil {
		return err
	}
	logger, err := newLogger(e)
	if err != nil {
		return err
	}
	log := logger.With("component", "station")
	desk, err := station.New(station.Config{Key: key, Dir: *out, Station: *name, Logger: log})
	if err != nil {
		return err
	}
	defer desk.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *listen, err)
	}
	srv := &http.Server{
		Handler:           desk.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	total, _ := desk.Counts()
	fmt.Fprintf(e.Stdout, "station desk %q listening on http://%s/ (%d mandates in %s)\n", *name, ln.Addr(), total, desk.Path())
	// An issue in flight finishes its sync and answer before the exit.
	if err := localpage.Serve(ctx, srv, ln); err != nil {
		return err
	}
	if err := desk.Close(); err != nil {
		return err
	}
	return nil
}
