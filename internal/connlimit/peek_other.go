//go:build !unix

package connlimit

import "net"

// pending would report whether bytes wait unread in nc's socket; without
// a way to look, a connection counts as idle until the server reads
// from it.
func pending(net.Conn) bool { return false }

// pendingWorks says whether pending can look into sockets here.
const pendingWorks = false
