// Package booth holds the static page of the booth display: the kiosk page a
// booth code generator shows at a voting station. The files live here, and
// not in package boothdisplay, because go:embed cannot reach a parent
// directory; boothdisplay serves them.
package booth

import "embed"

// FS holds index.html, booth.js and booth.css. The page loads nothing from
// anywhere else, so that it works on a station with no Internet and can run
// under a Content-Security-Policy that allows only its own origin.
//
//go:embed index.html booth.js booth.css
var FS embed.FS
