// The results page: reads the published lists (PROTOCOL.md 8) from this
// site or from files, recomputes every vote's proof of work in Web Workers,
// checks the lists against their signed checkpoints, and shows the tally,
// the work, the votes over time, one voter's vote, and a receipt's
// signature and lines against the list.
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
    // Per list ('vote', 'auth'): {result, size, lines}, result being match,
    // mismatch, short, badsig, nosig, badkey, malformed, origin, missing,
    // unsupported or unavailable (downloaded files).
    checkpoints: {},
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

  const utf8 = new TextEncoder();

  // b64 decodes standard base64 with padding, or returns null.
  function b64(s) {
    if (typeof s !== 'string' || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return null;
    try {
      const bin = atob(s);
      const out = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
      return out;
    } catch (e) {
      return null;
    }
  }

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) { out.set(p, o); o += p.length; }
    return out;
  }

  function equalBytes(a, b) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  // ---- signatures (WebCrypto) ----

  // WebCrypto exists only in secure contexts (HTTPS or this machine), and
  // Ed25519 only in recent browsers: without them signatures are reported
  // as not checkable, never as valid.
  let ed25519Support = null;
  // The public key of RFC 8032's first test vector: a valid point, which
  // every browser that has Ed25519 imports.
  const RFC8032_PUB = Uint8Array.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'.match(/../g), (h) => parseInt(h, 16));
  function canVerify() {
    if (ed25519Support === null) {
      ed25519Support = !window.crypto || !crypto.subtle ? Promise.resolve(false)
        : crypto.subtle.importKey('raw', RFC8032_PUB, { name: 'Ed25519' }, false, ['verify']).then(() => true, () => false);
    }
    return ed25519Support;
  }

  // verifyEd25519 reports whether sig (64 bytes) signs msg under the raw
  // 32-byte public key pub; a key the browser refuses verifies nothing.
  async function verifyEd25519(pub, msg, sig) {
    if (pub.length !== 32 || sig.length !== 64) return false;
    try {
      const key = await crypto.subtle.importKey('raw', pub, { name: 'Ed25519' }, false, ['verify']);
      return await crypto.subtle.verify({ name: 'Ed25519' }, key, sig, msg);
    } catch (e) {
      return false;
    }
  }

  // ---- signed checkpoints (C2SP signed note and tlog-checkpoint) ----

  // parseVerifierKey reads a note verifier key "name+hash+base64(0x01 ||
  // Ed25519 public key)" and checks its hash, the first 4 bytes of
  // SHA-256(name || "\n" || 0x01 || key), as golang.org/x/mod/sumdb/note
  // does. It returns {name, hash, pub} or null.
  async function parseVerifierKey(text) {
    const v = text.trim();
    const a = v.indexOf('+');
    const b = v.indexOf('+', a + 1);
    if (a <= 0 || b < 0) return null;
    const name = v.slice(0, a), hash = v.slice(a + 1, b), key = b64(v.slice(b + 1));
    if (/[\s+]/.test(name) || !/^[0-9a-fA-F]{8}$/.test(hash) || !key || key.length !== 33 || key[0] !== 1) return null;
    const sum = new Uint8Array(await crypto.subtle.digest('SHA-256', concat(utf8.encode(name + '\n'), key)));
    const want = ((sum[0] << 24) | (sum[1] << 16) | (sum[2] << 8) | sum[3]) >>> 0;
    if (parseInt(hash, 16) !== want) return null;
    return { name, hash: want, pub: key.slice(1) };
  }

  // openNote checks a signed note (its bytes) against the verifier key vk:
  // text, a blank line, then signature lines "— name base64(key hash (4
  // bytes, big-endian) || signature)", the signature over the text with its
  // last line feed. It returns {result: 'ok', text}, or {result} with
  // malformed, nosig (no signature by vk) or badsig.
  async function openNote(bytes, vk) {
    let msg;
    try {
      msg = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch (e) {
      return { result: 'malformed' };
    }
    if (/[\x00-\x09\x0b-\x1f]/.test(msg)) return { result: 'malformed' };
    const split = msg.lastIndexOf('\n\n');
    if (split < 0) return { result: 'malformed' };
    const text = msg.slice(0, split + 1), sigs = msg.slice(split + 2);
    if (!sigs.endsWith('\n')) return { result: 'malformed' };
    let found = false;
    for (const line of sigs.slice(0, -1).split('\n')) {
      if (!line.startsWith('\u2014 ')) return { result: 'malformed' };
      const sp = line.indexOf(' ', 2);
      const name = sp < 0 ? '' : line.slice(2, sp);
      const sig = sp < 0 ? null : b64(line.slice(sp + 1));
      if (!name || !sig || sig.length < 5) return { result: 'malformed' };
      const hash = ((sig[0] << 24) | (sig[1] << 16) | (sig[2] << 8) | sig[3]) >>> 0;
      if (name !== vk.name || hash !== vk.hash) continue; // another signer's
      if (!(await verifyEd25519(vk.pub, utf8.encode(text), sig.slice(4)))) return { result: 'badsig' };
      found = true;
    }
    return found ? { result: 'ok', text } : { result: 'nosig' };
  }

  // parseCheckpoint reads the text of a tlog-checkpoint: origin, size in
  // decimal, base64 root hash, then optional extension lines.
  function parseCheckpoint(text) {
    const ls = text.split('\n');
    if (ls.length < 4 || !/^(0|[1-9][0-9]{0,15})$/.test(ls[1])) return null;
    const root = b64(ls[2]);
    if (!root || root.length !== 32) return null;
    return { origin: ls[0], size: Number(ls[1]), root };
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

  // RUN is how many lines a worker hashes into one subtree: a power of two,
  // so that every run but the last is a complete subtree of the list's tree
  // and the tree over the runs' hashes is the list's.
  const RUN = 4096;

  // hashTree computes the RFC 6962 tree hash of the first size lines of
  // bytes (a list, each line ended by "\n") in workers, without holding up
  // the page. It resolves to the 32-byte root, or to null when the list
  // has fewer than size complete lines.
  function hashTree(bytes, size, progress) {
    return new Promise((resolve, reject) => {
      const runs = Math.ceil(size / RUN);
      const hashes = new Uint8Array(32 * runs);
      const n = Math.max(1, Math.min(navigator.hardwareConcurrency || 2, 16, runs || 1));
      const workers = [];
      let next = 0, done = 0, pos = 0, failed = false, settled = false;
      const finish = (err, root) => {
        if (settled) return;
        settled = true;
        workers.forEach((w) => w.terminate());
        if (err) reject(err); else resolve(root);
      };
      // cut returns the bytes of the next run, found where the last one
      // ended, or null when the list ends before the run does.
      const cut = (count) => {
        const from = pos;
        for (let i = 0; i < count; i++) {
          const nl = bytes.indexOf(10, pos);
          if (nl < 0) return null;
          pos = nl + 1;
        }
        return bytes.slice(from, pos);
      };
      const feed = (w) => {
        if (settled || next >= runs) return;
        const id = next++;
        const data = cut(Math.min(RUN, size - id * RUN));
        if (data === null) { finish(null, null); return; }
        w.postMessage({ id, kind: 'leaves', data }, [data.buffer]);
      };
      const join = () => {
        const w = workers[0];
        w.onmessage = (ev) => finish(null, ev.data.hash);
        w.postMessage({ id: -1, kind: 'nodes', data: hashes }, [hashes.buffer]);
      };
      for (let i = 0; i < n; i++) {
        const w = new Worker('/app/check/check-worker.js');
        w.onmessage = (ev) => {
          hashes.set(ev.data.hash, ev.data.id * 32);
          done++;
          progress(Math.min(done * RUN, size));
          if (done === runs) join(); else feed(w);
        };
        w.onerror = (e) => {
          if (!failed) { failed = true; finish(new Error(e.message || 'worker')); }
        };
        workers.push(w);
      }
      if (runs === 0) join(); else workers.forEach(feed);
    });
  }

  // checkCheckpoints checks each list's checkpoint under the log key and
  // each list (its bytes) against its checkpoint, and records the results
  // in st.checkpoints. cps is {vkey, vote, auth} as downloaded (null for a
  // file that could not be downloaded), lists is {vote, auth} bytes.
  async function checkCheckpoints(cps, lists, lineCounts) {
    const out = {};
    const words = ['vote', 'auth'];
    const set = (w, result, extra) => { out[w] = Object.assign({ result, lines: lineCounts[w] }, extra); };
    if (!(await canVerify())) {
      words.forEach((w) => set(w, 'unsupported'));
      return out;
    }
    const vk = cps.vkey === null ? null : await parseVerifierKey(new TextDecoder().decode(cps.vkey));
    const bar = $('progress');
    for (const w of words) {
      if (cps.vkey === null || cps[w] === null || lists[w] === null) { set(w, 'missing'); continue; }
      if (vk === null) { set(w, 'badkey'); continue; }
      const note = await openNote(cps[w], vk);
      if (note.result !== 'ok') { set(w, note.result); continue; }
      const cp = parseCheckpoint(note.text);
      if (cp === null) { set(w, 'malformed'); continue; }
      if (cp.origin !== 'powvote/' + st.campaign + '/' + w) { set(w, 'origin', { size: cp.size, origin: cp.origin }); continue; }
      bar.hidden = false;
      bar.max = Math.max(1, cp.size);
      bar.value = 0;
      status('hashing', { list: t(w === 'vote' ? 'voteList' : 'authList'), done: 0, total: cp.size });
      const root = await hashTree(lists[w], cp.size, (d) => {
        bar.value = d;
        status('hashing', { list: t(w === 'vote' ? 'voteList' : 'authList'), done: d, total: cp.size });
      });
      if (root === null) set(w, 'short', { size: cp.size });
      else set(w, equalBytes(root, cp.root) ? 'match' : 'mismatch', { size: cp.size });
    }
    bar.hidden = true;
    return out;
  }

  // check recomputes the proof of work of the votes list and, when the
  // lists come from this site with their checkpoints (cps, with the lists'
  // bytes), checks them against the checkpoints.
  async function check(voteText, authText, cps) {
    if (st.running) return;
    st.running = true;
    st.done = false;
    st.checkpoints = {};
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
      const secs = ((performance.now() - t0) / 1000).toFixed(1);
      const counts = { vote: lines.length, auth: st.voters === null ? 0 : st.voters };
      st.checkpoints = cps ? await checkCheckpoints(cps, cps.lists, counts)
        : { vote: { result: 'unavailable', lines: counts.vote }, auth: { result: 'unavailable', lines: counts.auth } };
      status('checked', { total: lines.length, secs });
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
    showCheckpoints();
    drawChart();
    $('results').hidden = false;
    $('find').hidden = false;
    $('receipt').hidden = false;
  }

  // showCheckpoints says, per list, what its checkpoint check found.
  function showCheckpoints() {
    const keys = {
      match: 'cpMatch', mismatch: 'cpMismatch', short: 'cpShort', badsig: 'cpBadSig', nosig: 'cpNoSig',
      badkey: 'cpBadKey', malformed: 'cpMalformed', origin: 'cpOrigin', missing: 'cpMissing',
      unsupported: 'cpUnsupported', unavailable: 'cpUnavailable',
    };
    for (const w of ['vote', 'auth']) {
      const li = $('cp-' + w);
      const r = st.checkpoints[w];
      if (!r) { li.textContent = ''; delete li.dataset.result; continue; }
      const args = { list: t(w === 'vote' ? 'voteListCap' : 'authListCap'), size: num(r.size || 0), lines: num(r.lines || 0), origin: r.origin || '' };
      let text = t(keys[r.result], args);
      if (r.result === 'match' && r.lines > r.size) text += ' ' + t('cpGrown', args);
      li.textContent = text;
      li.dataset.result = r.result;
      li.className = r.result === 'match' ? 'ok' : ['unavailable', 'unsupported'].includes(r.result) ? '' : 'bad';
    }
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
  // Receipt-Sig:) and returns {campaign, sig, lines: [{n, raw, stamp,
  // option}]} or null; raw is the line as the header carried it, which the
  // signature covers.
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
        lines.push({ n: lines.length + 1, raw: v, stamp: v.slice(0, sp), option });
      } else return null;
    }
    if (campaign === null || lines.length === 0 || sig === null) return null;
    return { campaign, sig, lines };
  }

  // receiptKey is the site's receipt public key (32 bytes), null when the
  // site does not publish it; fetched once.
  let receiptKeyPromise = null;
  function receiptKey() {
    if (!receiptKeyPromise) {
      receiptKeyPromise = (async () => {
        if (!st.campaign) return null;
        try {
          const r = await fetch('/' + st.campaign + '-receipt.key', { cache: 'no-store', credentials: 'omit' });
          if (!r.ok) return null;
          const k = b64((await r.text()).trim());
          return k && k.length === 32 ? k : null;
        } catch (e) {
          return null;
        }
      })();
      // A key that could not be had is asked for again next time.
      receiptKeyPromise.then((k) => { if (k === null) receiptKeyPromise = null; });
    }
    return receiptKeyPromise;
  }

  // receiptSignature checks Receipt-Sig over the campaign, "\n" and the
  // raw receipt lines joined by "\n" (PROTOCOL.md 6): valid, invalid,
  // nokey or unsupported.
  async function receiptSignature(rc) {
    const key = await receiptKey();
    if (key === null) return 'nokey';
    if (!(await canVerify())) return 'unsupported';
    const sig = b64(rc.sig);
    if (!sig || sig.length !== 64) return 'invalid';
    const msg = utf8.encode(rc.campaign + '\n' + rc.lines.map((l) => l.raw).join('\n'));
    return (await verifyEd25519(key, msg, sig)) ? 'valid' : 'invalid';
  }

  // receiptRun numbers receipt checks, so that a slow signature check of
  // an earlier receipt never shows over a later one.
  let receiptRun = 0;

  async function checkReceipt(ev) {
    if (ev) ev.preventDefault();
    const run = ++receiptRun;
    const sum = $('receipt-summary');
    const list = $('receipt-lines');
    const sigOut = $('receipt-sig');
    list.textContent = '';
    sigOut.textContent = '';
    delete sigOut.dataset.result;
    const rc = parseReceipt($('receipt-text').value);
    if (!rc) {
      sum.textContent = t('receiptBad');
      sum.className = 'bad';
      return;
    }
    sigOut.textContent = t('sigChecking');
    sigOut.className = '';
    receiptSignature(rc).then((r) => {
      if (run !== receiptRun) return;
      sigOut.textContent = t({ valid: 'sigValid', invalid: 'sigInvalid', nokey: 'sigNoKey', unsupported: 'sigUnsupported' }[r]);
      sigOut.className = r === 'valid' ? 'ok' : r === 'invalid' ? 'bad' : '';
      sigOut.dataset.result = r;
    });
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

  async function fetchBytes(path) {
    const r = await fetch(path, { cache: 'no-store', credentials: 'omit' });
    if (!r.ok) throw new Error(path + ': ' + r.status);
    return new Uint8Array(await r.arrayBuffer());
  }

  // fetchOptional returns the bytes of a file the site may not serve, or
  // null.
  async function fetchOptional(path) {
    try {
      return await fetchBytes(path);
    } catch (e) {
      return null;
    }
  }

  async function loadSite() {
    if (!st.campaign) {
      showError(t('noCampaign'));
      return;
    }
    status('downloading');
    const c = '/' + st.campaign + '-';
    // The key and the checkpoints first: the lists only grow, so lists
    // downloaded after them hold at least the lines they sign.
    const [vkey, voteCp, authCp] = await Promise.all([fetchOptional(c + 'log.vkey'), fetchOptional(c + 'vote.checkpoint'), fetchOptional(c + 'auth.checkpoint')]);
    let votes, auths;
    try {
      [votes, auths] = await Promise.all([fetchBytes(c + 'vote.log'), fetchBytes(c + 'auth.log')]);
    } catch (e) {
      status('');
      showError(t('downloadFailed'));
      return;
    }
    const text = (b) => new TextDecoder().decode(b);
    await check(text(votes), text(auths), { vkey, vote: voteCp, auth: authCp, lists: { vote: votes, auth: auths } });
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
    await check(await vf.text(), af ? await af.text() : null, null);
  }

  // treeHash is for tests: the tree hash of the first size lines of text,
  // in base64, by the page's own workers (null when text is shorter).
  st.treeHash = async (text, size) => {
    const root = await hashTree(utf8.encode(text), size, () => {});
    return root === null ? null : btoa(String.fromCharCode(...root));
  };

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
