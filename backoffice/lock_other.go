//go:build !unix

package backoffice

// lockPath does nothing where flock(2) does not exist: two changes of the
// accounts file at once are then the operator's mistake to avoid.
func lockPath(string) (unlock func(), err error) { return func() {}, nil }
