// Package downloads serves the auditors' downloads in the back office
// (package backoffice) of a process that runs publishers: each campaign's
// archive once it is closed, its lists and checkpoints as published, and
// the election report of `powvote audit --report` computed from them. Its
// Server is mounted at Prefix with the right backoffice.Download, which
// only the auditor role has: viewers and operators get 403, and a request
// without a session 401 (or the sign-in page), before this package sees
// it; Handle checks the right again, and answers 403 to a request the
// back office did not let in with it.
//
// # Paths
//
// Under Prefix ("/downloads/"), for campaign C:
//
//	/downloads/                    a page listing every campaign and its files (HTML)
//	/downloads/C/report.html       the election report (audit.Report.WriteHTML), shown inline
//	/downloads/C/archive.tar.gz    the archive C-archive.tar.gz, as published: 404 before the close
//	/downloads/C/NAME              a file the publisher serves as NAME: C-vote.log, C-auth.log,
//	                               C-retracted.log, C-history.log, C-W.checkpoint and
//	                               C-W.checkpoint.<n> (W: vote, auth or retracted), C-settings.yaml,
//	                               C-log.vkey, C-receipt.key, C-keys.txt (after the close)
//
// GET and HEAD only. Every file but the report is sent as an attachment
// under its published name, with the publisher's ETag, Last-Modified and
// ranges (curl -C resumes a download); the back office adds Cache-Control:
// no-store. The bytes are those the publisher serves on its public
// listener: they are read from its handler (publisher.Publisher.Handle)
// in the process, never from its folder, which may hold bytes a round has
// written and not yet committed.
//
// # The report
//
// The report is what `powvote audit` says of the files the publisher
// serves, with the settings and the log key it serves too: the report
// names them as the source's, not the auditor's own copies, and an
// independent audit runs `powvote audit --settings FILE --log-key KEY`
// elsewhere. Auditing a large campaign takes time (every proof of work
// and every mandate's signature), so:
//
//   - a Server computes one report at a time, on Config.Workers
//     goroutines (half the cores: the process takes votes meanwhile);
//   - it keeps each campaign's latest report, by the size of the votes
//     list's latest checkpoint and whether the campaign is closed (the
//     close publishes the keys the platform-stamp check needs): a second
//     download at that size is served from memory. A campaign without
//     checkpoints (a publisher without a log key) is audited at each
//     download;
//   - a request waits up to Config.Wait (5 s) for the report it asked;
//     then, or while another report is being computed, it is answered
//     202 Accepted with Retry-After and a page that reloads itself, and
//     the computation goes on in the background. A report that could not
//     be computed (a list that could not be read) is answered 500, and the
//     next request tries again.
//
// The operator listener's write timeout (10 s) bounds writing an answer,
// not computing it; the answers under Prefix get 30 minutes
// (operator.Config.LongWrites) so that an archive of a large campaign
// reaches a distant auditor.
//
// # The action log
//
// Every GET of a campaign's file or report is recorded in the back
// office's action log (backoffice.Record): action "download", target
// "C/FILE" ("solar/archive.tar.gz", "solar/report.html",
// "solar/solar-vote.log") and outcome: "ok" once the answer is ready to be
// sent (a download cut short afterwards is not told apart), else why not.
// A download the log cannot hold is refused (503), like a sign-in: no
// auditor takes a file without a trace. The listing page and HEAD are not
// recorded.
package downloads

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/backoffice"
	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/published"
)

// Prefix is the path the Server is mounted at.
const Prefix = "/downloads/"

// ActionDownload is the action of the action log's entries.
const ActionDownload = "download"

// The files of a campaign that the Server names itself.
const (
	ReportFile  = "report.html"
	ArchiveFile = "archive.tar.gz"
)

// Config tunes a Server. Zero values mean the defaults named.
type Config struct {
	// Workers are the goroutines that verify a report's lines; zero:
	// half of GOMAXPROCS, at least one.
	Workers int
	// Wait is how long a request for a report waits for it before it is
	// answered 202; zero: 5 s.
	Wait time.Duration
	// RetryAfter is the Retry-After of a 202, and how soon its page
	// reloads; zero: 5 s.
	RetryAfter time.Duration
	// Logger gets the reports computed and what goes wrong; nil: discard.
	Logger *slog.Logger
}

// Campaign is one campaign whose files a Server serves.
type Campaign struct {
	Name string
	// Files answers GET and HEAD of the campaign's published files by
	// their names (published.LogName, ...), as publisher.Publisher.Handle
	// does: 404 for a file not published yet.
	Files fasthttp.RequestHandler
}

// Server answers the requests under Prefix. Safe for concurrent use.
type Server struct {
	ctx context.Context // bounds the reports computed in the background
	cfg Config
	log *slog.Logger

	mu        sync.Mutex
	campaigns []*entry // in the order added; guarded by mu
	job       *job     // the report being computed, nil when none; guarded by mu

	// onCompute, when set (tests), is called as a report's computation
	// starts.
	onCompute func(campaign string)
}

// entry is a campaign and its latest report.
type entry struct {
	name   string
	files  fasthttp.RequestHandler
	latest *cached // guarded by Server.mu
}

// New makes a Server with no campaign; ctx bounds the reports it computes
// in the background.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Workers < 0 || cfg.Wait < 0 || cfg.RetryAfter < 0 {
		return nil, errors.New("downloads: negative Workers, Wait or RetryAfter")
	}
	if cfg.Workers == 0 {
		cfg.Workers = max(runtime.GOMAXPROCS(0)/2, 1)
	}
	if cfg.Wait == 0 {
		cfg.Wait = 5 * time.Second
	}
	if cfg.RetryAfter == 0 {
		cfg.RetryAfter = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{ctx: ctx, cfg: cfg, log: cfg.Logger}, nil
}

// Add serves a campaign's files from now on. It refuses a name that is
// not a campaign's, one added already, and a nil Files.
func (s *Server) Add(c Campaign) error {
	if err := campaign.ValidateName(c.Name); err != nil {
		return fmt.Errorf("downloads: %w", err)
	}
	if c.Files == nil {
		return fmt.Errorf("downloads: campaign %s: no handler of its files", c.Name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.ContainsFunc(s.campaigns, func(e *entry) bool { return e.name == c.Name }) {
		return fmt.Errorf("downloads: campaign %s added twice", c.Name)
	}
	s.campaigns = append(s.campaigns, &entry{name: c.Name, files: c.Files})
	return nil
}

// Mount is the Server's mount in the back office: Prefix, for the
// accounts with the right Download.
func (s *Server) Mount() backoffice.Mount {
	return backoffice.Mount{Prefix: Prefix, Title: "Downloads", Read: backoffice.Download, Handler: s.Handle}
}

func (s *Server) campaign(name string) *entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.campaigns {
		if e.name == name {
			return e
		}
	}
	return nil
}

func (s *Server) list() []*entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.campaigns)
}

// Handle answers a request under Prefix (package documentation, Paths).
func (s *Server) Handle(ctx *fasthttp.RequestCtx) {
	// The back office lets only the right Download in; this says so
	// again, should the handler ever be mounted with another right, or
	// served without the back office.
	if u, ok := backoffice.Who(ctx); !ok || !u.Role.Can(backoffice.Download) {
		plain(ctx, fasthttp.StatusForbidden, "forbidden: downloads are for auditors\n")
		return
	}
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.Response.Header.Set("Allow", "GET, HEAD")
		plain(ctx, fasthttp.StatusMethodNotAllowed, "GET or HEAD only\n")
		return
	}
	rest, ok := strings.CutPrefix(string(ctx.Path()), Prefix)
	if !ok {
		plain(ctx, fasthttp.StatusNotFound, "not found\n")
		return
	}
	switch rest {
	case "":
		s.serveIndex(ctx)
		return
	case cssFile:
		ctx.SetContentType("text/css; charset=utf-8")
		ctx.SetBody(css)
		return
	}
	name, file, ok := strings.Cut(rest, "/")
	e := s.campaign(name)
	if !ok || e == nil {
		plain(ctx, fasthttp.StatusNotFound, "not found: no such campaign here\n")
		return
	}
	switch {
	case file == ReportFile:
		s.serveReport(ctx, e)
	case file == ArchiveFile:
		s.serveFile(ctx, e, file, published.ArchiveName(e.name))
	case servable(e.name, file):
		s.serveFile(ctx, e, file, file)
	default:
		plain(ctx, fasthttp.StatusNotFound, "not found: "+e.name+" has no such file\n")
	}
}

// servable reports whether name is one of the campaign's published files
// served under its own name: not the tiles (for tlog-tiles clients, on
// the public listener), not the archive (ArchiveFile).
func servable(campaign, name string) bool {
	f, ok := published.Parse(campaign, name)
	if !ok {
		return false
	}
	switch f.Kind {
	case published.Log, published.Checkpoint, published.KeptCheckpoint, published.History,
		published.LogKey, published.Settings, published.ReceiptKey, published.Keys:
		return true
	}
	return false
}

// forwarded are the request headers a download passes on to the
// publisher's handler: ranges and conditions, to resume a download.
var forwarded = []string{"Range", "If-Range", "If-Match", "If-None-Match", "If-Modified-Since"}

// copied are the answer headers a download passes back.
var copied = []string{"Content-Type", "ETag", "Last-Modified", "Accept-Ranges", "Content-Range"}

// serveFile answers the campaign's published file name, downloaded as
// file ("archive.tar.gz" or name itself), as the publisher serves it.
func (s *Server) serveFile(ctx *fasthttp.RequestCtx, e *entry, file, name string) {
	sub := e.request(string(ctx.Method()), name, &ctx.Request.Header)
	status := sub.Response.StatusCode()
	var outcome error
	switch {
	case status == fasthttp.StatusOK || status == fasthttp.StatusPartialContent || status == fasthttp.StatusNotModified:
	case status == fasthttp.StatusNotFound && name == published.ArchiveName(e.name):
		outcome = errors.New("not published: the campaign is not closed (404)")
	case status == fasthttp.StatusNotFound:
		outcome = errors.New("not published yet (404)")
	default:
		outcome = fmt.Errorf("the publisher answered %d", status)
	}
	if !s.record(ctx, e.name+"/"+file, outcome) {
		return
	}
	h := &ctx.Response.Header
	for _, k := range copied {
		if v := sub.Response.Header.Peek(k); len(v) > 0 {
			h.SetBytesV(k, v)
		}
	}
	ctx.SetStatusCode(status)
	if status == fasthttp.StatusNotFound {
		plain(ctx, status, "not found: "+outcome.Error()+"\n")
		return
	}
	if status == fasthttp.StatusOK || status == fasthttp.StatusPartialContent {
		h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	}
	switch {
	case ctx.IsHead():
		ctx.Response.SkipBody = true
		h.SetContentLength(sub.Response.Header.ContentLength())
	case sub.Response.IsBodyStream():
		ctx.SetBodyStream(sub.Response.BodyStream(), sub.Response.Header.ContentLength())
	default:
		ctx.SetBody(sub.Response.Body())
	}
}

// record appends a GET's download to the action log, and reports whether
// the answer may go on: a download the log cannot hold is answered 503.
// HEAD is not recorded.
func (s *Server) record(ctx *fasthttp.RequestCtx, target string, outcome error) bool {
	if !ctx.IsGet() {
		return true
	}
	err := backoffice.Record(ctx, ActionDownload, target, outcome)
	if err == nil {
		return true
	}
	s.log.Error("couldn't write the action log; download refused", "err", err, "target", target)
	plain(ctx, fasthttp.StatusServiceUnavailable, "the action log cannot be written: no download until it can (see the server's log)\n")
	return false
}

// request makes an in-process request for the campaign's file name to its
// handler, with the headers of forwarded that from holds (nil: none).
func (e *entry) request(method, name string, from *fasthttp.RequestHeader) *fasthttp.RequestCtx {
	var req fasthttp.Request
	req.SetRequestURI("/" + name)
	req.Header.SetMethod(method)
	if from != nil {
		for _, k := range forwarded {
			if v := from.Peek(k); len(v) > 0 {
				req.Header.SetBytesV(k, v)
			}
		}
	}
	rc := new(fasthttp.RequestCtx)
	rc.Init(&req, loopback, nil)
	e.files(rc)
	return rc
}

// loopback is the client address of the in-process requests.
var loopback = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}

func plain(ctx *fasthttp.RequestCtx, status int, body string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyString(body)
}

func seconds(d time.Duration) string {
	return strconv.Itoa(int((d + time.Second - 1) / time.Second))
}
