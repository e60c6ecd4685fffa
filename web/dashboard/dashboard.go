// Package dashboard holds the static page of the organizer dashboard:
// the page on the operator listener where organizers watch each
// campaign's count per minute and its anomaly flags. The files live here,
// and not in package dashboard at the root, because go:embed cannot reach
// a parent directory; that package serves them, with the language helper
// the voter app shares (web.FS, voter/lang.js) and uPlot, which draws the
// charts, from the results page's copy (web.FS, check/vendor/, MIT,
// unchanged), at vendor/.
package dashboard

import "embed"

// FS holds index.html, dashboard.js, dashboard.css and the message
// catalogues under i18n/. The page loads nothing
// from anywhere else, so that it runs under a Content-Security-Policy that
// allows only its own origin.
//
//go:embed index.html dashboard.js dashboard.css i18n/en.json i18n/de.json i18n/pl.json
var FS embed.FS
