package main

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/powvote/powvote/pow"
)

func init() {
	register(command{name: "pow bench", summary: "measure this machine's proof-of-work rate", run: runPowBench})
}

const powBenchHelp = `
Measures the proof-of-work solver on this machine: hashes per second with one
worker (per core) and with all workers, on a 133-byte message as a typical
vote makes. The solver caches the SHA-256 state of the blocks that do not
change, so most nonces cost one compression.

Example:
  powvote pow bench --duration 5s
`

func runPowBench(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "pow bench", "[--duration D] [--workers N]", powBenchHelp)
	d := fs.Duration("duration", 3*time.Second, "how long each measurement runs")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "workers for the all-cores figure")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *d <= 0 || *workers < 1 {
		return usagef("--duration and --workers must be positive")
	}
	one, err := pow.Rate(ctx, 1, *d)
	if err != nil {
		return err
	}
	all, err := pow.Rate(ctx, *workers, *d)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "per core:  %.2f MH/s\n", one/1e6)
	fmt.Fprintf(e.Stdout, "total:     %.2f MH/s with %d workers\n", all/1e6, *workers)
	return nil
}
