package operator

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/powvote/powvote/internal/publictls"
	"github.com/powvote/powvote/internal/publictls/publictlstest"
)

// TestTLS serves the endpoints over HTTPS: a client that trusts the CA
// reads the metrics, and plain HTTP to the port gets no answer.
func TestTLS(t *testing.T) {
	ca := publictlstest.NewCA(t)
	cert, err := publictls.Load(ca.Issue(t, time.Hour).Write(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	set := metrics.NewSet()
	set.NewCounter(`powvote_test_events_total{campaign="solar"}`).Add(3)
	base := start(t, Config{Metrics: set, TLS: cert.Config()})
	addr := strings.TrimPrefix(base, "http://")
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: ca.ClientConfig("http/1.1")}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get("https://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `powvote_test_events_total{campaign="solar"} 3`) {
		t.Errorf("GET /metrics over HTTPS: %d %.200q", resp.StatusCode, b)
	}
	plain := &http.Client{Timeout: 5 * time.Second}
	if resp, err := plain.Get(base + "/metrics"); err == nil {
		resp.Body.Close()
		t.Errorf("plain HTTP to the HTTPS port answered %d", resp.StatusCode)
	}
}
