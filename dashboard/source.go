package dashboard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Why a source gave nothing, as the page says it; the cause, which may
// name addresses, goes to the log.
var (
	errNoAnswer  = errors.New("no answer")
	errTooLarge  = errors.New("answer too large")
	errStatus    = errors.New("unexpected status")
	errNotFormat = errors.New("not the Prometheus text format")
)

// source is one process whose metrics the dashboard reads.
type source struct {
	name string // "self", or "scrape N" (1-based): never the URL, which the page does not show
	read func(ctx context.Context) ([]byte, error)

	// Owned by the sampler.
	prev    *reading           // the last reading; nil before the first
	lines   map[string]float64 // the highest lines published seen, by campaign
	failure error              // why the last reading failed (one of the errors above); nil after a good one
	lastOK  time.Time
}

// selfSource reads set as /metrics writes it.
func selfSource(set *metrics.Set) *source {
	return &source{name: "self", read: func(context.Context) ([]byte, error) {
		var b bytes.Buffer
		set.WritePrometheus(&b)
		return b.Bytes(), nil
	}}
}

// scrapeSource reads url with hc, bounded by timeout and limit.
func scrapeSource(n int, url string, hc *http.Client, timeout time.Duration, limit int64) *source {
	return &source{name: "scrape " + strconv.Itoa(n), read: func(ctx context.Context) ([]byte, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		status, _, body, err := fetch(ctx, hc, url, nil, limit)
		if err != nil {
			return nil, err
		}
		if status != http.StatusOK {
			return nil, fmt.Errorf("%w %d from %s", errStatus, status, url)
		}
		return body, nil
	}}
}

// fetch GETs url with the headers hdr and reads at most limit bytes of
// a 2xx answer: a longer one is errTooLarge. The body of any other answer
// is not read. The context bounds the whole
// exchange, body included.
func fetch(ctx context.Context, hc *http.Client, url string, hdr http.Header, limit int64) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%w: %v", errNoAnswer, err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%w: %v", errNoAnswer, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		// The status says it all; the body is an error page.
		return resp.StatusCode, resp.Header, nil, nil
	}
	if resp.ContentLength > limit {
		return 0, nil, nil, fmt.Errorf("%w: %s announces %d bytes, the limit is %d", errTooLarge, url, resp.ContentLength, limit)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%w: reading %s: %v", errNoAnswer, url, err)
	}
	if int64(len(body)) > limit {
		return 0, nil, nil, fmt.Errorf("%w: %s sent more than %d bytes", errTooLarge, url, limit)
	}
	return resp.StatusCode, resp.Header, body, nil
}

// defaultClient is the client of a dashboard given none: no redirects,
// since a metrics URL that moves is a mistake to see, not to follow.
func defaultClient() *http.Client {
	return &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     time.Minute,
		},
	}
}
