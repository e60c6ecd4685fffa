package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// TestBrowserBackOfficeDashboard signs in to the back office of `powvote
// up --metrics` in Chromium as a viewer, through the login form, and reads
// the dashboard as the back office serves it: the page asked for before
// the sign-in opens after it, the campaign's figures come live through the
// event stream behind the session, the sign-in stands in the list of
// operator actions, nothing breaches the content security policy, and
// the page fits 360 px.
func TestBrowserBackOfficeDashboard(t *testing.T) {
	b := newBrowser(t)
	data := filepath.Join(t.TempDir(), "pv")
	addr := freeAddr(t)
	p := startUp(t, data, "--metrics", addr)
	defer p.stop(t)
	base := "http://" + addr
	const password = "a viewer's long password"
	addOperators(t, p, data, base, operatorAccount{"vera", "viewer", password})

	if _, err := chromedp.Call(b.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.cspViolations = []; document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));`,
	}); err != nil {
		t.Fatal(err)
	}
	b.do("the dashboard, signed out", chromedp.EmulateViewport(360, 800), chromedp.Navigate(base+"/dashboard/"),
		chromedp.WaitVisible(chromedp.ID("password")))
	if u := evalJS[string](b, `location.pathname + location.search`); !strings.HasPrefix(u, "/login") {
		t.Fatalf("signed out, the dashboard opens %s, want the login form", u)
	}
	fitsNarrow(b, "the login form")
	b.do("sign in", chromedp.SendKeys(chromedp.ID("name"), "vera"), chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Submit(chromedp.ID("password")))
	section := `section[data-campaign="solar"]`
	b.do("the dashboard, signed in", chromedp.WaitVisible(chromedp.CSS(section+` [data-field="acknowledged"]`)))
	if u := evalJS[string](b, `location.pathname`); u != "/dashboard/" {
		t.Errorf("after the sign-in the browser is at %s, want /dashboard/", u)
	}
	eventuallyJS(t, b, "the event stream through the back office", `document.getElementById('status').dataset.mode === 'live'`)
	eventuallyJS(t, b, "the operator actions", `!document.getElementById('actions').hidden`)
	if text := b.text("#actions li"); !strings.Contains(text, "vera: login") || !strings.Contains(text, "(ok)") {
		t.Errorf("the first operator action reads %q, want vera's sign-in", text)
	}
	fitsNarrow(b, "the dashboard behind the back office")
	if v := evalJS[[]string](b, `window.cspViolations`); len(v) != 0 {
		t.Errorf("content security policy violations: %v", v)
	}
}
