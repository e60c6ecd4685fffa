package mtls

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// muxServe serves, on l, an HTTP answer naming campaign, with link's TLS.
func muxServe(t *testing.T, l net.Listener, link *Link, campaign string) {
	t.Helper()
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, err := link.Caller(r.TLS, nil)
			if err != nil {
				http.Error(w, err.Error(), http.StatusForbidden)
				return
			}
			io.WriteString(w, campaign+" "+p.String())
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go srv.Serve(link.Listen(l))
	t.Cleanup(func() { srv.Close() })
}

// startMux serves a Mux on loopback until the test ends, and returns it
// and its address; Serve must then return nil.
func startMux(t *testing.T) (*Mux, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := NewMux(ln, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return m, ln.Addr().String()
}

// TestMux shares one port between two campaigns, each with its own CA:
// each campaign's clients reach their own campaign's server, a client of a
// campaign served elsewhere is closed, and a campaign's listener closed
// leaves the other serving.
func TestMux(t *testing.T) {
	m, addr := startMux(t)

	names := []string{"alpha", "alpha-beta"}
	links := map[string]*Link{}
	for _, n := range names {
		ca := newCA(t, n)
		srv := Peer{Campaign: n, Role: "collector", Instance: AnyInstance}
		cli := Peer{Campaign: n, Role: "edge", Instance: AnyInstance}
		muxServe(t, m.Listener(n), newLink(t, ca, srv), n)
		links[n] = newLink(t, ca, cli)
	}
	url := "https://" + addr + "/"
	for _, n := range names {
		for range 3 { // new connections each time
			resp, body, err := get(client(t, links[n].ClientConfig(Peer{Role: "collector", Instance: 0})), url)
			if err != nil {
				t.Fatalf("campaign %s: %v", n, err)
			}
			if want := n + " edge of campaign " + n; resp.StatusCode != 200 || body != want {
				t.Fatalf("campaign %s: got %d %q, want 200 %q", n, resp.StatusCode, body, want)
			}
		}
	}

	// A campaign this port does not serve: closed before any handshake.
	other := newLink(t, newCA(t, "gamma"), Peer{Campaign: "gamma", Role: "edge", Instance: AnyInstance})
	if _, _, err := get(client(t, other.ClientConfig(Peer{Role: "collector", Instance: 0})), url); err == nil {
		t.Fatal("a client of campaign gamma was served")
	}

	// One campaign stops: the other keeps its port.
	m.Listener("alpha").Close()
	if _, _, err := get(client(t, links["alpha"].ClientConfig(Peer{Role: "collector", Instance: 0})), url); err == nil {
		t.Fatal("campaign alpha served after its listener closed")
	}
	resp, body, err := get(client(t, links["alpha-beta"].ClientConfig(Peer{Role: "collector", Instance: 0})), url)
	if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(body, "alpha-beta ") {
		t.Fatalf("alpha-beta after alpha closed: %v %q", err, body)
	}

}

// TestMuxOneCampaign: with one campaign, a client that names none (or
// speaks plain HTTP) still reaches it, and reads the Link's answer.
func TestMuxOneCampaign(t *testing.T) {
	m, addr := startMux(t)
	ca := newCA(t, campaign)
	muxServe(t, m.Listener(campaign), newLink(t, ca, collector), campaign)
	cfg := newLink(t, ca, edge).ClientConfig(collector0)
	cfg.ServerName = "" // a client of a single-campaign collector
	resp, body, err := get(client(t, cfg), "https://"+addr+"/")
	if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(body, campaign+" ") {
		t.Fatalf("no server name: %v %q", err, body)
	}
	resp, err = http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "speaks TLS") {
		t.Fatalf("plain HTTP: %d %q, want the Link's refusal", resp.StatusCode, b)
	}
}

// TestMuxSlowHello: a client that connects and says nothing holds up no
// other client (Mux reads each hello on its own goroutine, within
// HelloTimeout).
func TestMuxSlowHello(t *testing.T) {
	m, addr := startMux(t)
	ca := newCA(t, campaign)
	muxServe(t, m.Listener(campaign), newLink(t, ca, collector), campaign)
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if _, _, err := get(client(t, newLink(t, ca, edge).ClientConfig(collector0)), "https://"+addr+"/"); err != nil {
		t.Fatalf("a silent connection held up another client: %v", err)
	}
}
