package dashboard

import (
	"bufio"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/web"
	dashboardweb "github.com/powvote/powvote/web/dashboard"
)

// contentSecurityPolicy lets the page load its own script, styles, data
// and events and nothing else: no other origin, no inline code, no
// frames, no forms. uPlot draws on canvases and sets element styles from
// its script, which style-src does not restrict.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// asset is a static file of the page.
type asset struct {
	fsys        fs.FS
	file        string
	contentType string
}

// assets maps the paths under the prefix to the page's files: its own,
// uPlot, and the language helper the voter app and the check page share.
var assets = map[string]asset{
	"":                         {dashboardweb.FS, "index.html", "text/html; charset=utf-8"},
	"index.html":               {dashboardweb.FS, "index.html", "text/html; charset=utf-8"},
	"dashboard.js":             {dashboardweb.FS, "dashboard.js", "text/javascript; charset=utf-8"},
	"dashboard.css":            {dashboardweb.FS, "dashboard.css", "text/css; charset=utf-8"},
	"i18n/en.json":             {dashboardweb.FS, "i18n/en.json", "application/json"},
	"i18n/de.json":             {dashboardweb.FS, "i18n/de.json", "application/json"},
	"i18n/pl.json":             {dashboardweb.FS, "i18n/pl.json", "application/json"},
	"vendor/uPlot.iife.min.js": {web.FS, "check/vendor/uPlot.iife.min.js", "text/javascript; charset=utf-8"},
	"vendor/uPlot.min.css":     {web.FS, "check/vendor/uPlot.min.css", "text/css; charset=utf-8"},
	"vendor/LICENSE":           {web.FS, "check/vendor/LICENSE", "text/plain; charset=utf-8"},
	"lang.js":                  {web.FS, "voter/lang.js", "text/javascript; charset=utf-8"},
}

// Handler answers the dashboard's requests, whose paths start with the
// prefix (package documentation, HTTP). GET and HEAD only.
func (d *Dashboard) Handler() fasthttp.RequestHandler { return d.handle }

func (d *Dashboard) handle(ctx *fasthttp.RequestCtx) {
	h := &ctx.Response.Header
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("Cache-Control", "no-store")
	if !ctx.IsGet() && !ctx.IsHead() {
		h.Set("Allow", "GET, HEAD")
		text(ctx, fasthttp.StatusMethodNotAllowed, "GET or HEAD only\n")
		return
	}
	path := string(ctx.Path())
	if path+"/" == d.cfg.Prefix {
		ctx.Redirect(d.cfg.Prefix, fasthttp.StatusMovedPermanently)
		return
	}
	rest, ok := strings.CutPrefix(path, d.cfg.Prefix)
	if !ok {
		text(ctx, fasthttp.StatusNotFound, "not found\n")
		return
	}
	switch rest {
	case "data.json":
		ctx.SetStatusCode(fasthttp.StatusOK)
		ctx.SetContentType("application/json")
		ctx.SetBody(*d.full.Load())
		return
	case "events":
		d.serveEvents(ctx)
		return
	}
	a, ok := assets[rest]
	if !ok {
		text(ctx, fasthttp.StatusNotFound, "not found\n")
		return
	}
	body, err := fs.ReadFile(a.fsys, a.file)
	if err != nil {
		// The files are embedded: only a broken build gets here.
		text(ctx, fasthttp.StatusInternalServerError, "internal error\n")
		return
	}
	// The files change with a release: check each time.
	h.Set("Cache-Control", "no-cache")
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType(a.contentType)
	ctx.SetBody(body)
}

func text(ctx *fasthttp.RequestCtx, status int, body string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyString(body)
}

// streamWriteTimeout bounds each write of an event stream: a stream lives
// longer than the server's WriteTimeout, which fasthttp applies to the
// whole answer, so each write moves the connection's deadline on.
const streamWriteTimeout = 10 * time.Second

// serveEvents streams one event per sample (package documentation, HTTP).
func (d *Dashboard) serveEvents(ctx *fasthttp.RequestCtx) {
	select {
	case <-d.done:
		text(ctx, fasthttp.StatusServiceUnavailable, "the dashboard has stopped\n")
		return
	default:
	}
	if d.streams.Add(1) > int64(d.cfg.MaxStreams) {
		d.streams.Add(-1)
		ctx.Response.Header.Set("Retry-After", strconv.Itoa(int(max(d.cfg.Interval.Seconds(), 1))))
		text(ctx, fasthttp.StatusServiceUnavailable, "too many event streams: read data.json\n")
		return
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("text/event-stream")
	if ctx.IsHead() {
		d.streams.Add(-1)
		return
	}
	ch := d.subscribe()
	conn := ctx.Conn()
	serverDone := ctx.Done()
	keepAlive := d.cfg.KeepAlive
	retry := d.cfg.Interval.Milliseconds()
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		defer d.streams.Add(-1)
		defer d.unsubscribe(ch)
		t := time.NewTicker(keepAlive)
		defer t.Stop()
		send := func(parts ...string) bool {
			if conn != nil {
				conn.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
			}
			for _, p := range parts {
				w.WriteString(p)
			}
			return w.Flush() == nil
		}
		// The reconnection delay, and a first line so that the browser
		// knows the stream is open.
		if !send("retry: ", strconv.FormatInt(retry, 10), "\n: open\n\n") {
			return
		}
		for {
			select {
			case ev, ok := <-ch:
				if !ok {
					return // too slow a reader: it reconnects and reads data.json
				}
				if !send("event: sample\ndata: ", string(ev), "\n\n") {
					return
				}
			case <-t.C:
				if !send(": keep-alive\n\n") {
					return
				}
			case <-d.done:
				return
			case <-serverDone:
				return
			}
		}
	})
}

// subscribe returns a channel that gets each sample's event. Its buffer
// lets a reader fall a few events behind; a reader further behind has its
// channel closed (broadcast).
func (d *Dashboard) subscribe() chan []byte {
	ch := make(chan []byte, 4)
	d.subMu.Lock()
	d.subs[ch] = struct{}{}
	d.subMu.Unlock()
	return ch
}

func (d *Dashboard) unsubscribe(ch chan []byte) {
	d.subMu.Lock()
	delete(d.subs, ch)
	d.subMu.Unlock()
}

// broadcast sends ev to every stream, closing the channel of any whose
// buffer is full.
func (d *Dashboard) broadcast(ev []byte) {
	d.subMu.Lock()
	defer d.subMu.Unlock()
	for ch := range d.subs {
		select {
		case ch <- ev:
		default:
			delete(d.subs, ch)
			close(ch)
		}
	}
}
