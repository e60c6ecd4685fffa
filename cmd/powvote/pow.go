package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"runtime"
	"text/tabwriter"
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

// h100Rate is the hash rate of one NVIDIA H100 on the vote's message layout:
// a 133-byte message whose nonces each cost one SHA-256 compression, the
// blocks before the nonce hashed once. The figure is a measurement of that
// layout, not of plain SHA-256 over short inputs, and the GPU's is the rate
// an attacker with rented hardware gets, so it is printed beside this
// machine's.
const h100Rate = 14.15e9

// browserRatio is the voter app's proof-of-work rate in Chromium over the
// native solver's on all cores of the same machine (BENCHMARKS.md, "Proof
// of work in the browser": 1.01x to 1.07x, median 1.03x).
const browserRatio = 1.03

func init() {
	register(command{name: "pow calibrate", summary: "expected seconds per vote for each proof-of-work threshold", run: runPowCalibrate})
}

const powCalibrateHelp = `
Measures the native proof-of-work solver on this machine, with all cores and
with one, and prints for each threshold in the range the expected time to
solve one vote: 2^threshold hashes divided by the rate. Beside this
machine's figures stand one CPU core's and one NVIDIA H100's (14.15 GH/s on
the same 133-byte message, one SHA-256 block per nonce), the hardware an
attacker can rent. The times are averages: a single vote takes anything from
a fraction of it to several times it.

A campaign picks the threshold that costs the slowest device it expects
voters to bring an acceptable wait (run this on such a device; the voter
app's browser solver runs at about the native all-cores rate), and reads in
the same row what the threshold costs a GPU. See docs/THREAT_MODEL.md.

Examples:
  powvote pow calibrate
  powvote pow calibrate --threshold-from 20 --threshold-to 30 --seconds 5 --json
`

// calibration is what pow calibrate measured and derived; --json prints it.
type calibration struct {
	Workers      int              `json:"workers"`
	Seconds      float64          `json:"seconds"`
	RateAll      float64          `json:"rate_all_cores"`
	RateOneCore  float64          `json:"rate_one_core"`
	RateH100     float64          `json:"rate_h100"`
	BrowserRatio float64          `json:"browser_ratio"`
	Rows         []calibrationRow `json:"rows"`
}

// calibrationRow holds the expected seconds per vote at one threshold.
type calibrationRow struct {
	Threshold int     `json:"threshold"`
	Hashes    float64 `json:"hashes"`
	AllCores  float64 `json:"all_cores_s"`
	OneCore   float64 `json:"one_core_s"`
	H100      float64 `json:"h100_s"`
}

func runPowCalibrate(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "pow calibrate", "[--threshold-from N] [--threshold-to M] [--seconds S] [--workers N] [--json]", powCalibrateHelp)
	from := fs.Int("threshold-from", 16, "first threshold (bits) in the table")
	to := fs.Int("threshold-to", 34, "last threshold (bits) in the table")
	secs := fs.Float64("seconds", 3, "how long each of the two measurements runs, in seconds")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "workers for the all-cores figure")
	asJSON := fs.Bool("json", false, "print the figures as JSON instead of a table")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	// 1..64 is the range a campaign's threshold may take (campaign.yaml).
	if *from < 1 || *to > 64 || *from > *to {
		return usagef("want 1 <= --threshold-from <= --threshold-to <= 64, got %d and %d", *from, *to)
	}
	if !(*secs > 0) || *secs > 600 {
		return usagef("--seconds must be above 0 and at most 600, got %v", *secs)
	}
	if *workers < 1 {
		return usagef("--workers must be positive, got %d", *workers)
	}
	d := time.Duration(*secs * float64(time.Second))
	all, err := pow.Rate(ctx, *workers, d)
	if err != nil {
		return fmt.Errorf("measure with %d workers: %w", *workers, err)
	}
	one, err := pow.Rate(ctx, 1, d)
	if err != nil {
		return fmt.Errorf("measure with one worker: %w", err)
	}
	if all <= 0 || one <= 0 {
		return fmt.Errorf("measured no hashes in %v (rates %.0f and %.0f H/s)", d, all, one)
	}
	c := calibration{Workers: *workers, Seconds: *secs, RateAll: all, RateOneCore: one, RateH100: h100Rate, BrowserRatio: browserRatio}
	for bits := *from; bits <= *to; bits++ {
		h := math.Ldexp(1, bits)
		c.Rows = append(c.Rows, calibrationRow{Threshold: bits, Hashes: h, AllCores: h / all, OneCore: h / one, H100: h / h100Rate})
	}
	if *asJSON {
		enc := json.NewEncoder(e.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(c)
	}
	return printCalibration(e.Stdout, c)
}

func printCalibration(w io.Writer, c calibration) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "this machine: %.2f MH/s with %d workers, %.2f MH/s on one core (%gs each)\n", c.RateAll/1e6, c.Workers, c.RateOneCore/1e6, c.Seconds)
	fmt.Fprintf(w, "one H100:     %.2f GH/s (same 133-byte message, one SHA-256 block per nonce)\n\n", c.RateH100/1e9)
	fmt.Fprintln(w, "expected time per vote:")
	fmt.Fprintln(tw, "bits\thashes\tthis machine\tone core\tone H100\t")
	for _, r := range c.Rows {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t\n", r.Threshold, hashCount(r.Threshold), humanSeconds(r.AllCores), humanSeconds(r.OneCore), humanSeconds(r.H100))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("print the table: %w", err)
	}
	_, err := fmt.Fprintf(w, "\nbrowser: the voter app's solver ran at about %.1fx the native all-cores rate\n"+
		"(BENCHMARKS.md, Chromium with WebAssembly SIMD; about 0.17x without SIMD), so a\n"+
		"voter's browser on this machine needs about the \"this machine\" column.\n", c.BrowserRatio)
	return err
}

// hashCount writes 2^bits as a power of two, short enough for any threshold.
func hashCount(bits int) string { return fmt.Sprintf("2^%d", bits) }

// humanSeconds writes s with three significant digits in the largest unit
// that keeps the number at least 1, so the columns read at a glance.
func humanSeconds(s float64) string {
	units := []struct {
		name string
		size float64
	}{
		{"y", 365.25 * 86400}, {"d", 86400}, {"h", 3600}, {"min", 60}, {"s", 1}, {"ms", 1e-3}, {"µs", 1e-6},
	}
	v, name := s/1e-9, "ns"
	for _, u := range units {
		if s >= u.size {
			v, name = s/u.size, u.name
			break
		}
	}
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f %s", v, name)
	case v >= 10:
		return fmt.Sprintf("%.1f %s", v, name)
	default:
		return fmt.Sprintf("%.2f %s", v, name)
	}
}
