package edge

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// limitListener holds the edge to Config.MaxConns open connections. One
// more is answered 503 with an empty body, like every answer of the edge,
// and closed: fasthttp's own limit (Server.Concurrency) would answer with
// an explanatory text, so fasthttp is given room to spare and never
// reaches it.
type limitListener struct {
	net.Listener
	max  int64
	open atomic.Int64
}

// overloaded is the whole answer to a connection beyond the limit.
const overloaded = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

// refuseTimeout bounds the write of that answer to a client that does not
// read.
const refuseTimeout = time.Second

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.max {
			return &limitConn{Conn: c, l: l}, nil
		}
		l.open.Add(-1)
		go func() {
			c.SetDeadline(time.Now().Add(refuseTimeout))
			c.Write([]byte(overloaded))
			c.Close()
		}()
	}
}

// limitConn gives its slot back when closed, once.
type limitConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *limitConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}
