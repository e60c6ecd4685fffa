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

// tlsFlags are the TLS flags of a listener that serves HTTPS from PEM
// files: the public one of the servers voters and observers reach (the
// edge of powvote edge and powvote up, and the publisher), and the
// operator endpoints of every process.
type tlsFlags struct {
	prefix            string // of the flags' names: "tls" or "metrics-tls"
	what              string // the listener, for the logs
	certFile, keyFile *string
	cert              *publictls.Cert // loaded by load; nil: plain HTTP
}

func addTLSFlags(fs *flag.FlagSet) *tlsFlags {
	return newTLSFlags(fs, "tls", "public TLS", "serve HTTPS")
}

func newTLSFlags(fs *flag.FlagSet, prefix, what, serve string) *tlsFlags {
	return &tlsFlags{
		prefix:   prefix,
		what:     what,
		certFile: fs.String(prefix+"-cert", "", serve+" with the certificate chain in this PEM file, leaf first (with --"+prefix+"-key; SIGHUP reloads both)"),
		keyFile:  fs.String(prefix+"-key", "", "the private key of --"+prefix+"-cert, a PEM file readable by the service's user only (0600)"),
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
		return usagef("--%s-cert and --%s-key go together: give both, or neither for plain HTTP", f.prefix, f.prefix)
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
	logPublicCert(log, f.cert, f.what, f.what+": serving HTTPS")
	onHangup(ctx, func() {
		if err := f.cert.Reload(); err != nil {
			log.Error("SIGHUP: couldn't reload the "+f.what+" certificate; keeping the old one", "err", err)
			return
		}
		logPublicCert(log, f.cert, f.what, "SIGHUP: reloaded the "+f.what+" certificate")
	})
	return f.cert.Config()
}

// logPublicCert logs the pair in use, and warns when it is about to
// expire or its key file is open to others.
func logPublicCert(log *slog.Logger, c *publictls.Cert, what, msg string) {
	in := c.Info(time.Now())
	exp := in.NotAfter.UTC().Format(time.RFC3339)
	log.Info(msg, "cert", in.CertFile, "names", strings.Join(in.Names, " "), "serial", in.Serial, "expires", exp)
	switch {
	case in.Expired:
		log.Error(what+": the certificate has expired and clients refuse it: renew it and send SIGHUP", "cert", in.CertFile, "expired", exp)
	case in.ExpiresSoon:
		log.Warn(what+": the certificate expires soon: renew it and send SIGHUP", "cert", in.CertFile, "expires", exp)
	}
	if in.KeyShared {
		log.Warn(what+": others than its owner may read the key file: make it 0600, owned by the service's user", "key", in.KeyFile)
	}
}
