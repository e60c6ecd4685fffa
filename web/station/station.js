// Station desk: staff press "Issue mandate", the desk's server signs a new
// mandate, records it and answers with its card, which this page shows as
// the print sheet of `powvote mandates` does and prints on its own. The
// authority's key stays in the server; the page only holds the secret of
// this start, which it sends with each request to issue.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const secret = document.querySelector('meta[name="station-token"]').content;

  // st is the page's state; messages are kept as keys and arguments so
  // that a change of language shows them again in the new language.
  const st = {
    lang: 'en',
    msgs: {},
    status: null,  // the last /status or /issue counts
    error: null,   // {key, args} on screen, or null
    notice: null,  // {key} read out once to screen readers
    busy: false,
  };

  function t(key, args) { return powvoteLang.fill(st.msgs, key, args); }
  function num(n) { return Number(n).toLocaleString(st.lang); }

  function render() {
    const s = st.status;
    if (s) {
      $('station').textContent = s.station || '';
      $('station-line').hidden = !s.station;
      $('count').textContent = t('count', { issued: num(s.issued), session: num(s.session) });
    }
    const err = st.error;
    $('error').hidden = !err;
    $('error').textContent = err ? t(err.key, err.args) : '';
    $('notice').textContent = st.notice ? t(st.notice) : '';
    $('qr').alt = t('qrAlt');
    $('issue').textContent = t(st.busy ? 'issuing' : 'issue');
    document.title = s && s.station ? t('title') + ' \u2014 ' + s.station : t('title');
  }

  function showError(key, args) { st.error = { key, args }; st.notice = null; render(); }

  async function loadLang(lang) {
    const c = await powvoteLang.load('/i18n/', lang);
    st.lang = c.lang;
    st.msgs = c.msgs;
    render();
  }

  async function refreshStatus() {
    try {
      const r = await fetch('/status', { cache: 'no-store' });
      if (!r.ok) throw new Error(String(r.status));
      st.status = await r.json();
      if (!st.status.ready) showError('errBroken', { why: st.status.error || '' });
      render();
    } catch (e) {
      showError('errOffline');
    }
  }

  function showCard(c) {
    $('qr').src = c.qr;
    $('needle').textContent = c.needle;
    // The lines as the print sheet sets them: " 1: Q0C1 E147 7AZR YM3Q N".
    $('lines').textContent = c.lines.map((l, i) => String(i + 1).padStart(2, ' ') + ': ' + l).join('\n');
    $('card-id').textContent = c.card_id;
    $('card-box').hidden = false;
  }

  // clearCard takes the card off the screen and out of the page: once it
  // is handed out, the next voter at the desk must not see it.
  function clearCard() {
    $('card-box').hidden = true;
    $('qr').removeAttribute('src');
    $('needle').textContent = '';
    $('lines').textContent = '';
    $('card-id').textContent = '';
  }

  async function issue() {
    if (st.busy) return;
    st.busy = true;
    st.error = null;
    st.notice = null;
    clearCard();
    $('issue').disabled = true;
    render();
    let ok = false;
    try {
      const r = await fetch('/issue', {
        method: 'POST',
        headers: { 'X-Station-Token': secret },
        cache: 'no-store',
        credentials: 'same-origin',
      });
      if (r.status === 403) {
        showError('errReload');
      } else if (!r.ok) {
        showError('errIssue', { why: (await r.text()).replace(/^station desk: /, '').trim() });
        refreshStatus();
      } else {
        const c = await r.json();
        showCard(c);
        st.status = Object.assign({}, st.status, { issued: c.issued, session: c.session });
        st.notice = 'cardReady';
        ok = true;
      }
    } catch (e) {
      showError('errOffline');
    } finally {
      st.busy = false;
      $('issue').disabled = false;
      render();
      // The next thing staff do is print: put the keyboard there.
      (ok ? $('print') : $('issue')).focus();
    }
  }

  function init() {
    $('issue').addEventListener('click', issue);
    $('print').addEventListener('click', () => window.print());
    $('clear').addEventListener('click', () => {
      clearCard();
      st.notice = 'cleared';
      render();
      $('issue').focus();
    });
    powvoteLang.onPick(loadLang);
    loadLang(powvoteLang.pick()).then(refreshStatus);
    $('issue').focus();
  }

  init();
})();
