package main

import (
	"flag"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/dashboard"
)

// dashboardFlags are the flags of the organizer dashboard (package
// dashboard) that a server command serves on its operator listener: the
// other processes whose metrics it reads too, and how far a minute must
// depart from the usual to be flagged.
type dashboardFlags struct {
	scrape *string
	factor *float64
}

// addDashboardFlags adds --dashboard-scrape and --anomaly-factor to a
// server command's flags.
func addDashboardFlags(fs *flag.FlagSet) *dashboardFlags {
	return &dashboardFlags{
		scrape: fs.String("dashboard-scrape", "", "the dashboard also reads these operator /metrics URLs, comma-separated: the other processes of a deployment run apart (e.g. http://10.0.0.1:9190/metrics,http://10.0.0.4:9190/metrics)"),
		factor: fs.Float64("anomaly-factor", 3, "the dashboard flags a minute whose votes, refusals of a code or stamps are above this many times the median of the 15 minutes before (votes and stamps: or below it divided by this)"),
	}
}

// config checks the flags and returns the dashboard's configuration: the
// process's own metrics set, the URLs of --dashboard-scrape, the campaigns
// and the logger. The caller may set more fields before dashboard.New.
func (f *dashboardFlags) config(set *metrics.Set, campaigns []dashboard.Campaign, log *slog.Logger) (dashboard.Config, error) {
	var urls []string
	for _, u := range strings.Split(*f.scrape, ",") {
		u = strings.TrimSpace(u)
		if u == "" {
			continue
		}
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return dashboard.Config{}, usagef("--dashboard-scrape %q: not an http or https URL", u)
		}
		urls = append(urls, u)
	}
	if !(*f.factor >= 1) || *f.factor > 1e6 {
		return dashboard.Config{}, usagef("--anomaly-factor %v: give a number from 1 up", *f.factor)
	}
	return dashboard.Config{
		Metrics:   set,
		Scrape:    urls,
		Campaigns: campaigns,
		Anomaly:   dashboard.Anomaly{Factor: *f.factor},
		Logger:    log,
	}, nil
}

// dashboardCampaigns are the dashboard's campaigns of a process that runs
// their publishers: each campaign's ballot, and its history read from its
// publisher's handler in the process (publisher.Publisher.Handle), so
// exactly what is published. handlers[i] serves campaigns[i].
func dashboardCampaigns(campaigns []*campaign.Campaign, handlers []fasthttp.RequestHandler) []dashboard.Campaign {
	settings := make([]*campaign.Settings, len(campaigns))
	for i, c := range campaigns {
		settings[i] = c.Settings
	}
	return settingsCampaigns(settings, handlers)
}

// lateHandler answers with a handler set once the process has opened its
// campaigns, and 503 before: the operator listener, and the back office
// on it, start first so that /ready can tell how the start goes.
type lateHandler struct {
	h atomic.Pointer[fasthttp.RequestHandler]
}

func (l *lateHandler) set(h fasthttp.RequestHandler) { l.h.Store(&h) }

func (l *lateHandler) handle(ctx *fasthttp.RequestCtx) {
	if h := l.h.Load(); h != nil {
		(*h)(ctx)
		return
	}
	ctx.Error("the dashboard starts once the campaigns are open\n", fasthttp.StatusServiceUnavailable)
}

// settingsCampaigns are the dashboard's campaigns: each campaign's ballot,
// and its history read through lists[i] when not nil (a publisher's
// handler, or the edge's relay of the published files).
func settingsCampaigns(settings []*campaign.Settings, lists []fasthttp.RequestHandler) []dashboard.Campaign {
	out := make([]dashboard.Campaign, len(settings))
	for i, s := range settings {
		out[i] = dashboard.Campaign{Name: s.Name, Options: s.Options}
		if lists[i] != nil {
			out[i].History = dashboard.HandlerHistory(lists[i], s.Name)
		}
	}
	return out
}
