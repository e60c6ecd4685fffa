//go:build race

package stamp

// raceEnabled: the race detector's crypto/rand.Read allocates, so
// allocation counts mean nothing under it.
const raceEnabled = true
