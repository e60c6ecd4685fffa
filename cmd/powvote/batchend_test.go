package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/client"
	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/mandate"
)

// TestBatchesAcrossTheEnd runs the platform as separate processes for a
// campaign that ends a few seconds after they start, and casts votes one
// at a time on both sides of the end, as someone who wants to link the
// two lists would: the votes after the end carry stamps fetched before
// it, so they are valid, and if each were published alone, line k of the
// voters list would be line k of the votes list. No batch in the
// published history is smaller than the batch size, after the end as
// before it, and the publisher keeps at least a batch back and no more
// than two less one. The close comes a minute after the last stamps
// expire, too late for this test; the publisher's
// TestBatchesAroundTheClose covers the last batch.
func TestBatchesAcrossTheEnd(t *testing.T) {
	const batch, before, after = 3, 4, 4
	const interval = 100 * time.Millisecond // the publisher's
	const gap = 4 * interval                // between two votes
	data := filepath.Join(t.TempDir(), "pv")
	end := time.Now().Add(8 * time.Second).Truncate(time.Second)
	options := []string{"Evil Neptune", "Humble Pluto", "Zürich"}
	args := []string{"init", "solar", "--dir", data, "--threshold", "8", "--batch-size", strconv.Itoa(batch),
		"--start", strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10), "--end", strconv.FormatInt(end.Unix(), 10),
		"--max-stamp-age", "1m"}
	for _, o := range options {
		args = append(args, "--option", o)
	}
	mustRun(t, args...)
	c, err := campaign.Load(data, "solar")
	if err != nil {
		t.Fatal(err)
	}
	pass := insiders(t, c)
	urls := startCollectors(t, data, pass, 2)
	pair := urls[0] + "," + urls[1]
	edgeAddr, pubAddr := freeAddr(t), freeAddr(t)
	startProc(t, "edge", "--dir", data, "--listen", edgeAddr, "--pair", pair)
	startProc(t, "publisher", "--dir", data, "--listen", pubAddr, "--pair", pair, "--interval", interval.String())
	edgeURL, pubURL := "http://"+edgeAddr, "http://"+pubAddr

	tokens := strings.Fields(mustRun(t, "mandates", "--key", filepath.Join(data, "solar", campaign.DemoAuthorityKey),
		"--count", strconv.Itoa(before+after), "--format", "tokens"))
	code := strings.TrimSpace(mustRun(t, "booth", "code", "--dir", data))
	if left := time.Until(end); left < before*gap+time.Second {
		t.Fatalf("the platform was up only %v before the end; the votes before it need %v", left, before*gap+time.Second)
	}
	// Every device fetches its stamp and does its work now, and sends its
	// vote at its time: a gap apart, the first ones before the end.
	receipts := make([]*client.Receipt, len(tokens))
	errs := make([]error, len(tokens))
	var wg sync.WaitGroup
	for i, hex := range tokens {
		tok, err := mandate.ParseHex(hex)
		if err != nil {
			t.Fatal(err)
		}
		at := end.Add(time.Duration(i-before) * gap)
		if i >= before {
			at = end.Add(time.Duration(i-before+1) * gap)
		}
		wg.Go(func() {
			hc := &http.Client{Timeout: 30 * time.Second, Transport: sendAt{at}}
			receipts[i], errs[i] = client.Cast(context.Background(),
				client.Vote{Edge: edgeURL, Mandate: tok, BoothCode: code, Say: options[i%len(options)]},
				client.Options{HTTP: hc, Workers: 1})
		})
	}
	wg.Wait()
	ours := make(map[string]bool)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("vote %d: %v", i+1, err)
		}
		ours[receipts[i].Voter] = true
	}

	// The publisher has seen every vote within a round or two of the last
	// one; then, for ten more rounds, the lists keep to the rule.
	total := len(tokens)
	var history []int64
	published := func() int {
		history = nil
		for l := range strings.SplitSeq(strings.TrimSuffix(fetch(t, pubURL+"/solar-history.log"), "\n"), "\n") {
			if l == "" {
				continue
			}
			n, err := strconv.ParseInt(strings.Fields(l)[0], 10, 64)
			if err != nil {
				t.Fatalf("history line %q: %v", l, err)
			}
			history = append(history, n)
		}
		return strings.Count(fetch(t, pubURL+"/solar-vote.log"), "\n")
	}
	eventually(t, "the publisher publishes all but at most two batches less one", func() bool {
		return published() >= total-2*batch+1
	})
	for deadline := time.Now().Add(10 * interval); time.Now().Before(deadline); time.Sleep(interval / 2) {
		n := published()
		prev := int64(0)
		for _, size := range history {
			if size-prev < batch {
				t.Fatalf("the history has a batch of %d lines (%d to %d), fewer than %d: batches end at %v", size-prev, prev, size, batch, history)
			}
			prev = size
		}
		if n > total-batch {
			t.Fatalf("%d of %d votes published before the close: fewer than a batch kept back; batches end at %v", n, total, history)
		}
	}
	votes := strings.Split(strings.TrimSuffix(fetch(t, pubURL+"/solar-vote.log"), "\n"), "\n")
	voters := strings.Count(fetch(t, pubURL+"/solar-auth.log"), "\n")
	if len(history) == 0 || int64(len(votes)) != history[len(history)-1] || voters != len(votes) {
		t.Fatalf("%d votes and %d voters published, batches end at %v", len(votes), voters, history)
	}
	t.Logf("%d votes cast, batches end at %v", total, history)
	seen := make(map[string]bool)
	for _, l := range votes {
		v, err := listline.ParseVote(l)
		if err != nil {
			t.Fatalf("votes list line %q: %v", l, err)
		}
		if !ours[v.Voter] || seen[v.Voter] {
			t.Errorf("votes list line %q: not one of the votes cast, or twice", l)
		}
		seen[v.Voter] = true
	}
}

// sendAt is a voter's device that sends its vote no earlier than at: it
// reads the ballot and fetches its stamp at once, like a device whose
// voter stood in the booth before the end and sent the vote after it.
type sendAt struct{ at time.Time }

func (s sendAt) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Path != "/list" && req.URL.Path != "/stamp" {
		wait := time.NewTimer(time.Until(s.at))
		defer wait.Stop()
		select {
		case <-wait.C:
		case <-req.Context().Done():
			return nil, fmt.Errorf("held until %v: %w", s.at, req.Context().Err())
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}
