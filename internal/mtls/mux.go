package mtls

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Mux shares one listening port between the internal-link servers of
// several campaigns, each with its own CA and certificate: every client
// of this package names its campaign as the TLS server name (ClientConfig),
// and Mux reads that name from the ClientHello, without answering it, and
// hands the connection, unread, to the campaign's listener, whose server
// then does the handshake with its own Link. A connection whose hello
// names no campaign (or that is not TLS at all) goes to the only campaign
// when there is one, so that clients that send no name keep working and a
// plain-HTTP client still reads the Link's refusal; a connection that
// names a campaign not served here, or none among several, is closed.
type Mux struct {
	ln  net.Listener
	log *slog.Logger

	mu        sync.Mutex
	campaigns map[string]*muxListener
	closed    bool
}

// HelloTimeout bounds how long Mux waits for a client's ClientHello.
const HelloTimeout = 10 * time.Second

// maxHello bounds the bytes Mux reads to find the server name: a
// ClientHello is a few hundred bytes; TLS allows 16 KiB a record.
const maxHello = 1 << 16

// NewMux starts sharing ln. Serve accepts its connections.
func NewMux(ln net.Listener, log *slog.Logger) *Mux {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Mux{ln: ln, log: log, campaigns: map[string]*muxListener{}}
}

// Listener returns the listener of campaign's connections, made on first
// use. Closing it removes the campaign from the Mux: its new connections
// are closed until Listener is called again.
func (m *Mux) Listener(campaign string) net.Listener {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.campaigns[campaign]; ok {
		return l
	}
	l := &muxListener{m: m, name: campaign, conns: make(chan net.Conn), done: make(chan struct{})}
	if m.closed {
		l.close()
	}
	m.campaigns[campaign] = l
	return l
}

// Serve accepts connections until ctx is done or the listener fails, then
// closes it and every campaign's listener.
func (m *Mux) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { m.ln.Close() })
	defer stop()
	defer m.close()
	for {
		c, err := m.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		go m.route(c)
	}
}

// route reads c's server name and hands c to its campaign.
func (m *Mux) route(c net.Conn) {
	name, replay := serverName(c)
	l := m.pick(name)
	if l == nil {
		m.log.Warn("internal link: a client asked for a campaign not served here", "campaign", name, "remote", c.RemoteAddr().String())
		c.Close()
		return
	}
	rc := &replayConn{Conn: c, r: io.MultiReader(bytes.NewReader(replay), c)}
	select {
	case l.conns <- rc:
	case <-l.done:
		c.Close()
	}
}

func (m *Mux) pick(name string) *muxListener {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.campaigns[name]; ok || name != "" {
		return l
	}
	if len(m.campaigns) == 1 {
		for _, l := range m.campaigns {
			return l
		}
	}
	return nil
}

func (m *Mux) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	for _, l := range m.campaigns {
		l.close()
	}
}

func (m *Mux) remove(l *muxListener) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.campaigns[l.name] == l {
		delete(m.campaigns, l.name)
	}
}

// errHelloRead stops the handshake serverName starts once the hello is
// read: Mux answers nothing itself.
var errHelloRead = errors.New("mtls: client hello read")

// serverName reads c's ClientHello and returns the server name it asks
// for ("" when none, or when c does not speak TLS) and every byte read.
func serverName(c net.Conn) (string, []byte) {
	c.SetReadDeadline(time.Now().Add(HelloTimeout))
	defer c.SetReadDeadline(time.Time{})
	rec := &recordingConn{Conn: c}
	var name string
	tls.Server(rec, &tls.Config{
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			name = h.ServerName
			return nil, errHelloRead
		},
	}).Handshake()
	return name, rec.buf.Bytes()
}

// recordingConn keeps what it reads and writes nothing: the alert the
// aborted handshake would send must not reach the client, whose real
// handshake is still to come.
type recordingConn struct {
	net.Conn
	buf bytes.Buffer
}

func (r *recordingConn) Read(b []byte) (int, error) {
	if r.buf.Len() >= maxHello {
		return 0, io.ErrUnexpectedEOF
	}
	if len(b) > maxHello-r.buf.Len() {
		b = b[:maxHello-r.buf.Len()]
	}
	n, err := r.Conn.Read(b)
	r.buf.Write(b[:n])
	return n, err
}

func (r *recordingConn) Write(b []byte) (int, error) { return len(b), nil }

// replayConn reads first what Mux read, then the connection.
type replayConn struct {
	net.Conn
	r io.Reader
}

func (c *replayConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// muxListener is one campaign's share of a Mux.
type muxListener struct {
	m     *Mux
	name  string
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func (l *muxListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *muxListener) close() { l.once.Do(func() { close(l.done) }) }

func (l *muxListener) Close() error {
	l.close()
	l.m.remove(l)
	return nil
}

func (l *muxListener) Addr() net.Addr { return l.m.ln.Addr() }
