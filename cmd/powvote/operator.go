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

// addMetricsFlag adds --metrics to a server command's flags.
func addMetricsFlag(fs *flag.FlagSet) *string {
	return fs.String("metrics", "", "serve /metrics, /health and /ready on this private address (e.g. 127.0.0.1:9090)")
}

// startOperator serves the operator endpoints (package operator) on addr
// until ctx ends, with the process's metrics and readiness; nothing when
// addr is empty.
func startOperator(ctx context.Context, addr string, set *metrics.Set, ready func() error, log *slog.Logger) error {
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
	srv := operator.New(operator.Config{Metrics: set, Ready: ready, Logger: log})
	go func() {
		if err := srv.Run(ctx, ln); err != nil {
			log.Warn("operator endpoints", "err", err)
		}
	}()
	log.Info("operator endpoints served", "metrics", "http://"+ln.Addr().String()+"/metrics")
	return nil
}
