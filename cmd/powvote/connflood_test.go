package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/client"
	"github.com/powvote/powvote/keyfile"
	"github.com/powvote/powvote/mandate"
	"github.com/powvote/powvote/totp"
)

// Loopback addresses stand for separate machines (Linux answers on all of
// 127/8): the flood comes from one, the voter from the other.
const (
	floodAddr = "127.0.0.1"
	voterAddr = "127.0.0.2"
)

// TestConnectionFlood: one address opens thousands of connections and
// sends nothing on them, then a few addresses together open more than
// the edge holds (at the publisher, one address also opens connections
// that never finish a request, and slow readers), while a voter at
// another address is served in full. It runs against real processes:
// `powvote up` for the edge, `powvote publisher` for the publisher's own
// listener.
//
// The per-address limit is what holds one address (without it, the
// flood fills the edge to --idle-close-at and the check of what one
// address holds fails); idle-first closing is what lets the voter in
// beside many addresses (without it, they fill the edge and the voter
// gets 503); without both, the one address's flood alone locks the voter
// out. The limits are lowered from their defaults (but the per-address
// limit of the edge) only as far as a test's flood can reach them: file
// descriptors, one per connection on each side.
func TestConnectionFlood(t *testing.T) {
	const (
		edgeMax   = 2000 // --max-conns of the edge
		edgeFlood = 3000 // idle connections from one address: more than the edge holds
		perIP     = 512  // the default --max-conns-per-ip, which the edge keeps
		edgeAddrs = 4    // addresses whose perIP idle connections each add up to more than edgeMax

		pubMax     = 1000 // --max-conns of the publisher
		pubPerIP   = 100  // its --max-conns-per-ip, below the busy connections of the flood
		pubReaders = 20   // connections whose answers wait unread (about 2 MB each in the kernel)
		pubSlow    = 200  // connections in the middle of a request
		pubIdle    = 1500 // and idle ones: together more than the publisher holds
	)
	raiseFileLimit(t, edgeAddrs*perIP+pubReaders+pubSlow+pubIdle+1024)
	probeLoopback(t)
	data := filepath.Join(t.TempDir(), "pv")
	mustRun(t, "init", "solar", "--dir", data, "--threshold", "8", "--batch-size", "1",
		"--option", "Evil Neptune", "--option", "Humble Pluto")
	p := startUp(t, data, "--max-conns", fmt.Sprint(edgeMax))
	defer p.stop(t)
	edgeHost := strings.TrimPrefix(p.edge, "http://")

	var stamp string
	t.Run("edge, one address", func(t *testing.T) {
		f := flood(t, edgeHost, floodAddr, edgeFlood, idleConns)
		defer f.close()
		// The edge closes the oldest of the address's idle connections as
		// new ones come; wait until it has taken them all in.
		f.waitClosed(edgeFlood-perIP, 3*time.Second)
		stamp = voteFrom(t, p.edge, data)
		if held := f.open(); held == 0 || held > perIP {
			t.Errorf("the edge holds %d of the %d idle connections from %s, want 1 to %d", held, edgeFlood, floodAddr, perIP)
		}
		t.Logf("the edge holds %d of the %d idle connections from %s", f.open(), edgeFlood, floodAddr)
	})

	t.Run("edge, many addresses", func(t *testing.T) {
		var fs []*flooded
		for i := range edgeAddrs {
			f := flood(t, edgeHost, fmt.Sprintf("127.0.0.%d", 10+i), perIP, idleConns)
			defer f.close()
			fs = append(fs, f)
		}
		// From 90% of edgeMax on (the default --idle-close-at), each new
		// connection closes the longest-idle: wait until the edge has
		// taken them all in.
		held := 0
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			held = 0
			for _, f := range fs {
				held += f.open()
			}
			if held <= edgeMax*9/10 {
				break
			}
		}
		voteFrom(t, p.edge, data)
		held = 0
		for _, f := range fs {
			held += f.open()
		}
		if held >= edgeMax {
			t.Errorf("the edge holds %d of the %d idle connections from %d addresses, want fewer than %d", held, edgeAddrs*perIP, edgeAddrs, edgeMax)
		}
		t.Logf("the edge holds %d of the %d idle connections from %d addresses", held, edgeAddrs*perIP, edgeAddrs)
	})
	if stamp == "" {
		return
	}

	t.Run("publisher", func(t *testing.T) {
		addr := freeAddr(t)
		pub := startProc(t, "publisher", "--dir", data, "--listen", addr, "--pair", p.collectors[0]+","+p.collectors[1],
			"--interval", "100ms", "--max-conns", fmt.Sprint(pubMax), "--max-conns-per-ip", fmt.Sprint(pubPerIP))
		defer pub.interrupt(t)
		votes := "http://" + addr + "/solar-vote.log"
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(download(t, votes), stamp) {
			if time.Now().After(deadline) {
				t.Fatal("the publisher did not publish the vote within 20 s")
			}
			time.Sleep(50 * time.Millisecond)
		}

		// Busy connections first, which nothing closes before the
		// timeouts (30 minutes for a write), then idle ones, all from
		// one address: more than the publisher holds. The idle ones find
		// the address's allowance taken by busy ones and are refused.
		readers := flood(t, addr, floodAddr, pubReaders, slowReaders)
		defer readers.close()
		slow := flood(t, addr, floodAddr, pubSlow, slowRequests)
		defer slow.close()
		idle := flood(t, addr, floodAddr, pubIdle, idleConns)
		defer idle.close()
		idle.waitClosed(pubIdle, 3*time.Second)

		voter := httpFrom(voterAddr)
		defer voter.CloseIdleConnections()
		resp := get(t, voter, votes, nil)
		if resp.StatusCode != 200 || !strings.Contains(resp.body, stamp) {
			t.Fatalf("GET %s from %s beside %d slow readers, %d slow requests and %d idle connections: %d %q, want 200 with the vote",
				votes, voterAddr, pubReaders, pubSlow, pubIdle, resp.StatusCode, resp.body)
		}
		held := readers.open() + slow.open() + idle.open()
		if readers.open() != pubReaders || held > pubPerIP {
			t.Errorf("the publisher holds %d slow readers of %d and %d connections from %s in all, want every slow reader and at most %d",
				readers.open(), pubReaders, held, floodAddr, pubPerIP)
		}
		t.Logf("the publisher holds %d slow readers, %d slow requests and %d idle connections from %s",
			readers.open(), slow.open(), idle.open(), floodAddr)
	})
}

// voteFrom is a new voter's device at voterAddr, with connections of its
// own: it reads the ballot, gets a platform stamp and casts a vote with a
// fresh mandate, each on the first try, and returns the receipt's own
// stamp.
func voteFrom(t *testing.T, edge, data string) string {
	t.Helper()
	hc := httpFrom(voterAddr)
	defer hc.CloseIdleConnections()
	list := get(t, hc, edge+"/list", nil)
	if list.StatusCode != 204 || list.Header.Get("Say02") != "Humble Pluto" {
		t.Fatalf("GET /list from %s: %d %v, want 204 with the ballot", voterAddr, list.StatusCode, list.Header)
	}
	c, err := campaign.Load(data, "solar")
	if err != nil {
		t.Fatal(err)
	}
	code, err := totp.BoothCode(c.Secrets.TOTPSeed, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	digits, _ := totp.ParseBoothCode(code)
	st := get(t, hc, edge+"/stamp", http.Header{"Totp": {digits}})
	if st.StatusCode != 204 || st.Header.Get("P-SIG") == "" {
		t.Fatalf("GET /stamp from %s: %d, want 204 with a stamp", voterAddr, st.StatusCode)
	}
	key, err := keyfile.ReadEd25519(filepath.Join(c.Dir, campaign.DemoAuthorityKey))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := mandate.Issue(key, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var retries []string
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rc, err := client.Cast(ctx, client.Vote{Edge: edge, Mandate: tok, BoothCode: code, Say: "Humble Pluto"},
		client.Options{HTTP: hc, Log: func(format string, args ...any) {
			if strings.Contains(format, "retrying") {
				retries = append(retries, fmt.Sprintf(format, args...))
			}
		}})
	if err != nil {
		t.Fatalf("vote from %s: %v", voterAddr, err)
	}
	if len(retries) > 0 {
		t.Errorf("the vote from %s went through only after %q", voterAddr, retries)
	}
	t.Logf("receipt %q", rc.Lines)
	return rc.Voter
}

// raiseFileLimit raises the soft limit on open files to need, or skips
// the test when the hard limit is lower. Processes the test starts
// inherit it.
func raiseFileLimit(t *testing.T, need uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("getrlimit: %v", err)
	}
	if lim.Cur < need {
		lim.Cur = min(need, lim.Max)
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Skipf("setrlimit: %v", err)
		}
	}
	if lim.Cur < need {
		t.Skipf("%d open files allowed, the test needs %d", lim.Cur, need)
	}
}

// probeLoopback skips the test where the voter's address cannot be used.
func probeLoopback(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(voterAddr)}, Timeout: time.Second}
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Skipf("cannot connect from %s: %v", voterAddr, err)
	}
	c.Close()
}

// httpFrom is an HTTP client whose connections come from the loopback
// address from.
func httpFrom(from string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

type answer struct {
	*http.Response
	body string
}

// get sends GET url with hdr and returns the answer, its body read.
func get(t *testing.T, hc *http.Client, url string, hdr http.Header) answer {
	t.Helper()
	return request(t, hc, http.MethodGet, url, hdr)
}

// request sends method url with hdr and returns the answer, its body read.
func request(t *testing.T, hc *http.Client, method, url string, hdr http.Header) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp, string(b)}
}

// flooded is a set of connections from one address, each watched by a
// goroutine that notes when the server closes or refuses it.
type flooded struct {
	conns  []net.Conn
	closed atomic.Int64
	wg     sync.WaitGroup
}

// How a flood's connections behave.
const (
	idleConns    = iota // send nothing
	slowRequests        // send the start of a request, never its end
	slowReaders         // send many requests, never read the answers
)

// slowRequest is the start of a request that never ends.
const slowRequest = "GET /solar-vote.log HTTP/1.1\r\nHost: x\r\nX-Slow: "

// slowReads is what a slow reader sends: requests whose answers add up to
// more than the kernel buffers for a connection (about 2 MB on loopback),
// so that the server's write waits until its write timeout.
var slowReads = strings.Repeat("GET /solar-settings.yaml HTTP/1.1\r\nHost: x\r\n\r\n", 8000)

// flood opens n connections to addr from the loopback address from,
// which behave as kind says. A goroutine on each notes when the server closes it; for a slow
// reader it reads only the start of the first answer, which tells a
// refusal from answers that will wait: then the connection counts as
// held.
func flood(t *testing.T, addr, from string, n, kind int) *flooded {
	t.Helper()
	f := &flooded{conns: make([]net.Conn, n)}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	if kind == slowReaders {
		// A small receive window, so that the answers stop flowing and
		// pile up at the server.
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) {
				syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048)
			})
		}
	}
	var dials sync.WaitGroup
	var failed, next atomic.Int64
	for range 16 {
		dials.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				c, err := d.Dial("tcp", addr)
				if err != nil {
					failed.Add(1)
					continue
				}
				f.conns[i] = c
				switch kind {
				case slowRequests:
					io.WriteString(c, slowRequest)
				case slowReaders:
					c.SetWriteDeadline(time.Now().Add(2 * time.Second))
					io.WriteString(c, slowReads)
				}
				f.wg.Go(func() {
					if kind == slowReaders {
						c.SetReadDeadline(time.Now().Add(5 * time.Second))
						b := make([]byte, len("HTTP/1.1 503"))
						if _, err := io.ReadFull(c, b); err == nil && string(b) != "HTTP/1.1 503" {
							return // held: the server's write waits
						}
					} else {
						// Until the server closes it or answers (503, or
						// 408 at its read timeout).
						c.Read(make([]byte, 1))
					}
					f.closed.Add(1)
				})
			}
		})
	}
	dials.Wait()
	if k := failed.Load(); k > 0 {
		t.Fatalf("%d of %d connections from %s could not be opened", k, n, from)
	}
	return f
}

// waitClosed waits until at least n connections were closed by the
// server, or for limit.
func (f *flooded) waitClosed(n int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for int(f.closed.Load()) < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
}

// open is how many connections the server still holds.
func (f *flooded) open() int { return len(f.conns) - int(f.closed.Load()) }

func (f *flooded) close() {
	for _, c := range f.conns {
		if c != nil {
			c.Close()
		}
	}
	f.wg.Wait()
}

// TestConnLimitFlags: a connection limit out of range is a usage error,
// on every command that takes the flags, before anything starts.
func TestConnLimitFlags(t *testing.T) {
	dir := t.TempDir()
	commands := [][]string{
		{"edge", "--dir", dir, "--listen", "127.0.0.1:0", "--pair", "http://127.0.0.1:9,http://127.0.0.1:10"},
		{"publisher", "--dir", dir, "--listen", "127.0.0.1:0", "--pair", "http://127.0.0.1:9,http://127.0.0.1:10"},
		{"up", "--dir", dir, "--addr", "127.0.0.1:0"},
	}
	for _, cmd := range commands {
		for _, tc := range []struct {
			flags []string
			msg   string
		}{
			{[]string{"--max-conns", "0"}, "--max-conns 0"},
			{[]string{"--max-conns-per-ip", "-1"}, "--max-conns-per-ip -1"},
			{[]string{"--idle-close-at", "101"}, "--idle-close-at 101"},
			{[]string{"--idle-close-at", "-5"}, "--idle-close-at -5"},
		} {
			args := append(append([]string{}, cmd...), tc.flags...)
			r := run(t, args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.msg) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("powvote %s %v: exit %d, stderr %q; want 2 and one line naming %q", cmd[0], tc.flags, r.code, r.stderr, tc.msg)
			}
		}
	}
}
