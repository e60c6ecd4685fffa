package loadtest

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// edgeClient sends the load: fasthttp with keep-alive connections, enough
// of them for every sender, and an optional Host header for an edge that
// serves several campaigns.
type edgeClient struct {
	base string // scheme://host[:port], no trailing slash
	host string // Host header to send; "" for the URL's own
	c    *fasthttp.Client
}

// maxAnswerBody bounds an answer's body: the edge's answers to /list,
// /stamp and votes have none.
const maxAnswerBody = 64 << 10

func newEdgeClient(edge, host string, conns int) (*edgeClient, error) {
	u, err := url.Parse(edge)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("loadtest: edge URL %q: want http(s)://host[:port]", edge)
	}
	if strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
		return nil, fmt.Errorf("loadtest: edge URL %q: want no path or query", edge)
	}
	return &edgeClient{
		base: u.Scheme + "://" + u.Host,
		host: host,
		c: &fasthttp.Client{
			Name:                "powvote-loadtest",
			MaxConnsPerHost:     conns,
			MaxIdleConnDuration: time.Minute,
			ReadTimeout:         30 * time.Second,
			WriteTimeout:        10 * time.Second,
			MaxResponseBodySize: maxAnswerBody,
			// A sender whose connection is not free yet waits for one
			// rather than failing: the wait counts in its latency.
			MaxConnWaitTimeout: 30 * time.Second,
		},
	}, nil
}

// get sends GET path with the headers set by hdr (nil: none), waits at most
// until deadline, and hands the response to read (nil: ignored) before it
// is recycled. It returns the status code, or 0 and the error when no
// answer came.
func (e *edgeClient) get(deadline time.Time, path string, hdr func(*fasthttp.RequestHeader), read func(*fasthttp.Response)) (int, error) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(e.base + path)
	if e.host != "" {
		req.Header.SetHost(e.host)
		req.UseHostHeader = true
	}
	if hdr != nil {
		hdr(&req.Header)
	}
	if err := e.c.DoDeadline(req, resp, deadline); err != nil {
		return 0, fmt.Errorf("GET %s: %w", path, err)
	}
	if read != nil {
		read(resp)
	}
	return resp.StatusCode(), nil
}

// hostTransport sets the Host header of net/http requests, for the
// reference client's ballot reader.
type hostTransport struct {
	host string
	rt   http.RoundTripper
}

func (t hostTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.host != "" {
		r = r.Clone(r.Context())
		r.Host = t.host
	}
	return t.rt.RoundTrip(r)
}

// errGaveUp ends a request that found no answer but 503s and failures
// before its deadline.
var errGaveUp = errors.New("no answer but 503 or errors before the deadline")
