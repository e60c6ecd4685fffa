// Package dashboard is the organizer dashboard: a page on the operator
// listener where the organizers of a platform's campaigns watch, minute by
// minute, how each count evolves, and see flags on what departs from the
// usual. It reads only the operator metrics of docs/OPERATIONS.md and each
// campaign's published history; it never sees a vote, a voter, an address
// or a nonce, and what it shows are counts per minute and gauges.
//
// # Samples
//
// Every Config.Interval (10 s) the sampler reads the metrics of every
// source: the process's own *metrics.Set (Config.Metrics, written as
// /metrics writes it, without a network round trip) and the /metrics of
// other processes (Config.Scrape, for a deployment whose edge, collectors
// and publisher run apart), each fetch bounded by ScrapeTimeout and
// ScrapeLimit. The text is parsed by Prometheus's own parser
// (github.com/prometheus/common/expfmt). Counters become increases: the
// difference from the same source's previous reading, a value lower than
// before counting as a restart of that process (its whole value is the
// increase, as Prometheus's increase() has it), and a series that appears
// in a source read before counting whole. The first reading of a source
// only sets its baseline. A source that does not answer adds nothing; its
// votes are counted in the minute it answers again, and its gauges keep
// their last values.
//
// # Buckets
//
// The increases are added to buckets of Config.Bucket (one minute) per
// campaign, and the gauges keep their last value in the bucket. The last
// Config.Window buckets (1,440: a day) are kept in a ring per campaign,
// so memory is bounded: a campaign's bucket takes 168 bytes and 8 more
// per pair, which with the default window is 242 KB a campaign and 12 KB
// a pair; add the history lines held (below: 1,440 lines of 48 bytes and
// 8 per option, 170 KB for nine options), at most maxFlags flags, and
// data.json as last made (some tens of KB a campaign). At most
// maxCampaigns campaigns and maxPairs pairs each are followed; labels
// beyond are left out.
//
// What a campaign's bucket holds, from which metric:
//
//	acknowledged  powvote_edge_requests_total{endpoint="vote",code=2xx}, summed over the edges
//	published     increase of powvote_publisher_lines{list="vote"}
//	stamps        powvote_edge_stamps_served_total, summed over kind
//	refused[code] powvote_edge_requests_total{endpoint="vote",code}, code 400, 480 to 489 and 503
//	delay         powvote_publisher_oldest_unpublished_vote_age_seconds (largest, last of the bucket)
//	lines         powvote_publisher_lines{list="vote"} (last of the bucket)
//	stored[pair]  powvote_collector_votes_stored, the larger of the pair's two instances (last)
//
// and, for the process, powvote_edge_nonce_cache_entries and
// powvote_edge_open_connections summed over the edges (last). The pairs'
// instances are shown as last read: powvote_collector_ready,
// _twin_lag_records, _votes_stored and _twin_last_pull_age_seconds.
//
// Votes acknowledged are the edge's 2xx answers to votes, not the
// collectors' votes_acknowledged_total: the edge sends each vote to both
// instances of its pair, and each counts it as new or as a repeat
// depending on whether its twin passed it on first, so the collectors'
// counters cannot be summed into a count of votes; the edge answers each
// vote once, and its 2xx answers are the receipts voters got. A retry
// that the edge answers again from its nonce cache counts again: voters'
// software retries only on 503 or a lost answer, so these are few.
//
// Stamps are shown as their total only. The edge counts genuine and decoy
// stamps apart, and that split tells how many wrong booth codes are tried
// (docs/OPERATIONS.md, Keep the listener private): it stays on /metrics
// for the operator, and the dashboard, which a viewer without access to
// /metrics may read, never serves it. The total is what anyone watching
// the public side sees as requests to /stamp.
//
// # Anomaly flags
//
// A bucket's votes acknowledged, stamps served and refusals of each code
// are judged against the median of the same figure over the
// Anomaly.Trailing (15) buckets before it, among those sampled, once at
// least Anomaly.MinTrailing (3) were: a figure is high when it is at least
// Anomaly.MinCount (10) and above Anomaly.Factor (3) times the median, so
// that 0 then 2 is nothing; votes and stamps are low when the median is at
// least MinCount and the figure below the median over Factor. A bucket is
// judged when it closes; the bucket still filling is judged for high
// figures only (it can only grow), and its flags are marked live.
//
// A pair stalls when its votes stored are the same at the end of a bucket
// as Anomaly.StallBuckets (5) buckets before, while over those buckets the
// campaign's votes acknowledged grew by at least MinCount times the number
// of pairs, or another pair's stored votes by at least MinCount. Buckets
// that stall in a row make one flag.
//
// An option's share jumps when, between two consecutive lines of the
// campaign's history (<c>-history.log, docs/PUBLISHING.md, parsed by
// audit.ParseHistory), its share of the votes moves by at least
// Anomaly.ShareJump (5 points), once the earlier line counts at least
// Anomaly.ShareMinVotes (500) votes: before that a batch moves the shares
// by nature. The history is read from where the last reading stopped
// (HistorySource), at most historyLimit bytes a fetch; the last
// maxHistoryLines lines are held, and each option's largest increase
// between them against the median increase (audit.HistoryGrowth, the
// audit's own figure) is shown.
//
// Flags last as long as their bucket is in the window; a campaign keeps at
// most maxFlags, the latest.
//
// # HTTP
//
// Handler serves, under Config.Prefix ("/dashboard/"): the page (index.html
// at the prefix itself, its script, style, catalogues and uPlot), embedded
// from package web/dashboard; data.json, every campaign's series, totals,
// pairs, flags and history, and the sources' state (type Data), as of the
// last sample; and events, Server-Sent Events with one "sample" event per
// sample carrying the same as data.json for the last two buckets only
// (Data.Partial), a comment every Config.KeepAlive (15 s) so that proxies
// and the server notice a reader gone, at most Config.MaxStreams (8)
// streams at once (503 beyond), each ended when Run's context ends or the
// server shuts down. The page falls back to reading data.json every
// interval when the stream fails. Every answer forbids framing, sniffing
// and caching, and the page may load nothing but its own files.
//
// The handler does no authentication: it is meant to be mounted behind
// the operator listener's login, for the viewer role.
package dashboard
