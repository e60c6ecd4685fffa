package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/keyfile"
	"github.com/powvote/powvote/loadtest"
)

func init() {
	register(command{name: "loadtest", summary: "drive votes at a fixed rate and check that every acknowledged one is published once", run: runLoadtest})
}

const loadtestHelp = `
Drives votes at a constant rate against a running platform whose campaign
lives in D, then checks that every acknowledged vote was published exactly
once.

Preparation (not timed): one mandate per vote signed with the campaign's
demo authority key (or --key), a platform stamp per vote fetched through the
edge with the booth code of the moment, the options round-robin from /list,
and every proof of work solved on all cores. Then the timed phase: vote i
is due at start + i/rate (after a linear --ramp), sent by a pool of
--workers senders, and its latency runs from its due time (open loop, no
coordinated omission); a 503 is retried with the same request. Beside the
votes, a GET /list and a GET /stamp per voter at the same rate, measured
apart, and with --adversarial F as many junk requests as F times the votes:
replays, proofs of work below the threshold, decoy stamps and forged voter
stamps, each of which must get its expected answer. A line a second on
stderr shows the progress.

From the start of the timed phase to the end of the settling, it follows
the votes list as a reader with wget -c would: every --follow-interval
(1s; 0 turns it off) it fetches the bytes past those it has with
Range: bytes=N-, and for each new line of an acknowledged vote of the run
records the publication delay, from the acknowledgement to the first
fetch that brought the line. The report gives its p50, p90, p99 and max,
how many acknowledged votes were seen published, and the p99 per minute
of acknowledgement (per 10 s for a run under 2 minutes), to show whether
it stays flat. Before the close the publisher keeps at least a batch of
votes back, so the delay includes waiting for later votes.

Afterwards it sends two batches of filler votes (not counted), which the
publisher keeps back in place of the last measured ones (before the
close it always keeps a batch back), polls the published lists through the
edge until every acknowledged vote is there or --settle passes, and
reports: acknowledged, published_once, lost, pending_batch, altered,
duplicated, list_lengths_equal, latency percentiles and status counts. A
vote is published when its whole line (P-UTC, P-SIG, voter stamp, nonce,
option) stands once in the votes list and its mandate's whole line once in
the voters list, as sent. Exit status 1 when an acknowledged vote is not
published (lost, or pending a batch that the fillers did not fill), a vote
is published otherwise than sent or twice, the lists differ in length, a
valid vote was refused, a receipt does not verify or a junk request got a
wrong answer.

Examples:
  powvote loadtest --edge http://127.0.0.1:8080 --dir ./powvote-data --rate 500 --duration 1m
  powvote loadtest --edge http://127.0.0.1:8080 --dir ./powvote-data --rate 5000 --duration 5m --ramp 30s --json --out report.json
`

func runLoadtest(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "loadtest", "--edge URL --dir D --rate VOTES_PER_S --duration DUR [--json] [flags]", loadtestHelp)
	edgeURL := fs.String("edge", "", "base URL of the edge (required)")
	dir := fs.String("dir", "", "directory that holds the campaign, with its secrets (required)")
	name := fs.String("campaign", "", "campaign name (default: the only one in D)")
	rate := fs.Float64("rate", 0, "votes per second after the ramp (required)")
	duration := fs.Duration("duration", 0, "time at full rate (required)")
	ramp := fs.Duration("ramp", 0, "linear ramp from 0 to --rate before --duration")
	workers := fs.Int("workers", 0, "concurrent vote senders (default rate/2, at least 256; each stream beside the votes gets a quarter)")
	keyPath := fs.String("key", "", "authority key that signs the mandates (default D/CAMPAIGN/"+campaign.DemoAuthorityKey+")")
	adversarial := fs.Float64("adversarial", 0, "junk requests per vote, 0 to 1")
	settle := fs.Duration("settle", loadtest.DefaultSettle, "longest wait for the votes to be published")
	drain := fs.Duration("drain", loadtest.DefaultDrain, "how long after the last due time a vote may still be retried")
	noFill := fs.Bool("no-fill", false, "send no filler votes: missing votes no more than the publisher may keep back (4 x batch size - 2) are reported as pending_batch, and fail the run all the same")
	noBrowse := fs.Bool("no-browse", false, "send no GET /list and GET /stamp beside the votes")
	follow := fs.Duration("follow-interval", loadtest.DefaultFollow, "how often to fetch the new lines of the votes list (Range: bytes=N-) to measure the delay from acknowledgement to publication; 0: off")
	host := fs.String("host", "", "Host header to send, for an edge serving several campaigns (e.g. solar.example.org)")
	asJSON := fs.Bool("json", false, "print the report as one JSON object on stdout")
	out := fs.String("out", "", "also write the JSON report to this file")
	var pids pidList
	fs.Var(&pids, "server-pid", "a process of the platform (repeatable): the report sets its CPU time during the timed phase against the Ed25519 floor (Linux)")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *edgeURL == "" || *dir == "" || *rate == 0 || *duration == 0 {
		return usagef("--edge, --dir, --rate and --duration are required")
	}
	c, err := loadCampaign(*dir, *name)
	if err != nil {
		return err
	}
	kp := *keyPath
	if kp == "" {
		kp = filepath.Join(c.Dir, campaign.DemoAuthorityKey)
	}
	key, err := keyfile.ReadEd25519(kp)
	if err != nil {
		if *keyPath == "" && errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("campaign %s has no demo authority key (%s): give the authority's key with --key", c.Settings.Name, kp)
		}
		return err
	}
	rep, err := loadtest.Run(ctx, loadtest.Config{
		Edge: *edgeURL, Host: *host, Campaign: c, Key: ed25519.PrivateKey(key),
		Schedule:    loadtest.Schedule{Rate: *rate, Ramp: *ramp, Duration: *duration},
		Workers:     *workers,
		Adversarial: *adversarial,
		Settle:      *settle,
		Drain:       *drain,
		NoFill:      *noFill,
		NoBrowse:    *noBrowse,
		Follow:      *follow,
		ServerPIDs:  pids,
		Log:         e.Stderr,
	})
	if err != nil {
		return err
	}
	data, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("loadtest report: %w", err)
	}
	data = append(data, '\n')
	if *out != "" {
		if err := os.WriteFile(*out, data, 0o644); err != nil {
			return fmt.Errorf("loadtest report: %w", err)
		}
	}
	if *asJSON {
		_, err = e.Stdout.Write(data)
	} else {
		err = rep.WriteText(e.Stdout)
	}
	if err != nil {
		return err
	}
	if !rep.OK {
		return fmt.Errorf("%d problem(s), first: %s", len(rep.Errors), rep.Errors[0])
	}
	return nil
}

// pidList is a repeatable --server-pid.
type pidList []int

func (p *pidList) String() string { return fmt.Sprint([]int(*p)) }

func (p *pidList) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return fmt.Errorf("not a process id: %q", s)
	}
	*p = append(*p, n)
	return nil
}
