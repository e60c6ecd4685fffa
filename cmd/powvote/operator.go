package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"

	"github.com/VictoriaMetrics/metrics"

	"github.com/powvote/powvote/backoffice"
	"github.com/powvote/powvote/dashboard"
	"github.com/powvote/powvote/internal/operator"
)

// metricsFlags are the flags of the operator endpoints: the address, the
// certificate and key to serve them over HTTPS, and those of the organizer
// dashboard that the back office serves there.
type metricsFlags struct {
	addr *string
	tls  *tlsFlags
	dash *dashboardFlags
	// board serves the dashboard once the command has opened its
	// campaigns (startDashboard); 503 before.
	board lateHandler
}

// addMetricsFlag adds --metrics and --metrics-tls-cert, --metrics-tls-key
// to a server command's flags, and the dashboard's.
func addMetricsFlag(fs *flag.FlagSet) *metricsFlags {
	return &metricsFlags{
		addr: fs.String("metrics", "", "serve /metrics, /health, /ready and the back office on this private address (e.g. 127.0.0.1:9090)"),
		tls:  newTLSFlags(fs, "metrics-tls", "operator TLS", "serve the operator endpoints over HTTPS"),
		dash: addDashboardFlags(fs),
	}
}

// load checks the flags and loads the certificate: every command calls it
// right after parsing its flags, before it starts anything.
func (f *metricsFlags) load() error {
	if *f.addr == "" && (*f.tls.certFile != "" || *f.tls.keyFile != "") {
		return usagef("--metrics-tls-cert and --metrics-tls-key serve --metrics: give --metrics too")
	}
	if _, err := f.dash.config(nil, nil, nil); err != nil {
		return err
	}
	return f.tls.load()
}

// startDashboard starts the organizer dashboard of campaigns, which the
// back office serves at /dashboard/ to viewers and up, and its sampler
// until ctx ends; nothing without --metrics. A command calls it once it
// has opened its campaigns; campaigns added by a later SIGHUP show on the
// dashboard after a restart.
func (f *metricsFlags) startDashboard(ctx context.Context, set *metrics.Set, campaigns []dashboard.Campaign, log *slog.Logger) error {
	if *f.addr == "" {
		return nil
	}
	log = log.With("component", "dashboard")
	cfg, err := f.dash.config(set, campaigns, log)
	if err != nil {
		return err
	}
	d, err := dashboard.New(cfg)
	if err != nil {
		return err
	}
	go func() {
		if err := d.Run(ctx); err != nil && ctx.Err() == nil {
			log.Warn("dashboard", "err", err)
		}
	}()
	f.board.set(d.Handler())
	return nil
}

// startOperator serves the operator endpoints (package operator) on
// --metrics until ctx ends, with the process's metrics and readiness,
// over HTTPS with --metrics-tls-cert; nothing without --metrics. Beside
// them it serves the back office of the platform directory dir (package
// backoffice), with mounts: on while dir holds operator accounts,
// read at the start (a broken file stops it) and on each SIGHUP.
func startOperator(ctx context.Context, f *metricsFlags, set *metrics.Set, ready func() error, log *slog.Logger, dir string, mounts ...backoffice.Mount) error {
	addr := *f.addr
	if addr == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return usagef("--metrics %q: %v", addr, err)
	}
	mounts = append(mounts, backoffice.Mount{Prefix: "/dashboard/", Title: "Dashboard", Read: backoffice.View, Handler: f.board.handle})
	office, err := openBackOffice(ctx, dir, f.tls.cert != nil, set, log, mounts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen for the operator endpoints %s: %w", addr, err)
	}
	// The mounts that hand out files (archives, lists) may take longer
	// to write an answer than the operator listener's 10 s.
	var long []string
	for _, m := range mounts {
		if m.Read == backoffice.Download {
			long = append(long, m.Prefix)
		}
	}
	srv := operator.New(operator.Config{Metrics: set, Ready: ready, Logger: log, TLS: f.tls.config(ctx, log), App: office.Handle, LongWrites: long})
	go func() {
		if err := srv.Run(ctx, ln); err != nil {
			log.Warn("operator endpoints", "err", err)
		}
	}()
	base := f.tls.scheme() + "://" + ln.Addr().String()
	log.Info("operator endpoints served", "metrics", base+"/metrics", "back_office", base+"/login")
	return nil
}

// openBackOffice makes the back office of dir with its accounts, and
// reloads them on each SIGHUP until ctx ends: a file that does not load
// then is logged and the accounts served stay as they were.
func openBackOffice(ctx context.Context, dir string, secure bool, set *metrics.Set, log *slog.Logger, mounts []backoffice.Mount) (*backoffice.Server, error) {
	log = log.With("component", "back office")
	path := backoffice.AccountsPath(dir)
	load := func() (*backoffice.Accounts, error) {
		as, err := backoffice.LoadAccounts(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return as, err
	}
	as, err := load()
	if err != nil {
		return nil, err
	}
	office, err := backoffice.New(backoffice.Config{
		Accounts: as,
		Log:      backoffice.OpenLog(backoffice.LogPath(dir)),
		Secure:   secure,
		Logger:   log,
		Metrics:  set,
	})
	if err != nil {
		return nil, err
	}
	for _, m := range mounts {
		if err := office.Mount(m); err != nil {
			return nil, err
		}
	}
	logAccounts(log, as, path, "back office")
	onHangup(ctx, func() {
		as, err := load()
		if err != nil {
			log.Error("SIGHUP: couldn't reload the operator accounts; keeping the old ones", "err", err)
			return
		}
		office.SetAccounts(as)
		logAccounts(log, as, path, "SIGHUP: reloaded the operator accounts")
	})
	return office, nil
}

func logAccounts(log *slog.Logger, as *backoffice.Accounts, path, msg string) {
	if as.Len() == 0 {
		log.Info(msg+": off, no operator account (powvote operator add)", "file", path)
		return
	}
	log.Info(msg, "accounts", as.Len(), "file", path)
}
