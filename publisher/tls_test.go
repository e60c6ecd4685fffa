package publisher

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/powvote/powvote/internal/mtls"
	"github.com/powvote/powvote/internal/publictls"
	"github.com/powvote/powvote/internal/publictls/publictlstest"
)

// TestRunTLS runs the publisher with Config.TLS: it serves the lists over
// HTTPS and HTTP/1.1 only, and its read timeout closes a connection whose
// handshake does not come.
func TestRunTLS(t *testing.T) {
	ca := publictlstest.NewCA(t)
	cert, err := publictls.Load(ca.Issue(t, time.Hour).Write(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	const readTimeout = 500 * time.Millisecond
	log := &logBuffer{}
	// No collector answers: the lists stay empty, which is enough here.
	p, err := New(Config{
		Campaign: "solar", Pairs: [][2]string{{"http://127.0.0.1:1", "http://127.0.0.1:2"}},
		Link: mtls.NewPlain("solar").Link("publisher", mtls.AnyInstance), Dir: t.TempDir(),
		Logger: newTextLogger(log), ReadTimeout: readTimeout, TLS: cert.Config(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: ca.ClientConfig(), ForceAttemptHTTP2: true}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get("https://" + ln.Addr().String() + "/solar-vote.log")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(body) != 0 || resp.ProtoMajor != 1 || resp.TLS.NegotiatedProtocol != "http/1.1" {
		t.Errorf("GET /solar-vote.log: %d %q %s ALPN %q; want 200, empty, HTTP/1.1", resp.StatusCode, body, resp.Proto, resp.TLS.NegotiatedProtocol)
	}

	for _, send := range []string{"", "\x16\x03\x01\x00\x50\x01\x00"} { // nothing; half a ClientHello
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, send)
		start := time.Now()
		c.SetReadDeadline(start.Add(10 * readTimeout))
		_, err = io.ReadAll(c)
		if took := time.Since(start); err != nil || took > 3*readTimeout {
			t.Errorf("sent %q: closed after %v (%v), want within the read timeout %v", send, took, err, readTimeout)
		}
		c.Close()
	}
}
