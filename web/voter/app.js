// The voter app: the browser counterpart of package client (PROTOCOL.md
// 2-6 and the seed's preferred procedure). It reads the ballot, checks the
// booth code locally, fetches a platform stamp, does the proof of work in
// Web Workers while the voter types the mandate card, casts the vote and
// shows the receipt, which the voter can save.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);

  // State of the page. Tests read it (window.powvote) to see what was sent.
  const st = {
    lang: 'en',
    msgs: {},
    options: [], // ballot texts, decoded
    threshold: 25, // the reference deployment's, when the edge does not say
    campaign: '',
    say: null, // chosen option text
    stamp: null, // {putc, psig, sig (bytes), voter}
    work: null, // {nonce (bytes), score, hashes, ms} once found
    hashes: 0,
    workStart: 0,
    workers: [],
    casting: false,
    sent: { list: 0, stamp: 0, vote: 0 },
    receipt: null,
    wakeLock: null,
  };
  window.powvote = st;

  // ---- language ----

  const pickLang = powvoteLang.pick;

  async function loadLang(lang) {
    const c = await powvoteLang.load('/app/voter/i18n/', lang);
    st.lang = c.lang;
    st.msgs = c.msgs;
    document.title = t('title');
  }

  // t returns the message key with {name} placeholders filled from args.
  function t(key, args) { return powvoteLang.fill(st.msgs, key, args); }

  // ---- messages ----

  function showError(text) {
    const e = $('error');
    e.textContent = text;
    e.hidden = !text;
  }

  function status(text) { $('status').textContent = text; }

  // codeMessage is what a voter reads for a PROTOCOL 5.3 status.
  function codeMessage(code) {
    const key = 'err' + code;
    return st.msgs[key] ? t(key) : t('errOther', { code });
  }

  // ---- encodings ----

  const enc = new TextEncoder();

  // encodeOption writes an option text as a header value (PROTOCOL 5.1):
  // as it is when printable ASCII without '%', else as encodeURIComponent.
  function encodeOption(s) {
    return /^[\x20-\x24\x26-\x7e]*$/.test(s) ? s : encodeURIComponent(s);
  }

  function decodeOption(v) {
    return v.includes('%') ? decodeURIComponent(v) : v;
  }

  function b64(bytes) {
    let s = '';
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s);
  }

  function unb64(s) {
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function toHex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) { out.set(p, o); o += p.length; }
    return out;
  }

  // ---- booth code (PROTOCOL 4) ----

  // parseBooth returns the 6 digits of a booth code, or an error key.
  function parseBooth(s) {
    const c = s.replace(/[\s-]/g, '').toUpperCase();
    if (!/^[0-9A][0-9]{6}$/.test(c)) return { err: 'boothFormat' };
    const digits = c.slice(1);
    let sum = 0;
    for (const d of digits) sum += d.charCodeAt(0) - 48;
    const check = sum % 11 === 10 ? 'A' : String(sum % 11);
    if (c[0] !== check) return { err: 'boothCheck' };
    return { digits };
  }

  // ---- card lines (PROTOCOL 2 and 3) ----

  const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  const CHECKS = '*~$=U';

  // symbolValue maps a symbol, already upper case, to its value, or -1.
  function symbolValue(c, isCheck) {
    if (c === 'O') c = '0';
    if (c === 'I' || c === 'L') c = '1';
    const v = ALPHABET.indexOf(c);
    if (v >= 0) return v;
    const x = CHECKS.indexOf(c);
    return isCheck && x >= 0 ? 32 + x : -1;
  }

  // parseLine reads card line n (1 to 12) as typed and returns its 10
  // bytes, or an error message naming the line.
  function parseLine(n, s) {
    const clean = (x) => x.replace(/[\s\-:]/g, '').toUpperCase();
    let sym = clean(s);
    if (sym.length !== 17) {
      // A label with the line's own number ("7:", "07.", "7)") is allowed,
      // as printed on the card; another number is read as symbols.
      const m = /^\s*(\d{1,2})\s*[:.)]?\s+|^\s*(\d{1,2})\s*[:.)]/.exec(s);
      if (m && Number(m[1] || m[2]) === n) sym = clean(s.slice(m[0].length));
    }
    if (sym.length === 0) return { err: t('lineEmpty', { n }) };
    if (sym.length !== 17) return { err: t('lineLength', { n, count: sym.length }) };
    let acc = 0n;
    for (let i = 0; i < 16; i++) {
      const v = symbolValue(sym[i], false);
      if (v < 0) return { err: t('lineSymbol', { n, sym: sym[i] }) };
      acc = (acc << 5n) | BigInt(v);
    }
    const cv = symbolValue(sym[16], true);
    if (cv < 0) return { err: t('lineSymbol', { n, sym: sym[16] }) };
    const bytes = new Uint8Array(10);
    for (let i = 9; i >= 0; i--) { bytes[i] = Number(acc & 255n); acc >>= 8n; }
    let r = 0;
    for (const b of bytes) r = (r * 256 + b) % 37;
    if (r !== cv) return { err: t('lineCheck', { n }) };
    return { bytes };
  }

  // ---- network ----

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // request sends a GET, retrying 503 and network errors with the same
  // request after a jittered, doubling wait (1 s up to 30 s), as the
  // protocol asks: the edge answers a repeated nonce from its cache, so a
  // retry can never count a vote twice.
  async function request(path, headers, what) {
    let wait = 1000;
    for (;;) {
      let r = null;
      try {
        st.sent[what]++;
        r = await fetch(path, { headers, cache: 'no-store', credentials: 'omit' });
      } catch (e) {
        r = null;
      }
      if (r && r.status !== 503) return r;
      status(r ? t('busyRetry') : t('networkRetry'));
      await sleep(wait / 2 + Math.random() * wait);
      wait = Math.min(2 * wait, 30000);
    }
  }

  // ---- steps ----

  async function loadBallot() {
    status(t('loading'));
    const r = await request('/list', {}, 'list');
    if (r.status !== 204 && r.status !== 200) {
      showError(codeMessage(r.status));
      return;
    }
    const opts = [];
    for (let i = 1; i <= 99; i++) {
      const v = r.headers.get('Say' + String(i).padStart(2, '0'));
      if (v === null || v === '') break;
      try {
        opts.push(decodeOption(v));
      } catch (e) {
        showError(t('badBallot'));
        return;
      }
    }
    if (opts.length === 0) {
      showError(t('badBallot'));
      return;
    }
    st.options = opts;
    st.campaign = r.headers.get('Campaign') || '';
    const th = Number(r.headers.get('Pow-Threshold'));
    if (Number.isInteger(th) && th >= 1 && th <= 64) st.threshold = th;
    const box = $('options');
    box.textContent = '';
    opts.forEach((o, i) => {
      const div = document.createElement('div');
      div.className = 'option';
      const input = document.createElement('input');
      input.type = 'radio';
      input.name = 'option';
      input.id = 'opt-' + i;
      input.value = String(i);
      const label = document.createElement('label');
      label.htmlFor = input.id;
      label.textContent = o;
      div.append(input, label);
      box.append(div);
    });
    status('');
    $('choose').hidden = false;
  }

  function boothFeedback(err) {
    const e = $('booth-error');
    e.textContent = err ? t(err) : '';
    e.hidden = !err;
    $('booth').setAttribute('aria-invalid', err ? 'true' : 'false');
  }

  async function start(ev) {
    ev.preventDefault();
    showError('');
    const chosen = document.querySelector('input[name=option]:checked');
    if (!chosen) {
      showError(t('chooseFirst'));
      $('opt-0').focus();
      return;
    }
    const code = parseBooth($('booth').value);
    boothFeedback(code.err);
    if (code.err) {
      // Nothing is sent on a typo: a wrong code would only earn a decoy
      // stamp and a refused vote after all the work.
      $('booth').focus();
      return;
    }
    st.say = st.options[Number(chosen.value)];
    $('start').disabled = true;
    status(t('stamping'));
    const r = await request('/stamp', { TOTP: code.digits }, 'stamp');
    if (r.status !== 204 && r.status !== 200) {
      $('start').disabled = false;
      showError(codeMessage(r.status));
      return;
    }
    const putc = r.headers.get('P-UTC') || '', psig = r.headers.get('P-SIG') || '', voter = r.headers.get('Voter') || '';
    let sig;
    try { sig = unb64(psig); } catch (e) { sig = new Uint8Array(0); }
    if (!putc || !voter || sig.length !== 64) {
      $('start').disabled = false;
      showError(t('badStamp'));
      return;
    }
    st.stamp = { putc, psig, sig, voter };
    $('choose').hidden = true;
    $('work').hidden = false;
    $('mandate').hidden = false;
    status('');
    startWork();
    $('line-1').focus();
  }

  // ---- proof of work ----

  function formatDuration(s) {
    if (!isFinite(s)) return '…';
    if (s < 1) return t('lessThanSecond');
    if (s < 90) return t('seconds', { n: Math.round(s) });
    return t('minutes', { n: Math.round(s / 60) });
  }

  async function wake() {
    try {
      if ('wakeLock' in navigator && document.visibilityState === 'visible') {
        st.wakeLock = await navigator.wakeLock.request('screen');
      }
    } catch (e) { /* not granted: the work goes on, the screen may dim */ }
  }

  document.addEventListener('visibilitychange', () => {
    if (st.workers.length && document.visibilityState === 'visible') wake();
  });

  function startWork() {
    const s = st.stamp;
    const prefix = concat(enc.encode(s.putc), s.sig, enc.encode(s.voter), enc.encode(st.say));
    const n = Math.max(1, Math.min(navigator.hardwareConcurrency || 2, 16));
    st.hashes = 0;
    st.workStart = performance.now();
    wake();
    for (let i = 0; i < n; i++) {
      const w = new Worker('/app/voter/pow-worker.js');
      w.onmessage = (ev) => {
        const m = ev.data;
        st.hashes += m.hashes;
        if (m.found && !st.work) {
          st.work = { nonce: m.nonce, score: m.score, hashes: st.hashes, ms: performance.now() - st.workStart };
          stopWork();
          workDone();
        }
      };
      w.onerror = () => { showError(t('workFailed')); stopWork(); };
      w.postMessage({ prefix, threshold: st.threshold });
      st.workers.push(w);
    }
    st.timer = setInterval(workProgress, 250);
    workProgress();
  }

  function stopWork() {
    for (const w of st.workers) w.terminate();
    st.workers = [];
    clearInterval(st.timer);
    if (st.wakeLock) { st.wakeLock.release().catch(() => {}); st.wakeLock = null; }
  }

  function workProgress() {
    const secs = (performance.now() - st.workStart) / 1000;
    const rate = secs > 0 ? st.hashes / secs : 0;
    const expected = Math.pow(2, st.threshold);
    // The search has no memory: whatever has been tried, the expected
    // remaining work is the same. The bar shows the chance to have found a
    // nonce by now, the estimate the average time left.
    $('progress').value = 1 - Math.exp(-st.hashes / expected);
    $('work-status').textContent = t('workProgress', {
      hashes: st.hashes.toLocaleString(st.lang),
      rate: Math.round(rate).toLocaleString(st.lang),
      left: rate > 0 ? formatDuration(expected / rate) : '…',
    });
  }

  function workDone() {
    $('progress').value = 1;
    $('work-title').textContent = t('workDoneTitle');
    $('work-intro').textContent = '';
    $('work-status').textContent = t('workDone', { secs: (st.work.ms / 1000).toFixed(1), hashes: st.work.hashes.toLocaleString(st.lang) });
    if (st.casting) cast();
  }

  // ---- mandate ----

  function buildLines() {
    const box = $('lines');
    for (let n = 1; n <= 12; n++) {
      const div = document.createElement('div');
      div.className = 'line';
      const label = document.createElement('label');
      label.htmlFor = 'line-' + n;
      label.dataset.n = String(n);
      const input = document.createElement('input');
      input.id = 'line-' + n;
      input.autocomplete = 'off';
      input.spellcheck = false;
      input.setAttribute('autocapitalize', 'characters');
      input.setAttribute('aria-describedby', 'msg-' + n);
      const msg = document.createElement('p');
      msg.id = 'msg-' + n;
      msg.className = 'msg error';
      msg.hidden = true;
      div.append(label, input, msg);
      box.append(div);
      input.addEventListener('blur', () => checkLine(n, false));
      input.addEventListener('input', () => {
        if (n === 1 && fillFromBlock(input.value)) return;
        // While typing, only clear an old complaint; judge on leaving.
        if (input.getAttribute('aria-invalid') === 'true' || clean17(input.value)) checkLine(n, true);
      });
      input.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter' && n < 12) { ev.preventDefault(); $('line-' + (n + 1)).focus(); }
      });
    }
    $('line-1').addEventListener('paste', (ev) => {
      const text = (ev.clipboardData || window.clipboardData).getData('text');
      if (fillFromBlock(text)) ev.preventDefault();
    });
    labelLines();
  }

  function labelLines() {
    for (const l of document.querySelectorAll('#lines label')) l.textContent = t('lineLabel', { n: l.dataset.n });
  }

  const clean17 = (v) => v.replace(/[\s\-:]/g, '').length >= 17;

  // fillFromBlock spreads a pasted card (12 lines) over the 12 fields.
  function fillFromBlock(text) {
    const lines = text.split(/\r\n|\r|\n/).map((l) => l.trim()).filter((l) => l !== '');
    if (lines.length !== 12) return false;
    lines.forEach((l, i) => { $('line-' + (i + 1)).value = l; });
    let firstBad = 0;
    for (let n = 12; n >= 1; n--) if (!checkLine(n, false)) firstBad = n;
    $(firstBad ? 'line-' + firstBad : 'cast').focus();
    return true;
  }

  // checkLine validates field n on its own and shows the verdict; quiet
  // shows only success, not errors (used while typing).
  function checkLine(n, quiet) {
    const input = $('line-' + n), msg = $('msg-' + n);
    const r = parseLine(n, input.value);
    const row = input.parentElement;
    if (r.err && (quiet || input.value.trim() === '')) {
      row.classList.remove('ok');
      input.removeAttribute('aria-invalid');
      msg.hidden = true;
      return false;
    }
    row.classList.toggle('ok', !r.err);
    input.setAttribute('aria-invalid', r.err ? 'true' : 'false');
    msg.textContent = r.err || '';
    msg.hidden = !r.err;
    return !r.err;
  }

  function readMandate() {
    const parts = [];
    const errs = [];
    for (let n = 1; n <= 12; n++) {
      const r = parseLine(n, $('line-' + n).value);
      checkLine(n, false);
      if (r.err) {
        if (!$('line-' + n).value.trim()) { const m = $('msg-' + n); m.textContent = r.err; m.hidden = false; }
        errs.push({ n, err: r.err });
      } else parts.push(r.bytes);
    }
    return errs.length ? { errs } : { token: concat(...parts) };
  }

  // ---- cast ----

  function castClicked(ev) {
    ev.preventDefault();
    const m = readMandate();
    const me = $('mandate-error');
    if (m.errs) {
      me.textContent = m.errs.map((e) => e.err).join(' ');
      me.hidden = false;
      $('line-' + m.errs[0].n).focus();
      return;
    }
    me.hidden = true;
    st.token = m.token;
    st.casting = true;
    $('cast').disabled = true;
    for (let n = 1; n <= 12; n++) $('line-' + n).readOnly = true;
    if (st.work) cast();
    else status(t('castWhenDone'));
  }

  async function cast() {
    if (!st.token || st.sentVote) return;
    st.sentVote = true;
    const tok = st.token, s = st.stamp;
    const headers = {
      'Auth-Pkey': b64(tok.subarray(0, 32)),
      'Auth-Sig': b64(tok.subarray(32, 96)),
      'Auth-Id': b64(tok.subarray(96, 120)),
      'P-UTC': s.putc,
      'P-SIG': s.psig,
      Voter: s.voter,
      Say: encodeOption(st.say),
    };
    status(t('casting'));
    const r = await request('/' + toHex(st.work.nonce), headers, 'vote');
    if (r.status < 200 || r.status > 299) {
      status('');
      showError(codeMessage(r.status));
      return;
    }
    const lines = st.options.map((_, i) => r.headers.get('Receipt' + String(i + 1).padStart(2, '0')) || '');
    const sig = r.headers.get('Receipt-Sig') || '';
    const own = st.options.indexOf(st.say);
    // The receipt must carry this vote: the own stamp against the choice.
    if (lines[own] !== s.voter + ' ' + encodeOption(st.say)) {
      status('');
      showError(t('badReceipt'));
      return;
    }
    st.receipt = { lines, sig, own };
    showReceipt();
  }

  // formatReceipt writes the receipt as wire.FormatReceipt does.
  function formatReceipt() {
    let out = 'Campaign: ' + st.campaign + '\n';
    st.receipt.lines.forEach((l, i) => { out += 'Receipt' + String(i + 1).padStart(2, '0') + ': ' + l + '\n'; });
    return out + 'Receipt-Sig: ' + st.receipt.sig + '\n';
  }

  function showReceipt() {
    status('');
    $('mandate').hidden = true;
    $('work').hidden = true;
    const ol = $('receipt-lines');
    ol.textContent = '';
    st.receipt.lines.forEach((l, i) => {
      const li = document.createElement('li');
      const sp = l.indexOf(' ');
      let text = sp > 0 ? l.slice(0, sp) + ' ' + decodeOption(l.slice(sp + 1)) : l;
      if (i === st.receipt.own) {
        li.className = 'own';
        text += ' — ' + t('yourStamp');
      }
      li.textContent = text;
      ol.append(li);
    });
    $('receipt-text').textContent = formatReceipt();
    $('receipt').hidden = false;
    $('receipt-title').focus();
  }

  function saveReceipt() {
    const blob = new Blob([formatReceipt()], { type: 'text/plain;charset=utf-8' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = (st.campaign || 'powvote') + '-receipt-' + st.stamp.voter.slice(0, 4) + '.txt';
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }

  // digest is for tests: SHA-256 of prefix || zero pad || counter by the
  // worker's own code, as hex, with the pad length it chose.
  st.digest = (prefixHex, hi, lo) => new Promise((resolve, reject) => {
    const prefix = new Uint8Array((prefixHex.match(/../g) || []).map((h) => parseInt(h, 16)));
    const w = new Worker('/app/voter/pow-worker.js');
    w.onmessage = (ev) => { w.terminate(); resolve(ev.data.padLength + ':' + ev.data.digest); };
    w.onerror = (e) => { w.terminate(); reject(new Error(e.message)); };
    w.postMessage({ cmd: 'digest', prefix, hi, lo });
  });

  // ---- start ----

  async function init() {
    $('receipt-title').tabIndex = -1;
    await loadLang(pickLang());
    $('lang').addEventListener('change', async () => {
      try { localStorage.setItem('powvote-lang', $('lang').value); } catch (e) { /* storage may be off */ }
      await loadLang($('lang').value);
      labelLines();
      if (st.receipt) showReceipt();
    });
    buildLines();
    $('choose').addEventListener('submit', start);
    $('mandate').addEventListener('submit', castClicked);
    $('save').addEventListener('click', saveReceipt);
    // A complaint appears when the voter leaves the field and goes away as
    // soon as the code checks. Leaving the field never removes one: the
    // Continue button would jump under the pointer between press and
    // release, and the click would be lost.
    $('booth').addEventListener('blur', () => {
      const err = $('booth').value.trim() ? parseBooth($('booth').value).err : undefined;
      if (err) boothFeedback(err);
    });
    $('booth').addEventListener('input', () => {
      if (!$('booth-error').hidden && !parseBooth($('booth').value).err) boothFeedback(undefined);
    });
    if ('serviceWorker' in navigator) {
      navigator.serviceWorker.register('/app/voter/sw.js', { scope: '/app/voter/' }).catch(() => {});
    }
    try {
      await loadBallot();
    } catch (e) {
      showError(t('badBallot'));
    }
    document.body.dataset.ready = 'true';
  }

  init();
})();
