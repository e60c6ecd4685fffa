package dashboard

import (
	"math"
	"slices"
)

// Kinds of flags.
const (
	KindVotes    = "votes"    // votes acknowledged in a bucket
	KindStamps   = "stamps"   // stamps served in a bucket
	KindRefusals = "refusals" // refusals of one code in a bucket
	KindShare    = "share"    // an option's share between two history lines
	KindStall    = "stall"    // a pair's votes stored stopped growing
)

// Directions of a bucket flag.
const (
	High = "high"
	Low  = "low"
)

// Flag is an anomaly the dashboard shows. Times are Unix seconds.
type Flag struct {
	Kind   string `json:"kind"`
	Dir    string `json:"dir,omitempty"`    // votes, stamps, refusals: High or Low
	Code   int    `json:"code,omitempty"`   // refusals: the status code
	Option string `json:"option,omitempty"` // share: the option
	Pair   *int   `json:"pair,omitempty"`   // stall: the pair
	// From and To are the bucket's start and end (votes, stamps,
	// refusals), the times of the two history lines (share), or the start
	// of the first and the end of the last bucket the pair stalled over
	// (stall).
	From float64 `json:"from"`
	To   float64 `json:"to"`
	// Value is the bucket's figure, the option's share after the jump,
	// or the pair's votes stored; Base is the trailing median, the share
	// before, or the votes acknowledged (or the most another pair grew)
	// over the stall.
	Value float64 `json:"value"`
	Base  float64 `json:"base"`
	Live  bool    `json:"live,omitempty"` // its bucket is still filling
}

// median of xs, which it sorts; 0 for none.
func median(xs []float64) float64 {
	n := len(xs)
	if n == 0 {
		return 0
	}
	slices.Sort(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// judge compares v with the trailing figures (those of sampled buckets
// only) and returns High, Low (only if low may be) or "", and the median.
// Fewer than a.MinTrailing trailing figures judge nothing.
func judge(v float64, trailing []float64, a Anomaly, low bool) (string, float64) {
	if len(trailing) < a.MinTrailing {
		return "", 0
	}
	m := median(trailing)
	switch {
	case v >= a.MinCount && v > a.Factor*m:
		return High, m
	case low && m >= a.MinCount && v < m/a.Factor:
		return Low, m
	}
	return "", m
}

// bucketFlags judges bucket no of c against the buckets before it:
// votes and stamps both ways, refusals of each code upwards, or every
// figure upwards only when live (the bucket is still filling, and can
// only grow).
func (c *campState) bucketFlags(no int64, a Anomaly, bucketS float64, live bool) []Flag {
	b := c.bucket(no)
	if b == nil {
		return nil
	}
	var trailing []*campBucket
	for j := no - 1; j >= no-int64(a.Trailing); j-- {
		if t := c.bucket(j); t != nil {
			trailing = append(trailing, t)
		}
	}
	from := float64(no) * bucketS
	var flags []Flag
	check := func(kind string, code int, v float64, of func(*campBucket) float64, low bool) {
		xs := make([]float64, len(trailing))
		for i, t := range trailing {
			xs[i] = of(t)
		}
		if dir, m := judge(v, xs, a, low && !live); dir != "" {
			flags = append(flags, Flag{Kind: kind, Dir: dir, Code: code, From: from, To: from + bucketS, Value: v, Base: m, Live: live})
		}
	}
	check(KindVotes, 0, b.acked, func(t *campBucket) float64 { return t.acked }, true)
	check(KindStamps, 0, b.stamps, func(t *campBucket) float64 { return t.stamps }, true)
	for i, code := range refusalCodes {
		check(KindRefusals, code, b.refused[i], func(t *campBucket) float64 { return t.refused[i] }, false)
	}
	return flags
}

// stallFlags finds the pairs of c that stalled over the a.StallBuckets
// buckets up to bucket no, each sampled and knowing the pair's votes
// stored.
func (c *campState) stallFlags(no int64, a Anomaly, bucketS float64) []Flag {
	k := int64(a.StallBuckets)
	end, start := c.bucket(no), c.bucket(no-k)
	if end == nil || start == nil {
		return nil
	}
	acked := 0.0
	for j := no - k + 1; j <= no; j++ {
		b := c.bucket(j)
		if b == nil {
			return nil
		}
		acked += b.acked
	}
	pairs := 0
	growth := make([]float64, maxPairs) // NaN: the pair is not known at both ends
	for p := range growth {
		growth[p] = none
		if e, s := end.storedOf(p), start.storedOf(p); known(e) && known(s) {
			growth[p] = e - s
			pairs++
		}
	}
	var flags []Flag
	for p, g := range growth {
		if g != 0 {
			continue // growing, or unknown
		}
		others := 0.0
		for q, h := range growth {
			if q != p && known(h) {
				others = max(others, h)
			}
		}
		base := acked
		switch {
		case acked >= a.MinCount*float64(pairs):
		case others >= a.MinCount:
			base = others
		default:
			continue
		}
		pair := p
		flags = append(flags, Flag{Kind: KindStall, Pair: &pair, From: float64(no-k+1) * bucketS, To: float64(no+1) * bucketS, Value: end.storedOf(p), Base: base})
	}
	return flags
}

func known(v float64) bool { return !math.IsNaN(v) }

// storedOf is the votes stored of pair p in b; NaN unknown.
func (b *campBucket) storedOf(p int) float64 {
	if p < len(b.stored) {
		return b.stored[p]
	}
	return none
}
