package main

import (
	"flag"

	"github.com/powvote/powvote/internal/connlimit"
)

// connLimits are the connection-limit flags of the public servers: the
// edge (powvote edge, powvote up) and the publisher.
type connLimits struct {
	max, perIP, idleAt *int
}

// addConnLimits adds the flags to fs; defMax is the server's default
// connection limit.
func addConnLimits(fs *flag.FlagSet, defMax int) *connLimits {
	return &connLimits{
		max: fs.Int("max-conns", defMax, "connections open at once; one more is answered 503"),
		perIP: fs.Int("max-conns-per-ip", connlimit.DefaultPerAddr,
			"connections open at once from one IPv4 address or IPv6 /64; a new one replaces the address's longest-idle, or is answered 503 if none is idle; 0: no limit (behind a proxy, whose address every connection has)"),
		idleAt: fs.Int("idle-close-at", connlimit.DefaultIdlePercent,
			"percent of --max-conns from which a new connection closes the longest-idle one (waiting for a request); 0: never"),
	}
}

// check refuses values out of range.
func (c *connLimits) check() error {
	switch {
	case *c.max < 1:
		return usagef("--max-conns %d: want at least 1", *c.max)
	case *c.perIP < 0:
		return usagef("--max-conns-per-ip %d: want 0 (no limit) or more", *c.perIP)
	case *c.idleAt < 0 || *c.idleAt > 100:
		return usagef("--idle-close-at %d: want a percent from 0 (never) to 100", *c.idleAt)
	}
	return nil
}

// config returns the values as the servers' Config fields take them
// (edge.Config, publisher.Config), where 0 is the default and a
// negative value turns a limit off.
func (c *connLimits) config() (maxConns, perIP, idleCloseAt int) {
	return *c.max, offIfZero(*c.perIP), offIfZero(*c.idleAt)
}

func offIfZero(v int) int {
	if v == 0 {
		return -1
	}
	return v
}
