package loadtest

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// TestProcCPU reads this process's CPU time while it spins until the
// kernel's own account (getrusage) has charged it 300 ms: the two must
// agree within a few clock ticks, however busy the machine is.
func TestProcCPU(t *testing.T) {
	pid := os.Getpid()
	rusage := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	before, err := procCPU([]int{pid})
	if err != nil {
		t.Fatal(err)
	}
	ru0 := rusage()
	deadline := time.Now().Add(time.Minute)
	x := 0
	for rusage()-ru0 < 300*time.Millisecond && time.Now().Before(deadline) {
		for range 100000 {
			x++
		}
	}
	spent := rusage() - ru0
	after, err := procCPU([]int{pid})
	if err != nil {
		t.Fatal(err)
	}
	// /proc counts in clock ticks (10 ms here); its window holds the
	// getrusage one.
	const slack = 50 * time.Millisecond
	if d := after - before; d < spent-slack || d > spent+slack+100*time.Millisecond {
		t.Errorf("/proc says %v of CPU time where getrusage says %v (%d loops)", d, spent, x)
	}
	if _, err := procCPU([]int{1 << 30}); err == nil {
		t.Error("no error for a process that does not exist")
	}
}

func TestEd25519Floor(t *testing.T) {
	v, s := ed25519Floor(200)
	// An Ed25519 operation takes tens of microseconds on any machine this
	// runs on; zero would mean the thread clock is not read.
	if v <= time.Microsecond || s <= time.Microsecond || v > 10*time.Millisecond || s > 10*time.Millisecond {
		t.Errorf("verify %v, sign %v", v, s)
	}
	c := cpuReport(3*time.Second, 750*time.Millisecond, 1000)
	if c.PerKVotesS != 3 || c.OverFloor <= 0 || c.FloorPerKVotesS <= 0 || c.LoadgenPerKVotesS != 0.75 || c.LoadgenShare != 0.25 {
		t.Errorf("report %+v", c)
	}
	// Without the servers' processes, the load generator's own figure
	// stands alone.
	c = cpuReport(0, 2*time.Second, 1000)
	if c.PerKVotesS != 0 || c.OverFloor != 0 || c.LoadgenShare != 0 || c.LoadgenPerKVotesS != 2 {
		t.Errorf("report without servers %+v", c)
	}
}
