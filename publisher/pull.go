package publisher

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/internal/mtls"
	"github.com/powvote/powvote/listline"
)

// maxPage bounds the body of one answer from a collector: a page of 10000
// vote records is under 5 MB.
const maxPage = 64 << 20

// pullPair pulls a pair's new vote records and its new voters: those
// the cursors give, or, when they cannot tell, both voter tables in full.
// It runs on its own goroutine during a round.
func (p *Publisher) pullPair(ctx context.Context, ps *pairState) error {
	var errs [2]error
	for i := range 2 {
		errs[i] = p.pullVotes(ctx, ps, i)
		p.noteHealth(ps, i, errs[i])
	}
	if err := errors.Join(errs[0], errs[1]); err != nil {
		// The voter tables can wait: without both instances nothing new
		// of this pair can be final.
		return err
	}
	if ps.noCursor {
		// A collector of an earlier release: its tables are read in full
		// whenever it showed new records.
		if ps.fresh {
			return nil
		}
		return p.fullScan(ctx, ps)
	}
	if !ps.needScan {
		err := p.pullNewVoters(ctx, ps)
		if !errors.Is(err, errCursorGone) {
			return err
		}
		p.log.Info("a collector no longer knows the publisher's voter cursor (restarted, or not read for long); reading the pair's voter tables in full", "pair", ps.k)
		ps.needScan = true
	}
	return p.fullScan(ctx, ps)
}

// fullScan takes a new voter cursor from both instances, then reads both
// voter tables side by side: every voter added after the cursors comes
// by them (pullNewVoters), every one before is in the tables.
func (p *Publisher) fullScan(ctx context.Context, ps *pairState) error {
	var curs [2]string
	for i := range 2 {
		_, next, err := p.records.fetchNewVoters(ctx, ps.urls[i], "")
		if errors.Is(err, errStatus(http.StatusBadRequest)) && !ps.noCursor {
			p.log.Warn("a collector keeps no voter cursor (an earlier release); reading the pair's voter tables in full every round with new votes", "pair", ps.k, "instance", 2*ps.k+i)
			ps.noCursor = true
		}
		if ps.noCursor {
			break
		}
		if err != nil {
			return fmt.Errorf("publisher: pair %d instance %d (%s): voter cursor: %w", ps.k, 2*ps.k+i, redact(ps.urls[i]), err)
		}
		curs[i] = next
	}
	if err := p.scanVoters(ctx, ps); err != nil {
		if worthWarning(err) {
			p.log.Warn("couldn't read the voter tables; trying again next round", "pair", ps.k, "err", err)
		}
		return err
	}
	ps.vcur = curs
	ps.needScan, ps.fresh = false, true
	return nil
}

// pullNewVoters reads from each instance the voters added since its
// cursor and takes each in (seeVoter). It returns an error wrapping
// errCursorGone when an instance does not know its cursor.
func (p *Publisher) pullNewVoters(ctx context.Context, ps *pairState) error {
	for i := range 2 {
		voters, next, err := p.records.fetchNewVoters(ctx, ps.urls[i], ps.vcur[i])
		if err != nil {
			return fmt.Errorf("publisher: pair %d instance %d (%s): new voters: %w", ps.k, 2*ps.k+i, redact(ps.urls[i]), err)
		}
		for _, v := range voters {
			p.seeVoter(ps, i, v)
		}
		ps.vcur[i] = next
	}
	return nil
}

// seeVoter takes in a voter instance i holds: final if the other instance
// holds it too, else kept in half until it does.
func (p *Publisher) seeVoter(ps *pairState, i int, v listline.Voter) {
	m := v.Mandate()
	if p.voterKnown(m) {
		return
	}
	o, ok := ps.half[1-i][m]
	if !ok {
		ps.half[i][m] = v
		return
	}
	delete(ps.half[1-i], m)
	ps.newVoters = append(ps.newVoters, p.oneOf(ps, v, o))
}

// oneOf returns the voter to publish of two records of one mandate that
// the two instances of a pair hold.
func (p *Publisher) oneOf(ps *pairState, a, b listline.Voter) listline.Voter {
	if a.Sig == b.Sig {
		return a
	}
	// Both signatures verified on their instance, so both are the
	// authority's; the mandate is one voter either way.
	ps.anomalies++
	p.log.Error("the instances of a pair hold different signatures for one mandate; publishing the smaller", "pair", ps.k)
	if sigText(&b) < sigText(&a) {
		return b
	}
	return a
}

// noteHealth logs when an instance stops or starts answering, not every
// round that it does not.
func (p *Publisher) noteHealth(ps *pairState, i int, err error) {
	switch {
	case err != nil && !ps.failing[i] && worthWarning(err):
		p.log.Warn("collector not answering; its pair publishes nothing new meanwhile", "pair", ps.k, "instance", 2*ps.k+i, "err", err)
	case err == nil && ps.failing[i]:
		p.log.Info("collector answering again", "pair", ps.k, "instance", 2*ps.k+i)
	}
	if err != nil && worthWarning(err) {
		ps.pullErrors[i].Inc()
	}
	ps.failing[i] = err != nil
}

// worthWarning reports whether err is worth a warning: a round cut short
// by shutting down is not.
func worthWarning(err error) bool { return !errors.Is(err, context.Canceled) }

// pullVotes reads instance i's vote records from where it stopped until a
// short page, applying each page as a whole once it has parsed.
func (p *Publisher) pullVotes(ctx context.Context, ps *pairState, i int) error {
	published := func(k nonceKey) bool { _, ok := p.publishedVotes[k]; return ok }
	for {
		from := max(ps.next[i], 1)
		recs, id, last, err := p.records.fetchVotes(ctx, ps.urls[i], from)
		if err != nil {
			return fmt.Errorf("publisher: pair %d instance %d (%s): vote records from %d: %w", ps.k, 2*ps.k+i, redact(ps.urls[i]), from, err)
		}
		switch {
		case id == "" || id == ps.logs[i]:
		case ps.logs[i] == "":
			// The first answer that names its log: a state of an
			// earlier release, or a new publisher.
			ps.logs[i] = id
		default:
			p.log.Warn("a collector's vote log has a new identity: it was rebuilt or restored; reading it again from the start",
				"pair", ps.k, "instance", 2*ps.k+i, "log_id", id, "was", ps.logs[i])
			ps.resetInstance(i, id, last)
			continue
		}
		for _, r := range recs {
			ps.apply(p.log, i, r, published)
		}
		ps.next[i] = from + uint64(len(recs))
		if len(recs) > 0 {
			ps.fresh = false
		}
		if len(recs) < p.cfg.PageSize {
			return nil
		}
	}
}

// recordsClient reads the collectors' records over the internal links
// (docs/INTERNAL.md): pages of GET /records/votes and /records/voters.
type recordsClient struct {
	client   *http.Client
	read     *atomic.Int64 // bytes of answer bodies read
	pass     string        // the Pass header of a plain-HTTP link, "" with TLS
	pageSize int
}

func newRecordsClient(link *mtls.Link, timeout time.Duration, pageSize int) recordsClient {
	return recordsClient{
		read:     new(atomic.Int64),
		pass:     link.Pass(),
		pageSize: pageSize,
		// net/http rather than fasthttp: a round makes a few large
		// requests, and net/http ends them as soon as the context is
		// cancelled, so shutting down never waits for a slow collector.
		client: &http.Client{
			Timeout: timeout,
			Transport: &http.Transport{
				Proxy:               nil,
				MaxIdleConnsPerHost: 2,
				IdleConnTimeout:     time.Minute,
				DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
				// Any collector of the campaign: the pairs' order is the
				// operator's, and each answers only what a publisher may read.
				TLSClientConfig: link.ClientConfig(mtls.Peer{Role: string(campaign.RoleCollector), Instance: mtls.AnyInstance}),
			},
		},
	}
}

// get asks a collector for base+target and returns the body of a 200.
func (c *recordsClient) get(ctx context.Context, base, target string) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+target, nil)
	if err != nil {
		return nil, nil, err
	}
	if len(c.pass) > 0 {
		req.Header.Set("Pass", c.pass)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPage+1))
	c.read.Add(int64(len(body)))
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode == http.StatusGone {
		return nil, nil, errCursorGone
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, errStatus(resp.StatusCode)
	}
	if len(body) > maxPage {
		return nil, nil, fmt.Errorf("answer longer than %d bytes", maxPage)
	}
	return body, resp.Header, nil
}

// fetchVotes asks for one page of vote records from index from (>= 1). It
// returns them with the log's identity (Log-Id, "" from a collector that
// does not send it) and the index of its last record (Last).
func (c *recordsClient) fetchVotes(ctx context.Context, base string, from uint64) (recs []record, id string, last uint64, err error) {
	body, h, err := c.get(ctx, base, "/records/votes?from="+strconv.FormatUint(from, 10)+"&limit="+strconv.Itoa(c.pageSize))
	if err != nil {
		return nil, "", 0, err
	}
	recs, err = parseVotePage(body, from)
	if err != nil {
		return nil, "", 0, err
	}
	if next := h.Get("Next"); next != strconv.FormatUint(from+uint64(len(recs)), 10) {
		return nil, "", 0, fmt.Errorf("header Next %q after %d records from %d", next, len(recs), from)
	}
	id = h.Get("Log-Id")
	if len(id) > 64 {
		return nil, "", 0, fmt.Errorf("header Log-Id of %d bytes", len(id))
	}
	// Last is only a bound for telling a copy from new records; a
	// collector of an earlier release may not send it.
	last, _ = strconv.ParseUint(h.Get("Last"), 10, 64)
	return recs, id, last, nil
}

// splitLines splits a body of lines each ended by "\n".
func splitLines(body []byte) ([]string, error) {
	if len(body) == 0 {
		return nil, nil
	}
	if body[len(body)-1] != '\n' {
		return nil, errors.New("the last line has no line feed")
	}
	return strings.Split(string(body[:len(body)-1]), "\n"), nil
}

// parseVotePage reads the records of a page that starts at index from: the
// indexes must follow each other from there.
func parseVotePage(body []byte, from uint64) ([]record, error) {
	ls, err := splitLines(body)
	if err != nil {
		return nil, err
	}
	recs := make([]record, 0, len(ls))
	for j, l := range ls {
		r, err := parseRecord(l)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", j+1, err)
		}
		if want := from + uint64(j); r.index != want {
			return nil, fmt.Errorf("line %d: record %d, want %d", j+1, r.index, want)
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// parseRecord reads one line of /records/votes (listline.ParseIndexed):
// "<index> <vote line>" or "<index> <retraction>". Like the list parsers
// it accepts one spelling only.
func parseRecord(s string) (record, error) {
	index, r, err := listline.ParseIndexed(s)
	if err != nil {
		return record{}, err
	}
	if r.Vote == nil {
		return record{index: index, retract: r.Retraction}, nil
	}
	return record{index: index, vote: r.Vote, line: r.Vote.Line()}, nil
}

// fetchVoters asks for one page of an instance's voter table, after the
// mandate after (nil: from the start). The mandates must come in
// increasing order, all after after: scanVoters relies on it.
func (c *recordsClient) fetchVoters(ctx context.Context, base string, after *listline.Mandate) ([]listline.Voter, error) {
	var a string
	if after != nil {
		a = base64.RawURLEncoding.EncodeToString(after[:])
	}
	body, _, err := c.get(ctx, base, "/records/voters?after="+a+"&limit="+strconv.Itoa(c.pageSize))
	if err != nil {
		return nil, err
	}
	ls, err := splitLines(body)
	if err != nil {
		return nil, err
	}
	voters := make([]listline.Voter, 0, len(ls))
	prev := after
	for j, l := range ls {
		v, err := listline.ParseVoter(l)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", j+1, err)
		}
		m := v.Mandate()
		if prev != nil && bytes.Compare(m[:], prev[:]) <= 0 {
			return nil, fmt.Errorf("line %d: mandates out of order", j+1)
		}
		prev = &m
		voters = append(voters, v)
	}
	return voters, nil
}

// errStatus is a collector's answer other than 200 (and 410 to a voter
// cursor).
type errStatus int

func (e errStatus) Error() string { return fmt.Sprintf("status %d", int(e)) }

// errCursorGone is a collector's 410 to a voter cursor it does not know.
var errCursorGone = errors.New("voter cursor unknown to the collector")

// fetchNewVoters asks for the voters added since cursor (empty: none, and
// a new cursor) and returns them with the cursor to ask with next.
func (c *recordsClient) fetchNewVoters(ctx context.Context, base, cursor string) ([]listline.Voter, string, error) {
	body, h, err := c.get(ctx, base, "/records/voters?since="+url.QueryEscape(cursor))
	if err != nil {
		return nil, "", err
	}
	next := h.Get("Next")
	if next == "" || len(next) > 64 {
		return nil, "", fmt.Errorf("header Next %q", next)
	}
	ls, err := splitLines(body)
	if err != nil {
		return nil, "", err
	}
	voters := make([]listline.Voter, 0, len(ls))
	for j, l := range ls {
		v, err := listline.ParseVoter(l)
		if err != nil {
			return nil, "", fmt.Errorf("line %d: %w", j+1, err)
		}
		voters = append(voters, v)
	}
	return voters, next, nil
}

// voterPager walks one instance's voter table in mandate order, a page at
// a time.
type voterPager struct {
	c    *recordsClient
	base string
	page []listline.Voter
	pos  int
	last *listline.Mandate // of the last voter fetched
	done bool              // an empty page came: the end of the table
}

// next returns the next voter, or ok false at the end of the table.
func (vp *voterPager) next(ctx context.Context) (v listline.Voter, ok bool, err error) {
	if vp.pos == len(vp.page) {
		if vp.done {
			return listline.Voter{}, false, nil
		}
		page, err := vp.c.fetchVoters(ctx, vp.base, vp.last)
		if err != nil {
			return listline.Voter{}, false, err
		}
		vp.page, vp.pos = page, 0
		// Only an empty page ends the table: a collector may answer fewer
		// than PageSize voters per page, and a scan that stopped early
		// would be taken for complete.
		if len(page) == 0 {
			vp.done = true
			return listline.Voter{}, false, nil
		}
		m := page[len(page)-1].Mandate()
		vp.last = &m
	}
	vp.pos++
	return vp.page[vp.pos-1], true, nil
}

// scanVoters reads both voter tables of a pair side by side, in mandate
// order, puts in newVoters the mandates both hold that are neither
// published nor queued, and in half those only one holds. A mandate both
// hold is final whatever else the scan finds, so what was found before an
// error still counts.
func (p *Publisher) scanVoters(ctx context.Context, ps *pairState) error {
	ps.half = [2]map[listline.Mandate]listline.Voter{{}, {}}
	pa := &voterPager{c: &p.records, base: ps.urls[0]}
	pb := &voterPager{c: &p.records, base: ps.urls[1]}
	a, okA, errA := pa.next(ctx)
	b, okB, errB := pb.next(ctx)
	lone := func(i int, v listline.Voter) {
		if m := v.Mandate(); !p.voterKnown(m) {
			ps.half[i][m] = v
		}
	}
	for okA || okB {
		var c int
		switch {
		case !okB:
			c = -1
		case !okA:
			c = 1
		default:
			ma, mb := a.Mandate(), b.Mandate()
			c = bytes.Compare(ma[:], mb[:])
		}
		switch {
		case c < 0:
			lone(0, a)
			a, okA, errA = pa.next(ctx)
		case c > 0:
			lone(1, b)
			b, okB, errB = pb.next(ctx)
		default:
			if !p.voterKnown(a.Mandate()) {
				ps.newVoters = append(ps.newVoters, p.oneOf(ps, a, b))
			}
			a, okA, errA = pa.next(ctx)
			b, okB, errB = pb.next(ctx)
		}
	}
	if errA != nil {
		return fmt.Errorf("publisher: pair %d instance %d (%s): voter records: %w", ps.k, 2*ps.k, redact(ps.urls[0]), errA)
	}
	if errB != nil {
		return fmt.Errorf("publisher: pair %d instance %d (%s): voter records: %w", ps.k, 2*ps.k+1, redact(ps.urls[1]), errB)
	}
	return nil
}
