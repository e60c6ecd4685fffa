package publisher

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
	"golang.org/x/mod/sumdb/note"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/internal/connlimit"
	"github.com/powvote/powvote/internal/mtls"
	"github.com/powvote/powvote/internal/publictls"
	"github.com/powvote/powvote/published"
)

// Config is what a publisher needs. Zero values mean the defaults named on
// each field.
type Config struct {
	Campaign string      // the campaign's name; it names the lists
	Pairs    [][2]string // base URLs of the collecting instances, pair k = instances 2k and 2k+1; fixed for the campaign's life
	Link     *mtls.Link  // the publisher's end of the internal links (campaign.Campaign.Link)
	Dir      string      // where the lists and the state file live; created if missing

	// What the campaign's settings and secrets say.
	BatchSize int       // the fewest lines a batch adds to each list, the last at the close included (see batchLen); 0 means 1
	End       time.Time // the campaign's end: Run closes it, with its last batch, CloseDelay later; zero: only Finish does
	Options   []string  // the ballot, in order: the history counts votes per option; nil: the history holds sizes and times only
	LogKey    string    // note signer key (named campaign.LogKeyName(Campaign)) that signs the checkpoints; "": no logs, checkpoints or history are kept

	// CloseDelay is how long after End the publisher waits before it
	// closes the campaign on its own (Finish): a collector accepts a vote
	// stamped before End for as long as a stamp stays valid, and the twins
	// need a moment to exchange it. 0: close at End. Ignored if End is zero.
	CloseDelay time.Duration
	// Settings is the campaign's public settings file, as
	// campaign.Settings.Marshal writes it, served as /C-settings.yaml and
	// put in the archive. With LogKey, every checkpoint signed commits to
	// these exact bytes (the settings line of audit.CheckpointText), so
	// they must not change during the campaign: New refuses to start when
	// the latest checkpoint commits to other settings. nil: not served,
	// and the checkpoints carry no settings line, which a strict audit
	// refuses.
	Settings []byte
	// The public keys that stay secret during the campaign, published in
	// /C-keys.txt once it is closed: UTC-SIGN tells genuine stamps from
	// decoys, UTC-HOLE signs the decoys, the receipt key checks receipts.
	// The publisher never holds the private keys. A nil key has no line.
	UTCSignPub, UTCHolePub, ReceiptPub ed25519.PublicKey

	Interval       time.Duration // between the starts of two rounds in Run; default 2s
	PageSize       int           // records asked per request; default 10000, the most a collector answers (a larger value only slows catching up)
	RequestTimeout time.Duration // one request to a collector, connection to last byte; default 30s

	Logger *slog.Logger     // nil: discard
	Clock  func() time.Time // Last-Modified and the once-a-second growth; nil: time.Now
	// Metrics receives the publisher's metrics (metrics.go); nil: a set
	// of its own that nobody reads.
	Metrics *metrics.Set

	// Server limits for Run. WriteTimeout bounds a whole answer, so a
	// download of a whole list must fit in it; wget -c resumes the rest.
	ReadTimeout  time.Duration // default 10s
	WriteTimeout time.Duration // default 30m
	IdleTimeout  time.Duration // default 120s
	MaxConns     int           // concurrent connections; default 4096
	// MaxConnsPerIP and IdleCloseAt are the edge's (edge.Config): per
	// IPv4 address or IPv6 /64, default 512, negative for no limit; the
	// share of MaxConns from which a new connection closes the
	// longest-idle one, default 90 percent, negative for never (serve.go).
	MaxConnsPerIP int
	IdleCloseAt   int
	// TLS, when not nil, has Run serve HTTPS with it (package
	// publictls: publictls.Cert.Config), above the connection limits,
	// which count TCP connections by their addresses; ReadTimeout also
	// bounds the handshake. Nil: plain HTTP.
	TLS *tls.Config
}

func (c *Config) withDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.Interval, 2*time.Second)
	def(&c.RequestTimeout, 30*time.Second)
	def(&c.ReadTimeout, 10*time.Second)
	def(&c.WriteTimeout, 30*time.Minute)
	def(&c.IdleTimeout, 120*time.Second)
	if c.PageSize == 0 {
		c.PageSize = 10000
	}
	if c.BatchSize == 0 {
		c.BatchSize = 1
	}
	if c.MaxConns == 0 {
		c.MaxConns = 4096
	}
	if c.MaxConnsPerIP == 0 {
		c.MaxConnsPerIP = connlimit.DefaultPerAddr
	}
	if c.IdleCloseAt == 0 {
		c.IdleCloseAt = connlimit.DefaultIdlePercent
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Metrics == nil {
		c.Metrics = metrics.NewSet()
	}
}

// validate refuses a configuration that cannot work, naming the field.
func (c *Config) validate() error {
	if err := campaign.ValidateName(c.Campaign); err != nil {
		return fmt.Errorf("publisher: Campaign: %w", err)
	}
	if len(c.Pairs) == 0 {
		return errors.New("publisher: Pairs: no pair of collectors")
	}
	seen := make(map[string]string)
	for k, pair := range c.Pairs {
		for i, u := range pair {
			name := fmt.Sprintf("Pairs[%d][%d]", k, i)
			p, err := url.Parse(u)
			if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
				return fmt.Errorf("publisher: %s: %q is not an http(s) base URL", name, redact(u))
			}
			if other, ok := seen[u]; ok {
				return fmt.Errorf("publisher: %s: %q is also %s; every instance has its own URL", name, redact(u), other)
			}
			seen[u] = name
		}
	}
	if c.Link == nil {
		return errors.New("publisher: Link: no credentials for the internal links")
	}
	for _, pair := range c.Pairs {
		for _, u := range pair {
			if err := c.Link.CheckURL(u); err != nil {
				return fmt.Errorf("publisher: %w", err)
			}
		}
	}
	if c.Dir == "" {
		return errors.New("publisher: Dir: no directory for the lists")
	}
	switch {
	case c.Interval < 0:
		return fmt.Errorf("publisher: Interval: %v is negative", c.Interval)
	case c.PageSize < 0:
		return fmt.Errorf("publisher: PageSize: %d is negative", c.PageSize)
	case c.RequestTimeout < 0:
		return fmt.Errorf("publisher: RequestTimeout: %v is negative", c.RequestTimeout)
	case c.BatchSize < 0:
		return fmt.Errorf("publisher: BatchSize: %d is negative", c.BatchSize)
	case c.CloseDelay < 0:
		return fmt.Errorf("publisher: CloseDelay: %v is negative", c.CloseDelay)
	case c.MaxConns < 0:
		return fmt.Errorf("publisher: MaxConns: %d is negative", c.MaxConns)
	case c.IdleCloseAt > 100:
		return fmt.Errorf("publisher: IdleCloseAt: %d is over 100 percent", c.IdleCloseAt)
	}
	for _, k := range []struct {
		name string
		key  ed25519.PublicKey
	}{{"UTCSignPub", c.UTCSignPub}, {"UTCHolePub", c.UTCHolePub}, {"ReceiptPub", c.ReceiptPub}} {
		if k.key != nil && len(k.key) != ed25519.PublicKeySize {
			return fmt.Errorf("publisher: %s: %d bytes, want %d", k.name, len(k.key), ed25519.PublicKeySize)
		}
	}
	seenOption := make(map[string]int)
	for i, o := range c.Options {
		if j, ok := seenOption[o]; ok {
			return fmt.Errorf("publisher: Options[%d]: %q is also Options[%d]", i, o, j)
		}
		seenOption[o] = i
	}
	if c.LogKey != "" {
		s, err := note.NewSigner(c.LogKey)
		if err != nil {
			return fmt.Errorf("publisher: LogKey: %w", err)
		}
		if want := campaign.LogKeyName(c.Campaign); s.Name() != want {
			return fmt.Errorf("publisher: LogKey: key name %q, want %q", s.Name(), want)
		}
		if _, err := verifierKey(c.LogKey); err != nil {
			return fmt.Errorf("publisher: LogKey: %w", err)
		}
	}
	return nil
}

var (
	// ErrFailed is wrapped by PullOnce's error once a list or the state
	// could not be written: the publisher publishes nothing more until it
	// is restarted, which cuts what was not committed.
	ErrFailed = errors.New("publisher: a write failed; restart to recover")
	// ErrClosed is returned by PullOnce after Close.
	ErrClosed = errors.New("publisher: closed")
	// ErrCorrupt is wrapped when the files in Dir contradict each other at
	// start: a list shorter than what was published, a line that does not
	// parse, a line count that differs from the state.
	ErrCorrupt = errors.New("publisher: published lists are damaged")
)

// Indexes of the two lists, and of the retracted list after them, in
// arrays of the logs.
const (
	votesList     = 0
	votersList    = 1
	retractedList = 2
)

// Publisher pulls from the collectors, publishes and serves the lists.
type Publisher struct {
	cfg     Config
	log     *slog.Logger
	records recordsClient // reads the collectors' records (pull.go)
	paths   [2]string     // "/C-vote.log", "/C-auth.log" (published.LogName)
	files   [2]*os.File   // the lists, opened read-write: handlers ReadAt below the committed size, rounds WriteAt above it
	state   string        // path of the state file
	options map[string]int

	// The three logs (logs.go): the two lists and the retracted list.
	// Their trees, checkpoints and history are kept when Config.LogKey is
	// set (key non-nil); their tile offsets always.
	key     *logKey
	trees   [3]*treeLog
	history *os.File // C-history.log; written like the lists

	retractedLog // the retracted list (retract.go)

	// What Finish published (close.go), set once the state says closed.
	keysText    []byte   // C-keys.txt
	archive     *os.File // C-archive.tar.gz, opened for reading
	archiveSize int64

	snap atomic.Pointer[snapshot] // what handlers serve; nil once closed

	roundMu  sync.Mutex // held by a whole round and by Close; guards every field below
	st       state      // as committed on disk
	pairs    []*pairState
	closed   bool
	failed   error // set once a write failed (fail stop)
	flushing bool  // the round under way publishes the last batch: whatever is ready (Flush, Finish, the close)

	queue          // what the merge rule found final and the lists hold (queue.go)
	anomalies int  // see Status
	clockBack bool // the clock was behind Modified at the last round; warned once
	closeWait bool // the campaign ended but could not be closed yet; logged once

	counts []int64 // published votes per option, in ballot order

	m pubMetrics // metrics.go
}

// snapshot is the committed part of the lists, as handlers serve it.
type snapshot struct {
	size       [4]int64 // the votes list, the voters list, the retracted list, the history
	modified   time.Time
	etag       [4]string
	lines      [3]int64   // leaves in each log: the two lists, the retracted list
	hashes     [3]int64   // committed stored hashes of each log
	tileStart  [3][]int64 // a prefix of each treeLog.tileStart: never written again
	checkpoint [3][]byte
	closed     *closedFiles // nil while the campaign is open
}

// closedFiles is what a closed campaign serves besides its lists.
type closedFiles struct {
	at      time.Time // the close
	keys    []byte
	archive *os.File // opened for reading, never written again
	size    int64    // of the archive
	etag    string   // of the archive
}

// New checks the configuration, opens or creates the lists and the state
// in cfg.Dir, cuts what a crash left uncommitted and reads the lists back.
// It does not contact the collectors. Call Close when done.
func New(cfg Config) (*Publisher, error) {
	cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("publisher: couldn't create %s: %w", cfg.Dir, err)
	}
	p := &Publisher{
		cfg:          cfg,
		log:          cfg.Logger,
		records:      newRecordsClient(cfg.Link, cfg.RequestTimeout, cfg.PageSize),
		paths:        [2]string{"/" + published.LogName(cfg.Campaign, published.Vote), "/" + published.LogName(cfg.Campaign, published.Auth)},
		state:        filepath.Join(cfg.Dir, cfg.Campaign+"-state.json"),
		queue:        newQueue(),
		retractedLog: retractedLog{retractedVotes: make(map[nonceKey]struct{})},
		options:      make(map[string]int),
		counts:       make([]int64, len(cfg.Options)),
	}
	for i, o := range cfg.Options {
		p.options[o] = i
	}
	for i, l := range logLists {
		p.trees[i] = &treeLog{origin: published.Origin(cfg.Campaign, l)}
	}
	if cfg.LogKey != "" {
		p.key = newLogKey(cfg.LogKey, cfg.Settings) // checked by validate
	}
	if err := p.open(); err != nil {
		p.closeFiles()
		return nil, err
	}
	for k, urls := range cfg.Pairs {
		ps := newPairState(k, urls, p.st.Cursors[k])
		if p.st.Logs != nil {
			ps.logs = p.st.Logs[k]
		}
		p.pairs = append(p.pairs, ps)
	}
	p.snap.Store(p.snapshot())
	p.registerMetrics(cfg.Metrics)
	p.updateGaugesLocked()
	return p, nil
}

// Close releases the lists. Call it after Run has returned; handlers
// still mounted elsewhere answer 503 from then on. It publishes nothing:
// Run closes the campaign once it has ended, and Finish does it at once.
func (p *Publisher) Close() error {
	p.roundMu.Lock()
	defer p.roundMu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	p.snap.Store(nil)
	p.records.client.CloseIdleConnections()
	return p.closeFiles()
}

// closeFiles closes every file New opened.
func (p *Publisher) closeFiles() error {
	var errs []error
	for _, f := range p.files {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	for _, l := range p.trees {
		if l != nil && l.hashes != nil {
			errs = append(errs, l.hashes.f.Close())
		}
	}
	for _, f := range []*os.File{p.history, p.retracted, p.archive} {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	return errors.Join(errs...)
}

// Status is a summary of the publisher's progress.
type Status struct {
	Lines      int64 // lines in each list
	HeldVotes  int   // final votes waiting for voters to publish with
	HeldVoters int   // final voters waiting for votes
	Pending    int   // votes seen on one instance of their pair only, or in conflict
	Anomalies  int   // records that broke the merge rule's premises since New (each logged)
	Closed     bool  // the campaign is closed (Finish): nothing more is published
}

// BytesRead is the number of bytes of answers the publisher has read from
// the collectors since New: what BenchmarkPublisherGrowth (package
// collector) measures per published vote.
func (p *Publisher) BytesRead() int64 { return p.records.read.Load() }

// Status reports the publisher's progress; it waits for a round under way.
func (p *Publisher) Status() Status {
	p.roundMu.Lock()
	defer p.roundMu.Unlock()
	s := Status{Lines: p.st.Lines, HeldVotes: len(p.voteQueue), HeldVoters: len(p.voterQueue), Anomalies: p.anomalies, Closed: p.st.Closed != 0}
	for _, ps := range p.pairs {
		for _, pv := range ps.pending {
			if !pv.queued {
				s.Pending++
			}
		}
		s.Anomalies += ps.anomalies
	}
	return s
}

// Run serves the lists on ln and runs a round every Interval, the first
// at once, until ctx is done; then it shuts the server down gracefully
// (10 s budget) and returns. It returns early if the server fails or a
// round fails with ErrFailed. Collectors that do not answer are logged
// when they stop and start answering, and are not an error.
func (p *Publisher) Run(ctx context.Context, ln net.Listener) error {
	return serveLists(ctx, ln, p.cfg, p.log, p.Handle, p.Loop)
}

// Loop runs a round every Interval, the first at once, until ctx is done
// (then it returns nil) or a round fails with ErrFailed or ErrClosed.
// Run is Loop with the lists served; a process that serves several
// campaigns' lists on one port runs each one's Loop beside a Front.
func (p *Publisher) Loop(ctx context.Context) error {
	// Its files are served (Run, or a Front) while it runs its rounds.
	p.m.serving.Store(true)
	defer p.m.serving.Store(false)
	p.log.Info("publishing", "campaign", p.cfg.Campaign, "pairs", len(p.pairs))
	tick := time.NewTicker(p.cfg.Interval)
	defer tick.Stop()
	for {
		if err := p.PullOnce(ctx); errors.Is(err, ErrFailed) || errors.Is(err, ErrClosed) {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// serveLists serves handler on ln, within cfg's connection limits and
// timeouts, while loop runs; it stops both when ctx is done, the server
// fails or loop returns an error, and returns the first error.
func serveLists(ctx context.Context, ln net.Listener, cfg Config, log *slog.Logger, handler fasthttp.RequestHandler, loop func(context.Context) error) error {
	srv := &fasthttp.Server{
		Handler:            handler,
		Name:               "powvote-publisher",
		ReadTimeout:        cfg.ReadTimeout,
		WriteTimeout:       cfg.WriteTimeout,
		IdleTimeout:        cfg.IdleTimeout,
		ReadBufferSize:     8 << 10,
		MaxRequestBodySize: 1 << 10,          // no endpoint takes a body
		Concurrency:        2 * cfg.MaxConns, // the limits are the listener's (serve.go)
		CloseOnShutdown:    true,
		Logger:             slogPrinter{log},
	}
	lln, err := limitListener(ln, cfg, log)
	if err != nil {
		return err
	}
	if cfg.TLS != nil {
		lln = publictls.Listen(lln, cfg.TLS)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lln) }()
	log.Info("serving the lists", "addr", ln.Addr().String())

	lctx, stop := context.WithCancel(ctx)
	defer stop()
	loopc := make(chan error, 1)
	go func() { loopc <- loop(lctx) }()
	var runErr error
	served := false
	select {
	case runErr = <-loopc:
		loopc = nil
	case err := <-errc:
		served = true
		runErr = fmt.Errorf("publisher: serve: %w", err)
	}
	stop()
	if loopc != nil {
		if err := <-loopc; err != nil && runErr == nil {
			runErr = err
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.ShutdownWithContext(sctx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	// Shutdown does nothing to a Serve that has not registered lln yet
	// (the loop ended at once); closing lln ends that one too.
	lln.Close()
	if !served {
		if err := <-errc; err != nil && runErr == nil {
			runErr = fmt.Errorf("publisher: serve: %w", err)
		}
	}
	return runErr
}

// PullOnce runs one round: it pulls from every collector, merges, and
// publishes what became final. It returns the collectors' errors joined
// (the round publishes what it can without them), or an error wrapping
// ErrFailed if the lists could not be written. Rounds never overlap: a
// call waits for one under way.
func (p *Publisher) PullOnce(ctx context.Context) error {
	p.roundMu.Lock()
	defer p.roundMu.Unlock()
	start := time.Now()
	err := p.roundLocked(ctx)
	p.observeRoundLocked(start, err)
	return err
}

// Flush runs a round that publishes every final vote and voter it can
// pair, however few: the last batch of a campaign. If the lists already
// grew in the current clock second it waits for the next one (until ctx
// is done). It returns what PullOnce would. Finish flushes and then
// closes the campaign. Flush alone publishes what rounds keep back
// (batchLen) without closing: before the end, it leaves nothing kept back
// for the votes that come after it, whose last batch may then be smaller
// than Config.BatchSize. Close does not flush: a publisher stopped in the
// middle of a campaign must keep its batches whole.
func (p *Publisher) Flush(ctx context.Context) error {
	p.roundMu.Lock()
	defer p.roundMu.Unlock()
	start := time.Now()
	err := p.flushLocked(ctx)
	p.observeRoundLocked(start, err)
	return err
}

// flushLocked is Flush with roundMu held.
func (p *Publisher) flushLocked(ctx context.Context) error {
	p.flushing = true
	defer func() { p.flushing = false }()
	err := p.roundLocked(ctx)
	if errors.Is(err, ErrClosed) || errors.Is(err, ErrFailed) || p.st.Closed != 0 {
		return err
	}
	for p.failed == nil && p.ready() > 0 {
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
		if perr := p.publish(); perr != nil {
			p.failed = fmt.Errorf("%w: %w", ErrFailed, perr)
			p.log.Error("publishing stopped", "err", perr)
			return p.failed
		}
	}
	return err
}

// roundLocked is PullOnce with roundMu held. Once the campaign is closed
// it does nothing: nothing is published after the close.
func (p *Publisher) roundLocked(ctx context.Context) error {
	if p.closed {
		return ErrClosed
	}
	if p.failed != nil {
		return p.failed
	}
	if p.st.Closed != 0 {
		return nil
	}
	errs := make([]error, len(p.pairs))
	var wg sync.WaitGroup
	for k, ps := range p.pairs {
		wg.Go(func() { errs[k] = p.pullPair(ctx, ps) })
	}
	wg.Wait()
	p.enqueue()
	err := errors.Join(errs...)
	// Once the campaign has ended, every collector answered and no vote
	// is pending on one instance only, nothing can still become final:
	// this round publishes the last batch, whatever is ready, and closes.
	closing := !p.flushing && err == nil && p.Ended() && p.pendingLocked() == 0
	if closing {
		p.flushing = true
		defer func() { p.flushing = false }()
	}
	if err := p.publish(); err != nil {
		p.failed = fmt.Errorf("%w: %w", ErrFailed, err)
		p.log.Error("publishing stopped", "err", err)
		return p.failed
	}
	if closing {
		if !p.settledLocked() {
			// The lists grew in this clock second already: the last
			// batch goes out, and the campaign closes, next round.
			return nil
		}
		return p.closeLocked()
	}
	if p.flushing || !p.Ended() {
		return err
	}
	if !p.closeWait {
		p.closeWait = true
		p.log.Warn("the campaign has ended; it closes once every collector answers and no vote is pending (Finish closes it now)")
	}
	return err
}

// redact drops credentials from a URL before it reaches a log or an error.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	p.User = nil
	return p.String()
}

// slogPrinter routes fasthttp's own messages to the structured logger.
type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Printf(format string, args ...any) {
	p.l.Warn("fasthttp", "msg", fmt.Sprintf(format, args...))
}
