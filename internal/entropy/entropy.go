// Package entropy reads random bytes into a caller's buffer without moving
// that buffer to the heap, for the edge's answers that draw random bytes on
// every request (hedged signatures, voter stamps).
//
// A slice handed to an io.Reader's Read escapes to the heap: the compiler
// cannot see what an interface method keeps, so a caller's stack array
// becomes an allocation per call. crypto/rand.Read keeps its argument where
// it is when crypto/rand.Reader is the default source. [Read] uses it for
// that source and copies through a heap buffer from any other, such as the
// fixed bytes that tests pass.
package entropy

import (
	"crypto/rand"
	"io"
)

// system is crypto/rand.Reader as the program started with it.
var system = rand.Reader

// Read fills b from r. When r is crypto/rand.Reader, still the default
// source, it never fails and does not allocate; from any other source it
// returns io.ReadFull's error.
func Read(r io.Reader, b []byte) error {
	if r == system && rand.Reader == system {
		rand.Read(b) // the default source never fails (crypto/rand, Go 1.24)
		return nil
	}
	buf := make([]byte, len(b))
	if _, err := io.ReadFull(r, buf); err != nil {
		return err
	}
	copy(b, buf)
	return nil
}
