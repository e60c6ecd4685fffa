package edge

import (
	"bytes"
	"errors"
	"io/fs"
	"path"
	"strings"

	"github.com/valyala/fasthttp"
)

// The web applications (package web) are served from a file system: GET /
// opens the voter app and GET /app/<dir>/<file> serves its files. Only
// regular files are served; a directory, a missing file and a path that
// tries to leave the tree or to say the same thing twice ("..", ".", "//",
// an encoded slash or backslash) get 400 with an empty body, like every
// other path the edge does not serve.

// staticPrefix is where the files live in URL space.
const staticPrefix = "/app/"

// staticIndex is what GET / serves.
const staticIndex = "voter/index.html"

// voterWorker is the voter app's service worker.
const voterWorker = "voter/sw.js"

// staticCSP keeps the apps to their own origin: no inline script, no
// third-party resource, no framing by another site. 'wasm-unsafe-eval'
// lets the voter app compile its own proof-of-work module (pow.wasm, from
// the same origin); it allows no eval of JavaScript.
const staticCSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

var errStatic = errors.New("no such static file")

// staticTypes names the content type of each extension the apps use; an
// extension not here is not served, so that nothing is ever sniffed.
var staticTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".json":        "application/json; charset=utf-8",
	".webmanifest": "application/manifest+json; charset=utf-8",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".txt":         "text/plain; charset=utf-8",
	".wasm":        "application/wasm",
}

// isStaticPath reports whether the raw request path is one the static files
// may answer: / or under /app/. It looks at the path as sent, before any
// decoding, so that an encoded slash cannot pass for a separator.
func isStaticPath(raw []byte) bool {
	return string(raw) == "/" || bytes.HasPrefix(raw, []byte(staticPrefix))
}

// staticName turns a raw request path into a name in the file system, or
// reports that it names nothing the edge serves.
func staticName(raw []byte) (string, bool) {
	if i := bytes.IndexByte(raw, '?'); i >= 0 {
		raw = raw[:i]
	}
	p := string(raw)
	if p == "/" {
		return staticIndex, true
	}
	name, ok := strings.CutPrefix(p, staticPrefix)
	if !ok || name == "" {
		return "", false
	}
	// Every file name the apps use is plain: letters, digits, '.', '-',
	// '_' and '/'. Refusing '%' outright refuses every encoded slash,
	// backslash or dot without having to decode anything.
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_' || c == '/') {
			return "", false
		}
	}
	// fs.ValidPath refuses "..", ".", empty elements ("//") and a leading
	// or trailing slash: one file, one spelling.
	if !fs.ValidPath(name) || path.Clean(name) != name {
		return "", false
	}
	return name, true
}

// static serves one file of fsys, for the raw path as the client sent it.
func (s *Server) static(ctx *fasthttp.RequestCtx, fsys fs.FS) error {
	name, ok := staticName(ctx.Request.URI().PathOriginal())
	if !ok {
		return reject(badRequest, errPath)
	}
	ctype, ok := staticTypes[path.Ext(name)]
	if !ok {
		return reject(badRequest, errStatic)
	}
	fi, err := fs.Stat(fsys, name)
	if err != nil || !fi.Mode().IsRegular() {
		return reject(badRequest, errStatic)
	}
	body, err := fs.ReadFile(fsys, name)
	if err != nil {
		return reject(badRequest, errStatic)
	}
	h := &ctx.Response.Header
	h.SetContentType(ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", staticCSP)
	h.Set("Referrer-Policy", "no-referrer")
	// The files are small and change with a release: a browser that
	// fetches them afresh never runs an old app against a new edge.
	h.Set("Cache-Control", "no-cache")
	if name == voterWorker {
		// The voter app's service worker lives under /app/voter/ but
		// serves the app at /, so that the app opens offline there too.
		h.Set("Service-Worker-Allowed", "/")
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetBody(body)
	return nil
}
