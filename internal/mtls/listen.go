package mtls

import (
	"fmt"
	"net"
	"strconv"
	"time"
)

// plainRefusal is what a client that speaks plain HTTP to a TLS port of
// the platform reads, instead of a connection closed without a word.
const plainRefusal = "this port speaks TLS 1.3 with client certificates: internal links use https:// and the campaign's certificates (docs/DEPLOY.md)\n"

// plainRefuser hands out connections that answer a first byte other than a
// TLS handshake record's with an HTTP 400 naming the cause.
type plainRefuser struct{ net.Listener }

func (l plainRefuser) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &refusingConn{Conn: c}, nil
}

// refusingConn checks the first byte the peer sends.
type refusingConn struct {
	net.Conn
	checked bool // the first bytes were looked at (one reader: the handshake)
	refused bool
}

// errPlainClient is the handshake error a server logs for such a client.
var errPlainClient = fmt.Errorf("mtls: a client spoke plain HTTP to this TLS port: %w", ErrPlainHTTP)

// tlsHandshake is the content type of a TLS handshake record, the first
// byte every TLS client sends.
const tlsHandshake = 0x16

func (c *refusingConn) Read(b []byte) (int, error) {
	if c.refused {
		return 0, errPlainClient
	}
	n, err := c.Conn.Read(b)
	if !c.checked && n > 0 {
		c.checked = true
		c.refused = b[0] != tlsHandshake
	}
	if c.refused {
		c.Conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
		c.Conn.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: " +
			strconv.Itoa(len(plainRefusal)) + "\r\n\r\n" + plainRefusal))
		return 0, errPlainClient
	}
	return n, err
}
