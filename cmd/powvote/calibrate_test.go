package main

import (
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// calibrateUnits are the units pow calibrate writes times in, in seconds.
var calibrateUnits = map[string]float64{
	"ns": 1e-9, "µs": 1e-6, "ms": 1e-3, "s": 1, "min": 60, "h": 3600, "d": 86400, "y": 365.25 * 86400,
}

// parseHuman reads a time the way humanSeconds writes it ("6.97 min").
func parseHuman(t *testing.T, v, unit string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(v, 64)
	size, ok := calibrateUnits[unit]
	if err != nil || !ok {
		t.Fatalf("unreadable time %q %q", v, unit)
	}
	return f * size
}

// near reports whether got is within rel (relative) of want.
func near(got, want, rel float64) bool { return math.Abs(got-want) <= rel*math.Abs(want) }

// TestPowCalibrateTable runs the real binary on a short measurement and reads
// its table back: one row per threshold in the range, every column doubling
// per bit, the machine's column agreeing with the rate it printed, and the
// H100 column following from 14.15 GH/s.
func TestPowCalibrateTable(t *testing.T) {
	out := mustRun(t, "pow", "calibrate", "--seconds", "0.5", "--threshold-from", "20", "--threshold-to", "26")
	head := regexp.MustCompile(`this machine: ([0-9.]+) MH/s with (\d+) workers, ([0-9.]+) MH/s on one core`).FindStringSubmatch(out)
	if head == nil {
		t.Fatalf("no rate line in:\n%s", out)
	}
	all, _ := strconv.ParseFloat(head[1], 64)
	one, _ := strconv.ParseFloat(head[3], 64)
	if all <= 0 || one <= 0 {
		t.Fatalf("rates %v and %v MH/s, want positive", all, one)
	}
	if !strings.Contains(out, "one H100:     14.15 GH/s") || !strings.Contains(out, "browser: the voter app's solver ran at about 1.0x") {
		t.Errorf("H100 or browser line missing:\n%s", out)
	}
	num := `([0-9.]+) (ns|µs|ms|s|min|h|d|y)`
	rowRE := regexp.MustCompile(`(?m)^ *(\d+) +2\^(\d+) +` + num + ` +` + num + ` +` + num + ` *$`)
	rows := rowRE.FindAllStringSubmatch(out, -1)
	if len(rows) != 7 {
		t.Fatalf("want 7 rows (20..26), got %d in:\n%s", len(rows), out)
	}
	var prev [3]float64
	for i, r := range rows {
		bits := 20 + i
		if r[1] != strconv.Itoa(bits) || r[2] != r[1] {
			t.Errorf("row %d is for %s bits (2^%s), want %d", i, r[1], r[2], bits)
		}
		cols := [3]float64{parseHuman(t, r[3], r[4]), parseHuman(t, r[5], r[6]), parseHuman(t, r[7], r[8])}
		hashes := math.Ldexp(1, bits)
		// Three significant digits are printed, and the header's rates have
		// two decimals: 1% covers both roundings.
		for _, c := range []struct {
			name      string
			got, want float64
		}{
			{"this machine", cols[0], hashes / (all * 1e6)},
			{"one core", cols[1], hashes / (one * 1e6)},
			{"one H100", cols[2], hashes / 14.15e9},
		} {
			if !near(c.got, c.want, 0.01) {
				t.Errorf("%d bits, %s: %v s, want %v s", bits, c.name, c.got, c.want)
			}
		}
		if i > 0 {
			for j := range cols {
				if !near(cols[j]/prev[j], 2, 0.015) {
					t.Errorf("column %d from %d to %d bits: %v s to %v s, want double", j, bits-1, bits, prev[j], cols[j])
				}
			}
		}
		prev = cols
	}
	// 2^32 / 14.15e9 = 0.3035 s: the GPU figure the threat model quotes.
	out = mustRun(t, "pow", "calibrate", "--seconds", "0.2", "--threshold-from", "32", "--threshold-to", "32")
	if !regexp.MustCompile(`(?m)^ *32 +2\^32 .* 304 ms *$`).MatchString(out) {
		t.Errorf("threshold 32 row does not give 304 ms on one H100:\n%s", out)
	}
}

// TestPowCalibrateJSON checks the --json form: exact doubling per bit and
// rates that agree with the seconds.
func TestPowCalibrateJSON(t *testing.T) {
	out := mustRun(t, "pow", "calibrate", "--seconds", "0.3", "--threshold-from", "16", "--threshold-to", "34", "--json")
	var c calibration
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("parse %q: %v", out, err)
	}
	if c.RateAll <= 0 || c.RateOneCore <= 0 || c.RateH100 != 14.15e9 || c.Workers < 1 || c.Seconds != 0.3 {
		t.Fatalf("bad header: %+v", c)
	}
	if len(c.Rows) != 19 {
		t.Fatalf("want 19 rows (16..34), got %d", len(c.Rows))
	}
	for i, r := range c.Rows {
		if r.Threshold != 16+i || r.Hashes != math.Ldexp(1, r.Threshold) {
			t.Errorf("row %d: threshold %d, hashes %v", i, r.Threshold, r.Hashes)
		}
		if !near(r.AllCores*c.RateAll, r.Hashes, 1e-9) || !near(r.OneCore*c.RateOneCore, r.Hashes, 1e-9) || !near(r.H100*c.RateH100, r.Hashes, 1e-9) {
			t.Errorf("row %d: seconds do not match the rates: %+v", i, r)
		}
		if i > 0 {
			p := c.Rows[i-1]
			if !near(r.AllCores, 2*p.AllCores, 1e-9) || !near(r.OneCore, 2*p.OneCore, 1e-9) || !near(r.H100, 2*p.H100, 1e-9) {
				t.Errorf("row %d does not double row %d: %+v %+v", i, i-1, p, r)
			}
		}
	}
}

// TestPowCalibrateArgs checks that bad ranges and durations are usage errors.
func TestPowCalibrateArgs(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"reversed range", []string{"--threshold-from", "30", "--threshold-to", "20"}, "threshold-from"},
		{"above 64", []string{"--threshold-to", "65"}, "threshold-from"},
		{"zero", []string{"--threshold-from", "0"}, "threshold-from"},
		{"no time", []string{"--seconds", "0"}, "--seconds"},
		{"negative time", []string{"--seconds", "-1"}, "--seconds"},
		{"no workers", []string{"--workers", "0"}, "--workers"},
		{"argument", []string{"extra"}, "want 0 argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, append([]string{"pow", "calibrate"}, tc.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 naming %q", r.code, r.stdout, r.stderr, tc.want)
			}
		})
	}
}
