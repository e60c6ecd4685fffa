package backoffice

import (
	"bytes"
	_ "embed"
	"html/template"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"
)

// texts are the words of the back office's own pages in one language.
type texts struct {
	Title, SignInHeading, Name, Password, SignIn string
	Wrong, Missing, Locked, Busy, CrossSite      string
	SignedInAs, SignOut, ActionLog               string
}

// languages are the back office's languages, those of the voter app;
// "en" is the default.
var languages = map[string]*texts{
	"en": {
		Title:         "powvote back office",
		SignInHeading: "Sign in",
		Name:          "Account name",
		Password:      "Password",
		SignIn:        "Sign in",
		Wrong:         "Wrong account name or password.",
		Missing:       "Give an account name and a password.",
		Locked:        "Too many failed sign-ins. Wait a few minutes, then try again.",
		Busy:          "Too many sign-ins at once. Try again in a moment.",
		CrossSite:     "Refused: this request came from another site.",
		SignedInAs:    "Signed in as",
		SignOut:       "Sign out",
		ActionLog:     "Action log (JSON)",
	},
	"de": {
		Title:         "powvote-Verwaltung",
		SignInHeading: "Anmelden",
		Name:          "Kontoname",
		Password:      "Passwort",
		SignIn:        "Anmelden",
		Wrong:         "Kontoname oder Passwort falsch.",
		Missing:       "Bitte Kontoname und Passwort angeben.",
		Locked:        "Zu viele fehlgeschlagene Anmeldungen. Bitte einige Minuten warten und es dann erneut versuchen.",
		Busy:          "Zu viele Anmeldungen gleichzeitig. Bitte gleich noch einmal versuchen.",
		CrossSite:     "Abgelehnt: Diese Anfrage kam von einer anderen Website.",
		SignedInAs:    "Angemeldet als",
		SignOut:       "Abmelden",
		ActionLog:     "Aktionsprotokoll (JSON)",
	},
	"pl": {
		Title:         "powvote – panel administracyjny",
		SignInHeading: "Logowanie",
		Name:          "Nazwa konta",
		Password:      "Hasło",
		SignIn:        "Zaloguj",
		Wrong:         "Błędna nazwa konta lub hasło.",
		Missing:       "Podaj nazwę konta i hasło.",
		Locked:        "Zbyt wiele nieudanych logowań. Odczekaj kilka minut i spróbuj ponownie.",
		Busy:          "Zbyt wiele logowań naraz. Spróbuj ponownie za chwilę.",
		CrossSite:     "Odrzucono: to żądanie przyszło z innej witryny.",
		SignedInAs:    "Zalogowano jako",
		SignOut:       "Wyloguj",
		ActionLog:     "Dziennik działań (JSON)",
	},
}

// maxLanguages bounds the entries of Accept-Language looked at.
const maxLanguages = 16

// pickLanguage chooses the language of a page from an Accept-Language
// header: the first of en, de and pl with the highest weight, by primary
// subtag ("de-AT" is "de"), else "en".
func pickLanguage(header []byte) string {
	best, bestQ := "en", -1.0
	for i, part := range strings.Split(string(header), ",") {
		if i == maxLanguages {
			break
		}
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if languages[primary] == nil {
			continue
		}
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		if q > 0 && q > bestQ {
			best, bestQ = primary, q
		}
	}
	return best
}

// Language is the language of the back office's pages for a request, by
// its Accept-Language: "en", "de" or "pl". Mounted handlers answer in it
// when they can.
func Language(ctx *fasthttp.RequestCtx) string {
	return pickLanguage(ctx.Request.Header.Peek("Accept-Language"))
}

//go:embed backoffice.css
var css []byte

// page is what the back office's own pages show.
type page struct {
	Lang    string
	T       *texts
	Message string // an error or notice above the form
	Next    string // where a login goes on to
	// Signed in: the home page.
	Name, Role, CSRF string
	Links            []link
}

type link struct{ Href, Title string }

var pages = template.Must(template.New("").Parse(`{{define "head"}}<!doctype html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>{{.T.Title}}</title>
<link rel="stylesheet" href="/backoffice.css">
</head>
<body>
<main>
<h1>{{.T.Title}}</h1>
{{if .Message}}<p class="message" role="alert">{{.Message}}</p>{{end}}
{{end}}
{{define "login"}}{{template "head" .}}<h2>{{.T.SignInHeading}}</h2>
<form method="post" action="/login">
<input type="hidden" name="next" value="{{.Next}}">
<label for="name">{{.T.Name}}</label>
<input id="name" name="name" autocomplete="username" autocapitalize="none" spellcheck="false" maxlength="32" required autofocus>
<label for="password">{{.T.Password}}</label>
<input id="password" name="password" type="password" autocomplete="current-password" maxlength="1024" required>
<button type="submit">{{.T.SignIn}}</button>
</form>
</main>
</body>
</html>
{{end}}
{{define "home"}}{{template "head" .}}<p>{{.T.SignedInAs}} <strong>{{.Name}}</strong> ({{.Role}})</p>
<ul>
{{range .Links}}<li><a href="{{.Href}}">{{.Title}}</a></li>
{{end}}</ul>
<form method="post" action="/logout">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<button type="submit">{{.T.SignOut}}</button>
</form>
</main>
</body>
</html>
{{end}}`))

func render(name string, p page) []byte {
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, p); err != nil {
		// The templates are fixed and their data plain strings.
		panic("backoffice: template " + name + ": " + err.Error())
	}
	return b.Bytes()
}
