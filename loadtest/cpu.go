package loadtest

import (
	"crypto/ed25519"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// CPU is what the platform's processes spent on the timed phase, against
// the cryptographic floor of the votes it acknowledged: the Ed25519 work
// the protocol needs per vote, one mandate verification on each instance
// of the pair and one receipt signature, timed on this machine with the
// same library the platform uses.
//
// The load generator's own CPU time is set beside it, so that a run shows
// what driving the load took of the machine both share.
type CPU struct {
	ServerS         float64 `json:"server_s,omitempty"`         // user+system CPU seconds of the given processes during the timed phase (Config.ServerPIDs)
	PerKVotesS      float64 `json:"per_1000_votes_s,omitempty"` // ServerS per 1000 acknowledged votes
	FloorPerKVotesS float64 `json:"floor_per_1000_votes_s"`     // the Ed25519 floor per 1000 votes
	OverFloor       float64 `json:"over_floor,omitempty"`       // PerKVotesS / FloorPerKVotesS
	VerifyUS        float64 `json:"verify_us"`                  // one verification, in microseconds of thread CPU time
	SignUS          float64 `json:"sign_us"`                    // one signature

	LoadgenS          float64 `json:"loadgen_s"`                // this process's user+system CPU seconds during the timed phase
	LoadgenPerKVotesS float64 `json:"loadgen_per_1000_votes_s"` // LoadgenS per 1000 acknowledged votes
	LoadgenShare      float64 `json:"loadgen_share,omitempty"`  // LoadgenPerKVotesS / PerKVotesS: the load generator's CPU per vote against the platform's
}

// procCPU returns the user+system CPU time of the processes, from
// /proc/PID/stat (Linux).
func procCPU(pids []int) (time.Duration, error) {
	var total time.Duration
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return 0, fmt.Errorf("loadtest: CPU time of process %d: %w", pid, err)
		}
		// The command name, in parentheses, may hold spaces: the fields
		// that follow it are counted from its closing parenthesis.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			return 0, fmt.Errorf("loadtest: /proc/%d/stat: no command name", pid)
		}
		f := strings.Fields(s[i+1:])
		// utime and stime are fields 14 and 15 of the line, 12 and 13
		// after the state field that follows the name.
		if len(f) < 13 {
			return 0, fmt.Errorf("loadtest: /proc/%d/stat: %d fields", pid, len(f))
		}
		var ticks int64
		for _, x := range f[11:13] {
			n, err := strconv.ParseInt(x, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("loadtest: /proc/%d/stat: %w", pid, err)
			}
			ticks += n
		}
		total += time.Duration(ticks) * time.Second / clockTicks
	}
	return total, nil
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every
// Linux architecture Go runs on.
const clockTicks = 100

// threadCPU is the calling thread's CPU time.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// ed25519Floor times n verifications and n signatures on one locked
// thread and returns the CPU time of one of each.
func ed25519Floor(n int) (verify, sign time.Duration) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = 7
	key := ed25519.NewKeyFromSeed(seed)
	pub := key.Public().(ed25519.PublicKey)
	msg := make([]byte, 24) // an auth-id
	sig := ed25519.Sign(key, msg)
	receipt := []byte(strings.Repeat("7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS-1NCA-8FYQ Humble%20Pluto\n", 9))
	t0 := threadCPU()
	for range n {
		if !ed25519.Verify(pub, msg, sig) {
			panic("loadtest: Ed25519 floor: a valid signature does not verify")
		}
	}
	t1 := threadCPU()
	for range n {
		ed25519.Sign(key, receipt)
	}
	t2 := threadCPU()
	return (t1 - t0) / time.Duration(n), (t2 - t1) / time.Duration(n)
}

// cpuReport compares the servers' CPU time (zero: not measured) with
// the floor, and sets the load generator's beside it.
func cpuReport(server, loadgen time.Duration, acknowledged int) *CPU {
	v, s := ed25519Floor(2000)
	c := &CPU{ServerS: round3(server.Seconds()), LoadgenS: round3(loadgen.Seconds()),
		VerifyUS: round3(float64(v) / 1e3), SignUS: round3(float64(s) / 1e3)}
	floor := (2*v + s).Seconds() * 1000
	c.FloorPerKVotesS = round3(floor)
	if acknowledged > 0 {
		c.PerKVotesS = round3(server.Seconds() * 1000 / float64(acknowledged))
		c.OverFloor = round3(c.PerKVotesS / floor)
		c.LoadgenPerKVotesS = round3(loadgen.Seconds() * 1000 / float64(acknowledged))
	}
	if c.PerKVotesS > 0 {
		c.LoadgenShare = round3(c.LoadgenPerKVotesS / c.PerKVotesS)
	}
	return c
}
