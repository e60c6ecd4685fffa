package mtls

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const campaign = "demo-2026"

func peer(role string, instance int) Peer {
	return Peer{Campaign: campaign, Role: role, Instance: instance}
}

var (
	edge       = peer("edge", AnyInstance)
	publisher  = peer("publisher", AnyInstance)
	collector  = peer("collector", AnyInstance)
	collector0 = peer("collector", 0)
	collector1 = peer("collector", 1)
)

func newCA(t testing.TB, name string) *CA {
	t.Helper()
	ca, err := NewCA(name, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func issue(t testing.TB, ca *CA, p Peer) *Cert {
	t.Helper()
	c, err := ca.Issue(p, time.Now(), CertLifetime)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fixed is a Source that always gives cert under ca.
func fixed(ca *CA, cert *Cert) Source {
	return func() (*Cert, *x509.Certificate, error) { return cert, ca.Cert, nil }
}

// newLink is the Link of a process that is p, with a fresh certificate
// from ca.
func newLink(t testing.TB, ca *CA, p Peer) *Link {
	t.Helper()
	l, err := New(p, fixed(ca, issue(t, ca, p)))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// signURIs makes a certificate with the given URI SANs signed by ca's key,
// whatever the URIs say: what Issue would never make, for the parsers'
// tests and a CA key that signs another campaign's name.
func signURIs(t testing.TB, ca *CA, pub ed25519.PublicKey, uris ...*url.URL) (*x509.Certificate, error) {
	t.Helper()
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "crafted"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		URIs:         uris,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestURI checks the subject alternative name against the package
// comment's form, powvote://<campaign>/<role>[/<instance>], and the
// names people read in logs.
func TestURI(t *testing.T) {
	for _, tc := range []struct {
		p         Peer
		uri, name string
	}{
		{edge, "powvote://demo-2026/edge", "edge of campaign demo-2026"},
		{publisher, "powvote://demo-2026/publisher", "publisher of campaign demo-2026"},
		{collector, "powvote://demo-2026/collector", "collector of campaign demo-2026"},
		{collector0, "powvote://demo-2026/collector/0", "collector 0 of campaign demo-2026"},
		{peer("collector", 3), "powvote://demo-2026/collector/3", "collector 3 of campaign demo-2026"},
		{peer("collector", 12), "powvote://demo-2026/collector/12", "collector 12 of campaign demo-2026"},
	} {
		if got := tc.p.URI().String(); got != tc.uri {
			t.Errorf("%#v.URI() = %q, want %q", tc.p, got, tc.uri)
		}
		if got := tc.p.String(); got != tc.name {
			t.Errorf("%#v.String() = %q, want %q", tc.p, got, tc.name)
		}
	}
}

// TestIssuePeerOf issues a certificate for each role and reads the same
// Peer back, with the URI of the package comment in the certificate, and
// a chain to the CA.
func TestIssuePeerOf(t *testing.T) {
	now := time.Now()
	ca, err := NewCA(campaign, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := ca.Campaign(); got != campaign {
		t.Fatalf("CA.Campaign() = %q, want %q", got, campaign)
	}
	if !ca.Cert.IsCA || ca.Cert.NotAfter.Sub(now) < CALifetime-time.Second {
		t.Fatalf("CA certificate: IsCA %v, expires %v", ca.Cert.IsCA, ca.Cert.NotAfter)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	for _, role := range []string{"edge", "publisher", "collector"} {
		for _, inst := range []int{AnyInstance, 3} {
			p := peer(role, inst)
			t.Run(strings.ReplaceAll(p.URI().Path, "/", "_"), func(t *testing.T) {
				c, err := ca.Issue(p, now, CertLifetime)
				if err != nil {
					t.Fatal(err)
				}
				if err := c.Check(); err != nil {
					t.Fatal(err)
				}
				if len(c.Leaf.URIs) != 1 || c.Leaf.URIs[0].String() != p.URI().String() {
					t.Fatalf("URIs = %v, want [%s]", c.Leaf.URIs, p.URI())
				}
				got, err := PeerOf(c.Leaf)
				if err != nil {
					t.Fatal(err)
				}
				if got != p {
					t.Fatalf("PeerOf = %#v, want %#v", got, p)
				}
				if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}}); err != nil {
					t.Fatalf("does not chain to the CA for both uses: %v", err)
				}
				if d := c.Leaf.NotAfter.Sub(now); d < CertLifetime-time.Second || d > CertLifetime {
					t.Fatalf("lifetime %v, want %v", d, CertLifetime)
				}
				if c.Leaf.NotBefore.After(now) {
					t.Fatalf("NotBefore %v is after the issue time %v", c.Leaf.NotBefore, now)
				}
			})
		}
	}
}

func TestIssueRefuses(t *testing.T) {
	ca := newCA(t, campaign)
	if _, err := ca.Issue(Peer{Campaign: "other", Role: "edge", Instance: AnyInstance}, time.Now(), CertLifetime); err == nil {
		t.Error("a CA issued for another campaign")
	}
	verifyOnly := &CA{Cert: ca.Cert}
	if _, err := verifyOnly.Issue(edge, time.Now(), CertLifetime); err == nil {
		t.Error("a CA without a key issued a certificate")
	}
}

// TestIssueRefusesPeerItCannotName: a certificate from Issue(p) must name
// p. Issue writes p.Role into the path unchecked, so a role with a '/' or
// an instance below AnyInstance gives a certificate that names another
// peer, or none.
func TestIssueRefusesPeerItCannotName(t *testing.T) {
	ca := newCA(t, campaign)
	for _, p := range []Peer{
		peer("collector/3", AnyInstance), // would name collector 3
		peer("", AnyInstance),
		peer("collector", -2),
		{Campaign: campaign, Role: "edge/x", Instance: 1},
	} {
		c, err := ca.Issue(p, time.Now(), CertLifetime)
		if err != nil {
			continue
		}
		if got, err := PeerOf(c.Leaf); err != nil {
			t.Errorf("Issue(%#v) made a certificate for %s, which names no peer: %v", p, c.Leaf.URIs[0], err)
		} else {
			t.Errorf("Issue(%#v) made a certificate for %s, which names %#v", p, c.Leaf.URIs[0], got)
		}
	}
}

func TestCovers(t *testing.T) {
	for _, tc := range []struct {
		cert, want Peer
		ok         bool
	}{
		{edge, edge, true},
		{edge, publisher, false},
		{publisher, collector, false},
		{collector, collector, true},
		{collector, collector0, true},   // a certificate for every instance
		{collector0, collector, true},   // the client takes any instance
		{collector0, collector0, true},  // the same instance
		{collector1, collector0, false}, // another instance
		{collector0, collector1, false}, // and the other way
		{peer("collector", 10), peer("collector", 1), false},
		{Peer{"other", "edge", AnyInstance}, edge, false},
		{Peer{"other", "collector", AnyInstance}, collector0, false},
		{Peer{"Demo-2026", "edge", AnyInstance}, edge, false},
		{peer("Edge", AnyInstance), edge, false},
	} {
		if got := tc.cert.Covers(tc.want); got != tc.ok {
			t.Errorf("(%s).Covers(%s) = %v, want %v", tc.cert, tc.want, got, tc.ok)
		}
	}
}

// TestPeerOfRefuses: a certificate that names no peer in the package
// comment's form gives ErrBadPeer.
func TestPeerOfRefuses(t *testing.T) {
	ca := newCA(t, campaign)
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	for _, uris := range [][]string{
		nil,
		{"https://demo-2026/edge"},
		{"spiffe://demo-2026/edge"},
		{"powvote:///edge"},
		{"powvote://demo-2026"},
		{"powvote://demo-2026/"},
		{"powvote://demo-2026//edge"},
		{"powvote://demo-2026/collector/"},
		{"powvote://demo-2026/collector/x"},
		{"powvote://demo-2026/collector/03"},
		{"powvote://demo-2026/collector/+3"},
		{"powvote://demo-2026/collector/-1"},
		{"powvote://demo-2026/collector/-0"},
		{"powvote://demo-2026/collector/99999999999999999999"},
		{"powvote://demo-2026/collector/1/2"},
		// The first powvote name decides; a good one after a bad one is
		// not looked for.
		{"powvote://demo-2026/collector/x", "powvote://demo-2026/edge"},
	} {
		var us []*url.URL
		for _, s := range uris {
			us = append(us, mustURL(t, s))
		}
		c, err := signURIs(t, ca, pub, us...)
		if err != nil {
			t.Fatal(err)
		}
		if p, err := PeerOf(c); !errors.Is(err, ErrBadPeer) {
			t.Errorf("PeerOf(%v) = %#v, %v; want %v", uris, p, err, ErrBadPeer)
		}
	}
	// Another scheme before the powvote name is skipped.
	c, err := signURIs(t, ca, pub, mustURL(t, "https://example.com/x"), edge.URI())
	if err != nil {
		t.Fatal(err)
	}
	if p, err := PeerOf(c); err != nil || p != edge {
		t.Errorf("PeerOf(https…, %s) = %#v, %v; want %#v", edge.URI(), p, err, edge)
	}
}

func TestCertPEM(t *testing.T) {
	ca := newCA(t, campaign)
	c := issue(t, ca, edge)
	text := CertPEM(c.Leaf)
	if !strings.HasPrefix(text, "-----BEGIN CERTIFICATE-----\n") || !strings.HasSuffix(text, "-----END CERTIFICATE-----\n") {
		t.Fatalf("CertPEM = %q", text)
	}
	got, err := ParseCertPEM(text)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(c.Leaf) {
		t.Fatal("ParseCertPEM(CertPEM(c)) is another certificate")
	}
	for name, bad := range map[string]string{
		"empty":        "",
		"two":          text + CertPEM(ca.Cert),
		"trailing":     text + "x",
		"another type": strings.ReplaceAll(text, "CERTIFICATE", "PRIVATE KEY"),
		"truncated":    text[:len(text)/2] + "\n-----END CERTIFICATE-----\n",
	} {
		if _, err := ParseCertPEM(bad); err == nil {
			t.Errorf("%s: ParseCertPEM accepted %q", name, bad)
		}
	}
}

// Sources of the certificates a process may wrongly be given.
func TestNewRefuses(t *testing.T) {
	ca := newCA(t, campaign)
	other := newCA(t, "other")
	impostor := newCA(t, campaign) // the same name, another key
	edgeCert := issue(t, ca, edge)
	pubCert := issue(t, ca, publisher)
	c1 := issue(t, ca, collector1)
	expired, err := ca.Issue(edge, time.Now().Add(-3*time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	future, err := ca.Issue(edge, time.Now().Add(3*time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	errDisk := errors.New("disk on fire")
	for _, tc := range []struct {
		name string
		self Peer
		src  Source
		want error
	}{
		{"another role", edge, fixed(ca, pubCert), ErrWrongRole},
		{"another instance", collector0, fixed(ca, c1), ErrWrongRole},
		{"another campaign", edge, fixed(other, issue(t, other, Peer{"other", "edge", AnyInstance})), ErrWrongRole},
		{"key of another certificate", edge, fixed(ca, &Cert{Leaf: edgeCert.Leaf, Key: pubCert.Key}), ErrKeyMismatch},
		{"no key", edge, fixed(ca, &Cert{Leaf: edgeCert.Leaf}), ErrKeyMismatch},
		{"expired", edge, fixed(ca, expired), ErrExpired},
		{"not yet valid", edge, fixed(ca, future), ErrExpired},
		{"another CA", edge, func() (*Cert, *x509.Certificate, error) { return edgeCert, impostor.Cert, nil }, ErrUnknownCA},
		{"source fails", edge, func() (*Cert, *x509.Certificate, error) { return nil, nil, errDisk }, errDisk},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := New(tc.self, tc.src)
			if !errors.Is(err, tc.want) {
				t.Fatalf("New = %v, %v; want %v", l, err, tc.want)
			}
		})
	}
	// What New accepts: a certificate for every instance, and one limited
	// to an instance for a process that may be any.
	for _, tc := range []struct {
		self Peer
		cert *Cert
	}{
		{collector0, issue(t, ca, collector)},
		{collector, c1},
		{collector1, c1},
	} {
		l, err := New(tc.self, fixed(ca, tc.cert))
		if err != nil {
			t.Errorf("New(%s) with a certificate for %s: %v", tc.self, tc.cert.Leaf.URIs[0], err)
			continue
		}
		if want, _ := PeerOf(tc.cert.Leaf); l.Self() != want {
			t.Errorf("Self() = %s, want %s", l.Self(), want)
		}
		if !l.Expires().Equal(tc.cert.Leaf.NotAfter) {
			t.Errorf("Expires() = %v, want %v", l.Expires(), tc.cert.Leaf.NotAfter)
		}
	}
}

func TestCheckURL(t *testing.T) {
	l := newLink(t, newCA(t, campaign), edge)
	if l.Plain() || l.Scheme() != "https" || l.Pass() != "" {
		t.Fatalf("TLS Link: Plain %v, Scheme %q, Pass %q", l.Plain(), l.Scheme(), l.Pass())
	}
	if err := l.CheckURL("https://collector-0.internal:8443/sync"); err != nil {
		t.Errorf("https:// refused: %v", err)
	}
	err := l.CheckURL("http://collector-0.internal:8080/sync")
	if !errors.Is(err, ErrPlainHTTP) || !strings.Contains(err.Error(), "https://") {
		t.Errorf("http:// gave %v, want %v naming https://", err, ErrPlainHTTP)
	}
	if err := l.CheckURL("http://user:secret@collector/"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("http:// with a password gave %v: want a refusal that does not repeat the password", err)
	}
	if err := l.CheckURL("https://%zz"); err == nil {
		t.Error("a URL that does not parse was accepted")
	}
}

// testServer is a server of internal links on loopback: each connection is
// accepted through the Link's Listen wrapper, handshaken, reported on
// results, and then answers HTTP/1.1 requests with the name of the caller.
type testServer struct {
	url     string
	results chan serverResult

	mu    sync.Mutex
	conns []net.Conn
}

// serverResult is what the server saw of one connection.
type serverResult struct {
	caller Peer
	state  tls.ConnectionState
	err    error // of the handshake, or of Caller
}

func startServer(t *testing.T, link *Link) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{url: "https://" + ln.Addr().String() + "/", results: make(chan serverResult, 64)}
	tln := link.Listen(ln)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := tln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.serve(link, c.(*tls.Conn))
			}()
		}
	}()
	t.Cleanup(func() {
		tln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		wg.Wait()
	})
	return s
}

func (s *testServer) serve(link *Link, c *tls.Conn) {
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.HandshakeContext(ctx); err != nil {
		s.results <- serverResult{err: err}
		// Read what the client still sends until it closes, so that
		// closing does not reset the connection before the client has
		// read the alert.
		raw := c.NetConn()
		if r, ok := raw.(*refusingConn); ok {
			raw = r.Conn
		}
		raw.SetReadDeadline(time.Now().Add(2 * time.Second))
		io.Copy(io.Discard, raw)
		return
	}
	cs := c.ConnectionState()
	p, err := link.Caller(&cs, nil)
	s.results <- serverResult{caller: p, state: cs, err: err}
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		cs := c.ConnectionState()
		code, body := 200, ""
		if p, err := link.Caller(&cs, nil); err != nil {
			code, body = 403, "refused\n"
		} else {
			body = p.String() + "\n"
		}
		fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", code, http.StatusText(code), len(body), body)
	}
}

// next is what the server saw of the next connection.
func (s *testServer) next(t *testing.T) serverResult {
	t.Helper()
	select {
	case r := <-s.results:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("the server saw no connection")
		return serverResult{}
	}
}

// client is an HTTP client of internal links with its own connections.
func client(t *testing.T, cfg *tls.Config) *http.Client {
	tr := &http.Transport{TLSClientConfig: cfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

// get does a GET and reads the whole answer.
func get(c *http.Client, url string) (*http.Response, string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// TestExchange: an edge calls collector 0 over mutual TLS 1.3; the server
// learns from the certificate that the edge is calling, the client that it
// reached collector 0.
func TestExchange(t *testing.T) {
	ca := newCA(t, campaign)
	srv := startServer(t, newLink(t, ca, collector0))
	cl := newLink(t, ca, edge)
	resp, body, err := get(client(t, cl.ClientConfig(collector0)), srv.url)
	if err != nil {
		t.Fatal(err)
	}
	r := srv.next(t)
	if r.err != nil {
		t.Fatalf("server: %v", r.err)
	}
	if r.caller != edge {
		t.Errorf("Caller = %#v, want %#v", r.caller, edge)
	}
	if resp.StatusCode != 200 || body != "edge of campaign demo-2026\n" {
		t.Errorf("answer %d %q", resp.StatusCode, body)
	}
	if r.state.Version != tls.VersionTLS13 || resp.TLS.Version != tls.VersionTLS13 {
		t.Errorf("TLS versions: server %s, client %s; want TLS 1.3", tls.VersionName(r.state.Version), tls.VersionName(resp.TLS.Version))
	}
	if p, err := PeerOf(resp.TLS.PeerCertificates[0]); err != nil || p != collector0 {
		t.Errorf("the client reached %v (%v), want %s", p, err, collector0)
	}
	// Caller outside a handshake's state.
	if _, err := cl.Caller(nil, nil); !errors.Is(err, ErrPlainHTTP) {
		t.Errorf("Caller(nil) = %v, want %v", err, ErrPlainHTTP)
	}
	if _, err := cl.Caller(&tls.ConnectionState{}, nil); !errors.Is(err, ErrNoCert) {
		t.Errorf("Caller of a state without certificates = %v, want %v", err, ErrNoCert)
	}
}

// exchange does one GET over a connection of its own and returns the
// answer or the error that reading it gave. A client that the server
// refuses after a TLS 1.3 handshake learns it only from the alert it reads
// next; http.Transport, which writes and reads at once, may report instead
// the write on the connection it closed on reading the alert, so the
// refusals of clients use this.
func exchange(cfg *tls.Config, url string) (*http.Response, error) {
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "https://"), "/")
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: cfg}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	req, _ := http.NewRequest("GET", url, nil)
	if err := req.Write(c); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		return nil, err
	}
	_, err = io.ReadAll(resp.Body)
	return resp, err
}

// attacker is the TLS configuration of a client that presents cert (none if
// nil) and believes any server.
func attacker(cert *Cert) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{{Certificate: [][]byte{cert.Leaf.Raw}, PrivateKey: cert.Key, Leaf: cert.Leaf}}
	}
	return cfg
}

// alerted reports whether err names one of the '|'-separated alerts.
func alerted(err error, alerts string) bool {
	if err == nil {
		return false
	}
	for _, a := range strings.Split(alerts, "|") {
		if strings.Contains(err.Error(), "remote error: "+a) {
			return true
		}
	}
	return false
}

// TestServerRefusesClient: the server refuses a client certificate it
// cannot trust and says why; the client, which only receives a TLS alert,
// reads the alert's name.
func TestServerRefusesClient(t *testing.T) {
	ca := newCA(t, campaign)
	other := newCA(t, "other")
	impostor := newCA(t, campaign)
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	renamed, err := signURIs(t, ca, pub, Peer{"other", "edge", AnyInstance}.URI())
	if err != nil {
		t.Fatal(err)
	}
	expired, err := ca.Issue(edge, time.Now().Add(-3*time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	server := newLink(t, ca, collector0)
	for _, tc := range []struct {
		name  string
		cert  *Cert
		want  error  // on the server
		alert string // on the client
	}{
		{"another campaign's CA", issue(t, other, Peer{"other", "edge", AnyInstance}), ErrUnknownCA, "tls: bad certificate"},
		{"another CA of the same name", issue(t, impostor, edge), ErrUnknownCA, "tls: bad certificate"},
		{"this CA's key naming another campaign", &Cert{Leaf: renamed, Key: key}, ErrUnknownCA, "tls: bad certificate"},
		{"expired", expired, ErrExpired, "tls: bad certificate"},
		// crypto/tls sends "certificate required" when it refuses, the
		// bad certificate alert of VerifyConnection names the cause too.
		{"no certificate", nil, ErrNoCert, "tls: certificate required|tls: bad certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, server)
			resp, err := exchange(attacker(tc.cert), srv.url)
			if !alerted(err, tc.alert) {
				t.Errorf("client: %v, %v; want an error with %q", resp, err, tc.alert)
			}
			r := srv.next(t)
			if !errors.Is(r.err, tc.want) {
				t.Errorf("server: %v, want %v", r.err, tc.want)
			}
		})
	}
}

// TestServerRefusesExpiredByClock: the server's clock, not the issuer's,
// decides that a certificate has expired.
func TestServerRefusesExpiredByClock(t *testing.T) {
	ca := newCA(t, campaign)
	cl, err := ca.Issue(edge, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	client1, err := New(edge, fixed(ca, cl))
	if err != nil {
		t.Fatal(err)
	}
	server := newLink(t, ca, collector0)
	server.SetClock(func() time.Time { return time.Now().Add(2 * time.Hour) })
	srv := startServer(t, server)
	if resp, err := exchange(client1.ClientConfig(collector0), srv.url); !alerted(err, "tls: bad certificate") {
		t.Errorf("client: %v, %v; want a bad certificate alert", resp, err)
	}
	if r := srv.next(t); !errors.Is(r.err, ErrExpired) {
		t.Errorf("server: %v, want %v", r.err, ErrExpired)
	}
}

// TestClientRefusesServer: the client refuses a server that is not of the
// campaign, has expired, or is not the role or instance it dialled.
func TestClientRefusesServer(t *testing.T) {
	ca := newCA(t, campaign)
	other := newCA(t, "other")
	impostor := newCA(t, campaign)
	edgeLink := newLink(t, ca, edge)
	late := newLink(t, ca, edge)
	late.SetClock(func() time.Time { return time.Now().Add(CertLifetime + time.Hour) })
	for _, tc := range []struct {
		name   string
		server *Link
		client *Link
		want   Peer
		err    error
	}{
		{"another campaign's CA", newLink(t, other, Peer{"other", "collector", 0}), edgeLink, collector0, ErrUnknownCA},
		{"another CA of the same name", newLink(t, impostor, collector0), edgeLink, collector0, ErrUnknownCA},
		{"expired", newLink(t, ca, collector0), late, collector0, ErrExpired},
		{"publisher, not collector", newLink(t, ca, publisher), edgeLink, collector, ErrWrongRole},
		{"collector, not publisher", newLink(t, ca, collector), edgeLink, publisher, ErrWrongRole},
		{"instance 1, not 0", newLink(t, ca, collector1), edgeLink, collector0, ErrWrongRole},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, tc.server)
			_, _, err := get(client(t, tc.client.ClientConfig(tc.want)), srv.url)
			if !errors.Is(err, tc.err) {
				t.Errorf("client: %v, want %v", err, tc.err)
			}
			r := srv.next(t)
			if !alerted(r.err, "tls: bad certificate") {
				t.Errorf("server: %v, want a bad certificate alert", r.err)
			}
		})
	}
}

// TestClientAcceptsInstance: a collector certificate for every instance
// serves a client that wants instance 0, and so does one for instance 0.
func TestClientAcceptsInstance(t *testing.T) {
	ca := newCA(t, campaign)
	cl := newLink(t, ca, edge)
	for _, server := range []Peer{collector, collector0} {
		srv := startServer(t, newLink(t, ca, server))
		resp, _, err := get(client(t, cl.ClientConfig(collector0)), srv.url)
		if err != nil {
			t.Errorf("%s serving collector 0: %v", server, err)
			continue
		}
		if p, _ := PeerOf(resp.TLS.PeerCertificates[0]); p != server {
			t.Errorf("reached %s, want %s", p, server)
		}
		if r := srv.next(t); r.err != nil || r.caller != edge {
			t.Errorf("server: %v, %v", r.caller, r.err)
		}
	}
}

// TestTLS12Refused: internal links speak TLS 1.3 only.
func TestTLS12Refused(t *testing.T) {
	ca := newCA(t, campaign)
	srv := startServer(t, newLink(t, ca, collector0))
	cfg := newLink(t, ca, edge).ClientConfig(collector0)
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	if _, _, err := get(client(t, cfg), srv.url); err == nil {
		t.Error("a TLS 1.2 client was served")
	}
	if r := srv.next(t); r.err == nil {
		t.Error("the server accepted TLS 1.2")
	}
}

// TestPlainClient: a client that speaks plain HTTP to a TLS port reads an
// HTTP 400 that says the port speaks TLS, and the server's error says what
// happened.
func TestPlainClient(t *testing.T) {
	srv := startServer(t, newLink(t, newCA(t, campaign), collector0))
	url := "http://" + strings.TrimPrefix(srv.url, "https://")
	resp, body, err := get(&http.Client{Timeout: 5 * time.Second}, url)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status %d, want 400", resp.StatusCode)
	}
	if body != plainRefusal || !strings.Contains(body, "this port speaks TLS") || !strings.Contains(body, "https://") {
		t.Errorf("body %q", body)
	}
	r := srv.next(t)
	if !errors.Is(r.err, ErrPlainHTTP) {
		t.Errorf("server: %v, want %v", r.err, ErrPlainHTTP)
	}
}

// TestReload: after Reload, new connections present the new certificate;
// a connection opened before keeps its certificate and keeps working.
func TestReload(t *testing.T) {
	ca := newCA(t, campaign)
	s1, s2 := issue(t, ca, collector0), issue(t, ca, collector0)
	cur := s1
	server, err := New(collector0, func() (*Cert, *x509.Certificate, error) { return cur, ca.Cert, nil })
	if err != nil {
		t.Fatal(err)
	}
	e1, e2 := issue(t, ca, edge), issue(t, ca, edge)
	curEdge := e1
	cl, err := New(edge, func() (*Cert, *x509.Certificate, error) { return curEdge, ca.Cert, nil })
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, server)

	// served does a GET on c and reports the serial number the client saw
	// and whether the connection was one opened before.
	served := func(c *http.Client) (serial *big.Int, reused bool) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.url, nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused },
		}))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		return resp.TLS.PeerCertificates[0].SerialNumber, reused
	}
	old := client(t, cl.ClientConfig(collector0))
	if sn, _ := served(old); sn.Cmp(s1.Leaf.SerialNumber) != 0 {
		t.Fatalf("first connection: serial %x, want %x", sn, s1.Leaf.SerialNumber)
	}
	if r := srv.next(t); r.state.PeerCertificates[0].SerialNumber.Cmp(e1.Leaf.SerialNumber) != 0 {
		t.Fatalf("server saw client serial %x, want %x", r.state.PeerCertificates[0].SerialNumber, e1.Leaf.SerialNumber)
	}

	cur, curEdge = s2, e2
	if err := server.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := cl.Reload(); err != nil {
		t.Fatal(err)
	}
	if !server.Expires().Equal(s2.Leaf.NotAfter) {
		t.Errorf("Expires after Reload = %v, want %v", server.Expires(), s2.Leaf.NotAfter)
	}

	sn, reused := served(old)
	if !reused || sn.Cmp(s1.Leaf.SerialNumber) != 0 {
		t.Errorf("connection opened before: reused %v, serial %x; want reused, %x", reused, sn, s1.Leaf.SerialNumber)
	}
	sn, reused = served(client(t, cl.ClientConfig(collector0)))
	if reused || sn.Cmp(s2.Leaf.SerialNumber) != 0 {
		t.Errorf("new connection: reused %v, serial %x; want %x", reused, sn, s2.Leaf.SerialNumber)
	}
	r := srv.next(t)
	if got := r.state.PeerCertificates[0].SerialNumber; got.Cmp(e2.Leaf.SerialNumber) != 0 {
		t.Errorf("server saw client serial %x on the new connection, want %x", got, e2.Leaf.SerialNumber)
	}
	if r.err != nil || r.caller != edge {
		t.Errorf("server: %v, %v", r.caller, r.err)
	}

	// A Reload that fails keeps what the Link had.
	cur = issue(t, ca, publisher)
	if err := server.Reload(); !errors.Is(err, ErrWrongRole) {
		t.Fatalf("Reload with a publisher certificate: %v, want %v", err, ErrWrongRole)
	}
	sn, _ = served(client(t, cl.ClientConfig(collector0)))
	if sn.Cmp(s2.Leaf.SerialNumber) != 0 {
		t.Errorf("after a failed Reload: serial %x, want %x", sn, s2.Leaf.SerialNumber)
	}
	srv.next(t)
}

// TestPlain: the Links of NewPlain speak plain HTTP and name each caller
// by its token.
func TestPlain(t *testing.T) {
	pl := NewPlain(campaign)
	peers := []Peer{edge, publisher, collector0, collector1}
	links := make([]*Link, len(peers))
	seen := map[string]bool{}
	for i, p := range peers {
		links[i] = pl.Link(p.Role, p.Instance)
		tok := links[i].Pass()
		if len(tok) < 40 || seen[tok] {
			t.Fatalf("token of %s: %q (empty, short or another's)", p, tok)
		}
		seen[tok] = true
	}
	if again := pl.Link("edge", AnyInstance); again.Pass() != links[0].Pass() {
		t.Error("a second Link for the edge has another token")
	}
	l := links[2]
	if !l.Plain() || l.Scheme() != "http" || l.ServerConfig() != nil || l.ClientConfig(edge) != nil {
		t.Errorf("plain Link: Plain %v, Scheme %q, ServerConfig %v, ClientConfig %v", l.Plain(), l.Scheme(), l.ServerConfig(), l.ClientConfig(edge))
	}
	if l.Self() != collector0 || !l.Expires().IsZero() || l.Reload() != nil {
		t.Errorf("plain Link: Self %s, Expires %v", l.Self(), l.Expires())
	}
	if err := l.CheckURL("http://127.0.0.1:8080/"); err != nil {
		t.Errorf("http:// refused: %v", err)
	}
	if err := l.CheckURL("https://127.0.0.1:8443/"); err == nil {
		t.Error("https:// accepted by a plain Link")
	}
	for i, p := range peers {
		got, err := l.Caller(nil, []byte(links[i].Pass()))
		if err != nil || got != p {
			t.Errorf("Caller(token of %s) = %s, %v", p, got, err)
		}
	}
	for _, bad := range []string{"", "x", links[0].Pass()[1:], links[0].Pass() + "x", strings.ToUpper(links[0].Pass())} {
		if p, err := l.Caller(nil, []byte(bad)); !errors.Is(err, ErrNoCert) {
			t.Errorf("Caller(%q) = %s, %v; want %v", bad, p, err, ErrNoCert)
		}
	}
	if p, err := l.Caller(nil, nil); !errors.Is(err, ErrNoCert) {
		t.Errorf("Caller(nil) = %s, %v; want %v", p, err, ErrNoCert)
	}
	// Another campaign's table knows none of these tokens.
	if _, err := NewPlain("other").Link("edge", AnyInstance).Caller(nil, []byte(links[0].Pass())); !errors.Is(err, ErrNoCert) {
		t.Errorf("another campaign's table took the edge's token: %v", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Listen(ln); got != ln {
		t.Fatalf("plain Listen wrapped the listener: %T", got)
	}
	// A real exchange: the edge's request carries its token.
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := l.Caller(nil, []byte(r.Header.Get("Pass")))
		if err != nil {
			http.Error(w, "who are you", http.StatusForbidden)
			return
		}
		fmt.Fprintln(w, p)
	})}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(l.Listen(ln)) }()
	defer func() {
		hs.Close()
		<-done
	}()
	u := "http://" + ln.Addr().String() + "/"
	if err := links[0].CheckURL(u); err != nil {
		t.Fatal(err)
	}
	hc := client(t, links[0].ClientConfig(collector0))
	for _, tc := range []struct {
		pass string
		code int
		body string
	}{
		{links[0].Pass(), 200, "edge of campaign demo-2026\n"},
		{"", 403, "who are you\n"},
	} {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Pass", tc.pass)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || string(b) != tc.body {
			t.Errorf("Pass %q: %d %q, want %d %q", tc.pass, resp.StatusCode, b, tc.code, tc.body)
		}
	}
}
