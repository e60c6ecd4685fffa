package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/dashboard"
	"github.com/powvote/powvote/internal/operator/operatortest"
	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/pow"
	"github.com/powvote/powvote/totp"
)

// TestBrowserDashboard runs `powvote up` with its operator endpoints and
// an organizer dashboard that reads them as it reads the processes of a
// deployment run apart (--dashboard-scrape), with the history from the
// edge, served on a loopback listener as the operator listener serves it,
// in seconds where the real one counts minutes. Chromium shows it at
// 360 px; a burst of votes and a flood of junk votes answered 489 raise
// their flags, and the live count is the votes the edge acknowledged.
// With POWVOTE_SCREENSHOTS=1 it writes docs/screenshots/dashboard.png.
func TestBrowserDashboard(t *testing.T) {
	b := newBrowser(t)
	data := filepath.Join(t.TempDir(), "pv")
	metricsAddr := freeAddr(t)
	p := startUp(t, data, "--metrics", metricsAddr)
	defer p.stop(t)
	hc := &http.Client{Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	eventually(t, "powvote up is ready", func() bool {
		resp, err := hc.Get("http://" + metricsAddr + "/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	c, err := campaign.Load(data, "solar")
	if err != nil {
		t.Fatal(err)
	}

	// The votes' stamps and work first, so that the burst takes no
	// longer than sending them: a stamp for each, and one for the junk.
	const burst, junk = 15, 40
	tokens := strings.Fields(mustRun(t, "mandates", "--key", filepath.Join(data, "solar", campaign.DemoAuthorityKey), "--count", fmt.Sprint(burst), "--format", "tokens"))
	var votes []*http.Request
	for i, tok := range tokens {
		v := stampFor(t, hc, p.edge, c)
		v.Option = c.Settings.Options[i%len(c.Settings.Options)]
		res, err := (&pow.Solver{Workers: 2}).Solve(context.Background(), v.Work(), c.Settings.Threshold)
		if err != nil {
			t.Fatal(err)
		}
		v.Nonce = res.Nonce
		votes = append(votes, voteRequest(t, p.edge, tok, v))
	}
	// Junk: a real stamp and mandate, a nonce whose work is below the
	// threshold. The edge answers 489 before it looks at anything else.
	jv := stampFor(t, hc, p.edge, c)
	jv.Option = c.Settings.Options[0]
	var junks []*http.Request
	for len(junks) < junk {
		jv.Nonce = make([]byte, 16)
		rand.Read(jv.Nonce)
		if pow.Score(pow.Digest(jv.Work(), jv.Nonce)) >= c.Settings.Threshold {
			continue
		}
		junks = append(junks, voteRequest(t, p.edge, tokens[0], jv))
	}

	// The dashboard, as a command would make it from its flags.
	fs := flag.NewFlagSet("dashboard", flag.ContinueOnError)
	df := addDashboardFlags(fs)
	if err := fs.Parse([]string{"--dashboard-scrape", "http://" + metricsAddr + "/metrics", "--anomaly-factor", "3"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := df.config(nil, []dashboard.Campaign{{Name: "solar", Options: c.Settings.Options, History: dashboard.HTTPHistory(nil, p.edge, "solar")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Interval, cfg.Bucket, cfg.KeepAlive, cfg.MaxStreams = 500*time.Millisecond, 3*time.Second, 200*time.Millisecond, 1
	cfg.Anomaly.Trailing, cfg.Anomaly.MinTrailing, cfg.Anomaly.MinCount = 5, 2, 5
	d, err := dashboard.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- d.Run(ctx) }()
	defer func() {
		cancel()
		<-ran
	}()
	url := serveDashboard(t, d.Handler())

	// Any breach of the page's content security policy is kept.
	if _, err := chromedp.Call(b.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.cspViolations = []; document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));`,
	}); err != nil {
		t.Fatal(err)
	}
	section := `section[data-campaign="solar"]`
	b.do("open the dashboard", chromedp.EmulateViewport(360, 800), chromedp.Navigate(url+"/dashboard/?lang=en"),
		chromedp.WaitVisible(chromedp.CSS(section+` [data-field="acknowledged"]`)))
	eventuallyJS(t, b, "the events stream", `document.getElementById('status').dataset.mode === 'live'`)
	// Two quiet buckets before the burst, against which it is judged.
	eventuallyJS(t, b, "two buckets sampled", `window.powvoteDashboard.state.data.t.length >= 3`)
	if flags := evalJS[int](b, `document.querySelectorAll('li.flag').length`); flags != 0 {
		t.Errorf("%d flags before any vote: %s", flags, b.text(section+" .flags"))
	}

	codes := send(hc, votes)
	if codes[http.StatusNoContent] != burst {
		t.Fatalf("the burst was answered %v, want %d × 204", codes, burst)
	}
	if codes := send(hc, junks); codes[489] != junk {
		t.Fatalf("the junk was answered %v, want %d × 489", codes, junk)
	}

	// The live count, as the page shows it, is the votes the edge
	// acknowledged, and its refusals the junk.
	eventuallyJS(t, b, "the live count", fmt.Sprintf(`document.querySelector('%s [data-field="acknowledged"]').dataset.value === '%d'`, section, burst))
	eventuallyJS(t, b, "the refusals", fmt.Sprintf(`document.querySelector('%s [data-field="refused"]').dataset.value === '%d'`, section, junk))
	if shown := b.text(section + ` [data-field="acknowledged"]`); shown != fmt.Sprint(burst) {
		t.Errorf("the page shows %q votes acknowledged, want %d", shown, burst)
	}
	resp, err := hc.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	s, err := operatortest.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Get(t, "powvote_edge_requests_total", "campaign", "solar", "endpoint", "vote", "code", "204"); got != burst {
		t.Errorf("the edge acknowledged %v votes, the page shows %d", got, burst)
	}

	// The votes published: all but a batch, which the publisher keeps
	// back (docs/PUBLISHING.md), as the list and the history have them.
	published := burst - demoBatch
	eventuallyJS(t, b, "the votes published", fmt.Sprintf(`document.querySelector('%s [data-field="published"]').dataset.value === '%d'`, section, published))
	if n := strings.Count(fetch(t, p.edge+"/solar-vote.log"), "\n"); n != published {
		t.Errorf("the votes list has %d lines, the page shows %d published", n, published)
	}
	eventuallyJS(t, b, "the history read", fmt.Sprintf(`window.powvoteDashboard.state.data.campaigns[0].history.size === %d`, published))
	if rows := evalJS[int](b, `document.querySelectorAll('`+section+` .shares tbody tr').length`); rows != len(c.Settings.Options) {
		t.Errorf("the history table has %d rows, want one per option (%d)", rows, len(c.Settings.Options))
	}

	// The flags: a burst of votes, a flood of 489s.
	b.do("the burst's flag", chromedp.WaitVisible(chromedp.CSS(section+` li.flag[data-kind="votes"][data-dir="high"]`)))
	b.do("the flood's flag", chromedp.WaitVisible(chromedp.CSS(section+` li.flag[data-kind="refusals"][data-code="489"]`)))
	if text := b.text(section + ` li.flag[data-kind="refusals"][data-code="489"]`); !strings.Contains(text, fmt.Sprintf("%d votes refused with 489 (proof of work too low)", junk)) {
		t.Errorf("the 489 flag says %q", text)
	}
	if text := b.text(section + ` li.flag[data-kind="votes"]`); !strings.Contains(text, "votes acknowledged") {
		t.Errorf("the burst's flag says %q", text)
	}
	fitsNarrow(b, "the dashboard")
	if v := evalJS[[]string](b, `window.cspViolations`); len(v) != 0 {
		t.Errorf("content security policy violations: %v", v)
	}
	if others := evalJS[[]string](b, `performance.getEntriesByType('resource').map((e) => e.name).filter((u) => !u.startsWith(location.origin + '/'))`); len(others) != 0 {
		t.Errorf("the page fetched from elsewhere: %v", others)
	}
	if n := evalJS[int](b, `document.querySelectorAll('`+section+` .chart canvas').length`); n != 3 {
		t.Errorf("%d charts drawn, want votes, refusals and delay", n)
	}
	b.shot("dashboard")

	// German and Polish, by the selector.
	for lang, title := range map[string]string{"de": "Dashboard der Organisatoren", "pl": "Panel organizatorów"} {
		evalJS[bool](b, fmt.Sprintf(`(() => { const s = document.getElementById('lang'); s.value = %q; s.dispatchEvent(new Event('change')); return true; })()`, lang))
		eventuallyJS(t, b, "the page in "+lang, fmt.Sprintf(`document.documentElement.lang === %q && document.querySelector('h1').textContent === %q`, lang, title))
		fitsNarrow(b, "the dashboard in "+lang)
	}

	if readmeShots() {
		evalJS[bool](b, `(() => { const s = document.getElementById('lang'); s.value = 'en'; s.dispatchEvent(new Event('change')); return true; })()`)
		b.do("a window for the README", chromedp.EmulateViewport(1000, 900))
		eventuallyJS(t, b, "the charts at the window's width", `document.querySelector('.chart-votes .uplot').offsetWidth > 600`)
		b.readmeShot("dashboard", "")
	}

	// With no event stream to be had, the page reads data.json every
	// interval: another reader holds the one stream allowed.
	b.do("leave the dashboard", chromedp.Navigate("about:blank"))
	var held *http.Response
	eventually(t, "another reader's stream", func() bool {
		resp, err := hc.Get(url + "/dashboard/events")
		if err != nil {
			return false
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return false
		}
		held = resp
		return true
	})
	b.do("open the dashboard again", chromedp.Navigate(url+"/dashboard/?lang=en"),
		chromedp.WaitVisible(chromedp.CSS(section+` [data-field="acknowledged"]`)))
	eventuallyJS(t, b, "polling", `document.getElementById('status').dataset.mode === 'polling'`)
	before := evalJS[float64](b, `window.powvoteDashboard.state.data.time`)
	eventuallyJS(t, b, "a newer sample by polling", fmt.Sprintf(`window.powvoteDashboard.state.data.time > %v`, before))
	if got := evalJS[string](b, `document.querySelector('`+section+` [data-field="acknowledged"]').dataset.value`); got != fmt.Sprint(burst) {
		t.Errorf("polling, the page shows %s votes acknowledged, want %d", got, burst)
	}
	held.Body.Close()
}

// fitsNarrow checks that the page fits a 360 px viewport, and names what
// sticks out if it does not: only tables may scroll, in their own box.
func fitsNarrow(b *browser, what string) {
	b.t.Helper()
	if wide := evalJS[[]string](b, `[...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > 360 && !e.closest('.scroll')).map((e) => e.tagName + '.' + e.className + ' ' + e.textContent.slice(0, 30))`); len(wide) != 0 {
		b.t.Errorf("%s: wider than 360 px: %q", what, wide)
	}
	b.fits(what)
}

// stampFor gets a genuine platform stamp from the edge with the booth's
// current code, as a vote's listline.Vote without option or nonce.
func stampFor(t *testing.T, hc *http.Client, edge string, c *campaign.Campaign) listline.Vote {
	t.Helper()
	digits, err := totp.Code(c.Secrets.TOTPSeed, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, edge+"/stamp", nil)
	req.Header.Set("Totp", digits)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("GET /stamp: %d", resp.StatusCode)
	}
	v := listline.Vote{PUTC: resp.Header.Get("P-UTC"), Voter: resp.Header.Get("Voter")}
	sig, err := base64.StdEncoding.DecodeString(resp.Header.Get("P-SIG"))
	if err != nil || len(sig) != len(v.PSig) {
		t.Fatalf("P-SIG %q", resp.Header.Get("P-SIG"))
	}
	copy(v.PSig[:], sig)
	return v
}

// send sends the requests at once and counts the answers by status; 0
// counts those that got none.
func send(hc *http.Client, reqs []*http.Request) map[int]int {
	codes := make(chan int, len(reqs))
	for _, r := range reqs {
		go func() {
			resp, err := hc.Do(r)
			if err != nil {
				codes <- 0
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	out := map[int]int{}
	for range reqs {
		out[<-codes]++
	}
	return out
}

// serveDashboard serves h on a loopback listener with the operator
// listener's timeouts (a stream of events outlives its write timeout),
// until the test ends.
func serveDashboard(t *testing.T, h fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h, ReadTimeout: 5 * time.Second, WriteTimeout: 10 * time.Second, CloseOnShutdown: true}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.ShutdownWithContext(ctx)
		<-done
	})
	return "http://" + ln.Addr().String()
}
