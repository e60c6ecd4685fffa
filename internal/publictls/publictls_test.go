package publictls_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/internal/connlimit"
	"github.com/powvote/powvote/internal/publictls"
	"github.com/powvote/powvote/internal/publictls/publictlstest"
)

// TestLoadRefuses checks that Load refuses what it cannot serve, with an
// error that names the files.
func TestLoadRefuses(t *testing.T) {
	ca := publictlstest.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := ca.Issue(t, time.Hour).Write(t, dir)
	other := ca.Issue(t, time.Hour)
	otherKey := filepath.Join(dir, "other.key")
	if err := os.WriteFile(otherKey, other.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not PEM\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct {
		name          string
		cert, key     string
		mismatch      bool
		wantInMessage []string
	}{
		{"another certificate's key", certFile, otherKey, true, []string{otherKey, certFile, "does not match"}},
		{"the key given as certificate", keyFile, keyFile, false, []string{keyFile}},
		{"certificate unreadable", missing, keyFile, false, []string{missing, "couldn't read the certificate"}},
		{"key unreadable", certFile, missing, false, []string{missing, "couldn't read the key"}},
		{"key is a directory", certFile, dir, false, []string{dir, "couldn't read the key"}},
		{"key not PEM", certFile, garbage, false, []string{garbage, certFile}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := publictls.Load(tc.cert, tc.key)
			if err == nil {
				t.Fatalf("Load(%s, %s) accepted: %+v", tc.cert, tc.key, c.Info(time.Now()))
			}
			if errors.Is(err, publictls.ErrMismatch) != tc.mismatch {
				t.Errorf("Load: %v; ErrMismatch %v, want %v", err, !tc.mismatch, tc.mismatch)
			}
			for _, s := range tc.wantInMessage {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Load: %q does not say %q", err, s)
				}
			}
		})
	}
	if _, err := publictls.Load(certFile, keyFile); err != nil {
		t.Errorf("Load of a good pair: %v", err)
	}
}

// TestInfo checks what the command logs: names, serial, expiry and the
// warnings.
func TestInfo(t *testing.T) {
	ca := publictlstest.NewCA(t)
	now := time.Now()
	for _, tc := range []struct {
		name             string
		lifetime         time.Duration
		keyMode          os.FileMode
		soon, gone, open bool
	}{
		{"90 days", 90 * 24 * time.Hour, 0o600, false, false, false},
		{"15 days", 15 * 24 * time.Hour, 0o600, false, false, false},
		{"13 days", 13 * 24 * time.Hour, 0o600, true, false, false},
		{"expired", -time.Minute, 0o600, true, true, false},
		{"key readable by its group", 90 * 24 * time.Hour, 0o640, false, false, true},
		{"key readable by all", 90 * 24 * time.Hour, 0o644, false, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaf := ca.Issue(t, tc.lifetime)
			certFile, keyFile := leaf.Write(t, t.TempDir())
			if err := os.Chmod(keyFile, tc.keyMode); err != nil {
				t.Fatal(err)
			}
			c, err := publictls.Load(certFile, keyFile)
			if err != nil {
				t.Fatal(err)
			}
			in := c.Info(now)
			if in.ExpiresSoon != tc.soon || in.Expired != tc.gone || in.KeyShared != tc.open {
				t.Errorf("Info: soon %v expired %v key shared %v, want %v %v %v", in.ExpiresSoon, in.Expired, in.KeyShared, tc.soon, tc.gone, tc.open)
			}
			if !in.NotAfter.Equal(leaf.Cert.NotAfter) || in.Serial != leaf.Cert.SerialNumber.Text(16) ||
				strings.Join(in.Names, " ") != "localhost 127.0.0.1 ::1" || in.CertFile != certFile || in.KeyFile != keyFile {
				t.Errorf("Info %+v does not describe the leaf (serial %x, expiry %v)", in, leaf.Cert.SerialNumber, leaf.Cert.NotAfter)
			}
		})
	}
}

// server serves "ok" over TLS with c's pair on loopback, through Listen
// over the connection limits as the edge does; it returns the address
// and what fasthttp logged.
func server(t *testing.T, c *publictls.Cert, limits connlimit.Config, readTimeout time.Duration) (string, *syncBuffer) {
	t.Helper()
	addr, logged, _ := serverStop(t, c, limits, readTimeout)
	return addr, logged
}

// serverStop is server that also returns a function that shuts the
// server down and returns how long that took.
func serverStop(t *testing.T, c *publictls.Cert, limits connlimit.Config, readTimeout time.Duration) (string, *syncBuffer, func() time.Duration) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lln, err := connlimit.New(ln, limits)
	if err != nil {
		t.Fatal(err)
	}
	logged := &syncBuffer{}
	srv := &fasthttp.Server{
		Handler:         func(ctx *fasthttp.RequestCtx) { ctx.WriteString("ok") },
		ReadTimeout:     readTimeout,
		IdleTimeout:     time.Minute,
		CloseOnShutdown: true,
		Logger:          log.New(logged, "", 0),
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(publictls.Listen(lln, c.Config())) }()
	var once sync.Once
	var took time.Duration
	stop := func() time.Duration {
		once.Do(func() {
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			srv.ShutdownWithContext(ctx)
			<-done
			took = time.Since(start)
		})
		return took
	}
	t.Cleanup(func() { stop() })
	return ln.Addr().String(), logged, stop
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var wide = connlimit.Config{Max: 100}

// getSerial sends GET / with hc and returns the serial of the certificate
// the connection showed and whether the connection was reused.
func getSerial(t *testing.T, hc *http.Client, addr string) (serial string, reused bool) {
	t.Helper()
	req, err := http.NewRequest("GET", "https://"+addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
	}))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET https://%s/: %v", addr, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "ok" || resp.TLS == nil {
		t.Fatalf("GET https://%s/: %d %q", addr, resp.StatusCode, body)
	}
	if resp.TLS.NegotiatedProtocol != "http/1.1" || resp.ProtoMajor != 1 {
		t.Errorf("ALPN %q, %s: want http/1.1", resp.TLS.NegotiatedProtocol, resp.Proto)
	}
	return resp.TLS.PeerCertificates[0].SerialNumber.Text(16), reused
}

func newClient(t *testing.T, ca *publictlstest.CA) *http.Client {
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   ca.ClientConfig(),
		ForceAttemptHTTP2: true, // offers h2: the server must not take it
	}}
	t.Cleanup(hc.CloseIdleConnections)
	return hc
}

// TestReload checks that Reload serves the new pair to new connections
// while an open connection keeps working, and that a failed Reload keeps
// the pair in use.
func TestReload(t *testing.T) {
	ca := publictlstest.NewCA(t)
	dir := t.TempDir()
	first, second := ca.Issue(t, time.Hour), ca.Issue(t, time.Hour)
	certFile, keyFile := first.Write(t, dir)
	c, err := publictls.Load(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	addr, logged := server(t, c, wide, 5*time.Second)
	want1, want2 := first.Cert.SerialNumber.Text(16), second.Cert.SerialNumber.Text(16)

	open := newClient(t, ca)
	if s, _ := getSerial(t, open, addr); s != want1 {
		t.Fatalf("first connection shows serial %s, want %s", s, want1)
	}
	second.Write(t, dir)
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	if s, reused := getSerial(t, open, addr); s != want1 || !reused {
		t.Errorf("after Reload, the open connection: serial %s, reused %v; want %s on the same connection", s, reused, want1)
	}
	if s, reused := getSerial(t, newClient(t, ca), addr); s != want2 || reused {
		t.Errorf("after Reload, a new connection: serial %s, reused %v; want %s", s, reused, want2)
	}
	if got := c.Info(time.Now()).Serial; got != want2 {
		t.Errorf("Info after Reload: serial %s, want %s", got, want2)
	}

	// A renewal half written: the new certificate with the old key.
	third := ca.Issue(t, time.Hour)
	if err := os.WriteFile(certFile, third.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Reload(); !errors.Is(err, publictls.ErrMismatch) {
		t.Errorf("Reload with a certificate and another's key: %v, want ErrMismatch", err)
	}
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	if err := c.Reload(); err == nil || !strings.Contains(err.Error(), keyFile) {
		t.Errorf("Reload without a key file: %v", err)
	}
	if s, _ := getSerial(t, newClient(t, ca), addr); s != want2 {
		t.Errorf("after failed Reloads, a new connection shows serial %s, want %s (the pair in use)", s, want2)
	}
	if s, reused := getSerial(t, open, addr); s != want1 || !reused {
		t.Errorf("the first connection, at the end: serial %s, reused %v", s, reused)
	}
	if l := logged.String(); l != "" {
		t.Errorf("the server logged %q", l)
	}
}

// TestALPN checks that the server speaks HTTP/1.1 only: a client that
// offers h2 with http/1.1 gets http/1.1, one that offers only h2 no
// connection, and one that offers nothing no protocol.
func TestALPN(t *testing.T) {
	ca := publictlstest.NewCA(t)
	c, err := publictls.Load(ca.Issue(t, time.Hour).Write(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := server(t, c, wide, 5*time.Second)
	for _, tc := range []struct {
		offer []string
		want  string // "": none; "refused": no handshake
	}{
		{[]string{"h2", "http/1.1"}, "http/1.1"},
		{[]string{"http/1.1"}, "http/1.1"},
		{nil, ""},
		{[]string{"h2"}, "refused"},
	} {
		conn, err := tls.Dial("tcp", addr, ca.ClientConfig(tc.offer...))
		got := "refused"
		if err == nil {
			got = conn.ConnectionState().NegotiatedProtocol
			conn.Close()
		}
		if got != tc.want {
			t.Errorf("client offering %q: %q (%v), want %q", tc.offer, got, err, tc.want)
		}
	}
}

// TestStalledHandshake checks that the server's read timeout bounds a
// handshake that does not finish, that a failed handshake is closed
// without a word in the log (which would name the client's address),
// and that a minimum version holds.
func TestStalledHandshake(t *testing.T) {
	ca := publictlstest.NewCA(t)
	c, err := publictls.Load(ca.Issue(t, time.Hour).Write(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	const readTimeout = 500 * time.Millisecond
	addr, logged := server(t, c, wide, readTimeout)
	for _, tc := range []struct {
		name string
		send string
		fast bool // closed at once rather than at the timeout
	}{
		{"nothing", "", false},
		// A record header announcing a ClientHello of 0x50 bytes, and
		// its first byte.
		{"half a ClientHello", "\x16\x03\x01\x00\x50\x01\x00", false},
		{"plain HTTP", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			io.WriteString(nc, tc.send)
			start := time.Now()
			nc.SetReadDeadline(start.Add(10 * readTimeout))
			b, err := io.ReadAll(nc)
			took := time.Since(start)
			if err != nil {
				t.Fatalf("connection not closed within %v (%v)", 10*readTimeout, err)
			}
			if took > 3*readTimeout || tc.fast && took > readTimeout/2 {
				t.Errorf("closed after %v, read timeout %v", took, readTimeout)
			}
			if tc.send != "" && tc.fast && len(b) > 0 && !bytes.HasPrefix(b, []byte{0x15}) {
				t.Errorf("answered %q", b)
			}
		})
	}
	old := ca.ClientConfig()
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	if conn, err := tls.Dial("tcp", addr, old); err == nil || !strings.Contains(err.Error(), "remote error: tls: protocol version not supported") {
		if conn != nil {
			conn.Close()
		}
		t.Errorf("a TLS 1.1 client: %v, want the server's refusal", err)
	}
	time.Sleep(50 * time.Millisecond) // fasthttp logs after it closed
	if l := logged.String(); l != "" {
		t.Errorf("the server logged %q", l)
	}
}

// TestIdleAfterHandshake checks that a TLS connection that completed its
// handshake and sent no request counts as idle for the connection
// limits (Listen's AwaitRequest), as a silent plain connection does: a
// newcomer closes it rather than being refused.
func TestIdleAfterHandshake(t *testing.T) {
	ca := publictlstest.NewCA(t)
	c, err := publictls.Load(ca.Issue(t, time.Hour).Write(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	const max = 2
	var cnt connlimit.Counters
	addr, _ := server(t, c, connlimit.Config{Max: max, IdleAt: max, Counters: &cnt}, 10*time.Second)
	for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		cfg := ca.ClientConfig("http/1.1")
		cfg.MaxVersion = version
		var silent []*tls.Conn
		for range max {
			conn, err := tls.Dial("tcp", addr, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			silent = append(silent, conn)
		}
		// The server's side of the handshake ends after the client's.
		time.Sleep(200 * time.Millisecond)
		closedBefore := cnt.ClosedIdle.Load()
		s, _ := getSerial(t, newClient(t, ca), addr)
		if s == "" || cnt.Refused.Load() != 0 || cnt.ClosedIdle.Load() == closedBefore {
			t.Errorf("TLS %x: beside %d silent connections a request was refused %d times and closed %d idle; want served, an idle one closed",
				version, max, cnt.Refused.Load(), cnt.ClosedIdle.Load()-closedBefore)
		}
		for _, conn := range silent {
			conn.Close()
		}
		time.Sleep(100 * time.Millisecond) // the server sees them go
	}
}

// TestShutdownClosesIdle checks that the server's shutdown closes kept
// alive TLS connections at once. It closes them from its own goroutine:
// under the race detector, a close_notify written from there races with
// the serving goroutine's bookkeeping in the connection limits (Listen's
// Close sends none).
func TestShutdownClosesIdle(t *testing.T) {
	ca := publictlstest.NewCA(t)
	c, err := publictls.Load(ca.Issue(t, time.Hour).Write(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	addr, _, stop := serverStop(t, c, connlimit.Config{Max: 100, IdleAt: 90}, 5*time.Second)
	var conns []*tls.Conn
	for range 8 {
		conn, err := tls.Dial("tcp", addr, ca.ClientConfig("http/1.1"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		conns = append(conns, conn)
	}
	if took := stop(); took > 2*time.Second {
		t.Errorf("shutdown took %v beside idle connections", took)
	}
	for i, conn := range conns {
		conn.SetReadDeadline(time.Now().Add(time.Second))
		if n, err := conn.Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("connection %d after the shutdown: read %d, %v; want closed", i, n, err)
		}
	}
}

// countingListener counts the bytes written to its connections.
type countingListener struct {
	net.Listener
	written *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.written}, nil
}

type countingConn struct {
	net.Conn
	written *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.written.Add(int64(n))
	return n, err
}

// TestCloseWritesNothing checks that closing a connection of Listen
// writes nothing to the connection below: the server closes idle
// connections from another goroutine than the one that serves them,
// and the connection limits' bookkeeping of writes belongs to that one
// (a close_notify from there is a data race).
func TestCloseWritesNothing(t *testing.T) {
	ca := publictlstest.NewCA(t)
	c, err := publictls.Load(ca.Issue(t, time.Hour).Write(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	var written atomic.Int64
	ln := publictls.Listen(countingListener{inner, &written}, c.Config())
	client := make(chan error, 1)
	go func() {
		conn, err := tls.Dial("tcp", inner.Addr().String(), ca.ClientConfig("http/1.1"))
		if err == nil {
			_, err = io.ReadAll(conn)
			conn.Close()
		}
		client <- err
	}()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.(interface{ Handshake() error }).Handshake(); err != nil {
		t.Fatal(err)
	}
	before := written.Load()
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	if n := written.Load() - before; n != 0 || before == 0 {
		t.Errorf("the handshake wrote %d bytes, Close %d more; want some, then none", before, n)
	}
	if err := <-client; err != nil {
		t.Errorf("client: %v", err)
	}
}
