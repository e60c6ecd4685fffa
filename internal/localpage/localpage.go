// Package localpage holds what the platform's pages for one machine (the
// booth display and the station desk) share as web servers: the headers
// every answer carries, the Host check that stops DNS rebinding, and
// serving until the command is interrupted. The pages themselves, and what
// they may do, are their packages' business.
package localpage

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// SetHeaders sets the headers every answer of a local page carries: its
// content security policy, and no sniffing, referrer, framing or
// cross-origin reading.
func SetHeaders(h http.Header, csp string) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// HostAllowed accepts a Host header that is localhost or an IP address
// (only a loopback one if loopbackOnly), with or without a port. A page on
// some web site could otherwise point its own domain name at the machine
// (DNS rebinding) and read or drive the local page from a browser on it;
// such a page always has a name in Host, and a local page never needs one.
func HostAllowed(host string, loopbackOnly bool) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (!loopbackOnly || ip.IsLoopback())
}

// Serve serves srv on ln until ctx is done, then shuts it down, giving
// requests in flight 5 seconds: a browser holding a keep-alive connection
// must not delay the exit.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
