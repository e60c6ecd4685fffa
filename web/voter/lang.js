// The language of powvote's pages: which one to show, its message
// catalogue, messages with their {placeholders} filled, and the reader's
// choice in the #lang selector. Shared by the voter app, the check page
// and the station desk (which serves this file as /lang.js).
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

  // loader returns loadLang(lang) for a page whose catalogues are under
  // dir: it loads lang's (load), keeps the language and its messages in
  // st.lang and st.msgs, titles the document with the title message and
  // resolves to {lang, msgs}.
  function loader(dir, st) {
    return async (lang) => {
      const c = await load(dir, lang);
      st.lang = c.lang;
      st.msgs = c.msgs;
      document.title = fill(c.msgs, 'title');
      return c;
    };
  }

  // onPick calls change(lang) whenever the reader picks a language in the
  // page's #lang selector, once the choice is kept for the next visit
  // (pick reads it back).
  function onPick(change) {
    const sel = document.getElementById('lang');
    sel.addEventListener('change', () => {
      try { localStorage.setItem('powvote-lang', sel.value); } catch (e) { /* storage may be off */ }
      return change(sel.value);
    });
  }

  window.powvoteLang = { pick, load, fill, loader, onPick };
})();
