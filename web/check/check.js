// The results page: reads the published lists (PROTOCOL.md 8) from this
// site or from files, recomputes every vote's proof of work in Web Workers,
// and shows the tally, the work, the votes over time, one voter's vote and
// a receipt's lines against the list.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);

  // State of the page; tests read it (window.powcheck).
  const st = {
    lang: 'en',
    msgs: {},
    campaign: '',
    options: [], // ballot texts, decoded; empty when only files are known
    threshold: 25,
    votes: null, // [{line, putc, voter, option, score}] once checked
    voters: null, // lines of the voters list, or null when not given
    byStamp: new Map(), // voter stamp without dashes -> index in votes
    tally: [], // [{option, votes, below, onBallot}]
    work: 0,
    unreadable: 0,
    done: false,
    running: false,
  };
  window.powcheck = st;

  // ---- language ----

  const pickLang = powvoteLang.pick;

  async function loadLang(lang) {
    const c = await powvoteLang.load('/app/check/i18n/', lang);
    st.lang = c.lang;
    st.msgs = c.msgs;
    document.title = t('title');
  }

  // t returns the message key with {name} placeholders filled from args,
  // numbers written as the reader's language writes them.
  function t(key, args) {
    return powvoteLang.fill(st.msgs, key, args, (v) => (typeof v === 'number' ? num(v) : String(v)));
  }

  function num(n) { return n.toLocaleString(st.lang); }

  // status shows message key with args, or nothing for an empty key; the
  // message is kept so that a change of language shows it again.
  let lastStatus = ['', null];
  function status(key, args) {
    lastStatus = [key, args];
    $('status').textContent = key ? t(key, args) : '';
  }

  function showError(text) {
    $('error').textContent = text;
    $('error').hidden = !text;
  }

  // ---- encodings ----

  // decodeOption reads an option as a header carries it (PROTOCOL 5.1).
  function decodeOption(v) {
    return v.includes('%') ? decodeURIComponent(v) : v;
  }

  // stampKey is a voter stamp as compared: without dashes or spaces, in
  // upper case, so that a stamp typed either way is found.
  function stampKey(s) {
    return s.replace(/[\s-]/g, '').toUpperCase();
  }

  // ---- the ballot ----

  async function loadBallot() {
    try {
      const r = await fetch('/list', { cache: 'no-store', credentials: 'omit' });
      if (r.status !== 200 && r.status !== 204) return false;
      const opts = [];
      for (let i = 1; i <= 99; i++) {
        const v = r.headers.get('Say' + String(i).padStart(2, '0'));
        if (v === null || v === '') break;
        opts.push(decodeOption(v));
      }
      st.options = opts;
      st.campaign = r.headers.get('Campaign') || '';
      const th = Number(r.headers.get('Pow-Threshold'));
      if (Number.isInteger(th) && th >= 1 && th <= 64) st.threshold = th;
      $('threshold').value = String(st.threshold);
      return st.campaign !== '';
    } catch (e) {
      return false;
    }
  }

  function showCampaign() {
    $('campaign').textContent = st.campaign ? t('campaign', { name: st.campaign, bits: st.threshold }) : t('noCampaign');
  }

  // ---- checking ----

  // splitLines returns the non-empty lines of a list.
  function splitLines(text) {
    const ls = text.split('\n');
    if (ls.length && ls[ls.length - 1] === '') ls.pop();
    return ls.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  }

  // parseVote returns what the page shows of a vote line; the worker
  // decides whether the line is well formed.
  function parseVote(line) {
    const f = line.split(' ');
    if (f.length < 5) return { putc: NaN, voter: '', option: null };
    const opt = f.slice(4).join(' ');
    const quoted = opt.length >= 2 && opt[0] === '"' && opt[opt.length - 1] === '"';
    return { putc: Number(f[0]), voter: f[2], option: quoted ? opt.slice(1, -1) : null };
  }

  // CHUNK lines go to a worker at a time: enough to keep it busy, few
  // enough for the progress bar to move.
  const CHUNK = 2048;

  // scoreAll recomputes the proof of work of every line with one worker
  // per core and returns the scores.
  function scoreAll(lines, progress) {
    return new Promise((resolve, reject) => {
      const scores = new Int16Array(lines.length);
      const n = Math.max(1, Math.min(navigator.hardwareConcurrency || 2, 16));
      const chunks = Math.ceil(lines.length / CHUNK);
      let next = 0, done = 0, failed = false;
      const workers = [];
      const finish = (err) => {
        workers.forEach((w) => w.terminate());
        if (err) reject(err); else resolve(scores);
      };
      if (chunks === 0) { resolve(scores); return; }
      const feed = (w) => {
        if (next >= chunks) return;
        const id = next++;
        w.postMessage({ id, lines: lines.slice(id * CHUNK, (id + 1) * CHUNK) });
      };
      for (let i = 0; i < Math.min(n, chunks); i++) {
        const w = new Worker('/app/check/check-worker.js');
        w.onmessage = (ev) => {
          scores.set(ev.data.scores, ev.data.id * CHUNK);
          done++;
          progress(Math.min(done * CHUNK, lines.length));
          if (done === chunks) finish(null); else feed(w);
        };
        w.onerror = (e) => {
          if (!failed) { failed = true; finish(new Error(e.message || 'worker')); }
        };
        workers.push(w);
        feed(w);
      }
    });
  }

  async function check(voteText, authText) {
    if (st.running) return;
    st.running = true;
    st.done = false;
    delete document.body.dataset.done;
    showError('');
    $('load-site').disabled = true;
    $('check-files').disabled = true;
    $('results').hidden = true;
    $('find').hidden = true;
    $('receipt').hidden = true;
    // Answers about the lists checked before no longer hold.
    $('find-result').textContent = '';
    $('receipt-summary').textContent = '';
    $('receipt-lines').textContent = '';
    try {
      const lines = splitLines(voteText);
      st.voters = authText === null ? null : splitLines(authText).length;
      const bar = $('progress');
      bar.hidden = false;
      bar.max = Math.max(1, lines.length);
      bar.value = 0;
      status('checking', { done: 0, total: lines.length });
      const t0 = performance.now();
      const scores = await scoreAll(lines, (d) => {
        bar.value = d;
        status('checking', { done: d, total: lines.length });
      });
      st.votes = lines.map((l, i) => Object.assign(parseVote(l), { score: scores[i] }));
      tallyVotes();
      bar.hidden = true;
      status('checked', { total: lines.length, secs: ((performance.now() - t0) / 1000).toFixed(1) });
      showResults();
      st.done = true;
      document.body.dataset.done = 'true';
    } catch (e) {
      showError(t('checkFailed'));
      status('');
    } finally {
      st.running = false;
      $('load-site').disabled = false;
      $('check-files').disabled = false;
    }
  }

  // tallyVotes counts the votes per option: those whose work reaches the
  // threshold, and apart from them those below it. A line that is not a
  // vote line counts nowhere but in st.unreadable.
  function tallyVotes() {
    const rows = st.options.map((o) => ({ option: o, votes: 0, below: 0, onBallot: true }));
    const index = new Map(st.options.map((o, i) => [o, i]));
    st.byStamp = new Map();
    st.work = 0;
    st.unreadable = 0;
    st.votes.forEach((v, i) => {
      if (v.score < 0 || v.option === null) { st.unreadable++; return; }
      st.work += 2 ** v.score;
      const k = stampKey(v.voter);
      if (!st.byStamp.has(k)) st.byStamp.set(k, i);
      let r = index.get(v.option);
      if (r === undefined) {
        r = rows.length;
        index.set(v.option, r);
        // An option the ballot does not have, or any option when the
        // ballot is not known (files checked offline).
        rows.push({ option: v.option, votes: 0, below: 0, onBallot: st.options.length === 0 });
      }
      if (v.score >= st.threshold) rows[r].votes++; else rows[r].below++;
    });
    st.tally = rows;
  }

  // ---- showing ----

  function cell(tr, text, cls) {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    tr.append(td);
  }

  function showResults() {
    const body = $('tally').tBodies[0];
    body.textContent = '';
    let below = 0;
    for (const r of st.tally) {
      const tr = document.createElement('tr');
      if (!r.onBallot) tr.className = 'extra';
      cell(tr, r.onBallot ? r.option : t('notOnBallot', { option: r.option }));
      cell(tr, num(r.votes), 'num');
      cell(tr, r.below ? num(r.below) : '', 'num below');
      body.append(tr);
      below += r.below;
    }
    $('tally-caption').textContent = t('tallyCaption', { bits: st.threshold });
    const notes = [];
    if (below) notes.push(t('belowNote', { n: num(below), bits: st.threshold }));
    if (st.unreadable) notes.push(t('unreadableNote', { n: num(st.unreadable) }));
    $('below-note').textContent = notes.join(' ');
    $('below-note').hidden = notes.length === 0;

    const dl = $('summary');
    dl.textContent = '';
    const item = (k, v) => {
      const dt = document.createElement('dt');
      dt.textContent = t(k);
      const dd = document.createElement('dd');
      dd.textContent = v;
      dd.id = 'sum-' + k;
      dl.append(dt, dd);
    };
    item('sumVotes', num(st.votes.length));
    item('sumVoters', st.voters === null ? t('notGiven') : num(st.voters));
    item('sumWork', t('workValue', { hashes: num(st.work), log: st.work > 0 ? Math.log2(st.work).toFixed(1) : '0' }));
    if (st.voters !== null && st.voters !== st.votes.length) {
      const dd = document.createElement('dd');
      dd.className = 'error wide';
      dd.textContent = t('countsDiffer');
      dl.append(dd);
    }
    drawChart();
    $('results').hidden = false;
    $('find').hidden = false;
    $('receipt').hidden = false;
  }

  const SVG = 'http://www.w3.org/2000/svg';

  function svgEl(name, attrs) {
    const e = document.createElementNS(SVG, name);
    for (const k in attrs) e.setAttribute(k, String(attrs[k]));
    return e;
  }

  function timeText(secs) {
    return new Date(secs * 1000).toLocaleString(st.lang, { dateStyle: 'short', timeStyle: 'short', timeZone: 'UTC' }) + ' UTC';
  }

  // drawChart draws, per option, the number of counted votes stamped at or
  // before each time: a step line from the first P-UTC to the last.
  function drawChart() {
    const box = $('chart');
    const legend = $('legend');
    box.textContent = '';
    legend.textContent = '';
    const rows = st.tally;
    const index = new Map(rows.map((r, i) => [r.option, i]));
    const series = rows.map(() => []);
    for (const v of st.votes) {
      if (v.score >= st.threshold && v.option !== null && Number.isFinite(v.putc)) series[index.get(v.option)].push(v.putc);
    }
    const all = series.flat();
    if (all.length === 0) {
      box.textContent = t('noVotes');
      return;
    }
    let t0 = Infinity, t1 = -Infinity;
    for (const x of all) { if (x < t0) t0 = x; if (x > t1) t1 = x; }
    if (t1 === t0) t1 = t0 + 1;
    const top = Math.max(...series.map((s) => s.length));
    const W = 480, H = 270, L = 36, R = 8, T = 10, B = 30;
    const x = (s) => L + ((s - t0) / (t1 - t0)) * (W - L - R);
    const y = (n) => H - B - (n / top) * (H - T - B);
    const svg = svgEl('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img' });
    const title = svgEl('title', {});
    title.textContent = t('chartLabel', { from: timeText(t0), to: timeText(t1) });
    svg.append(title);
    svg.append(svgEl('line', { class: 'axis', x1: L, y1: H - B, x2: W - R, y2: H - B }));
    svg.append(svgEl('line', { class: 'axis', x1: L, y1: T, x2: L, y2: H - B }));
    const label = (text, attrs) => {
      const e = svgEl('text', attrs);
      e.textContent = text;
      svg.append(e);
    };
    label(num(top), { x: L - 4, y: T + 10, 'text-anchor': 'end' });
    label('0', { x: L - 4, y: H - B, 'text-anchor': 'end' });
    label(timeText(t0), { x: L, y: H - 8, 'text-anchor': 'start' });
    label(timeText(t1), { x: W - R, y: H - 8, 'text-anchor': 'end' });
    series.forEach((s, i) => {
      if (s.length === 0) return;
      s.sort((a, b) => a - b);
      const pts = [`${x(t0)},${y(0)}`];
      s.forEach((tm, k) => {
        pts.push(`${x(tm)},${y(k)}`, `${x(tm)},${y(k + 1)}`);
      });
      pts.push(`${x(t1)},${y(s.length)}`);
      svg.append(svgEl('polyline', { class: 's' + (i % 10), points: pts.join(' ') }));
    });
    box.append(svg);
    rows.forEach((r, i) => {
      const li = document.createElement('li');
      const sw = document.createElement('span');
      sw.className = 'k' + (i % 10);
      sw.setAttribute('aria-hidden', 'true');
      li.append(sw, document.createTextNode(r.option));
      legend.append(li);
    });
  }

  // ---- find my vote ----

  function findVote(ev) {
    if (ev) ev.preventDefault();
    const out = $('find-result');
    const k = stampKey($('stamp').value);
    out.className = '';
    if (!k) { out.textContent = t('stampEmpty'); out.className = 'bad'; return; }
    const i = st.byStamp.get(k);
    if (i === undefined) {
      out.textContent = t('stampMissing');
      out.className = 'bad';
      return;
    }
    const v = st.votes[i];
    out.textContent = t(v.score >= st.threshold ? 'stampFound' : 'stampFoundBelow', { line: num(i + 1), option: v.option });
    out.className = v.score >= st.threshold ? 'ok' : 'bad';
  }

  // ---- check my receipt ----

  // parseReceipt reads a saved receipt (Campaign:, Receipt01: ...,
  // Receipt-Sig:) and returns {campaign, lines: [{n, stamp, option}]} or
  // null.
  function parseReceipt(text) {
    let campaign = null, sig = null;
    const lines = [];
    for (const raw of text.replace(/\r\n/g, '\n').split('\n')) {
      const l = raw.trim();
      if (!l) continue;
      const c = l.indexOf(': ');
      if (c < 0) return null;
      const k = l.slice(0, c), v = l.slice(c + 2);
      if (k === 'Campaign' && campaign === null && lines.length === 0) campaign = v;
      else if (k === 'Receipt-Sig' && sig === null) sig = v;
      else if (k === 'Receipt' + String(lines.length + 1).padStart(2, '0') && sig === null) {
        const sp = v.indexOf(' ');
        if (sp < 0) return null;
        let option;
        try { option = decodeOption(v.slice(sp + 1)); } catch (e) { return null; }
        lines.push({ n: lines.length + 1, stamp: v.slice(0, sp), option });
      } else return null;
    }
    if (campaign === null || lines.length === 0) return null;
    return { campaign, lines };
  }

  function checkReceipt(ev) {
    if (ev) ev.preventDefault();
    const sum = $('receipt-summary');
    const list = $('receipt-lines');
    list.textContent = '';
    const rc = parseReceipt($('receipt-text').value);
    if (!rc) {
      sum.textContent = t('receiptBad');
      sum.className = 'bad';
      return;
    }
    let ok = 0, missing = 0, wrong = 0, none = 0;
    for (const l of rc.lines) {
      // "-" stands against an option nobody had chosen yet (PROTOCOL 5.4).
      const i = l.stamp === '-' ? undefined : st.byStamp.get(stampKey(l.stamp));
      let key, cls;
      if (l.stamp === '-') { key = 'lineNone'; cls = ''; none++; }
      else if (i === undefined) { key = 'lineMissing'; cls = 'bad'; missing++; }
      else if (st.votes[i].option !== l.option) { key = 'lineWrong'; cls = 'bad'; wrong++; }
      else { key = 'lineOk'; cls = 'ok'; ok++; }
      const li = document.createElement('li');
      li.className = cls;
      li.dataset.result = { lineOk: 'ok', lineMissing: 'missing', lineWrong: 'wrong', lineNone: 'none' }[key];
      const code = document.createElement('code');
      code.textContent = l.stamp;
      li.append(code, document.createTextNode(' ' + l.option + ': ' +
        t(key, { line: i === undefined ? '' : num(i + 1), listed: i === undefined ? '' : st.votes[i].option })));
      list.append(li);
    }
    const parts = [];
    if (st.campaign && rc.campaign !== st.campaign) parts.push(t('receiptOtherCampaign', { name: rc.campaign }));
    if (missing === 0 && wrong === 0) parts.push(t('receiptAllOk', { n: num(ok) }));
    else parts.push(t('receiptSome', { ok: num(ok), missing: num(missing), wrong: num(wrong), n: num(rc.lines.length - none) }));
    const good = missing === 0 && wrong === 0 && parts.length === 1;
    if (none) parts.push(t('receiptNone', { n: num(none) }));
    sum.textContent = parts.join(' ');
    sum.className = good ? 'ok' : 'bad';
    sum.dataset.ok = String(ok);
    sum.dataset.missing = String(missing);
    sum.dataset.wrong = String(wrong);
    sum.dataset.none = String(none);
  }

  async function receiptFile() {
    const f = $('receipt-file').files[0];
    if (f) $('receipt-text').value = await f.text();
  }

  // ---- sources ----

  async function fetchText(path) {
    const r = await fetch(path, { cache: 'no-store', credentials: 'omit' });
    if (!r.ok) throw new Error(path + ': ' + r.status);
    return r.text();
  }

  async function loadSite() {
    if (!st.campaign) {
      showError(t('noCampaign'));
      return;
    }
    status('downloading');
    let votes, auths;
    try {
      [votes, auths] = await Promise.all([fetchText('/' + st.campaign + '-vote.log'), fetchText('/' + st.campaign + '-auth.log')]);
    } catch (e) {
      status('');
      showError(t('downloadFailed'));
      return;
    }
    await check(votes, auths);
  }

  async function loadFiles(ev) {
    ev.preventDefault();
    const vf = $('vote-file').files[0];
    if (!vf) {
      showError(t('pickVotes'));
      return;
    }
    const th = Number($('threshold').value);
    if (!Number.isInteger(th) || th < 1 || th > 64) {
      showError(t('badThreshold'));
      return;
    }
    st.threshold = th;
    const af = $('auth-file').files[0];
    await check(await vf.text(), af ? await af.text() : null);
  }

  // ---- start ----

  async function init() {
    await loadLang(pickLang());
    $('lang').addEventListener('change', async () => {
      try { localStorage.setItem('powvote-lang', $('lang').value); } catch (e) { /* storage may be off */ }
      await loadLang($('lang').value);
      showCampaign();
      status(lastStatus[0], lastStatus[1]);
      if (st.done) {
        showResults();
        if ($('find-result').textContent) findVote();
        if ($('receipt-summary').textContent) checkReceipt();
      }
    });
    $('load-site').addEventListener('click', loadSite);
    $('files-form').addEventListener('submit', loadFiles);
    $('find-form').addEventListener('submit', findVote);
    $('receipt-form').addEventListener('submit', checkReceipt);
    $('receipt-file').addEventListener('change', receiptFile);
    const online = await loadBallot();
    showCampaign();
    $('load-site').hidden = !online;
    if (!online) $('files').open = true;
    document.body.dataset.ready = 'true';
    if (online) await loadSite();
  }

  init();
})();
