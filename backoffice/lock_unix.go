//go:build unix

package backoffice

import (
	"os"
	"syscall"
)

// lockPath takes an exclusive lock on the file path (created 0600 if
// missing), waiting for it, so that two changes of the accounts file
// never lose one another.
func lockPath(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}
