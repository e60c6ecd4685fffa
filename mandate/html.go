package mandate

import (
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
)

// sheetQRSize is the side in pixels of the QR images on the print sheet:
// 4 pixels a module, which the style sheet scales up without smoothing.
const sheetQRSize = 4 * (qrModules + 2*quietZone)

var sheetTemplate = template.Must(template.New("cards").Funcs(template.FuncMap{
	"inc": func(i int) int { return i + 1 },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
@page { margin: 15mm; }
body { margin: 0; font-family: sans-serif; color: #000; background: #fff; }
.card { break-after: page; page-break-after: always; text-align: center; }
.card:last-child { break-after: auto; page-break-after: auto; }
h1 { font-size: 16pt; margin: 0 0 4mm; }
.qr { width: 70mm; height: 70mm; image-rendering: pixelated; image-rendering: crisp-edges; }
.mono { font-family: "Go Mono", "DejaVu Sans Mono", "Liberation Mono", Consolas, monospace; }
.needle { font-size: 14pt; margin: 2mm 0 5mm; }
.lines { display: inline-block; text-align: left; font-size: 17pt; line-height: 1.45; margin: 0; }
.id { font-size: 9pt; margin-top: 6mm; }
</style>
</head>
<body>
{{- range .Cards}}
<section class="card">
<h1>{{$.Title}}</h1>
<img class="qr" src="{{.QR}}" alt="QR code of the mandate" width="{{$.QRSize}}" height="{{$.QRSize}}">
<p class="needle mono">{{.Needle}}</p>
<pre class="lines mono">
{{- range $i, $l := .Lines}}
{{printf "%2d" (inc $i)}}: {{$l}}
{{- end}}
</pre>
<p class="id mono">card {{.ID}}</p>
</section>
{{- end}}
</body>
</html>
`))

type sheetCard struct {
	QR     template.URL
	Needle string
	Lines  [CardLines]string
	ID     string
}

// WriteCardsHTML writes a print-ready HTML page with one card per printed
// page: a heading with title, the QR code, the lookup needle, the 12
// numbered lines and the card id. The page is self-contained, with the QR
// codes inline as PNG data, so that it prints the same offline.
func WriteCardsHTML(w io.Writer, title string, tokens []Token) error {
	cards := make([]sheetCard, len(tokens))
	for i, t := range tokens {
		png, err := t.QRPNG(sheetQRSize)
		if err != nil {
			return err
		}
		cards[i] = sheetCard{
			// A data URI that we build from our own PNG is safe in
			// src; html/template would otherwise refuse the scheme.
			QR:     template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)),
			Needle: t.Needle(),
			Lines:  t.Card(),
			ID:     t.CardID(),
		}
	}
	err := sheetTemplate.Execute(w, struct {
		Title  string
		QRSize int
		Cards  []sheetCard
	}{title, sheetQRSize, cards})
	if err != nil {
		return fmt.Errorf("mandate: writing cards: %w", err)
	}
	return nil
}
