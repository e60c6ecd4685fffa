package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/collector"
	"github.com/powvote/powvote/internal/mtls"
	"github.com/powvote/powvote/internal/operator"
)

func init() {
	register(command{name: "collector", summary: "run one collecting instance", run: runCollector})
}

const collectorHelp = `
Runs collecting instance N of every campaign in D (of C alone with
--campaign): it checks the votes the edge forwards, stores them in
D/CAMPAIGN/collector-N (the votes in votes.log, the voter table, votes
and links in Pebble databases apart) and answers with signed receipts.
The campaigns share the port: each caller names its campaign in the TLS
handshake. SIGHUP starts the campaigns added to D since (each checked
first; one that fails is logged and the others serve on). A campaign
whose store cannot open or refuses a write stops alone and is opened
again after a pause; a process that serves one campaign exits instead,
for its supervisor to restart it.
Instances 2k and 2k+1 are twins: give each the other's URL with --twin; at
start an instance catches up from its twin before it takes votes.

It speaks TLS 1.3 and requires a client certificate of the campaign's
internal CA: D holds the certificate and key powvote export --role
collector wrote (or, in the directory powvote init made, the CA's key, and
the instance gets a certificate in memory). Each caller may use only what
its role needs (docs/INTERNAL.md, Authorisation): the edge votes and takes
stamps, the twin pulls, the publisher reads the records. SIGHUP reloads the
certificate.

--metrics HOST:PORT serves the operator endpoints: GET /metrics
(Prometheus text), /health and /ready (docs/OPERATIONS.md), on a
loopback or private address; and the back office (/login) once D holds
operator accounts (powvote operator add; SIGHUP reloads them).

Once the campaign is closed (its end plus max_stamp_age) and the twin has
confirmed every vote, the instance purges its data directory: it keeps no
link between a voter and a vote (docs/MIRRORS.md, What a disk reveals).
"powvote collector purge" does the same to a stopped instance.

--rebuild replaces an instance whose disk is lost for good: of each
campaign whose data directory is empty or absent, it copies the twin's state over the internal link
(GET /snapshot), checks the copy against the counts and hashes the twin
sent, makes it durable, and only then takes votes; /health answers 503
meanwhile. A copy that does not check stops the command and leaves the
directory empty. The rebuilt log has a new identity, and the publisher
and the edges read it again from its start (docs/MIRRORS.md, Replacing a
lost instance). A campaign whose data directory holds data starts from
it, flag or not: a rebuild never writes over data, and a supervisor may
start the command again with the flag once the rebuild is done.

"powvote collector backup" takes a consistent copy of a running instance
(docs/MIRRORS.md, Backups).

Examples:
  powvote collector --dir /srv/powvote --instance 0 --listen 10.0.0.1:9100 --twin https://10.0.0.2:9100
  powvote collector --dir /srv/powvote --instance 1 --listen 10.0.0.2:9100 --twin https://10.0.0.1:9100 --rebuild
`

const collectorBackupHelp = `
Takes a consistent copy of running collecting instance N, the URL --from,
into --out, which must be empty or absent: what its twin would copy for a
rebuild (GET /snapshot), checked the same way. Only the twin may ask for
it, so D must hold a collector certificate for instance N^1 or for any
instance (the campaign directory powvote init made, or an export for the
twin's machine).

The copy is a data directory of instance N: its vote log, its voter table,
its receipts, its counters and the links it still holds for its twin.
Those links tie voters to the votes of the last few seconds: keep the
copy as you keep the collector's disk (the command writes it 0700/0600).
"powvote collector --data OUT --instance N" starts from it, with a new log
identity. While the twin runs, rebuild from it instead (--rebuild): the
twin holds everything since the backup (docs/MIRRORS.md, Backups).

Example:
  powvote collector backup --dir /srv/powvote --instance 0 --from https://10.0.0.1:9100 --out /backup/collector-0-monday
`

func runCollectorBackup(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "collector backup", "--dir D [--campaign C] --instance N --from URL --out DIR", collectorBackupHelp)
	in := addInstanceFlags(fs, "instance to back up (required)")
	from := fs.String("from", "", "base URL of the instance to back up (required)")
	out := fs.String("out", "", "directory to write, empty or absent (required)")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *in.dir == "" || *in.instance < 0 || *from == "" || *out == "" {
		return usagef("--dir, --instance, --from and --out are required")
	}
	c, _, log, err := in.load(e)
	if err != nil {
		return err
	}
	// The twin's certificate: only the twin may take a snapshot.
	link, err := internalLink(ctx, c, campaign.RoleCollector, *in.instance^1, log)
	if err != nil {
		return err
	}
	info, err := collector.Backup(ctx, collector.BackupConfig{Settings: c.Settings, Instance: *in.instance, From: *from, Link: link, Out: *out, Log: log})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "backed up collector %d into %s: %d vote records, %d voters, %d links held for the twin\n",
		*in.instance, *out, info.Index, info.Voters, info.Links)
	return nil
}

const collectorPurgeHelp = `
Purges the data directory of collecting instance N, which must not be
running: every voter record goes into the voter table, sorted, and the
databases are compacted so that no file keeps a link between a voter and a
vote. A running instance does this itself once the campaign is closed and
its twin has confirmed its votes.

The twin's confirmations live in the running instance's memory, so links
still held are kept, and the command fails saying how many, unless --force
drops them: their votes then never reach the twin from this instance. Use
--force only once the twin holds every vote (compare the counts on both
dashboards) or is lost for good.

Example:
  powvote collector purge --dir /srv/powvote --instance 0
`

func runCollectorPurge(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "collector purge", "--dir D [--campaign C] --instance N [--force]", collectorPurgeHelp)
	in := addInstanceFlags(fs, "instance number (required)")
	force := fs.Bool("force", false, "drop links the twin has not confirmed")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *in.dir == "" || *in.instance < 0 {
		return usagef("--dir and --instance are required")
	}
	c, data, log, err := in.load(e)
	if err != nil {
		return err
	}
	links, pending, err := collector.Purge(ctx, data, c.Settings, *force, log)
	if errors.Is(err, collector.ErrUnconfirmed) {
		return fmt.Errorf("%w\nrun the instance until its twin has pulled (it purges itself after the close), or give --force", err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "purged %s: moved %d voter records, dropped %d links\n", data, pending, links)
	return nil
}

func runCollector(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 && args[0] == "purge" {
		return runCollectorPurge(ctx, e, args[1:])
	}
	if len(args) > 0 && args[0] == "backup" {
		return runCollectorBackup(ctx, e, args[1:])
	}
	fs := newFlags(e, "collector", "--dir D [--campaign C] --instance N --listen HOST:PORT [--twin URL] [--rebuild]", collectorHelp)
	in := addInstanceFlags(fs, "instance number (required); 2k and 2k+1 form pair k")
	listen := fs.String("listen", "", "address to listen on, private network only (required)")
	twin := fs.String("twin", "", "base URL of the twin instance (https://HOST:PORT)")
	rebuild := fs.Bool("rebuild", false, "start from the twin's state: the data directory must be empty (an instance whose disk is lost)")
	skew := fs.Duration("clock-skew", 0, "run this instance's clock this far ahead (negative: behind) of the machine's, for fault drills")
	mf := addMetricsFlag(fs)
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if err := mf.load(); err != nil {
		return err
	}
	if *in.dir == "" || *listen == "" || *in.instance < 0 {
		return usagef("--dir, --instance and --listen are required")
	}
	if t := strings.TrimRight(*twin, "/"); t == "http://"+*listen || t == "https://"+*listen {
		return usagef("--twin %s is this instance itself; give the other instance of the pair", *twin)
	}
	only := *in.name
	if *in.data != "" && only == "" {
		// One data directory holds one campaign's instance.
		n, err := campaign.Resolve(*in.dir, "")
		if err != nil {
			return usagef("--data names one campaign's data: give --campaign (%v)", err)
		}
		only = n
	}
	logger, err := newLogger(e)
	if err != nil {
		return err
	}
	instance := *in.instance
	log := logger.With("component", "collector", "instance", instance)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *listen, err)
	}
	mux := mtls.NewMux(ln, log)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// One set of metrics for every campaign's instance, labelled by
	// campaign, and their readiness.
	mset := metrics.NewSet()
	var readiness operator.Readiness
	fatal := make(chan error, 1)
	var wg sync.WaitGroup
	var set *campaignSet
	var (
		boardsMu sync.Mutex
		boards   []*campaign.Settings // the campaigns opened, for the dashboard
	)
	set = newCampaignSet(*in.dir, only, campaign.RoleCollector, log, func(ctx context.Context, c *campaign.Campaign) error {
		name := c.Settings.Name
		boardsMu.Lock()
		boards = append(boards, c.Settings)
		boardsMu.Unlock()
		clog := log.With("campaign", name)
		link, err := internalLink(ctx, c, campaign.RoleCollector, instance, clog)
		if err != nil {
			return err
		}
		data := *in.data
		if data == "" {
			data = c.CollectorDir(instance)
		}
		cfg := collector.ConfigFor(c, instance, data, *twin, link)
		cfg.Logger, cfg.Metrics = clog, mset
		if *rebuild {
			// Only an instance whose data is gone is rebuilt; one that
			// holds data (already rebuilt, when a supervisor starts the
			// command again with the flag) starts from it.
			if err := collector.CheckEmpty(data); err == nil {
				cfg.Rebuild = true
			} else {
				clog.Info("--rebuild: the data directory holds data; starting from it", "dir", data)
			}
		}
		if *skew != 0 {
			d := *skew
			cfg.Clock = func() time.Time { return time.Now().Add(d) }
			clog.Warn("clock skewed for a fault drill", "skew", d)
		}
		srv, err := collector.New(cfg)
		if err != nil {
			return err
		}
		var cur atomic.Pointer[collector.Server] // reopened after a failure
		cur.Store(srv)
		readiness.Add(func() error { return cur.Load().Ready() })
		fmt.Fprintf(e.Stdout, "collector %d of %s listening on %s\n", instance, name, ln.Addr())
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := runCollectorCampaign(ctx, &cur, cfg, mux, set.count); err != nil {
				select {
				case fatal <- err:
				default:
				}
			}
		}()
		return nil
	})
	if err := set.open(ctx); err != nil {
		ln.Close()
		return err
	}
	if err := startOperator(ctx, mf, mset, readiness.Check, log, *in.dir); err != nil {
		ln.Close()
		return err
	}
	boardsMu.Lock()
	opened := slices.Clone(boards)
	boardsMu.Unlock()
	if err := mf.startDashboard(ctx, mset, settingsCampaigns(opened, make([]fasthttp.RequestHandler, len(opened))), log); err != nil {
		return err
	}
	set.watch(ctx)
	muxErr := make(chan error, 1)
	go func() { muxErr <- mux.Serve(ctx) }()
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-fatal:
	case runErr = <-muxErr:
	}
	cancel()
	wg.Wait()
	return runErr
}

// collectorRestart bounds the wait before a campaign's instance that
// stopped is started again in a process that serves other campaigns too.
const collectorRestart = 30 * time.Second

// runCollectorCampaign runs one campaign's instance on its share of the
// port until ctx ends. When it stops on its own (its store refused a
// write: a full or failing disk), a process that serves only this campaign
// returns the error for its supervisor to restart it; one that serves
// others too keeps them serving and reopens this one after a pause, as a
// restart would (reopening repairs what the failure left).
func runCollectorCampaign(ctx context.Context, cur *atomic.Pointer[collector.Server], cfg collector.Config, mux *mtls.Mux, campaigns func() int) error {
	wait := time.Second
	for {
		srv := cur.Load()
		err := srv.Run(ctx, mux.Listener(cfg.Settings.Name))
		if ctx.Err() != nil {
			return nil
		}
		if campaigns() <= 1 {
			return err
		}
		srv.UnregisterMetrics()
		for {
			cfg.Logger.Error("this campaign's instance stopped; the process's other campaigns serve on, and it starts again", "err", err, "in", wait)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
			wait = min(2*wait, collectorRestart)
			if srv, err = collector.New(cfg); err == nil {
				cur.Store(srv)
				break
			}
		}
	}
}

// instanceFlags are the flags that name a collecting instance's data.
type instanceFlags struct {
	dir, name, data *string
	instance        *int
}

func addInstanceFlags(fs *flag.FlagSet, instanceUsage string) instanceFlags {
	return instanceFlags{
		dir:      fs.String("dir", "", "directory that holds campaigns (required)"),
		name:     fs.String("campaign", "", "campaign (default: the only one in D)"),
		instance: fs.Int("instance", -1, instanceUsage),
		data:     fs.String("data", "", "data directory (default D/CAMPAIGN/collector-N)"),
	}
}

// load reads the collector's export and returns it with the instance's
// data directory and a logger that names the instance.
func (f instanceFlags) load(e *env) (*campaign.Campaign, string, *slog.Logger, error) {
	c, err := loadRole(*f.dir, *f.name, campaign.RoleCollector)
	if err != nil {
		return nil, "", nil, err
	}
	data := *f.data
	if data == "" {
		data = c.CollectorDir(*f.instance)
	}
	logger, err := newLogger(e)
	if err != nil {
		return nil, "", nil, err
	}
	return c, data, logger.With("component", "collector", "instance", *f.instance), nil
}
