package loadtest

import (
	"os"
	"testing"
	"time"
)

// TestProcCPU reads this process's CPU time, which grows with work.
func TestProcCPU(t *testing.T) {
	pid := os.Getpid()
	before, err := procCPU([]int{pid})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(300 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	after, err := procCPU([]int{pid})
	if err != nil {
		t.Fatal(err)
	}
	if d := after - before; d < 100*time.Millisecond {
		t.Errorf("300 ms of spinning counted as %v of CPU time (%d loops)", d, x)
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
	c := cpuReport(3*time.Second, 1000)
	if c.PerKVotesS != 3 || c.OverFloor <= 0 || c.FloorPerKVotesS <= 0 {
		t.Errorf("report %+v", c)
	}
}
