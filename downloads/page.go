package downloads

import (
	"bytes"
	_ "embed"
	"html/template"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/backoffice"
	"github.com/powvote/powvote/published"
)

// texts are the words of the pages in one language.
type texts struct {
	Title, Intro, BackOffice, NoCampaign                   string
	Report, ReportNote, Archive, AfterClose, Files, NotYet string
	Computing, Busy, Reload                                string
}

// languages are the pages' languages, the back office's
// (backoffice.Language).
var languages = map[string]*texts{
	"en": {
		Title:      "Downloads",
		Intro:      "Each campaign's files as its publisher serves them, and an election report computed from them. Every download is recorded in the action log under your name.",
		BackOffice: "Back office",
		NoCampaign: "No campaign is published here yet.",
		Report:     "Election report",
		ReportNote: "the audit of the published files, to keep and print; computed on demand, which can take a while for a large campaign",
		Archive:    "Archive",
		AfterClose: "after the close",
		Files:      "Lists and checkpoints as published",
		NotYet:     "not published yet",
		Computing:  "The election report is being computed from the published files.",
		Busy:       "Another election report is being computed; this one comes next.",
		Reload:     "This page reloads on its own; the report shows as soon as it is ready.",
	},
	"de": {
		Title:      "Downloads",
		Intro:      "Die Dateien jeder Kampagne, wie ihr Publisher sie ausliefert, und ein daraus berechneter Wahlbericht. Jeder Download wird unter Ihrem Namen im Aktionsprotokoll vermerkt.",
		BackOffice: "Verwaltung",
		NoCampaign: "Hier ist noch keine Kampagne veröffentlicht.",
		Report:     "Wahlbericht",
		ReportNote: "die Prüfung der veröffentlichten Dateien, zum Aufbewahren und Drucken; auf Abruf berechnet, was bei einer großen Kampagne dauern kann",
		Archive:    "Archiv",
		AfterClose: "nach dem Abschluss",
		Files:      "Listen und Checkpoints, wie veröffentlicht",
		NotYet:     "noch nicht veröffentlicht",
		Computing:  "Der Wahlbericht wird aus den veröffentlichten Dateien berechnet.",
		Busy:       "Ein anderer Wahlbericht wird gerade berechnet; dieser kommt danach.",
		Reload:     "Diese Seite lädt sich selbst neu; der Bericht erscheint, sobald er fertig ist.",
	},
	"pl": {
		Title:      "Pliki do pobrania",
		Intro:      "Pliki każdej kampanii w postaci udostępnianej przez jej wydawcę oraz obliczony z nich raport z głosowania. Każde pobranie jest zapisywane w dzienniku działań pod Twoją nazwą.",
		BackOffice: "Panel administracyjny",
		NoCampaign: "Nie opublikowano tu jeszcze żadnej kampanii.",
		Report:     "Raport z głosowania",
		ReportNote: "audyt opublikowanych plików, do zachowania i wydruku; obliczany na żądanie, co przy dużej kampanii może potrwać",
		Archive:    "Archiwum",
		AfterClose: "po zamknięciu",
		Files:      "Listy i punkty kontrolne w opublikowanej postaci",
		NotYet:     "jeszcze nieopublikowane",
		Computing:  "Raport z głosowania jest obliczany z opublikowanych plików.",
		Busy:       "Trwa obliczanie innego raportu; ten będzie następny.",
		Reload:     "Ta strona odświeża się sama; raport pojawi się, gdy będzie gotowy.",
	},
}

// cssFile is the pages' style sheet, under Prefix, after the back
// office's own (/backoffice.css).
const cssFile = "downloads.css"

//go:embed downloads.css
var css []byte

//go:embed pages.html.tmpl
var pagesHTML string

var pages = template.Must(template.New("pages").Parse(pagesHTML))

// page is what the pages show.
type page struct {
	Lang      string
	T         *texts
	Campaigns []campaignRow
	Refresh   string // the wait page: seconds before it reloads
	Busy      bool   // the wait page: another report is being computed
}

// campaignRow is a campaign on the listing page.
type campaignRow struct {
	Name    string
	Report  string // path of the report
	Archive *fileRow
	Files   []fileRow
}

// fileRow is one published file: Href is empty when it is not published
// (yet).
type fileRow struct {
	Name, Href, Size string
}

func render(name string, p page) []byte {
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, p); err != nil {
		// The templates are fixed and their data is ours: a failure is
		// a bug.
		panic("downloads: template " + name + ": " + err.Error())
	}
	return b.Bytes()
}

// listed are the files of a campaign on the listing page, by name.
func listed(c string) []string {
	return []string{
		published.LogName(c, published.Vote),
		published.LogName(c, published.Auth),
		published.LogName(c, published.Retracted),
		published.HistoryName(c),
		published.CheckpointName(c, published.Vote),
		published.CheckpointName(c, published.Auth),
		published.CheckpointName(c, published.Retracted),
		published.SettingsName(c),
		published.LogKeyName(c),
		published.ReceiptKeyName(c),
		published.KeysName(c),
	}
}

// serveIndex answers the listing page: every campaign, its report, its
// archive and its files, each asked of the publisher's handler (HEAD) for
// whether it is published and how long it is.
func (s *Server) serveIndex(ctx *fasthttp.RequestCtx) {
	lang := backoffice.Language(ctx)
	p := page{Lang: lang, T: languages[lang]}
	for _, e := range s.list() {
		row := campaignRow{Name: e.name, Report: Prefix + e.name + "/" + ReportFile}
		if f := e.head(published.ArchiveName(e.name), Prefix+e.name+"/"+ArchiveFile); f.Href != "" {
			row.Archive = &f
		}
		for _, name := range listed(e.name) {
			row.Files = append(row.Files, e.head(name, Prefix+e.name+"/"+name))
		}
		p.Campaigns = append(p.Campaigns, row)
	}
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetBody(render("index", p))
}

// head asks the handler whether the file name is published and its
// length; href is where it is downloaded from.
func (e *entry) head(name, href string) fileRow {
	rc := e.request(fasthttp.MethodHead, name, nil)
	if rc.Response.StatusCode() != fasthttp.StatusOK {
		return fileRow{Name: name}
	}
	return fileRow{Name: name, Href: href, Size: size(int64(rc.Response.Header.ContentLength()))}
}

// size writes a length in bytes for people.
func size(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	f, prefix := float64(n)/unit, "KMGTPE"
	i := 0
	for f >= unit && i < len(prefix)-1 {
		f /= unit
		i++
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + prefix[i:i+1] + "iB"
}
