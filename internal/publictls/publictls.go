// Package publictls holds the certificate of a public server of the
// platform, the edge or the publisher, when it speaks TLS to the Internet
// itself rather than behind a terminator.
//
// Load reads a certificate chain and its private key from PEM files, as
// any CA or ACME client writes them: the chain leaf first, the key in
// PKCS #8, SEC 1 (EC) or PKCS #1 (RSA) form. A key that is not the
// certificate's is refused with ErrMismatch, naming both files. Config
// hands the pair to each new handshake through tls.Config.GetCertificate,
// from an atomic pointer, so that Reload (the command runs it on SIGHUP
// after a renewal) takes effect for the next handshake while connections
// already open keep theirs; a Reload that fails keeps the pair in use.
//
// The configuration is TLS 1.2 or later, and HTTP/1.1 by ALPN: the
// servers speak HTTP/1.1 only (fasthttp), so a client offering h2 and
// http/1.1 gets http/1.1, and one offering only h2 is refused the
// handshake rather than misled. Which campaign a request is for is the
// first label of its Host (package edge), not the server name of the
// handshake: one certificate covers every campaign of a server.
//
// The servers put TLS above their connection limits (package connlimit),
// which must see the TCP connections and their addresses: Listen wraps
// the limited listener.
package publictls

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// ErrMismatch means the key file holds another key than the one the
// certificate names.
var ErrMismatch = errors.New("the key does not match the certificate")

// ExpiryWarning is how long before its expiry a certificate is worth a
// warning at each load (Info.ExpiresSoon): two weeks leave time to renew
// by hand when the automatic renewal has failed.
const ExpiryWarning = 14 * 24 * time.Hour

// Cert is a certificate chain and its key, read from two files; safe for
// concurrent use.
type Cert struct {
	certFile, keyFile string

	// cur is the pair new handshakes get; its Leaf is set. Replaced
	// whole by Reload, never changed in place: a handshake under way
	// keeps the pair it loaded.
	cur atomic.Pointer[loaded]
}

// loaded is one load of the files.
type loaded struct {
	pair    tls.Certificate
	keyMode os.FileMode
}

// Load reads the chain from certFile and the key from keyFile and checks
// that they belong together.
func Load(certFile, keyFile string) (*Cert, error) {
	c := &Cert{certFile: certFile, keyFile: keyFile}
	l, err := c.read()
	if err != nil {
		return nil, err
	}
	c.cur.Store(l)
	return c, nil
}

// Reload reads the files again and, if they hold a valid pair, serves it
// to new handshakes. On error the pair in use stays.
func (c *Cert) Reload() error {
	l, err := c.read()
	if err != nil {
		return err
	}
	c.cur.Store(l)
	return nil
}

func (c *Cert) read() (*loaded, error) {
	certPEM, err := os.ReadFile(c.certFile)
	if err != nil {
		return nil, fmt.Errorf("public TLS: couldn't read the certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(c.keyFile)
	if err != nil {
		return nil, fmt.Errorf("public TLS: couldn't read the key: %w", err)
	}
	st, err := os.Stat(c.keyFile)
	if err != nil {
		return nil, fmt.Errorf("public TLS: %w", err)
	}
	// Checked before tls.X509KeyPair, whose message would name neither
	// file nor say which one is wrong.
	if err := matches(certPEM, keyPEM); err != nil {
		return nil, fmt.Errorf("public TLS: the key in %s and the certificate in %s: %w", c.keyFile, c.certFile, err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("public TLS: certificate %s with key %s: %w", c.certFile, c.keyFile, err)
	}
	return &loaded{pair: pair, keyMode: st.Mode().Perm()}, nil
}

// matches checks that the first private key of keyPEM is the key of the
// first certificate of certPEM (the leaf). Inputs it cannot read are left
// to tls.X509KeyPair, which says what is wrong with them.
func matches(certPEM, keyPEM []byte) error {
	var leaf *x509.Certificate
	for rest := certPEM; leaf == nil; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return nil
		}
		if b.Type == "CERTIFICATE" {
			var err error
			if leaf, err = x509.ParseCertificate(b.Bytes); err != nil {
				return nil
			}
		}
	}
	var key crypto.Signer
	for rest := keyPEM; key == nil; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return nil
		}
		if !strings.HasSuffix(b.Type, "PRIVATE KEY") {
			continue
		}
		if key = parseKey(b.Bytes); key == nil {
			return nil
		}
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(leaf.PublicKey) {
		return ErrMismatch
	}
	return nil
}

// parseKey reads a private key in the forms tls.X509KeyPair reads; nil if
// none.
func parseKey(der []byte) crypto.Signer {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		s, _ := k.(crypto.Signer)
		return s
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k
	}
	return nil
}

// Config returns the server configuration that serves the current pair.
// Each call returns a new Config; all of them follow Reload.
func (c *Cert) Config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return &c.cur.Load().pair, nil
		},
	}
}

// Info describes the pair in use, for the log.
type Info struct {
	CertFile, KeyFile string
	Names             []string  // the DNS names and IP addresses the leaf covers
	Serial            string    // the leaf's serial number, in hex (big.Int.Text(16))
	NotAfter          time.Time // the leaf's expiry
	// ExpiresSoon is true when the leaf expires within ExpiryWarning of
	// now, or has expired (Expired).
	ExpiresSoon, Expired bool
	// KeyShared is true when the key file's mode lets others than its
	// owner read it (any of the bits 0o077): it should be 0600, readable
	// by the service's user only.
	KeyShared bool
}

// Info returns what the command logs after a load: the leaf's names,
// serial and expiry, judged at now.
func (c *Cert) Info(now time.Time) Info {
	l := c.cur.Load()
	leaf := l.pair.Leaf
	names := append([]string(nil), leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	return Info{
		CertFile:    c.certFile,
		KeyFile:     c.keyFile,
		Names:       names,
		Serial:      leaf.SerialNumber.Text(16),
		NotAfter:    leaf.NotAfter,
		ExpiresSoon: leaf.NotAfter.Sub(now) < ExpiryWarning,
		Expired:     !now.Before(leaf.NotAfter),
		KeyShared:   l.keyMode&0o077 != 0,
	}
}

// Listen returns a listener whose connections are TLS server connections
// over ln's, with config (Cert.Config). It differs from tls.NewListener
// in two ways, both for a server that reads each connection from one
// goroutine (fasthttp):
//
//   - A failed handshake (a scanner, plain HTTP sent to the TLS port, a
//     client that offers only h2, one that stalls until the server's
//     read deadline) reads as the end of the connection, which the
//     server closes without an answer and without logging the client's
//     address, as when a client hangs up.
//
//   - Once the handshake is done it calls AwaitRequest on ln's
//     connection when that has the method (package connlimit): the
//     connection then counts as idle until the request's first bytes
//     arrive, as a plain HTTP connection does after its accept. (A
//     request whose start came with the client's last handshake
//     message, and whose end has not come, counts as idle too: TLS
//     reads ahead, and the listener cannot see what it holds.)
//
//   - Close closes the TCP connection without sending close_notify
//     (conn.Close says why).
//
// The handshake runs at the connection's first Handshake, Read or Write,
// under the deadlines the server sets for reading a request (fasthttp's
// ReadTimeout covers it).
func Listen(ln net.Listener, config *tls.Config) net.Listener {
	return &listener{Listener: ln, config: config}
}

type listener struct {
	net.Listener
	config *tls.Config
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &conn{Conn: tls.Server(c, l.config), raw: c}, nil
}

// conn is a connection of Listen. It keeps the methods of *tls.Conn
// (Handshake, ConnectionState), by which fasthttp tells a TLS connection.
type conn struct {
	*tls.Conn
	raw net.Conn

	// told is set once AwaitRequest was called; used only by the
	// goroutine that serves the connection.
	told bool
}

// Handshake runs the handshake if it has not run, and tells raw that the
// server now waits for a request.
func (c *conn) Handshake() error {
	if err := c.Conn.Handshake(); err != nil {
		return err
	}
	if !c.told {
		c.told = true
		if a, ok := c.raw.(interface{ AwaitRequest() }); ok {
			a.AwaitRequest()
		}
	}
	return nil
}

func (c *conn) Read(b []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, io.EOF
	}
	return c.Conn.Read(b)
}

func (c *conn) Write(b []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// Close closes the connection without TLS's close_notify alert. The
// server closes idle connections from another goroutine at its shutdown
// (fasthttp's CloseOnShutdown), and the alert would be a write on that
// goroutine through ln's connection, which counts reads and writes of
// the serving goroutine only (package connlimit); it would also hold the
// closing goroutine up to 5 s behind a client that does not read. HTTP/1.1
// answers carry their length, so a client tells a cut answer without
// the alert.
func (c *conn) Close() error { return c.raw.Close() }
