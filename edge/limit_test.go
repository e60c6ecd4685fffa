package edge

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// dialFrom opens a connection to addr from the loopback address from
// (127.0.0.2 and the like stand for other machines on Linux).
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Skipf("dial from %s: %v (a loopback address other than 127.0.0.1 is needed)", from, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// listFrom sends GET /list on a fresh connection from the address from
// and returns the status (0: no answer) and the body.
func listFrom(t *testing.T, from, addr string) (int, string) {
	t.Helper()
	c := dialFrom(t, from, addr)
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /list HTTP/1.1\r\nHost: solar.example.org\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestConnectionLimitsPerAddressAndIdle runs the edge's listener (limit.go)
// under fasthttp: one address's connections are bounded without touching
// another's, and connections that carry no request give way to new ones
// before the edge is full. TestConnectionLimits covers the hard limit
// with idle closing off.
func TestConnectionLimitsPerAddressAndIdle(t *testing.T) {
	const maxConns, perIP = 12, 4
	e := startEnv(t, 1, func(c *Config) {
		c.MaxConns = maxConns
		c.MaxConnsPerIP = perIP
	})
	addr := strings.TrimPrefix(e.base, "http://")

	t.Run("per address", func(t *testing.T) {
		// perIP connections in the middle of a request (busy, so none
		// can give way) from one address: one more from it is refused at
		// once, another address is served.
		var slow []net.Conn
		for range perIP {
			c := dialFrom(t, "127.0.0.1", addr)
			io.WriteString(c, "GET /list HTTP/1.1\r\nHost: solar.example.org\r\nX-Slow: ")
			slow = append(slow, c)
		}
		time.Sleep(200 * time.Millisecond) // let the edge read them
		start := time.Now()
		if code, body := listFrom(t, "127.0.0.1", addr); code != 503 || body != "" || time.Since(start) > time.Second {
			t.Errorf("connection %d from 127.0.0.1: %d %q after %v, want 503 with no body at once", perIP+1, code, body, time.Since(start))
		}
		if code, _ := listFrom(t, "127.0.0.2", addr); code != 204 {
			t.Errorf("GET /list from 127.0.0.2: %d, want 204", code)
		}
		if n := e.srv.Stats()["conns_refused_per_ip"]; n != 1 {
			t.Errorf("conns_refused_per_ip %d, want 1", n)
		}
		for _, c := range slow {
			c.Close()
		}
		time.Sleep(200 * time.Millisecond) // let the edge see them go
	})

	t.Run("idle closed first", func(t *testing.T) {
		// Connections that send nothing, from six addresses (perIP from
		// each, so that only the global rule closes any), twice what the
		// edge holds: from 90% of MaxConns on, each new one closes
		// the longest-idle, so that the edge never fills and a client is
		// served at once, long before ReadTimeout would free a slot.
		before := e.srv.Stats()
		type idle struct {
			c      net.Conn
			closed chan time.Duration
		}
		var idles []idle
		start := time.Now()
		for i := range 2 * maxConns {
			from := "127.0.0." + string(rune('1'+i%6))
			c := dialFrom(t, from, addr)
			ch := make(chan time.Duration, 1)
			go func() {
				b, err := io.ReadAll(c)
				if len(b) > 0 {
					t.Errorf("idle connection from %s was sent %q", from, b)
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					ch <- 0 // still open
					return
				}
				ch <- time.Since(start)
			}()
			idles = append(idles, idle{c, ch})
		}
		time.Sleep(200 * time.Millisecond)
		t0 := time.Now()
		if code, _ := listFrom(t, "127.0.0.7", addr); code != 204 || time.Since(t0) > time.Second {
			t.Errorf("GET /list beside %d idle connections: %d after %v, want 204 at once", 2*maxConns, code, time.Since(t0))
		}
		for _, c := range idles {
			c.c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		}
		shut := 0
		for _, c := range idles {
			if d := <-c.closed; d > 0 {
				shut++
				if d > 2*time.Second {
					t.Errorf("an idle connection was closed after %v, want well within ReadTimeout", d)
				}
			}
			c.c.Close()
		}
		after := e.srv.Stats()
		closed := after["conns_closed_idle"] - before["conns_closed_idle"]
		if shut == 0 || closed == 0 || after["conns_refused"] != before["conns_refused"] {
			t.Errorf("%d idle connections closed by the edge, conns_closed_idle grew by %d, conns_refused by %d: want some closed, none refused",
				shut, closed, after["conns_refused"]-before["conns_refused"])
		}
		t.Logf("%d of %d idle connections closed to make room", shut, 2*maxConns)
	})
}
