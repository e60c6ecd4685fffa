// Package operatortest reads what an operator server's /metrics answers,
// for tests: it parses the text with Prometheus's own parser (so a test
// fails on anything Prometheus would refuse) and gives the samples by name
// and labels, so that tests compare exact values.
package operatortest

import (
	"bytes"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Samples are the samples of one scrape, by Key.
type Samples map[string]float64

// Key is the key of a sample: its name, then its labels sorted by name,
// as name{a="x",b="y"}; no braces without labels. labels are names and
// values in turn, in any order.
func Key(name string, labels ...string) string {
	if len(labels) == 0 {
		return name
	}
	labels = sortPairs(labels)
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i := 0; i+1 < len(labels); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", labels[i], labels[i+1])
	}
	b.WriteByte('}')
	return b.String()
}

// Parse parses text in the Prometheus text format. Histograms and
// summaries come out as the lines the format has for them (name_bucket
// with le, name_sum, name_count). Labels are sorted by name in the keys.
func Parse(text []byte) (Samples, error) {
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		return nil, err
	}
	out := make(Samples)
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			add := func(suffix string, v float64, extra ...string) error {
				var labels []string
				for _, l := range m.GetLabel() {
					labels = append(labels, l.GetName(), l.GetValue())
				}
				labels = append(labels, extra...)
				k := Key(name+suffix, labels...)
				if _, dup := out[k]; dup {
					return fmt.Errorf("operatortest: sample %s twice", k)
				}
				out[k] = v
				return nil
			}
			var err error
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				err = add("", m.GetCounter().GetValue())
			case dto.MetricType_GAUGE:
				err = add("", m.GetGauge().GetValue())
			case dto.MetricType_UNTYPED:
				err = add("", m.GetUntyped().GetValue())
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				for _, b := range h.GetBucket() {
					if err = add("_bucket", float64(b.GetCumulativeCount()), "le", fmt.Sprint(b.GetUpperBound())); err != nil {
						break
					}
				}
				if err == nil {
					err = add("_sum", h.GetSampleSum())
				}
				if err == nil {
					err = add("_count", float64(h.GetSampleCount()))
				}
			case dto.MetricType_SUMMARY:
				s := m.GetSummary()
				if err = add("_sum", s.GetSampleSum()); err == nil {
					err = add("_count", float64(s.GetSampleCount()))
				}
			default:
				err = fmt.Errorf("operatortest: %s: type %v", name, f.GetType())
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// sortPairs sorts name-value pairs by name.
func sortPairs(kv []string) []string {
	type pair struct{ k, v string }
	ps := make([]pair, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		ps = append(ps, pair{kv[i], kv[i+1]})
	}
	slices.SortFunc(ps, func(a, b pair) int { return strings.Compare(a.k, b.k) })
	out := make([]string, 0, len(kv))
	for _, p := range ps {
		out = append(out, p.k, p.v)
	}
	return out
}

// Scrape writes set as /metrics does and parses it, failing t if it does
// not parse.
func Scrape(t testing.TB, set *metrics.Set) Samples {
	t.Helper()
	var b bytes.Buffer
	set.WritePrometheus(&b)
	s, err := Parse(b.Bytes())
	if err != nil {
		t.Fatalf("the metrics do not parse as the Prometheus text format: %v\n%s", err, b.String())
	}
	return s
}

// Get returns the value of a sample; a missing sample fails t, so that a
// metric that was never created cannot pass for zero.
func (s Samples) Get(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	k := Key(name, labels...)
	v, ok := s[k]
	if !ok {
		t.Fatalf("no sample %s; have:\n%s", k, strings.Join(s.Names(name), "\n"))
	}
	return v
}

// Names returns the keys of the samples whose name starts with prefix,
// sorted.
func (s Samples) Names(prefix string) []string {
	var out []string
	for k := range s {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// eachLabel calls fn with the name and unquoted value of every label of
// the samples whose name starts with prefix.
func (s Samples) eachLabel(prefix string, fn func(name, value string)) {
	for k := range s {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		_, rest, ok := strings.Cut(k, "{")
		if !ok {
			continue
		}
		for _, kv := range splitLabels(strings.TrimSuffix(rest, "}")) {
			name, v, _ := strings.Cut(kv, "=")
			fn(name, strings.Trim(v, `"`))
		}
	}
}

// LabelNames returns the set of label names the samples whose name starts
// with prefix carry, le (of histogram buckets) included.
func (s Samples) LabelNames(prefix string) map[string]bool {
	names := make(map[string]bool)
	s.eachLabel(prefix, func(name, _ string) { names[name] = true })
	return names
}

// LabelValues returns the values label takes in the samples whose name
// starts with prefix, sorted.
func (s Samples) LabelValues(prefix, label string) []string {
	vals := make(map[string]bool)
	s.eachLabel(prefix, func(name, v string) {
		if name == label {
			vals[v] = true
		}
	})
	return slices.Sorted(maps.Keys(vals))
}

// CheckLabels checks the labels of the samples whose name starts with
// prefix: their names must be exactly allowed (le of histogram buckets
// aside), and no value may look like what a voter or a client sends: an
// IP address, a nonce or a key in hex, base64 of 16 bytes or more.
func (s Samples) CheckLabels(t testing.TB, prefix string, allowed ...string) {
	t.Helper()
	got := s.LabelNames(prefix)
	delete(got, "le")
	want := make(map[string]bool)
	for _, a := range allowed {
		want[a] = true
	}
	if !maps.Equal(got, want) {
		t.Errorf("label names of %s*: %v, want %v", prefix, slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
	for name := range got {
		for _, v := range s.LabelValues(prefix, name) {
			if why := secretShaped(v); why != "" {
				t.Errorf("label %s of %s* has value %q, which looks like %s", name, prefix, v, why)
			}
		}
	}
}

// secretShaped says what v looks like if it looks like a voter's or a
// client's data, "" otherwise.
func secretShaped(v string) string {
	host := v
	if h, _, err := net.SplitHostPort(v); err == nil {
		host = h
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return "an IP address"
	}
	if len(v) >= 16 && strings.Trim(v, "0123456789abcdefABCDEF") == "" {
		return "hex (a nonce or a key)"
	}
	if len(v) >= 22 && strings.ContainsAny(v, "+/=") {
		return "base64 (a mandate or a signature)"
	}
	if strings.Contains(v, "/") {
		return "a path"
	}
	return ""
}

// splitLabels splits a="x",b="y" at the commas between labels (values
// written by Key are quoted; a comma inside quotes stays).
func splitLabels(s string) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}
