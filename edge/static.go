package edge

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
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

// A service worker outlives the edge that registered it. Whoever held the
// edge for a while (or the TLS in front of it) could register one at a
// script path of their choosing, with a scope of "/" (their own edge sent
// Service-Worker-Allowed: /), and from then on read or rewrite every page
// and request of the voter app in that browser. The browser checks the
// script for updates, but an update that fails (a 400, a 404, any type
// other than JavaScript) leaves the installed worker in place: the honest
// edge's 400 would keep the intruder's worker alive for good. So a
// worker's script fetch (the browser marks it with Service-Worker: script)
// for any path but the real worker's gets, instead, a worker that replaces
// the intruder's and removes itself (strayWorkerScript, strayWorker).

// strayWorkerScript is what the edge serves as the script of any service
// worker it does not serve: installed as an update of the intruder's
// worker, it takes over at once, deletes every cache the origin holds (the
// intruder's worker may have planted pages under the app's own cache
// name), unregisters, and reloads the pages it controls, which then load
// from the network with no worker in between. It has no fetch handler, so
// it serves nothing meanwhile. The real worker, if the app registers it
// again, starts from scratch.
const strayWorkerScript = `// This origin serves no service worker at this address: a worker
// registered here did not come from this platform. It removes itself.
'use strict';
self.addEventListener('install', (ev) => { ev.waitUntil(self.skipWaiting()); });
self.addEventListener('activate', (ev) => {
  ev.waitUntil((async () => {
    try { await self.clients.claim(); } catch (e) { /* go on */ }
    try {
      const keys = await caches.keys();
      await Promise.all(keys.map((k) => caches.delete(k)));
    } catch (e) { /* go on */ }
    await self.registration.unregister();
    const wins = await self.clients.matchAll({ type: 'window' });
    await Promise.all(wins.map((c) => c.navigate(c.url).catch(() => {})));
  })());
});
`

// strayWorkerCSP gives the removing worker nothing to load or connect to.
const strayWorkerCSP = "default-src 'none'"

// isStrayWorker reports whether a request is a service worker's script
// fetch for a path that is not the voter app's worker (or any path, when
// the edge serves no web apps). The real worker's path is compared as
// static() resolves it, so that exactly the requests static() would answer
// with the real worker get it.
func (s *Server) isStrayWorker(ctx *fasthttp.RequestCtx) bool {
	if string(ctx.Request.Header.Peek("Service-Worker")) != "script" {
		return false
	}
	if s.cfg.Static == nil {
		return true
	}
	name, ok := staticName(ctx.Request.URI().PathOriginal())
	return !ok || name != voterWorker
}

// strayWorker answers a stray worker's script fetch with strayWorkerScript.
func (s *Server) strayWorker(ctx *fasthttp.RequestCtx) {
	h := &ctx.Response.Header
	h.SetContentType(staticTypes[".js"])
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", strayWorkerCSP)
	h.Set("Referrer-Policy", "no-referrer")
	// The browser also wipes the origin's caches and storage, service
	// worker registrations included, where it honours this header on a
	// worker's script.
	h.Set("Clear-Site-Data", `"cache", "storage"`)
	// An update whose script does not allow the registration's scope
	// fails, and the old worker stays: the intruder's scope may be any
	// path of the origin.
	h.Set("Service-Worker-Allowed", "/")
	// The same path answers other requests with something else (a file
	// of the app, a list, a 400): no cache may keep this answer, nor give
	// another one to a worker's fetch.
	h.Set("Cache-Control", "no-store")
	h.Set("Vary", "Service-Worker")
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetBodyString(strayWorkerScript)
	s.counters.add(strayWorkers)
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("edge: removing a service worker this edge did not serve", "path", string(ctx.Request.URI().PathOriginal()))
	}
}

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
