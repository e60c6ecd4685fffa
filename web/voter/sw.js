// Service worker of the voter app: keeps a copy of the app's own files so
// that a page reloaded on a poor connection still opens. It never touches
// the platform's endpoints (/list, /stamp, votes): those always go to the
// network, and an app file is taken from the network first, the copy being
// only a fallback.
'use strict';

const CACHE = 'powvote-voter-v1';
const FILES = [
  '/app/voter/index.html', '/app/voter/app.js', '/app/voter/lang.js', '/app/voter/pow-worker.js', '/app/voter/style.css',
  '/app/voter/manifest.webmanifest', '/app/voter/i18n/en.json', '/app/voter/i18n/de.json', '/app/voter/i18n/pl.json',
];

self.addEventListener('install', (ev) => {
  ev.waitUntil(caches.open(CACHE).then((c) => c.addAll(FILES)));
});

self.addEventListener('activate', (ev) => {
  ev.waitUntil(caches.keys().then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k)))));
});

self.addEventListener('fetch', (ev) => {
  const url = new URL(ev.request.url);
  if (ev.request.method !== 'GET' || url.origin !== self.location.origin || !url.pathname.startsWith('/app/voter/')) {
    return;
  }
  ev.respondWith(fetch(ev.request).then((resp) => {
    if (resp.ok) {
      const copy = resp.clone();
      caches.open(CACHE).then((c) => c.put(ev.request, copy));
    }
    return resp;
  }).catch(() => caches.match(ev.request).then((r) => r || Response.error())));
});
