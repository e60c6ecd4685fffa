package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/powvote/powvote/audit"
	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/wire"
)

// TestCheckPage runs the results page (web/check, /app/check/index.html)
// in Chromium against `powvote up` with one batch of votes published: its
// tally, work and line counts equal `powvote audit`'s; a saved receipt,
// pasted or picked, has every stamp in the list against its option (and "-"
// against the options nobody had chosen yet); a stamp changed is missing;
// the own stamp finds the own line and option; downloaded files with a vote
// below the threshold added show it apart and do not count it; and the page
// reads in every language.
func TestCheckPage(t *testing.T) {
	b := newBrowser(t)
	data := filepath.Join(t.TempDir(), "pv")
	p := startUp(t, data)
	defer p.stop(t)
	c, err := campaign.Load(data, "solar")
	if err != nil {
		t.Fatal(err)
	}

	const batch = 4 // the demo campaign's batch size: the lists publish
	castVotes(t, data, p.edge, batch-1)
	say := c.Settings.Options[6]
	saved := filepath.Join(t.TempDir(), "receipt.txt")
	key := filepath.Join(data, "solar", campaign.DemoAuthorityKey)
	tok := strings.TrimSpace(mustRun(t, "mandates", "--key", key, "--count", "1", "--format", "tokens"))
	code := strings.TrimSpace(mustRun(t, "booth", "code", "--dir", data))
	mustRun(t, "vote", "--edge", p.edge, "--mandate", tok, "--booth-code", code, "--say", say, "--out", saved)
	text, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	_, lines, _, err := wire.ParseReceipt(string(text))
	if err != nil {
		t.Fatal(err)
	}
	own, _, _ := strings.Cut(lines[6], " ")
	// Against an option nobody had chosen yet the receipt carries "-"
	// (PROTOCOL.md 5.4); every other line carries a stamp of the list.
	stamped := 0
	for _, l := range lines {
		if !strings.HasPrefix(l, "- ") {
			stamped++
		}
	}
	none := len(lines) - stamped

	eventually(t, "the edge serves the batch", func() bool {
		return strings.Count(fetch(t, p.edge+"/solar-vote.log"), "\n") == batch &&
			strings.Count(fetch(t, p.edge+"/solar-auth.log"), "\n") == batch
	})
	r := run(t, "audit", p.edge, "--campaign", "solar", "--json")
	var rep audit.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
		t.Fatalf("audit --json: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}

	b.do("open the results page",
		chromedp.EmulateViewport(360, 800),
		chromedp.Navigate(p.edge+"/app/check/index.html?lang=en"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-done="true"] #tally tbody tr`)),
	)
	b.shot("results")
	b.fits("results")

	// The tally as shown, row by row, against the audit's.
	rows := evalJS[[][3]string](b, `Array.from(document.querySelectorAll('#tally tbody tr'), (tr) => Array.from(tr.cells, (td) => td.textContent))`)
	if len(rows) != len(rep.Tally) {
		t.Fatalf("the page shows %d rows, the audit %d: %q", len(rows), len(rep.Tally), rows)
	}
	for i, oc := range rep.Tally {
		if rows[i][0] != oc.Option || rows[i][1] != fmt.Sprint(oc.Votes) || rows[i][2] != "" {
			t.Errorf("row %d shows %q, the audit %s %d", i+1, rows[i], oc.Option, oc.Votes)
		}
	}
	if work := evalJS[float64](b, `window.powcheck.work`); work != rep.Work {
		t.Errorf("the page's work is %v, the audit's %v", work, rep.Work)
	}
	if v, vs := b.text("#sum-sumVotes"), b.text("#sum-sumVoters"); v != fmt.Sprint(rep.Votes) || vs != fmt.Sprint(rep.Voters) {
		t.Errorf("votes %q and voters %q shown, the audit has %d and %d", v, vs, rep.Votes, rep.Voters)
	}
	if n := evalJS[int](b, `document.querySelectorAll('#chart svg polyline').length`); n != 4 {
		t.Errorf("the chart has %d lines for %d votes", n, batch)
	}

	// The saved receipt, pasted: every stamp in the list against its option.
	b.do("paste the receipt",
		chromedp.SetValue(chromedp.ID("receipt-text"), string(text)),
		chromedp.Click(chromedp.ID("check-receipt")),
		chromedp.WaitVisible(chromedp.CSS("#receipt-lines li")),
	)
	checkReceiptResult(t, b, stamped, 0, none)
	b.shot("receipt-pasted")
	b.fits("receipt-pasted")

	// One stamp changed: that line is missing, the others still stand.
	changed := strings.Replace(string(text), own, mistype(own), 1)
	b.do("paste a changed receipt",
		chromedp.SetValue(chromedp.ID("receipt-text"), changed),
		chromedp.Click(chromedp.ID("check-receipt")),
		chromedp.WaitVisible(chromedp.CSS(`#receipt-lines li[data-result="missing"]`)),
	)
	checkReceiptResult(t, b, stamped-1, 1, none)

	// The saved file, picked.
	b.do("pick the receipt file",
		clearField("receipt-text"),
		chromedp.SetUploadFiles(chromedp.ID("receipt-file"), []string{saved}),
	)
	eventuallyJS(t, b, "the picked receipt fills the field", `document.getElementById('receipt-text').value.includes('Receipt-Sig: ')`)
	b.do("check the picked receipt", chromedp.Click(chromedp.ID("check-receipt")), chromedp.WaitVisible(chromedp.CSS(`#receipt-lines li`)))
	checkReceiptResult(t, b, stamped, 0, none)

	// The own stamp, typed in lower case: its line and option.
	b.do("find the own stamp",
		chromedp.SendKeys(chromedp.ID("stamp"), strings.ToLower(own)),
		chromedp.Click(chromedp.ID("find-button")),
		chromedp.WaitVisible(chromedp.CSS("#find-result.ok")),
	)
	if got := b.text("#find-result"); !strings.HasPrefix(got, "Line ") || !strings.HasSuffix(got, ": "+say) {
		t.Errorf("finding %s shows %q, want its line and %q", own, got, say)
	}
	votes := strings.Split(fetch(t, p.edge+"/solar-vote.log"), "\n")
	for i, l := range votes {
		if strings.Contains(l, own) && b.text("#find-result") != fmt.Sprintf("Line %d: %s", i+1, say) {
			t.Errorf("the own vote is on line %d, the page shows %q", i+1, b.text("#find-result"))
		}
	}
	b.shot("found")
	b.fits("found")

	// Downloaded files, with a vote below the threshold added: it shows
	// apart, in its option's row, and is not counted.
	voteLog := fetch(t, p.edge+"/solar-vote.log")
	first := strings.SplitAfter(voteLog, "\n")[0]
	weak := auditWeakVote(t, first, c.Settings.Threshold)
	dir := t.TempDir()
	files := []string{filepath.Join(dir, "solar-vote.log"), filepath.Join(dir, "solar-auth.log")}
	auditWriteFile(t, files[0], voteLog+weak)
	auditWriteFile(t, files[1], fetch(t, p.edge+"/solar-auth.log"))
	b.do("check downloaded files",
		chromedp.Click(chromedp.CSS("#files summary")),
		chromedp.SetUploadFiles(chromedp.ID("vote-file"), files[:1]),
		chromedp.SetUploadFiles(chromedp.ID("auth-file"), files[1:]),
		chromedp.Click(chromedp.ID("check-files")),
		chromedp.WaitVisible(chromedp.CSS(`body[data-done="true"] #below-note`)),
	)
	wv, err := listline.ParseVote(strings.TrimSuffix(weak, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	weakOption := wv.Option
	rows = evalJS[[][3]string](b, `Array.from(document.querySelectorAll('#tally tbody tr'), (tr) => Array.from(tr.cells, (td) => td.textContent))`)
	for i, oc := range rep.Tally {
		below := ""
		if oc.Option == weakOption {
			below = "1"
		}
		if len(rows) != len(rep.Tally) || rows[i] != [3]string{oc.Option, fmt.Sprint(oc.Votes), below} {
			t.Errorf("with a weak vote for %q, row %d shows %q", weakOption, i+1, rows)
			break
		}
	}
	if note := b.text("#below-note"); !strings.Contains(note, "asked for: 1.") {
		t.Errorf("below-threshold note %q", note)
	}
	b.shot("files-with-weak-vote")
	b.fits("files-with-weak-vote")

	// The other languages have every message the English one has.
	for _, lang := range []string{"de", "pl"} {
		b.do("switch to "+lang, chromedp.SetValue(chromedp.ID("lang"), lang),
			chromedp.Evaluate[chromedp.Void](`document.getElementById('lang').dispatchEvent(new Event('change'))`))
		eventuallyJS(t, b, "the page in "+lang, fmt.Sprintf(`document.documentElement.lang === %q && document.querySelectorAll('#tally tbody tr').length > 0`, lang))
		b.shot("results-" + lang)
		b.fits("results-" + lang)
	}
	missing := evalJS[[]string](b, `Promise.all(['en', 'de', 'pl'].map((l) => fetch('/app/check/i18n/' + l + '.json').then((r) => r.json())))
		.then(([en, de, pl]) => Object.keys(en).filter((k) => !(k in de) || !(k in pl)))`, chromedp.EvalAwaitPromise)
	if len(missing) != 0 {
		t.Errorf("messages missing from de or pl: %q", missing)
	}
}

// checkReceiptResult checks the receipt lines the page marked ok, missing
// and without a voter yet, and that none is against another option.
func checkReceiptResult(t *testing.T, b *browser, ok, missing, none int) {
	t.Helper()
	got := evalJS[map[string]int](b, `(() => {
		const n = {ok: 0, missing: 0, wrong: 0, none: 0};
		document.querySelectorAll('#receipt-lines li').forEach((li) => { n[li.dataset.result]++; });
		return n;
	})()`)
	if got["ok"] != ok || got["missing"] != missing || got["wrong"] != 0 || got["none"] != none {
		t.Errorf("receipt lines %v, want %d ok, %d missing and %d without a voter; summary %q", got, ok, missing, none, b.text("#receipt-summary"))
	}
	if missing == 0 && !strings.Contains(b.text("#receipt-summary"), fmt.Sprintf("All %d stamps", ok)) {
		t.Errorf("receipt summary %q", b.text("#receipt-summary"))
	}
}

// eventuallyJS waits, with chromedp's own polling, until expr is true in
// the page.
func eventuallyJS(t *testing.T, b *browser, what, expr string) {
	t.Helper()
	b.do(what, chromedp.Poll[chromedp.Void](expr))
}
