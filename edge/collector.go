package edge

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/internal/mtls"
)

// Connection pool sizing for one collector. A vote holds a connection for
// the collector's durable write (a group commit, some milliseconds), so a few
// hundred connections carry thousands of votes per second; beyond that,
// requests wait for a free connection up to CollectorTimeout instead of
// failing at once.
const (
	collectorMaxConns = 1024
	// collectorIdle is shorter than any sensible server idle timeout, so
	// that the edge drops a kept-alive connection before the collector
	// does: a vote is never retried (see send), and one written to a
	// connection the collector has just closed would be lost to that
	// instance.
	collectorIdle = 5 * time.Second
	// maxStampPool is the largest pool of platform stamps the edge asks
	// for (Config.StampPoolMax), and collectorMaxBody bounds what the edge
	// reads of a collector's body: such a pool, or a page of records.
	maxStampPool     = 1 << 16
	collectorMaxBody = 64<<10 + maxStampPool*sigLen
)

// collector is one collecting instance as the edge sees it: its URLs and a
// connection pool. Safe for concurrent use.
type collector struct {
	base     string // scheme://host[:port], for logs and errors
	stampURL string
	voteURL  string
	votesURL string
	hc       *fasthttp.HostClient
	failed   atomic.Int64 // Unix nanoseconds of the last vote it did not answer
	inst     int          // its instance number: pair inst/2
	calls    *callMetrics // set by newSite
	batch    *batcher     // its votes, gathered for POST /votes; nil: each alone
}

// unsureFor is how long after an instance failed to answer a vote the edge
// asks its twin for signed receipts too.
const unsureFor = 5 * time.Second

// unsure reports whether the instance failed to answer a vote lately.
func (c *collector) unsure(now time.Time) bool {
	f := c.failed.Load()
	return f != 0 && now.Sub(time.Unix(0, f)) < unsureFor
}

// newCollector checks the base URL of collector instance inst and makes its
// client. The URL must be https (http with a plain-HTTP link) with a host
// and nothing after it but an optional "/".
func newCollector(raw string, timeout time.Duration, link *mtls.Link, inst int) (*collector, error) {
	// Errors quote the URL without a password, in case one was put there.
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("collector URL does not parse")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("collector URL %q: want http://host:port or https://host:port and nothing more", u.Redacted())
	}
	if err := link.CheckURL(raw); err != nil {
		return nil, err
	}
	base := u.Scheme + "://" + strings.ToLower(u.Host)
	return &collector{
		inst:     inst,
		base:     base,
		stampURL: base + "/stamp",
		voteURL:  base + "/vote",
		votesURL: base + "/votes",
		hc: &fasthttp.HostClient{
			Addr:                u.Host,
			IsTLS:               u.Scheme == "https",
			TLSConfig:           link.ClientConfig(mtls.Peer{Role: string(campaign.RoleCollector), Instance: inst}),
			Name:                "powvote-edge",
			MaxConns:            collectorMaxConns,
			MaxConnWaitTimeout:  timeout,
			MaxIdleConnDuration: collectorIdle,
			ReadTimeout:         timeout,
			WriteTimeout:        timeout,
			MaxResponseBodySize: collectorMaxBody,
		},
	}, nil
}

// setPass sets the Pass header of a plain-HTTP link; with TLS the
// certificate says who the edge is, and no header is sent.
func setPass(h *fasthttp.RequestHeader, pass string) {
	if len(pass) > 0 {
		h.Set("Pass", pass)
	}
}
