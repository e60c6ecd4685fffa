package audit

import (
	"bytes"
	"flag"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

var update = flag.Bool("update", false, "rewrite testdata/report.golden.html")

const reportGolden = "testdata/report.golden.html"

// reportFixture audits 24 votes of the shared fixture, with signed
// checkpoints and a history of six batches over five minutes, two of
// which end two batches each. The votes come in bursts of one option or
// another. It returns the folder, the report and the history's text.
func reportFixture(t *testing.T) (Dir, *Report, string) {
	t.Helper()
	f := sharedFixture(t)
	signer, vkey := logKeys(t)
	// The fixture's vote i is for option i%4.
	byOption := make([][]string, len(testOptions))
	for i, v := range f.votes {
		byOption[i%len(testOptions)] = append(byOption[i%len(testOptions)], v)
	}
	var votes []string
	for _, take := range []struct{ option, n int }{{0, 6}, {1, 2}, {0, 4}, {2, 4}, {3, 4}, {1, 4}} {
		votes = append(votes, byOption[take.option][:take.n]...)
		byOption[take.option] = byOption[take.option][take.n:]
	}
	voters := f.voters[:24]
	start := testStart.Unix()
	var hist strings.Builder
	for i, dt := range []int64{5, 30, 65, 70, 200, 250} {
		n := 4 * (i + 1)
		fmt.Fprintf(&hist, "%d %d %s\n", n, start+dt, strings.Trim(fmt.Sprint(tallyOf(f, votes[:n])), "[]"))
	}
	dir := writeRetracted(t, write(t, votes, voters))
	for name, text := range map[string]string{
		"solar-vote.checkpoint":      checkpoint(t, signer, "powvote/solar/vote", votes, 24),
		"solar-auth.checkpoint":      checkpoint(t, signer, "powvote/solar/auth", voters, 24),
		"solar-retracted.checkpoint": checkpoint(t, signer, "powvote/solar/retracted", nil, 0),
		"solar-log.vkey":             vkey + "\n",
		"solar-history.log":          hist.String(),
	} {
		if err := os.WriteFile(filepath.Join(string(dir), name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := run(t, dir, f, Options{Logs: &LogOptions{}, SettingsGiven: true})
	if !r.OK() {
		var b strings.Builder
		r.WriteText(&b)
		t.Fatalf("the fixture fails:\n%s", b.String())
	}
	return dir, r, hist.String()
}

// TestWriteHTML compares the HTML report of an audit with its golden
// file (go test ./audit -run TestWriteHTML -update rewrites it), and
// checks what it holds against the audit itself: the tally, each
// checkpoint with the log key's name, every check's verdict, and the
// chart's points against the history read here, line by line.
func TestWriteHTML(t *testing.T) {
	_, r, hist := reportFixture(t)
	var b bytes.Buffer
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	if *update {
		if err := os.WriteFile(reportGolden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(reportGolden)
	if err != nil {
		t.Fatalf("%v (go test ./audit -run TestWriteHTML -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("the report is not %s (go test ./audit -run TestWriteHTML -update rewrites it after a change on purpose):\n%s", reportGolden, got)
	}

	// The tally, row by row.
	rows := regexp.MustCompile(`<tr><td>([^<]*)</td><td class="num">(\d+)</td><td class="num">[^<]*</td></tr>`).FindAllStringSubmatch(got, -1)
	if len(rows) != len(r.Tally) {
		t.Fatalf("%d tally rows for %d options", len(rows), len(r.Tally))
	}
	total := 0
	for i, oc := range r.Tally {
		if html.UnescapeString(rows[i][1]) != oc.Option || rows[i][2] != strconv.Itoa(oc.Votes) {
			t.Errorf("tally row %d: %q, want %s %d", i+1, rows[i][1:], oc.Option, oc.Votes)
		}
		total += oc.Votes
	}
	if !strings.Contains(got, fmt.Sprintf(`<td class="num" id="total">%d</td>`, total)) || total != 24 {
		t.Errorf("the total is not %d", total)
	}
	// Each latest checkpoint: its size, root and the log key that signed it.
	_, vkey := logKeys(t)
	parts := strings.SplitN(vkey, "+", 3)
	keyName := parts[0] + "+" + parts[1]
	for _, cp := range []*Checkpoint{r.Logs.Vote, r.Logs.Auth, r.Logs.Retracted} {
		row := fmt.Sprintf(`<tr><td><code>%s</code><br><span class="note">latest</span></td><td class="num">%d</td><td><span class="hash">%s</span><br>settings <span class="hash">%s</span><br>signed by <code>%s</code> <span class="pass">(verified)</span></td></tr>`,
			cp.Origin, cp.Tree.N, cp.Tree.Hash, cp.Settings, keyName)
		if !strings.Contains(html.UnescapeString(got), row) {
			t.Errorf("no row for checkpoint %s: want %s", cp.Origin, row)
		}
	}
	// Every check, with its verdict.
	for _, v := range r.verdicts() {
		if !strings.Contains(got, fmt.Sprintf(`<tr data-check="%s" data-result="%s">`, v.Check, v.Result)) {
			t.Errorf("check %s is not shown as %s", v.Check, v.Result)
		}
	}
	if len(r.verdicts()) != len(Checks) {
		t.Errorf("%d verdicts for %d checks", len(r.verdicts()), len(Checks))
	}

	// The chart: one series per option, each point a history line, the
	// last of its minute.
	series := chartSeries(t, got)
	want2 := lastOfEachMinute(t, hist, len(r.Tally))
	if len(series) != len(r.Tally) {
		t.Fatalf("%d series for %d options", len(series), len(r.Tally))
	}
	for k, oc := range r.Tally {
		s := series[k]
		if s.option != oc.Option || len(s.points) != len(want2) {
			t.Errorf("series %d is %q with %d points, want %q with %d", k, s.option, len(s.points), oc.Option, len(want2))
			continue
		}
		for i, p := range s.points {
			if p != [2]int64{want2[i][0], want2[i][2+k]} {
				t.Errorf("series %q, point %d: %v, want time %d count %d", s.option, i, p, want2[i][0], want2[i][2+k])
			}
		}
	}
	if len(want2) != 4 {
		t.Errorf("the fixture's history has %d minutes, want 4", len(want2))
	}
}

type chartLine struct {
	option string
	points [][2]int64 // Unix time, count
}

// chartSeries reads the series of the report's chart: the polylines'
// points are the time less the chart's data-t0, and the count.
func chartSeries(t *testing.T, page string) []chartLine {
	t.Helper()
	m := regexp.MustCompile(`<svg class="chart"[^>]* data-t0="(-?\d+)">`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("the report has no chart")
	}
	t0, _ := strconv.ParseInt(m[1], 10, 64)
	var out []chartLine
	for _, pm := range regexp.MustCompile(`<polyline class="s\d" data-option="([^"]*)" points="([^"]*)">`).FindAllStringSubmatch(page, -1) {
		l := chartLine{option: html.UnescapeString(pm[1])}
		for _, xy := range strings.Fields(pm[2]) {
			x, y, ok := strings.Cut(xy, ",")
			dt, err1 := strconv.ParseInt(x, 10, 64)
			n, err2 := strconv.ParseInt(y, 10, 64)
			if !ok || err1 != nil || err2 != nil {
				t.Fatalf("point %q of %q", xy, l.option)
			}
			l.points = append(l.points, [2]int64{t0 + dt, n})
		}
		out = append(out, l)
	}
	return out
}

// lastOfEachMinute reads a history's lines as numbers and keeps each
// line that the next one does not follow in the same minute: written
// apart from ParseHistory and PerMinute, for times after 1970.
func lastOfEachMinute(t *testing.T, hist string, nOptions int) [][]int64 {
	t.Helper()
	var all [][]int64
	for _, l := range strings.Split(strings.TrimSuffix(hist, "\n"), "\n") {
		var row []int64
		for _, f := range strings.Split(l, " ") {
			n, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			row = append(row, n)
		}
		if len(row) != 2+nOptions {
			t.Fatalf("history line %q", l)
		}
		row[0], row[1] = row[1], row[0] // time first
		all = append(all, row)
	}
	var out [][]int64
	for i, row := range all {
		if i+1 == len(all) || all[i+1][0]/60 != row[0]/60 {
			out = append(out, row)
		}
	}
	return out
}

// TestWriteHTMLEscapes writes a report whose options, failure messages
// and growth come from lists written to attack it: every text is escaped,
// in the page, in attributes and in the chart.
func TestWriteHTMLEscapes(t *testing.T) {
	const (
		script = `<script>alert("x")</script>`
		img    = `"><img src=x onerror=alert(1)>`
	)
	r := &Report{
		Campaign: "solar",
		Settings: SettingsSummary{SHA256: strings.Repeat("ab", 32), Threshold: 8, Start: "2026-11-01T00:00:00Z", End: "2026-12-01T00:00:00Z", Authorities: []string{img}},
		Votes:    3, Voters: 3,
		Tally:    []OptionCount{{Option: script, Votes: 2}, {Option: img, Votes: 1}},
		Failures: []Failure{{Check: CheckHistory, List: "solar-history.log", Lines: []int{2}, Count: 1, Message: "line 2: " + strconv.Quote(script) + " drops from 2 to 1"}},
		Skipped:  []Skip{{Check: CheckPlatformStamp, Reason: img}},
		VoteTree: tlog.Tree{N: 3},
		Logs: &LogReport{
			Key:      img,
			KeyFrom:  "given",
			Vote:     &Checkpoint{Origin: "powvote/" + script, Tree: tlog.Tree{N: 3}, Signatures: []NoteSignature{{Key: img + "+00000000", Verified: true}}},
			History:  2,
			Growth:   []Growth{{Option: script, Largest: 2, Median: 1, AtSize: 3, AtTime: 60}, {Option: img, Largest: 1, AtSize: 3, AtTime: 60}},
			Minutes:  []HistoryLine{{Size: 1, Time: 0, Counts: []int{1, 0}}, {Size: 3, Time: 60, Counts: []int{2, 1}}},
			Warnings: []string{script},
		},
	}
	var b bytes.Buffer
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, bad := range []string{"<script", "<img", `"><img`} {
		if strings.Contains(got, bad) {
			i := strings.Index(got, bad)
			t.Errorf("the report holds %q unescaped: …%s…", bad, got[max(0, i-80):min(len(got), i+80)])
		}
	}
	escaped := html.EscapeString(script)
	for _, want := range []string{
		"<tr><td>" + escaped + "</td>",                    // the tally
		`data-option="` + escaped + `"`,                   // the chart's series
		"</span>" + escaped + "</li>",                     // the legend
		"<tr><td>" + escaped + `</td><td class="num">+2<`, // the growth
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the report does not hold %s", want)
		}
	}
	if n := strings.Count(got, "&lt;script&gt;"); n < 6 {
		t.Errorf("the option text appears escaped %d times, want it in the title of the checkpoint, the tally, the chart, its legend, the growth and the messages", n)
	}
}
