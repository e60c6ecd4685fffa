package loadtest

import (
	"context"
	"math"
	"sync/atomic"
	"time"
)

// Schedule places votes on the clock: a linear ramp from 0 to Rate over
// Ramp, then Rate per second for Duration.
type Schedule struct {
	Rate     float64       // per second, after the ramp
	Ramp     time.Duration // 0: full rate from the start
	Duration time.Duration // at full rate, after the ramp
}

// rampCount is the number of events during the ramp: the area under the
// rate, Rate*Ramp/2.
func (s Schedule) rampCount() int {
	return int(math.Floor(s.Rate * s.Ramp.Seconds() / 2))
}

// Steady is the number of events at full rate.
func (s Schedule) Steady() int {
	return int(math.Round(s.Rate * s.Duration.Seconds()))
}

// Count is the number of events in the schedule.
func (s Schedule) Count() int { return s.rampCount() + s.Steady() }

// At is when event i is due, from the start. During the ramp the rate at
// time t is Rate*t/Ramp, so the count by t is Rate*t²/(2*Ramp) and event i
// is due at sqrt(2*Ramp*i/Rate); after it events are 1/Rate apart.
func (s Schedule) At(i int) time.Duration {
	if s.Rate <= 0 {
		return 0
	}
	r := s.rampCount()
	if i < r {
		return time.Duration(math.Sqrt(2*s.Ramp.Seconds()*float64(i)/s.Rate) * float64(time.Second))
	}
	return s.Ramp + time.Duration(float64(i-r)/s.Rate*float64(time.Second))
}

// Last is when the last event is due.
func (s Schedule) Last() time.Duration {
	if n := s.Count(); n > 0 {
		return s.At(n - 1)
	}
	return 0
}

// openLoop calls do(ctx, i, due) once for every i in [0, n), each not
// before start+at(i), on the given number of goroutines, and returns when
// all calls have returned or ctx is done and the running calls returned.
// Each goroutine takes the next i in order and waits for its due time; when
// every goroutine is busy, the next event goes out late, and do measures
// its latency from due, not from when it went out, so lateness is never
// hidden.
func openLoop(ctx context.Context, start time.Time, n int, at func(int) time.Duration, workers int, do func(ctx context.Context, i int, due time.Time)) {
	var next atomic.Int64
	done := make(chan struct{})
	workers = max(1, min(workers, n))
	for range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			timer := time.NewTimer(time.Hour)
			defer timer.Stop()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				due := start.Add(at(i))
				if d := time.Until(due); d > 0 {
					timer.Reset(d)
					select {
					case <-ctx.Done():
						return
					case <-timer.C:
					}
				}
				do(ctx, i, due)
			}
		}()
	}
	if n == 0 {
		return
	}
	for range workers {
		<-done
	}
}
