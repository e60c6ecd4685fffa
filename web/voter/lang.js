// The language of powvote's pages: which one to show, its message
// catalogue, and messages with their {placeholders} filled. Shared by the
// voter app and the check page; each keeps the chosen catalogue itself.
'use strict';

(function () {
  const LANGS = ['en', 'de', 'pl'];

  // pick chooses the language: ?lang=, then the one the reader chose before,
  // then the browser's preferences, then English.
  function pick() {
    const q = new URLSearchParams(location.search).get('lang');
    if (q && LANGS.includes(q)) return q;
    try {
      const saved = localStorage.getItem('powvote-lang');
      if (saved && LANGS.includes(saved)) return saved;
    } catch (e) { /* storage may be off */ }
    for (const l of navigator.languages || [navigator.language || 'en']) {
      const base = String(l).toLowerCase().split('-')[0];
      if (LANGS.includes(base)) return base;
    }
    return 'en';
  }

  // load fetches the catalogue of lang from dir (falling back to English),
  // puts its texts into the page's [data-i18n] elements and the #lang
  // selector, and returns {lang, msgs}.
  async function load(dir, lang) {
    let msgs;
    try {
      const r = await fetch(dir + lang + '.json');
      if (!r.ok) throw new Error(String(r.status));
      msgs = await r.json();
    } catch (e) {
      if (lang !== 'en') return load(dir, 'en');
      msgs = {};
    }
    document.documentElement.lang = lang;
    const sel = document.getElementById('lang');
    if (sel) sel.value = lang;
    for (const el of document.querySelectorAll('[data-i18n]')) {
      const m = msgs[el.dataset.i18n];
      if (m) el.textContent = m;
    }
    return { lang, msgs };
  }

  // fill returns message key of msgs (the key itself when missing) with
  // {name} placeholders replaced by args[name] written by val (String when
  // not given); unknown placeholders stay as they are.
  function fill(msgs, key, args, val) {
    const m = msgs[key] || key;
    const v = val || String;
    return m.replace(/\{(\w+)\}/g, (_, k) => (args && k in args ? v(args[k]) : '{' + k + '}'));
  }

  window.powvoteLang = { pick, load, fill };
})();
