package dashboard

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"

	"github.com/powvote/powvote/audit"
)

// Data is what data.json answers and each event carries. Every series has
// one value per bucket of T; a value is null when the bucket was not
// sampled or the figure unknown. Counts are per bucket, not per second.
type Data struct {
	Time      float64 `json:"time"` // the last sample, Unix seconds; 0 before the first
	BucketS   float64 `json:"bucket_s"`
	IntervalS float64 `json:"interval_s"`
	Window    int     `json:"window"`
	// Partial is set on events: T and the series hold the last two
	// buckets only, for the page to put in place of its own.
	Partial   bool           `json:"partial"`
	T         []float64      `json:"t"` // each bucket's start, Unix seconds
	Anomaly   AnomalyData    `json:"anomaly"`
	Process   ProcessData    `json:"process"`
	Campaigns []CampaignData `json:"campaigns"`
	Sources   []SourceData   `json:"sources"`
}

// AnomalyData is the settings of the flags, for the page to explain them.
type AnomalyData struct {
	Factor        float64 `json:"factor"`
	MinCount      float64 `json:"min_count"`
	Trailing      int     `json:"trailing"`
	StallBuckets  int     `json:"stall_buckets"`
	ShareJump     float64 `json:"share_jump"`
	ShareMinVotes int     `json:"share_min_votes"`
}

// ProcessData is the edges' figures, every campaign's together.
type ProcessData struct {
	NonceEntries    Num   `json:"nonce_entries"` // as last read
	OpenConnections Num   `json:"open_connections"`
	NonceSeries     []Num `json:"nonce_series"`
	ConnSeries      []Num `json:"conn_series"`
}

// CampaignData is one campaign's part of Data.
type CampaignData struct {
	Name    string   `json:"name"`
	Options []string `json:"options,omitempty"`
	// Totals since the sources' processes started (the dashboard adds up
	// their restarts), and the gauges as last read.
	Acknowledged Num            `json:"acknowledged"`
	Stamps       Num            `json:"stamps"`
	Refused      map[string]Num `json:"refused"` // by code, the codes with any
	Published    Num            `json:"published"`
	Delay        Num            `json:"delay"`
	Series       SeriesData     `json:"series"`
	Pairs        []PairData     `json:"pairs"`
	Flags        []Flag         `json:"flags"`
	History      *HistoryData   `json:"history,omitempty"`
}

// SeriesData is a campaign's series.
type SeriesData struct {
	Acknowledged []Num            `json:"acknowledged"`
	Published    []Num            `json:"published"` // lines added to the votes list
	Stamps       []Num            `json:"stamps"`
	Delay        []Num            `json:"delay"`
	Lines        []Num            `json:"lines"`
	Refused      map[string][]Num `json:"refused"` // by code, the codes with a refusal in T
}

// PairData is a pair's instances as last read.
type PairData struct {
	Pair      int            `json:"pair"`
	Instances []InstanceData `json:"instances"`
}

// InstanceData is a collecting instance as last read.
type InstanceData struct {
	Instance int `json:"instance"`
	Ready    Num `json:"ready"` // 1 ready, 0 not
	Lag      Num `json:"lag"`
	Stored   Num `json:"stored"`
	PullAge  Num `json:"pull_age"`
}

// HistoryData is what the dashboard read of a campaign's history.
type HistoryData struct {
	Lines  int            `json:"lines"` // lines read
	Bad    int            `json:"bad"`   // lines that could not be read
	Failed bool           `json:"failed"`
	Size   int64          `json:"size"` // the last line's
	Time   int64          `json:"time"`
	Shares []ShareData    `json:"shares"`
	Growth []audit.Growth `json:"growth"` // over the lines held
}

// ShareData is an option's count and share at the last history line.
type ShareData struct {
	Option string  `json:"option"`
	Count  int     `json:"count"`
	Share  float64 `json:"share"`
}

// SourceData is the state of one source of metrics: the page says which
// fails and why in a word, never its address.
type SourceData struct {
	Name   string  `json:"name"`
	OK     bool    `json:"ok"`
	Error  string  `json:"error,omitempty"` // no_answer, too_large, status, format
	LastOK float64 `json:"last_ok"`         // Unix seconds; 0 never
}

// Num is a figure, written null when unknown (NaN), which JSON has no
// number for.
type Num float64

func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// UnmarshalJSON reads null back as NaN, so that Data decodes to what was
// encoded.
func (n *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Num(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = Num(f)
	return nil
}

// errorWord is the word of SourceData.Error for a source's failure.
func errorWord(err error) string {
	switch {
	case errors.Is(err, errTooLarge):
		return "too_large"
	case errors.Is(err, errStatus):
		return "status"
	case errors.Is(err, errNotFormat):
		return "format"
	}
	return "no_answer"
}

// data builds Data with the buckets from bucket from to the current one.
// Called by the sampler.
func (d *Dashboard) data(from int64, partial bool) *Data {
	a := d.cfg.Anomaly
	out := &Data{
		BucketS:   d.bucketS,
		IntervalS: d.cfg.Interval.Seconds(),
		Window:    d.cfg.Window,
		Partial:   partial,
		T:         []float64{},
		Anomaly: AnomalyData{Factor: a.Factor, MinCount: a.MinCount, Trailing: a.Trailing,
			StallBuckets: a.StallBuckets, ShareJump: a.ShareJump, ShareMinVotes: a.ShareMinVotes},
		Process:   ProcessData{NonceEntries: Num(none), OpenConnections: Num(none), NonceSeries: []Num{}, ConnSeries: []Num{}},
		Campaigns: []CampaignData{},
		Sources:   []SourceData{},
	}
	if !d.lastTime.IsZero() {
		out.Time = float64(d.lastTime.UnixMilli()) / 1000
	}
	if d.first < 0 {
		from = d.cur + 1 // no bucket yet
	}
	for no := from; no <= d.cur; no++ {
		out.T = append(out.T, float64(no)*d.bucketS)
		p := d.proc[no%int64(len(d.proc))]
		if p.no != no {
			p = procBucket{nonce: none, conns: none}
		}
		out.Process.NonceSeries = append(out.Process.NonceSeries, Num(p.nonce))
		out.Process.ConnSeries = append(out.Process.ConnSeries, Num(p.conns))
	}
	if n := len(out.Process.NonceSeries); n > 0 {
		out.Process.NonceEntries, out.Process.OpenConnections = out.Process.NonceSeries[n-1], out.Process.ConnSeries[n-1]
	}
	for _, s := range d.sources {
		sd := SourceData{Name: s.name, OK: s.failure == nil && s.prev != nil}
		if s.failure != nil {
			sd.Error = errorWord(s.failure)
		}
		if !s.lastOK.IsZero() {
			sd.LastOK = float64(s.lastOK.UnixMilli()) / 1000
		}
		out.Sources = append(out.Sources, sd)
	}
	for _, name := range d.order {
		out.Campaigns = append(out.Campaigns, d.campaignData(d.camps[name], from))
	}
	return out
}

func (d *Dashboard) campaignData(c *campState, from int64) CampaignData {
	cd := CampaignData{
		Name:         c.name,
		Options:      c.options,
		Acknowledged: Num(c.acked),
		Stamps:       Num(c.stamps),
		Published:    Num(c.lines),
		Delay:        Num(c.delay),
		Refused:      map[string]Num{},
		Pairs:        []PairData{},
		Flags:        []Flag{},
	}
	for k, code := range refusalCodes {
		if c.refused[k] > 0 {
			cd.Refused[strconv.Itoa(code)] = Num(c.refused[k])
		}
	}
	s := &cd.Series
	s.Refused = map[string][]Num{}
	var refused [numRefusals][]Num
	anyRefused := [numRefusals]bool{}
	for no := from; no <= d.cur; no++ {
		b := c.bucket(no)
		if b == nil {
			b = &campBucket{acked: none, stamps: none, published: none, lines: none, delay: none}
			for k := range b.refused {
				b.refused[k] = none
			}
		}
		s.Acknowledged = append(s.Acknowledged, Num(b.acked))
		s.Published = append(s.Published, Num(b.published))
		s.Stamps = append(s.Stamps, Num(b.stamps))
		s.Delay = append(s.Delay, Num(b.delay))
		s.Lines = append(s.Lines, Num(b.lines))
		for k := range refused {
			refused[k] = append(refused[k], Num(b.refused[k]))
			if b.refused[k] > 0 {
				anyRefused[k] = true
			}
		}
	}
	for k, code := range refusalCodes {
		if anyRefused[k] {
			s.Refused[strconv.Itoa(code)] = refused[k]
		}
	}
	if s.Acknowledged == nil {
		s.Acknowledged, s.Published, s.Stamps, s.Delay, s.Lines = []Num{}, []Num{}, []Num{}, []Num{}, []Num{}
	}

	keys := make([]instKey, 0, len(c.instances))
	for k := range c.instances {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b instKey) int {
		if a.pair != b.pair {
			return a.pair - b.pair
		}
		return a.instance - b.instance
	})
	for _, k := range keys {
		if n := len(cd.Pairs); n == 0 || cd.Pairs[n-1].Pair != k.pair {
			cd.Pairs = append(cd.Pairs, PairData{Pair: k.pair})
		}
		in := c.instances[k]
		p := &cd.Pairs[len(cd.Pairs)-1]
		p.Instances = append(p.Instances, InstanceData{Instance: k.instance, Ready: Num(in.ready), Lag: Num(in.lag), Stored: Num(in.stored), PullAge: Num(in.pullAge)})
	}

	cd.Flags = append(cd.Flags, c.flags...)
	if d.first >= 0 {
		cd.Flags = append(cd.Flags, c.bucketFlags(d.cur, d.cfg.Anomaly, d.bucketS, true)...)
	}

	if c.history != nil {
		h := &c.hist
		hd := &HistoryData{Lines: h.lines, Bad: h.bad, Failed: h.err != nil, Shares: []ShareData{}, Growth: h.growth}
		if hd.Growth == nil {
			hd.Growth = []audit.Growth{}
		}
		if n := len(h.held); n > 0 {
			last := h.held[n-1]
			hd.Size, hd.Time = last.Size, last.Time
			total := sum(last.Counts)
			for k, o := range c.options {
				sd := ShareData{Option: o, Count: last.Counts[k]}
				if total > 0 {
					sd.Share = float64(last.Counts[k]) / float64(total)
				}
				hd.Shares = append(hd.Shares, sd)
			}
		}
		cd.History = hd
	}
	return cd
}

// publish makes the JSON of data.json and, when event is set, the event
// of this sample, which it sends to the streams. Called by the sampler.
func (d *Dashboard) publish(event bool) {
	start := max(d.first, d.cur-int64(d.cfg.Window)+1)
	full, err := json.Marshal(d.data(start, false))
	if err != nil {
		// A figure JSON cannot carry; Num and the flags' making rule it
		// out.
		d.cfg.Logger.Error("dashboard: cannot encode the data", "err", err)
		return
	}
	d.full.Store(&full)
	if !event {
		return
	}
	ev, err := json.Marshal(d.data(max(start, d.cur-1), true))
	if err != nil {
		d.cfg.Logger.Error("dashboard: cannot encode the event", "err", err)
		return
	}
	d.broadcast(ev)
}
