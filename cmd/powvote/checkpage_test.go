package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/powvote/powvote/audit"
	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/wire"
)

// TestCheckPage runs the results page (web/check, /app/check/index.html)
// in Chromium against `powvote up` with one batch of votes published: its
// tally, work and counts equal `powvote audit`'s; both lists match their
// signed checkpoints, every mandate verifies, and the page remembers the
// checkpoints; a saved receipt, pasted or picked, has a valid signature and
// every stamp in the list against its option (and "-" against the options
// nobody had chosen yet); a stamp changed is missing and breaks the
// signature, a changed Receipt-Sig breaks it alone; the own stamp finds the
// own line and option; downloaded files with a vote below the threshold
// added show it apart and do not count it, and have no checkpoint check;
// the page's tree hash equals tlog's, its mandate checks give the shared
// vectors' verdicts, and it reads in every language. Its uPlot chart's
// series are the published history at one line a minute and its growth
// figures the audit's (checkPlatformChart); with a longer history served,
// the chart follows it, in English and German, and a history line that
// is not the list's is named; the Report button prints, and the page and
// the HTML report of powvote audit --report print to A4 PDFs
// (checkResults).
//
// Then, through a proxy that plays a dishonest publisher: lists tampered
// with fail their checkpoints, a line appended is unsigned and not counted,
// and a missing receipt key is said so (checkTampered); browsers alone get
// an unsigned tail of copied votes, a vote's line the platform kept back and
// junk voters, which the page shows apart while it counts what the audit
// counts (checkUnsignedTail); lists signed with the log key itself that
// repeat nonces, stamps and mandates, or hold mandates with a bad signature
// or an unknown authority, have them refused, and the checkpoints'
// settings line is checked (checkSignedDuplicates); a checkpoint the
// browser remembered is proved extended through the tiles, or shown
// rewritten, older, or not checkable (checkRewrites); and the page's proofs
// from tiles agree with tlog's on a log of three tile levels
// (checkConsistencyMath); a retracted list signed with the log key and the
// receipt key shows its votes as retracted in favour of their winners
// while a forged binding, a winner that does not beat its loser, a
// retracted vote that is counted and a winner that is not there are each
// refused, and retractions after the signed lines explain nothing
// (checkRetractedList).
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
	earlier := castVotes(t, data, p.edge, batch-1)
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

	// The publisher keeps a batch back: more votes, until the receipt's.
	published := castUntilPublished(t, data, p.edge, batch, append(earlier, own))
	checkReceiptKeyServed(t, p.edge, c)
	reportFile := filepath.Join(t.TempDir(), "solar-report.html")
	r := run(t, "audit", p.edge, "--campaign", "solar", "--json", "--report", reportFile)
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
	checkPlatformChart(t, b, p.edge, &rep, c.Settings.Options)
	wantCheckpoints(t, b, "the lists of the site", "match", "match")
	if got := b.text("#cp-vote"); got != fmt.Sprintf("Votes list: matches the signed checkpoint at size %d.", published) {
		t.Errorf("votes checkpoint result %q", got)
	}
	// Whether the checkpoints commit to the settings depends on the
	// publisher; the page must say which.
	wantSettings := "uncommitted"
	if strings.Contains(fetch(t, p.edge+"/solar-vote.checkpoint"), "\nsettings ") {
		wantSettings = "committed"
	}
	if got := dataResult(b, "cp-settings"); got != wantSettings {
		t.Errorf("settings %q (%q), want %s", got, b.text("#cp-settings"), wantSettings)
	}
	// The retracted list of a platform whose pairs never split: empty,
	// under a checkpoint of size 0.
	if got, n := dataResult(b, "cp-retracted"), b.text("#sum-sumRetracted"); got != "match" || n != "0" {
		t.Errorf("the platform's retracted list: checkpoint %q (%q), %q retractions shown, want match and 0", got, b.text("#cp-retracted"), n)
	}
	for _, w := range []string{"cons-vote", "cons-auth", "cons-retracted"} {
		if got := dataResult(b, w); got != "first" {
			t.Errorf("first visit: %s is %q (%q), want first", w, got, b.text("#"+w))
		}
	}
	if ps := problems(b); len(ps) != 0 {
		t.Errorf("the platform's own lists have problems: %v", ps)
	}
	if got := dataResult(b, "trust"); got != "signed" {
		t.Errorf("the tally of the site's lists stands on %q", got)
	}
	if evalJS[bool](b, `!document.getElementById('alarm').hidden`) {
		t.Errorf("the platform's own lists raise the alarm: %q", b.text("#alarm"))
	}

	// The saved receipt, pasted: every stamp in the list against its option.
	b.do("paste the receipt",
		chromedp.SetValue(chromedp.ID("receipt-text"), string(text)),
		chromedp.Click(chromedp.ID("check-receipt")),
		chromedp.WaitVisible(chromedp.CSS("#receipt-lines li")),
	)
	checkReceiptResult(t, b, stamped, 0, none)
	wantReceiptSig(t, b, "the saved receipt", "valid")
	b.shot("receipt-pasted")
	b.fits("receipt-pasted")

	// One character of Receipt-Sig changed: the signature fails, the
	// lines still stand.
	_, _, sig, _ := wire.ParseReceipt(string(text))
	badSig := strings.Replace(string(text), "Receipt-Sig: "+sig, "Receipt-Sig: "+flipBase64(sig), 1)
	b.do("paste a receipt with a changed signature",
		chromedp.SetValue(chromedp.ID("receipt-text"), badSig),
		chromedp.Click(chromedp.ID("check-receipt")),
		chromedp.WaitVisible(chromedp.CSS("#receipt-lines li")),
	)
	checkReceiptResult(t, b, stamped, 0, none)
	wantReceiptSig(t, b, "a changed Receipt-Sig", "invalid")
	b.shot("receipt-bad-signature")

	// One stamp changed: that line is missing, the others still stand.
	changed := strings.Replace(string(text), own, mistype(own), 1)
	b.do("paste a changed receipt",
		chromedp.SetValue(chromedp.ID("receipt-text"), changed),
		chromedp.Click(chromedp.ID("check-receipt")),
		chromedp.WaitVisible(chromedp.CSS(`#receipt-lines li[data-result="missing"]`)),
	)
	checkReceiptResult(t, b, stamped-1, 1, none)
	wantReceiptSig(t, b, "a changed receipt line", "invalid")

	// The saved file, picked.
	b.do("pick the receipt file",
		clearField("receipt-text"),
		chromedp.SetUploadFiles(chromedp.ID("receipt-file"), []string{saved}),
	)
	eventuallyJS(t, b, "the picked receipt fills the field", `document.getElementById('receipt-text').value.includes('Receipt-Sig: ')`)
	b.do("check the picked receipt", chromedp.Click(chromedp.ID("check-receipt")), chromedp.WaitVisible(chromedp.CSS(`#receipt-lines li`)))
	checkReceiptResult(t, b, stamped, 0, none)
	wantReceiptSig(t, b, "the picked receipt", "valid")

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
	files := []string{filepath.Join(dir, "solar-vote.log"), filepath.Join(dir, "solar-auth.log"), filepath.Join(dir, "solar-settings.yaml")}
	auditWriteFile(t, files[0], voteLog+weak)
	auditWriteFile(t, files[1], fetch(t, p.edge+"/solar-auth.log"))
	auditWriteFile(t, files[2], fetch(t, p.edge+"/solar-settings.yaml"))
	b.do("check downloaded files",
		chromedp.Click(chromedp.CSS("#files summary")),
		chromedp.SetUploadFiles(chromedp.ID("vote-file"), files[:1]),
		chromedp.SetUploadFiles(chromedp.ID("auth-file"), files[1:2]),
		chromedp.SetUploadFiles(chromedp.ID("settings-file"), files[2:]),
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
	wantCheckpoints(t, b, "downloaded files", "unavailable", "unavailable")
	if got := [2]string{dataResult(b, "trust"), dataResult(b, "cp-settings")}; got != [2]string{"files", "unavailable"} {
		t.Errorf("downloaded files: trust and settings %q", got)
	}
	if ps := problems(b); len(ps) != 0 || b.text("#sum-sumVoters") != fmt.Sprint(rep.Voters) {
		t.Errorf("downloaded files: problems %v, %s voters", ps, b.text("#sum-sumVoters"))
	}
	b.shot("files-with-weak-vote")
	b.fits("files-with-weak-vote")

	// The page's own tree hash, over several of its runs of lines, against
	// tlog's, for the whole list and for prefixes.
	checkTreeHash(t, b)
	checkMandateVectorsInPage(t, b)

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
	// Nor left in English: a message of more than three words reads the
	// same in no two of the languages.
	untranslated := evalJS[[]string](b, `Promise.all(['en', 'de', 'pl'].map((l) => fetch('/app/check/i18n/' + l + '.json').then((r) => r.json())))
		.then(([en, de, pl]) => Object.keys(en).filter((k) => en[k].split(' ').length > 3 && (de[k] === en[k] || pl[k] === en[k])))`, chromedp.EvalAwaitPromise)
	if len(untranslated) != 0 {
		t.Errorf("messages in English in de or pl: %q", untranslated)
	}

	// Lists tampered with between the platform and the page: a proxy in
	// front of the edge passes everything through but the votes list (and,
	// in one case, the receipt key), which it changes. The checkpoints and
	// the log key are the platform's own.
	d := startDishonestPublisher(t, p.edge)
	checkResults(t, b, d, p.edge, voteLog, reportFile, &rep, c.Settings.Options)
	checkTampered(t, b, d, voteLog, string(text), &rep)

	// A publisher that shows browsers more than it signs, and one that
	// signs what it should not, with the campaign's own log key.
	checkUnsignedTail(t, b, d, data, p.edge, c, &rep)
	s := newLogSigner(t, c, p.edge)
	checkSignedDuplicates(t, b, d, p.edge, c, s, &rep)
	checkRewrites(t, b, d, p.edge, s)
	checkConsistencyMath(t, b, d)
	checkRetractedList(t, b, d, p.edge, c, s)
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

// checkReceiptKeyServed checks /solar-receipt.key through the edge of a
// running `powvote up`, which forwards it to the publisher: the campaign's
// receipt public key on one line, for GET and HEAD.
func checkReceiptKeyServed(t *testing.T, edgeURL string, c *campaign.Campaign) {
	t.Helper()
	want := base64.StdEncoding.EncodeToString(c.Secrets.ReceiptKey.Public().(ed25519.PublicKey)) + "\n"
	for _, method := range []string{"GET", "HEAD"} {
		req, err := http.NewRequest(method, edgeURL+"/solar-receipt.key", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		wantBody := want
		if method == "HEAD" {
			wantBody = ""
		}
		if resp.StatusCode != 200 || string(body) != wantBody || resp.ContentLength != int64(len(want)) ||
			resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" || resp.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s /solar-receipt.key through the edge: %d %q (length %d), %v; want 200 %q, text/plain, no-cache",
				method, resp.StatusCode, body, resp.ContentLength, resp.Header, wantBody)
		}
	}
}

// wantCheckpoints waits for the page's checkpoint results and checks them.
func wantCheckpoints(t *testing.T, b *browser, what, vote, auth string) {
	t.Helper()
	eventuallyJS(t, b, what+": checkpoint results", `document.getElementById('cp-vote').dataset.result !== undefined && document.getElementById('cp-auth').dataset.result !== undefined`)
	got := evalJS[[2]string](b, `[document.getElementById('cp-vote').dataset.result, document.getElementById('cp-auth').dataset.result]`)
	if got != [2]string{vote, auth} {
		t.Errorf("%s: checkpoint results %q (%q, %q), want %s and %s", what, got, b.text("#cp-vote"), b.text("#cp-auth"), vote, auth)
	}
}

// wantReceiptSig waits for the page's verdict on a receipt's signature
// and checks it.
func wantReceiptSig(t *testing.T, b *browser, what, want string) {
	t.Helper()
	eventuallyJS(t, b, what+": signature result", `document.getElementById('receipt-sig').dataset.result !== undefined`)
	if got := evalJS[string](b, `document.getElementById('receipt-sig').dataset.result`); got != want {
		t.Errorf("%s: signature %s (%q), want %s", what, got, b.text("#receipt-sig"), want)
	}
}

// flipBase64 changes the first character of a base64 text to another
// base64 character: the decoded bytes change in their first byte.
func flipBase64(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

// checkTreeHash compares the page's RFC 6962 tree hash of a list with
// golang.org/x/mod/sumdb/tlog's, for sizes around the page's runs of 4096
// lines, lines of different lengths (one empty, some not ASCII), and
// prefixes of the list.
func checkTreeHash(t *testing.T, b *browser) {
	t.Helper()
	const n = 9000
	var text strings.Builder
	var hashes []tlog.Hash
	for i := range n {
		line := fmt.Sprintf("%d %s", i, strings.Repeat("ż", i%70))
		if i == 17 {
			line = ""
		}
		text.WriteString(line + "\n")
		stored, err := tlog.StoredHashes(int64(i), []byte(line), tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
			out := make([]tlog.Hash, len(idx))
			for k, x := range idx {
				out[k] = hashes[x]
			}
			return out, nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, stored...)
	}
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for k, x := range idx {
			out[k] = hashes[x]
		}
		return out, nil
	})
	for _, size := range []int64{0, 1, 2, 3, 4095, 4096, 4097, 8192, 8193, n} {
		want, err := tlog.TreeHash(size, reader)
		if err != nil {
			t.Fatal(err)
		}
		got := evalJS[string](b, fmt.Sprintf(`window.powcheck.treeHash(%q, %d)`, text.String(), size), chromedp.EvalAwaitPromise)
		if got != base64.StdEncoding.EncodeToString(want[:]) {
			t.Errorf("tree hash of %d lines: page %s, tlog %s", size, got, want)
		}
	}
	if got := evalJS[*string](b, fmt.Sprintf(`window.powcheck.treeHash(%q, %d)`, text.String(), n+1), chromedp.EvalAwaitPromise); got != nil {
		t.Errorf("tree hash of %d lines of a %d-line list: %q, want none", n+1, n, *got)
	}
}

// checkTampered loads the page through the dishonest publisher d, which
// changes the votes list for every client, for each way of changing it, and
// checks what the page says about the checkpoints and about the receipt's
// signature. A line appended after the signed ones is not signed: the page
// shows it apart and does not count it.
func checkTampered(t *testing.T, b *browser, d *dishonestPublisher, voteLog, receipt string, rep *audit.Report) {
	t.Helper()
	lines := strings.SplitAfter(voteLog, "\n")
	lines = lines[:len(lines)-1] // after the last line feed
	size := len(lines)
	for _, tc := range []struct {
		name       string
		list       string // the votes list served, "" for the platform's
		gone       []string
		vote, note string
		sig        string
	}{
		{"unchanged", "", nil, "match",
			fmt.Sprintf("Votes list: matches the signed checkpoint at size %d.", size), "valid"},
		{"two lines swapped", lines[1] + lines[0] + strings.Join(lines[2:], ""), nil,
			"mismatch", fmt.Sprintf("Votes list: does NOT match the signed checkpoint at size %d.", size), "valid"},
		{"last line dropped", strings.Join(lines[:size-1], ""), nil, "short",
			fmt.Sprintf("the signed checkpoint covers %d lines, but the list has only %d.", size, size-1), "valid"},
		{"a line appended, as if the list grew", voteLog + lines[0], nil, "tail",
			fmt.Sprintf("its first %d lines match the signed checkpoint. Lines after them, which it does NOT sign: 1.", size), "valid"},
		{"no receipt key", "", []string{"/solar-receipt.key"}, "match", "", "nokey"},
	} {
		v := publisherView{gone: tc.gone}
		if tc.list != "" {
			v.all = map[string]string{"/solar-vote.log": tc.list}
		}
		d.serve(v)
		b.do("open the page through the proxy: "+tc.name,
			chromedp.Navigate(d.URL+"/app/check/index.html?lang=en"),
			chromedp.WaitVisible(chromedp.CSS(`body[data-done="true"] #tally tbody tr`)),
		)
		wantCheckpoints(t, b, tc.name, tc.vote, "match")
		if got := b.text("#cp-vote"); !strings.Contains(got, tc.note) {
			t.Errorf("%s: the page says %q, want it to say %q", tc.name, got, tc.note)
		}
		// Only signed lines count: all of them, or none when the list is
		// not the one signed.
		wantTrust, wantCounted := "signed", fmt.Sprint(size)
		if tc.vote == "mismatch" || tc.vote == "short" {
			wantTrust, wantCounted = "unsigned", "0"
		}
		if got := [2]string{dataResult(b, "trust"), b.text("#sum-sumVotes")}; got != [2]string{wantTrust, wantCounted} {
			t.Errorf("%s: the tally stands on %q lines, want %s %s", tc.name, got, wantTrust, wantCounted)
		}
		if wantTrust == "signed" {
			wantTally(t, b, tc.name, rep)
		}
		b.do("paste the receipt: "+tc.name,
			chromedp.SetValue(chromedp.ID("receipt-text"), receipt),
			chromedp.Click(chromedp.ID("check-receipt")),
			chromedp.WaitVisible(chromedp.CSS("#receipt-lines li")),
		)
		wantReceiptSig(t, b, tc.name, tc.sig)
		b.shot("tampered-" + strings.ReplaceAll(tc.name, " ", "-"))
		b.fits("tampered-" + tc.name)
	}
	d.serve(publisherView{})
}

// eventuallyJS waits, with chromedp's own polling, until expr is true in
// the page.
func eventuallyJS(t *testing.T, b *browser, what, expr string) {
	t.Helper()
	b.do(what, chromedp.Poll[chromedp.Void](expr))
}
