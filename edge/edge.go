// Package edge is the public face of the platform: the only server voters'
// software and the Internet talk to (PROTOCOL.md 5). It chooses the campaign
// by the first label of the Host header and serves:
//
//   - GET /list, the ballot, from memory;
//   - GET /stamp, the platform stamp: a genuine one from a pool that one
//     collector answer a second fills, or a decoy the edge signs itself,
//     each signature fresh (platform.go);
//   - GET /<nonce>, a vote: the edge checks the request, the proof of work,
//     the platform stamp and the voter stamp itself, refuses a voter stamp
//     or a nonce it knows recorded by another vote (seen.go), and a stamp
//     outside the campaign's time (485) or an option not on the ballot
//     (482), so that a collector never receives a mandate it would refuse
//     for those; then it relays the vote over TLS to both collecting
//     instances of the mandate's pair (Campaign.Link); it keeps
//     each verdict (all answers but 400, 489, 480, its own 481 and 503)
//     under the nonce for 300 s (NonceCacheTTL), with a digest of the request,
//     and gives it again only to the same vote: the same nonce and the same
//     header values. Any other request with that nonce gets 480 and no
//     receipt, since nonces are public and a receipt is the voter's alone
//     (vote.go);
//   - GET / and /app/..., the web applications (static.go);
//   - GET /campaigns.txt, the names of the campaigns served, whatever the
//     Host (campaigns.go);
//   - GET /<campaign>/counter.svg and /<campaign>/counter.json, the
//     counter that any site may embed: the campaign's published count,
//     whatever the Host (counter.go);
//   - OPTIONS preflights from the web origins it is configured to allow.
//
// Any other path or method gets 400 with an empty body. Handlers return an
// error; one adapter turns it into the protocol's status code with an empty
// body and counts it by reason (reasons.go). The client gets the code, the
// log gets the cause, at debug level and without secrets.
package edge

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/valyala/fasthttp"
	"golang.org/x/sync/singleflight"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/internal/connlimit"
	"github.com/powvote/powvote/internal/hedged"
	"github.com/powvote/powvote/internal/mtls"
	"github.com/powvote/powvote/internal/publictls"
	"github.com/powvote/powvote/published"
	"github.com/powvote/powvote/stamp"
	"github.com/powvote/powvote/wire"
)

// Campaign is one campaign the edge serves, with the keys the edge holds for
// it (docs/INTERNAL.md, Processes).
type Campaign struct {
	Settings *campaign.Settings

	// UTCSignPub verifies genuine platform stamps: a vote whose P-SIG it
	// does not verify is refused with 488. It stays secret until the
	// campaign closes.
	UTCSignPub ed25519.PublicKey

	// UTCHole signs the decoy stamps answered to wrong booth codes, afresh
	// for every answer (platform.go).
	UTCHole ed25519.PrivateKey

	// VoterKey is the voter-stamp HMAC key, at least 16 bytes.
	VoterKey []byte

	// Link is the edge's end of the internal links to the campaign's
	// collectors (campaign.Campaign.Link): TLS with the edge's
	// certificate, each collector checked to be the instance it is
	// dialled as; in plain mode, the token the Pass header carries.
	Link *mtls.Link

	// Pairs are the base URLs of the campaign's collecting instances, such
	// as {"http://127.0.0.1:9101", "http://127.0.0.1:9102"}: pair k holds
	// instances 2k and 2k+1. At least one pair; no URL twice. A mandate's
	// pair is fixed by the number of pairs (see pairIndex), so the list
	// must not change during the campaign.
	Pairs [][2]string

	// Lists, when set, serves the published files of the campaign
	// (PROTOCOL.md 8, docs/PUBLISHING.md): GET and HEAD requests for paths
	// under /<campaign>- go to it unchanged. Nil: those paths are 400.
	Lists fasthttp.RequestHandler
}

// Config is what an edge needs. Zero durations and sizes mean the defaults
// named on each field.
type Config struct {
	Campaigns []Campaign // at least one; names must differ

	// AllowOrigins are the web origins (such as "https://vote.example.org")
	// whose pages may call the edge from a browser, matched exactly; "*"
	// allows every origin. Empty: no CORS headers at all.
	AllowOrigins []string

	// Static holds the web applications (package web): GET / serves
	// voter/index.html and GET /app/<name> the file <name> (static.go).
	// Nil: those paths are 400.
	Static fs.FS

	Logger *slog.Logger     // nil means discard
	Clock  func() time.Time // decides the second of a platform stamp; nil means time.Now

	// Metrics receives the edge's metrics (metrics.go); nil means a set
	// of its own that nobody reads.
	Metrics *metrics.Set

	ReadTimeout    time.Duration // whole request incl. headers; default 10s
	WriteTimeout   time.Duration // default 10s
	IdleTimeout    time.Duration // keep-alive idle; default 60s
	MaxHeaderBytes int           // request line and headers; default 8 KiB
	MaxConns       int           // concurrent connections; default 10000

	// MaxConnsPerIP bounds the connections of one client: one IPv4
	// address, or one IPv6 /64; default 512 (connlimit.DefaultPerAddr,
	// sized for large NATs), negative for no limit. Behind a proxy or TLS
	// terminator every connection comes from the proxy's address: turn
	// the limit off there and limit clients at the proxy.
	MaxConnsPerIP int

	// IdleCloseAt is the share of MaxConns, in percent, from which a new
	// connection closes the longest-idle one (a connection waiting for a
	// request) rather than adding to the count; default 90, negative for
	// never (limit.go).
	IdleCloseAt int

	// TLS, when not nil, has Serve speak HTTPS with it (package
	// publictls: publictls.Cert.Config), above the connection limits,
	// which count the TCP connections by their addresses; ReadTimeout
	// also bounds the handshake. Nil: plain HTTP, for an edge behind a
	// TLS terminator or on loopback.
	TLS *tls.Config

	// CollectorTimeout bounds each request to a collector, from waiting
	// for a connection to the last byte of the answer; default 5s.
	CollectorTimeout time.Duration

	// Votes go to a collecting instance in batches (POST /votes,
	// batch.go). CollectorBatchInFlight is the most requests in flight to
	// one instance before votes queue for the next one; default 2.
	// CollectorBatchMax is the most votes in one batch: a full batch goes
	// at once; default 128, at most 1024; negative, every vote goes alone
	// in a POST /vote. CollectorBatchWait, when set, is the longest a
	// queued vote waits for a free slot before its batch goes anyway;
	// default 0, no limit but CollectorTimeout.
	CollectorBatchInFlight int
	CollectorBatchWait     time.Duration
	CollectorBatchMax      int

	// NonceCacheSize is how many vote answers the edge keeps by nonce;
	// default 200000. An answer takes from about 100 bytes (an error code)
	// to about 60 bytes per ballot option (a receipt), so the default
	// bounds the cache to some tens of megabytes for ordinary ballots.
	NonceCacheSize int

	// NonceCacheTTL is how long an answer stays in the nonce cache, and
	// the max-age the answer carries; default the longest of the
	// campaigns' campaign.Settings.NonceMemory, 300 s at least
	// (PROTOCOL.md 5.3).
	NonceCacheTTL time.Duration

	// StampPoolMin and StampPoolMax bound the number of genuine platform
	// stamps the edge asks a collector for each second: twice the most
	// that valid booth codes took in one of the last seconds, plus
	// StampPoolMin (platform.go). Defaults 256 and 20000.
	StampPoolMin, StampPoolMax int

	// TailInterval is how often the edge reads the new vote records of
	// every collecting instance, to know which pair holds each recorded
	// vote (seen.go); default 1s, negative for never (tests of other
	// things).
	TailInterval time.Duration
}

func (c *Config) withDefaults() {
	if c.ReadTimeout == 0 {
		c.ReadTimeout = 10 * time.Second
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 60 * time.Second
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = 8 << 10
	}
	if c.MaxConns == 0 {
		c.MaxConns = 10000
	}
	if c.MaxConnsPerIP == 0 {
		c.MaxConnsPerIP = connlimit.DefaultPerAddr
	}
	if c.IdleCloseAt == 0 {
		c.IdleCloseAt = connlimit.DefaultIdlePercent
	}
	if c.CollectorTimeout == 0 {
		c.CollectorTimeout = 5 * time.Second
	}
	if c.CollectorBatchInFlight == 0 {
		c.CollectorBatchInFlight = 2
	}
	if c.CollectorBatchMax == 0 {
		c.CollectorBatchMax = 128
	}
	if c.NonceCacheSize == 0 {
		c.NonceCacheSize = 200000
	}
	if c.NonceCacheTTL == 0 {
		c.NonceCacheTTL = campaign.MinNonceMemory
		for _, s := range c.Campaigns {
			if s.Settings != nil {
				c.NonceCacheTTL = max(c.NonceCacheTTL, s.Settings.NonceMemory())
			}
		}
	}
	if c.StampPoolMin == 0 {
		c.StampPoolMin = 256
	}
	if c.StampPoolMax == 0 {
		c.StampPoolMax = 20000
	}
	if c.TailInterval == 0 {
		c.TailInterval = time.Second
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

// minVoterKey is the shortest voter-stamp key New accepts; campaigns make
// 32-byte keys (campaign.SecretSize).
const minVoterKey = 16

// site is what the edge serves for one campaign. Built by New; the fields
// above platform are read-only afterwards.
type site struct {
	name      string
	settings  *campaign.Settings
	signPub   ed25519.PublicKey
	voterKey  *stamp.Key
	pass      string                  // the Pass header in plain mode, "" with TLS
	pairs     [][2]*collector         // pair k: instances 2k and 2k+1
	instances []*collector            // all instances in order, for GET /stamp
	listHdr   [][2]string             // Say01.. headers and Cache-Control, ready to send
	lists     fasthttp.RequestHandler // published lists; nil when not served here
	expose    string                  // Access-Control-Expose-Headers value

	// platform is the current pool of platform stamps, next the one
	// prefetched for a later second, demand what the last pools answered
	// and asked the second of the last /stamp request (platform.go).
	hole     *hedged.Signer
	platform platformPtr
	next     platformPtr
	demand   demand
	asked    atomic.Int64
	// seen knows which pair holds each recorded vote whose stamp is still
	// live; tails keep it up to date from every instance (tail.go).
	seen  *seenVotes
	tails []*tailer
	// decoys are the recent stamps of every pair, for receipts (decoys.go).
	decoys *decoyPool
	// counter is the published count the counter answers (counter.go).
	counter counterState
	m       *siteMetrics
}

// Server is an edge process. Its fields are set by New and never change,
// except the counters and caches, which are safe for concurrent use.
type Server struct {
	cfg Config
	log *slog.Logger
	// sites maps each campaign's name to what the edge serves for it;
	// AddCampaign replaces the map, so that requests read it without a
	// lock. single is set while one campaign is served: any Host reaches
	// it.
	sites   atomic.Pointer[map[string]*site]
	single  atomic.Pointer[site]
	srv     *fasthttp.Server
	mu      sync.Mutex   // held by AddCampaign
	tailing bool         // Serve has started the tailers (mu)
	clients []*collector // every collector, once, to close at shutdown (mu)

	allowAll bool            // AllowOrigins holds "*"
	origins  map[string]bool // AllowOrigins otherwise
	cors     bool            // AllowOrigins is not empty

	// nonces maps campaign name and raw nonce to the answer given and the
	// digest of the vote it was given to, for NonceCacheTTL; votes shares a
	// flight between concurrent requests for the same key, so that only
	// one reaches the collectors (vote.go).
	nonces *expirable.LRU[string, cachedAnswer]
	votes  singleflight.Group
	// stamps shares the fetch of a platform stamp between the requests of
	// one second (key: campaign name and second).
	stamps singleflight.Group

	conns      connlimit.Counters   // what the connection limits did (limit.go)
	errAnswers [numCounters]*answer // the fixed answer of each rejection reason
	verdicts   [numVerdicts]*answer // collector codes 481..486, relayed as they are
	maxAge     [2][2]string         // Cache-Control and Vary of every answer kept under a nonce
	counters   counters
	m          *serverMetrics
	serving    atomic.Bool // between the first Serve and Shutdown (Ready)
	lnMu       sync.Mutex
	stopped    bool           // Shutdown was called; guarded by lnMu
	lns        []net.Listener // what Serve serves; guarded by lnMu

	// tailStop ends the tailers' goroutines, started by the first Serve;
	// tailDone waits for them.
	tailOnce sync.Once
	tailCtx  context.Context
	tailStop context.CancelFunc
	tailDone sync.WaitGroup

	// testHookVote, when set, runs on each vote request just before it
	// asks for the nonce's flight: tests use it to know that concurrent
	// requests have all arrived.
	testHookVote func()
}

// New checks cfg and builds the server.
func New(cfg Config) (*Server, error) {
	cfg.withDefaults()
	if len(cfg.Campaigns) == 0 {
		return nil, errors.New("edge: no campaign to serve")
	}
	if cfg.MaxConns < 0 || cfg.IdleCloseAt > 100 {
		return nil, fmt.Errorf("edge: MaxConns %d, IdleCloseAt %d: want a positive limit and a share of at most 100 percent", cfg.MaxConns, cfg.IdleCloseAt)
	}
	if cfg.StampPoolMin < 1 || cfg.StampPoolMax < cfg.StampPoolMin || cfg.StampPoolMax > maxStampPool {
		return nil, fmt.Errorf("edge: StampPoolMin %d, StampPoolMax %d: want 1 <= min <= max <= %d", cfg.StampPoolMin, cfg.StampPoolMax, maxStampPool)
	}
	if cfg.CollectorTimeout < 0 || cfg.NonceCacheTTL < time.Second || cfg.NonceCacheSize < 0 {
		return nil, fmt.Errorf("edge: CollectorTimeout %v, NonceCacheTTL %v, NonceCacheSize %d: want a positive timeout, a TTL of at least 1s and a positive size",
			cfg.CollectorTimeout, cfg.NonceCacheTTL, cfg.NonceCacheSize)
	}
	if cfg.CollectorBatchWait < 0 || cfg.CollectorBatchMax > maxBatchVotes || cfg.CollectorBatchInFlight < 0 {
		return nil, fmt.Errorf("edge: CollectorBatchWait %v, CollectorBatchMax %d, CollectorBatchInFlight %d: want a wait of at least 0, at most %d votes a batch and at least 1 request in flight",
			cfg.CollectorBatchWait, cfg.CollectorBatchMax, cfg.CollectorBatchInFlight, maxBatchVotes)
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		origins: make(map[string]bool),
	}
	s.tailCtx, s.tailStop = context.WithCancel(context.Background())
	for _, o := range cfg.AllowOrigins {
		if o == "*" {
			s.allowAll = true
		} else {
			s.origins[o] = true
		}
		s.cors = true
	}
	s.buildAnswers()
	sites := make(map[string]*site)
	for _, c := range cfg.Campaigns {
		st, err := s.newSite(c)
		if err != nil {
			return nil, err
		}
		if _, dup := sites[st.name]; dup {
			return nil, fmt.Errorf("edge: campaign %q given twice", st.name)
		}
		sites[st.name] = st
	}
	s.setSites(sites)
	// Made last, once nothing can fail: the cache starts a goroutine that
	// expires entries and that lives as long as the process (the library
	// has no way to stop it; an edge is one per process).
	s.nonces = expirable.NewLRU[string, cachedAnswer](cfg.NonceCacheSize, nil, cfg.NonceCacheTTL)
	s.registerMetrics(cfg.Metrics)
	s.srv = &fasthttp.Server{
		Handler:            s.Handle,
		Name:               "powvote",
		ReadTimeout:        cfg.ReadTimeout,
		WriteTimeout:       cfg.WriteTimeout,
		IdleTimeout:        cfg.IdleTimeout,
		ReadBufferSize:     cfg.MaxHeaderBytes,
		MaxRequestBodySize: 1 << 10,          // no endpoint takes a body
		Concurrency:        2 * cfg.MaxConns, // the limits are limitListener's
		CloseOnShutdown:    true,
		Logger:             slogPrinter{cfg.Logger},
		ErrorHandler: func(ctx *fasthttp.RequestCtx, err error) {
			s.m.unreadable.Inc()
			parseErrorAnswer(ctx, err)
		},
	}
	return s, nil
}

// parseErrorAnswer answers a request fasthttp could not read (headers over
// the limit, a body, a timeout, garbage) with the status fasthttp would
// give and, like every answer of the edge, an empty body: fasthttp's own
// answer carries an explanatory text.
func parseErrorAnswer(ctx *fasthttp.RequestCtx, err error) {
	status := fasthttp.StatusBadRequest
	var small *fasthttp.ErrSmallBuffer
	var netErr net.Error
	switch {
	case errors.As(err, &small):
		status = fasthttp.StatusRequestHeaderFieldsTooLarge
	case errors.As(err, &netErr) && netErr.Timeout():
		status = fasthttp.StatusRequestTimeout
	}
	ctx.Response.Reset()
	ctx.SetStatusCode(status)
	ctx.SetConnectionClose()
}

// setSites serves sites from now on.
func (s *Server) setSites(sites map[string]*site) {
	s.sites.Store(&sites)
	var single *site
	if len(sites) == 1 {
		for _, st := range sites {
			single = st
		}
	}
	s.single.Store(single)
}

// siteMap is the campaigns served now; callers must not change it.
func (s *Server) siteMap() map[string]*site { return *s.sites.Load() }

// AddCampaign serves one more campaign from now on, without a restart:
// it checks c as New does, reads its collectors' vote records of the
// stamps still live (within ctx, as CatchUp; the rest in the background),
// and then routes the Host of c to it. Once two campaigns are served, a
// Host must name its campaign.
func (s *Server) AddCampaign(ctx context.Context, c Campaign) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.newSite(c)
	if err != nil {
		return err
	}
	old := s.siteMap()
	if _, dup := old[st.name]; dup {
		return fmt.Errorf("edge: campaign %q is served already", st.name)
	}
	registerSiteMetrics(s.cfg.Metrics, st)
	if err := s.catchUp(ctx, st); err != nil {
		s.log.Warn("edge: serving a new campaign before every collector's vote records were read; they are read in the background", "campaign", st.name, "err", err)
	}
	sites := make(map[string]*site, len(old)+1)
	for k, v := range old {
		sites[k] = v
	}
	sites[st.name] = st
	if s.tailing {
		s.startTails(st)
	}
	s.setSites(sites)
	return nil
}

// newSite checks one campaign and builds what the edge serves for it. One
// collector process may serve several campaigns at one URL: each link
// names its campaign to it (mtls.Mux).
func (s *Server) newSite(c Campaign) (*site, error) {
	if c.Settings == nil {
		return nil, errors.New("edge: campaign without settings")
	}
	if err := c.Settings.Validate(); err != nil {
		return nil, fmt.Errorf("edge: %w", err)
	}
	name := c.Settings.Name
	switch {
	case len(c.UTCSignPub) != ed25519.PublicKeySize:
		return nil, fmt.Errorf("edge: campaign %s: UTCSignPub is %d bytes, want %d", name, len(c.UTCSignPub), ed25519.PublicKeySize)
	case len(c.UTCHole) != ed25519.PrivateKeySize:
		return nil, fmt.Errorf("edge: campaign %s: UTCHole is %d bytes, want %d", name, len(c.UTCHole), ed25519.PrivateKeySize)
	case len(c.VoterKey) < minVoterKey:
		return nil, fmt.Errorf("edge: campaign %s: VoterKey is %d bytes, want at least %d", name, len(c.VoterKey), minVoterKey)
	case c.Link == nil:
		return nil, fmt.Errorf("edge: campaign %s: no credentials for the internal links (Link)", name)
	case c.Link.Self().Role != string(campaign.RoleEdge):
		return nil, fmt.Errorf("edge: campaign %s: the internal links' certificate is for %s", name, c.Link.Self())
	case len(c.Pairs) == 0:
		return nil, fmt.Errorf("edge: campaign %s: no collector pairs", name)
	case len(c.Pairs) > math.MaxUint16:
		return nil, fmt.Errorf("edge: campaign %s: %d collector pairs, at most %d", name, len(c.Pairs), math.MaxUint16)
	}
	hole, err := hedged.New(c.UTCHole)
	if err != nil {
		return nil, fmt.Errorf("edge: campaign %s: UTCHole: %w", name, err)
	}
	if hole.Public().Equal(c.UTCSignPub) {
		return nil, fmt.Errorf("edge: campaign %s: UTCHole is the UTC-SIGN key: decoys would be genuine", name)
	}
	voterKey, err := stamp.NewKey(c.VoterKey)
	if err != nil {
		return nil, fmt.Errorf("edge: campaign %s: VoterKey: %w", name, err)
	}
	st := &site{
		name:     name,
		hole:     hole,
		settings: c.Settings,
		signPub:  c.UTCSignPub,
		voterKey: voterKey,
		pass:     c.Link.Pass(),
		lists:    c.Lists,
		seen:     newSeenVotes(int64((c.Settings.MaxStampAge + stampMargin) / time.Second)),
		decoys:   newDecoyPool(c.Settings.Options, decoyAge),
	}
	seen := make(map[string]int)
	for k, p := range c.Pairs {
		var pair [2]*collector
		for j, raw := range p {
			inst := 2*k + j
			col, err := newCollector(raw, s.cfg.CollectorTimeout, c.Link, inst)
			if err != nil {
				return nil, fmt.Errorf("edge: campaign %s: instance %d: %w", name, inst, err)
			}
			if prev, dup := seen[col.base]; dup {
				return nil, fmt.Errorf("edge: campaign %s: instances %d and %d are both %s", name, prev, inst, col.base)
			}
			seen[col.base] = inst
			col.batch = s.newBatcher(col, st.pass)
			s.clients = append(s.clients, col)
			pair[j] = col
			st.instances = append(st.instances, col)
			st.tails = append(st.tails, s.newTailer(st, k, col))
		}
		st.pairs = append(st.pairs, pair)
	}
	expose := []string{"P-UTC", "P-SIG", "Voter"}
	for i, o := range c.Settings.Options {
		st.listHdr = append(st.listHdr, [2]string{sayName(i), wire.EncodeOption(o)})
		expose = append(expose, sayName(i))
	}
	for i := range c.Settings.Options {
		expose = append(expose, fmt.Sprintf("Receipt%02d", i+1))
	}
	expose = append(expose, "Receipt-Sig", "Cache-Control", "Campaign", "Pow-Threshold")
	st.expose = strings.Join(expose, ", ")
	// Beyond PROTOCOL 5.1: the campaign's name (what Receipt-Sig signs) and
	// its threshold, so that a device knows how much work to do; clients
	// of the reference deployment ignore them.
	st.listHdr = append(st.listHdr,
		[2]string{"Campaign", c.Settings.Name},
		[2]string{"Pow-Threshold", strconv.Itoa(c.Settings.Threshold)},
		[2]string{"Cache-Control", "max-age=" + strconv.Itoa(int(c.Settings.CacheMaxAge().Seconds()))})
	return st, nil
}

// isListPath reports whether path is under the campaign's published files,
// /<campaign>-...: the lists, their checkpoints, tiles, history and key
// (docs/PUBLISHING.md). The lists handler checks the rest of the path.
func isListPath(path []byte, campaign string) bool {
	rest, ok := bytes.CutPrefix(path, []byte("/"+published.Prefix(campaign)))
	return ok && len(rest) > 0 && !bytes.Contains(rest, []byte(".."))
}

func sayName(i int) string { return fmt.Sprintf("Say%02d", i+1) }

// CatchUp reads the vote records of every collecting instance whose
// stamps are still live, so that the edge knows which pair holds each
// recorded vote before it relays any (seen.go). Call it before Serve, and
// give ctx a deadline: an instance that does not answer is read later, in
// the background, and its error is returned.
func (s *Server) CatchUp(ctx context.Context) error {
	return s.catchUp(ctx, slices.Collect(maps.Values(s.siteMap()))...)
}

func (s *Server) catchUp(ctx context.Context, sites ...*site) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, st := range sites {
		for _, t := range st.tails {
			wg.Go(func() {
				err := t.catchUp(ctx)
				t.failing = err != nil
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("edge: campaign %s: read the vote records of %s: %w", st.name, t.c.base, err))
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Serve answers connections from ln, within the connection limits
// (limit.go), until Shutdown. The first call also
// starts reading every instance's new vote records each TailInterval.
func (s *Server) Serve(ln net.Listener) error {
	s.tailOnce.Do(func() {
		s.tailDone.Go(func() { s.prefetch(s.tailCtx) })
		s.mu.Lock()
		defer s.mu.Unlock()
		s.tailing = true
		for _, st := range s.siteMap() {
			s.startTails(st)
		}
	})
	lln, err := s.limitListener(ln)
	if err != nil {
		return fmt.Errorf("edge: %w", err)
	}
	// fasthttp closes only the listeners its Serve has registered: one
	// that Shutdown came before would be served for ever.
	s.lnMu.Lock()
	if s.stopped {
		s.lnMu.Unlock()
		lln.Close()
		return nil
	}
	s.lns = append(s.lns, lln)
	s.lnMu.Unlock()
	s.m.listener.Store(lln)
	s.serving.Store(true)
	if s.cfg.TLS != nil {
		return s.srv.Serve(publictls.Listen(lln, s.cfg.TLS))
	}
	return s.srv.Serve(lln)
}

// startTails starts reading st's instances' new vote records each
// TailInterval.
func (s *Server) startTails(st *site) {
	if s.cfg.TailInterval < 0 {
		return
	}
	for _, t := range st.tails {
		s.tailDone.Go(func() { t.run(s.tailCtx, s.cfg.TailInterval) })
	}
}

// Shutdown stops accepting, lets requests in flight finish and returns when
// they have or when ctx is done; then it stops reading vote records and
// closes idle connections to the collectors.
func (s *Server) Shutdown(ctx context.Context) error {
	s.serving.Store(false)
	s.lnMu.Lock()
	s.stopped = true
	lns := s.lns
	s.lnMu.Unlock()
	err := s.srv.ShutdownWithContext(ctx)
	for _, ln := range lns {
		ln.Close() // closed already, unless Serve had not reached fasthttp's
	}
	s.tailStop()
	// A read of records in flight ends only at its own timeout (fasthttp
	// takes no context): ctx bounds the wait for it.
	done := make(chan struct{})
	go func() { s.tailDone.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.clients {
		c.hc.CloseIdleConnections()
	}
	return err
}

// siteFor picks the campaign by the first label of Host.
func (s *Server) siteFor(host []byte) *site {
	if st := s.single.Load(); st != nil {
		return st
	}
	h := string(host)
	if i := strings.IndexByte(h, '.'); i >= 0 {
		h = h[:i]
	} else if i := strings.IndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	return s.siteMap()[strings.ToLower(h)]
}

// siteForList picks the campaign whose published file path is, or nil:
// of two campaigns "a" and "a-b", /a-b-vote.log is the latter's.
func (s *Server) siteForList(path []byte) *site {
	var best *site
	for _, st := range s.siteMap() {
		if st.lists != nil && isListPath(path, st.name) && (best == nil || len(st.name) > len(best.name)) {
			best = st
		}
	}
	return best
}

// route is what a path asks for.
type route int

const (
	routeNone route = iota
	routeList
	routeStamp
	routeVote
)

func routeOf(path []byte) route {
	switch string(path) {
	case "/list":
		return routeList
	case "/stamp":
		return routeStamp
	}
	if nonceShaped(path) {
		return routeVote
	}
	return routeNone
}

// errPath and errMethod are the causes of the 400s that do not depend on
// headers.
var (
	errNoCampaign = errors.New("no campaign for this Host")
	errPath       = errors.New("no such path")
	errMethod     = errors.New("method not allowed")
	errOrigin     = errors.New("preflight from an origin that is not allowed")
)

// Handle is the request handler.
func (s *Server) Handle(ctx *fasthttp.RequestCtx) {
	// Header names go out exactly as the protocol writes them (P-UTC, not
	// P-Utc); request headers are still matched without regard to case.
	ctx.Response.Header.DisableNormalizing()
	st := s.siteFor(ctx.Host())
	if st == nil && (ctx.IsGet() || ctx.IsHead()) {
		// A published file names its campaign: wget of a list works at
		// the edge's address whatever the Host.
		st = s.siteForList(ctx.Path())
	}
	origin := ctx.Request.Header.Peek("Origin")
	allowed := st != nil && len(origin) > 0 && (s.allowAll || s.origins[string(origin)])
	var err error
	ep := epOther // what the metrics count the request as (metrics.go)
	switch {
	case ctx.IsGet() && s.isStrayWorker(ctx):
		// Before any other route, whatever the Host: a worker may have
		// been registered at any path, a file of the app or a list
		// included, and under a campaign this edge no longer serves.
		s.strayWorker(ctx)
		ep = epStatic
	case isCampaignsPath(ctx):
		s.campaigns(ctx) // whatever the Host (campaigns.go)
		ep = epStatic
	case isCounterRequest(ctx):
		// The path names the campaign, whatever the Host (counter.go).
		st, err = s.counter(ctx)
		ep = epCounter
	case st == nil:
		err = reject(badRequest, errNoCampaign)
	case ctx.IsOptions():
		err = s.preflight(ctx, allowed)
	case st.lists != nil && (ctx.IsGet() || ctx.IsHead()) && isListPath(ctx.Path(), st.name):
		st.lists(ctx)
		ep = epLists
	case !ctx.IsGet():
		err = reject(badRequest, errMethod)
	case s.cfg.Static != nil && isStaticPath(ctx.Request.URI().PathOriginal()):
		err = s.static(ctx, s.cfg.Static)
		ep = epStatic
	default:
		switch routeOf(ctx.Path()) {
		case routeList:
			s.list(ctx, st)
			ep = epList
		case routeStamp:
			err = s.stamp(ctx, st)
			ep = epStamp
		case routeVote:
			err = s.vote(ctx, st)
			ep = epVote
		default:
			err = reject(badRequest, errPath)
		}
	}
	if err != nil {
		st.noteRefusal(err)
		s.fail(ctx, err)
	}
	if ep == epCounter {
		counterHeaders(&ctx.Response.Header) // any origin, errors included
	} else {
		s.addCORS(ctx, st, origin, allowed)
	}
	s.observe(ctx, st, ep)
}

func (s *Server) list(ctx *fasthttp.RequestCtx, st *site) {
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	for _, h := range st.listHdr {
		ctx.Response.Header.Set(h[0], h[1])
	}
	s.counters.add(listServed)
}

// corsMaxAge is how long, in seconds, a browser may keep a preflight
// answer. Browsers cap it (Chromium at 2 hours); the value the edge sends
// only changes when its configuration does.
const corsMaxAge = "7200"

// corsRequestHeaders are the request headers the voter app sends.
const corsRequestHeaders = "TOTP, Auth-Pkey, Auth-Sig, Auth-Id, P-UTC, P-SIG, Voter, Say"

// preflight answers a CORS preflight: 204 for an allowed origin asking
// about a path the edge serves, 400 otherwise. addCORS adds the rest.
func (s *Server) preflight(ctx *fasthttp.RequestCtx, allowed bool) error {
	if !allowed {
		return reject(badRequest, errOrigin)
	}
	if routeOf(ctx.Path()) == routeNone {
		return reject(badRequest, errPath)
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	h := &ctx.Response.Header
	h.Set("Access-Control-Allow-Methods", "GET")
	h.Set("Access-Control-Allow-Headers", corsRequestHeaders)
	h.Set("Access-Control-Max-Age", corsMaxAge)
	s.counters.add(preflights)
	return nil
}

// addCORS adds the CORS headers to any answer, errors included: a page can
// read the status of a cross-origin answer only when they are there, and
// the voter app must tell 487, 488 and 489 apart.
func (s *Server) addCORS(ctx *fasthttp.RequestCtx, st *site, origin []byte, allowed bool) {
	if !s.cors {
		return
	}
	h := &ctx.Response.Header
	// Whether the answer carries CORS headers depends on Origin, so a
	// shared cache must key on it, allowed or not; an answer to a vote
	// varies on the vote's headers already.
	if v := h.Peek("Vary"); len(v) > 0 {
		h.Set("Vary", string(v)+", Origin")
	} else {
		h.Set("Vary", "Origin")
	}
	if !allowed {
		return
	}
	h.SetBytesV("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Expose-Headers", st.expose)
}

// slogPrinter routes fasthttp's own messages to the structured logger.
type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Printf(format string, args ...any) {
	p.l.Warn("fasthttp", "msg", fmt.Sprintf(format, args...))
}
