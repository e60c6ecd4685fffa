//go:build race

package edge

// raceEnabled: the race detector's crypto/rand.Read allocates, so
// allocation counts of answers that draw random bytes mean nothing under
// it.
const raceEnabled = true
