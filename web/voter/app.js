// The voter app: the browser counterpart of package client (PROTOCOL.md
// 2-6 and the seed's preferred procedure). It reads the ballot, checks the
// booth code locally, fetches a platform stamp, does the proof of work in
// Web Workers while the voter types the mandate card or scans its QR code,
// checks the mandate's signature, casts the vote and shows the receipt,
// checked against the platform's receipt key, to save or print.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const wire = powvoteWire;

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
    receipt: null, // {lines, sig, own, at (Date)}
    receiptCheck: '', // message key of the Receipt-Sig verdict
    wakeLock: null,
    scan: null, // {stream, decode, timer} while the camera runs
    scanned: 0, // mandates read from a QR code
    swScope: '', // scope the service worker was registered for
    lineErrs: [], // [{n, err}]: the lines the complaint above Cast names
  };
  window.powvote = st;

  // ---- language ----

  const loadLang = powvoteLang.loader('/app/voter/i18n/', st);

  // t returns the message key with {name} placeholders filled from args.
  function t(key, args) { return powvoteLang.fill(st.msgs, key, args); }

  // ---- messages ----

  function showError(text) {
    const e = $('error');
    e.textContent = text;
    e.hidden = !text;
    if (!text) $('restart').hidden = true;
  }

  // refuse shows a refusal where the voter will see it: the voter pressed
  // a button far below the message, on a phone often a screen or more
  // away, and would otherwise see only a greyed button. The message takes
  // the focus (a screen reader reads it) and scrolls into view, with what
  // to do next and, when that is to start again, a button that does.
  function refuse(text, next, restart) {
    showError(next ? text + ' ' + next : text);
    $('restart').hidden = !restart;
    const e = $('error');
    e.focus({ preventScroll: true });
    e.scrollIntoView({ block: 'start' });
  }

  // nextStep says what to do after a refusal whose own message does not
  // say it, and whether starting again (a new booth code, a new proof of
  // work) is the way on: for a mandate that has voted there is nothing
  // to do, and for one the campaign does not know, nothing a new start
  // would change.
  const nextStep = {
    481: { key: 'next481', restart: false },
    482: { key: 'next482', restart: true },
    484: { key: 'next484', restart: false },
  };

  // refuseCode shows the refusal of a vote with a PROTOCOL 5.3 status.
  function refuseCode(code) {
    const known = !!st.msgs['err' + code];
    const n = nextStep[code] || { key: known ? '' : 'nextOther', restart: known };
    refuse(codeMessage(code), n.key ? t(n.key) : '', n.restart);
  }

  function status(text) { $('status').textContent = text; }

  // codeMessage is what a voter reads for a PROTOCOL 5.3 status.
  function codeMessage(code) {
    const key = 'err' + code;
    return st.msgs[key] ? t(key) : t('errOther', { code });
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

  // SYMBOLS gives the symbol of each value: 0 to 31 are data symbols, 32
  // to 36 only ever stand as a line's check symbol.
  const SYMBOLS = '0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U';

  // symbolValue maps one character as typed to its value, or -1: either
  // case, O read as 0, I and L as 1.
  function symbolValue(c) {
    if (c.length !== 1 || c >= '\x80') return -1;
    let u = c.toUpperCase();
    if (u === 'O') u = '0';
    if (u === 'I' || u === 'L') u = '1';
    return SYMBOLS.indexOf(u);
  }

  // decodeLine reads the symbols of a card line, ' ', '-' and ':'
  // skipped: 16 data symbols and the check symbol. It returns {bytes}, or
  // {kind} with kind symbol (and sym, a character that is no symbol or a
  // check-only symbol before the last), length (and count, the number of
  // symbols) or check, in that order.
  function decodeLine(s) {
    const vals = [];
    let last = '';
    for (const c of s) {
      if (c === ' ' || c === '-' || c === ':') continue;
      const v = symbolValue(c);
      if (v < 0) return { kind: 'symbol', sym: c };
      if (vals.length && vals[vals.length - 1] >= 32) return { kind: 'symbol', sym: last };
      vals.push(v);
      last = c;
    }
    if (vals.length !== 17) return { kind: 'length', count: vals.length };
    let acc = 0n;
    for (let i = 0; i < 16; i++) acc = (acc << 5n) | BigInt(vals[i]);
    const bytes = new Uint8Array(10);
    for (let i = 9; i >= 0; i--) { bytes[i] = Number(acc & 255n); acc >>= 8n; }
    let r = 0;
    for (const b of bytes) r = (r * 256 + b) % 37;
    return r === vals[16] ? { bytes } : { kind: 'check' };
  }

  // labelLength is the length of a label with line n's own number at the
  // start of s ("7:", "07.", "7)", "7 "), or 0.
  function labelLength(n, s) {
    for (const p of [String(n), '0' + n]) {
      if (p.length > 2 || !s.startsWith(p) || s.length === p.length) continue;
      if (':.) '.includes(s[p.length])) return p.length + 1;
    }
    return 0;
  }

  // parseLine reads card line n (1 to 12) as typed, as
  // mandate.ParseCardLine does: tabs are spaces, spaces around the line
  // and a label with the line's own number are allowed (a label with
  // another number is read as symbols, so a line typed in the wrong field
  // fails). It returns {bytes, label}, the line's 10 token bytes and the
  // length of the label read at the start of s (with the spaces before
  // it), or {kind, err}: kind as decodeLine gives it and err the message
  // naming the line.
  function parseLine(n, s) {
    const body = s.replace(/\t/g, ' ').replace(/[ \r\n]+$/, '').replace(/^ +/, '');
    let label = labelLength(n, body);
    let r = decodeLine(body.slice(label));
    if (label > 0 && r.kind === 'length') {
      // A label is only a label if what follows is a line: symbols that
      // happen to read like the line's number are symbols.
      const whole = decodeLine(body);
      if (whole.bytes) { r = whole; label = 0; }
    }
    if (r.bytes) return { bytes: r.bytes, label: label ? s.length - s.replace(/^[ \t]+/, '').length + label : 0 };
    switch (r.kind) {
      case 'symbol': return { kind: r.kind, err: t('lineSymbol', { n, sym: r.sym }) };
      case 'length': return { kind: r.kind, err: r.count === 0 ? t('lineEmpty', { n }) : t('lineLength', { n, count: r.count }) };
      default: return { kind: r.kind, err: t('lineCheck', { n }) };
    }
  }

  // ---- network ----

  // pause waits ms, or less when the browser says it is back online.
  const pause = (ms) => new Promise((resolve) => {
    const done = () => { clearTimeout(id); window.removeEventListener('online', done); resolve(); };
    const id = setTimeout(done, ms);
    window.addEventListener('online', done);
  });

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
      status(r ? t('busyRetry') : t(navigator.onLine === false ? 'offline' : 'networkRetry'));
      await pause(wait / 2 + Math.random() * wait);
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
        opts.push(wire.decodeOption(v));
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
      refuse(codeMessage(r.status), '', false);
      return;
    }
    const putc = r.headers.get('P-UTC') || '', psig = r.headers.get('P-SIG') || '', voter = r.headers.get('Voter') || '';
    const sig = wire.canonicalB64(psig, 64);
    if (!putc || !voter || sig === null) {
      $('start').disabled = false;
      refuse(t('badStamp'), '', false);
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
    const prefix = wire.powMessage(s.putc, s.sig, s.voter, st.say);
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
      w.onerror = () => { refuse(t('workFailed'), '', false); stopWork(); };
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
        if (input.getAttribute('aria-invalid') === 'true' || !msg.hidden || clean17(input.value)) checkLine(n, true);
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
    if (r.err) return false;
    if (r.label) stripLabel(input, r.label);
    lineRead(n);
    return true;
  }

  // stripLabel takes the line number the voter typed as printed on the
  // card ("10: ") out of a field whose line reads: the field's label
  // says it already, and what stays is the line as the card groups it,
  // short enough to show whole. The caret keeps its place in the line.
  function stripLabel(input, label) {
    const caret = input.selectionStart, before = input.value;
    input.value = before.slice(label).replace(/^ +/, '');
    const cut = before.length - input.value.length;
    if (document.activeElement === input && caret !== null) {
      const at = Math.max(0, caret - cut);
      input.setSelectionRange(at, at);
    }
  }

  // lineRead takes line n out of the complaint above Cast as soon as it
  // reads: the complaint names the lines that did not read when the voter
  // pressed Cast, and goes when none is left.
  function lineRead(n) {
    const i = st.lineErrs.findIndex((e) => e.n === n);
    if (i < 0) return;
    st.lineErrs.splice(i, 1);
    const me = $('mandate-error');
    me.textContent = st.lineErrs.map((e) => e.err).join(' ');
    me.hidden = st.lineErrs.length === 0;
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
    return errs.length ? { errs } : { token: wire.concat(...parts) };
  }

  // ---- cast ----

  async function castClicked(ev) {
    ev.preventDefault();
    if (st.casting || st.checking) return;
    const m = readMandate();
    const me = $('mandate-error');
    st.lineErrs = m.errs || [];
    if (m.errs) {
      me.textContent = m.errs.map((e) => e.err).join(' ');
      me.hidden = false;
      $('line-' + m.errs[0].n).focus();
      return;
    }
    me.hidden = true;
    // Every line checks, but a typo that keeps a line's check symbol, or a
    // card that was never signed, would fail only at the collector after
    // all the work: the signature is checked here first.
    st.checking = true;
    $('cast').disabled = true;
    const ok = await verifyMandate(m.token);
    st.checking = false;
    if (ok === false) {
      $('cast').disabled = false;
      me.textContent = t('mandateSignature');
      me.hidden = false;
      $('line-1').focus();
      return;
    }
    stopScanner(false);
    $('scan').disabled = true;
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
      'Auth-Pkey': wire.toB64(tok.subarray(0, 32)),
      'Auth-Sig': wire.toB64(tok.subarray(32, 96)),
      'Auth-Id': wire.toB64(tok.subarray(96, 120)),
      'P-UTC': s.putc,
      'P-SIG': s.psig,
      Voter: s.voter,
      Say: wire.encodeOption(st.say),
    };
    status(t('casting'));
    const r = await request('/' + wire.toHex(st.work.nonce), headers, 'vote');
    if (r.status < 200 || r.status > 299) {
      status('');
      refuseCode(r.status);
      return;
    }
    const lines = st.options.map((_, i) => r.headers.get('Receipt' + String(i + 1).padStart(2, '0')) || '');
    const sig = r.headers.get('Receipt-Sig') || '';
    const own = st.options.indexOf(st.say);
    // The receipt must carry this vote: the own stamp against the choice.
    if (lines[own] !== s.voter + ' ' + wire.encodeOption(st.say)) {
      status('');
      refuse(t('badReceipt'), '', false);
      return;
    }
    st.receipt = { lines, sig, own, at: new Date() };
    showReceipt();
    checkReceipt();
  }

  // formatReceipt writes the receipt as the voter saves it.
  function formatReceipt() {
    return wire.formatReceipt(st.campaign, st.receipt.lines, st.receipt.sig);
  }

  function showReceipt() {
    status('');
    $('mandate').hidden = true;
    $('work').hidden = true;
    const ol = $('receipt-lines');
    ol.textContent = '';
    let dashes = 0;
    st.receipt.lines.forEach((l, i) => {
      const li = document.createElement('li');
      const sp = l.indexOf(' ');
      const text = sp > 0 ? l.slice(0, sp) + ' ' + wire.decodeOption(l.slice(sp + 1)) : l;
      let note = '';
      if (i === st.receipt.own) {
        li.className = 'own';
        note = t('yourStamp');
      } else if (sp > 0 && l.slice(0, sp) === '-') {
        // PROTOCOL 5.4: no other vote for this option was there to
        // stand on the receipt yet, in the first seconds of a campaign
        // or before an option's first votes.
        li.className = 'nostamp';
        note = t('receiptNoStamp');
        dashes++;
      }
      li.textContent = text;
      if (note) {
        const span = document.createElement('span');
        span.className = 'note';
        span.textContent = ' — ' + note;
        li.append(span);
      }
      ol.append(li);
    });
    // The intro says what the other lines are: other voters' stamps,
    // "-", or some of each.
    const others = st.receipt.lines.length - 1;
    $('receipt-intro').textContent = t(dashes === 0 ? 'receiptIntro' : dashes === others ? 'receiptIntroNoStamps' : 'receiptIntroSomeStamps');
    $('receipt-text').textContent = formatReceipt();
    $('receipt-meta').textContent = t('receiptMeta', {
      campaign: st.campaign || '—',
      date: st.receipt.at.toLocaleString(st.lang, { dateStyle: 'long', timeStyle: 'medium' }),
    });
    showReceiptCheck();
    $('receipt').hidden = false;
    $('receipt-title').focus();
  }

  // ---- Receipt-Sig (PROTOCOL 6) ----

  // checkReceipt verifies Receipt-Sig with the receipt key the platform
  // publishes at /<campaign>-receipt.key. The key comes from the same edge
  // as the receipt, so a verdict shows that the receipt is whole and was
  // signed by the key the platform stands by in public; the check page and
  // `powvote receipt verify` do the same later against the published lists.
  async function checkReceipt() {
    st.receiptCheck = 'receiptChecking';
    showReceiptCheck();
    let key = null;
    try {
      const r = await fetch('/' + st.campaign + '-receipt.key', { cache: 'no-store', credentials: 'omit' });
      if (r.status === 404 || r.status === 400) {
        st.receiptCheck = 'receiptKeyMissing';
      } else if (!r.ok) {
        st.receiptCheck = 'receiptKeyUnreachable';
      } else {
        key = parseKey(await r.text());
        if (!key) st.receiptCheck = 'receiptKeyBad';
      }
    } catch (e) {
      st.receiptCheck = 'receiptKeyUnreachable';
    }
    if (key) {
      const ok = await wire.verifyReceipt(key, st.campaign, st.receipt.lines, st.receipt.sig);
      st.receiptCheck = ok === null ? 'receiptNoCrypto' : ok ? 'receiptVerified' : 'receiptNotVerified';
    }
    showReceiptCheck();
  }

  // parseKey reads the receipt key file: the standard base64 of 32 bytes
  // and a line feed.
  function parseKey(text) {
    const s = text.replace(/\r?\n$/, '');
    if (!/^[A-Za-z0-9+/]{43}=$/.test(s)) return null;
    return wire.fromB64(s);
  }

  const receiptCheckClass = {
    receiptVerified: 'ok', receiptNotVerified: 'error', receiptKeyBad: 'error',
  };

  function showReceiptCheck() {
    const p = $('receipt-verify');
    p.textContent = st.receiptCheck ? t(st.receiptCheck) : '';
    p.className = receiptCheckClass[st.receiptCheck] || 'hint';
    p.dataset.result = st.receiptCheck;
  }

  // ---- the mandate's signature ----

  // verifyMandate checks auth-sig over auth-id under auth-pkey: true,
  // false, or null when the browser has no Ed25519. The platform checks
  // every signature anyway; the browser only spares the voter a refusal.
  function verifyMandate(tok) {
    return wire.verifyEd25519(tok.subarray(0, 32), tok.subarray(96, 120), tok.subarray(32, 96));
  }

  // For tests: the checks as the app runs them, on base64 inputs.
  st.verifyReceipt = (keyB64, campaign, lines, sig) => wire.verifyReceipt(parseKey(keyB64 + '\n') || new Uint8Array(0), campaign, lines, sig);
  st.verifyMandate = (hex) => verifyMandate(wire.fromHex(hex));

  // ---- QR scan of the mandate (PROTOCOL 3) ----

  // The card's QR code holds the 120 token bytes in one byte-mode segment,
  // so the decoder's raw bytes are the token. The decoder (jsQR, vendor/)
  // is loaded the first time the voter opens the scanner, not before.
  let qrLib = null;

  function loadQR() {
    if (!qrLib) {
      qrLib = new Promise((resolve, reject) => {
        const s = document.createElement('script');
        s.src = '/app/voter/vendor/jsQR.js';
        s.onload = () => (typeof window.jsQR === 'function' ? resolve(window.jsQR) : reject(new Error('no jsQR')));
        s.onerror = () => { qrLib = null; s.remove(); reject(new Error('jsQR did not load')); };
        document.head.append(s);
      });
    }
    return qrLib;
  }

  function scanError(text) {
    const e = $('scan-error');
    e.textContent = text;
    e.hidden = !text;
  }

  // cameraMessage names what went wrong when the camera did not start.
  function cameraMessage(err) {
    switch (err && err.name) {
      case 'NotAllowedError': case 'SecurityError': return t('scanDenied');
      case 'NotFoundError': case 'OverconstrainedError': return t('scanNoCamera');
      default: return t('scanFailed');
    }
  }

  async function openScanner() {
    if (st.scan || st.casting) return;
    scanError('');
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      scanError(t('scanNoCamera'));
      return;
    }
    $('scan').disabled = true;
    let decode, stream;
    try {
      decode = await loadQR();
    } catch (e) {
      $('scan').disabled = false;
      scanError(t('scanLoadFailed'));
      return;
    }
    try {
      // The rear camera when there is one: the voter holds the card in
      // front of the phone, not in front of their face.
      stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 }, height: { ideal: 720 } },
      });
    } catch (e) {
      $('scan').disabled = false;
      scanError(cameraMessage(e));
      $('scan').focus();
      return;
    }
    if (st.casting) { // cast while the camera was starting
      for (const tr of stream.getTracks()) tr.stop();
      return;
    }
    const video = $('preview');
    video.srcObject = stream;
    st.scan = { stream, decode, timer: 0, canvas: document.createElement('canvas') };
    $('scanner').hidden = false;
    $('scan').hidden = true;
    $('scan-status').textContent = t('scanLooking');
    $('scan-stop').focus();
    video.play().catch(() => { /* the frames are read even when not shown playing */ });
    scanFrame();
  }

  // scanFrame looks for a QR code in the current frame, a few times a
  // second: often enough to feel immediate, rarely enough to leave the
  // processor to the proof of work.
  function scanFrame() {
    const sc = st.scan;
    if (!sc) return;
    const video = $('preview');
    const w = video.videoWidth, h = video.videoHeight;
    if (w && h) {
      // A version 11 code needs about 3 pixels per module, 250 pixels in
      // all: 800 pixels for the longer side leave room to hold it loosely.
      const f = Math.min(1, 800 / Math.max(w, h));
      const cw = Math.round(w * f), ch = Math.round(h * f);
      const c = sc.canvas;
      if (c.width !== cw || c.height !== ch) { c.width = cw; c.height = ch; }
      const g = c.getContext('2d', { willReadFrequently: true });
      g.drawImage(video, 0, 0, cw, ch);
      const code = sc.decode(g.getImageData(0, 0, cw, ch).data, cw, ch, { inversionAttempts: 'attemptBoth' });
      if (code && code.binaryData) {
        if (code.binaryData.length === 120) {
          stopScanner(false);
          fillFromToken(Uint8Array.from(code.binaryData));
          return;
        }
        $('scan-status').textContent = t('scanNotMandate');
      }
    }
    sc.timer = setTimeout(scanFrame, 150);
  }

  // stopScanner turns the camera off; focus goes back to the scan button
  // when the voter stopped it.
  function stopScanner(byVoter) {
    const sc = st.scan;
    if (!sc) return;
    st.scan = null;
    clearTimeout(sc.timer);
    for (const tr of sc.stream.getTracks()) tr.stop();
    const video = $('preview');
    video.pause();
    video.srcObject = null;
    $('scanner').hidden = true;
    $('scan').hidden = false;
    $('scan').disabled = st.casting;
    if (byVoter) $('scan').focus();
  }

  // encodeLine writes 10 token bytes as a card line: 16 Crockford symbols
  // and the check symbol, in groups of 4 4 4 4 1 as printed.
  function encodeLine(bytes) {
    let acc = 0n, r = 0;
    for (const b of bytes) {
      acc = (acc << 8n) | BigInt(b);
      r = (r * 256 + b) % 37;
    }
    let s = '';
    for (let i = 15; i >= 0; i--) s += SYMBOLS[Number((acc >> BigInt(5 * i)) & 31n)];
    s += SYMBOLS[r];
    return s.match(/.{1,4}/g).join(' ');
  }

  // For tests: card line n as the app reads it, {bytes} in hex or {error}
  // with the kind of refusal, and the 12 lines the app writes for a token
  // (hex) it scanned.
  st.parseCardLine = (n, s) => {
    const r = parseLine(n, s);
    return r.bytes ? { bytes: wire.toHex(r.bytes) } : { error: r.kind };
  };
  st.cardLines = (hex) => {
    const tok = wire.fromHex(hex);
    return Array.from({ length: 12 }, (_, i) => encodeLine(tok.subarray(10 * i, 10 * i + 10)));
  };

  // fillFromToken puts a scanned token into the 12 fields, replacing what
  // was typed, so that the voter sees the same card lines as on paper.
  async function fillFromToken(tok) {
    for (let n = 1; n <= 12; n++) {
      $('line-' + n).value = encodeLine(tok.subarray(10 * (n - 1), 10 * n));
      checkLine(n, false);
    }
    st.scanned++;
    st.lineErrs = [];
    $('mandate-error').hidden = true;
    const ok = await verifyMandate(tok);
    if (ok === false) {
      $('mandate-error').textContent = t('mandateSignature');
      $('mandate-error').hidden = false;
      $('scan').focus();
      return;
    }
    status(t('scanDone'));
    $('cast').focus();
  }

  function saveReceipt() {
    const blob = new Blob([formatReceipt()], { type: 'text/plain;charset=utf-8' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    // The name says nothing of the vote: a file name shows in download
    // lists, recent-file menus and synced folders, where anyone who glances
    // at it could otherwise take the start of the voter's stamp to the
    // votes list. A second receipt gets the browser's own " (1)".
    a.download = (st.campaign || 'powvote') + '-receipt.txt';
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }

  // digest is for tests: SHA-256 of prefix || zero pad || counter by the
  // worker's own code, as hex, with the pad length it chose.
  st.digest = (prefixHex, hi, lo) => new Promise((resolve, reject) => {
    const prefix = wire.fromHex(prefixHex);
    const w = new Worker('/app/voter/pow-worker.js');
    w.onmessage = (ev) => { w.terminate(); resolve(ev.data.padLength + ':' + ev.data.digest); };
    w.onerror = (e) => { w.terminate(); reject(new Error(e.message)); };
    w.postMessage({ cmd: 'digest', prefix, hi, lo });
  });

  // ---- offline start ----

  // registerWorker installs the service worker that lets the app open
  // without a network. To control the app at /, a worker served from
  // /app/voter/ needs the edge's permission (a Service-Worker-Allowed: /
  // header); without it the browser refuses that scope and the worker
  // keeps the app's files for /app/voter/index.html alone.
  async function registerWorker() {
    if (!('serviceWorker' in navigator)) return;
    for (const scope of ['/', '/app/voter/']) {
      try {
        await navigator.serviceWorker.register('/app/voter/sw.js', { scope });
        st.swScope = scope;
        return;
      } catch (e) { /* try the narrower scope */ }
    }
  }

  // ---- start ----

  async function init() {
    $('receipt-title').tabIndex = -1;
    $('error').tabIndex = -1;
    $('restart').addEventListener('click', () => window.location.reload());
    await loadLang(powvoteLang.pick());
    powvoteLang.onPick(async (lang) => {
      await loadLang(lang);
      labelLines();
      if (st.receipt) showReceipt();
    });
    buildLines();
    $('choose').addEventListener('submit', start);
    $('mandate').addEventListener('submit', castClicked);
    $('save').addEventListener('click', saveReceipt);
    $('print').addEventListener('click', () => window.print());
    $('scan').addEventListener('click', openScanner);
    $('scan-stop').addEventListener('click', () => stopScanner(true));
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
    registerWorker();
    try {
      await loadBallot();
    } catch (e) {
      showError(t('badBallot'));
    }
    document.body.dataset.ready = 'true';
  }

  init();
})();
