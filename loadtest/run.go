package loadtest

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/client"
	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/wire"
)

// Config is one load test.
type Config struct {
	Edge     string             // base URL of the edge
	Host     string             // Host header to send; "" for the URL's own
	Campaign *campaign.Campaign // with its secrets: the booth codes need the TOTP seed
	Key      ed25519.PrivateKey // authority key that signs the mandates
	Schedule Schedule           // the votes' timing

	Workers     int           // vote senders; 0: Rate/2, at least 256
	Adversarial float64       // junk requests per vote, 0 to 1
	Settle      time.Duration // longest wait for publication; 0: 2 minutes
	Drain       time.Duration // how long after the last due time votes may still be retried; 0: 30 s
	NoFill      bool          // send no filler votes after the timed phase
	NoBrowse    bool          // no GET /list and GET /stamp beside the votes
	Follow      time.Duration // how often to look at the votes list for the publication delay (follower); 0: not followed
	ServerPIDs  []int         // the platform's processes, whose CPU time the report sets against the Ed25519 floor (Linux)
	Log         io.Writer     // progress and the live line; nil: discarded
}

// Defaults.
const (
	MinWorkers    = 256
	DefaultSettle = 2 * time.Minute
	DefaultDrain  = 30 * time.Second
)

// stampMargin is kept between the oldest stamp's expiry and the end of the
// drain: clocks of the edge, the collectors and this machine differ a
// little, and a stamp a second too old is refused.
const stampMargin = 10 * time.Second

// junkItem is one junk request.
type junkItem struct {
	kind   uint8
	target int32 // replay: the vote sent again
	p      prepared
}

// signPubOf returns the UTC-SIGN public key of sec, nil when sec holds
// neither half.
func signPubOf(sec *campaign.Secrets) ed25519.PublicKey {
	switch {
	case sec.UTCSignPub != nil:
		return sec.UTCSignPub
	case sec.UTCSign != nil:
		return sec.UTCSign.Public().(ed25519.PublicKey)
	}
	return nil
}

// runner holds one run's state.
type runner struct {
	cfg        Config
	log        io.Writer
	edge       *edgeClient
	options    []string
	threshold  int
	name       string // campaign name as Receipt-Sig signs it
	receiptPub ed25519.PublicKey
	seed       []byte
	// signPub tells the genuine stamps fetched for votes from decoys;
	// decoys counts the decoys fetched again (fetchStamp).
	signPub ed25519.PublicKey
	decoys  atomic.Int64

	votes   []prepared
	fillers []prepared
	junk    []junkItem

	codes    []uint16 // final answer per vote; 0: none
	ackAt    []int64  // per vote: unix nanoseconds its 2xx arrived; 0: none
	replayed map[int32]bool
	sigMu    sync.Mutex
	sigs     map[int32]string // Receipt-Sig of replayed votes
	junkCode []uint16
	junkSig  []string

	votesRec, listRec, stampRec, junkRec *recorder
	started                              atomic.Int64 // votes sent at least once
	lastAck                              atomic.Int64 // unix nanoseconds
	receiptErrs                          atomic.Int64
	firstReceiptErr                      atomic.Pointer[string]
	badBrowse                            atomic.Int64 // /list or /stamp answers without their headers
}

func (c *Config) defaults() {
	if c.Workers == 0 {
		// Enough senders to keep the offered rate while answers take
		// half a second; beyond that the schedule slips, and the
		// latencies, counted from the schedule, show it.
		c.Workers = max(MinWorkers, int(c.Schedule.Rate/2))
	}
	if c.Settle == 0 {
		c.Settle = DefaultSettle
	}
	if c.Drain == 0 {
		c.Drain = DefaultDrain
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
}

func (c *Config) check() error {
	s := c.Schedule
	switch {
	case c.Campaign == nil || c.Campaign.Secrets == nil:
		return errors.New("loadtest: no campaign")
	case len(c.Key) != ed25519.PrivateKeySize:
		return errors.New("loadtest: no authority key")
	case !(s.Rate > 0) || math.IsInf(s.Rate, 0):
		return fmt.Errorf("loadtest: rate %v: want a positive number", s.Rate)
	case s.Duration <= 0 || s.Ramp < 0:
		return fmt.Errorf("loadtest: duration %v and ramp %v: want a positive duration and a ramp of 0 or more", s.Duration, s.Ramp)
	case s.Count() == 0:
		return errors.New("loadtest: the schedule holds no vote: raise the rate or the duration")
	case c.Workers < 1:
		return fmt.Errorf("loadtest: %d workers: want at least 1", c.Workers)
	case !(c.Adversarial >= 0 && c.Adversarial <= 1):
		return fmt.Errorf("loadtest: adversarial fraction %v: want 0 to 1", c.Adversarial)
	case c.Settle < 0 || c.Drain < 0 || c.Follow < 0:
		return errors.New("loadtest: negative settle, drain or follow time")
	}
	pub := c.Key.Public().(ed25519.PublicKey)
	for _, a := range c.Campaign.Settings.Authorities {
		if a.Equal(pub) {
			return nil
		}
	}
	return fmt.Errorf("loadtest: campaign %s does not accept mandates of the given authority key (every vote would get 484)", c.Campaign.Settings.Name)
}

// Run prepares the votes, runs the timed phase, waits for publication and
// returns the report. An error means the test could not run; a run that
// found loss returns a report whose OK is false.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.defaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	set := cfg.Campaign.Settings
	s := cfg.Schedule
	if total := s.Last() + cfg.Drain + stampMargin; total >= set.MaxStampAge {
		return nil, fmt.Errorf("loadtest: ramp, duration and drain take %v, but a stamp lives only %v (campaign's max stamp age): shorten the run", total, set.MaxStampAge)
	}
	if time.Now().Add(s.Last()).After(set.End) {
		return nil, fmt.Errorf("loadtest: campaign %s ends at %v, before the run would", set.Name, set.End)
	}
	conns := cfg.Workers + 3*browseWorkers(cfg.Workers) + 16
	edge, err := newEdgeClient(cfg.Edge, cfg.Host, conns)
	if err != nil {
		return nil, err
	}
	r := &runner{
		cfg: cfg, log: cfg.Log, edge: edge, seed: cfg.Campaign.Secrets.TOTPSeed,
		receiptPub: cfg.Campaign.Secrets.ReceiptKey.Public().(ed25519.PublicKey),
		signPub:    signPubOf(cfg.Campaign.Secrets),
		votesRec:   newRecorder(), listRec: newRecorder(), stampRec: newRecorder(), junkRec: newRecorder(),
	}
	prepStart := time.Now()
	if err := r.prepare(ctx); err != nil {
		return nil, err
	}
	prepDur := time.Since(prepStart)

	// The oldest stamp must outlive the run.
	oldest := time.Unix(r.oldestStamp(), 0)
	start := time.Now().Add(100 * time.Millisecond)
	if expiry := oldest.Add(set.MaxStampAge); start.Add(s.Last() + cfg.Drain + stampMargin).After(expiry) {
		return nil, fmt.Errorf("loadtest: preparation took %v; the first stamps expire at %v (max stamp age %v), before the run and its drain would end: lower --rate or --duration, or raise the campaign's max_stamp_age",
			prepDur.Round(time.Second), expiry.Format(time.RFC3339), set.MaxStampAge)
	}
	fmt.Fprintf(r.log, "prepared %d votes, %d fillers and %d junk requests in %v (%d decoys for valid booth codes fetched again); sending at %g votes/s for %v (ramp %v)\n",
		len(r.votes), len(r.fillers), len(r.junk), prepDur.Round(time.Millisecond), r.decoys.Load(), s.Rate, s.Duration, s.Ramp)

	self := []int{os.Getpid()}
	cpu0, err := procCPU(cfg.ServerPIDs)
	if err != nil {
		return nil, err
	}
	own0, err := procCPU(self)
	if err != nil {
		return nil, err
	}
	fol, stopFollow := r.follow(ctx)
	defer stopFollow()
	r.timed(ctx, start)
	cpu1, err := procCPU(cfg.ServerPIDs)
	if err != nil {
		return nil, err
	}
	own1, err := procCPU(self)
	if err != nil {
		return nil, err
	}
	rep := r.report(start, prepDur)
	rep.CPU = cpuReport(cpu1-cpu0, own1-own0, rep.Acknowledged)

	// The first round of fillers now; the second only if the lists then
	// stop growing with acknowledged votes missing (see fillerFirst).
	round := min(len(r.fillers), fillerFirst*set.BatchSize)
	fillAcked := r.sendFillers(ctx, r.fillers[:round])
	rep.Fillers, rep.FillersAcknowledged = round, fillAcked
	allowance := pendingAllowance(set.BatchSize, round, fillAcked)
	var refill func() (acked, last bool)
	if allowance == 0 {
		next := round
		refill = func() (bool, bool) {
			end := min(len(r.fillers), next+set.BatchSize)
			n := r.sendFillers(ctx, r.fillers[next:end])
			rep.Fillers += end - next
			rep.FillersAcknowledged += n
			acked := n == end-next
			next = end
			return acked, next >= len(r.fillers)
		}
	}
	acked, unacked := r.acked()
	lc, settled, err := r.settle(ctx, acked, unacked, allowance, refill)
	if err != nil {
		return nil, err
	}
	rep.setLists(lc, settled)
	if fol != nil {
		stopFollow()
		rep.setPublication(r.publication(fol, start))
	}
	rep.finalize()
	return rep, nil
}

// browseWorkers is the number of senders for each of the streams beside
// the votes.
func browseWorkers(voteWorkers int) int { return max(16, voteWorkers/4) }

func (r *runner) prepare(ctx context.Context) error {
	hc := &http.Client{Timeout: 30 * time.Second, Transport: hostTransport{r.cfg.Host, http.DefaultTransport}}
	ballot, err := client.GetBallot(ctx, hc, r.edge.base)
	if err != nil {
		return fmt.Errorf("loadtest: %w", err)
	}
	set := r.cfg.Campaign.Settings
	r.options, r.name = ballot.Options, ballot.Campaign
	if r.name == "" {
		r.name = set.Name
	}
	if r.name != set.Name {
		return fmt.Errorf("loadtest: the edge serves campaign %q, the directory holds %q (set --host for an edge with several)", r.name, set.Name)
	}
	r.threshold = ballot.Threshold
	if r.threshold == 0 {
		r.threshold = set.Threshold
	}
	n := r.cfg.Schedule.Count()
	nFill := 0
	if !r.cfg.NoFill && set.BatchSize > 1 {
		nFill = (fillerFirst + fillerSecond) * set.BatchSize
	}
	junkSched := r.junkSchedule()
	nJunk := 0
	if r.cfg.Adversarial > 0 {
		nJunk = junkSched.Count()
	}
	r.votes = make([]prepared, n)
	r.fillers = make([]prepared, nFill)
	r.junk = make([]junkItem, nJunk)
	r.codes = make([]uint16, n)
	r.ackAt = make([]int64, n)
	r.junkCode = make([]uint16, nJunk)
	r.junkSig = make([]string, nJunk)
	r.replayed, r.sigs = map[int32]bool{}, map[int32]string{}
	// Replays go to the latest vote due at least a second before them;
	// the very first junk requests, with none that old, are of the other
	// kinds.
	for j := range r.junk {
		k := uint8(j % junkKinds)
		if k == junkReplay {
			at := junkSched.At(j) - time.Second
			t := r.lastVoteBy(at)
			if t < 0 {
				k = junkBadPow
			} else {
				r.junk[j].target = int32(t)
				r.replayed[int32(t)] = true
			}
		}
		r.junk[j].kind = k
	}
	// Everything but the replays needs a mandate, a stamp and work: the
	// votes, the fillers, then the junk. kinds says which junk an item
	// is, -1 for a vote or a filler.
	var items []*prepared
	var kinds []int8
	for i := range r.votes {
		items, kinds = append(items, &r.votes[i]), append(kinds, -1)
	}
	for i := range r.fillers {
		items, kinds = append(items, &r.fillers[i]), append(kinds, -1)
	}
	for j := range r.junk {
		if k := r.junk[j].kind; k != junkReplay {
			items, kinds = append(items, &r.junk[j].p), append(kinds, int8(k))
		}
	}

	prog := newProgress(r.log, "mandates", len(items))
	toks, err := issue(ctx, r.cfg.Key, len(items), prog)
	if err != nil {
		return fmt.Errorf("loadtest: mandates: %w", err)
	}
	prog.finish()
	for i, p := range items {
		p.tok = toks[i]
		p.opt = uint8(i % len(r.options))
	}
	toks = nil

	prog = newProgress(r.log, "stamps", len(items))
	deadline := time.Now().Add(r.cfg.Campaign.Settings.MaxStampAge / 2)
	err = parallel(ctx, len(items), 32, prog, func(i int) error {
		now := time.Now()
		digits, err := boothDigits(r.seed, now)
		if kinds[i] == junkDecoy {
			digits, err = wrongDigits(r.seed, now)
		}
		if err != nil {
			return err
		}
		return r.fetchStamp(deadline, digits, kinds[i] != junkDecoy, items[i])
	})
	if err != nil {
		return err
	}
	prog.finish()

	prog = newProgress(r.log, fmt.Sprintf("proof of work (%d bits)", r.threshold), len(items))
	err = parallel(ctx, len(items), runtime.GOMAXPROCS(0), prog, func(i int) error {
		p := items[i]
		switch kinds[i] {
		case junkBadPow:
			return r.weaken(p)
		case junkForged:
			forge(&p.voter)
		}
		return r.solve(ctx, p)
	})
	if err != nil {
		return err
	}
	prog.finish()
	return nil
}

// junkSchedule spreads the junk over the run like the votes.
func (r *runner) junkSchedule() Schedule {
	s := r.cfg.Schedule
	s.Rate *= r.cfg.Adversarial
	return s
}

// lastVoteBy returns the index of the last vote due at or before at, or -1.
func (r *runner) lastVoteBy(at time.Duration) int {
	s := r.cfg.Schedule
	if at < 0 {
		return -1
	}
	lo, hi := 0, s.Count() // first index due after at
	for lo < hi {
		m := (lo + hi) / 2
		if s.At(m) <= at {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo - 1
}

func jitter(d time.Duration) time.Duration { return d/2 + rand.N(d) }

// cast sends a vote until it gets an answer other than 503 or deadline
// passes, recording every answer in rec, and returns the final code (0:
// none) and, for a 2xx, the Receipt-Sig. A 2xx whose receipt does not carry
// the vote, or whose signature does not verify, counts as a receipt error.
func (r *runner) cast(p *prepared, deadline time.Time, rec *recorder) (int, string) {
	putc := putcOf(p)
	psig := b64(p.psig[:])
	say := r.options[p.opt]
	path := "/" + hexString(p.nonceBytes())
	hdr := func(h *fasthttp.RequestHeader) {
		h.Set("Auth-Pkey", b64(p.tok.AuthPkey[:]))
		h.Set("Auth-Sig", b64(p.tok.AuthSig[:]))
		h.Set("Auth-Id", b64(p.tok.AuthID[:]))
		h.Set("P-UTC", putc)
		h.Set("P-SIG", psig)
		h.Set("Voter", string(p.voter[:]))
		h.Set("Say", wire.EncodeOption(say))
	}
	var lines []string
	var sig string
	read := func(resp *fasthttp.Response) {
		if resp.StatusCode()/100 != 2 {
			return
		}
		lines = lines[:0]
		for i := range r.options {
			lines = append(lines, string(resp.Header.Peek(fmt.Sprintf("Receipt%02d", i+1))))
		}
		sig = string(resp.Header.Peek("Receipt-Sig"))
	}
	wait := 50 * time.Millisecond
	for {
		code, _ := r.edge.get(deadline, path, hdr, read)
		rec.answer(code)
		if code != 0 && code != fasthttp.StatusServiceUnavailable {
			if code/100 == 2 {
				r.checkReceipt(p, say, lines, sig)
			}
			return code, sig
		}
		if time.Now().Add(wait).After(deadline) {
			return 0, ""
		}
		time.Sleep(jitter(wait))
		wait = min(2*wait, 2*time.Second)
	}
}

func (r *runner) checkReceipt(p *prepared, say string, lines []string, sig string) {
	var err error
	if want := string(p.voter[:]) + " " + wire.EncodeOption(say); lines[p.opt] != want {
		err = fmt.Errorf("receipt has %q against the chosen option, want %q", lines[p.opt], want)
	} else if err = wire.VerifyReceipt(r.receiptPub, r.name, lines, sig); err != nil {
		err = fmt.Errorf("receipt: %w", err)
	}
	if err != nil {
		r.receiptErrs.Add(1)
		msg := err.Error()
		r.firstReceiptErr.CompareAndSwap(nil, &msg)
	}
}

// timed runs the votes and, beside them, the browsing and the junk, and
// prints the live line every second.
func (r *runner) timed(ctx context.Context, start time.Time) {
	s := r.cfg.Schedule
	deadline := start.Add(s.Last() + r.cfg.Drain)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var wg sync.WaitGroup
	bw := browseWorkers(r.cfg.Workers)
	wg.Go(func() {
		openLoop(ctx, start, len(r.votes), s.At, r.cfg.Workers, func(ctx context.Context, i int, due time.Time) {
			r.started.Add(1)
			code, sig := r.cast(&r.votes[i], deadline, r.votesRec)
			r.codes[i] = uint16(code)
			ok := code/100 == 2
			now := time.Now()
			r.votesRec.finish(ok, now.Sub(due))
			if ok {
				r.ackAt[i] = now.UnixNano()
				storeMax(&r.lastAck, r.ackAt[i])
			}
			if r.replayed[int32(i)] {
				r.sigMu.Lock()
				r.sigs[int32(i)] = sig
				r.sigMu.Unlock()
			}
		})
	})
	if !r.cfg.NoBrowse {
		wg.Go(func() {
			openLoop(ctx, start, len(r.votes), s.At, bw, func(ctx context.Context, i int, due time.Time) {
				ok := false
				code, _ := r.edge.get(deadline, "/list", nil, func(resp *fasthttp.Response) {
					ok = len(resp.Header.Peek("Say01")) > 0
				})
				r.listRec.answer(code)
				r.browsed(code, ok, r.listRec, due)
			})
		})
		wg.Go(func() {
			openLoop(ctx, start, len(r.votes), s.At, bw, func(ctx context.Context, i int, due time.Time) {
				digits, err := boothDigits(r.seed, time.Now())
				if err != nil {
					r.stampRec.answer(0)
					r.stampRec.finish(false, time.Since(due))
					return
				}
				ok := false
				code, _ := r.edge.get(deadline, "/stamp", func(h *fasthttp.RequestHeader) { h.Set("TOTP", digits) }, func(resp *fasthttp.Response) {
					ok = len(resp.Header.Peek("P-UTC")) > 0 && len(resp.Header.Peek("P-SIG")) > 0 && len(resp.Header.Peek("Voter")) > 0
				})
				r.stampRec.answer(code)
				r.browsed(code, ok, r.stampRec, due)
			})
		})
	}
	if len(r.junk) > 0 {
		js := r.junkSchedule()
		wg.Go(func() {
			openLoop(ctx, start, len(r.junk), js.At, bw, func(ctx context.Context, j int, due time.Time) {
				it := &r.junk[j]
				p := &it.p
				if it.kind == junkReplay {
					p = &r.votes[it.target]
				}
				code, sig := r.cast(p, deadline, r.junkRec)
				r.junkCode[j], r.junkSig[j] = uint16(code), sig
				r.junkRec.finish(code != 0, time.Since(due))
			})
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	r.live(start, done)
}

func (r *runner) browsed(code int, headersOK bool, rec *recorder, due time.Time) {
	ok := code == fasthttp.StatusNoContent || code == fasthttp.StatusOK
	if ok && !headersOK {
		r.badBrowse.Add(1)
		ok = false
	}
	rec.finish(ok, time.Since(due))
}

func storeMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// live prints a line a second until done is closed.
func (r *runner) live(start time.Time, done <-chan struct{}) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-done:
			return
		case now := <-tick.C:
			w := r.votesRec.takeWindow()
			status, _, good, _ := r.votesRec.snapshot()
			errs := map[string]int{}
			for k, v := range status {
				if len(k) != 3 || k[0] != '2' {
					errs[k] = v
				}
			}
			rate := float64(w.ok) / now.Sub(last).Seconds()
			last = now
			fmt.Fprintf(r.log, "%5.0fs sent %d acked %d rate %.0f/s p50 %s p99 %s errors %s\n",
				now.Sub(start).Seconds(), r.started.Load(), good, rate, fmtDur(w.p50), fmtDur(w.p99), formatCodes(errs))
		}
	}
}

func fmtDur(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
}

// Filler votes, in batches of the campaign's batch size. Until the close
// the publisher keeps at least a batch of votes and of voters back, and
// publishes only when that leaves at least a batch to publish
// (docs/PUBLISHING.md): the run's votes are all published once a batch of
// fillers has become final after the last of them and two batches are
// ready. The first round of fillers, two batches, makes that so whatever
// the run left waiting, and is what the publisher then keeps back. But
// the publisher takes votes and voters from two queues, sorts each
// round's newly final votes by voter stamp and voters by auth-sig, and a
// voter can become final a round before its vote record: an acknowledged
// vote or voter that became final in the same round as fillers can stand
// among those kept back. A further round, one batch, sent once the lists
// have stopped growing, becomes final in a later round and pushes them
// out. A voter whose link its twin had not confirmed yet when its store
// moved the others into the voter table waits, pending, for the next
// move, which the next batch of votes brings: it then becomes final with
// that batch and may again stand among those kept back. So up to
// fillerSecond rounds go, one at a time, each once the lists have stopped
// growing with votes missing.
const (
	fillerFirst  = 2 // batches of fillers sent after the timed phase
	fillerSecond = 3 // batches sent, one at a time, while the lists stop growing with votes missing
)

// heldBack is how many acknowledged votes the publisher may keep
// unpublished until the close, with this batch size: up to two batches
// less one in each of its two queues, votes and voters, which need not
// hold the same mandates. With a batch size of 1 it keeps nothing back.
func heldBack(batch int) int {
	if batch <= 1 {
		return 0
	}
	return 2 * (2*batch - 1)
}

// sendFillers casts filler votes and returns how many were acknowledged.
func (r *runner) sendFillers(ctx context.Context, fillers []prepared) int {
	if len(fillers) == 0 {
		return 0
	}
	var n atomic.Int64
	rec := newRecorder()
	deadline := time.Now().Add(r.cfg.Drain)
	openLoop(ctx, time.Now(), len(fillers), func(int) time.Duration { return 0 }, 32, func(ctx context.Context, i int, due time.Time) {
		if code, _ := r.cast(&fillers[i], deadline, rec); code/100 == 2 {
			n.Add(1)
		}
	})
	fmt.Fprintf(r.log, "sent %d filler votes to push the last votes into a batch: %d acknowledged\n", len(fillers), n.Load())
	return int(n.Load())
}

// acked lists the acknowledged votes and the others, as the published
// lists must show them.
func (r *runner) acked() (acked, unacked []Sent) {
	for i, c := range r.codes {
		if c/100 == 2 {
			acked = append(acked, r.sent(&r.votes[i]))
		} else {
			unacked = append(unacked, r.sent(&r.votes[i]))
		}
	}
	return acked, unacked
}

// sent is p as the lists must show it: its vote line holds P-UTC as the
// edge wrote it, the option as the ballot spells it in UTF-8, and the
// nonce sent; its voter line the mandate's three parts.
func (r *runner) sent(p *prepared) Sent {
	return Sent{
		Vote: listline.Vote{
			PUTC:   putcOf(p),
			PSig:   p.psig,
			Voter:  string(p.voter[:]),
			Nonce:  p.nonceBytes(),
			Option: r.options[p.opt],
		},
		Voter: listline.Voter{Pkey: p.tok.AuthPkey, Sig: p.tok.AuthSig, ID: p.tok.AuthID},
	}
}
