package main

import (
	"net/http"
	"net/http/httptrace"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/powvote/powvote/internal/publictls/publictlstest"
)

// TestTLSFlagsRefuse checks that the public servers refuse to start on
// --tls-cert and --tls-key that do not make a pair, with one line that
// says why, before they touch D.
func TestTLSFlagsRefuse(t *testing.T) {
	ca := publictlstest.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := ca.Issue(t, time.Hour).Write(t, dir)
	_, wrongKey := ca.Issue(t, time.Hour).Write(t, t.TempDir())
	missing := filepath.Join(dir, "missing.pem")
	data := filepath.Join(t.TempDir(), "pv")
	commands := [][]string{
		{"edge", "--dir", data, "--listen", "127.0.0.1:0", "--pair", "https://127.0.0.1:1,https://127.0.0.1:2"},
		{"publisher", "--dir", data, "--listen", "127.0.0.1:0", "--pair", "https://127.0.0.1:1,https://127.0.0.1:2"},
		{"up", "--dir", data, "--addr", "127.0.0.1:0"},
	}
	for _, tc := range []struct {
		name  string
		flags []string
		code  int
		want  []string
	}{
		{"another certificate's key", []string{"--tls-cert", certFile, "--tls-key", wrongKey}, 1, []string{"does not match", certFile, wrongKey}},
		{"key unreadable", []string{"--tls-cert", certFile, "--tls-key", missing}, 1, []string{"couldn't read the key", missing}},
		{"certificate unreadable", []string{"--tls-cert", missing, "--tls-key", keyFile}, 1, []string{"couldn't read the certificate", missing}},
		{"certificate alone", []string{"--tls-cert", certFile}, 2, []string{"--tls-cert and --tls-key go together"}},
		{"key alone", []string{"--tls-key", keyFile}, 2, []string{"--tls-cert and --tls-key go together"}},
		// The operator endpoints' certificate, checked the same way.
		{"metrics key of another certificate", []string{"--metrics", "127.0.0.1:0", "--metrics-tls-cert", certFile, "--metrics-tls-key", wrongKey}, 1, []string{"does not match", certFile, wrongKey}},
		{"metrics certificate alone", []string{"--metrics", "127.0.0.1:0", "--metrics-tls-cert", certFile}, 2, []string{"--metrics-tls-cert and --metrics-tls-key go together"}},
		{"metrics TLS without --metrics", []string{"--metrics-tls-cert", certFile, "--metrics-tls-key", keyFile}, 2, []string{"give --metrics too"}},
	} {
		for _, cmd := range commands {
			t.Run(tc.name+"/"+cmd[0], func(t *testing.T) {
				r := runFor(t, 20*time.Second, append(append([]string{}, cmd...), tc.flags...)...)
				lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
				if r.code != tc.code || len(lines) != 1 {
					t.Fatalf("exit %d, want %d, with one line on stderr:\n%s", r.code, tc.code, r.stderr)
				}
				for _, w := range tc.want {
					if !strings.Contains(r.stderr, w) {
						t.Errorf("stderr %q does not say %q", r.stderr, w)
					}
				}
			})
		}
	}
}

// tlsGet sends GET url with hc, wants the ballot, and returns the serial
// of the certificate the connection showed and whether the connection
// was one already open.
func tlsGet(t *testing.T, hc *http.Client, url string) (serial string, reused bool) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
	}))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Say01") != "Evil Neptune" || resp.ProtoMajor != 1 || resp.TLS.NegotiatedProtocol != "http/1.1" {
		t.Fatalf("GET %s: %d %s ALPN %q %v, want the ballot over HTTP/1.1", url, resp.StatusCode, resp.Proto, resp.TLS.NegotiatedProtocol, resp.Header)
	}
	return resp.TLS.PeerCertificates[0].SerialNumber.Text(16), reused
}

func tlsClient(t *testing.T, ca *publictlstest.CA) *http.Client {
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: ca.ClientConfig(), ForceAttemptHTTP2: true}}
	t.Cleanup(hc.CloseIdleConnections)
	return hc
}

// TestUpTLS runs powvote up with --tls-cert and --tls-key: it prints https
// URLs and serves the ballot over HTTPS, verified against the test's CA;
// after the files are replaced, SIGHUP has new connections see the new
// certificate while a connection kept alive from before keeps working.
func TestUpTLS(t *testing.T) {
	ca := publictlstest.NewCA(t)
	files := t.TempDir()
	first, second := ca.Issue(t, time.Hour), ca.Issue(t, time.Hour)
	certFile, keyFile := first.Write(t, files)
	p := startUp(t, filepath.Join(t.TempDir(), "pv"), "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(p.edge, "https://") {
		t.Fatalf("up printed %s, want an https URL", p.edge)
	}
	open := tlsClient(t, ca)
	if s, _ := tlsGet(t, open, p.edge+"/list"); s != first.Cert.SerialNumber.Text(16) {
		t.Fatalf("the edge shows serial %s, want %s", s, first.Cert.SerialNumber.Text(16))
	}

	second.Write(t, files)
	p.cmd.Process.Signal(syscall.SIGHUP)
	eventually(t, "a new connection sees the new certificate", func() bool {
		s, _ := tlsGet(t, tlsClient(t, ca), p.edge+"/list")
		return s == second.Cert.SerialNumber.Text(16)
	})
	if s, reused := tlsGet(t, open, p.edge+"/list"); !reused || s != first.Cert.SerialNumber.Text(16) {
		t.Errorf("the connection open before SIGHUP: reused %v, serial %s; want the same connection, with %s", reused, s, first.Cert.SerialNumber.Text(16))
	}
	p.stop(t)
	if !strings.Contains(p.stderr.String(), "SIGHUP: reloaded the public TLS certificate") {
		t.Errorf("up did not log the reload:\n%s", p.stderr)
	}
}

// TestBrowserVoterTLS opens the voter app from powvote up --tls-cert in
// Chromium, which trusts the test's certificate by its public key as if
// a CA had issued it: the app's service worker takes control of the
// page (a browser registers none on a page with certificate errors) and
// the app reads the ballot over HTTPS.
func TestBrowserVoterTLS(t *testing.T) {
	ca := publictlstest.NewCA(t)
	leaf := ca.Issue(t, time.Hour)
	certFile, keyFile := leaf.Write(t, t.TempDir())
	b := newBrowser(t, chromedp.Flag("ignore-certificate-errors-spki-list", leaf.SPKIHash()))
	p := startUp(t, filepath.Join(t.TempDir(), "pv"), "--tls-cert", certFile, "--tls-key", keyFile)
	defer p.stop(t)

	b.do("open the app over HTTPS", chromedp.Navigate(p.edge+"/?lang=en"), chromedp.WaitVisible(chromedp.ID("opt-0")))
	if got := evalJS[string](b, `location.protocol`); got != "https:" {
		t.Fatalf("the page's protocol is %q", got)
	}
	eventuallyJS(t, b, "the service worker is active", `window.powvote.swScope !== '' && navigator.serviceWorker.getRegistration(window.powvote.swScope).then((r) => !!(r && r.active))`)
	b.do("reload under the worker", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("opt-0")))
	eventuallyJS(t, b, "the worker controls the page", `navigator.serviceWorker.controller !== null`)
	if got := b.text("label[for=opt-0]"); got != "Evil Neptune" {
		t.Errorf("the first option reads %q, want the demo ballot's Evil Neptune", got)
	}
	if sent := evalJS[int](b, `window.powvote.sent.list`); sent == 0 {
		t.Error("the app did not read the ballot")
	}
	b.shot("ballot-https")
}
