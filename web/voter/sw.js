// Service worker of the voter app: keeps a copy of the app's own files so
// that the app opens, and says that it is offline, when the network fails:
// on a poor connection, or installed on a phone's home screen. It never
// touches the platform's endpoints (/list, /stamp, votes, published files):
// those always go to the network and are never stored. An app file is taken
// from the network first, the copy being only a fallback, so a new release
// is used as soon as it can be fetched.
//
// The app lives at / (the edge's voter page) and under /app/voter/. A
// worker served from /app/voter/ controls / only when the edge allows it
// with a Service-Worker-Allowed: / header; app.js then registers it for /,
// and otherwise for /app/voter/.
'use strict';

const CACHE = 'powvote-voter-v3';

// FILES are fetched when the worker installs. The QR decoder is not among
// them: it is loaded, and then kept, only when a voter opens the scanner.
const FILES = [
  '/',
  '/app/voter/index.html', '/app/voter/app.js', '/app/voter/lang.js', '/app/voter/wire.js', '/app/voter/pow-worker.js', '/app/voter/pow.wasm', '/app/voter/style.css',
  '/app/voter/manifest.webmanifest', '/app/voter/i18n/en.json', '/app/voter/i18n/de.json', '/app/voter/i18n/pl.json',
  '/app/voter/icons/icon-192.png', '/app/voter/icons/icon-512.png', '/app/voter/icons/maskable-512.png',
];

self.addEventListener('install', (ev) => {
  ev.waitUntil(caches.open(CACHE).then((c) => c.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (ev) => {
  ev.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k.startsWith('powvote-voter-') && k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

// isAppFile says whether a path is the app itself: / or a file under
// /app/voter/. Everything else, the platform's API above all, is left to
// the browser.
function isAppFile(path) {
  return path === '/' || path.startsWith('/app/voter/');
}

self.addEventListener('fetch', (ev) => {
  const req = ev.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin || !isAppFile(url.pathname)) {
    return;
  }
  // The query (?lang=de) does not change the file: / and /?lang=de are the
  // same page, stored once under the bare path.
  const key = url.origin + url.pathname;
  ev.respondWith(fetch(req).then((resp) => {
    if (resp.ok && resp.type === 'basic') {
      const copy = resp.clone();
      ev.waitUntil(caches.open(CACHE).then((c) => c.put(key, copy)));
    }
    return resp;
  }).catch(() => caches.match(key).then((r) => r || Response.error())));
});
