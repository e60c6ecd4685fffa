// Package station holds the static page of the station desk: the page on
// which a voting station's staff issue a mandate for each voter and print
// its card. The files live here, and not in package station at the root,
// because go:embed cannot reach a parent directory; that package serves them.
package station

import "embed"

// FS holds index.html, station.js, station.css and the message catalogues
// under i18n/. The page loads nothing from anywhere else, so that it works
// on a desk with no Internet and can run under a Content-Security-Policy
// that allows only its own origin.
//
//go:embed index.html station.js station.css i18n/en.json i18n/de.json i18n/pl.json
var FS embed.FS
