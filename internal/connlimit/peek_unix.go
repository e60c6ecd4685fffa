//go:build unix

package connlimit

import (
	"net"
	"syscall"
)

// pending reports whether bytes wait unread in nc's socket: the start of
// a request the server has not read yet (it was busy, or has not got to
// the connection since accept). Such a connection is not idle. A socket
// the client has closed has nothing pending.
func pending(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var b [1]byte
	waiting := false
	// Control, not Read: RawConn.Read would wait for the server's own
	// read of the connection to end. MSG_DONTWAIT keeps the peek from
	// blocking.
	rc.Control(func(fd uintptr) {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		waiting = err == nil && n > 0
	})
	return waiting
}

// pendingWorks says whether pending can look into sockets here.
const pendingWorks = true
