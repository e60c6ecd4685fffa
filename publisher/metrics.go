package publisher

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/powvote/powvote/stamp"
)

// The publisher's metrics for the operator (docs/OPERATIONS.md lists
// them), in Config.Metrics. Each carries the label campaign; the pairs'
// also pair, the instances' also instance, the lists' also list (vote,
// auth, retracted). What the round's goroutine owns (the queues, the
// pending votes, the anomalies) is copied into gauges at the end of every
// round, under roundMu; what the handlers serve is read from the snapshot
// at each scrape.

// roundBuckets are the upper bounds, in seconds, of the round duration
// histogram: a round pulls pages of records over the network and may
// write and fsync a batch.
var roundBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// pubMetrics are the publisher's metrics. The gauges are set by the
// round's goroutine; the atomics are read by Ready and the gauges'
// callbacks.
type pubMetrics struct {
	rounds       *metrics.Counter
	roundSeconds *metrics.PrometheusHistogram
	anomalies    *metrics.Counter
	queuedVoters *metrics.Gauge
	queuedVotes  []*metrics.Gauge // by pair
	pendingVotes []*metrics.Gauge // by pair

	oldest   atomic.Int64 // P-UTC of the oldest unpublished vote; 0: none
	serving  atomic.Bool  // while Run serves
	caughtUp atomic.Bool  // a round has reached every collector since New
	failed   atomic.Bool  // a write failed: nothing more is published
}

// registerMetrics makes the publisher's metrics in set; p.pairs must be
// made.
func (p *Publisher) registerMetrics(set *metrics.Set) {
	c := fmt.Sprintf(`campaign=%q`, p.cfg.Campaign)
	m := &p.m
	m.rounds = set.NewCounter(`powvote_publisher_rounds_total{` + c + `}`)
	m.roundSeconds = set.NewPrometheusHistogramExt(`powvote_publisher_round_duration_seconds{`+c+`}`, roundBuckets)
	m.anomalies = set.NewCounter(`powvote_publisher_anomalies_total{` + c + `}`)
	m.queuedVoters = set.NewGauge(`powvote_publisher_queued_voters{`+c+`}`, nil)
	for _, ps := range p.pairs {
		pc := fmt.Sprintf(`%s,pair="%d"`, c, ps.k)
		m.queuedVotes = append(m.queuedVotes, set.NewGauge(`powvote_publisher_queued_votes{`+pc+`}`, nil))
		m.pendingVotes = append(m.pendingVotes, set.NewGauge(`powvote_publisher_pending_votes{`+pc+`}`, nil))
		for i := range ps.pullErrors {
			ps.pullErrors[i] = set.NewCounter(fmt.Sprintf(`powvote_publisher_pull_errors_total{%s,instance="%d"}`, pc, 2*ps.k+i))
		}
	}
	set.NewGauge(`powvote_publisher_oldest_unpublished_vote_age_seconds{`+c+`}`, func() float64 {
		putc := m.oldest.Load()
		if putc == 0 {
			return 0
		}
		return max(0, float64(p.cfg.Clock().Unix()-putc))
	})
	for i, l := range logLists {
		lc := fmt.Sprintf(`%s,list=%q`, c, l)
		set.NewGauge(`powvote_publisher_lines{`+lc+`}`, func() float64 {
			if s := p.snap.Load(); s != nil {
				return float64(s.lines[i])
			}
			return 0
		})
		set.NewGauge(`powvote_publisher_checkpoint_size{`+lc+`}`, func() float64 {
			if s := p.snap.Load(); s != nil {
				return float64(checkpointSize(s.checkpoint[i]))
			}
			return 0
		})
	}
	set.NewGauge(`powvote_publisher_closed{`+c+`}`, func() float64 {
		if s := p.snap.Load(); s != nil && s.closed != nil {
			return 1
		}
		return 0
	})
	set.NewGauge(`powvote_publisher_ready{`+c+`}`, func() float64 {
		if p.Ready() != nil {
			return 0
		}
		return 1
	})
}

// checkpointSize is the tree size a checkpoint signs: its second line
// (docs/PUBLISHING.md); 0 for none.
func checkpointSize(cp []byte) int64 {
	_, rest, _ := bytes.Cut(cp, []byte("\n"))
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	n, err := strconv.ParseInt(string(line), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// observeRoundLocked counts a round that began at start and ended with
// err (the collectors' errors joined, or a failure), and updates the
// gauges. roundMu must be held.
func (p *Publisher) observeRoundLocked(start time.Time, err error) {
	p.m.rounds.Inc()
	p.m.roundSeconds.UpdateDuration(start)
	if err == nil {
		p.m.caughtUp.Store(true)
	}
	p.updateGaugesLocked()
}

// updateGaugesLocked copies what the round's goroutine owns into the
// gauges. roundMu must be held (or the Publisher not yet shared).
func (p *Publisher) updateGaugesLocked() {
	m := &p.m
	if p.failed != nil {
		m.failed.Store(true)
	}
	oldest := int64(math.MaxInt64)
	note := func(putc string) {
		if t, err := stamp.ParsePUTC(putc); err == nil {
			oldest = min(oldest, t)
		}
	}
	queued := make([]int, len(p.pairs))
	for _, pv := range p.voteQueue {
		queued[pv.pair]++
		note(pv.vote.PUTC)
	}
	anomalies := p.anomalies
	for k, ps := range p.pairs {
		pending := 0
		for _, pv := range ps.pending {
			if !pv.queued {
				pending++
				note(pv.vote.PUTC)
			}
		}
		m.queuedVotes[k].Set(float64(queued[k]))
		m.pendingVotes[k].Set(float64(pending))
		anomalies += ps.anomalies
	}
	m.queuedVoters.Set(float64(len(p.voterQueue)))
	m.anomalies.Set(uint64(anomalies))
	if oldest == math.MaxInt64 {
		oldest = 0
	}
	m.oldest.Store(oldest)
}

// Ready reports whether the publisher serves and has caught up: nil once
// Run serves and a round has pulled from every collector to its end
// since New; an error saying what is not ready otherwise, or that a write
// failed (nothing is published until a restart). A collector that stops
// answering later does not make it unready: the lists are still served,
// and powvote_publisher_pull_errors_total tells.
func (p *Publisher) Ready() error {
	name := "publisher of " + p.cfg.Campaign
	switch {
	case p.m.failed.Load():
		return fmt.Errorf("%s: a write failed; restart to recover", name)
	case !p.m.serving.Load():
		return fmt.Errorf("%s: not serving", name)
	case !p.m.caughtUp.Load():
		return fmt.Errorf("%s: waiting for a round that reaches every collector", name)
	}
	return nil
}
