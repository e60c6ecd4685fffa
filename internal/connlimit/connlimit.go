// Package connlimit is the listener in front of the platform's public
// servers, the edge and the publisher. It bounds the connections a server
// holds open, in all and per client, and when the server nears its bound
// it closes idle connections rather than refusing new ones, so that
// connections which carry no request cannot lock voters out.
//
// # Clients
//
// A connection belongs to a client by its remote address: an IPv4
// address, or the /64 prefix of an IPv6 address. One host, or one
// household, usually holds a whole /64, so counting full IPv6 addresses
// would give it 2^64 allowances. An IPv4-mapped IPv6 address counts as
// its IPv4 address. A connection whose remote address is not IP (a Unix
// socket, a pipe) belongs to no client and counts toward the total only.
//
// # Idle connections
//
// A connection is idle while its server waits for the start of a request:
// from accept until the first byte arrives, and from the end of each
// answer until the first byte of the next request. It is busy while a
// request is being read, handled or answered, and while requests it sent
// ahead (pipelined) wait in the server's buffer. The listener learns this
// from the connection's reads and writes, for an HTTP/1 server that reads
// no request while it answers one (fasthttp): a read that follows a write
// waits for a new request, and the connection is idle from then until
// bytes arrive. Before it closes an idle connection, the listener looks
// into its socket (on Unix): a request that arrived but that the server
// has not read yet makes it busy.
//
// A layer between the listener and the server that reads and writes for
// itself, TLS with its handshake, calls AwaitRequest on the connection
// once it is done: a TLS 1.3 server writes nothing after the client's
// last handshake message, so without the call a connection that
// completed its handshake and sent nothing more would count as busy.
// (The layer reads ahead: a request that came in the same read as the
// handshake's last message and is not complete then counts as idle
// until more bytes arrive, which only makes a slow sender give way
// sooner.)
//
// # Admission
//
// A new connection is admitted as follows.
//
//  1. If its client already holds PerAddr connections, the client's
//     longest-idle connection is closed to make room; if none of them is
//     idle, the new connection is refused.
//  2. Otherwise, if IdleAt or more connections are open, the longest-idle
//     connection of any client is closed; if Max connections are open
//     and none is idle, the new connection is refused.
//
// A refused connection is sent Config.Refusal and closed. An idle
// connection is closed without a word, as a server closes a keep-alive
// connection at its idle timeout: HTTP clients then send their next
// request on a new connection.
//
// Nothing here logs an address: the counters and the warning name counts
// only.
package connlimit

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// The servers' defaults (edge.Config, publisher.Config, the command
// line).
//
// DefaultPerAddr is sized for large NATs: a carrier-grade NAT or a
// university puts hundreds of people behind one IPv4 address, and a
// browser opens up to 6 connections to a host and keeps them for the
// server's idle timeout. 512 is 85 voters with all 6 connections open at
// the same moment, several hundred with the usual one or two; and since
// a newcomer takes the place of its address's longest-idle connection,
// voters behind a NAT are refused only when 512 of its connections are
// in the middle of a request at once. It still holds one address to
// about 5% of the edge's default 10000 connections.
//
// DefaultIdlePercent leaves the last tenth of the connections for
// bursts of busy ones, while idle connections give way first.
const (
	DefaultPerAddr     = 512
	DefaultIdlePercent = 90
)

// IdleAt converts a share of limit (Config.Max) in percent to
// Config.IdleAt: the first count that is at least that share, at least 1;
// 0 (never) for a percent of 0 or less.
func IdleAt(limit, percent int) int {
	if percent <= 0 || limit < 1 {
		return 0
	}
	return min(limit, max(1, (limit*percent+99)/100))
}

// Config bounds a Listener.
type Config struct {
	Max     int // connections open at once; at least 1
	PerAddr int // connections open at once per client; 0: no limit
	IdleAt  int // open connections from which a new one closes the longest-idle one; 0: never

	// Refusal is written to a refused connection, within RefuseTimeout,
	// before it is closed; nil: it is closed at once.
	Refusal []byte

	// Counters receives the counts; nil: the Listener keeps its own
	// (Listener.Counters).
	Counters *Counters

	// Logger gets a warning, with the counters and no address, at most
	// once per LogEvery while connections are refused or closed idle;
	// nil: no warnings.
	Logger *slog.Logger
}

// Unavailable is the refusal the platform's servers send (Config.Refusal):
// a 503 with an empty body, like every answer of theirs, and the
// connection closed.
const Unavailable = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

// RefuseTimeout bounds the write of Config.Refusal to a client that does
// not read.
const RefuseTimeout = time.Second

// LogEvery is the least time between two warnings.
const LogEvery = time.Minute

// Counters count what the limits did since the start; safe for concurrent
// use.
type Counters struct {
	Refused     atomic.Uint64 // new connections refused: Max open, none idle
	RefusedAddr atomic.Uint64 // new connections refused: PerAddr open for their client, none idle
	ClosedIdle  atomic.Uint64 // idle connections closed to make room for a new one
}

// Listener wraps a net.Listener; its Accept applies the limits. Every
// connection it returns must be closed through the returned net.Conn,
// which gives the slot back.
type Listener struct {
	net.Listener
	cfg Config
	cnt *Counters

	mu      sync.Mutex
	open    int
	idle    list // every idle connection, longest idle first
	clients map[netip.Addr]*client

	lastWarn atomic.Int64 // Unix nanoseconds of the last warning
}

// client is the connections of one address or /64.
type client struct {
	key  netip.Addr
	open int
	idle list // its idle connections, longest idle first
}

// New wraps ln.
func New(ln net.Listener, cfg Config) (*Listener, error) {
	switch {
	case cfg.Max < 1:
		return nil, fmt.Errorf("connlimit: Max %d: want at least 1", cfg.Max)
	case cfg.PerAddr < 0:
		return nil, fmt.Errorf("connlimit: PerAddr %d: want 0 (no limit) or more", cfg.PerAddr)
	case cfg.IdleAt < 0 || cfg.IdleAt > cfg.Max:
		return nil, fmt.Errorf("connlimit: IdleAt %d: want 0 (never) to Max (%d)", cfg.IdleAt, cfg.Max)
	}
	l := &Listener{Listener: ln, cfg: cfg, cnt: cfg.Counters}
	if l.cnt == nil {
		l.cnt = new(Counters)
	}
	if cfg.PerAddr > 0 {
		l.clients = make(map[netip.Addr]*client)
	}
	l.idle.which = allIdle
	return l, nil
}

// Counters returns the counters the Listener counts in.
func (l *Listener) Counters() *Counters { return l.cnt }

// Open returns the number of connections open.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// Accept returns the next admitted connection. It refuses and closes
// connections beyond the limits itself, and returns only the underlying
// listener's errors.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		c, victim, refused := l.admit(nc)
		if victim != nil {
			// Outside the lock: closing a socket is a system call. Its
			// server's read fails, and conn.Read turns that into a quiet
			// end of file.
			victim.Conn.Close()
			l.cnt.ClosedIdle.Add(1)
			l.warn()
		}
		if c != nil {
			return c, nil
		}
		refused.Add(1)
		l.refuse(nc)
		l.warn()
	}
}

// admit decides on a new connection (see the package documentation). It
// returns either the wrapped connection, with the idle connection it
// displaced (to be closed), or the counter of the reason for refusing it.
func (l *Listener) admit(nc net.Conn) (c *conn, victim *conn, refused *atomic.Uint64) {
	key, isIP := clientKey(nc.RemoteAddr())
	l.mu.Lock()
	defer l.mu.Unlock()
	var cl *client
	if isIP && l.clients != nil {
		cl = l.clients[key]
		if cl != nil && cl.open >= l.cfg.PerAddr {
			if victim = l.pickIdle(&cl.idle); victim == nil {
				return nil, nil, &l.cnt.RefusedAddr
			}
			l.shut(victim)
		}
	}
	// A connection that took the place of its own client's idle one
	// leaves the count as it was.
	if victim == nil && (l.cfg.IdleAt > 0 && l.open >= l.cfg.IdleAt || l.open >= l.cfg.Max) {
		if l.cfg.IdleAt > 0 {
			victim = l.pickIdle(&l.idle)
		}
		if victim != nil {
			l.shut(victim)
		} else if l.open >= l.cfg.Max {
			return nil, nil, &l.cnt.Refused
		}
	}
	if isIP && l.clients != nil {
		if cl = l.clients[key]; cl == nil { // dropping the victim may have removed it
			cl = &client{key: key}
			cl.idle.which = clientIdle
			l.clients[key] = cl
		}
		cl.open++
	}
	l.open++
	c = &conn{Conn: nc, l: l, client: cl, waiting: true}
	l.setIdleLocked(c)
	return c, victim, nil
}

// maxPeek bounds the idle connections pickIdle looks at for one newcomer.
const maxPeek = 8

// pickIdle returns the longest-idle connection of q that has no request
// waiting unread in its socket, or nil. One that has is busy: the server
// has not got to it yet (under load, or just after accept), and it leaves
// the idle lists. l.mu is held.
func (l *Listener) pickIdle(q *list) *conn {
	for range maxPeek {
		c := q.front()
		if c == nil || !pending(c.Conn) {
			return c
		}
		l.unlistLocked(c)
	}
	return nil
}

// refuse sends the refusal, if any, and closes nc, on its own goroutine so
// that a client that does not read never holds up Accept.
func (l *Listener) refuse(nc net.Conn) {
	if l.cfg.Refusal == nil {
		nc.Close()
		return
	}
	go func() {
		nc.SetDeadline(time.Now().Add(RefuseTimeout))
		nc.Write(l.cfg.Refusal)
		nc.Close()
	}()
}

// warn logs the counters, at most once per LogEvery.
func (l *Listener) warn() {
	if l.cfg.Logger == nil {
		return
	}
	now := time.Now().UnixNano()
	last := l.lastWarn.Load()
	if last != 0 && now-last < int64(LogEvery) || !l.lastWarn.CompareAndSwap(last, now) {
		return
	}
	l.cfg.Logger.Warn("connections refused or closed idle at the connection limits (totals since the start)",
		"refused", l.cnt.Refused.Load(), "refused_per_ip", l.cnt.RefusedAddr.Load(), "closed_idle", l.cnt.ClosedIdle.Load(),
		"max", l.cfg.Max, "per_ip", l.cfg.PerAddr)
}

// setIdleLocked puts c at the back of the idle lists. l.mu is held.
func (l *Listener) setIdleLocked(c *conn) {
	c.idle = true
	l.idle.pushBack(c)
	if c.client != nil {
		c.client.idle.pushBack(c)
	}
}

// setIdle marks c idle; false if its slot was given back meanwhile.
func (l *Listener) setIdle(c *conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.closed {
		return false
	}
	if !c.idle {
		l.setIdleLocked(c)
	}
	return true
}

// setBusy marks c busy; false if its slot was given back meanwhile.
func (l *Listener) setBusy(c *conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.closed {
		return false
	}
	l.unlistLocked(c)
	return true
}

// unlistLocked takes c out of the idle lists. l.mu is held.
func (l *Listener) unlistLocked(c *conn) {
	if !c.idle {
		return
	}
	c.idle = false
	l.idle.remove(c)
	if c.client != nil {
		c.client.idle.remove(c)
	}
}

// drop gives c's slot back, once. l.mu is held.
func (l *Listener) drop(c *conn) {
	if c.closed {
		return
	}
	c.closed = true
	l.unlistLocked(c)
	l.open--
	if cl := c.client; cl != nil {
		if cl.open--; cl.open == 0 {
			delete(l.clients, cl.key)
		}
	}
}

// shut gives an idle connection's slot to a new one; the caller closes
// its socket once l.mu is released. l.mu is held.
func (l *Listener) shut(c *conn) {
	c.shut.Store(true)
	l.drop(c)
}

// conn is an admitted connection.
type conn struct {
	net.Conn
	l      *Listener
	client *client // nil: counted toward the total only

	// Guarded by l.mu.
	links  [2]links // in l.idle and in client.idle, while idle
	idle   bool
	closed bool // the slot is given back, by Close or by the listener

	// shut is set when the listener closed the connection as idle: the
	// server's read then ends as if the client had closed it, which
	// fasthttp neither answers nor logs.
	shut atomic.Bool

	// Used only by the goroutine that serves the connection: fasthttp
	// reads and writes a connection from one goroutine.
	waiting  bool // idle as far as this goroutine knows: bytes read or a write make it busy
	answered bool // written since the last bytes read: the next read waits for a new request
}

func (c *conn) Read(b []byte) (int, error) {
	if c.answered {
		c.answered = false
		if !c.l.setIdle(c) {
			return 0, io.EOF
		}
		c.waiting = true
	}
	n, err := c.Conn.Read(b)
	if n > 0 && c.waiting {
		c.waiting = false
		if !c.l.setBusy(c) {
			// Closed as idle while the bytes arrived: the request is
			// lost with the connection, as at an idle timeout.
			return 0, io.EOF
		}
	}
	if err != nil && c.shut.Load() {
		return n, io.EOF
	}
	return n, err
}

func (c *conn) Write(b []byte) (int, error) {
	if c.waiting {
		c.waiting = false
		if !c.l.setBusy(c) {
			return 0, net.ErrClosed
		}
	}
	c.answered = true
	return c.Conn.Write(b)
}

// AwaitRequest says that the server now waits for the start of a
// request, as after an answer: the connection is idle from its next read
// until bytes arrive. Called by the goroutine that serves the connection.
func (c *conn) AwaitRequest() { c.answered = true }

// Close gives the slot back (once) and closes the connection.
func (c *conn) Close() error {
	c.l.mu.Lock()
	c.l.drop(c)
	c.l.mu.Unlock()
	err := c.Conn.Close()
	if c.shut.Load() && errors.Is(err, net.ErrClosed) {
		return nil // the listener closed it already
	}
	return err
}

// clientKey is the client a remote address belongs to: the IPv4 address,
// or the IPv6 /64; false when the address is not IP.
func clientKey(a net.Addr) (netip.Addr, bool) {
	var ip netip.Addr
	switch a := a.(type) {
	case *net.TCPAddr:
		ip = a.AddrPort().Addr()
	case nil:
		return netip.Addr{}, false
	default:
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return netip.Addr{}, false
		}
		ip = ap.Addr()
	}
	ip = ip.Unmap().WithZone("")
	switch {
	case ip.Is4():
		return ip, true
	case ip.Is6():
		return netip.PrefixFrom(ip, 64).Masked().Addr(), true
	}
	return netip.Addr{}, false
}

// Which list a links entry belongs to.
const (
	allIdle    = 0
	clientIdle = 1
)

type links struct{ prev, next *conn }

// list is an intrusive doubly linked list of connections through
// conn.links[which]; guarded by Listener.mu.
type list struct {
	head, tail *conn
	which      int
}

func (q *list) front() *conn { return q.head }

func (q *list) pushBack(c *conn) {
	ln := &c.links[q.which]
	ln.prev, ln.next = q.tail, nil
	if q.tail != nil {
		q.tail.links[q.which].next = c
	} else {
		q.head = c
	}
	q.tail = c
}

func (q *list) remove(c *conn) {
	ln := &c.links[q.which]
	if ln.prev != nil {
		ln.prev.links[q.which].next = ln.next
	} else {
		q.head = ln.next
	}
	if ln.next != nil {
		ln.next.links[q.which].prev = ln.prev
	} else {
		q.tail = ln.prev
	}
	ln.prev, ln.next = nil, nil
}
