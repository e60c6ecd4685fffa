package edge

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestStampTimingFlooded is TestStampTiming while the edge is flooded from
// other connections: with wrong codes (the pool untouched), and with the
// valid code (an accomplice with a relayed code spending every pool, so
// that the measured valid code gets a decoy, PROTOCOL.md 5.2). Either way
// a valid and a wrong code take the same time to answer. The flood makes
// the measurement noisier, so this sees less than TestStampTiming; what it
// would see is a path that only a flood takes, such as a spent pool
// answered by a wait or by a fetch.
func TestStampTimingFlooded(t *testing.T) {
	for _, flood := range []string{"wrong", "valid"} {
		t.Run(flood, func(t *testing.T) {
			// Pools that the measured valid codes never spend, or
			// that the flood always does.
			lo, hi := 4096, 4096
			if flood == "valid" {
				lo, hi = 8, 16
			}
			e := startEnv(t, 1, func(c *Config) { c.StampPoolMin, c.StampPoolMax, c.CollectorTimeout = lo, hi, 10*time.Second })
			right, wrong := e.rightCode(t), e.wrongCode(t)
			code := wrong
			if flood == "valid" {
				code = right
			}
			var stop atomic.Bool
			var wg sync.WaitGroup
			for range 2 {
				c := dialStamp(t, e.base)
				wg.Go(func() {
					for !stop.Load() {
						if _, _, err := c.get(code); err != nil {
							return
						}
					}
				})
			}
			leak, rounds := timingLeak(t, dialStamp(t, e.base), right, wrong, 1000)
			stop.Store(true)
			wg.Wait()
			for i, r := range rounds {
				t.Logf("round %d (right/wrong): %v", i+1, r)
			}
			if leak {
				t.Errorf("under a flood of %s codes, right and wrong booth codes are told apart by timing in all %d rounds", flood, len(rounds))
			}
			st := e.srv.Stats()
			if spent := st["stamp_pool_spent"]; (flood == "valid") != (spent > 0) {
				t.Errorf("flood of %s codes: %d valid codes found the pool spent", flood, spent)
			}
		})
	}
}
