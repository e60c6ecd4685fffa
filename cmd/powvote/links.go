package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/internal/mtls"
)

// internalLink loads this process's certificate for the internal links
// (campaign.Campaign.Link) and reloads it on SIGHUP until ctx ends: the
// rotation path is powvote export --renew, then kill -HUP. Connections
// open at the reload keep their certificate; new ones use the new.
func internalLink(ctx context.Context, c *campaign.Campaign, role campaign.Role, instance int, log *slog.Logger) (*mtls.Link, error) {
	l, err := c.Link(role, instance)
	if err != nil {
		return nil, err
	}
	logLink(log, l, "internal links: TLS 1.3")
	onHangup(ctx, func() {
		if err := l.Reload(); err != nil {
			log.Error("SIGHUP: couldn't reload the internal links' certificate; keeping the old one", "err", err)
			return
		}
		logLink(log, l, "SIGHUP: reloaded the internal links' certificate")
	})
	return l, nil
}

// onHangup calls f on each SIGHUP until ctx ends. The signal is caught
// from the call on: a SIGHUP right after the start reloads, and does not
// end the process. Each caller gets every SIGHUP.
func onHangup(ctx context.Context, f func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				f()
			}
		}
	}()
}

// certWarn is how long before its expiry a certificate is worth a warning
// at each load.
const certWarn = 14 * 24 * time.Hour

func logLink(log *slog.Logger, l *mtls.Link, msg string) {
	exp := l.Expires()
	log.Info(msg, "as", l.Self().String(), "expires", exp.UTC().Format(time.RFC3339))
	if time.Until(exp) < certWarn {
		log.Warn("the internal links' certificate expires soon: renew it (powvote export --renew) and send SIGHUP", "expires", exp.UTC().Format(time.RFC3339))
	}
}
