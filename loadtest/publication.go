package loadtest

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Publication is how long acknowledged votes took to appear in the
// published votes list, as a reader following it through the edge saw
// them (follower): the delay of a vote runs from the arrival of its
// acknowledgement to the first poll that brought its line, so it is late
// by up to a poll interval. Before the close the publisher keeps at least
// a batch of votes back and publishes a vote once at least a batch has
// become final behind it (publisher/doc.go), so the delay includes
// waiting for later votes; the last votes of the run wait for the fillers.
type Publication struct {
	FollowIntervalS float64 `json:"follow_interval_s"`
	BatchSize       int     `json:"batch_size"`
	Acknowledged    int     `json:"acknowledged"`
	Seen            int     `json:"seen"` // acknowledged votes the follower saw published before the end
	DelayMS         Delay   `json:"delay_ms"`
	// SliceS is the width of Slices: 60 s, or 10 s for a run (ramp and
	// duration) shorter than 2 minutes.
	SliceS float64            `json:"slice_s"`
	Slices []PublicationSlice `json:"slices"`

	SeenBeforeAck      int   `json:"seen_before_ack"`     // lines seen before their vote's acknowledgement arrived: delay 0
	SeenUnacknowledged int   `json:"seen_unacknowledged"` // votes of the run without a 2xx whose line was seen
	OtherLines         int   `json:"other_lines"`         // lines of no vote of the run: fillers, other voters
	RepeatedLines      int   `json:"repeated_lines"`      // lines of a vote seen before: a duplicate, or read again after a restart
	MalformedLines     int   `json:"malformed_lines"`
	Restarts           int   `json:"restarts"` // the list shrank or its ETag epoch changed: read again from its start
	Fetches            int   `json:"fetches"`
	FetchErrors        int   `json:"fetch_errors"`
	BytesRead          int64 `json:"bytes_read"`

	firstRestart, firstErr string
}

// Delay is a distribution of delays in milliseconds: exact nearest-rank
// percentiles of the values.
type Delay struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// PublicationSlice is the publication delay of the votes acknowledged in
// one slice of the run, counted from the start of the timed phase.
type PublicationSlice struct {
	FromS        float64  `json:"from_s"`
	Acknowledged int      `json:"acknowledged"`
	Seen         int      `json:"seen"`
	P99MS        *float64 `json:"p99_ms"` // null when none was seen
}

// sliceFor is the width of the report's slices for a run of this span
// (ramp and duration): a minute shows whether the delay stays flat over a
// long run, and a run under two minutes would have one or two of them.
func sliceFor(span time.Duration) time.Duration {
	if span < 2*time.Minute {
		return 10 * time.Second
	}
	return time.Minute
}

// publicationReport sets the acknowledgement times (unix nanoseconds per
// vote, 0 for a vote without a 2xx) against the times the follower first
// saw each vote's line (0: not seen), in slices of the acknowledgement
// time from start.
func publicationReport(ackAt, seen []int64, start time.Time, slice time.Duration) *Publication {
	p := &Publication{SliceS: slice.Seconds()}
	var all []time.Duration
	var bySlice [][]time.Duration
	var acked []int
	for i, a := range ackAt {
		if a == 0 {
			if seen[i] != 0 {
				p.SeenUnacknowledged++
			}
			continue
		}
		p.Acknowledged++
		k := 0
		if since := a - start.UnixNano(); since > 0 {
			k = int(since / int64(slice))
		}
		for len(acked) <= k {
			acked, bySlice = append(acked, 0), append(bySlice, nil)
		}
		acked[k]++
		if seen[i] == 0 {
			continue
		}
		d := time.Duration(seen[i] - a)
		if d < 0 {
			p.SeenBeforeAck++
			d = 0
		}
		all = append(all, d)
		bySlice[k] = append(bySlice[k], d)
	}
	p.Seen = len(all)
	slices.Sort(all)
	p.DelayMS = Delay{P50: rank(all, 50), P90: rank(all, 90), P99: rank(all, 99), Max: rank(all, 100)}
	p.Slices = make([]PublicationSlice, len(acked))
	for k, ds := range bySlice {
		s := PublicationSlice{FromS: round3((time.Duration(k) * slice).Seconds()), Acknowledged: acked[k], Seen: len(ds)}
		if len(ds) > 0 {
			slices.Sort(ds)
			v := rank(ds, 99)
			s.P99MS = &v
		}
		p.Slices[k] = s
	}
	return p
}

// rank is the nearest-rank q-th percentile of sorted, in milliseconds to
// the microsecond; 0 for none.
func rank(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := max(int(math.Ceil(q/100*float64(len(sorted))))-1, 0)
	return float64(sorted[i].Microseconds()) / 1000
}

// setFollower fills in what the follower counted.
func (p *Publication) setFollower(f *follower, every time.Duration, batch int) {
	p.FollowIntervalS, p.BatchSize = every.Seconds(), batch
	p.OtherLines, p.RepeatedLines, p.MalformedLines = f.other, f.repeated, f.malformed
	p.Restarts, p.Fetches, p.FetchErrors, p.BytesRead = f.restarts, f.fetches, f.fetchErrors, f.bytes
	p.firstRestart, p.firstErr = f.firstRestart, f.firstErr
}

// notes says what a reader of the delays should know.
func (p *Publication) notes() []string {
	var n []string
	if miss := p.Acknowledged - p.Seen; miss > 0 {
		n = append(n, fmt.Sprintf("%d acknowledged votes were not seen in the votes list by its follower before the end: the publication delays leave them out", miss))
	}
	if p.Restarts > 0 {
		n = append(n, fmt.Sprintf("the votes list was read again from its start %d times (it shrank or its ETag epoch changed: another list), first: %s", p.Restarts, p.firstRestart))
	}
	if p.FetchErrors > 0 {
		n = append(n, fmt.Sprintf("%d of %d looks at the votes list failed, first: %s", p.FetchErrors, p.Fetches, p.firstErr))
	}
	if p.MalformedLines > 0 {
		n = append(n, fmt.Sprintf("%d lines of the votes list seen by its follower do not parse", p.MalformedLines))
	}
	if p.SeenBeforeAck > 0 {
		n = append(n, fmt.Sprintf("%d votes were seen published before their acknowledgement arrived (delay counted as 0)", p.SeenBeforeAck))
	}
	return n
}

// writeText writes the publication delay for people.
func (p *Publication) writeText(ew *errWriter) {
	sec := func(ms float64) string { return fmt.Sprintf("%.3fs", ms/1000) }
	d := p.DelayMS
	ew.printf("  publication  %d of %d acknowledged votes seen in the votes list, looked at every %gs; delay from acknowledgement p50 %s p90 %s p99 %s max %s\n",
		p.Seen, p.Acknowledged, p.FollowIntervalS, sec(d.P50), sec(d.P90), sec(d.P99), sec(d.Max))
	unit := "minute"
	if p.SliceS != 60 {
		unit = fmt.Sprintf("%gs", p.SliceS)
	}
	ew.printf("               p99 per %s of acknowledgement (from, p99, seen/acknowledged):", unit)
	for _, s := range p.Slices {
		v := "-"
		if s.P99MS != nil {
			v = sec(*s.P99MS)
		}
		ew.printf(" %gs %s %d/%d;", s.FromS, v, s.Seen, s.Acknowledged)
	}
	ew.printf("\n               the publisher keeps at least batch_size (%d) votes back for a batch, so the delay includes waiting for later votes, and the last votes wait for the fillers; a line counts from the first look that brought it\n", p.BatchSize)
}
