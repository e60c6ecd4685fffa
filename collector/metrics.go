package collector

import (
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"
)

// The instance's metrics for the operator (docs/OPERATIONS.md lists
// them), in Config.Metrics. Each carries the labels campaign, pair and
// instance, so that the instances of every campaign a process runs share
// one set; other labels come from fixed sets (status codes, reasons).
// The counters of stats are made with the server, so that counting on
// the vote path is an atomic add.

// Histogram buckets: requests per group commit (the store takes at most
// 512), and seconds to make a group durable.
var (
	groupBuckets = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512}
	syncBuckets  = []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2}
)

// stats counts outcomes by a fixed set of reasons; safe for concurrent
// use.
type stats struct {
	accepted     *metrics.Counter                // new votes recorded and acknowledged
	repeat       *metrics.Counter                // votes recorded before, acknowledged again
	failed       *metrics.Counter                // votes not recorded: the store failed
	refused      [numVoteErrors]*metrics.Counter // by voteError
	unauthorized *metrics.Counter                // callers the link did not authenticate
	forbidden    *metrics.Counter                // callers whose role may not use the endpoint
	syncApplied  *metrics.Counter                // the twin's pairs applied
	pullErrors   *metrics.Counter                // pulls from the twin that failed
	stampsSigned *metrics.Counter                // UTC-SIGN signatures for the edges' pools
	batches      *metrics.Counter                // POST /votes answered 200
	badBatches   *metrics.Counter                // POST /votes refused whole (400, 413)
	twinLag      atomic.Int64                    // the twin's own votes not applied here, at the last pull
	lastPull     atomic.Int64                    // Unix nanoseconds of the last successful pull, or of New
}

// instanceLabels are the labels every metric of the instance carries.
func instanceLabels(c *Config) string {
	return fmt.Sprintf(`campaign=%q,pair="%d",instance="%d"`, c.Settings.Name, c.Instance/2, c.Instance)
}

// newStoreMetrics makes the group commit's histograms, for the store's
// options.
func newStoreMetrics(set *metrics.Set, labels string) (requests, sync *metrics.PrometheusHistogram) {
	return set.NewPrometheusHistogramExt(`powvote_collector_group_commit_requests{`+labels+`}`, groupBuckets),
		set.NewPrometheusHistogramExt(`powvote_collector_group_commit_seconds{`+labels+`}`, syncBuckets)
}

// unregisterStoreMetrics takes them out again when the store did not
// open, so that the set holds nothing of an instance that never ran.
func unregisterStoreMetrics(set *metrics.Set, labels string) {
	set.UnregisterMetric(`powvote_collector_group_commit_requests{` + labels + `}`)
	set.UnregisterMetric(`powvote_collector_group_commit_seconds{` + labels + `}`)
}

// registerMetrics makes the instance's counters and gauges in set; l
// is instanceLabels.
func (s *Server) registerMetrics(set *metrics.Set, l string) {
	s.metricsLabels = l
	c := func(name string, extra ...string) *metrics.Counter {
		name += "{" + l + join(extra) + "}"
		s.metricNames = append(s.metricNames, name)
		return set.NewCounter(name)
	}
	g := func(name string, f func() float64) {
		name += "{" + l + "}"
		s.metricNames = append(s.metricNames, name)
		set.NewGauge(name, f)
	}
	st := &s.stats
	st.accepted = c("powvote_collector_votes_acknowledged_total")
	st.repeat = c("powvote_collector_votes_repeated_total")
	st.failed = c("powvote_collector_votes_failed_total")
	for e := range numVoteErrors {
		st.refused[e] = c("powvote_collector_votes_refused_total", "code", strconv.Itoa(e.code()))
	}
	st.unauthorized = c("powvote_collector_requests_refused_total", "reason", "unauthorized")
	st.forbidden = c("powvote_collector_requests_refused_total", "reason", "forbidden")
	st.syncApplied = c("powvote_collector_twin_pairs_applied_total")
	st.pullErrors = c("powvote_collector_twin_pull_errors_total")
	st.stampsSigned = c("powvote_collector_stamps_signed_total")
	st.batches = c("powvote_collector_vote_batches_total")
	st.badBatches = c("powvote_collector_vote_batches_refused_total")
	st.lastPull.Store(s.cfg.Clock().UnixNano())

	g("powvote_collector_twin_lag_records", func() float64 { return float64(st.twinLag.Load()) })
	g("powvote_collector_twin_last_pull_age_seconds", func() float64 {
		if s.twin == nil {
			return 0
		}
		return float64(s.cfg.Clock().UnixNano()-st.lastPull.Load()) / 1e9
	})
	// While a rebuild copies the twin's state there is no store yet: the
	// store's figures read 0 (rebuilding is cleared once st is set).
	held := func() (links, pending int) {
		if s.rebuilding.Load() {
			return 0, 0
		}
		return s.st.Held()
	}
	counts := func() (voters, votes int) {
		if s.rebuilding.Load() {
			return 0, 0
		}
		return s.st.Counts()
	}
	g("powvote_collector_links_held", func() float64 { links, _ := held(); return float64(links) })
	g("powvote_collector_voters_pending", func() float64 { _, pending := held(); return float64(pending) })
	g("powvote_collector_votes_stored", func() float64 { _, votes := counts(); return float64(votes) })
	g("powvote_collector_voters_stored", func() float64 { voters, _ := counts(); return float64(voters) })
	g("powvote_collector_ready", func() float64 {
		if s.Ready() != nil {
			return 0
		}
		return 1
	})
}

// UnregisterMetrics takes the instance's metrics out of Config.Metrics,
// once Run has returned, so that a new Server of the same instance may
// register them again (a process that reopens one campaign's instance
// while it serves others).
func (s *Server) UnregisterMetrics() {
	for _, n := range s.metricNames {
		s.cfg.Metrics.UnregisterMetric(n)
	}
	unregisterStoreMetrics(s.cfg.Metrics, s.metricsLabels)
}

// join writes extra label pairs, each after a comma.
func join(kv []string) string {
	var out string
	for i := 0; i+1 < len(kv); i += 2 {
		out += fmt.Sprintf(",%s=%q", kv[i], kv[i+1])
	}
	return out
}

// notePull records a successful pull from the twin: its time, and how
// many of the twin's own votes, up to twinLast, its last, are still to be
// applied after applied.
func (s *Server) notePull(twinLast, applied uint64) {
	s.stats.lastPull.Store(s.cfg.Clock().UnixNano())
	lag := int64(0)
	if twinLast > applied {
		lag = int64(twinLast - applied)
	}
	s.stats.twinLag.Store(lag)
}

var errStoreFailed = errors.New("the store refuses writes")

// Ready reports whether the instance takes votes: nil when it does, an
// error saying why not otherwise (not serving, catching up from its twin,
// a failed store).
func (s *Server) Ready() error {
	name := fmt.Sprintf("collector %d of %s", s.cfg.Instance, s.cfg.Settings.Name)
	switch {
	case !s.serving.Load():
		return fmt.Errorf("%s: not serving", name)
	case s.rebuilding.Load():
		return fmt.Errorf("%s: rebuilding from its twin", name)
	case s.st.Err() != nil:
		return fmt.Errorf("%s: %w", name, errStoreFailed)
	case !s.ready.Load():
		return fmt.Errorf("%s: catching up from its twin", name)
	}
	return nil
}
