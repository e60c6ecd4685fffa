package downloads

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/audit"
	"github.com/powvote/powvote/backoffice"
	"github.com/powvote/powvote/published"
)

// cached is a campaign's latest report.
type cached struct {
	key  key
	html []byte
}

// job is a report being computed. html and err are written before done
// is closed, and read only after.
type job struct {
	campaign *entry
	key      key
	done     chan struct{}
	html     []byte
	err      error
}

// Outcomes of a report that is not served now.
var (
	errComputing = errors.New("not ready: the report is being computed (202)")
	errBusy      = errors.New("not ready: another report is being computed (202)")
)

// serveReport answers the campaign's report: the one kept when it is of
// the campaign's current key, else the one being computed for it if it
// comes within Config.Wait, else 202.
func (s *Server) serveReport(ctx *fasthttp.RequestCtx, e *entry) {
	target := e.name + "/" + ReportFile
	k, signed, err := e.state()
	if err != nil {
		s.log.Error("couldn't read the campaign's state for its report", "campaign", e.name, "err", err)
		if s.record(ctx, target, err) {
			plain(ctx, fasthttp.StatusInternalServerError, "couldn't read the published files (see the server's log)\n")
		}
		return
	}
	s.mu.Lock()
	if c := e.latest; signed && c != nil && c.key == k {
		s.mu.Unlock()
		s.sendReport(ctx, e, target, c.html)
		return
	}
	j := s.job
	switch {
	case j == nil:
		j = s.startLocked(e, k, signed)
	case j.campaign != e || j.key != k:
		s.mu.Unlock()
		s.accepted(ctx, target, errBusy)
		return
	}
	s.mu.Unlock()

	t := time.NewTimer(s.cfg.Wait)
	defer t.Stop()
	select {
	case <-j.done:
	case <-t.C:
		s.accepted(ctx, target, errComputing)
		return
	case <-s.ctx.Done():
		plain(ctx, fasthttp.StatusServiceUnavailable, "shutting down\n")
		return
	}
	if j.err != nil {
		if s.record(ctx, target, fmt.Errorf("couldn't compute the report: %w", j.err)) {
			plain(ctx, fasthttp.StatusInternalServerError, "couldn't compute the report (see the server's log); ask again to try again\n")
		}
		return
	}
	s.sendReport(ctx, e, target, j.html)
}

// startLocked starts computing the report of e at k in the background.
// The caller holds s.mu.
func (s *Server) startLocked(e *entry, k key, keep bool) *job {
	j := &job{campaign: e, key: k, done: make(chan struct{})}
	s.job = j
	go func() {
		start := time.Now()
		html, err := s.compute(s.ctx, e)
		s.mu.Lock()
		j.html, j.err = html, err
		if err == nil && keep {
			e.latest = &cached{key: k, html: html}
		}
		s.job = nil
		s.mu.Unlock()
		close(j.done)
		switch {
		case err != nil && s.ctx.Err() != nil:
			return // shutting down
		case err != nil:
			s.log.Error("couldn't compute the election report", "campaign", e.name, "err", err)
			return
		}
		s.log.Info("election report computed", "campaign", e.name, "votes_checkpoint", k.votes, "closed", k.closed, "took", time.Since(start).Round(time.Millisecond))
	}()
	return j
}

// compute audits the campaign's published files as its handler serves
// them, with the settings and log key it serves, and writes the report.
func (s *Server) compute(ctx context.Context, e *entry) ([]byte, error) {
	if s.onCompute != nil {
		s.onCompute(e.name)
	}
	src := handlerSource{e}
	settings, data, err := audit.OpenSettings(src, published.SettingsName(e.name))
	if err != nil {
		return nil, err
	}
	r, err := audit.Run(ctx, src, settings, audit.Options{
		Workers:      s.cfg.Workers,
		Logs:         &audit.LogOptions{},
		SettingsData: data,
	})
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := r.WriteHTML(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// sendReport answers a report, shown inline. Its style sheet is inline:
// its own Content-Security-Policy allows that one style element, by its
// hash, and nothing else.
func (s *Server) sendReport(ctx *fasthttp.RequestCtx, e *entry, target string, html []byte) {
	if !s.record(ctx, target, nil) {
		return
	}
	h := &ctx.Response.Header
	h.Set("Content-Security-Policy", reportCSP(html))
	h.Set("Content-Disposition", `inline; filename="`+e.name+`-report.html"`)
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetBody(html)
}

// reportCSP is the policy of a report: nothing is fetched, nothing runs,
// and its <style> element applies.
func reportCSP(html []byte) string {
	policy := "default-src 'none'; frame-ancestors 'none'; form-action 'none'; base-uri 'none'"
	_, rest, ok := bytes.Cut(html, []byte("<style>"))
	if !ok {
		return policy
	}
	style, _, ok := bytes.Cut(rest, []byte("</style>"))
	if !ok {
		return policy
	}
	sum := sha256.Sum256(style)
	return policy + "; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// accepted answers 202: the report is not ready; the page reloads after
// Config.RetryAfter.
func (s *Server) accepted(ctx *fasthttp.RequestCtx, target string, why error) {
	if !s.record(ctx, target, why) {
		return
	}
	after := seconds(s.cfg.RetryAfter)
	ctx.Response.Header.Set("Retry-After", after)
	ctx.SetStatusCode(fasthttp.StatusAccepted)
	ctx.SetContentType("text/html; charset=utf-8")
	lang := backoffice.Language(ctx)
	ctx.SetBody(render("wait", page{Lang: lang, T: languages[lang], Refresh: after, Busy: errors.Is(why, errBusy)}))
}
