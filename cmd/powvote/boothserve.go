package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/powvote/powvote/boothdisplay"
	"github.com/powvote/powvote/internal/localpage"
	"github.com/powvote/powvote/keyfile"
	"github.com/powvote/powvote/station"
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
needs no Internet. A key that is not the station's generator's is refused.

The display listens on a loopback address only (--listen, default
127.0.0.1:8090): whoever can read /code holds a booth code that is valid
at every station of the campaign. To show the page on another machine,
give --insecure-listen-beyond-loopback as well; the code is then served
only to a page opened at the URL printed at start, which carries a secret
made afresh at each start (after #token=). Keep that URL, and the network
the display is on, to the booth.

Examples:
  powvote booth serve --map ./powvote-data/solar/booths.yaml \
      --station "Town Hall" --kek townhall.kek

  powvote booth serve --map booths.yaml --station "Town Hall" \
      --kek townhall.kek --listen 10.0.0.5:8090 --insecure-listen-beyond-loopback
`

// boothTokenHeader carries, beyond loopback, the display's secret of this
// start on every request for the code. The page reads the secret from the
// fragment of the printed URL (#token=...), which browsers never send, so
// it stays out of requests, logs and Referer headers.
const boothTokenHeader = "X-Booth-Token"

// boothPublicPaths are what a display beyond loopback serves without its
// secret: the page and its files, which hold nothing but code to fetch the
// booth code. Every other path, /code above all, needs the secret.
var boothPublicPaths = map[string]bool{"/": true, "/booth.js": true, "/booth.css": true}

// boothGate lets requests through to the display's handler only with the
// secret of this start, outside boothPublicPaths.
type boothGate struct {
	next  http.Handler
	token []byte // hex, as the page sends it
}

func (g boothGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !boothPublicPaths[r.URL.Path] &&
		subtle.ConstantTimeCompare([]byte(r.Header.Get(boothTokenHeader)), g.token) != 1 {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		localpage.SetHeaders(h, "default-src 'none'")
		http.Error(w, "booth display: missing or wrong "+boothTokenHeader+": open the URL that powvote booth serve printed at start", http.StatusForbidden)
		return
	}
	g.next.ServeHTTP(w, r)
}

func runBoothServe(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "booth serve", "--map FILE --station NAME --kek FILE [--listen HOST:PORT [--insecure-listen-beyond-loopback]]", boothServeHelp)
	mapPath := fs.String("map", "", "public deployment map (required)")
	name := fs.String("station", "", "this generator's station, as in the map (required)")
	kekPath := fs.String("kek", "", "this generator's wrapping key file (required)")
	listen := fs.String("listen", "127.0.0.1:8090", "address to serve the display on: a loopback address unless --insecure-listen-beyond-loopback")
	beyond := fs.Bool("insecure-listen-beyond-loopback", false,
		"allow a --listen address that other machines reach; /code then answers only the printed URL's page (its #token)")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *mapPath == "" || *name == "" || *kekPath == "" {
		return usagef("--map, --station and --kek are required")
	}
	if _, _, err := net.SplitHostPort(*listen); err != nil {
		return usagef("--listen %s: %v", *listen, err)
	}
	// The same rule as the station desk's: only this machine reaches a
	// loopback address.
	loopback := station.LoopbackListen(*listen)
	if !loopback && !*beyond {
		return usagef("--listen %s is not a loopback address (127.0.0.1, [::1] or localhost): whoever reaches the display reads booth codes valid at every station; "+
			"to serve it to other machines all the same, add --insecure-listen-beyond-loopback", *listen)
	}
	m, err := readBoothMap(*mapPath, true)
	if err != nil {
		return err
	}
	kek, err := keyfile.Read(*kekPath, totp.KEKSize)
	if err != nil {
		return err
	}
	seed, err := m.Seed(*name, kek)
	if errors.Is(err, totp.ErrWrongKEK) {
		return fmt.Errorf("%s is not the key of the generator of station %q in %s: refusing to show a booth code", *kekPath, *name, *mapPath)
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
	d, err := boothdisplay.New(boothdisplay.Config{Station: *name, Seed: seed, Logger: log})
	clear(seed)
	if err != nil {
		return err
	}
	var handler http.Handler = d.Handler()
	fragment := ""
	if !loopback {
		// On loopback only this machine reaches the display, as before;
		// beyond it, anyone on the network would otherwise read the code.
		var raw [32]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return fmt.Errorf("making the display's secret: %w", err)
		}
		token := hex.EncodeToString(raw[:])
		handler = boothGate{next: handler, token: []byte(token)}
		fragment = "#token=" + token
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *listen, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if !loopback {
		fmt.Fprintf(e.Stderr, "WARNING: --insecure-listen-beyond-loopback: the booth display listens on %s, beyond this machine.\n"+
			"WARNING: whoever has the URL below reads booth codes valid at EVERY station of campaign %s.\n"+
			"WARNING: open it only in the booth's browser; never show, print or share it.\n", ln.Addr(), m.Campaign)
	}
	fmt.Fprintf(e.Stdout, "booth display of station %q (campaign %s) listening on http://%s/%s\n", *name, m.Campaign, ln.Addr(), fragment)
	return localpage.Serve(ctx, srv, ln)
}
