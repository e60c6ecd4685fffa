package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/powvote/powvote/audit"
	"github.com/powvote/powvote/listline"
)

// checkPlatformChart checks the results page's chart and growth (web/check)
// on the page TestCheckPage has open on the platform's own lists: the
// chart's series, read from the page's uPlot instance, are the history's
// lines kept one a minute, read here from the file as served; the growth
// figures are the audit's (rep), in its order.
func checkPlatformChart(t *testing.T, b *browser, edgeURL string, rep *audit.Report, options []string) {
	t.Helper()
	history := fetch(t, edgeURL+"/solar-history.log")
	wantChart(t, b, "the platform's history", history, options)
	if got := evalJS[[]audit.Growth](b, `window.powcheck.history.growth`); len(got) != len(options) || !slices.Equal(got, rep.Logs.Growth) {
		t.Errorf("the page's growth %+v, the audit's %+v", got, rep.Logs.Growth)
	}
	growthRows := evalJS[[]string](b, `Array.from(document.querySelectorAll('#growth tbody tr'), (tr) => tr.dataset.option)`)
	for i, g := range rep.Logs.Growth {
		if i >= len(growthRows) || growthRows[i] != g.Option {
			t.Errorf("the growth table shows the options %q, the audit %+v", growthRows, rep.Logs.Growth)
			break
		}
	}
}

// checkResults checks the results page's chart through d, which serves a
// longer history, and one with a line changed; then the Report button and
// the page printed; then the HTML report that powvote audit --report wrote
// (reportFile) of the lists rep audited. Printed, the page and the
// audit's report each give a PDF on A4, the report with nothing fetched.
func checkResults(t *testing.T, b *browser, d *dishonestPublisher, edgeURL, voteLog, reportFile string, rep *audit.Report, options []string) {
	t.Helper()
	// A history of a line a vote, two a minute, that agrees with the list:
	// the platform's own publishes a batch of four at once.
	long := historyOf(t, voteLog, options, 1793491200, 30)
	d.serve(publisherView{all: map[string]string{"/solar-history.log": long}})
	b.do("open the page with a longer history",
		chromedp.EmulateViewport(360, 800),
		chromedp.Navigate(d.URL+"/app/check/index.html?lang=en"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-done="true"] #tally tbody tr`)),
	)
	wantChart(t, b, "a longer history", long, options)
	b.fits("results with a longer history")
	b.shot("results-chart")
	if readmeShots() {
		b.do("a desktop's width", chromedp.EmulateViewport(900, 800))
		eventuallyJS(t, b, "the chart fits the wider page", `window.powcheck.chart.width > 600`)
		b.readmeShot("results", "#history-box")
		b.do("a phone's width", chromedp.EmulateViewport(360, 800))
	}

	// In German: the chart is drawn again, the notes in German.
	b.do("switch to de", chromedp.SetValue(chromedp.ID("lang"), "de"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('lang').dispatchEvent(new Event('change'))`))
	eventuallyJS(t, b, "the page in de", `document.documentElement.lang === 'de' && document.querySelector('#history-notes li').textContent.startsWith('Verlauf')`)
	wantChart(t, b, "a longer history, in German", long, options)
	b.do("back to en", chromedp.SetValue(chromedp.ID("lang"), "en"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('lang').dispatchEvent(new Event('change'))`))
	eventuallyJS(t, b, "the page in en", `document.documentElement.lang === 'en'`)

	// A history line whose counts are not the list's is named.
	lines := strings.SplitAfter(long, "\n")
	f := strings.Fields(lines[2])
	f[2] = fmt.Sprint(mustAtoi(t, f[2]) + 1)
	lines[2] = strings.Join(f, " ") + "\n"
	d.serve(publisherView{all: map[string]string{"/solar-history.log": strings.Join(lines, "") + "x\n"}})
	b.do("open the page with a wrong history",
		chromedp.Navigate(d.URL+"/app/check/index.html?lang=en"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-done="true"] #tally tbody tr`)),
	)
	notes := evalJS[map[string]string](b, `Object.fromEntries(Array.from(document.querySelectorAll('#history-notes li'), (li) => [li.dataset.kind, li.textContent]))`)
	if !strings.Contains(notes["wrong"], "(lines: 3)") || !strings.Contains(notes["refused"], fmt.Sprintf("(lines: %d)", len(lines))) || notes["ok"] != "" {
		t.Errorf("a history with line 3 changed and a line that is not one: notes %q", notes)
	}
	d.serve(publisherView{})

	// The page, printed: the Report button asks the browser to print, and
	// the print gives a PDF.
	b.do("open the page again", chromedp.Navigate(edgeURL+"/app/check/index.html?lang=en"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-done="true"] #tally tbody tr`)))
	b.do("press Report",
		chromedp.Evaluate[chromedp.Void](`window.print = () => { window.printed = (window.printed || 0) + 1; }`),
		chromedp.Click(chromedp.ID("report")))
	if n := evalJS[int](b, `window.printed || 0`); n != 1 {
		t.Errorf("the Report button printed %d times", n)
	}
	b.do("print media", printMedia("print"))
	if shown := evalJS[[]string](b, `['load-site', 'files', 'report-bar', 'find', 'receipt'].filter((id) => getComputedStyle(document.getElementById(id)).display !== 'none')`); len(shown) != 0 {
		t.Errorf("printed, the page still shows %q", shown)
	}
	if evalJS[string](b, `getComputedStyle(document.getElementById('results')).display`) == "none" {
		t.Error("printed, the page does not show the results")
	}
	b.do("screen media", printMedia(""))
	wantPDF(t, b, "the results page")

	// The audit's own report: nothing fetched, and it prints.
	b.do("open the audit's report", chromedp.Navigate("file://"+reportFile), chromedp.WaitVisible(chromedp.ID("checks")))
	if n := evalJS[int](b, `performance.getEntriesByType('resource').length`); n != 0 {
		t.Errorf("the report fetched %d resources", n)
	}
	if got, want := b.text("#total"), fmt.Sprint(rep.Votes); got != want {
		t.Errorf("the report's total is %s, the audit's %s", got, want)
	}
	b.shot("audit-report")
	wantPDF(t, b, "the audit's report")
}

// wantChart checks the page's chart against a history: one series per
// option, labelled with it, whose points are the lines of the history
// that the next line does not follow in the same minute.
func wantChart(t *testing.T, b *browser, what, history string, options []string) {
	t.Helper()
	eventuallyJS(t, b, what+": the chart", `window.powcheck.chart !== null`)
	data := evalJS[[][]float64](b, `window.powcheck.chart.data`)
	labels := evalJS[[]string](b, `window.powcheck.chart.series.slice(1).map((s) => s.label)`)
	if !slices.Equal(labels, options) {
		t.Errorf("%s: the chart's series are %q, want the ballot %q", what, labels, options)
	}
	var want [][]float64 // a line per minute: time, then the counts
	var rows [][]float64
	for _, l := range strings.Split(strings.TrimSuffix(history, "\n"), "\n") {
		var row []float64
		for _, f := range strings.Split(l, " ") {
			n, err := strconv.ParseFloat(f, 64)
			if err != nil {
				t.Fatalf("%s: history line %q", what, l)
			}
			row = append(row, n)
		}
		rows = append(rows, row[1:]) // time, then the counts
	}
	for i, r := range rows {
		if i+1 == len(rows) || int64(rows[i+1][0])/60 != int64(r[0])/60 {
			want = append(want, r)
		}
	}
	if len(data) != 1+len(options) {
		t.Fatalf("%s: the chart has %d arrays, want times and %d series", what, len(data), len(options))
	}
	for i, w := range want {
		for k := range w {
			if len(data[k]) != len(want) || data[k][i] != w[k] {
				t.Fatalf("%s: the chart's data %v, want the history per minute %v", what, data, want)
			}
		}
	}
	if evalJS[bool](b, `document.querySelector('#history-notes li[data-kind="ok"]') === null`) {
		t.Errorf("%s: the page does not say the history agrees: %q", what, b.text("#history-notes"))
	}
	if legend := evalJS[[]string](b, `Array.from(document.querySelectorAll('#legend li'), (li) => li.textContent)`); !slices.Equal(legend, options) {
		t.Errorf("%s: the legend names %q", what, legend)
	}
}

// historyOf writes a history of a list: a line after each vote, the
// first at time t0, each step seconds after the one before, with each
// option's count of the lines so far.
func historyOf(t *testing.T, voteLog string, options []string, t0, step int64) string {
	t.Helper()
	counts := make([]int, len(options))
	var b strings.Builder
	for i, l := range strings.Split(strings.TrimSuffix(voteLog, "\n"), "\n") {
		v, err := listline.ParseVote(l)
		if err != nil {
			t.Fatal(err)
		}
		counts[slices.Index(options, v.Option)]++
		fmt.Fprintf(&b, "%d %d %s\n", i+1, t0+int64(i)*step, strings.Trim(fmt.Sprint(counts), "[]"))
	}
	return b.String()
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// wantPDF prints the page to PDF on A4 paper: a PDF of a page or more
// whose pages are A4 (595 by 842 points), not a blank one.
func wantPDF(t *testing.T, b *browser, what string) {
	t.Helper()
	pdf, err := chromedp.Run(b.ctx, chromedp.PrintToPDF(chromedp.PDFPreferCSSPageSize()))
	if err != nil {
		t.Fatalf("%s: print: %v", what, err)
	}
	if err := os.WriteFile(filepath.Join(b.art, strings.ReplaceAll(what, " ", "-")+".pdf"), pdf, 0o644); err != nil {
		t.Error(err)
	}
	pages := regexp.MustCompile(`/Type\s*/Page[^s]`).FindAll(pdf, -1)
	a4 := regexp.MustCompile(`/MediaBox\s*\[0 0 59[45]\.\d+ 84[12]\.\d+\]`).FindAll(pdf, -1)
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) || len(pdf) < 20000 || len(pages) == 0 || len(a4) != len(pages) {
		t.Errorf("%s: printed %d bytes (%q...), %d pages, %d of them A4", what, len(pdf), pdf[:min(8, len(pdf))], len(pages), len(a4))
	}
}
