// Package collector is a collecting instance of the platform: it checks the
// votes the edge forwards, records each durably as two unlinkable records
// and answers with a signed receipt. It also signs the platform stamps the
// edge hands out, and keeps its twin, the other instance of its pair, in step
// (docs/INTERNAL.md, docs/MIRRORS.md).
package collector

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/collector/internal/store"
	"github.com/powvote/powvote/internal/hedged"
	"github.com/powvote/powvote/internal/mtls"
	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/stamp"
	"github.com/powvote/powvote/wire"
)

// Config is what a collecting instance needs. Zero values mean the defaults
// named on each field.
type Config struct {
	Settings *campaign.Settings // the campaign this instance collects for
	Secrets  *campaign.Secrets  // UTC-SIGN, TOTP seed, receipt key
	Dir      string             // data directory of this instance
	Instance int                // instance number; 2k and 2k+1 are pair k
	Twin     string             // base URL of the twin ("https://10.0.0.2:9102", nothing after the port); empty: no twin
	// Link is this instance's end of the internal links
	// (campaign.Campaign.Link): Run serves TLS with it and pulls from the
	// twin with it, and the role it reads from a caller's certificate
	// decides which endpoints the caller may use (access.go).
	Link *mtls.Link

	Logger *slog.Logger     // nil: discard
	Clock  func() time.Time // nil: time.Now
	// Metrics receives the instance's metrics (metrics.go); nil: a set of
	// its own that nobody reads.
	Metrics *metrics.Set

	SyncInterval   time.Duration // how often to pull from the twin; default 1s
	HeldReport     time.Duration // how often to log the links and pending voters the store holds; default 1m
	CatchUpTimeout time.Duration // how long to try the twin at start before serving without it; default 10s
	FutureSkew     time.Duration // how far a P-UTC may be ahead of this clock (twins' clocks differ a little); default 5s
	Decoys         int           // recent stamps per option to draw receipt decoys from; default 64
	// DecoyAge is how long a vote is durable before its voter stamp may
	// stand as a decoy on another voter's receipt; default 3s, negative
	// for at once. Every edge reads each instance's new records once a
	// second and refuses a recorded stamp for any other vote: a receipt
	// shows only stamps the edges know (docs/THREAT_MODEL.md).
	DecoyAge time.Duration

	// Rebuild starts the instance from its twin's state instead of a
	// store of its own (docs/MIRRORS.md, Replacing a lost instance): Dir
	// must be empty or absent and Twin set. Run copies the twin's
	// snapshot, checks it, makes it durable and only then serves,
	// answering 503 to everything meanwhile.
	Rebuild bool

	// StampsPerSecond bounds the UTC-SIGN signatures GET /stamp makes in
	// one second of the clock, over every edge that asks; default 50000
	// (about a core's worth). Edges ask for what their voters with valid
	// booth codes used lately (docs/INTERNAL.md).
	StampsPerSecond int

	ReadTimeout, WriteTimeout, IdleTimeout time.Duration // defaults 10s, 10s, 120s
	MaxConns                               int           // default 4096
}

func (c *Config) withDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.SyncInterval, time.Second)
	def(&c.HeldReport, time.Minute)
	def(&c.CatchUpTimeout, 10*time.Second)
	def(&c.FutureSkew, 5*time.Second)
	def(&c.DecoyAge, 3*time.Second)
	def(&c.ReadTimeout, 10*time.Second)
	def(&c.WriteTimeout, 10*time.Second)
	def(&c.IdleTimeout, 120*time.Second)
	if c.Decoys == 0 {
		c.Decoys = 64
	}
	if c.StampsPerSecond == 0 {
		c.StampsPerSecond = 50000
	}
	if c.MaxConns == 0 {
		c.MaxConns = 4096
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

// Server is a collecting instance.
type Server struct {
	cfg     Config
	log     *slog.Logger
	st      *store.Store
	srv     *fasthttp.Server
	twin    *http.Client   // nil without a twin
	twinURL string         // Config.Twin without a trailing "/"
	options map[string]int // option text -> ballot index
	authz   map[[32]byte]bool

	ready atomic.Bool // set once the instance has caught up and takes votes
	// rebuilding is set while Run copies the twin's state (Config.Rebuild):
	// st is nil until Run clears it, and every request gets 503.
	rebuilding atomic.Bool

	metricNames   []string // registered by registerMetrics (UnregisterMetrics)
	metricsLabels string
	// groupRequests and groupSync are the store's group-commit
	// histograms (storeOptions).
	groupRequests, groupSync *metrics.PrometheusHistogram
	serving                  atomic.Bool // while Run runs (Ready)

	utcSign     *hedged.Signer // signs genuine platform stamps (stamp.go)
	stampBudget stampBudget

	stats stats
}

// New opens the instance's store and prepares the server; it does not
// listen yet.
func New(cfg Config) (*Server, error) {
	cfg.withDefaults()
	if cfg.Settings == nil || cfg.Secrets == nil {
		return nil, errors.New("collector: settings and secrets are required")
	}
	if sec := cfg.Secrets; len(sec.UTCSign) != ed25519.PrivateKeySize ||
		len(sec.ReceiptKey) != ed25519.PrivateKeySize || len(sec.TOTPSeed) == 0 {
		return nil, errors.New("collector: the secrets lack UTC-SIGN, the receipt key or the TOTP seed (campaign.RoleCollector)")
	}
	if cfg.Link == nil {
		return nil, errors.New("collector: no credentials for the internal links (Config.Link)")
	}
	if self := cfg.Link.Self(); !self.Covers(mtls.Peer{Campaign: cfg.Settings.Name, Role: string(campaign.RoleCollector), Instance: cfg.Instance}) {
		return nil, fmt.Errorf("collector: the internal links' certificate is for %s, not collector %d of campaign %s", self, cfg.Instance, cfg.Settings.Name)
	}
	utcSign, err := hedged.New(cfg.Secrets.UTCSign)
	if err != nil {
		return nil, fmt.Errorf("collector: UTC-SIGN: %w", err)
	}
	if err := cfg.Settings.Validate(); err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	if cfg.Dir == "" {
		return nil, errors.New("collector: no data directory")
	}
	if cfg.Instance < 0 {
		return nil, fmt.Errorf("collector: instance %d is negative", cfg.Instance)
	}
	twinURL, err := checkTwinURL(cfg.Twin)
	if err != nil {
		return nil, err
	}
	if twinURL != "" {
		if err := cfg.Link.CheckURL(twinURL); err != nil {
			return nil, fmt.Errorf("collector: twin: %w", err)
		}
	}
	labels := instanceLabels(&cfg)
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		options: make(map[string]int),
		authz:   make(map[[32]byte]bool),
		twinURL: twinURL,
		utcSign: utcSign,
	}
	if cfg.Rebuild {
		// Checked here, so that the command fails before it listens.
		if cfg.Twin == "" {
			return nil, errors.New("collector: a rebuild copies the twin's state: give the twin's URL")
		}
		if err := store.CheckEmpty(cfg.Dir); err != nil {
			return nil, fmt.Errorf("collector: a rebuild writes only into an empty data directory, and never over data: %w", err)
		}
		s.rebuilding.Store(true)
	}
	// Made once nothing above can fail; taken out again if the store does
	// not open, so that a shared set holds nothing of an instance that
	// never ran.
	s.groupRequests, s.groupSync = newStoreMetrics(cfg.Metrics, labels)
	if !cfg.Rebuild {
		st, err := store.Open(cfg.Dir, s.storeOptions())
		if err != nil {
			unregisterStoreMetrics(cfg.Metrics, labels)
			return nil, fmt.Errorf("collector: open store %s: %w", cfg.Dir, err)
		}
		s.st = st
	}
	for i, o := range cfg.Settings.Options {
		s.options[o] = i
	}
	s.registerMetrics(cfg.Metrics, labels)
	for _, k := range cfg.Settings.Authorities {
		s.authz[[32]byte(k)] = true
	}
	if cfg.Twin != "" {
		// net/http rather than fasthttp for this client: a pull must end
		// when Run's context does, and fasthttp requests cannot be
		// cancelled, so a twin that hangs would hold up shutdown for the
		// whole pull timeout.
		s.twin = &http.Client{
			Transport: &http.Transport{
				Proxy:               nil, // the twin is on the private network
				DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
				TLSClientConfig:     cfg.Link.ClientConfig(mtls.Peer{Role: string(campaign.RoleCollector), Instance: cfg.Instance ^ 1}),
				MaxConnsPerHost:     4,
				MaxIdleConnsPerHost: 4,
				// Below the twin's IdleTimeout (default 120 s), so that
				// this side drops an idle connection first.
				IdleConnTimeout: 60 * time.Second,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	s.srv = &fasthttp.Server{
		Handler:            s.handle,
		Name:               "powvote-collector",
		ReadTimeout:        cfg.ReadTimeout,
		WriteTimeout:       cfg.WriteTimeout,
		IdleTimeout:        cfg.IdleTimeout,
		ReadBufferSize:     16 << 10,
		MaxRequestBodySize: 4 << 10, // no endpoint but POST /votes takes a body
		HeaderReceived:     s.bodyLimit,
		ErrorHandler:       s.readError,
		Concurrency:        cfg.MaxConns,
		CloseOnShutdown:    true,
		Logger:             slogPrinter{cfg.Logger},
	}
	return s, nil
}

// storeOptions are the options of the instance's store.
func (s *Server) storeOptions() store.Options {
	cfg := &s.cfg
	return store.Options{Logger: cfg.Logger, Clock: cfg.Clock, DecoyAge: max(0, cfg.DecoyAge), MoveBatch: cfg.Settings.BatchSize,
		GroupRequests: s.groupRequests, GroupSync: s.groupSync,
		// The odd instance takes the even one's receipts: see keptReceipt.
		PreferTwinReceipts: cfg.Instance%2 == 1,
		// A retraction is signed by the key that signed the retracted
		// vote's receipt: its holder can hold the platform to both.
		ReceiptKey: cfg.Secrets.ReceiptKey, Campaign: cfg.Settings.Name}
}

// checkTwinURL checks Config.Twin and returns it without a trailing "/".
// The error quotes the URL without a password, in case one was put there.
func checkTwinURL(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("collector: the twin URL does not parse")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", fmt.Errorf("collector: twin URL %q: want http://host:port or https://host:port and nothing more", u.Redacted())
	}
	return strings.TrimSuffix(raw, "/"), nil
}

// Run serves on ln until ctx is done: it first catches up from the twin
// (answering 503 to votes meanwhile), then takes votes and keeps pulling
// from the twin. It returns after a graceful shutdown and closing the store,
// also when serving stops on its own or the store fails (then with an
// error).
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	// Serve and Shutdown work on the TLS listener; ln is closed below too.
	tln := s.cfg.Link.Listen(ln)
	s.serving.Store(true)
	defer s.serving.Store(false)
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(tln) }()

	// The twin goroutines stop with ctx, or when serving stops first.
	lctx, stopLoop := context.WithCancel(ctx)
	defer stopLoop()
	var wg sync.WaitGroup
	if s.rebuilding.Load() {
		if err := s.rebuild(lctx); err != nil {
			if ctx.Err() == nil {
				s.log.Error("rebuild failed; the data directory is left empty", "err", err)
			}
			stopLoop()
			s.srv.Shutdown()
			ln.Close()
			if serr := <-errc; serr != nil && ctx.Err() == nil {
				s.log.Debug("serve during the rebuild", "err", serr)
			}
			s.twin.CloseIdleConnections()
			if ctx.Err() != nil {
				return nil // stopped while copying; the directory is left empty
			}
			return fmt.Errorf("collector: rebuild from the twin: %w", err)
		}
		// st is set: from here on requests use it.
		s.rebuilding.Store(false)
	}
	if s.twin != nil {
		cctx, cancel := context.WithTimeout(lctx, s.cfg.CatchUpTimeout)
		if err := s.catchUp(cctx); err != nil && ctx.Err() == nil {
			s.log.Warn("twin unreachable at start; serving without catching up", "err", err)
		}
		cancel()
	}
	s.ready.Store(true)
	s.log.Info("taking votes", "instance", s.cfg.Instance)
	if s.twin != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.syncLoop(lctx)
		}()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		s.purgeLoop(lctx)
	}()
	go func() {
		defer wg.Done()
		s.heldLoop(lctx)
	}()

	var serveErr, failErr error
	served := false // errc has been read
	select {
	case serveErr = <-errc:
		served = true
		if serveErr == nil {
			// Serve returns nil once its listener is closed, which only
			// Run should do.
			serveErr = errors.New("collector: listener closed")
		}
	case <-ctx.Done():
	case <-s.st.Failed():
		// A fail stop: the store refuses writes until it is reopened, so
		// the instance stops and returns the failure, for its supervisor
		// to restart it (reopening repairs what a crash would leave). Its
		// twin carries the votes meanwhile.
		failErr = fmt.Errorf("collector: %w", s.st.Err())
		s.log.Error("stopping: the store refuses writes", "err", failErr)
	}
	stopLoop()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.srv.ShutdownWithContext(sctx); err != nil {
		s.log.Warn("shutdown", "err", err)
	}
	// Shutdown does nothing to a Serve that has not registered ln yet (ctx
	// ended at once); closing ln ends that one too.
	ln.Close()
	wg.Wait()
	if s.twin != nil {
		s.twin.CloseIdleConnections()
	}
	if !served {
		serveErr = <-errc
	}
	if failErr != nil {
		serveErr = failErr
	}
	if err := s.st.Close(); err != nil && serveErr == nil {
		serveErr = err
	}
	return serveErr
}

// Counts reports the voters and votes this instance holds (retracted votes
// excluded).
func (s *Server) Counts() (voters, votes int) {
	if s.rebuilding.Load() {
		return 0, 0
	}
	return s.st.Counts()
}

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	// Who calls first: nothing else is read for a stranger. With TLS the
	// handshake has refused a certificate not of the campaign's CA.
	caller, err := s.cfg.Link.Caller(ctx.TLSConnectionState(), ctx.Request.Header.Peek("Pass"))
	if err != nil {
		s.stats.unauthorized.Add(1)
		ctx.SetStatusCode(fasthttp.StatusUnauthorized)
		return
	}
	r := findRoute(string(ctx.Method()), string(ctx.Path()))
	if r == nil {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		return
	}
	if !r.allows(caller, s.cfg.Instance) {
		s.stats.forbidden.Add(1)
		ctx.SetStatusCode(fasthttp.StatusForbidden)
		ctx.SetContentType("text/plain; charset=utf-8")
		fmt.Fprintf(ctx, "%s may not %s %s at collector %d (docs/INTERNAL.md, Authorisation)\n", caller, r.method, r.path, s.cfg.Instance)
		return
	}
	if s.rebuilding.Load() {
		// No store yet: the twin's state is being copied.
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		return
	}
	switch r.path {
	case "/vote":
		s.handleVote(ctx)
	case "/votes":
		s.handleVotes(ctx)
	case "/stamp":
		s.handleStamp(ctx)
	case "/sync":
		s.handleSync(ctx)
	case "/snapshot":
		s.handleSnapshot(ctx)
	case "/health":
		if s.ready.Load() && s.st.Err() == nil {
			ctx.SetStatusCode(fasthttp.StatusNoContent)
		} else {
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		}
	case "/records/votes":
		s.handleVoteRecords(ctx)
	case "/records/voters":
		s.handleVoterRecords(ctx)
	}
}

// A voteError is one of the collector's refusals of a vote. The set is
// fixed: each picks its status code and its counter.
type voteError int

const (
	errMalformed voteError = iota
	errNotReady
	errBadTime
	errBadAuthority
	errBadSig
	errBadOption
	errVoted
	errStampUsed

	numVoteErrors
)

// voteErrors gives each refusal the code it is answered with (PROTOCOL.md
// 5.3, package wire) and the reason its Error names.
var voteErrors = [numVoteErrors]struct {
	code   int
	reason string
}{
	errMalformed:    {fasthttp.StatusBadRequest, "malformed"},
	errNotReady:     {fasthttp.StatusServiceUnavailable, "catching up from twin"},
	errBadTime:      {wire.StatusOutsideCampaign, "stamp outside the campaign"},
	errBadAuthority: {wire.StatusUnknownAuthority, "unknown authority"},
	errBadSig:       {wire.StatusBadMandateSig, "mandate signature"},
	errBadOption:    {wire.StatusNotOnBallot, "not on the ballot"},
	errVoted:        {wire.StatusAlreadyVoted, "already voted"},
	errStampUsed:    {wire.StatusStampUsed, "voter stamp used by another vote"},
}

func (e voteError) code() int { return voteErrors[e].code }

func (e voteError) Error() string { return fmt.Sprintf("%d %s", e.code(), voteErrors[e].reason) }

func (s *Server) handleVote(ctx *fasthttp.RequestCtx) {
	f := headerFields(&ctx.Request.Header)
	receipt, err := s.vote(&f)
	ctx.SetStatusCode(s.settle(err))
	if err != nil {
		return
	}
	for i, l := range receipt.lines {
		ctx.Response.Header.Set(fmt.Sprintf("Receipt%02d", i+1), l)
	}
	if receipt.sig != "" {
		ctx.Response.Header.Set("Receipt-Sig", receipt.sig)
	}
}

// settle gives the status code a vote is answered with, on POST /vote and
// on its line of POST /votes, and counts the outcome: 204 for a recorded
// vote, the refusal's code, or 503 for a storage failure.
func (s *Server) settle(err error) int {
	if err == nil {
		return fasthttp.StatusNoContent
	}
	var ve voteError
	if !errors.As(err, &ve) {
		// Storage failure: the vote is not durable, so it is not
		// acknowledged; the edge answers 503 and the voter retries.
		s.log.Error("vote not recorded", "err", err)
		s.stats.failed.Inc()
		return fasthttp.StatusServiceUnavailable
	}
	s.stats.refused[ve].Add(1)
	return ve.code()
}

type receipt struct {
	lines []string
	sig   string
}

// decodeFixed decodes canonical padded base64 of exactly len(dst) bytes.
func decodeFixed(dst []byte, v []byte) bool {
	enc := base64.StdEncoding
	if len(v) != enc.EncodedLen(len(dst)) {
		return false
	}
	// Without its padding v decodes to more than len(dst) bytes, and
	// Decode writes them all: into dst it would overrun it and panic.
	buf := make([]byte, enc.DecodedLen(len(v)))
	n, err := enc.Strict().Decode(buf, v)
	if err != nil || n != len(dst) {
		return false
	}
	copy(dst, buf)
	return true
}

// voteFields are the values of one vote as the edge sends them: the
// headers of POST /vote, or the fields of a line of POST /votes
// (wire.ParseBatch), byte for byte. A missing header is empty.
type voteFields = wire.BatchVote[[]byte]

// headerFields reads a vote from the headers of POST /vote.
func headerFields(h *fasthttp.RequestHeader) voteFields {
	return voteFields{
		AuthPkey: h.Peek("Auth-Pkey"), AuthSig: h.Peek("Auth-Sig"), AuthID: h.Peek("Auth-Id"),
		PUTC: h.Peek("P-UTC"), PSIG: h.Peek("P-SIG"), Voter: h.Peek("Voter"), Say: h.Peek("Say"),
		Nonce: h.Peek("Nonce"), Decoys: h.Peek("Decoys"),
		NoSign: bytes.Equal(h.Peek("Receipt-Sign"), []byte("no")),
	}
}

// vote runs the collector's checks in PROTOCOL order and records the vote.
// It is the one path of every vote, alone (POST /vote) or in a batch (POST
// /votes).
func (s *Server) vote(f *voteFields) (*receipt, error) {
	if !s.ready.Load() {
		return nil, errNotReady
	}
	var voter store.Voter
	var v store.Vote
	if !decodeFixed(voter.Pkey[:], f.AuthPkey) || !decodeFixed(voter.Sig[:], f.AuthSig) ||
		!decodeFixed(voter.ID[:], f.AuthID) || !decodeFixed(v.PSig[:], f.PSIG) {
		return nil, errMalformed
	}
	v.PUTC = string(f.PUTC)
	putc, err := stamp.ParsePUTC(v.PUTC)
	if err != nil {
		return nil, errMalformed
	}
	// The voter stamp exactly as GET /stamp writes it, the only form the
	// store records: checking it here keeps a bad one a 400, ahead of the
	// other checks, instead of a storage refusal after them.
	v.Voter = string(f.Voter)
	if store.CheckVoterStamp(v.Voter) != nil {
		return nil, errMalformed
	}
	sayRaw := string(f.Say)
	say, err := wire.DecodeOption(sayRaw)
	if err != nil || sayRaw == "" {
		return nil, errMalformed
	}
	// Hex in either case, as the path of a vote (PROTOCOL.md 5.3); read
	// in the votes list's one spelling.
	if v.Nonce, err = listline.ParseNonce(strings.ToLower(string(f.Nonce))); err != nil {
		return nil, errMalformed
	}
	v.Option = say

	// 485: the stamp's time inside the campaign and not stale.
	now := s.cfg.Clock()
	t := time.Unix(putc, 0)
	st := s.cfg.Settings
	if t.Before(st.Start) || t.After(st.End) || t.After(now.Add(s.cfg.FutureSkew)) || now.Sub(t) > st.MaxStampAge {
		return nil, errBadTime
	}
	// 484, 483: the mandate.
	if !s.authz[voter.Pkey] {
		return nil, errBadAuthority
	}
	if !ed25519.Verify(voter.Pkey[:], voter.ID[:], voter.Sig[:]) {
		return nil, errBadSig
	}
	// 482: the option.
	idx, ok := s.options[say]
	if !ok {
		return nil, errBadOption
	}
	// The edge asks one instance of the pair only for the signature it
	// relays: the other's would cost an Ed25519 signature per vote for an
	// answer the edge throws away.
	sign := !f.NoSign
	// 481, 486 and the durable record, in one transaction of the store,
	// with the receipt: a repeat of the vote gets the receipt kept then.
	decoys := string(f.Decoys)
	if !s.validDecoys(decoys, idx, v.Voter) {
		decoys = s.drawDecoys(idx)
	}
	res, err := s.st.Accept(context.Background(), voter, v, store.Receipt{Decoys: decoys, Given: sign})
	if errors.Is(err, store.ErrAlreadyVoted) || errors.Is(err, store.ErrDuplicateVote) {
		// ErrDuplicateVote: this very vote (nonce, voter stamp) is recorded
		// under another mandate, a replay after the edge forgot the nonce.
		return nil, errVoted
	}
	if errors.Is(err, store.ErrDuplicateStamp) {
		// Another vote carries this voter stamp: someone took it from the
		// votes list or a receipt and did fresh work over it. A stamp is
		// good for one vote (PROTOCOL.md 5.3); the holder's own retry is a
		// repeat of its mandate's vote and never gets here.
		return nil, errStampUsed
	}
	if errors.Is(err, store.ErrSyntax) {
		// Not reached while the checks above match the store's; if they
		// ever differ, the request is still malformed, not a failure that
		// the voter should retry.
		return nil, errMalformed
	}
	if err != nil {
		return nil, err
	}
	if res.Repeat {
		s.stats.repeat.Add(1)
	} else {
		s.stats.accepted.Add(1)
	}
	return s.receipt(idx, v.Voter, res.Receipt.Decoys, sign), nil
}

// drawDecoys draws the decoys of a new vote's receipt for option chosen:
// a random recent voter's stamp against every other option, "-" for an
// option nobody has chosen yet, "*" for the chosen one, in ballot order
// and separated by commas (store.Receipt).
func (s *Server) drawDecoys(chosen int) string {
	var b strings.Builder
	for i, o := range s.cfg.Settings.Options {
		if i > 0 {
			b.WriteByte(',')
		}
		switch recent := s.st.Recent(o, s.cfg.Decoys); {
		case i == chosen:
			b.WriteByte('*')
		case len(recent) > 0:
			b.WriteString(recent[rand.IntN(len(recent))])
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}

// validDecoys reports whether d, the edge's Decoys header, can be the
// decoys of a receipt for a vote for option chosen with voter stamp own:
// one field per option, "*" at chosen and only there, a voter stamp other
// than own or "-" elsewhere. The edge draws them from every pair's recent
// votes (edge/decoys.go), which this instance cannot see; without them,
// or with a malformed header, it draws its own from its pair's.
func (s *Server) validDecoys(d string, chosen int, own string) bool {
	f := strings.Split(d, ",")
	if d == "" || len(f) != len(s.cfg.Settings.Options) {
		return false
	}
	for i, x := range f {
		switch {
		case i == chosen:
			if x != "*" {
				return false
			}
		case x == "-":
		case x == own || store.CheckVoterStamp(x) != nil:
			return false
		}
	}
	return true
}

// receipt builds the receipt lines (PROTOCOL 5.4) from decoys
// (drawDecoys; the ones kept with the vote) and signs them (6): the
// voter's own stamp against the chosen option, the decoys against the
// others. It leaves the signature out unless sign is set. Ed25519
// signatures are deterministic: the same lines get the same Receipt-Sig,
// so a repeat gets the receipt of the first answer byte for byte. Decoys
// that do not fit the ballot (none kept: a store from before receipts
// were kept) are drawn afresh.
func (s *Server) receipt(chosen int, own, decoys string, sign bool) *receipt {
	opts := s.cfg.Settings.Options
	d := strings.Split(decoys, ",")
	if len(d) != len(opts) || d[chosen] != "*" {
		d = strings.Split(s.drawDecoys(chosen), ",")
	}
	r := &receipt{lines: make([]string, len(opts))}
	for i, o := range opts {
		st := d[i]
		if i == chosen {
			st = own
		}
		r.lines[i] = st + " " + wire.EncodeOption(o)
	}
	if sign {
		r.sig = wire.SignReceipt(s.cfg.Secrets.ReceiptKey, s.cfg.Settings.Name, r.lines)
	}
	return r
}

// slogPrinter routes fasthttp's own messages to the structured logger.
type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Printf(format string, args ...any) {
	p.l.Warn("fasthttp", "msg", fmt.Sprintf(format, args...))
}
