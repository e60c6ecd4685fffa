package edge

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/powvote/powvote/internal/publictls"
	"github.com/powvote/powvote/internal/publictls/publictlstest"
)

// TestTLS runs the edge with Config.TLS: it answers over HTTPS and
// HTTP/1.1 only, its read timeout closes connections whose handshake
// does not come, and its connection limits still count TCP connections
// by their addresses.
func TestTLS(t *testing.T) {
	ca := publictlstest.NewCA(t)
	cert, err := publictls.Load(ca.Issue(t, time.Hour).Write(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	const readTimeout = 500 * time.Millisecond
	const perIP = 2
	e := startEnv(t, 1, func(c *Config) {
		c.TLS = cert.Config()
		c.ReadTimeout = readTimeout
		c.MaxConnsPerIP = perIP
	})
	addr := strings.TrimPrefix(e.base, "http://")
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   ca.ClientConfig(),
		ForceAttemptHTTP2: true, // offers h2 and http/1.1
	}}
	defer hc.CloseIdleConnections()

	t.Run("list over HTTPS", func(t *testing.T) {
		resp, err := hc.Get("https://" + addr + "/list")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 204 || resp.ProtoMajor != 1 || resp.TLS == nil || resp.TLS.NegotiatedProtocol != "http/1.1" {
			t.Errorf("GET /list: %d %s, ALPN %q; want 204 over HTTP/1.1", resp.StatusCode, resp.Proto, resp.TLS.NegotiatedProtocol)
		}
		// Plain HTTP on the TLS port gets no answer.
		if code, body := listFrom(t, "127.0.0.1", addr); code != 0 || body != "" {
			t.Errorf("plain GET /list on the TLS port: %d %q", code, body)
		}
	})

	t.Run("handshake that does not come", func(t *testing.T) {
		for _, send := range []string{"", "\x16\x03\x01\x00\x50\x01\x00"} { // nothing; half a ClientHello
			c := dialFrom(t, "127.0.0.1", addr)
			io.WriteString(c, send)
			start := time.Now()
			c.SetReadDeadline(start.Add(10 * readTimeout))
			_, err := io.ReadAll(c)
			if took := time.Since(start); err != nil || took > 3*readTimeout {
				t.Errorf("sent %q: closed after %v (%v), want within the read timeout %v", send, took, err, readTimeout)
			}
			c.Close()
		}
	})

	t.Run("limits per address below TLS", func(t *testing.T) {
		// perIP connections in the middle of a request from 127.0.0.1:
		// one more from there is closed before any handshake, one from
		// 127.0.0.2 served.
		before := e.srv.Stats()["conns_refused_per_ip"]
		cfg := ca.ClientConfig("http/1.1")
		cfg.ServerName = "127.0.0.1"
		var slow []*tls.Conn
		for range perIP {
			tc := tls.Client(dialFrom(t, "127.0.0.1", addr), cfg)
			if err := tc.Handshake(); err != nil {
				t.Fatal(err)
			}
			slow = append(slow, tc)
		}
		// The request's start apart from the handshake's last message:
		// arrived with it, an unfinished request counts as idle
		// (publictls.Listen).
		time.Sleep(100 * time.Millisecond)
		for _, tc := range slow {
			io.WriteString(tc, "GET /list HTTP/1.1\r\nHost: solar.example.org\r\nX-Slow: ")
		}
		time.Sleep(100 * time.Millisecond) // let the edge read them
		// Closed at once, without the plain 503 a TLS client cannot read.
		c := dialFrom(t, "127.0.0.1", addr)
		c.SetDeadline(time.Now().Add(readTimeout))
		b, err := io.ReadAll(c)
		if err != nil || len(b) > 0 {
			t.Errorf("connection %d from 127.0.0.1: read %q, %v; want closed at once with nothing sent", perIP+1, b, err)
		}
		if n := e.srv.Stats()["conns_refused_per_ip"] - before; n != 1 {
			t.Errorf("conns_refused_per_ip grew by %d, want 1", n)
		}
		other := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: ca.ClientConfig(),
			DialContext:     (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).DialContext,
		}}
		defer other.CloseIdleConnections()
		resp, err := other.Get("https://" + addr + "/list")
		if err != nil {
			t.Fatalf("GET /list from 127.0.0.2: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != 204 {
			t.Errorf("GET /list from 127.0.0.2: %d, want 204", resp.StatusCode)
		}
	})
}
