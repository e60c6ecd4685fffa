package connlimit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeConn is a client's connection as the server sees it: what the client
// sent waits in in; a read with nothing there fails at once, as at a read
// deadline.
type fakeConn struct {
	remote net.Addr
	in     chan []byte
	mu     sync.Mutex
	out    bytes.Buffer // what the server wrote
	closed chan struct{}
	once   sync.Once
}

func newFakeConn(remote net.Addr) *fakeConn {
	return &fakeConn{remote: remote, in: make(chan []byte, 4), closed: make(chan struct{})}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func (f *fakeConn) Read(b []byte) (int, error) {
	select {
	case <-f.closed:
		return 0, net.ErrClosed
	default:
	}
	select {
	case p := <-f.in:
		return copy(b, p), nil
	case <-f.closed:
		return 0, net.ErrClosed
	default:
		return 0, timeoutError{}
	}
}

func (f *fakeConn) Write(b []byte) (int, error) {
	select {
	case <-f.closed:
		return 0, net.ErrClosed
	default:
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.out.Write(b)
}

func (f *fakeConn) Close() error {
	err := net.ErrClosed
	f.once.Do(func() { close(f.closed); err = nil })
	return err
}

func (f *fakeConn) isClosed() bool {
	select {
	case <-f.closed:
		return true
	default:
		return false
	}
}

func (f *fakeConn) written() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.out.String()
}

func (f *fakeConn) LocalAddr() net.Addr                { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80} }
func (f *fakeConn) RemoteAddr() net.Addr               { return f.remote }
func (f *fakeConn) SetDeadline(t time.Time) error      { return nil }
func (f *fakeConn) SetReadDeadline(t time.Time) error  { return nil }
func (f *fakeConn) SetWriteDeadline(t time.Time) error { return nil }

// fakeListener hands out the connections sent on conns; with block false
// an empty queue makes Accept fail with errDrained, so that a test sees a
// refusal as Accept returning.
type fakeListener struct {
	conns chan net.Conn
	block bool
	done  chan struct{}
}

var errDrained = errors.New("no connection waiting")

func (l *fakeListener) Accept() (net.Conn, error) {
	if l.block {
		select {
		case c := <-l.conns:
			return c, nil
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
	select {
	case c := <-l.conns:
		return c, nil
	default:
		return nil, errDrained
	}
}

func (l *fakeListener) Close() error   { return nil }
func (l *fakeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80} }

// remote reads a test's address: "192.0.2.1:1", "[2001:db8::1]:1", or
// "unix" for an address that is not IP.
func remote(t *testing.T, s string) net.Addr {
	t.Helper()
	if s == "unix" {
		return &net.UnixAddr{Name: "@powvote", Net: "unix"}
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		t.Fatal(err)
	}
	// Kept as written: an IPv4-mapped address stays 16 bytes, as a
	// dual-stack listener reports it.
	return net.TCPAddrFromAddrPort(ap)
}

func TestClientKey(t *testing.T) {
	for _, tc := range []struct {
		addr net.Addr
		want string // "": no client
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 4000}, "192.0.2.1"},
		{&net.TCPAddr{IP: net.IPv4(192, 0, 2, 1).To4(), Port: 4000}, "192.0.2.1"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.1"), Port: 4000}, "192.0.2.1"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:3:4:5:6"), Port: 4000}, "2001:db8:1:2::"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2::"), Port: 4000}, "2001:db8:1:2::"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:3::1"), Port: 4000}, "2001:db8:1:3::"},
		{&net.TCPAddr{IP: net.ParseIP("fe80::1:2:3:4"), Port: 4000, Zone: "eth0"}, "fe80::"},
		{&net.TCPAddr{IP: net.ParseIP("::1"), Port: 4000}, "::"},
		{&net.UDPAddr{IP: net.ParseIP("198.51.100.7"), Port: 53}, "198.51.100.7"},
		{&net.UnixAddr{Name: "/run/powvote.sock", Net: "unix"}, ""},
		{&net.TCPAddr{}, ""},
		{nil, ""},
	} {
		key, ok := clientKey(tc.addr)
		got := ""
		if ok {
			got = key.String()
		}
		if got != tc.want {
			t.Errorf("clientKey(%v) = %q, %v; want %q", tc.addr, got, ok, tc.want)
		}
	}
}

// A step of TestAdmission. Connections are numbered in the order they
// are opened, refused ones included.
type step struct {
	do     string // "open", "busy" (a request arrives), "answer" (answered; waits for the next), "close"
	addr   string // open: the remote address
	conn   int    // busy, answer, close: which connection
	want   string // open: "ok", "refused" (Max) or "refused per ip" (PerAddr)
	closes []int  // open: the idle connections closed to make room, in no order
}

func open(addr, want string, closes ...int) step {
	return step{do: "open", addr: addr, want: want, closes: closes}
}
func busy(i int) step   { return step{do: "busy", conn: i} }
func answer(i int) step { return step{do: "answer", conn: i} }
func closed(i int) step { return step{do: "close", conn: i} }

func TestAdmission(t *testing.T) {
	const (
		a = "192.0.2.1:1000"
		b = "192.0.2.2:1000"
		c = "192.0.2.3:1000"
	)
	for _, tc := range []struct {
		name  string
		cfg   Config
		steps []step
		open  int // connections open after the steps
	}{
		{
			name: "per IPv4 address",
			cfg:  Config{Max: 100, PerAddr: 2},
			steps: []step{
				open(a, "ok"), busy(0), open("192.0.2.1:2000", "ok"), busy(1),
				open("192.0.2.1:3000", "refused per ip"),
				open(b, "ok"), open(c, "ok"), open("192.0.2.10:1000", "ok"),
			},
			open: 5,
		},
		{
			name: "per IPv6 /64",
			cfg:  Config{Max: 100, PerAddr: 2},
			steps: []step{
				open("[2001:db8:1:2::1]:1000", "ok"), busy(0),
				open("[2001:db8:1:2:ffff:ffff:ffff:ffff]:1000", "ok"), busy(1),
				open("[2001:db8:1:2:abcd::9]:1000", "refused per ip"),
				open("[2001:db8:1:3::1]:1000", "ok"),
				open("[2001:db8:2:2::1]:1000", "ok"),
			},
			open: 4,
		},
		{
			name: "IPv4-mapped IPv6 is its IPv4 address",
			cfg:  Config{Max: 100, PerAddr: 2},
			steps: []step{
				open("[::ffff:192.0.2.1]:1000", "ok"), busy(0),
				open(a, "ok"), busy(1),
				open("[::ffff:192.0.2.1]:2000", "refused per ip"),
				open(a, "refused per ip"),
			},
			open: 2,
		},
		{
			name: "a client at its limit gives up its longest-idle connection",
			cfg:  Config{Max: 100, PerAddr: 3},
			steps: []step{
				open(a, "ok"), open(a, "ok"), open(a, "ok"), busy(1),
				open(a, "ok", 0), // 3: takes 0's place
				open(b, "ok"),    // 4: another client, not in the way
				open(a, "ok", 2),
				busy(3), busy(5),
				answer(1),        // 1 answered: idle again, at the back
				open(a, "ok", 1), // 6
				busy(6),
				open(a, "refused per ip"), // 7: 3, 5, 6 all busy
				open(b, "ok"),
			},
			open: 5,
		},
		{
			name: "idle connections closed first from IdleAt on",
			cfg:  Config{Max: 4, IdleAt: 3},
			steps: []step{
				open(a, "ok"), open(b, "ok"), open(c, "ok"), // 0 1 2: below IdleAt
				busy(1),
				open(a, "ok", 0), // 3: three open, 0 is the longest idle
				busy(2), busy(3),
				open(b, "ok"),    // 4: nothing idle, below Max
				open(c, "ok", 4), // 5: four open; 4 is idle
				busy(5),
				open(a, "refused"), // 6: four busy
				answer(2),
				open(a, "ok", 2), // 7: 2 waits for its next request
				closed(1), closed(3),
				open(b, "ok"), // 8: two open, below IdleAt again
			},
			open: 3,
		},
		{
			name: "the oldest idle goes first, whatever its client",
			cfg:  Config{Max: 10, IdleAt: 3, PerAddr: 10},
			steps: []step{
				open(a, "ok"), open(b, "ok"), open(c, "ok"),
				busy(0), answer(0), // 0 idle again, now behind 1 and 2
				open(a, "ok", 1),
				open(a, "ok", 2),
				open(a, "ok", 0),
			},
			open: 3,
		},
		{
			name: "idle closing off: refused at Max",
			cfg:  Config{Max: 2},
			steps: []step{
				open(a, "ok"), open(b, "ok"),
				open(c, "refused"),
				closed(0),
				open(c, "ok"),
			},
			open: 2,
		},
		{
			name: "slots come back on close",
			cfg:  Config{Max: 3, PerAddr: 1, IdleAt: 3},
			steps: []step{
				open(a, "ok"), busy(0),
				open(a, "refused per ip"),
				closed(0),
				open(a, "ok"), busy(2),
				open(b, "ok"), busy(3),
				open(c, "ok"), busy(4),
				open("192.0.2.4:1", "refused"),
				closed(3),
				open("192.0.2.4:1", "ok"),
			},
			open: 3,
		},
		{
			name: "an address that is not IP counts toward Max only",
			cfg:  Config{Max: 3, PerAddr: 1},
			steps: []step{
				open("unix", "ok"), busy(0), open("unix", "ok"), busy(1), open(a, "ok"), busy(2),
				open("unix", "refused"),
			},
			open: 3,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fl := &fakeListener{conns: make(chan net.Conn, 1)}
			tc.cfg.Refusal = []byte("refused\n")
			l, err := New(fl, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			var fakes []*fakeConn
			conns := make(map[int]net.Conn)
			var refused, refusedAddr, closedIdle uint64
			for n, s := range tc.steps {
				switch s.do {
				case "open":
					f := newFakeConn(remote(t, s.addr))
					i := len(fakes)
					fakes = append(fakes, f)
					before := make(map[int]bool)
					for j := range conns {
						before[j] = fakes[j].isClosed()
					}
					fl.conns <- f
					c, err := l.Accept()
					switch {
					case s.want == "ok" && err == nil:
						conns[i] = c
					case s.want != "ok" && errors.Is(err, errDrained):
						waitClosed(t, f)
						if got := f.written(); got != "refused\n" {
							t.Errorf("step %d: refused connection %d was sent %q", n, i, got)
						}
						if s.want == "refused" {
							refused++
						} else {
							refusedAddr++
						}
					default:
						t.Fatalf("step %d: open from %s: Accept returned %v, want %s", n, s.addr, err, s.want)
					}
					var shut []int
					for j, was := range before {
						if !was && fakes[j].isClosed() {
							shut = append(shut, j)
							delete(conns, j)
						}
					}
					slices.Sort(shut)
					want := slices.Sorted(slices.Values(s.closes))
					if !slices.Equal(shut, want) {
						t.Errorf("step %d: open from %s closed %v, want %v", n, s.addr, shut, want)
					}
					closedIdle += uint64(len(shut))
				case "busy":
					fakes[s.conn].in <- []byte("GET /list HTTP/1.1\r\n\r\n")
					if k, err := conns[s.conn].Read(make([]byte, 64)); k == 0 || err != nil {
						t.Fatalf("step %d: read of connection %d: %d, %v", n, s.conn, k, err)
					}
				case "answer":
					if _, err := conns[s.conn].Write([]byte("HTTP/1.1 204 No Content\r\n\r\n")); err != nil {
						t.Fatalf("step %d: %v", n, err)
					}
					// Waits for the next request; nothing comes.
					if _, err := conns[s.conn].Read(make([]byte, 64)); !errors.Is(err, timeoutError{}) {
						t.Fatalf("step %d: read of idle connection %d: %v", n, s.conn, err)
					}
				case "close":
					conns[s.conn].Close()
					delete(conns, s.conn)
				}
			}
			if got := l.Open(); got != tc.open || len(conns) != tc.open {
				t.Errorf("%d connections open (%d held by the test), want %d", got, len(conns), tc.open)
			}
			cnt := l.Counters()
			if r, ra, ci := cnt.Refused.Load(), cnt.RefusedAddr.Load(), cnt.ClosedIdle.Load(); r != refused || ra != refusedAddr || ci != closedIdle {
				t.Errorf("counters: refused %d, refused per ip %d, closed idle %d; want %d, %d, %d", r, ra, ci, refused, refusedAddr, closedIdle)
			}
			for _, c := range conns {
				c.Close()
			}
			if got := l.Open(); got != 0 || len(l.clients) != 0 {
				t.Errorf("after closing every connection: %d open, %d clients", got, len(l.clients))
			}
		})
	}
}

func waitClosed(t *testing.T, f *fakeConn) {
	t.Helper()
	select {
	case <-f.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("refused connection not closed within 5 s")
	}
}

// TestClosedIdleReadsEOF: the server's read of a connection closed as
// idle ends as if the client had gone, which fasthttp neither answers nor
// logs, and a second Close is quiet.
func TestClosedIdleReadsEOF(t *testing.T) {
	fl := &fakeListener{conns: make(chan net.Conn, 1)}
	l, err := New(fl, Config{Max: 1, IdleAt: 1})
	if err != nil {
		t.Fatal(err)
	}
	first := newFakeConn(remote(t, "192.0.2.1:1"))
	fl.conns <- first
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	fl.conns <- newFakeConn(remote(t, "192.0.2.2:1"))
	if _, err := l.Accept(); err != nil {
		t.Fatal(err)
	}
	if !first.isClosed() {
		t.Fatal("the idle connection was not closed for the new one")
	}
	if n, err := c.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Errorf("read after the close: %d, %v; want 0, EOF", n, err)
	}
	if _, err := c.Write([]byte("x")); err == nil {
		t.Error("write after the close succeeded")
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close of a connection the listener closed: %v", err)
	}
	if got := l.Open(); got != 1 {
		t.Errorf("%d open, want 1", got)
	}
}

// TestConcurrent opens, serves and closes connections from many
// goroutines while the limits close idle ones (for the race detector),
// and ends with every slot given back.
func TestConcurrent(t *testing.T) {
	fl := &fakeListener{conns: make(chan net.Conn), block: true, done: make(chan struct{})}
	l, err := New(fl, Config{Max: 40, PerAddr: 8, IdleAt: 30, Refusal: []byte("no\n")})
	if err != nil {
		t.Fatal(err)
	}
	var served sync.WaitGroup
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			served.Go(func() {
				f := c.(*conn).Conn.(*fakeConn)
				if f.remote.(*net.TCPAddr).Port%4 == 0 {
					// A slow request: busy until the clients are done.
					f.in <- []byte("GET / HTTP/1.1\r\n")
					if _, err := c.Read(make([]byte, 64)); err == nil {
						<-fl.done
					}
				}
				for i := range 20 {
					if i%3 == 0 {
						select {
						case f.in <- []byte("GET / HTTP/1.1\r\n\r\n"):
						default:
						}
					}
					if _, err := c.Read(make([]byte, 64)); err == io.EOF {
						break
					}
					c.Write([]byte("HTTP/1.1 204 No Content\r\n\r\n"))
				}
				c.Close()
			})
		}
	}()
	var clients sync.WaitGroup
	for g := range 8 {
		clients.Go(func() {
			for i := range 200 {
				fl.conns <- newFakeConn(remote(t, fmt.Sprintf("192.0.2.%d:%d", g*3+i%3, 1000+i)))
			}
		})
	}
	clients.Wait()
	close(fl.done)
	<-accepted
	served.Wait()
	if got := l.Open(); got != 0 || len(l.clients) != 0 || l.idle.head != nil {
		t.Errorf("after every connection closed: %d open, %d clients, idle list empty %v", got, len(l.clients), l.idle.head == nil)
	}
	cnt := l.Counters()
	if cnt.Refused.Load()+cnt.RefusedAddr.Load() == 0 || cnt.ClosedIdle.Load() == 0 {
		t.Errorf("refused %d, refused per ip %d, closed idle %d: want some of each", cnt.Refused.Load(), cnt.RefusedAddr.Load(), cnt.ClosedIdle.Load())
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, cfg := range []Config{{}, {Max: -1}, {Max: 10, PerAddr: -1}, {Max: 10, IdleAt: 11}, {Max: 10, IdleAt: -1}} {
		if _, err := New(&fakeListener{}, cfg); err == nil || !strings.HasPrefix(err.Error(), "connlimit: ") {
			t.Errorf("New(%+v): %v, want an error", cfg, err)
		}
	}
}

func TestIdleAt(t *testing.T) {
	for _, tc := range []struct{ limit, percent, want int }{
		{10000, 90, 9000},
		{12, 90, 11}, // 10.8: the first count at 90% or more
		{4096, 90, 3687},
		{10, 100, 10},
		{3, 1, 1},
		{1, 90, 1},
		{10, 0, 0},
		{10, -1, 0},
		{0, 90, 0},
	} {
		if got := IdleAt(tc.limit, tc.percent); got != tc.want {
			t.Errorf("IdleAt(%d, %d) = %d, want %d", tc.limit, tc.percent, got, tc.want)
		}
	}
}

// TestRequestWaitingIsBusy: a connection whose request arrived but that
// the server has not read yet is not closed as idle, though it is the
// longest idle as far as reads go; one that sent nothing is.
func TestRequestWaitingIsBusy(t *testing.T) {
	if !pendingWorks {
		t.Skip("no way to look into a socket here")
	}
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	l, err := New(tcp, Config{Max: 2, IdleAt: 2})
	if err != nil {
		t.Fatal(err)
	}
	dial := func(send string) (client, server net.Conn) {
		t.Helper()
		c, err := net.Dial("tcp", tcp.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if send != "" {
			io.WriteString(c, send)
		}
		s, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return c, s
	}
	waiting, ws := dial("GET /list HTTP/1.1\r\n")
	silent, ss := dial("")
	// The server waits for the silent one's request, as fasthttp does:
	// looking into its socket must not wait for that read.
	go ss.Read(make([]byte, 64))
	// Let the request reach the server's socket.
	for deadline := time.Now().Add(5 * time.Second); !pending(ws.(*conn).Conn); {
		if time.Now().After(deadline) {
			t.Fatal("the request never reached the server's socket")
		}
		time.Sleep(10 * time.Millisecond)
	}
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		dial("") // two open: closes the longest idle with nothing waiting
	}()
	select {
	case <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("Accept blocked while the server read an idle connection")
	}
	for name, c := range map[string]net.Conn{"with a request waiting": waiting, "silent": silent} {
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		stillOpen := errors.As(err, &ne) && ne.Timeout()
		if want := name != "silent"; stillOpen != want {
			t.Errorf("connection %s: open %v (read: %v), want %v", name, stillOpen, err, want)
		}
	}
}
