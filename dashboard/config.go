package dashboard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/powvote/powvote/campaign"
)

// Config is what a dashboard needs. Zero values mean the defaults named on
// each field.
type Config struct {
	// Metrics is the process's own set of metrics, read at every sample;
	// nil: none (a dashboard of Scrape only).
	Metrics *metrics.Set
	// Scrape are the operator /metrics URLs (http or https) of other
	// processes, read at every sample; nil: none.
	Scrape []string
	// Client fetches Scrape; nil: a client of its own. Each fetch is
	// bounded by ScrapeTimeout and ScrapeLimit whatever the client's own
	// settings; give one with the operator listeners' certificates when
	// they serve HTTPS under a private CA.
	Client *http.Client
	// ScrapeTimeout bounds the whole fetch of one URL; default 5s, and at
	// most Interval.
	ScrapeTimeout time.Duration
	// ScrapeLimit is the most bytes read from one URL; a longer answer is
	// refused whole. Default 16 MiB.
	ScrapeLimit int64

	// Campaigns are the campaigns whose ballot and history the dashboard
	// knows; a campaign that appears in the metrics only is shown without
	// its history. Nil: none.
	Campaigns []Campaign

	// Interval is the time between samples; default 10s.
	Interval time.Duration
	// Bucket is the length of a bucket; default 1 minute. Tests make it
	// seconds.
	Bucket time.Duration
	// Window is the number of buckets kept; default 1440 (a day of
	// minutes).
	Window int
	// Anomaly tunes the flags; zero fields take their defaults.
	Anomaly Anomaly

	// MaxStreams bounds the event streams open at once; default 8. The
	// operator listener holds 64 connections in all.
	MaxStreams int
	// KeepAlive is the time between comments on an idle event stream;
	// default 15s.
	KeepAlive time.Duration
	// Prefix is the path the handler is mounted at, with its slashes;
	// default "/dashboard/".
	Prefix string

	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// Logger gets the sources' failures, each once until it recovers; nil:
	// discard.
	Logger *slog.Logger
}

// Anomaly tunes the anomaly flags (package documentation, Anomaly flags).
// Zero fields take the defaults named.
type Anomaly struct {
	// Factor is how far above (or, for votes and stamps, below) the
	// trailing median a bucket must be; default 3, at least 1.
	Factor float64
	// MinCount is the least count that can be high, and the least median
	// under which nothing is low; default 10.
	MinCount float64
	// Trailing is the number of buckets before a bucket whose median it is
	// judged against; default 15.
	Trailing int
	// MinTrailing is the number of those that must have been sampled for
	// the bucket to be judged at all; default 3, at most Trailing.
	MinTrailing int
	// StallBuckets is the number of buckets a pair's votes stored must stay
	// the same for it to stall; default 5.
	StallBuckets int
	// ShareJump is the move of an option's share (0 to 1) between two
	// history lines that flags it; default 0.05.
	ShareJump float64
	// ShareMinVotes is the least votes the earlier line must count for a
	// move to be judged; default 500.
	ShareMinVotes int
}

// Campaign is a campaign the dashboard knows beyond its metrics.
type Campaign struct {
	Name    string   // its name, as in the metrics' campaign label
	Options []string // its ballot, in order: the history counts votes per option
	// History reads the campaign's published history; nil: none is shown.
	History HistorySource
}

// HistorySource reads a campaign's published history (<c>-history.log)
// from byte offset from: at most limit bytes, fewer or none when the
// history ends sooner. It returns ErrHistoryRewound when the history is
// shorter than from (a publisher whose data was replaced): the dashboard
// then reads it again from the start. A history not published yet is an
// empty answer, not an error. It is called by the sampler alone, with the
// sample's context.
type HistorySource func(ctx context.Context, from, limit int64) ([]byte, error)

// ErrHistoryRewound is returned by a HistorySource whose history is
// shorter than the offset asked.
var ErrHistoryRewound = errors.New("dashboard: the history is shorter than before")

// Limits of what the dashboard follows and keeps, so that its memory stays
// bounded whatever the sources say.
const (
	maxCampaigns    = 100  // campaigns followed; more are ignored
	maxPairs        = 64   // pairs of a campaign followed
	maxFlags        = 256  // flags a campaign keeps, the latest
	maxHistoryLines = 1440 // history lines held per campaign
	historyLimit    = 1 << 20
	maxHistoryReads = 8 // fetches of historyLimit in one sample, to catch up
	maxWindow       = 100_000
)

// withDefaults returns cfg with its defaults filled in, or an error naming
// the first field that cannot work.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Interval == 0 {
		cfg.Interval = 10 * time.Second
	}
	if cfg.Bucket == 0 {
		cfg.Bucket = time.Minute
	}
	if cfg.Window == 0 {
		cfg.Window = 1440
	}
	if cfg.ScrapeTimeout == 0 {
		cfg.ScrapeTimeout = min(5*time.Second, cfg.Interval)
	}
	if cfg.ScrapeLimit == 0 {
		cfg.ScrapeLimit = 16 << 20
	}
	if cfg.MaxStreams == 0 {
		cfg.MaxStreams = 8
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = 15 * time.Second
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "/dashboard/"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &cfg.Anomaly
	if a.Factor == 0 {
		a.Factor = 3
	}
	if a.MinCount == 0 {
		a.MinCount = 10
	}
	if a.Trailing == 0 {
		a.Trailing = 15
	}
	if a.MinTrailing == 0 {
		a.MinTrailing = min(3, a.Trailing)
	}
	if a.StallBuckets == 0 {
		a.StallBuckets = 5
	}
	if a.ShareJump == 0 {
		a.ShareJump = 0.05
	}
	if a.ShareMinVotes == 0 {
		a.ShareMinVotes = 500
	}

	switch {
	case cfg.Interval < 0:
		return cfg, fmt.Errorf("dashboard: Interval %v is negative", cfg.Interval)
	case cfg.Bucket < cfg.Interval:
		return cfg, fmt.Errorf("dashboard: Bucket %v is shorter than Interval %v: a bucket needs a sample", cfg.Bucket, cfg.Interval)
	case cfg.Window < 2 || cfg.Window > maxWindow:
		return cfg, fmt.Errorf("dashboard: Window %d is not between 2 and %d buckets", cfg.Window, maxWindow)
	case cfg.ScrapeTimeout < 0 || cfg.ScrapeLimit < 0:
		return cfg, errors.New("dashboard: ScrapeTimeout and ScrapeLimit must not be negative")
	case cfg.MaxStreams < 0 || cfg.KeepAlive < 0:
		return cfg, errors.New("dashboard: MaxStreams and KeepAlive must not be negative")
	case !strings.HasPrefix(cfg.Prefix, "/") || !strings.HasSuffix(cfg.Prefix, "/"):
		return cfg, fmt.Errorf("dashboard: Prefix %q must start and end with '/'", cfg.Prefix)
	case !(a.Factor >= 1) || math.IsInf(a.Factor, 0):
		return cfg, fmt.Errorf("dashboard: Anomaly.Factor %v is not a number of at least 1", a.Factor)
	case !(a.MinCount >= 0) || math.IsInf(a.MinCount, 0):
		return cfg, fmt.Errorf("dashboard: Anomaly.MinCount %v is not a count", a.MinCount)
	case a.Trailing < 1 || a.Trailing >= cfg.Window:
		return cfg, fmt.Errorf("dashboard: Anomaly.Trailing %d is not between 1 and Window-1 (%d)", a.Trailing, cfg.Window-1)
	case a.MinTrailing < 1 || a.MinTrailing > a.Trailing:
		return cfg, fmt.Errorf("dashboard: Anomaly.MinTrailing %d is not between 1 and Trailing (%d)", a.MinTrailing, a.Trailing)
	case a.StallBuckets < 1 || a.StallBuckets >= cfg.Window:
		return cfg, fmt.Errorf("dashboard: Anomaly.StallBuckets %d is not between 1 and Window-1 (%d)", a.StallBuckets, cfg.Window-1)
	case !(a.ShareJump > 0 && a.ShareJump <= 1):
		return cfg, fmt.Errorf("dashboard: Anomaly.ShareJump %v is not a share above 0 and at most 1", a.ShareJump)
	case a.ShareMinVotes < 0:
		return cfg, fmt.Errorf("dashboard: Anomaly.ShareMinVotes %d is negative", a.ShareMinVotes)
	}
	for _, u := range cfg.Scrape {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return cfg, fmt.Errorf("dashboard: scrape URL %q is not an http or https URL", u)
		}
	}
	seen := map[string]bool{}
	for _, c := range cfg.Campaigns {
		if err := campaign.ValidateName(c.Name); err != nil {
			return cfg, fmt.Errorf("dashboard: campaign: %w", err)
		}
		if seen[c.Name] {
			return cfg, fmt.Errorf("dashboard: campaign %s given twice", c.Name)
		}
		seen[c.Name] = true
		if c.History != nil && len(c.Options) == 0 {
			return cfg, fmt.Errorf("dashboard: campaign %s has a history but no options", c.Name)
		}
	}
	if len(cfg.Campaigns) > maxCampaigns {
		return cfg, fmt.Errorf("dashboard: %d campaigns, at most %d", len(cfg.Campaigns), maxCampaigns)
	}
	return cfg, nil
}
