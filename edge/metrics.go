package edge

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/internal/connlimit"
)

// The edge's metrics for the operator (docs/OPERATIONS.md lists them all),
// in Config.Metrics. Every label value comes from a fixed set: campaign
// names, the endpoints below, the status codes of answerCodes, pair and
// instance numbers, the rejection reasons of reasons.go; never a voter, an
// address, a nonce or a path. Every counter is made when the server is
// built, so that counting on the request path is an atomic add, with no
// allocation and no lookup by name.

// endpoint is what a request asked for, as counted.
type endpoint int

const (
	epList    endpoint = iota // GET /list
	epStamp                   // GET /stamp
	epVote                    // GET /<nonce>
	epStatic                  // the web apps, and the removing worker (static.go)
	epLists                   // the published files, relayed from the publisher
	epCounter                 // the embeddable counter (counter.go)
	epOther                   // anything else: preflights, other paths and methods

	numEndpoints
)

var endpointNames = [numEndpoints]string{"list", "stamp", "vote", "static", "lists", "counter", "other"}

// answerCodes are the status codes counted by value; any other code is
// counted as "other".
var answerCodes = [...]int{200, 204, 206, 304, 400, 404, 408, 412, 416, 431,
	480, 481, 482, 483, 484, 485, 486, 487, 488, 489, 500, 502, 503, 504}

const numCodes = len(answerCodes) + 1 // the last slot is "other"

// codeSlots maps a status code below 600 to its slot in answerCodes plus
// one; 0 is "other".
var codeSlots = func() (t [600]uint8) {
	for i, c := range answerCodes {
		t[c] = uint8(i + 1)
	}
	return t
}()

func codeSlot(code int) int {
	if code >= 0 && code < len(codeSlots) && codeSlots[code] != 0 {
		return int(codeSlots[code]) - 1
	}
	return numCodes - 1
}

// latencyBuckets are the upper bounds, in seconds, of the request
// latency histogram: a vote takes a group commit on two collectors
// (milliseconds), a list download can take minutes.
var latencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Stamps served, by kind.
const (
	stampDecoy   = 0
	stampGenuine = 1
)

// siteMetrics are the metrics of one campaign.
type siteMetrics struct {
	answers   [numEndpoints][numCodes]*metrics.Counter
	latency   [numEndpoints]*metrics.PrometheusHistogram
	refusals  [len(rejectStatus)]*metrics.Counter // by rejection reason
	stamps    [2]*metrics.Counter                 // by stampDecoy, stampGenuine
	poolSpent *metrics.Counter
	received  *metrics.Counter // genuine signatures the collectors sent for the pools
	nonceHits *metrics.Counter // votes answered from the nonce cache
}

// serverMetrics are the metrics of the whole edge process, not of one
// campaign.
type serverMetrics struct {
	unknownCampaign *metrics.Counter // requests whose Host names no campaign served here
	unreadable      *metrics.Counter // requests fasthttp could not read
	listener        atomic.Pointer[connlimit.Listener]
}

// callMetrics count the edge's requests to one collecting instance, by
// what they asked and how they ended.
type callMetrics struct {
	voteOK, voteRefused, voteFailed *metrics.Counter             // 2xx; a 481..486 verdict; no answer or an unexpected one
	stampOK, stampFailed            *metrics.Counter             // GET /stamp: a valid pool; anything else
	recordsOK, recordsFailed        *metrics.Counter             // GET /records/votes: a valid page; anything else
	batchVotes                      *metrics.PrometheusHistogram // votes per POST /votes
}

// batchBuckets are the upper bounds of the votes-per-batch histogram, up
// to the collectors' limit of 1024.
var batchBuckets = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}

func newSiteMetrics(set *metrics.Set, campaign string) *siteMetrics {
	m := &siteMetrics{}
	for e := range numEndpoints {
		for i := range numCodes {
			code := "other"
			if i < len(answerCodes) {
				code = strconv.Itoa(answerCodes[i])
			}
			m.answers[e][i] = set.NewCounter(fmt.Sprintf(`powvote_edge_requests_total{campaign=%q,endpoint=%q,code=%q}`, campaign, endpointNames[e], code))
		}
		m.latency[e] = set.NewPrometheusHistogramExt(fmt.Sprintf(`powvote_edge_request_duration_seconds{campaign=%q,endpoint=%q}`, campaign, endpointNames[e]), latencyBuckets)
	}
	for r := range m.refusals {
		m.refusals[r] = set.NewCounter(fmt.Sprintf(`powvote_edge_refusals_total{campaign=%q,reason=%q}`, campaign, counterNames[r]))
	}
	m.stamps[stampDecoy] = set.NewCounter(fmt.Sprintf(`powvote_edge_stamps_served_total{campaign=%q,kind="decoy"}`, campaign))
	m.stamps[stampGenuine] = set.NewCounter(fmt.Sprintf(`powvote_edge_stamps_served_total{campaign=%q,kind="genuine"}`, campaign))
	m.poolSpent = set.NewCounter(fmt.Sprintf(`powvote_edge_stamp_pool_spent_total{campaign=%q}`, campaign))
	m.received = set.NewCounter(fmt.Sprintf(`powvote_edge_platform_stamps_received_total{campaign=%q}`, campaign))
	m.nonceHits = set.NewCounter(fmt.Sprintf(`powvote_edge_nonce_cache_hits_total{campaign=%q}`, campaign))
	return m
}

func newCallMetrics(set *metrics.Set, campaign string, inst int) *callMetrics {
	c := func(call, outcome string) *metrics.Counter {
		return set.NewCounter(fmt.Sprintf(`powvote_edge_collector_calls_total{campaign=%q,pair="%d",instance="%d",call=%q,outcome=%q}`,
			campaign, inst/2, inst, call, outcome))
	}
	return &callMetrics{
		voteOK: c("vote", "ok"), voteRefused: c("vote", "refused"), voteFailed: c("vote", "error"),
		stampOK: c("stamp", "ok"), stampFailed: c("stamp", "error"),
		recordsOK: c("records", "ok"), recordsFailed: c("records", "error"),
		batchVotes: set.NewPrometheusHistogramExt(fmt.Sprintf(`powvote_edge_collector_batch_votes{campaign=%q,pair="%d",instance="%d"}`,
			campaign, inst/2, inst), batchBuckets),
	}
}

// registerMetrics makes every metric of the edge in set. New calls it
// last, once nothing can fail, so that a refused configuration leaves
// nothing in a set it shares; s.nonces must be made.
func (s *Server) registerMetrics(set *metrics.Set) {
	for _, st := range s.siteMap() {
		registerSiteMetrics(set, st)
	}
	m := &serverMetrics{
		unknownCampaign: set.NewCounter(`powvote_edge_unknown_campaign_requests_total`),
		unreadable:      set.NewCounter(`powvote_edge_unreadable_requests_total`),
	}
	set.NewGauge(`powvote_edge_nonce_cache_entries`, func() float64 { return float64(s.nonces.Len()) })
	set.NewGauge(`powvote_edge_open_connections`, func() float64 {
		if l := m.listener.Load(); l != nil {
			return float64(l.Open())
		}
		return 0
	})
	// The listener counts in atomics of its own (connlimit.Counters),
	// which these read.
	set.NewGauge(`powvote_edge_connections_refused_total{limit="max"}`, func() float64 { return float64(s.conns.Refused.Load()) })
	set.NewGauge(`powvote_edge_connections_refused_total{limit="per_ip"}`, func() float64 { return float64(s.conns.RefusedAddr.Load()) })
	set.NewGauge(`powvote_edge_connections_closed_idle_total`, func() float64 { return float64(s.conns.ClosedIdle.Load()) })
	s.m = m
}

// registerSiteMetrics makes the metrics of one campaign's site: at New,
// and for a campaign added later (AddCampaign), before it is served.
func registerSiteMetrics(set *metrics.Set, st *site) {
	st.m = newSiteMetrics(set, st.name)
	for _, col := range st.instances {
		col.calls = newCallMetrics(set, st.name, col.inst)
	}
}

// observe counts an answered request: its endpoint, its status code and
// how long the handler took.
func (s *Server) observe(ctx *fasthttp.RequestCtx, st *site, ep endpoint) {
	if st == nil {
		s.m.unknownCampaign.Inc()
		return
	}
	st.m.answers[ep][codeSlot(ctx.Response.StatusCode())].Inc()
	st.m.latency[ep].Update(time.Since(ctx.Time()).Seconds())
}

// noteRefusal counts a handler's refusal under its campaign.
func (st *site) noteRefusal(err error) {
	if st != nil {
		st.m.refusals[reasonOf(err)].Inc()
	}
}

// errNotServing and the errors of Ready say what is not ready.
var errNotServing = errors.New("edge: not serving")

// Ready reports whether the edge serves and has read, once, the vote
// records of every collecting instance to their end (CatchUp, then the
// readers started by Serve), so that it knows which pair holds each
// recorded vote: nil when it has, an error naming the first instance not
// read yet otherwise. An instance that stops answering later does not make
// the edge unready: its twin takes the votes, and the readers catch up
// when it is back.
func (s *Server) Ready() error {
	if !s.serving.Load() {
		return errNotServing
	}
	sites := s.siteMap()
	for _, name := range slices.Sorted(maps.Keys(sites)) {
		st := sites[name]
		for _, t := range st.tails {
			if !t.caughtUp.Load() {
				return fmt.Errorf("edge: the vote records of collector %d of %s not read yet", t.c.inst, st.name)
			}
		}
	}
	return nil
}
