package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"

	"github.com/VictoriaMetrics/metrics"

	"github.com/powvote/powvote/internal/operator"
)

// metricsFlags are the flags of the operator endpoints: the address, and
// the certificate and key to serve them over HTTPS.
type metricsFlags struct {
	addr *string
	tls  *tlsFlags
}

// addMetricsFlag adds --metrics and --metrics-tls-cert, --metrics-tls-key
// to a server command's flags.
func addMetricsFlag(fs *flag.FlagSet) *metricsFlags {
	return &metricsFlags{
		addr: fs.String("metrics", "", "serve /metrics, /health and /ready on this private address (e.g. 127.0.0.1:9090)"),
		tls:  newTLSFlags(fs, "metrics-tls", "operator TLS", "serve the operator endpoints over HTTPS"),
	}
}

// load checks the flags and loads the certificate: every command calls it
// right after parsing its flags, before it starts anything.
func (f *metricsFlags) load() error {
	if *f.addr == "" && (*f.tls.certFile != "" || *f.tls.keyFile != "") {
		return usagef("--metrics-tls-cert and --metrics-tls-key serve --metrics: give --metrics too")
	}
	return f.tls.load()
}

// startOperator serves the operator endpoints (package operator) on
// --metrics until ctx ends, with the process's metrics and readiness,
// over HTTPS with --metrics-tls-cert; nothing without --metrics.
func startOperator(ctx context.Context, f *metricsFlags, set *metrics.Set, ready func() error, log *slog.Logger) error {
	addr := *f.addr
	if addr == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return usagef("--metrics %q: %v", addr, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen for the operator endpoints %s: %w", addr, err)
	}
	srv := operator.New(operator.Config{Metrics: set, Ready: ready, Logger: log, TLS: f.tls.config(ctx, log)})
	go func() {
		if err := srv.Run(ctx, ln); err != nil {
			log.Warn("operator endpoints", "err", err)
		}
	}()
	log.Info("operator endpoints served", "metrics", f.tls.scheme()+"://"+ln.Addr().String()+"/metrics")
	return nil
}
