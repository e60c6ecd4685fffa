package dashboard

import (
	"bytes"
	"fmt"
	"math"
	"strconv"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/powvote/powvote/campaign"
)

// The metrics the dashboard reads (docs/OPERATIONS.md).
const (
	mRequests     = "powvote_edge_requests_total"
	mStamps       = "powvote_edge_stamps_served_total"
	mNonceEntries = "powvote_edge_nonce_cache_entries"
	mOpenConns    = "powvote_edge_open_connections"
	mLines        = "powvote_publisher_lines"
	mDelay        = "powvote_publisher_oldest_unpublished_vote_age_seconds"
	mReady        = "powvote_collector_ready"
	mLag          = "powvote_collector_twin_lag_records"
	mStored       = "powvote_collector_votes_stored"
	mPullAge      = "powvote_collector_twin_last_pull_age_seconds"
)

// readMetrics are the names above, for the test that holds them to
// docs/OPERATIONS.md.
var readMetrics = []string{mRequests, mStamps, mNonceEntries, mOpenConns, mLines, mDelay, mReady, mLag, mStored, mPullAge}

// refusalCodes are the codes of the edge's answers to votes counted as
// refusals, each with a series of its own: the edge's own refusals (400,
// 480, 487 to 489), the collectors' verdicts it relays (481 to 486) and
// 503 (no collector answered).
var refusalCodes = [...]int{400, 480, 481, 482, 483, 484, 485, 486, 487, 488, 489, 503}

const numRefusals = len(refusalCodes)

// refusalSlot is the index of code in refusalCodes, or -1.
func refusalSlot(code int) int {
	for i, c := range refusalCodes {
		if c == code {
			return i
		}
	}
	return -1
}

// none marks a figure a reading did not have.
var none = math.NaN()

// reading is what the dashboard takes from one scrape of one process.
// Every figure is NaN when the process did not have it.
type reading struct {
	camps        map[string]*campReading
	nonceEntries float64
	openConns    float64
	// ignored counts label sets beyond maxCampaigns or maxPairs, or with a
	// campaign, pair or instance the dashboard cannot take.
	ignored int
}

// campReading is one campaign's part of a reading.
type campReading struct {
	acked     float64 // counter: 2xx answers to votes
	stamps    float64 // counter: stamps served, both kinds
	refused   [numRefusals]float64
	lines     float64 // gauge: lines of the votes list
	delay     float64 // gauge
	instances map[instKey]instReading
}

type instKey struct{ pair, instance int }

// instReading is what a collecting instance's gauges said.
type instReading struct {
	ready, lag, stored, pullAge float64
}

func newCampReading() *campReading {
	c := &campReading{acked: none, stamps: none, lines: none, delay: none}
	for i := range c.refused {
		c.refused[i] = none
	}
	return c
}

// addTo adds v to *p, which is NaN until a first value.
func addTo(p *float64, v float64) {
	if math.IsNaN(*p) {
		*p = v
	} else {
		*p += v
	}
}

// maxTo keeps the larger of *p and v in *p.
func maxTo(p *float64, v float64) {
	if math.IsNaN(*p) || v > *p {
		*p = v
	}
}

// parseReading parses text in the Prometheus text format and takes from
// it what the dashboard reads. The text comes from another process: any
// value that is not a number from 0 to maxValue is left out, and so
// is any label that names no campaign (campaign.ValidateName), pair or
// instance the dashboard can take.
func parseReading(text []byte) (*reading, error) {
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNotFormat, err)
	}
	r := &reading{camps: map[string]*campReading{}, nonceEntries: none, openConns: none}
	for _, name := range readMetrics {
		f := fams[name]
		if f == nil {
			continue
		}
		for _, m := range f.GetMetric() {
			v, ok := value(f.GetType(), m)
			if !ok {
				continue
			}
			r.take(name, labels(m), v)
		}
	}
	return r, nil
}

// value is the value of a counter, gauge or untyped sample (the text
// carries no types, so most are untyped), if it is a number from zero to
// maxValue.
func value(t dto.MetricType, m *dto.Metric) (float64, bool) {
	var v float64
	switch t {
	case dto.MetricType_COUNTER:
		v = m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		v = m.GetGauge().GetValue()
	case dto.MetricType_UNTYPED:
		v = m.GetUntyped().GetValue()
	default:
		return 0, false
	}
	if !(v >= 0 && v <= maxValue) {
		return 0, false
	}
	return v, true
}

// maxValue is the largest figure taken: the largest integer a float64
// holds exactly, beyond any count of votes, and far enough from the
// largest float64 that sums of figures never overflow to infinity.
const maxValue = 1 << 53

func labels(m *dto.Metric) map[string]string {
	l := make(map[string]string, len(m.GetLabel()))
	for _, p := range m.GetLabel() {
		l[p.GetName()] = p.GetValue()
	}
	return l
}

// take files one sample.
func (r *reading) take(name string, l map[string]string, v float64) {
	switch name {
	case mNonceEntries:
		addTo(&r.nonceEntries, v)
		return
	case mOpenConns:
		addTo(&r.openConns, v)
		return
	}
	c := r.camp(l["campaign"])
	if c == nil {
		return
	}
	switch name {
	case mRequests:
		if l["endpoint"] != "vote" {
			return
		}
		code, err := strconv.Atoi(l["code"])
		if err != nil {
			return // "other"
		}
		if code/100 == 2 {
			addTo(&c.acked, v)
		} else if i := refusalSlot(code); i >= 0 {
			addTo(&c.refused[i], v)
		}
	case mStamps:
		addTo(&c.stamps, v)
	case mLines:
		if l["list"] == "vote" {
			addTo(&c.lines, v)
		}
	case mDelay:
		maxTo(&c.delay, v)
	case mReady, mLag, mStored, mPullAge:
		k, ok := r.inst(c, l)
		if !ok {
			return
		}
		in := c.instances[k]
		switch name {
		case mReady:
			in.ready = v
		case mLag:
			in.lag = v
		case mStored:
			in.stored = v
		case mPullAge:
			in.pullAge = v
		}
		c.instances[k] = in
	}
}

// camp returns the reading of campaign name, made on first use; nil for a
// name that is no campaign's or one campaign too many.
func (r *reading) camp(name string) *campReading {
	if c := r.camps[name]; c != nil {
		return c
	}
	if campaign.ValidateName(name) != nil || len(r.camps) >= maxCampaigns {
		r.ignored++
		return nil
	}
	c := newCampReading()
	r.camps[name] = c
	return c
}

// inst returns the key of the instance the labels name, made on first
// use.
func (r *reading) inst(c *campReading, l map[string]string) (instKey, bool) {
	pair, err1 := strconv.Atoi(l["pair"])
	inst, err2 := strconv.Atoi(l["instance"])
	// The canonical spelling only, so that two spellings are never two
	// instances.
	if err1 != nil || err2 != nil || pair < 0 || pair >= maxPairs || (inst != 0 && inst != 1) ||
		strconv.Itoa(pair) != l["pair"] || strconv.Itoa(inst) != l["instance"] {
		r.ignored++
		return instKey{}, false
	}
	k := instKey{pair, inst}
	if c.instances == nil {
		c.instances = map[instKey]instReading{}
	}
	if _, ok := c.instances[k]; !ok {
		c.instances[k] = instReading{ready: none, lag: none, stored: none, pullAge: none}
	}
	return k, true
}
