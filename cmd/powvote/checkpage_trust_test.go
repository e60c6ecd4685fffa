package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/powvote/powvote/audit"
	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/mandate"
	"github.com/powvote/powvote/pow"
	"github.com/powvote/powvote/wire"
)

// dishonestPublisher is a proxy in front of a running edge that plays a
// publisher serving other files than the platform's. The page is opened
// through it, so its origin is the proxy's.
type dishonestPublisher struct {
	URL  string
	view atomic.Pointer[publisherView]
}

// publisherView is what a dishonestPublisher serves besides the edge's own
// answers.
type publisherView struct {
	// all replaces the bodies of these paths for every client.
	all map[string]string
	// browser replaces the bodies of these paths for browsers only: the
	// requests that carry Sec-Fetch-* headers, which scripts and powvote
	// audit do not send.
	browser map[string]string
	// gone answers 404 for every path with one of these prefixes.
	gone []string
	// handlers answer the paths under their prefix.
	handlers map[string]http.Handler
}

func startDishonestPublisher(t *testing.T, edgeURL string) *dishonestPublisher {
	t.Helper()
	target, err := url.Parse(edgeURL)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	d := &dishonestPublisher{}
	d.view.Store(&publisherView{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := d.view.Load()
		path := r.URL.Path
		for prefix, h := range v.handlers {
			if strings.HasPrefix(path, prefix) {
				h.ServeHTTP(w, r)
				return
			}
		}
		for _, g := range v.gone {
			if strings.HasPrefix(path, g) {
				w.Header().Set("Cache-Control", "no-store")
				w.WriteHeader(http.StatusNotFound)
				return
			}
		}
		body, ok := v.all[path]
		if b, mine := v.browser[path]; mine && fromBrowser(r) {
			body, ok = b, true
		}
		if !ok {
			rp.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	d.URL = srv.URL
	return d
}

// serve makes the proxy serve v from the next request on.
func (d *dishonestPublisher) serve(v publisherView) { d.view.Store(&v) }

// fromBrowser reports whether a request carries the Fetch Metadata headers
// browsers send (Sec-Fetch-Site, -Mode, -Dest, ...).
func fromBrowser(r *http.Request) bool {
	for k := range r.Header {
		if strings.HasPrefix(k, "Sec-Fetch-") {
			return true
		}
	}
	return false
}

// logSigner signs checkpoints with the campaign's own log key, as a
// publisher that signs whatever it serves would.
type logSigner struct {
	signer note.Signer
	vkey   string // the verifier key the platform serves
}

func newLogSigner(t *testing.T, c *campaign.Campaign, edgeURL string) logSigner {
	t.Helper()
	s, err := note.NewSigner(c.Secrets.LogKey)
	if err != nil {
		t.Fatal(err)
	}
	return logSigner{s, strings.TrimSpace(fetch(t, edgeURL+"/solar-log.vkey"))}
}

// checkpoint returns the signed note of a tlog-checkpoint of the first
// size lines of lines (without line feeds), with extension lines ext.
func (s logSigner) checkpoint(t *testing.T, list string, lines []string, size int, ext ...string) string {
	t.Helper()
	root := treeOf(t, lines, size)
	text := fmt.Sprintf("powvote/solar/%s\n%d\n%s\n", list, size, base64.StdEncoding.EncodeToString(root[:]))
	for _, e := range ext {
		text += e + "\n"
	}
	b, err := note.Sign(&note.Note{Text: text}, s.signer)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// treeOf is tlog's tree hash of the first size of lines.
func treeOf(t *testing.T, lines []string, size int) tlog.Hash {
	t.Helper()
	var hashes []tlog.Hash
	r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = hashes[x]
		}
		return out, nil
	})
	for i, l := range lines[:size] {
		h, err := tlog.StoredHashes(int64(i), []byte(l), r)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, h...)
	}
	root, err := tlog.TreeHash(int64(size), r)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// listLines splits a list into its lines, without line feeds.
func listLines(list string) []string {
	return strings.Split(strings.TrimSuffix(list, "\n"), "\n")
}

func joinLines(lines []string) string { return strings.Join(lines, "\n") + "\n" }

// openThrough loads the page from base and waits until it has checked the
// lists.
func openThrough(b *browser, base, what string) {
	b.t.Helper()
	b.do("open the page: "+what,
		chromedp.Navigate(base+"/app/check/index.html?lang=en"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-done="true"] #results`)),
	)
}

// remember sets what the browser keeps for the page of origin base: the
// checkpoint of each list given (vkey and note), nothing for the others.
// It writes from a file of the origin that runs no script of the page, and
// empties the HTTP cache, where tiles of an earlier visit would stand in
// for what the proxy serves now.
func remember(b *browser, base string, notes map[string][2]string) {
	b.t.Helper()
	js := `localStorage.removeItem('powvote-checkpoint:solar:vote'); localStorage.removeItem('powvote-checkpoint:solar:auth'); localStorage.removeItem('powvote-checkpoint:solar:retracted');`
	for list, kn := range notes {
		v, _ := json.Marshal(map[string]string{"vkey": kn[0], "note": kn[1]})
		lit, _ := json.Marshal(string(v))
		js += fmt.Sprintf(`localStorage.setItem(%q, %s);`, "powvote-checkpoint:solar:"+list, lit)
	}
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, network.ClearBrowserCache, cdp.Empty{}); err != nil {
		b.t.Fatalf("clear the browser's cache: %v", err)
	}
	b.do("set what the browser remembers", chromedp.Navigate(base+"/app/check/check.css"), chromedp.Evaluate[chromedp.Void](js))
}

// remembered returns the note the browser keeps for a list of base.
func remembered(b *browser, list string) string {
	b.t.Helper()
	s := evalJS[*string](b, fmt.Sprintf(`localStorage.getItem(%q)`, "powvote-checkpoint:solar:"+list))
	if s == nil {
		return ""
	}
	var v struct{ Note string }
	if err := json.Unmarshal([]byte(*s), &v); err != nil {
		b.t.Fatalf("the browser keeps %q for the %s list: %v", *s, list, err)
	}
	return v.Note
}

// dataResult returns the data-result of the element with this id, "" when
// it has none.
func dataResult(b *browser, id string) string {
	b.t.Helper()
	return evalJS[string](b, fmt.Sprintf(`document.getElementById(%q).dataset.result || ''`, id))
}

// tallyRows returns the tally as the page shows it.
func tallyRows(b *browser) [][3]string {
	b.t.Helper()
	return evalJS[[][3]string](b, `Array.from(document.querySelectorAll('#tally tbody tr'), (tr) => Array.from(tr.cells, (td) => td.textContent))`)
}

// wantTally checks the page's tally against the audit's, with nothing
// below the threshold.
func wantTally(t *testing.T, b *browser, what string, rep *audit.Report) {
	t.Helper()
	rows := tallyRows(b)
	var want [][3]string
	for _, oc := range rep.Tally {
		want = append(want, [3]string{oc.Option, fmt.Sprint(oc.Votes), ""})
	}
	if !slices.Equal(rows, want) {
		t.Errorf("%s: the page's tally is %q, the audit's %q", what, rows, want)
	}
}

// problems returns the page's list of problems as kind -> count.
func problems(b *browser) map[string]int {
	b.t.Helper()
	return evalJS[map[string]int](b, `Object.fromEntries(Array.from(document.querySelectorAll('#problems li'), (li) => [li.dataset.kind, Number(li.dataset.count)]))`)
}

// receiptResults pastes a receipt and returns the page's result of each of
// its lines.
func receiptResults(b *browser, receipt, what string) []string {
	b.t.Helper()
	b.do("paste the receipt: "+what,
		chromedp.SetValue(chromedp.ID("receipt-text"), receipt),
		chromedp.Click(chromedp.ID("check-receipt")),
		chromedp.WaitVisible(chromedp.CSS("#receipt-lines li")),
	)
	return evalJS[[]string](b, `Array.from(document.querySelectorAll('#receipt-lines li'), (li) => li.dataset.result)`)
}

// findStamp types a voter stamp into "Find my vote" and returns the
// page's result: counted, below, unsigned or missing.
func findStamp(b *browser, stamp string) string {
	b.t.Helper()
	b.do("find "+stamp, clearField("stamp"), chromedp.SendKeys(chromedp.ID("stamp"), stamp), chromedp.Click(chromedp.ID("find-button")),
		chromedp.Poll[chromedp.Void](`document.getElementById('find-result').dataset.result !== undefined`))
	return dataResult(b, "find-result")
}

// checkMandateVectorsInPage runs the page's own mandate checks (its
// workers, WebCrypto) on the shared vectors of mandateVectorsFile: the same
// verdicts as package listline's; and without the campaign's authorities,
// the line signed by another key verifies like the others.
func checkMandateVectorsInPage(t *testing.T, b *browser) {
	t.Helper()
	v := readMandateVectors(t)
	var lines, want []string
	for _, l := range v.Lines {
		lines = append(lines, l.Line)
		want = append(want, l.Verdict)
	}
	arg, _ := json.Marshal(lines)
	auth, _ := json.Marshal(v.Authorities)
	got := evalJS[[]string](b, fmt.Sprintf(`window.powcheck.checkMandates(%s, %s)`, arg, auth), chromedp.EvalAwaitPromise)
	if !slices.Equal(got, want) {
		for i := range want {
			if i >= len(got) || got[i] != want[i] {
				t.Errorf("mandate vector %d (%s): the page says %v, want %s", i+1, v.Lines[i].Why, got, want[i])
			}
		}
	}
	got = evalJS[[]string](b, fmt.Sprintf(`window.powcheck.checkMandates(%s, null)`, arg), chromedp.EvalAwaitPromise)
	if goWant := mandateVerdicts(t, nil, lines); len(got) != len(goWant) {
		t.Errorf("without authorities the page gives %d verdicts for %d lines", len(got), len(goWant))
	} else {
		for i, w := range want {
			if w == "authority" {
				w = "ok"
			}
			if got[i] != w {
				t.Errorf("mandate vector %d without authorities: the page says %s, want %s", i+1, got[i], w)
			}
		}
	}
}

// checkUnsignedTail serves browsers the signed lists with an unsigned tail
// after them: the line of a vote the platform has accepted but not
// published (its receipt in hand), copies of published votes, a copy of a
// voter, a mandate that verifies and a junk line. powvote audit, which
// sends no Sec-Fetch-* headers, sees the clean lists. The page counts what
// the audit counts, shows the tail apart, and tells the voter of the
// unpublished vote that their line is not in the signed list.
func checkUnsignedTail(t *testing.T, b *browser, d *dishonestPublisher, data, edgeURL string, c *campaign.Campaign, rep *audit.Report) {
	t.Helper()
	voteLog, authLog := fetch(t, edgeURL+"/solar-vote.log"), fetch(t, edgeURL+"/solar-auth.log")
	votes, voters := listLines(voteLog), listLines(authLog)

	// One more vote: the publisher keeps it back (docs/PUBLISHING.md), so
	// its line is on the collectors and in no signed list.
	say := c.Settings.Options[0]
	saved := filepath.Join(t.TempDir(), "kept-back.txt")
	key := filepath.Join(data, "solar", campaign.DemoAuthorityKey)
	toks := strings.Fields(mustRun(t, "mandates", "--key", key, "--count", "2", "--format", "tokens"))
	code := strings.TrimSpace(mustRun(t, "booth", "code", "--dir", data))
	mustRun(t, "vote", "--edge", edgeURL, "--mandate", toks[0], "--booth-code", code, "--say", say, "--out", saved)
	receipt, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	_, rlines, _, err := wire.ParseReceipt(string(receipt))
	if err != nil {
		t.Fatal(err)
	}
	own, _, _ := strings.Cut(rlines[0], " ")
	var keptLine string
	for _, l := range listLines(collectorState(t, data, 0)) {
		if _, payload, _ := strings.Cut(l, " "); strings.Contains(payload, own) && !strings.HasPrefix(payload, "retract ") {
			keptLine = payload
		}
	}
	if keptLine == "" || strings.Contains(fetch(t, edgeURL+"/solar-vote.log"), own) {
		t.Fatalf("the vote of %s is not kept back: line %q", own, keptLine)
	}
	tok, err := mandate.ParseHex(toks[1])
	if err != nil {
		t.Fatal(err)
	}
	valid := listline.Voter{Pkey: tok.AuthPkey, Sig: tok.AuthSig, ID: tok.AuthID}.Line()

	tail := []string{keptLine, votes[0], votes[1]}
	junk := []string{voters[0], valid, "not a mandate"}
	d.serve(publisherView{browser: map[string]string{
		"/solar-vote.log": joinLines(append(slices.Clone(votes), tail...)),
		"/solar-auth.log": joinLines(append(slices.Clone(voters), junk...)),
	}})

	// The audit through the same proxy sees the clean lists.
	r := run(t, "audit", d.URL, "--campaign", "solar", "--json")
	var seen audit.Report
	if err := json.Unmarshal([]byte(r.stdout), &seen); err != nil || r.code != 0 {
		t.Fatalf("audit --json through the proxy: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if seen.Votes != len(votes) || seen.Voters != len(voters) || !slices.Equal(seen.Tally, rep.Tally) {
		t.Fatalf("through the proxy the audit sees %d votes, %d voters, %v; want the clean %d, %d, %v", seen.Votes, seen.Voters, seen.Tally, len(votes), len(voters), rep.Tally)
	}

	openThrough(b, d.URL, "an unsigned tail for browsers")
	b.shot("unsigned-tail")
	b.fits("unsigned-tail")
	wantCheckpoints(t, b, "an unsigned tail", "tail", "tail")
	for _, w := range []string{"vote", "auth"} {
		if n := evalJS[string](b, fmt.Sprintf(`document.getElementById('cp-%s').dataset.unsigned`, w)); n != "3" {
			t.Errorf("an unsigned tail: the %s list has %s unsigned lines, want 3 (%q)", w, n, b.text("#cp-"+w))
		}
	}
	if got := b.text("#cp-vote"); !strings.Contains(got, fmt.Sprintf("its first %d lines match the signed checkpoint. Lines after them, which it does NOT sign: 3.", len(votes))) {
		t.Errorf("an unsigned tail: the votes checkpoint says %q", got)
	}
	wantTally(t, b, "an unsigned tail", &seen)
	if v, vs := b.text("#sum-sumVotes"), b.text("#sum-sumVoters"); v != fmt.Sprint(seen.Votes) || vs != fmt.Sprint(seen.Voters) {
		t.Errorf("an unsigned tail: %q votes and %q voters shown, the audit has %d and %d", v, vs, seen.Votes, seen.Voters)
	}
	if got := b.text("#sum-sumUnsigned"); got != "votes list 3, voters list 3" {
		t.Errorf("an unsigned tail: unsigned lines shown as %q", got)
	}
	if work := evalJS[float64](b, `window.powcheck.work`); work != seen.Work {
		t.Errorf("an unsigned tail: the page's work is %v, the audit's %v", work, seen.Work)
	}
	if got := dataResult(b, "trust"); got != "signed" {
		t.Errorf("an unsigned tail: the tally stands on %q", got)
	}
	if ps := problems(b); len(ps) != 0 {
		t.Errorf("an unsigned tail: problems %v in the signed lines", ps)
	}

	// The receipt of the vote kept back: its own line is in the unsigned
	// tail only; the others are where the clean list has them.
	var want []string
	for _, l := range rlines {
		stamp, _, _ := strings.Cut(l, " ")
		switch {
		case stamp == "-":
			want = append(want, "none")
		case strings.Contains(voteLog, stamp):
			want = append(want, "ok")
		case stamp == own:
			want = append(want, "unsigned")
		default:
			want = append(want, "missing")
		}
	}
	if got := receiptResults(b, string(receipt), "the vote kept back"); !slices.Equal(got, want) {
		t.Errorf("the receipt of the vote kept back: lines %q, want %q (%q)", got, want, b.text("#receipt-summary"))
	}
	if !evalJS[bool](b, `document.getElementById('receipt-summary').className === 'bad'`) {
		t.Errorf("the receipt of the vote kept back: the summary %q is not a failure", b.text("#receipt-summary"))
	}
	b.shot("unsigned-tail-receipt")
	if got := findStamp(b, own); got != "unsigned" {
		t.Errorf("finding the stamp of the vote kept back: %q (%q), want unsigned", got, b.text("#find-result"))
	}
	copied := strings.Fields(votes[0])[2]
	if got := findStamp(b, copied); got != "counted" {
		t.Errorf("finding a stamp copied into the tail: %q (%q), want counted, once", got, b.text("#find-result"))
	}
}

// mineVote changes a vote (through change, given a counter) until its
// proof of work reaches threshold, and returns its line.
func mineVote(t *testing.T, v listline.Vote, threshold int, change func(v *listline.Vote, i uint32)) string {
	t.Helper()
	for i := range uint32(1 << 26) {
		change(&v, i)
		if _, err := pow.Verify(v.Work(), v.Nonce, threshold); err == nil {
			return v.Line()
		}
	}
	t.Fatal("no vote reaches the threshold")
	return ""
}

// checkSignedDuplicates serves every client lists whose signed lines hold
// votes and mandates that must not count: a copied vote, a vote that
// reuses a voter stamp with a nonce of its own and one that reuses a nonce
// with a stamp of its own (both with enough work), a copied mandate, a
// mandate whose signature does not verify and one by a key that is not an
// authority; the checkpoints that sign them are made with the campaign's
// own log key, as a publisher that signs what it serves would. The page
// names each as a problem and counts what the clean lists count. The
// checkpoints' settings line is then the served settings' SHA-256, another
// hash, absent, or there while the settings are not served.
func checkSignedDuplicates(t *testing.T, b *browser, d *dishonestPublisher, edgeURL string, c *campaign.Campaign, s logSigner, rep *audit.Report) {
	t.Helper()
	votes, voters := listLines(fetch(t, edgeURL+"/solar-vote.log")), listLines(fetch(t, edgeURL+"/solar-auth.log"))
	if len(votes) < 3 {
		t.Fatalf("%d votes published, want 3 or more", len(votes))
	}
	th := c.Settings.Threshold
	v1, err := listline.ParseVote(votes[1])
	if err != nil {
		t.Fatal(err)
	}
	sameStamp := mineVote(t, v1, th, func(v *listline.Vote, i uint32) {
		v.Nonce = []byte{0xee, 0xee, 0xee, 0xee, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
	})
	v2, err := listline.ParseVote(votes[2])
	if err != nil {
		t.Fatal(err)
	}
	otherStamp := []byte(v2.Voter)
	otherStamp[0] = map[bool]byte{true: '1', false: '0'}[otherStamp[0] == '0']
	v2.Voter = string(otherStamp)
	sameNonce := mineVote(t, v2, th, func(v *listline.Vote, i uint32) {
		v.PSig[0], v.PSig[1], v.PSig[2], v.PSig[3] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
	})
	key := filepath.Join(c.Dir, campaign.DemoAuthorityKey)
	tok, err := mandate.ParseHex(strings.TrimSpace(mustRun(t, "mandates", "--key", key, "--count", "1", "--format", "tokens")))
	if err != nil {
		t.Fatal(err)
	}
	tok.AuthSig[7] ^= 1
	badSig := listline.Voter{Pkey: tok.AuthPkey, Sig: tok.AuthSig, ID: tok.AuthID}.Line()
	_, stranger, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other := mandate.Sign(stranger, [mandate.IDSize]byte{1, 2, 3})
	unknown := listline.Voter{Pkey: other.AuthPkey, Sig: other.AuthSig, ID: other.AuthID}.Line()

	fv := append(slices.Clone(votes), votes[0], sameStamp, sameNonce)
	fa := append(slices.Clone(voters), voters[0], badSig, unknown)
	settings := fetch(t, edgeURL+"/solar-settings.yaml")
	sum := sha256.Sum256([]byte(settings))
	good := "settings " + hex.EncodeToString(sum[:])
	sum[0] ^= 1
	wrong := "settings " + hex.EncodeToString(sum[:])

	// Nothing remembered from before: these trees extend the platform's,
	// and the tiles of their sizes are nowhere.
	remember(b, d.URL, nil)
	for _, tc := range []struct {
		name     string
		ext      []string
		gone     []string
		settings string
	}{
		{"settings committed", []string{good, "example.org/extension one"}, nil, "committed"},
		{"other settings committed", []string{wrong}, nil, "mismatch"},
		{"no settings line", nil, nil, "uncommitted"},
		{"settings committed and not served", []string{good}, []string{"/solar-settings.yaml"}, "missing"},
	} {
		d.serve(publisherView{all: map[string]string{
			"/solar-vote.log":        joinLines(fv),
			"/solar-auth.log":        joinLines(fa),
			"/solar-vote.checkpoint": s.checkpoint(t, "vote", fv, len(fv), tc.ext...),
			"/solar-auth.checkpoint": s.checkpoint(t, "auth", fa, len(fa), tc.ext...),
			"/solar-retracted.log":   "",
			// The retracted list's checkpoint commits to the settings
			// as the others do.
			"/solar-retracted.checkpoint": s.checkpoint(t, "retracted", nil, 0, tc.ext...),
		}, gone: tc.gone})
		openThrough(b, d.URL, tc.name)
		b.shot("signed-duplicates-" + strings.ReplaceAll(tc.name, " ", "-"))
		b.fits("signed-duplicates-" + tc.name)
		wantCheckpoints(t, b, tc.name, "match", "match")
		if got := dataResult(b, "cp-settings"); got != tc.settings {
			t.Errorf("%s: settings %q (%q), want %s", tc.name, got, b.text("#cp-settings"), tc.settings)
		}
		if alarm := !evalJS[bool](b, `document.getElementById('alarm').hidden`); alarm != (tc.settings == "mismatch" || tc.settings == "missing") {
			t.Errorf("%s: the alarm is shown %v: %q", tc.name, alarm, b.text("#alarm"))
		}
		if tc.settings == "missing" {
			if _, ok := problems(b)["noAuthorities"]; !ok {
				t.Errorf("%s: the page does not say the authorities are unknown: %v", tc.name, problems(b))
			}
			continue
		}
		wantTally(t, b, tc.name, rep)
		if v, vs := b.text("#sum-sumVotes"), b.text("#sum-sumVoters"); v != fmt.Sprint(len(fv)) || vs != fmt.Sprint(rep.Voters) {
			t.Errorf("%s: %q vote lines and %q voters shown, want %d and %d", tc.name, v, vs, len(fv), rep.Voters)
		}
		if work := evalJS[float64](b, `window.powcheck.work`); work != rep.Work {
			t.Errorf("%s: the page's work is %v, the clean lists' %v", tc.name, work, rep.Work)
		}
		want := map[string]int{"dupNonce": 2, "dupStamp": 1, "dupMandate": 1, "badSig": 1, "authority": 1}
		if got := problems(b); !mapsEqual(got, want) {
			t.Errorf("%s: problems %v, want %v", tc.name, got, want)
		}
		lines := evalJS[map[string]string](b, `Object.fromEntries(Array.from(document.querySelectorAll('#problems li'), (li) => [li.dataset.kind, li.textContent]))`)
		n := len(votes)
		for kind, at := range map[string]string{
			"dupNonce": fmt.Sprintf("(lines: %d, %d)", n+1, n+3), "dupStamp": fmt.Sprintf("(lines: %d)", n+2),
			"dupMandate": fmt.Sprintf("(lines: %d)", n+1), "badSig": fmt.Sprintf("(lines: %d)", n+2), "authority": fmt.Sprintf("(lines: %d)", n+3),
		} {
			if !strings.Contains(lines[kind], at) {
				t.Errorf("%s: problem %s says %q, want it to name %s", tc.name, kind, lines[kind], at)
			}
		}
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// checkRewrites makes the browser remember a signed checkpoint, then opens
// the page on the platform's own lists: an earlier checkpoint of the same
// lists is extended (the tiles prove it) and replaced by today's; one of
// other lines at a smaller or the same size shows a rewrite, one larger
// than today's an older checkpoint, and both stay remembered; missing or
// wrong tiles leave the check undone, and a checkpoint of another log key
// shows that the key changed. The notes are signed with the campaign's own
// log key, as a publisher that rewrote its log would have to.
func checkRewrites(t *testing.T, b *browser, d *dishonestPublisher, edgeURL string, s logSigner) {
	t.Helper()
	votes, voters := listLines(fetch(t, edgeURL+"/solar-vote.log")), listLines(fetch(t, edgeURL+"/solar-auth.log"))
	n := len(votes)
	if n < 3 || len(voters) != n {
		t.Fatalf("%d votes and %d voters published, want as many, 3 or more", n, len(voters))
	}
	other := slices.Clone(votes)
	other[0] = strings.Replace(other[0], `"`, `"x`, 1)
	longer := append(slices.Clone(votes), votes[0], votes[1])
	otherKey, otherVkey, err := note.GenerateKey(rand.Reader, "powvote-solar")
	if err != nil {
		t.Fatal(err)
	}
	otherSigner, err := note.NewSigner(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	foreign := logSigner{otherSigner, otherVkey}
	tile := fmt.Sprintf("/solar-vote/tile/0/000.p/%d", n)
	d.serve(publisherView{})
	for _, tc := range []struct {
		name       string
		vote, auth [2]string // vkey and note remembered
		view       publisherView
		vote2      string // result for the votes list
		kept       int    // size of the votes checkpoint remembered afterwards
	}{
		{name: "an earlier checkpoint of these lists",
			vote: [2]string{s.vkey, s.checkpoint(t, "vote", votes, 1)}, auth: [2]string{s.vkey, s.checkpoint(t, "auth", voters, n-1)},
			vote2: "consistent", kept: n},
		{name: "other lines at a smaller size", vote: [2]string{s.vkey, s.checkpoint(t, "vote", other, 2)}, vote2: "rewritten", kept: 2},
		{name: "other lines at the same size", vote: [2]string{s.vkey, s.checkpoint(t, "vote", other, n)}, vote2: "rewritten", kept: n},
		{name: "a larger checkpoint", vote: [2]string{s.vkey, s.checkpoint(t, "vote", longer, n+2)}, vote2: "older", kept: n + 2},
		{name: "no tiles", vote: [2]string{s.vkey, s.checkpoint(t, "vote", votes, 1)},
			view: publisherView{gone: []string{"/solar-vote/tile/"}}, vote2: "unchecked", kept: 1},
		{name: "wrong tiles", vote: [2]string{s.vkey, s.checkpoint(t, "vote", votes, 1)},
			view: publisherView{all: map[string]string{tile: strings.Repeat("x", 32*n)}}, vote2: "badtiles", kept: 1},
		{name: "another log key", vote: [2]string{foreign.vkey, foreign.checkpoint(t, "vote", votes, 1)}, vote2: "keychanged", kept: 1},
	} {
		notes := map[string][2]string{"vote": tc.vote}
		if tc.auth[0] != "" {
			notes["auth"] = tc.auth
		}
		remember(b, d.URL, notes)
		d.serve(tc.view)
		openThrough(b, d.URL, tc.name)
		b.shot("history-" + strings.ReplaceAll(tc.name, " ", "-"))
		b.fits("history-" + tc.name)
		wantCheckpoints(t, b, tc.name, "match", "match")
		if got := dataResult(b, "cons-vote"); got != tc.vote2 {
			t.Errorf("%s: the votes list is %q (%q), want %s", tc.name, got, b.text("#cons-vote"), tc.vote2)
		}
		wantAuth := "first"
		if tc.auth[0] != "" {
			wantAuth = "consistent"
		}
		if got := dataResult(b, "cons-auth"); got != wantAuth {
			t.Errorf("%s: the voters list is %q (%q), want %s", tc.name, got, b.text("#cons-auth"), wantAuth)
		}
		if kept := remembered(b, "vote"); !strings.Contains(kept, "\n"+strconv.Itoa(tc.kept)+"\n") {
			t.Errorf("%s: the browser keeps %q for the votes list, want the checkpoint of size %d", tc.name, kept, tc.kept)
		}
		evidence := !evalJS[bool](b, `document.getElementById('evidence').hidden`)
		if bad := slices.Contains([]string{"rewritten", "older", "keychanged"}, tc.vote2); evidence != bad ||
			bad && !strings.Contains(b.text("#evidence-text"), tc.vote[1]) {
			t.Errorf("%s: evidence shown %v: %q", tc.name, evidence, b.text("#evidence-text"))
		}
		if alarm := !evalJS[bool](b, `document.getElementById('alarm').hidden`); alarm != slices.Contains([]string{"rewritten", "older", "keychanged"}, tc.vote2) {
			t.Errorf("%s: the alarm is shown %v: %q", tc.name, alarm, b.text("#alarm"))
		}
		if tc.vote2 == "rewritten" && !strings.Contains(b.text("#cons-vote"), "REWRITTEN") {
			t.Errorf("%s: the page says %q", tc.name, b.text("#cons-vote"))
		}
	}
	d.serve(publisherView{})
}

// syntheticLog is a log of 70,000 leaves, enough for tiles of three levels
// (the 65,536 first leaves make one hash of level 2), served as C2SP
// tlog-tiles of height 8 under /synthetic-vote/tile/.
type syntheticLog struct {
	hashes []tlog.Hash
	broken atomic.Bool // serve tiles with one hash changed
}

const syntheticSize = 70000

func newSyntheticLog(t *testing.T) *syntheticLog {
	t.Helper()
	l := &syntheticLog{}
	for i := range int64(syntheticSize) {
		h, err := tlog.StoredHashes(i, []byte("leaf "+strconv.FormatInt(i, 10)), l)
		if err != nil {
			t.Fatal(err)
		}
		l.hashes = append(l.hashes, h...)
	}
	return l
}

func (l *syntheticLog) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x >= int64(len(l.hashes)) {
			return nil, fmt.Errorf("no hash %d", x)
		}
		out[i] = l.hashes[x]
	}
	return out, nil
}

func (l *syntheticLog) root(t *testing.T, n int64) string {
	t.Helper()
	h, err := tlog.TreeHash(n, l)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(h[:])
}

// ServeHTTP answers /synthetic-vote/tile/<L>/<N>[.p/<W>] from the hashes
// (tlog writes the same path with the height after "tile/").
func (l *syntheticLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/synthetic-vote/tile/")
	tile, err := tlog.ParseTilePath("tile/8/" + rest)
	if err != nil || tile.L < 0 {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	data, err := tlog.ReadTileData(tile, l)
	if err != nil {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if l.broken.Load() {
		data[len(data)-1] ^= 1
	}
	w.Write(data)
}

// checkConsistencyMath holds the page's consistency proofs from tiles to
// tlog's ProveTree and CheckTree over a log of three tile levels: across
// tile edges, powers of two and levels; a root of other leaves is a
// rewrite; tiles that do not give the current root prove nothing; and
// missing tiles leave it unchecked.
func checkConsistencyMath(t *testing.T, b *browser, d *dishonestPublisher) {
	t.Helper()
	l := newSyntheticLog(t)
	d.serve(publisherView{handlers: map[string]http.Handler{"/synthetic-vote/tile/": l}})
	defer d.serve(publisherView{})
	b.do("open the page for its proofs", chromedp.Navigate(d.URL+"/app/check/index.html?lang=en"), chromedp.WaitVisible(chromedp.CSS(`body[data-done="true"]`)))
	check := func(base string, n int64, h string, size int64, th string) string {
		return evalJS[string](b, fmt.Sprintf(`window.powcheck.checkConsistency(%q, %d, %q, %d, %q)`, base, n, h, size, th), chromedp.EvalAwaitPromise)
	}
	for _, p := range [][2]int64{
		{1, 2}, {1, syntheticSize}, {3, 7}, {255, 256}, {256, 257}, {257, syntheticSize}, {4096, 65536},
		{65535, 65536}, {65536, 65537}, {65537, syntheticSize}, {12345, 54321}, {syntheticSize - 1, syntheticSize},
	} {
		n, size := p[0], p[1]
		proof, err := tlog.ProveTree(size, n, l)
		if err != nil {
			t.Fatal(err)
		}
		h, _ := tlog.TreeHash(n, l)
		th, _ := tlog.TreeHash(size, l)
		if err := tlog.CheckTree(proof, size, th, n, h); err != nil {
			t.Fatalf("tlog: %d to %d: %v", n, size, err)
		}
		if got := check("/synthetic-vote", n, l.root(t, n), size, l.root(t, size)); got != "consistent" {
			t.Errorf("from %d to %d leaves: the page says %s, tlog consistent", n, size, got)
		}
		if got := check("/synthetic-vote", n, l.root(t, n-1+2*(n%2)), size, l.root(t, size)); got != "rewritten" {
			t.Errorf("from %d to %d leaves with another root at %d: the page says %s, want rewritten", n, size, n, got)
		}
	}
	if got := check("/synthetic-vote", 100, l.root(t, 100), 100, l.root(t, 100)); got != "same" {
		t.Errorf("the same tree: %s", got)
	}
	if got := check("/synthetic-vote", 101, l.root(t, 101), 100, l.root(t, 100)); got != "older" {
		t.Errorf("a smaller tree: %s", got)
	}
	if got := check("/nowhere-vote", 300, l.root(t, 300), 70000, l.root(t, 70000)); got != "unchecked" {
		t.Errorf("without tiles: %s", got)
	}
	l.broken.Store(true)
	if got := check("/synthetic-vote", 300, l.root(t, 300), 70000, l.root(t, 70000)); got != "badtiles" {
		t.Errorf("with a changed tile: %s", got)
	}
}
