package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/powvote/powvote/boothdisplay"
	"github.com/powvote/powvote/internal/localpage"
	"github.com/powvote/powvote/keyfile"
	"github.com/powvote/powvote/totp"
)

func init() {
	register(command{name: "booth serve", summary: "run a booth code generator's display (kiosk page)", run: runBoothServe})
}

const boothServeHelp = `
Runs the display of a booth code generator. Like the generator, it holds
only its own wrapping key (--kek, written by powvote booth provision
--kek-out) and the public deployment map (--map, D/CAMPAIGN/booths.yaml):
it unwraps the campaign's TOTP seed published for --station and serves a
page showing the booth code in large digits, check character set apart,
with a warning to wait for the next code in the last 10 seconds of each
step. Open the printed URL full-screen in the booth's browser. The page
needs no Internet; it listens on the loopback address unless --listen says
otherwise. A key that is not the station's generator's is refused.

Example:
  powvote booth serve --map ./powvote-data/solar/booths.yaml \
      --station "Town Hall" --kek townhall.kek
`

func runBoothServe(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "booth serve", "--map FILE --station NAME --kek FILE [--listen HOST:PORT]", boothServeHelp)
	mapPath := fs.String("map", "", "public deployment map (required)")
	station := fs.String("station", "", "this generator's station, as in the map (required)")
	kekPath := fs.String("kek", "", "this generator's wrapping key file (required)")
	listen := fs.String("listen", "127.0.0.1:8090", "address to serve the display on")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *mapPath == "" || *station == "" || *kekPath == "" {
		return usagef("--map, --station and --kek are required")
	}
	m, err := readBoothMap(*mapPath, true)
	if err != nil {
		return err
	}
	kek, err := keyfile.Read(*kekPath, totp.KEKSize)
	if err != nil {
		return err
	}
	seed, err := m.Seed(*station, kek)
	if errors.Is(err, totp.ErrWrongKEK) {
		return fmt.Errorf("%s is not the key of the generator of station %q in %s: refusing to show a booth code", *kekPath, *station, *mapPath)
	}
	if err != nil {
		return err
	}
	clear(kek)
	logger, err := newLogger(e)
	if err != nil {
		return err
	}
	log := logger.With("component", "booth")
	d, err := boothdisplay.New(boothdisplay.Config{Station: *station, Seed: seed, Logger: log})
	clear(seed)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *listen, err)
	}
	srv := &http.Server{
		Handler:           d.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(e.Stdout, "booth display of station %q (campaign %s) listening on http://%s/\n", *station, m.Campaign, ln.Addr())
	return localpage.Serve(ctx, srv, ln)
}
