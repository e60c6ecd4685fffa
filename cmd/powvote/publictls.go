package main

import (
	"context"
	"crypto/tls"
	"flag"
	"log/slog"
	"strings"
	"time"

	"github.com/powvote/powvote/internal/publictls"
)

// tlsFlags are the public TLS flags of the servers voters and observers
// reach: the edge (powvote edge, powvote up) and the publisher.
type tlsFlags struct {
	certFile, keyFile *string
	cert              *publictls.Cert // loaded by load; nil: plain HTTP
}

func addTLSFlags(fs *flag.FlagSet) *tlsFlags {
	return &tlsFlags{
		certFile: fs.String("tls-cert", "", "serve HTTPS with the certificate chain in this PEM file, leaf first (with --tls-key; SIGHUP reloads both)"),
		keyFile:  fs.String("tls-key", "", "the private key of --tls-cert, a PEM file readable by the service's user only (0600)"),
	}
}

// load checks that the flags come both or neither and loads the pair, so
// that a key that does not match its certificate, or a file that cannot
// be read, stops the command before it starts anything.
func (f *tlsFlags) load() error {
	switch {
	case *f.certFile == "" && *f.keyFile == "":
		return nil
	case *f.certFile == "" || *f.keyFile == "":
		return usagef("--tls-cert and --tls-key go together: give both, or neither for plain HTTP")
	}
	c, err := publictls.Load(*f.certFile, *f.keyFile)
	if err != nil {
		return err
	}
	f.cert = c
	return nil
}

// scheme is the scheme of the server's URLs.
func (f *tlsFlags) scheme() string {
	if f.cert == nil {
		return "http"
	}
	return "https"
}

// config returns the servers' TLS configuration (edge.Config.TLS,
// publisher.Config.TLS), nil without the flags. It logs the certificate
// and reloads the files on SIGHUP until ctx ends: the renewal path is to
// replace both files, then kill -HUP. Connections open at the reload keep
// their certificate; new ones get the new. The same SIGHUP also reloads
// the internal links' certificate (internalLink).
func (f *tlsFlags) config(ctx context.Context, log *slog.Logger) *tls.Config {
	if f.cert == nil {
		return nil
	}
	logPublicCert(log, f.cert, "public TLS: serving HTTPS")
	onHangup(ctx, func() {
		if err := f.cert.Reload(); err != nil {
			log.Error("SIGHUP: couldn't reload the public TLS certificate; keeping the old one", "err", err)
			return
		}
		logPublicCert(log, f.cert, "SIGHUP: reloaded the public TLS certificate")
	})
	return f.cert.Config()
}

// logPublicCert logs the pair in use, and warns when it is about to
// expire or its key file is open to others.
func logPublicCert(log *slog.Logger, c *publictls.Cert, msg string) {
	in := c.Info(time.Now())
	exp := in.NotAfter.UTC().Format(time.RFC3339)
	log.Info(msg, "cert", in.CertFile, "names", strings.Join(in.Names, " "), "serial", in.Serial, "expires", exp)
	switch {
	case in.Expired:
		log.Error("public TLS: the certificate has expired and clients refuse it: renew it and send SIGHUP", "cert", in.CertFile, "expired", exp)
	case in.ExpiresSoon:
		log.Warn("public TLS: the certificate expires soon: renew it and send SIGHUP", "cert", in.CertFile, "expires", exp)
	}
	if in.KeyShared {
		log.Warn("public TLS: others than its owner may read the key file: make it 0600, owned by the service's user", "key", in.KeyFile)
	}
}
