package loadtest

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/powvote/powvote/published"
)

// maxList bounds a downloaded list: far beyond any campaign's, but a bound.
const maxList = 16 << 30

// listFile follows a published list, downloading only what it gained: the
// lists are append-only, so a Range request from the bytes held, guarded
// by If-Range with the ETag, brings the new lines, and a changed ETag
// (another epoch) the whole list again.
type listFile struct {
	url  string
	data []byte
	etag string
}

func (l *listFile) refresh(ctx context.Context, hc *http.Client) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.url, nil)
	if err != nil {
		return fmt.Errorf("loadtest: %w", err)
	}
	if len(l.data) > 0 && l.etag != "" {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", len(l.data)))
		req.Header.Set("If-Range", l.etag)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("loadtest: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusRequestedRangeNotSatisfiable:
		return nil // nothing new
	case http.StatusOK, http.StatusPartialContent:
	default:
		return fmt.Errorf("loadtest: GET %s: status %d", l.url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxList-int64(len(l.data))+1))
	if err != nil {
		return fmt.Errorf("loadtest: GET %s: %w", l.url, err)
	}
	if resp.StatusCode == http.StatusOK {
		l.data = l.data[:0]
	}
	if int64(len(l.data)+len(body)) > maxList {
		return fmt.Errorf("loadtest: %s is larger than %d bytes", l.url, int64(maxList))
	}
	l.data = append(l.data, body...)
	l.etag = resp.Header.Get("ETag")
	return nil
}

// settleEvery is the pause between two looks at the lists: about the
// publisher's round.
const settleEvery = time.Second

// quiet is how long the lists must stay unchanged before a run without
// fillers accepts that the missing votes wait for a batch.
const quiet = 10 * time.Second

// refillQuiet is how long the lists must stay unchanged, with no more
// missing than the publisher may keep back, before settle sends the
// second round of fillers: several publisher rounds.
const refillQuiet = 5 * time.Second

// settle polls the published lists until every acknowledged vote is in
// them, Settle passes, or (without fillers, or with some unacknowledged)
// the lists have been quiet with no more than allowance missing: they are
// not going to settle, and the verdict says so. It returns the last
// verdict and how long it waited.
//
// refill, when not nil, sends one more round of fillers and reports
// whether all were acknowledged and whether it was the last round; settle
// calls it each time the lists have been quiet with no more acknowledged
// votes missing than the publisher may keep back (heldBack), until the
// last round or a filler not acknowledged.
func (r *runner) settle(ctx context.Context, acked, unacked []Sent, allowance int, refill func() (acked, last bool)) (ListCheck, time.Duration, error) {
	hc := &http.Client{Timeout: 5 * time.Minute, Transport: hostTransport{r.cfg.Host, http.DefaultTransport}}
	name := r.cfg.Campaign.Settings.Name
	votes := &listFile{url: r.edge.base + "/" + published.LogName(name, published.Vote)}
	auths := &listFile{url: r.edge.base + "/" + published.LogName(name, published.Auth)}
	start := time.Now()
	deadline := start.Add(r.cfg.Settle)
	lastChange, lastSize := start, -1
	for {
		var c ListCheck
		// The two lists grow together, but not in one request: read them
		// again when their lengths differ, the publisher may have been
		// between the two.
		for range 5 {
			if err := votes.refresh(ctx, hc); err != nil {
				return ListCheck{}, 0, err
			}
			if err := auths.refresh(ctx, hc); err != nil {
				return ListCheck{}, 0, err
			}
			c = CheckLists(votes.data, auths.data, acked, unacked, allowance)
			if c.LengthsEqual {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		now := time.Now()
		if size := len(votes.data) + len(auths.data); size != lastSize {
			lastSize, lastChange = size, now
		}
		fmt.Fprintf(r.log, "settle %3.0fs: lists %d/%d lines, %d of %d acknowledged votes published once, %d missing, %d votes altered\n",
			now.Sub(start).Seconds(), c.VoteLines, c.AuthLines, c.PublishedOnce, c.Acknowledged, c.Missing, c.Altered)
		switch {
		case c.Missing == 0 && c.LengthsEqual,
			now.After(deadline),
			allowance > 0 && c.Missing <= allowance && now.Sub(lastChange) >= quiet:
			return c, now.Sub(start), nil
		case refill != nil && c.Missing > 0 && c.Missing <= heldBack(r.cfg.Campaign.Settings.BatchSize) && now.Sub(lastChange) >= refillQuiet:
			fmt.Fprintf(r.log, "settle: %d acknowledged votes are kept back for a batch; sending another round of fillers\n", c.Missing)
			ok, last := refill()
			if !ok {
				allowance = heldBack(r.cfg.Campaign.Settings.BatchSize)
			}
			if !ok || last {
				refill = nil
			}
			lastChange = time.Now()
		}
		select {
		case <-ctx.Done():
			return c, now.Sub(start), ctx.Err()
		case <-time.After(settleEvery):
		}
	}
}

func hexString(b []byte) string { return hex.EncodeToString(b) }
func b64(b []byte) string       { return base64.StdEncoding.EncodeToString(b) }
