package loadtest

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram bounds: 1 µs to 60 s at 3 significant digits, in microseconds.
const (
	histMin    = 1
	histMax    = 60_000_000
	histDigits = 3
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, histDigits) }

// recorder collects the latencies and answers of one kind of request. It
// is safe for concurrent use; a mutex is cheap next to a request.
type recorder struct {
	mu     sync.Mutex
	all    *hdrhistogram.Histogram
	window *hdrhistogram.Histogram // since the last takeWindow
	status map[string]int          // every answer, retries included; "error" for no answer
	done   int                     // requests finished (final answer or given up)
	good   int                     // of which succeeded
	winOK  int                     // good since the last takeWindow
}

func newRecorder() *recorder {
	return &recorder{all: newHist(), window: newHist(), status: map[string]int{}}
}

// answer counts one response, or a transport failure as code 0. A request
// retried after a 503 has several.
func (r *recorder) answer(code int) {
	r.mu.Lock()
	r.status[codeKey(code)]++
	r.mu.Unlock()
}

// finish records the end of a request, whose answers answer counted, and
// its latency from its due time. Values beyond the histogram's range are
// clamped, so that a stall longer than a minute still shows as the maximum
// instead of vanishing.
func (r *recorder) finish(ok bool, latency time.Duration) {
	us := min(max(latency.Microseconds(), histMin), histMax)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done++
	if ok {
		r.good++
		r.winOK++
	}
	// Values are clamped into range, so RecordValue cannot fail.
	_ = r.all.RecordValue(us)
	_ = r.window.RecordValue(us)
}

func codeKey(code int) string {
	if code == 0 {
		return "error"
	}
	return strconv.Itoa(code)
}

// windowStats is what the live line shows for the last second.
type windowStats struct {
	ok       int
	p50, p99 time.Duration
	n        int64
}

// takeWindow returns the last window's figures and starts a new window.
func (r *recorder) takeWindow() windowStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := windowStats{ok: r.winOK, n: r.window.TotalCount()}
	if w.n > 0 {
		w.p50 = time.Duration(r.window.ValueAtQuantile(50)) * time.Microsecond
		w.p99 = time.Duration(r.window.ValueAtQuantile(99)) * time.Microsecond
	}
	r.window.Reset()
	r.winOK = 0
	return w
}

// snapshot returns a copy of the counters and the latency summary.
func (r *recorder) snapshot() (status map[string]int, done, good int, lat Latency) {
	r.mu.Lock()
	defer r.mu.Unlock()
	status = make(map[string]int, len(r.status))
	for k, v := range r.status {
		status[k] = v
	}
	return status, r.done, r.good, summarize(r.all)
}

// Latency is a latency distribution in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	N    int64   `json:"n"`
}

// summarize reads the percentiles of a histogram of microseconds, in
// milliseconds to the microsecond.
func summarize(h *hdrhistogram.Histogram) Latency {
	if h.TotalCount() == 0 {
		return Latency{}
	}
	ms := func(us int64) float64 { return math.Round(float64(us)) / 1000 }
	return Latency{
		P50:  ms(h.ValueAtQuantile(50)),
		P90:  ms(h.ValueAtQuantile(90)),
		P99:  ms(h.ValueAtQuantile(99)),
		P999: ms(h.ValueAtQuantile(99.9)),
		Max:  ms(h.Max()),
		N:    h.TotalCount(),
	}
}

// formatCodes writes status counts in a stable order: "204:1200 503:3".
func formatCodes(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if v > 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k + ":" + strconv.Itoa(m[k]))
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}
