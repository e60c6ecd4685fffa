//go:build unix

package station

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive lock on f without waiting, so that two desks
// never append to one file and count each other's mandates as their own.
func lockFile(f *os.File) (unlock func() error, err error) {
	fd := int(f.Fd())
	if err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return nil, err
	}
	return func() error { return syscall.Flock(fd, syscall.LOCK_UN) }, nil
}
