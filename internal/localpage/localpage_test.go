package localpage

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"
)

func TestHostAllowed(t *testing.T) {
	for _, tc := range []struct {
		host          string
		any, loopback bool
	}{
		{"localhost", true, true},
		{"LOCALHOST:8090", true, true},
		{"127.0.0.1:8090", true, true},
		{"[::1]:8090", true, true},
		{"::1", true, true},
		{"192.168.1.20:8090", true, false},
		{"[fe80::1]:80", true, false},
		{"evil.example.org", false, false},
		{"evil.example.org:8090", false, false},
		{"localhost.evil.example.org", false, false},
		{"127.0.0.1.nip.io", false, false},
		{"", false, false},
	} {
		if got := HostAllowed(tc.host, false); got != tc.any {
			t.Errorf("HostAllowed(%q, false) = %v, want %v", tc.host, got, tc.any)
		}
		if got := HostAllowed(tc.host, true); got != tc.loopback {
			t.Errorf("HostAllowed(%q, true) = %v, want %v", tc.host, got, tc.loopback)
		}
	}
}

func TestServeStopsWithContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetHeaders(w.Header(), "default-src 'self'")
		w.WriteHeader(http.StatusNoContent)
	})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, srv, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Content-Security-Policy") != "default-src 'self'" {
		t.Errorf("headers %v", resp.Header)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the context ended")
	}
}
