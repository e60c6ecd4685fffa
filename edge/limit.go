package edge

import (
	"net"

	"github.com/powvote/powvote/internal/connlimit"
)

// The edge's connections are bounded by its own listener (package
// connlimit), not by fasthttp's limits: fasthttp's Server.Concurrency
// would answer with an explanatory text, and its MaxConnsPerIP answers
// 429 with one and logs the client's address; fasthttp is given room to
// spare and never reaches them.
//
//   - Config.MaxConns connections at once. One more is answered 503 with
//     an empty body, like every answer of the edge, and closed.
//   - Config.MaxConnsPerIP connections at once per client: one IPv4
//     address or one IPv6 /64. One more from that client takes the place
//     of the client's longest-idle connection, or, when all of them are
//     busy, gets the same 503.
//   - From Config.IdleCloseAt percent of MaxConns on, a new connection
//     takes the place of the longest-idle connection of any client, so
//     that connections which carry no request (opened and left silent,
//     or kept alive after an answer) cannot fill the edge: a refusal is
//     left for when every open connection is busy.
//
// An idle connection is closed without an answer, as at its keep-alive
// timeout: browsers and HTTP clients send their next request on a new
// connection. The counts go to Stats; no address is logged.
//
// With Config.TLS the limits apply to the TCP connections, below TLS, and
// a refused connection is closed at once: a TLS client would read the
// plain 503 as a broken handshake all the same.

// limitListener wraps ln in the edge's connection limits.
func (s *Server) limitListener(ln net.Listener) (*connlimit.Listener, error) {
	refusal := []byte(connlimit.Unavailable)
	if s.cfg.TLS != nil {
		refusal = nil
	}
	return connlimit.New(ln, connlimit.Config{
		Max:      s.cfg.MaxConns,
		PerAddr:  max(s.cfg.MaxConnsPerIP, 0),
		IdleAt:   connlimit.IdleAt(s.cfg.MaxConns, s.cfg.IdleCloseAt),
		Refusal:  refusal,
		Counters: &s.conns,
		Logger:   s.log,
	})
}

// addConnStats adds the listener's counters to the Stats map.
func (s *Server) addConnStats(m map[string]uint64) {
	m["conns_refused"] = s.conns.Refused.Load()
	m["conns_refused_per_ip"] = s.conns.RefusedAddr.Load()
	m["conns_closed_idle"] = s.conns.ClosedIdle.Load()
}
