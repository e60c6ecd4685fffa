package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/campaign"
)

func TestDashboardFlags(t *testing.T) {
	set := metrics.NewSet()
	for _, tc := range []struct {
		args   []string
		scrape []string
		factor float64
		err    string
	}{
		{nil, nil, 3, ""},
		{[]string{"--dashboard-scrape", "http://10.0.0.1:9190/metrics, https://10.0.0.4:9190/metrics,", "--anomaly-factor", "4.5"},
			[]string{"http://10.0.0.1:9190/metrics", "https://10.0.0.4:9190/metrics"}, 4.5, ""},
		{[]string{"--dashboard-scrape", "10.0.0.1:9190/metrics"}, nil, 0, `--dashboard-scrape "10.0.0.1:9190/metrics": not an http or https URL`},
		{[]string{"--dashboard-scrape", "ftp://10.0.0.1/metrics"}, nil, 0, `--dashboard-scrape "ftp://10.0.0.1/metrics": not an http or https URL`},
		{[]string{"--anomaly-factor", "0.5"}, nil, 0, "--anomaly-factor 0.5: give a number from 1 up"},
		{[]string{"--anomaly-factor", "NaN"}, nil, 0, "--anomaly-factor NaN: give a number from 1 up"},
	} {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		f := addDashboardFlags(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		cfg, err := f.config(set, nil, nil)
		if tc.err != "" {
			var ue usageError
			if !errors.As(err, &ue) || err.Error() != tc.err {
				t.Errorf("%v: %v, want the usage error %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil || cfg.Metrics != set || !slices.Equal(cfg.Scrape, tc.scrape) || cfg.Anomaly.Factor != tc.factor {
			t.Errorf("%v: %+v, %v; want scrape %v, factor %v", tc.args, cfg, err, tc.scrape, tc.factor)
		}
	}
}

// TestDashboardCampaigns: each campaign's history is read from its own
// publisher handler.
func TestDashboardCampaigns(t *testing.T) {
	// A publisher's handler that serves its history at path.
	handler := func(path, body string) fasthttp.RequestHandler {
		return func(ctx *fasthttp.RequestCtx) {
			if string(ctx.Path()) != path {
				ctx.SetStatusCode(fasthttp.StatusNotFound)
				return
			}
			ctx.SetStatusCode(fasthttp.StatusOK)
			ctx.SetBodyString(body)
		}
	}
	cs := []*campaign.Campaign{
		{Settings: campaign.Demo(time.Now(), nil)},
		{Settings: campaign.Demo(time.Now(), nil)},
	}
	cs[1].Settings.Name = "lunar"
	got := dashboardCampaigns(cs, []fasthttp.RequestHandler{
		handler("/solar-history.log", "4 1 1 1 1 1 0 0 0 0 0\n"),
		handler("/lunar-history.log", "8 1 8 0 0 0 0 0 0 0 0\n"),
	})
	if len(got) != 2 || got[0].Name != "solar" || got[1].Name != "lunar" || !slices.Equal(got[0].Options, cs[0].Settings.Options) {
		t.Fatalf("campaigns %+v", got)
	}
	for i, want := range []string{"4 1 1 1 1 1 0 0 0 0 0\n", "8 1 8 0 0 0 0 0 0 0 0\n"} {
		b, err := got[i].History(context.Background(), 0, 1<<20)
		if string(b) != want || err != nil {
			t.Errorf("history of %s: %q, %v; want %q", got[i].Name, b, err, want)
		}
	}
}
