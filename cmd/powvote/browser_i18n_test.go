package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/mandate"
	"github.com/powvote/powvote/wire"
)

// TestBrowserNonASCIIVote votes for an option that is not plain ASCII in
// the voter app in Polish, against `powvote up` serving a campaign made
// with `powvote init` whose every option needs percent-encoding in headers:
// the ballot carries the options as encodeURIComponent writes them and the
// app shows them decoded; the receipt carries the chosen option encoded the
// same way, signed, and shows it decoded; the saved receipt file is what
// the app showed; the published votes list holds the vote with the option
// in UTF-8 between quotes (PROTOCOL.md 8); and the check page, in Polish,
// counts the vote under its option, matches the lists with their
// checkpoints and verifies the saved receipt.
func TestBrowserNonASCIIVote(t *testing.T) {
	options := []string{"Łódź", "Zürich", "Kraków—Praha", "日本"}
	const name, chosen = "miasta", 2
	say := options[chosen]

	data := filepath.Join(t.TempDir(), "pv")
	args := []string{"init", name, "--dir", data, "--threshold", "16", "--batch-size", "1"}
	for _, o := range options {
		args = append(args, "--option", o)
	}
	mustRun(t, args...)
	c, err := campaign.Load(data, name)
	if err != nil {
		t.Fatal(err)
	}
	p := startUp(t, data)
	defer p.stop(t)

	// The ballot as the edge sends it: every option percent-encoded.
	resp, err := http.Get(p.edge + "/list")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for i, o := range options {
		h := resp.Header.Get(fmt.Sprintf("Say%02d", i+1))
		if h != wire.EncodeOption(o) || !strings.Contains(h, "%") {
			t.Errorf("Say%02d is %q for %q, want it percent-encoded", i+1, h, o)
		}
	}

	tok := strings.TrimSpace(mustRun(t, "mandates", "--key", filepath.Join(data, name, campaign.DemoAuthorityKey), "--count", "1", "--format", "tokens"))
	m, err := mandate.ParseHex(tok)
	if err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t)
	downloads := t.TempDir()
	b.do("open the app in Polish",
		chromedp.EmulateViewport(360, 800),
		chromedp.Navigate(p.edge+"/?lang=pl"),
		chromedp.WaitVisible(chromedp.ID("opt-0")),
		allowDownloads(downloads),
	)
	if lang := evalJS[string](b, `document.documentElement.lang`); lang != "pl" {
		t.Errorf("the app is in %q, want pl", lang)
	}
	// The header values are exactly what the browser's encodeURIComponent
	// writes, and the app shows them decoded.
	for i, o := range options {
		if enc := evalJS[string](b, fmt.Sprintf(`encodeURIComponent(%q)`, o)); enc != wire.EncodeOption(o) {
			t.Errorf("encodeURIComponent(%q) = %q, the edge sends %q", o, enc, wire.EncodeOption(o))
		}
		if label := b.text(fmt.Sprintf(`label[for="opt-%d"]`, i)); label != o {
			t.Errorf("option %d is labelled %q, want %q", i+1, label, o)
		}
	}
	b.shot("ballot-pl")
	b.fits("ballot-pl")

	// Vote: the option, the booth code, the card typed line by line.
	b.choose(chosen, strings.TrimSpace(mustRun(t, "booth", "code", "--dir", data)))
	b.do("wait for the mandate form", chromedp.WaitVisible(chromedp.ID("line-12")))
	b.shot("working-pl")
	b.typeCard(m.Card())
	b.shot("card-typed-pl")
	b.do("cast", chromedp.Click(chromedp.ID("cast")), chromedp.WaitVisible(chromedp.ID("receipt-text")))
	b.shot("receipt-pl")
	b.fits("receipt-pl")

	// The receipt: signed for the campaign, the own stamp against the
	// option encoded as in the ballot, and shown decoded.
	text := b.text("#receipt-text")
	campaignName, lines, sig, err := wire.ParseReceipt(text)
	if err != nil {
		t.Fatalf("receipt %q: %v", text, err)
	}
	if err := wire.VerifyReceipt(c.Secrets.ReceiptKey.Public().(ed25519.PublicKey), campaignName, lines, sig); err != nil || campaignName != name {
		t.Fatalf("receipt for %q: %v", campaignName, err)
	}
	own := evalJS[string](b, `window.powvote.stamp.voter`)
	if want := own + " " + wire.EncodeOption(say); lines[chosen] != want {
		t.Errorf("receipt line %d is %q, want %q", chosen+1, lines[chosen], want)
	}
	if shown := b.text("#receipt-lines li.own"); !strings.Contains(shown, own+" "+say) {
		t.Errorf("the app shows the own receipt line as %q, want %q in it", shown, own+" "+say)
	}

	// The receipt saved as a voter saves it: the file is what the app
	// showed, under a name that gives away nothing of the vote. Names show
	// in download lists and synced folders; one with the start of the
	// voter's stamp would lead whoever reads it to the voter's line.
	b.do("save the receipt", chromedp.Click(chromedp.ID("save")))
	var saved string
	eventually(t, "the receipt file is downloaded", func() bool {
		files, _ := filepath.Glob(filepath.Join(downloads, "*"))
		if len(files) != 1 || strings.HasSuffix(files[0], ".crdownload") {
			return false
		}
		b, err := os.ReadFile(files[0])
		if err != nil || string(b) != text {
			return false
		}
		saved = files[0]
		return true
	})
	if base := filepath.Base(saved); base != name+"-receipt.txt" {
		t.Errorf("the receipt is saved as %q, want %q", base, name+"-receipt.txt")
	}
	// Nor any 4 symbols of the stamp in a row, a group or across two (by
	// chance a name shares 4 with a random stamp in fewer than one run in
	// 10,000).
	symbols := strings.ReplaceAll(own, "-", "")
	for i := 0; i+4 <= len(symbols); i++ {
		if strings.Contains(strings.ToUpper(filepath.Base(saved)), symbols[i:i+4]) {
			t.Errorf("the receipt's file name %q holds %q of the stamp %s", filepath.Base(saved), symbols[i:i+4], own)
			break
		}
	}

	// The published votes list: the vote's line, with the option in UTF-8
	// between quotes.
	var line string
	eventually(t, "the vote is published", func() bool {
		for l := range strings.SplitSeq(fetch(t, p.edge+"/"+name+"-vote.log"), "\n") {
			if strings.Contains(l, own) {
				line = l
				return true
			}
		}
		return false
	})
	v, err := listline.ParseVote(line)
	if err != nil || v.Option != say || v.Voter != own || !strings.HasSuffix(line, ` "`+say+`"`) {
		t.Errorf("published line %q (%v): want the stamp %s and the option %q in UTF-8 between quotes", line, err, own, say)
	}

	// The check page, in Polish: the tally, the checkpoints, the receipt.
	b.do("open the check page in Polish",
		chromedp.Navigate(p.edge+"/app/check/index.html?lang=pl"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-done="true"] #tally tbody tr`)),
	)
	if lang := evalJS[string](b, `document.documentElement.lang`); lang != "pl" {
		t.Errorf("the check page is in %q, want pl", lang)
	}
	rows := evalJS[[][3]string](b, `Array.from(document.querySelectorAll('#tally tbody tr'), (tr) => Array.from(tr.cells, (td) => td.textContent))`)
	if len(rows) != len(options) {
		t.Fatalf("the tally has rows %q, want one per option", rows)
	}
	for i, o := range options {
		want := [3]string{o, "0", ""}
		if i == chosen {
			want[1] = "1"
		}
		if rows[i] != want {
			t.Errorf("tally row %d is %q, want %q", i+1, rows[i], want)
		}
	}
	wantCheckpoints(t, b, "the check page in Polish", "match", "match")
	if got := b.text("#cp-vote"); !strings.HasPrefix(got, "Lista głosów: zgadza się") {
		t.Errorf("votes checkpoint result %q, want it in Polish", got)
	}
	b.shot("check-page-pl")
	b.fits("check-page-pl")

	b.do("pick the saved receipt",
		chromedp.SetUploadFiles(chromedp.ID("receipt-file"), []string{saved}),
	)
	eventuallyJS(t, b, "the picked receipt fills the field", `document.getElementById('receipt-text').value.includes('Receipt-Sig: ')`)
	b.do("check the receipt", chromedp.Click(chromedp.ID("check-receipt")), chromedp.WaitVisible(chromedp.CSS("#receipt-lines li")))
	wantReceiptSig(t, b, "the saved receipt", "valid")
	// The campaign's first voter has "-" against the options nobody had
	// chosen yet, and the own stamp found against the own option.
	results := evalJS[[]string](b, `Array.from(document.querySelectorAll('#receipt-lines li'), (li) => li.dataset.result)`)
	wantResults := []string{"none", "none", "none", "none"}
	wantResults[chosen] = "ok"
	if strings.Join(results, " ") != strings.Join(wantResults, " ") {
		t.Errorf("receipt lines %q, want %q; summary %q", results, wantResults, b.text("#receipt-summary"))
	}
	if got := b.text(fmt.Sprintf("#receipt-lines li:nth-child(%d)", chosen+1)); !strings.Contains(got, own+" "+say) {
		t.Errorf("the check page shows the own receipt line as %q", got)
	}
	if got := b.text("#receipt-sig"); !strings.HasPrefix(got, "Podpis: poprawny") {
		t.Errorf("signature result %q, want it in Polish", got)
	}
	b.shot("receipt-checked-pl")
	b.fits("receipt-checked-pl")
}

// allowDownloads lets the tab save downloads into dir under their own
// names, as a voter's browser saves the receipt.
func allowDownloads(dir string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
			Behavior:     cdpbrowser.SetDownloadBehaviorBehaviorAllow,
			DownloadPath: dir,
		})
		if err != nil {
			return fmt.Errorf("allow downloads into %s: %w", dir, err)
		}
		return nil
	})
}
