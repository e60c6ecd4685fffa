// Package mtls secures the platform's internal links (edge to collector,
// twin to twin, publisher to collector) with TLS 1.3 and mutual
// authentication under a certificate authority of the campaign's own.
//
// Each campaign has its own authority (CA): an Ed25519 key that stays with
// the operator, like the election authority's key stays with the election
// authority. It issues each process a certificate naming its Peer (the
// campaign, the role and, for a collector, optionally its instance) in a URI
// subject alternative name:
//
//	powvote://<campaign>/<role>[/<instance>]
//
// Both ends of a link verify the other's chain against the campaign's CA
// and read the other's role from its certificate: a client checks that it
// reached the role (and instance) it meant to dial, a server learns who is
// calling and authorises each endpoint by role (the collector's table,
// docs/INTERNAL.md). Host names play no part: a certificate is bound to a
// role, not to an address, so that an operator can export it before the
// machines have addresses.
//
// Plain HTTP is possible only through [NewPlain], whose per-role tokens
// live in memory and never on disk: it serves `powvote up` on loopback
// behind a loudly named flag, and the tests of single packages.
package mtls

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Lifetimes of what Issue and NewCA make.
const (
	// CALifetime outlives any campaign; the CA is made once per campaign
	// by `powvote init`.
	CALifetime = 10 * 365 * 24 * time.Hour
	// CertLifetime is the default lifetime of a process's certificate:
	// longer than a campaign's voting and counting, short enough that a
	// stolen key soon stops working. `powvote export` renews it.
	CertLifetime = 90 * 24 * time.Hour
	// backdate covers clocks a little behind the issuer's.
	backdate = time.Hour
)

// Sentinel errors, for callers that branch and tests that provoke them.
var (
	ErrUnknownCA   = errors.New("not signed by this campaign's internal CA")
	ErrExpired     = errors.New("certificate expired or not yet valid")
	ErrWrongRole   = errors.New("wrong role")
	ErrNoCert      = errors.New("no certificate presented")
	ErrPlainHTTP   = errors.New("plain HTTP on an internal link")
	ErrBadPeer     = errors.New("certificate names no powvote peer")
	ErrNotAllowed  = errors.New("role not allowed here")
	ErrKeyMismatch = errors.New("private key does not match the certificate")
)

// AnyInstance in Peer.Instance: a collector certificate valid for every
// instance, and the value for roles that have no instances.
const AnyInstance = -1

// Peer is who holds a certificate: a role of one campaign, and for a
// collector the instance the certificate is limited to, or AnyInstance.
type Peer struct {
	Campaign string
	Role     string
	Instance int
}

// URI is the subject alternative name that names p in its certificate.
func (p Peer) URI() *url.URL {
	path := "/" + p.Role
	if p.Instance != AnyInstance {
		path += "/" + strconv.Itoa(p.Instance)
	}
	return &url.URL{Scheme: "powvote", Host: p.Campaign, Path: path}
}

func (p Peer) String() string {
	if p.Instance != AnyInstance {
		return fmt.Sprintf("%s %d of campaign %s", p.Role, p.Instance, p.Campaign)
	}
	return fmt.Sprintf("%s of campaign %s", p.Role, p.Campaign)
}

// Covers reports whether a certificate naming p may act as want: the same
// campaign and role, and the same instance unless either is AnyInstance.
func (p Peer) Covers(want Peer) bool {
	return p.Campaign == want.Campaign && p.Role == want.Role &&
		(p.Instance == AnyInstance || want.Instance == AnyInstance || p.Instance == want.Instance)
}

// PeerOf reads the Peer a certificate names.
func PeerOf(c *x509.Certificate) (Peer, error) {
	for _, u := range c.URIs {
		if u.Scheme != "powvote" {
			continue
		}
		// Exactly the form URI writes: nothing that another reader
		// could take for a separator or ignore.
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.RawPath != "" || u.Opaque != "" ||
			!strings.HasPrefix(u.String(), "powvote://") {
			break
		}
		parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
		p := Peer{Campaign: u.Host, Role: parts[0], Instance: AnyInstance}
		if p.Campaign == "" || p.Role == "" || len(parts) > 2 {
			break
		}
		if len(parts) == 2 {
			n, err := strconv.Atoi(parts[1])
			if err != nil || n < 0 || strconv.Itoa(n) != parts[1] {
				break
			}
			p.Instance = n
		}
		return p, nil
	}
	return Peer{}, fmt.Errorf("mtls: certificate %q: %w", c.Subject.CommonName, ErrBadPeer)
}

// CA is a campaign's internal certificate authority. Key is nil in a CA
// that only verifies.
type CA struct {
	Cert *x509.Certificate
	Key  ed25519.PrivateKey
}

// NewCA makes the authority of a campaign.
func NewCA(campaign string, now time.Time) (*CA, error) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "powvote " + campaign + " internal CA"},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(CALifetime),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign,
		URIs:                  []*url.URL{{Scheme: "powvote", Host: campaign, Path: "/ca"}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		return nil, fmt.Errorf("mtls: make CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Campaign is the campaign whose CA this is.
func (ca *CA) Campaign() string {
	for _, u := range ca.Cert.URIs {
		if u.Scheme == "powvote" {
			return u.Host
		}
	}
	return ""
}

// Issue makes a certificate and key for p, valid for lifetime from now.
func (ca *CA) Issue(p Peer, now time.Time, lifetime time.Duration) (*Cert, error) {
	if ca.Key == nil {
		return nil, errors.New("mtls: this CA holds no private key")
	}
	if p.Campaign != ca.Campaign() {
		return nil, fmt.Errorf("mtls: CA of campaign %q cannot issue for %s", ca.Campaign(), p)
	}
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "powvote " + p.String()},
		NotBefore:    now.Add(-backdate),
		NotAfter:     now.Add(lifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		URIs:         []*url.URL{p.URI()},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("mtls: issue for %s: %w", p, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	if q, err := PeerOf(leaf); err != nil || q != p {
		return nil, fmt.Errorf("mtls: %s cannot be named as powvote://<campaign>/<role>[/<instance>]: %w", p, ErrBadPeer)
	}
	return &Cert{Leaf: leaf, Key: key}, nil
}

func serial() *big.Int {
	var b [16]byte
	rand.Read(b[:])
	b[0] &= 0x7f
	return new(big.Int).SetBytes(b[:])
}

// Cert is a process's certificate and key.
type Cert struct {
	Leaf *x509.Certificate
	Key  ed25519.PrivateKey
}

// CertPEM encodes a certificate as PEM, the form of the .crt files.
func CertPEM(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// ParseCertPEM reads one PEM certificate.
func ParseCertPEM(text string) (*x509.Certificate, error) {
	b, rest := pem.Decode([]byte(text))
	if b == nil || b.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("mtls: not one PEM CERTIFICATE block")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("mtls: %w", err)
	}
	return c, nil
}

// Check reports whether c's key belongs to its certificate.
func (c *Cert) Check() error {
	pub, ok := c.Leaf.PublicKey.(ed25519.PublicKey)
	if !ok || len(c.Key) != ed25519.PrivateKeySize || !pub.Equal(c.Key.Public()) {
		return fmt.Errorf("mtls: %q: %w", c.Leaf.Subject.CommonName, ErrKeyMismatch)
	}
	return nil
}

// Source gives a process its certificate and its campaign's CA certificate;
// Link.Reload calls it again (new files on disk, or a fresh in-memory
// certificate).
type Source func() (*Cert, *x509.Certificate, error)

// creds is what one Source call gave, ready for handshakes.
type creds struct {
	tls   tls.Certificate
	self  Peer
	roots *x509.CertPool
}

// Link is one process's end of the internal links. Safe for concurrent use.
type Link struct {
	campaign string
	want     Peer // who this process must be
	src      Source
	cur      atomic.Pointer[creds]
	plain    *plain // non-nil: plain HTTP with in-memory tokens
	now      func() time.Time
}

// New loads a Link for a process that must be self (Instance AnyInstance
// accepts any certificate of the role; a certificate limited to another
// instance is refused).
func New(self Peer, src Source) (*Link, error) {
	l := &Link{campaign: self.Campaign, want: self, src: src, now: time.Now}
	if err := l.Reload(); err != nil {
		return nil, err
	}
	return l, nil
}

// SetClock replaces time.Now for the checks of expiry (tests).
func (l *Link) SetClock(now func() time.Time) { l.now = now }

// Reload reads the certificate again from its Source, for rotation
// (SIGHUP). New connections use it; open ones keep theirs. On error the
// Link keeps what it had.
func (l *Link) Reload() error {
	if l.plain != nil {
		return nil
	}
	cert, caCert, err := l.src()
	if err != nil {
		return err
	}
	if err := cert.Check(); err != nil {
		return err
	}
	self, err := PeerOf(cert.Leaf)
	if err != nil {
		return err
	}
	if self.Campaign != l.want.Campaign || self.Role != l.want.Role ||
		(self.Instance != AnyInstance && l.want.Instance != AnyInstance && self.Instance != l.want.Instance) {
		return fmt.Errorf("mtls: the certificate is for %s, this process is %s: %w", self, l.want, ErrWrongRole)
	}
	roots := x509.NewCertPool()
	roots.AddCert(caCert)
	if err := verify(cert.Leaf, roots, l.now(), l.campaign); err != nil {
		return fmt.Errorf("mtls: own certificate: %w", err)
	}
	l.cur.Store(&creds{
		tls:   tls.Certificate{Certificate: [][]byte{cert.Leaf.Raw}, PrivateKey: crypto.Signer(cert.Key), Leaf: cert.Leaf},
		self:  self,
		roots: roots,
	})
	return nil
}

// Self is the Peer this process's certificate names (in plain mode, the
// Peer it was made for).
func (l *Link) Self() Peer {
	if l.plain != nil {
		return l.want
	}
	return l.cur.Load().self
}

// Expires is when the current certificate expires (zero in plain mode).
func (l *Link) Expires() time.Time {
	if l.plain != nil {
		return time.Time{}
	}
	return l.cur.Load().tls.Leaf.NotAfter
}

// Plain reports whether this Link speaks plain HTTP.
func (l *Link) Plain() bool { return l.plain != nil }

// Scheme is the scheme of the internal URLs this Link serves and dials.
func (l *Link) Scheme() string {
	if l.plain != nil {
		return "http"
	}
	return "https"
}

// CheckURL refuses an internal URL whose scheme is not the Link's.
func (l *Link) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("internal URL does not parse")
	}
	if u.Scheme == l.Scheme() {
		return nil
	}
	if l.plain == nil {
		return fmt.Errorf("internal URL %q is %s://: internal links use TLS (https://); plain HTTP only with powvote up --insecure-plain-internal-http: %w", u.Redacted(), u.Scheme, ErrPlainHTTP)
	}
	return fmt.Errorf("internal URL %q is %s://, but this platform runs its internal links in plain HTTP (http://)", u.Redacted(), u.Scheme)
}

// verify checks a peer's leaf against the campaign's CA at now.
func verify(leaf *x509.Certificate, roots *x509.CertPool, now time.Time, campaign string) error {
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	var ua x509.UnknownAuthorityError
	var inv x509.CertificateInvalidError
	switch {
	case err == nil:
	case errors.As(err, &ua):
		return fmt.Errorf("certificate %q: %w (campaign %s)", leaf.Subject.CommonName, ErrUnknownCA, campaign)
	case errors.As(err, &inv) && inv.Reason == x509.Expired:
		return fmt.Errorf("certificate %q valid from %s to %s, now %s: %w", leaf.Subject.CommonName,
			leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), ErrExpired)
	default:
		return fmt.Errorf("certificate %q: %w", leaf.Subject.CommonName, err)
	}
	p, err := PeerOf(leaf)
	if err != nil {
		return err
	}
	if p.Campaign != campaign {
		return fmt.Errorf("certificate of %s, want campaign %s: %w", p, campaign, ErrUnknownCA)
	}
	return nil
}

// peerOfState verifies what a handshake presented and names its Peer.
func (l *Link) peerOfState(certs []*x509.Certificate) (Peer, error) {
	if len(certs) == 0 {
		return Peer{}, ErrNoCert
	}
	if err := verify(certs[0], l.cur.Load().roots, l.now(), l.campaign); err != nil {
		return Peer{}, err
	}
	return PeerOf(certs[0])
}

// ServerConfig is the TLS configuration of a server of internal links: TLS
// 1.3 only, a client certificate of the campaign required. Which roles may
// use which endpoint is for the server to decide with Caller.
func (l *Link) ServerConfig() *tls.Config {
	if l.plain != nil {
		return nil
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return &l.cur.Load().tls, nil
		},
		// Requested rather than required, so that VerifyConnection runs
		// for a client without one too and names the cause (ErrNoCert).
		ClientAuth: tls.RequestClientCert,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if _, err := l.peerOfState(cs.PeerCertificates); err != nil {
				return fmt.Errorf("mtls: refused client: %w", err)
			}
			return nil
		},
	}
}

// ClientConfig is the TLS configuration for dialling want: TLS 1.3 only,
// this process's certificate presented, and the server's certificate must
// be of the campaign and cover want.
func (l *Link) ClientConfig(want Peer) *tls.Config {
	if l.plain != nil {
		return nil
	}
	want.Campaign = l.campaign
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		// The campaign travels as the server name, so that one collector
		// process can serve several campaigns on one port (Mux).
		ServerName: l.campaign,
		// Verification is VerifyConnection's: chain, campaign and role,
		// not host names (see the package comment).
		InsecureSkipVerify: true,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &l.cur.Load().tls, nil
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			p, err := l.peerOfState(cs.PeerCertificates)
			if err != nil {
				return fmt.Errorf("mtls: refused server: %w", err)
			}
			if !p.Covers(want) {
				return fmt.Errorf("mtls: refused server: it is %s, want %s: %w", p, want, ErrWrongRole)
			}
			return nil
		},
	}
}

// Listen wraps a listener of internal links: TLS with ServerConfig, and a
// clear plain-text refusal for a client that speaks plain HTTP to it. In
// plain mode it returns ln.
func (l *Link) Listen(ln net.Listener) net.Listener {
	if l.plain != nil {
		return ln
	}
	return tls.NewListener(plainRefuser{ln}, l.ServerConfig())
}

// Caller names who sent a request to a server of internal links: from the
// connection's verified certificate, or in plain mode from the Pass header
// value. The TLS handshake has already refused a certificate of another
// CA or an expired one.
func (l *Link) Caller(cs *tls.ConnectionState, pass []byte) (Peer, error) {
	if l.plain != nil {
		return l.plain.caller(pass)
	}
	if cs == nil {
		return Peer{}, ErrPlainHTTP
	}
	if len(cs.PeerCertificates) == 0 {
		return Peer{}, ErrNoCert
	}
	// The handshake verified the chain (ServerConfig's VerifyConnection):
	// a connection without a valid certificate never carries a request.
	return PeerOf(cs.PeerCertificates[0])
}

// Pass is the value of the Pass header this process sends in plain mode,
// and "" with TLS.
func (l *Link) Pass() string {
	if l.plain == nil {
		return ""
	}
	return l.plain.tokens[l.want.String()]
}

// plain is the token table of NewPlain.
type plain struct {
	tokens map[string]string // Peer.String() -> token
	peers  map[string]Peer
}

func (p *plain) caller(pass []byte) (Peer, error) {
	found := ""
	for k, tok := range p.tokens {
		// Every token is compared, in constant time, whatever matches.
		if subtle.ConstantTimeCompare(pass, []byte(tok)) == 1 {
			found = k
		}
	}
	if found == "" {
		return Peer{}, ErrNoCert
	}
	return p.peers[found], nil
}

// Plain makes the Links of one campaign's processes for plain HTTP: each
// peer gets a random token, held only in this process's memory, which its
// requests carry in the Pass header. Only for processes that run in one
// address space (powvote up) and for tests.
type Plain struct {
	campaign string
	p        *plain
}

// NewPlain starts a plain-HTTP token table for campaign.
func NewPlain(campaign string) *Plain {
	return &Plain{campaign: campaign, p: &plain{tokens: map[string]string{}, peers: map[string]Peer{}}}
}

// Link returns the Link of role and instance (AnyInstance for a role with
// none). Call it for every peer before the processes start.
func (pl *Plain) Link(role string, instance int) *Link {
	self := Peer{Campaign: pl.campaign, Role: role, Instance: instance}
	k := self.String()
	if _, ok := pl.p.tokens[k]; !ok {
		var b [32]byte
		rand.Read(b[:])
		pl.p.tokens[k] = base64.RawURLEncoding.EncodeToString(b[:])
		pl.p.peers[k] = self
	}
	return &Link{campaign: pl.campaign, want: self, plain: pl.p, now: time.Now}
}
