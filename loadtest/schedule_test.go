package loadtest

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestScheduleAt(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name  string
		s     Schedule
		count int
		at    map[int]time.Duration
	}{
		{"steady", Schedule{Rate: 100, Duration: 2 * time.Second}, 200,
			map[int]time.Duration{0: 0, 1: 10 * ms, 150: 1500 * ms, 199: 1990 * ms}},
		{"fractional rate", Schedule{Rate: 2.5, Duration: 4 * time.Second}, 10,
			map[int]time.Duration{1: 400 * ms, 9: 3600 * ms}},
		// Ramp 2 s to 100/s: 100 votes during it, the i-th at
		// sqrt(2*2*i/100) s; then one each 10 ms.
		{"ramp", Schedule{Rate: 100, Ramp: 2 * time.Second, Duration: time.Second}, 200,
			map[int]time.Duration{0: 0, 1: 200 * ms, 25: time.Second, 64: 1600 * ms, 100: 2 * time.Second, 101: 2010 * ms, 199: 2990 * ms}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n := tc.s.Count(); n != tc.count {
				t.Fatalf("Count = %d, want %d", n, tc.count)
			}
			for i, want := range tc.at {
				if got := tc.s.At(i); (got - want).Abs() > time.Microsecond {
					t.Errorf("At(%d) = %v, want %v", i, got, want)
				}
			}
			for i := 1; i < tc.count; i++ {
				if tc.s.At(i) < tc.s.At(i-1) {
					t.Fatalf("At(%d) = %v before At(%d) = %v", i, tc.s.At(i), i-1, tc.s.At(i-1))
				}
			}
			if tc.s.Last() != tc.s.At(tc.count-1) {
				t.Errorf("Last = %v", tc.s.Last())
			}
		})
	}
}

// TestRampSpeedsUp checks that the gaps shrink during the ramp: the rate
// grows linearly.
func TestRampSpeedsUp(t *testing.T) {
	s := Schedule{Rate: 1000, Ramp: 10 * time.Second, Duration: time.Second}
	first := s.At(2) - s.At(1)
	mid := s.At(2500) - s.At(2499)
	late := s.At(4999) - s.At(4998)
	if !(first > mid && mid > late && late >= time.Millisecond) {
		t.Errorf("ramp gaps %v, %v, %v: want shrinking towards 1 ms", first, mid, late)
	}
	// The rate at 5 s is half the full rate: gaps of about 2 ms.
	i := int(1000.0 * 5 * 5 / (2 * 10))
	if g := s.At(i+1) - s.At(i); g < 1900*time.Microsecond || g > 2100*time.Microsecond {
		t.Errorf("gap at 5 s of the ramp %v, want about 2 ms", g)
	}
}

type sent struct {
	due, at time.Time
	latency time.Duration
}

func runLoop(t *testing.T, s Schedule, workers int, service time.Duration) []sent {
	t.Helper()
	n := s.Count()
	out := make([]sent, n)
	start := time.Now().Add(20 * time.Millisecond)
	var mu sync.Mutex
	calls := 0
	openLoop(context.Background(), start, n, s.At, workers, func(ctx context.Context, i int, due time.Time) {
		at := time.Now()
		time.Sleep(service)
		mu.Lock()
		calls++
		mu.Unlock()
		out[i] = sent{due: due, at: at, latency: time.Since(due)}
	})
	if calls != n {
		t.Fatalf("%d calls, want %d", calls, n)
	}
	for i, o := range out {
		if want := start.Add(s.At(i)); !o.due.Equal(want) {
			t.Fatalf("event %d due %v, want %v", i, o.due, want)
		}
		if o.at.Before(o.due) {
			t.Fatalf("event %d went out %v before it was due", i, o.due.Sub(o.at))
		}
	}
	return out
}

// TestOpenLoopKeepsSchedule: with senders to spare, each event goes out at
// its due time and its latency is its service time.
func TestOpenLoopKeepsSchedule(t *testing.T) {
	out := runLoop(t, Schedule{Rate: 200, Duration: 500 * time.Millisecond}, 16, 5*time.Millisecond)
	late := 0
	for _, o := range out {
		if o.at.Sub(o.due) > 20*time.Millisecond {
			late++
		}
		if o.latency < 5*time.Millisecond {
			t.Fatalf("latency %v below the service time", o.latency)
		}
	}
	// A loaded machine may delay a goroutine now and then, not often.
	if late > len(out)/10 {
		t.Errorf("%d of %d events went out more than 20 ms late", late, len(out))
	}
}

// TestOpenLoopLatencyFromSchedule is coordinated omission: one sender, a
// service time of 25 ms and an event due every 10 ms. A closed loop would
// report 25 ms for every request; measured from the schedule, event i
// waits for the i before it, 15 ms more each.
func TestOpenLoopLatencyFromSchedule(t *testing.T) {
	const service = 25 * time.Millisecond
	out := runLoop(t, Schedule{Rate: 100, Duration: 200 * time.Millisecond}, 1, service)
	for i, o := range out {
		floor := service + time.Duration(i)*15*time.Millisecond
		if o.latency < floor {
			t.Errorf("event %d latency %v, want at least %v", i, o.latency, floor)
		}
	}
	if last := out[len(out)-1].latency; last < 300*time.Millisecond {
		t.Errorf("last latency %v: the backlog is hidden", last)
	}
}

// TestOpenLoopStops: a cancelled context ends the loop without sending
// the events not yet due.
func TestOpenLoopStops(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	var mu sync.Mutex
	calls := 0
	begin := time.Now()
	openLoop(ctx, time.Now(), 1000, Schedule{Rate: 100, Duration: 10 * time.Second}.At, 4, func(context.Context, int, time.Time) {
		mu.Lock()
		calls++
		mu.Unlock()
	})
	if el := time.Since(begin); el > 2*time.Second {
		t.Errorf("loop ran %v after its context ended", el)
	}
	if calls < 5 || calls > 20 {
		t.Errorf("%d calls in 100 ms at 100/s", calls)
	}
}
