package dashboard

import (
	"context"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Dashboard samples the metrics and serves the page. Make it with New,
// run its sampler with Run and mount Handler on the operator listener.
type Dashboard struct {
	cfg     Config
	bucketS float64 // cfg.Bucket in seconds

	// mu serializes samples (Run calls sample from one goroutine, tests
	// call it directly); the fields below it are the sampler's.
	mu         sync.Mutex
	sources    []*source
	camps      map[string]*campState
	order      []string // campaign names, sorted
	proc       []procBucket
	cur        int64 // the number of the bucket the last sample fell in
	started    bool  // a sample has been taken
	first      int64 // the first bucket a sample with increases fell in; -1 none
	lastTime   time.Time
	configured map[string]bool

	// What the handler serves: the JSON of the last sample, in full and
	// as an event. Set by the sampler, read by the handler without a lock.
	full atomic.Pointer[[]byte]

	// Event streams: subscribers get each sample's event; done ends them.
	subMu    sync.Mutex
	subs     map[chan []byte]struct{}
	streams  atomic.Int64
	done     chan struct{}
	doneOnce sync.Once
}

// campState is what the dashboard holds of one campaign. Owned by the
// sampler.
type campState struct {
	name    string
	options []string
	history HistorySource
	ring    []campBucket // cfg.Window slots, bucket number modulo the window
	last    int64        // the last bucket that had it

	// Totals since the dashboard started, the sources' counts before
	// their first reading included.
	acked, stamps float64
	refused       [numRefusals]float64
	// Gauges as last read.
	lines, delay float64
	instances    map[instKey]instReading

	flags []Flag // closed buckets' and the history's, oldest first
	hist  histState
}

// campBucket is one bucket of a campaign.
type campBucket struct {
	no                       int64 // the bucket's number: the slot holds no other bucket
	acked, stamps, published float64
	refused                  [numRefusals]float64
	lines, delay             float64   // last of the bucket; NaN unknown
	stored                   []float64 // by pair, the larger instance's, last; NaN unknown
}

// procBucket is one bucket of the process-wide gauges.
type procBucket struct {
	no           int64
	nonce, conns float64 // last; NaN unknown
}

// New checks cfg and makes a dashboard; it samples nothing until Run.
func New(cfg Config) (*Dashboard, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	d := &Dashboard{
		cfg:        cfg,
		bucketS:    cfg.Bucket.Seconds(),
		camps:      map[string]*campState{},
		proc:       make([]procBucket, cfg.Window),
		first:      -1,
		configured: map[string]bool{},
		subs:       map[chan []byte]struct{}{},
		done:       make(chan struct{}),
	}
	for i := range d.proc {
		d.proc[i].no = -1
	}
	if cfg.Metrics != nil {
		d.sources = append(d.sources, selfSource(cfg.Metrics))
	}
	hc := cfg.Client
	if hc == nil && len(cfg.Scrape) > 0 {
		hc = defaultClient()
	}
	for i, u := range cfg.Scrape {
		d.sources = append(d.sources, scrapeSource(i+1, u, hc, cfg.ScrapeTimeout, cfg.ScrapeLimit))
	}
	for _, c := range cfg.Campaigns {
		s := d.campaign(c.Name)
		s.options, s.history = slices.Clone(c.Options), c.History
		d.configured[c.Name] = true
	}
	d.publish(false)
	return d, nil
}

// Run samples every cfg.Interval, the first at once, until ctx ends; then
// it ends the event streams and returns ctx's error.
func (d *Dashboard) Run(ctx context.Context) error {
	defer d.close()
	t := time.NewTicker(d.cfg.Interval)
	defer t.Stop()
	for {
		d.sample(ctx, d.cfg.Now())
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// close ends the event streams; the handler refuses new ones after it.
func (d *Dashboard) close() { d.doneOnce.Do(func() { close(d.done) }) }

// campaign returns the state of campaign name, made on first use; nil for
// one campaign too many.
func (d *Dashboard) campaign(name string) *campState {
	if c := d.camps[name]; c != nil {
		return c
	}
	if len(d.camps) >= maxCampaigns {
		return nil
	}
	c := &campState{name: name, ring: make([]campBucket, d.cfg.Window), last: -1,
		lines: none, delay: none}
	for i := range c.ring {
		c.ring[i].no = -1
	}
	d.camps[name] = c
	d.order = append(d.order, name)
	slices.Sort(d.order)
	return c
}

// bucket returns bucket no of c, or nil when it was not sampled or has
// left the window.
func (c *campState) bucket(no int64) *campBucket {
	if no < 0 {
		return nil
	}
	b := &c.ring[no%int64(len(c.ring))]
	if b.no != no {
		return nil
	}
	return b
}

// makeBucket returns bucket no of c, emptied first if its slot held an
// older one.
func (c *campState) makeBucket(no int64) *campBucket {
	b := &c.ring[no%int64(len(c.ring))]
	if b.no != no {
		stored := b.stored[:0]
		*b = campBucket{no: no, lines: none, delay: none, stored: stored}
	}
	return b
}

// agg is what one sample found for a campaign, over every source.
type agg struct {
	delta                    bool // a source read before had it: its increases are known
	acked, stamps, published float64
	refused                  [numRefusals]float64
	// Totals' part that was there before a source's first reading.
	baseAcked, baseStamps float64
	baseRefused           [numRefusals]float64
	lines, delay          float64
	instances             map[instKey]instReading
}

// increase is what a counter grew by from prev to cur: cur whole when it
// is lower (the process restarted) or new (prev NaN); nothing when cur is
// unknown.
func increase(prev, cur float64) float64 {
	switch {
	case math.IsNaN(cur):
		return 0
	case math.IsNaN(prev), cur < prev:
		return cur
	}
	return cur - prev
}

// sample reads every source at now, files what they say and publishes
// the result to the handler and the event streams.
func (d *Dashboard) sample(ctx context.Context, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	readings := make([]*reading, len(d.sources))
	var wg sync.WaitGroup
	for i, s := range d.sources {
		wg.Go(func() { readings[i] = d.read(ctx, s, now) })
	}
	wg.Wait()

	aggs := map[string]*agg{}
	get := func(name string) *agg {
		a := aggs[name]
		if a == nil {
			a = &agg{lines: none, delay: none}
			aggs[name] = a
		}
		return a
	}
	nonce, conns := none, none
	for i, s := range d.sources {
		r, prev := readings[i], s.prev
		if r != nil {
			for name, cr := range r.camps {
				a := get(name)
				var pr *campReading
				if prev != nil {
					pr = prev.camps[name]
					if pr == nil {
						pr = newCampReading()
					}
					a.delta = true
					a.acked += increase(pr.acked, cr.acked)
					a.stamps += increase(pr.stamps, cr.stamps)
					for k := range cr.refused {
						a.refused[k] += increase(pr.refused[k], cr.refused[k])
					}
				} else {
					a.baseAcked += zeroIfNone(cr.acked)
					a.baseStamps += zeroIfNone(cr.stamps)
					for k := range cr.refused {
						a.baseRefused[k] += zeroIfNone(cr.refused[k])
					}
				}
				// The lines published only grow: a lower value is a
				// publisher starting up, which reads back what it had.
				if known(cr.lines) {
					if s.lines == nil {
						s.lines = map[string]float64{}
					}
					hw, seen := s.lines[name]
					if seen && prev != nil && cr.lines > hw {
						a.published += cr.lines - hw
					}
					if !seen || cr.lines > hw {
						s.lines[name] = cr.lines
					}
				}
			}
			s.prev = r
		}
		// Gauges: the last good reading's, a failed source's included.
		if g := s.prev; g != nil {
			for name, cr := range g.camps {
				a := get(name)
				if known(cr.lines) {
					addTo(&a.lines, cr.lines)
				}
				if known(cr.delay) {
					maxTo(&a.delay, cr.delay)
				}
				for k, in := range cr.instances {
					if a.instances == nil {
						a.instances = map[instKey]instReading{}
					}
					a.instances[k] = in
				}
			}
			if known(g.nonceEntries) {
				addTo(&nonce, g.nonceEntries)
			}
			if known(g.openConns) {
				addTo(&conns, g.openConns)
			}
		}
	}

	// Buckets start at multiples of their length since the Unix epoch:
	// minutes start on the minute.
	no := now.UnixNano() / int64(d.cfg.Bucket)
	if !d.started {
		d.cur, d.started = no, true
	}
	if no > d.cur {
		d.closeBucket(d.cur)
		d.cur = no
	}
	// A clock that went back files into the current bucket.
	no = d.cur
	d.lastTime = now

	anyDelta := false
	names := make([]string, 0, len(aggs))
	for name := range aggs {
		names = append(names, name)
	}
	slices.Sort(names) // so that which campaigns beyond maxCampaigns are left out does not vary
	for _, name := range names {
		a := aggs[name]
		c := d.campaign(name)
		if c == nil {
			continue
		}
		c.acked += a.baseAcked + a.acked
		c.stamps += a.baseStamps + a.stamps
		for k := range c.refused {
			c.refused[k] += a.baseRefused[k] + a.refused[k]
		}
		c.lines, c.delay, c.instances = a.lines, a.delay, a.instances
		if !a.delta {
			continue
		}
		anyDelta = true
		c.last = no
		b := c.makeBucket(no)
		b.acked += a.acked
		b.stamps += a.stamps
		b.published += a.published
		for k := range b.refused {
			b.refused[k] += a.refused[k]
		}
		b.lines, b.delay = a.lines, a.delay
		b.stored = b.stored[:0]
		for k, in := range a.instances {
			for len(b.stored) <= k.pair {
				b.stored = append(b.stored, none)
			}
			if known(in.stored) {
				maxTo(&b.stored[k.pair], in.stored)
			}
		}
	}
	if anyDelta {
		p := &d.proc[no%int64(len(d.proc))]
		*p = procBucket{no: no, nonce: nonce, conns: conns}
		if d.first < 0 {
			d.first = no
		}
	}
	// Each campaign's history in its own goroutine, each touching its
	// own campaign's state only.
	for _, name := range d.order {
		if c := d.camps[name]; c.history != nil {
			wg.Go(func() { c.readHistory(ctx, d.cfg.Anomaly, d.cfg.ScrapeTimeout) })
		}
	}
	wg.Wait()
	d.expire()
	d.publish(true)
}

func zeroIfNone(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}

// read reads source s; nil when it failed, which is logged once until it
// recovers.
func (d *Dashboard) read(ctx context.Context, s *source, now time.Time) *reading {
	text, err := s.read(ctx)
	var r *reading
	if err == nil {
		r, err = parseReading(text)
	}
	if err != nil {
		if s.failure == nil {
			d.cfg.Logger.Warn("dashboard: a metrics source gives nothing", "source", s.name, "err", err)
		}
		s.failure = err
		return nil
	}
	if s.failure != nil {
		d.cfg.Logger.Info("dashboard: a metrics source answers again", "source", s.name)
	}
	s.failure, s.lastOK = nil, now
	if r.ignored > 0 {
		d.cfg.Logger.Debug("dashboard: labels left out", "source", s.name, "count", r.ignored)
	}
	return r
}

// closeBucket judges bucket no of every campaign, now that it is
// complete, and keeps its flags.
func (d *Dashboard) closeBucket(no int64) {
	a := d.cfg.Anomaly
	for _, name := range d.order {
		c := d.camps[name]
		c.addFlags(c.bucketFlags(no, a, d.bucketS, false)...)
		for _, f := range c.stallFlags(no, a, d.bucketS) {
			c.addStall(f)
		}
	}
}

// addFlags keeps flags, and at most maxFlags, the latest.
func (c *campState) addFlags(flags ...Flag) {
	c.flags = append(c.flags, flags...)
	if n := len(c.flags) - maxFlags; n > 0 {
		c.flags = slices.Delete(c.flags, 0, n)
	}
}

// addStall keeps a stall flag, or extends the pair's stall it continues.
func (c *campState) addStall(f Flag) {
	for i := len(c.flags) - 1; i >= 0; i-- {
		g := &c.flags[i]
		if g.Kind == KindStall && *g.Pair == *f.Pair && g.To >= f.From {
			g.To, g.Value, g.Base = f.To, f.Value, max(g.Base, f.Base)
			return
		}
	}
	c.addFlags(f)
}

// dropFlags drops the flags of one kind.
func (c *campState) dropFlags(kind string) {
	c.flags = slices.DeleteFunc(c.flags, func(f Flag) bool { return f.Kind == kind })
}

// expire drops the flags that ended before the window, and the campaigns
// not configured that no source had over the whole window.
func (d *Dashboard) expire() {
	start := float64(d.cur-int64(d.cfg.Window)+1) * d.bucketS
	for _, name := range d.order {
		c := d.camps[name]
		c.flags = slices.DeleteFunc(c.flags, func(f Flag) bool { return f.To <= start })
		if !d.configured[name] && c.last >= 0 && c.last <= d.cur-int64(d.cfg.Window) {
			delete(d.camps, name)
		}
	}
	d.order = slices.DeleteFunc(d.order, func(n string) bool { return d.camps[n] == nil })
}
