package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/mandate"
)

// openPhone loads the voter app in English in a 360 x 740 viewport, a
// small phone held upright, and waits for the ballot.
func (b *browser) openPhone(edge string) {
	b.t.Helper()
	b.do("open the app at 360x740", chromedp.EmulateViewport(360, 740), chromedp.Navigate(edge+"/?lang=en"), chromedp.WaitVisible(chromedp.ID("opt-0")))
}

// printedCard is a card's lines as printed, each after its number
// (mandate.WriteCardsHTML, Token.CardPNG): " 7: Q0C1 E147 7AZR YM3Q N".
func printedCard(lines [mandate.CardLines]string) [mandate.CardLines]string {
	var out [mandate.CardLines]string
	for i, l := range lines {
		out[i] = fmt.Sprintf("%2d: %s", i+1, l)
	}
	return out
}

// TestBrowserPhoneCard follows a voter with a printed card on a 360 px
// phone, against `powvote up`, through the four places where a voter was
// left in doubt:
//
//  1. lines typed with their printed numbers are read, and every field
//     shows its whole line;
//  2. a line flagged as mistyped loses its complaint, beside the field and
//     above Cast, as soon as it reads, without leaving the field;
//  3. the first receipt of the campaign, whose other lines carry "-", says
//     that no other voter had chosen those options yet rather than that
//     the lines carry other voters' stamps;
//  4. a refusal after Cast (the same card again: 481) takes the focus,
//     stands in view and says what to do next.
func TestBrowserPhoneCard(t *testing.T) {
	b := newBrowser(t)
	data := filepath.Join(t.TempDir(), "pv")
	p := startUp(t, data)
	defer p.stop(t)
	c, err := campaign.Load(data, "solar")
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(mustRun(t, "mandates", "--key", filepath.Join(data, "solar", campaign.DemoAuthorityKey), "--count", "1", "--format", "tokens"))
	m, err := mandate.ParseHex(tok)
	if err != nil {
		t.Fatal(err)
	}
	card := m.Card()
	printed := printedCard(card)
	boothCode := func() string { return strings.TrimSpace(mustRun(t, "booth", "code", "--dir", data)) }

	b.openPhone(p.edge)
	say := c.Settings.Options[3]
	b.choose(3, boothCode())
	b.do("wait for the mandate form", chromedp.WaitVisible(chromedp.ID("line-12")))

	// 1 and 2: the card typed as printed, line 7 with a typo.
	typed := printed
	typed[6] = fmt.Sprintf("%2d: %s", 7, mistype(card[6]))
	b.typeCard(typed)
	b.do("cast with a typo", chromedp.Click(chromedp.ID("cast")), chromedp.WaitVisible(chromedp.ID("msg-7")))
	b.shot("printed-lines-typo")
	b.fits("printed lines")
	for i := range typed {
		w := evalJS[[2]int](b, fmt.Sprintf(`(() => { const e = document.getElementById('line-%d'); return [e.scrollWidth, e.clientWidth]; })()`, i+1))
		if w[0] > w[1] {
			t.Errorf("line %d %q: %d px of text in a field showing %d px", i+1, typed[i], w[0], w[1])
		}
		if i == 6 {
			continue
		}
		// Read, and the number taken out: the field's label says it.
		got := evalJS[[]any](b, fmt.Sprintf(`(() => { const e = document.getElementById('line-%d'); return [e.parentElement.classList.contains('ok'), e.value]; })()`, i+1))
		if got[0] != true || got[1] != card[i] {
			t.Errorf("line %d typed as printed, %q: accepted %v, the field holds %q; want true, %q", i+1, typed[i], got[0], got[1], card[i])
		}
	}
	if msg := b.text("#mandate-error"); !strings.Contains(msg, "Line 7") {
		t.Fatalf("mandate error %q, want line 7", msg)
	}
	// The voter corrects the line in place, symbol by symbol from the
	// typo on; the field keeps the focus throughout.
	b.do("correct line 7",
		chromedp.Evaluate[chromedp.Void](`(() => { const e = document.getElementById('line-7'); e.focus(); e.value = e.value.slice(0, 4); })()`),
		chromedp.SendKeys(chromedp.ID("line-7"), printed[6][4:5]),
	)
	if evalJS[bool](b, `document.getElementById('msg-7').hidden && document.getElementById('mandate-error').hidden`) {
		t.Error("line 7 still mistyped, and no complaint left on screen")
	}
	b.do("finish line 7", chromedp.SendKeys(chromedp.ID("line-7"), printed[6][5:]))
	shown := evalJS[[]string](b, `['msg-7', 'mandate-error'].filter((id) => !document.getElementById(id).hidden).map((id) => document.getElementById(id).textContent)`)
	if len(shown) != 0 || evalJS[string](b, `document.activeElement.id`) != "line-7" {
		t.Errorf("line 7 reads now, but the page still shows %q (focus on %q)", shown, evalJS[string](b, `document.activeElement.id`))
	}
	b.shot("line-7-fixed")

	// 3: the first vote of the campaign; its receipt has "-" lines.
	b.do("cast", chromedp.Click(chromedp.ID("cast")))
	b.receipt(c, say)
	b.shot("first-receipt")
	b.fits("first receipt")
	lines := evalJS[[]string](b, `window.powvote.receipt.lines`)
	dashes := 0
	for i, l := range lines {
		if strings.HasPrefix(l, "- ") {
			dashes++
			if li := b.text(fmt.Sprintf("#receipt-lines li:nth-child(%d)", i+1)); !strings.Contains(li, "no stamp: none was available yet") {
				t.Errorf("receipt line %d %q is shown as %q", i+1, l, li)
			}
		}
	}
	if dashes != len(lines)-1 {
		t.Fatalf("the campaign's first receipt has %d lines with \"-\" of %d: %q", dashes, len(lines), lines)
	}
	if intro := b.text("#receipt-intro"); strings.Contains(intro, "other voters' stamps") || !strings.Contains(intro, `"-"`) {
		t.Errorf("the receipt of the first vote says %q", intro)
	}

	// 4: the same card again is refused after the work (481).
	b.openPhone(p.edge)
	b.choose(5, boothCode())
	b.do("wait for the mandate form", chromedp.WaitVisible(chromedp.ID("line-12")))
	b.typeCard(card)
	b.do("cast the card again", chromedp.Click(chromedp.ID("cast")), chromedp.WaitVisible(chromedp.ID("error")))
	b.shot("refused")
	b.fits("refused")
	got := evalJS[struct {
		Focus  string  `json:"focus"`
		Top    float64 `json:"top"`
		Bottom float64 `json:"bottom"`
		Height float64 `json:"height"`
		Text   string  `json:"text"`
	}](b, `(() => {
		const e = document.getElementById('error'), r = e.getBoundingClientRect();
		return {focus: document.activeElement.id, top: r.top, bottom: r.bottom, height: window.innerHeight, text: e.textContent};
	})()`)
	if got.Focus != "error" || got.Top < 0 || got.Bottom > got.Height {
		t.Errorf("the refusal is at %.0f..%.0f px in a %.0f px viewport, the focus on %q", got.Top, got.Bottom, got.Height, got.Focus)
	}
	if !strings.Contains(got.Text, "This mandate has voted already.") || !strings.Contains(got.Text, "keep its receipt") {
		t.Errorf("the refusal says %q", got.Text)
	}
}
