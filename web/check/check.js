// The results page: reads the published lists (PROTOCOL.md 8) from this
// site or from files, checks them against their signed checkpoints, and
// counts only what is signed: the first <size> lines under a checkpoint
// whose signature and tree hash verify. It recomputes every vote's proof
// of work and checks every mandate's signature and authority in Web
// Workers, refuses duplicate nonces, voter stamps and mandates, checks
// that each checkpoint commits to the campaign's settings, and keeps the
// last checkpoint it verified in the browser, so that the next visit can
// prove through the tiles that the list only grew. It shows the tally,
// the work, one voter's vote, and a receipt's signature and lines
// against the list. From the published history it draws every option's
// count over time at one point a minute (with uPlot, vendor/), checks
// each line it draws against the counted lines, and shows each option's
// largest growth between two lines against its median, the figure powvote
// audit reports. Printed (the Report button), the page is the election
// report as this browser checked it. It checks every signed line of
// the retracted list too: the retracted vote's work, and the receipt
// key's signature that binds it to a counted vote of the same mandate that
// beats it by the mirror rule; a stamp found only there is shown as
// retracted in favour of that vote.
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
    // Per list ('vote', 'auth', 'retracted'): {lines, counted, site}. The list has
    // `lines` lines; the first `counted` are checked and counted: from this
    // site, the lines a verified checkpoint signs (none without one); from
    // downloaded files, all. The lines after them are unsigned: counted
    // apart, never in the tally.
    scope: {},
    votes: null, // [{n, putc, voter, nonce, option, score, status}], the counted lines of the votes list
    byStamp: new Map(), // voter stamp without dashes -> index in votes of its first line
    unsigned: new Map(), // voter stamp without dashes -> line number of its first unsigned line
    voters: null, // {lines, counted, ...verdicts} or null when the voters list is not given
    byNonce: new Map(), // nonce hex -> index in votes of the counted or below-threshold line that carries it
    nonces: new Set(), // the nonces of every readable counted line
    // The signed lines of the retracted list, or null when it is not
    // checked: {items: [{n, winner, sig, line, vote, verdict, win}],
    // byStamp: voter stamp key -> indexes in items, ok}, win being the
    // winner's index in votes.
    retracted: null,
    tally: [], // [{option, votes, below, onBallot}]
    work: 0,
    // [{kind, count, lines}]: what is wrong in the counted lines, lines
    // being the first few line numbers (1-based).
    problems: [],
    // Per list: {result, size, lines}, result being match, tail (match,
    // with unsigned lines after the signed ones), mismatch, short, badsig,
    // nosig, badkey, malformed, origin, missing, unsupported or
    // unavailable (downloaded files).
    checkpoints: {},
    // {result}: committed, uncommitted, mismatch, missing or unavailable.
    settings: null,
    // Per list, against the checkpoint this browser kept from before:
    // {result, from, to}, result being first, same, consistent,
    // rewritten, older, unchecked, badtiles, keychanged or nostorage.
    consistency: {},
    authorities: null, // canonical base64 of the campaign's authority keys, or null when not known
    settingsHash: null, // hex SHA-256 of the settings file checked against, or null without one
    source: null, // the site the lists came from, null for downloaded files
    checkedAt: 0, // Unix time of the last check
    // The history against the counted lines (readHistory), or null
    // without one: {lines, refused, beyond, wrong, minutes, growth}.
    history: null,
    chart: null, // the uPlot instance drawing st.history.minutes, or null
    done: false,
    running: false,
  };
  window.powcheck = st;

  // ---- language ----

  const loadLang = powvoteLang.loader('/app/check/i18n/', st);

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

  // ---- encodings (web/voter/wire.js) ----

  const {
    decodeOption, stampKey, fromB64, canonicalB64, toB64, toHex, fromHex, concat, equalBytes,
    canVerify, verifyEd25519, verifyReceipt, parseRetractedLine, retractionMessage,
  } = powvoteWire;
  const utf8 = new TextEncoder();
  const text = (b) => new TextDecoder().decode(b);
  // historyText keeps a byte order mark, which the audit reads as part of
  // the first line, and so refuses.
  const historyText = (b) => new TextDecoder('utf-8', { ignoreBOM: true }).decode(b);

  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  }

  // ---- signed checkpoints (C2SP signed note and tlog-checkpoint) ----

  // parseVerifierKey reads a note verifier key "name+hash+base64(0x01 ||
  // Ed25519 public key)" and checks its hash, the first 4 bytes of
  // SHA-256(name || "\n" || 0x01 || key), as golang.org/x/mod/sumdb/note
  // does. It returns {name, hash, pub} or null.
  async function parseVerifierKey(keyText) {
    const v = keyText.trim();
    const a = v.indexOf('+');
    const b = v.indexOf('+', a + 1);
    if (a <= 0 || b < 0) return null;
    const name = v.slice(0, a), hash = v.slice(a + 1, b), key = fromB64(v.slice(b + 1));
    if (/[\s+]/.test(name) || !/^[0-9a-fA-F]{8}$/.test(hash) || !key || key.length !== 33 || key[0] !== 1) return null;
    const sum = await sha256(concat(utf8.encode(name + '\n'), key));
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
    const body = msg.slice(0, split + 1), sigs = msg.slice(split + 2);
    if (!sigs.endsWith('\n')) return { result: 'malformed' };
    let found = false;
    for (const line of sigs.slice(0, -1).split('\n')) {
      if (!line.startsWith('\u2014 ')) return { result: 'malformed' };
      const sp = line.indexOf(' ', 2);
      const name = sp < 0 ? '' : line.slice(2, sp);
      const sig = sp < 0 ? null : fromB64(line.slice(sp + 1));
      if (!name || !sig || sig.length < 5) return { result: 'malformed' };
      const hash = ((sig[0] << 24) | (sig[1] << 16) | (sig[2] << 8) | sig[3]) >>> 0;
      if (name !== vk.name || hash !== vk.hash) continue; // another signer's
      if (!(await verifyEd25519(vk.pub, utf8.encode(body), sig.slice(4)))) return { result: 'badsig' };
      found = true;
    }
    return found ? { result: 'ok', text: body, note: msg } : { result: 'nosig' };
  }

  // parseCheckpoint reads the text of a tlog-checkpoint (with its last line
  // feed) as audit.ParseCheckpoint does: origin, size in decimal, the
  // canonical base64 of the root hash, then any extension lines, each
  // non-empty (C2SP tlog-checkpoint). The first of them may be "settings
  // <lower-case hex SHA-256 of <campaign>-settings.yaml>", by which the log
  // key signs the campaign's settings; a line whose first word is settings
  // anywhere else, or that is not exactly that, makes the checkpoint
  // unreadable. Unlike audit.ParseCheckpoint, the page reads sizes only up
  // to 2^53 - 1. It returns {origin, size, root, settings} (settings null
  // without the line), or null.
  function parseCheckpoint(body) {
    const ls = body.split('\n');
    if (ls.length < 4 || ls[ls.length - 1] !== '' || ls[0] === '') return null;
    if (!/^(0|[1-9][0-9]{0,15})$/.test(ls[1]) || !Number.isSafeInteger(Number(ls[1]))) return null;
    const root = canonicalB64(ls[2], 32);
    if (!root) return null;
    let settings = null;
    for (const [i, ext] of ls.slice(3, -1).entries()) {
      if (ext === '') return null;
      if (ext.split(' ', 1)[0] === 'settings') {
        // Only the first extension line, as audit.ParseCheckpoint reads it.
        if (i !== 0 || !/^settings [0-9a-f]{64}$/.test(ext)) return null;
        settings = ext.slice('settings '.length);
      }
    }
    return { origin: ls[0], size: Number(ls[1]), root, settings };
  }

  // ---- the campaign's settings ----

  // parseAuthorities reads the authority keys from campaign settings in
  // YAML as campaign.yaml has them: "authorities:" followed by one "- key"
  // a line (or a flow list "[a, b]"), each key 32 bytes in base64 or hex.
  // It returns their canonical base64, or null when the settings have no
  // such list or a key cannot be read.
  function parseAuthorities(yaml) {
    const ls = yaml.replace(/\r\n/g, '\n').split('\n');
    const at = ls.findIndex((l) => /^authorities\s*:/.test(l));
    if (at < 0) return null;
    const rest = ls[at].replace(/^authorities\s*:/, '').replace(/\s+#.*$/, '').trim();
    const items = [];
    if (rest.startsWith('[') && rest.endsWith(']')) {
      items.push(...rest.slice(1, -1).split(',').map((s) => s.trim()).filter((s) => s !== ''));
    } else if (rest !== '') {
      return null;
    } else {
      for (const l of ls.slice(at + 1)) {
        if (/^\s*(#.*)?$/.test(l)) continue;
        const m = /^\s*-\s+(\S+)\s*(#.*)?$/.exec(l);
        if (!m) break;
        items.push(m[1]);
      }
    }
    const keys = [];
    for (let it of items) {
      if (/^(["']).*\1$/.test(it)) it = it.slice(1, -1);
      const raw = /^[0-9a-fA-F]{64}$/.test(it) ? fromHex(it) : fromB64(it);
      if (!raw || raw.length !== 32) return null;
      keys.push(toB64(raw));
    }
    return keys.length ? keys : null;
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

  // ---- work in Web Workers ----

  // splitLines returns the lines of a list; a last line without its line
  // feed is a line too.
  function splitLines(s) {
    const ls = s.split('\n');
    if (ls.length && ls[ls.length - 1] === '') ls.pop();
    return ls.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  }

  // parseVote returns what the page compares and shows of a vote line; the
  // worker decides whether the line is well formed.
  function parseVote(line) {
    const f = line.split(' ');
    if (f.length < 5) return { putc: NaN, putcText: '', voter: '', nonce: '', option: null, line };
    const opt = f.slice(4).join(' ');
    const quoted = opt.length >= 2 && opt[0] === '"' && opt[opt.length - 1] === '"';
    return { putc: Number(f[0]), putcText: f[0], voter: f[2], nonce: f[3], option: quoted ? opt.slice(1, -1) : null, line };
  }

  // CHUNK lines go to a worker at a time: enough to keep it busy (and,
  // for mandates, to give WebCrypto many signatures at once), few enough
  // for the progress bar to move.
  const CHUNK = 2048;

  // runPool runs jobs 0 .. jobs-1 on one worker per core, one job per
  // worker at a time: make(i) returns the message of job i, take(data)
  // receives each answer, progress(done) is called with the number of jobs
  // done. It resolves once every job is answered.
  function runPool(jobs, make, take, progress) {
    return new Promise((resolve, reject) => {
      if (jobs === 0) { resolve(); return; }
      const n = Math.max(1, Math.min(navigator.hardwareConcurrency || 2, 16, jobs));
      const workers = [];
      let next = 0, done = 0, settled = false;
      const finish = (err) => {
        if (settled) return;
        settled = true;
        workers.forEach((w) => w.terminate());
        if (err) reject(err); else resolve();
      };
      const feed = (w) => {
        if (settled || next >= jobs) return;
        w.postMessage(make(next++));
      };
      for (let i = 0; i < n; i++) {
        const w = new Worker('/app/check/check-worker.js');
        w.onmessage = (ev) => {
          if (ev.data.error) { finish(new Error(ev.data.error)); return; }
          take(ev.data);
          done++;
          progress(done);
          if (done === jobs) finish(null); else feed(w);
        };
        w.onerror = (e) => finish(new Error(e.message || 'worker'));
        workers.push(w);
        feed(w);
      }
    });
  }

  // scoreAll recomputes the proof of work of every line and returns the
  // scores, -1 for a line that is not a vote line.
  async function scoreAll(lines, progress) {
    const scores = new Int16Array(lines.length);
    await runPool(Math.ceil(lines.length / CHUNK),
      (id) => ({ id, lines: lines.slice(id * CHUNK, (id + 1) * CHUNK) }),
      (data) => scores.set(data.scores, data.id * CHUNK),
      (done) => progress(Math.min(done * CHUNK, lines.length)));
    return scores;
  }

  // The worker's verdicts on a voter line, by the number it answers.
  const MANDATE_VERDICTS = ['ok', 'unreadable', 'authority', 'badsig', 'unchecked'];

  // checkMandates checks every voter line in the workers: its form, its
  // authority (one of authorities, base64; any key when null) and its
  // signature. It returns one verdict a line: ok, unreadable, authority,
  // badsig, unchecked (this browser cannot verify Ed25519), or duplicate:
  // the mandate (auth-pkey, auth-id) of an earlier well-formed line, which
  // is not counted again whatever its signature.
  async function checkMandates(lines, authorities, progress) {
    const codes = new Int8Array(lines.length);
    await runPool(Math.ceil(lines.length / CHUNK),
      (id) => ({ id, kind: 'mandates', lines: lines.slice(id * CHUNK, (id + 1) * CHUNK), authorities }),
      (data) => codes.set(data.verdicts, data.id * CHUNK),
      (done) => progress(Math.min(done * CHUNK, lines.length)));
    // auth-pkey -> set of auth-ids; a well-formed line is 44 + 1 + 88 + 1
    // + 32 characters, and slices of it cost no copy.
    const seen = new Map();
    const out = new Array(lines.length);
    for (let i = 0; i < lines.length; i++) {
      const c = codes[i];
      if (MANDATE_VERDICTS[c] === 'unreadable') { out[i] = 'unreadable'; continue; }
      const pkey = lines[i].slice(0, 44), id = lines[i].slice(134);
      let ids = seen.get(pkey);
      if (ids === undefined) { ids = new Set(); seen.set(pkey, ids); }
      if (ids.has(id)) { out[i] = 'duplicate'; continue; }
      ids.add(id);
      out[i] = MANDATE_VERDICTS[c];
    }
    return out;
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

  // ---- the list only grew: consistency proofs from tiles ----
  //
  // The publisher serves each list's Merkle tree as C2SP tlog-tiles of
  // height 8 (docs/PUBLISHING.md): the tile at level L, number N holds the
  // hashes of the subtrees of 2^(8L) leaves numbered 256N to 256N+W-1, W
  // being 256 or, for the last tile of a tree, less (path .p/W). Any
  // complete subtree of a tree is hashed from the hashes of one tile. With
  // them the page builds the RFC 6962 consistency proof between an earlier
  // checkpoint and the current one as golang.org/x/mod/sumdb/tlog does
  // (ProveTree) and checks it against both signed roots (CheckTree):
  // hashes from the tiles are trusted for nothing until they give the
  // current root.

  const TILE_HEIGHT = 8;
  const TILE_WIDTH = 2 ** TILE_HEIGHT;

  // nodeHash is SHA-256(0x01 || left || right).
  function nodeHash(l, r) {
    const m = new Uint8Array(65);
    m[0] = 1;
    m.set(l, 1);
    m.set(r, 33);
    return sha256(m);
  }

  // tilePath is "<L>/<N>[.p/<W>]", N written in groups of three digits,
  // all but the last prefixed with "x".
  function tilePath(level, n, w) {
    const groups = [];
    do {
      groups.unshift(String(n % 1000).padStart(3, '0'));
      n = Math.floor(n / 1000);
    } while (n > 0);
    return level + '/' + groups.map((g, i) => (i < groups.length - 1 ? 'x' + g : g)).join('/') + (w < TILE_WIDTH ? '.p/' + w : '');
  }

  // A TileError is a tile the site does not serve (missing) or serves with
  // a length that is not its width's (malformed).
  class TileError extends Error {
    constructor(kind, path) { super(kind + ' ' + path); this.kind = kind; }
  }

  // tileReader returns read(level, index), the hash of the complete subtree
  // of 2^level leaves numbered from index * 2^level, from the tiles of the
  // tree of size leaves served under base (such as "/solar-vote").
  // Sizes are JavaScript numbers, exact below 2^53: no 32-bit shifts.
  function tileReader(base, size) {
    const tiles = new Map();
    const tile = (level, n, w) => {
      const path = base + '/tile/' + tilePath(level, n, w);
      if (!tiles.has(path)) {
        tiles.set(path, (async () => {
          let r;
          try {
            r = await fetch(path, { credentials: 'omit' });
          } catch (e) {
            throw new TileError('missing', path);
          }
          if (!r.ok) throw new TileError('missing', path);
          const b = new Uint8Array(await r.arrayBuffer());
          if (b.length !== 32 * w) throw new TileError('malformed', path);
          return b;
        })());
      }
      return tiles.get(path);
    };
    const within = async (data, start, count) => {
      if (count === 1) return data.slice(32 * start, 32 * start + 32);
      const half = count / 2;
      return nodeHash(await within(data, start, half), await within(data, start + half, half));
    };
    return async (level, index) => {
      const L = Math.floor(level / TILE_HEIGHT), r = level - L * TILE_HEIGHT;
      const first = index * 2 ** r; // its first hash at level 8L
      const n = Math.floor(first / TILE_WIDTH);
      const width = Math.min(TILE_WIDTH, Math.floor(size / 2 ** (L * TILE_HEIGHT)) - n * TILE_WIDTH);
      const start = first - n * TILE_WIDTH, count = 2 ** r;
      if (start + count > width) throw new Error('tiles: subtree ' + level + '/' + index + ' is not in a tree of ' + size);
      return within(await tile(L, n, width), start, count);
    };
  }

  // rangeHash is the hash of leaves [lo, hi) of the tree read reads, the
  // complete subtrees of the range from the left, largest first (tlog's
  // subTreeHash).
  async function rangeHash(read, lo, hi) {
    const parts = [];
    while (lo < hi) {
      let k = 1, level = 0;
      while (k * 2 <= hi - lo) { k *= 2; level++; }
      parts.push(read(level, lo / k));
      lo += k;
    }
    const hs = await Promise.all(parts);
    let h = hs[hs.length - 1];
    for (let i = hs.length - 2; i >= 0; i--) h = await nodeHash(hs[i], h);
    return h;
  }

  // below is the largest power of two smaller than n (n >= 2).
  function below(n) {
    let k = 1;
    while (k * 2 < n) k *= 2;
    return k;
  }

  // treeProof is tlog's: the proof that the tree of leaves [lo, hi)
  // contains its first n leaves (lo < n <= hi), as a list of hashes.
  async function treeProof(read, lo, hi, n) {
    if (n === hi) return lo === 0 ? [] : [await rangeHash(read, lo, hi)];
    const k = below(hi - lo);
    if (n <= lo + k) return [...await treeProof(read, lo, lo + k, n), await rangeHash(read, lo + k, hi)];
    return [...await treeProof(read, lo + k, hi, n), await rangeHash(read, lo, lo + k)];
  }

  // runTreeProof is tlog's: it returns the hashes [old, new] that proof p
  // implies for the first n leaves and for all of [lo, hi), old being the
  // hash of the first n leaves where the proof relies on it, or null when
  // the proof has the wrong number of hashes.
  async function runTreeProof(p, lo, hi, n, old) {
    if (n === hi) {
      if (lo === 0) return p.length === 0 ? [old, old] : null;
      return p.length === 1 ? [p[0], p[0]] : null;
    }
    if (p.length === 0) return null;
    const k = below(hi - lo);
    const last = p[p.length - 1], rest = p.slice(0, -1);
    if (n <= lo + k) {
      const r = await runTreeProof(rest, lo, lo + k, n, old);
      return r && [r[0], await nodeHash(r[1], last)];
    }
    const r = await runTreeProof(rest, lo + k, hi, n, old);
    return r && [await nodeHash(last, r[0]), await nodeHash(last, r[1])];
  }

  // consistency tells how the tree of size n and root h (a checkpoint seen
  // before) stands to the tree of size t and root th (today's), both
  // signed: same, consistent (the first is a prefix of the second, proved
  // from the tiles under base), rewritten (it is not), older (today's is
  // smaller), unchecked (the site does not serve the tiles) or badtiles
  // (the tiles it serves do not give today's root, so they prove nothing).
  async function consistency(base, n, h, t, th) {
    if (n > t) return 'older';
    if (n === t) return equalBytes(h, th) ? 'same' : 'rewritten';
    if (n === 0) return 'consistent';
    const read = tileReader(base, t);
    let proof, prefix;
    try {
      // The first n leaves' hash from the tiles stands in for the old root
      // where the proof relies on it, so that a root that differs shows as
      // a rewrite rather than as tiles that do not give today's root.
      [proof, prefix] = await Promise.all([treeProof(read, 0, t, n), rangeHash(read, 0, n)]);
    } catch (e) {
      if (e instanceof TileError) return e.kind === 'missing' ? 'unchecked' : 'badtiles';
      throw e;
    }
    const r = await runTreeProof(proof, 0, t, n, prefix);
    if (r === null || !equalBytes(r[1], th)) return 'badtiles';
    // The proof gives today's signed root: its hash of the first n leaves
    // is the one today's tree has.
    return equalBytes(r[0], h) ? 'consistent' : 'rewritten';
  }

  // memoryKey names where this browser keeps the last checkpoint of a list
  // it verified: {vkey, note}, the log key's verifier key and the signed
  // note as served. Kept per campaign and per list (localStorage is kept
  // per site already).
  const memoryKey = (w) => 'powvote-checkpoint:' + st.campaign + ':' + w;

  // checkHistory compares the checkpoint cp of list w (signed, verified,
  // with its note) with the one this browser kept from an earlier visit,
  // and keeps cp instead when it extends it (or nothing was kept). A
  // checkpoint that is not a prefix of today's stays kept, and so does one
  // that could not be compared, for the next visit to try again.
  async function checkHistory(w, cp, vk, vkeyText) {
    let stored;
    try {
      stored = localStorage.getItem(memoryKey(w));
    } catch (e) {
      return { result: 'nostorage', to: cp.size };
    }
    const keep = () => {
      try {
        localStorage.setItem(memoryKey(w), JSON.stringify({ vkey: vkeyText, note: cp.note }));
        return true;
      } catch (e) {
        return false;
      }
    };
    let old = null;
    try { old = stored === null ? null : JSON.parse(stored); } catch (e) { old = null; }
    if (!old || typeof old.note !== 'string' || typeof old.vkey !== 'string') {
      return { result: keep() ? 'first' : 'nostorage', to: cp.size };
    }
    if (old.vkey.trim() !== vkeyText) return { result: 'keychanged', to: cp.size, evidence: old.vkey + '\n\n' + old.note };
    const opened = await openNote(utf8.encode(old.note), vk);
    const prev = opened.result === 'ok' ? parseCheckpoint(opened.text) : null;
    // What this browser kept and the key no longer opens is no evidence.
    if (!prev || prev.origin !== cp.origin) return { result: keep() ? 'first' : 'nostorage', to: cp.size };
    const result = await consistency('/' + st.campaign + '-' + w, prev.size, prev.root, cp.size, cp.root);
    if (result === 'same' || result === 'consistent') keep();
    return { result, from: prev.size, to: cp.size, evidence: old.note };
  }

  // ---- checking ----

  // LISTS are the logs a site signs: the votes, the voters and the
  // retracted votes (docs/PUBLISHING.md).
  const LISTS = ['vote', 'auth', 'retracted'];

  // listName is a list's name in messages.
  const listName = (w, cap) => t(w + 'List' + (cap ? 'Cap' : ''));

  // checkCheckpoints checks each list's checkpoint under the log key and
  // each list (its bytes) against its checkpoint. src is what loadSite
  // downloaded: {vkey, cps, lists}, cps and lists holding the bytes of
  // each of LISTS, null for a file that could not be downloaded. It
  // returns {checkpoints, valid, vk, vkeyText}: valid holds, per list, the
  // checkpoint whose signature and origin verified, with its note.
  async function checkCheckpoints(src, counts) {
    const out = {}, valid = {};
    const set = (w, result, extra) => { out[w] = Object.assign({ result, lines: counts[w] }, extra); };
    if (!(await canVerify())) {
      LISTS.forEach((w) => set(w, 'unsupported'));
      return { checkpoints: out, valid };
    }
    const vkeyText = src.vkey === null ? null : text(src.vkey).trim();
    const vk = vkeyText === null ? null : await parseVerifierKey(vkeyText);
    const bar = $('progress');
    for (const w of LISTS) {
      const list = src.lists[w];
      if (vkeyText === null || src.cps[w] === null || list === null) { set(w, 'missing'); continue; }
      if (vk === null) { set(w, 'badkey'); continue; }
      const note = await openNote(src.cps[w], vk);
      if (note.result !== 'ok') { set(w, note.result); continue; }
      const cp = parseCheckpoint(note.text);
      if (cp === null) { set(w, 'malformed'); continue; }
      if (cp.origin !== 'powvote/' + st.campaign + '/' + w) { set(w, 'origin', { size: cp.size, origin: cp.origin }); continue; }
      valid[w] = Object.assign(cp, { note: note.note });
      bar.hidden = false;
      bar.max = Math.max(1, cp.size);
      bar.value = 0;
      status('hashing', { list: listName(w), done: 0, total: cp.size });
      const root = await hashTree(list, cp.size, (d) => {
        bar.value = d;
        status('hashing', { list: listName(w), done: d, total: cp.size });
      });
      if (root === null) set(w, 'short', { size: cp.size });
      else if (!equalBytes(root, cp.root)) set(w, 'mismatch', { size: cp.size });
      else set(w, counts[w] > cp.size ? 'tail' : 'match', { size: cp.size, unsigned: counts[w] - cp.size });
    }
    bar.hidden = true;
    return { checkpoints: out, valid, vk, vkeyText };
  }

  // checkSettings compares the settings lines of the verified checkpoints
  // with the SHA-256 of the settings file as downloaded (null when the
  // site serves none).
  async function checkSettings(valid, settings) {
    const committing = Object.values(valid).filter((cp) => cp.settings !== null);
    if (committing.length === 0) return { result: 'uncommitted' };
    if (settings === null) return { result: 'missing' };
    const sum = toHex(await sha256(settings));
    return { result: committing.every((cp) => cp.settings === sum) ? 'committed' : 'mismatch' };
  }

  // check checks and counts the lists. src is {site, lists: {vote, auth,
  // retracted}, settings, history} (bytes; auth, retracted, settings and
  // history null when not given) and, for lists from this site, {vkey,
  // cps} as downloaded, cps holding each list's checkpoint.
  async function check(src) {
    if (st.running) return;
    st.running = true;
    st.done = false;
    st.history = null;
    st.source = src.site ? location.origin : null;
    st.checkpoints = {};
    st.settings = null;
    st.consistency = {};
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
      const t0 = performance.now();
      st.settingsHash = src.settings === null ? null : toHex(await sha256(src.settings));
      const voteLines = splitLines(text(src.lists.vote));
      const authLines = src.lists.auth === null ? null : splitLines(text(src.lists.auth));
      const retractedLines = src.lists.retracted ? splitLines(text(src.lists.retracted)) : null;
      st.authorities = src.settings === null ? null : parseAuthorities(text(src.settings));
      const counts = {
        vote: voteLines.length, auth: authLines === null ? 0 : authLines.length,
        retracted: retractedLines === null ? 0 : retractedLines.length,
      };

      // What is signed: from this site, the first <size> lines under a
      // checkpoint that verifies, and nothing without one.
      if (src.site) {
        const c = await checkCheckpoints(src, counts);
        st.checkpoints = c.checkpoints;
        st.settings = await checkSettings(c.valid, src.settings);
        for (const w of Object.keys(c.valid)) st.consistency[w] = await checkHistory(w, c.valid[w], c.vk, c.vkeyText);
      } else {
        // No retracted list is read from files: its signatures need the
        // site's receipt key.
        st.checkpoints = { vote: { result: 'unavailable', lines: counts.vote }, auth: { result: 'unavailable', lines: counts.auth } };
        st.settings = { result: 'unavailable' };
      }
      const signed = (w) => {
        if (!src.site) return counts[w];
        const r = st.checkpoints[w];
        return r.result === 'match' || r.result === 'tail' ? r.size : 0;
      };
      st.scope = {
        vote: { lines: counts.vote, counted: signed('vote'), site: src.site },
        auth: { lines: counts.auth, counted: authLines === null ? 0 : signed('auth'), site: src.site },
        retracted: { lines: counts.retracted, counted: retractedLines === null ? 0 : signed('retracted'), site: src.site },
      };

      // The votes: proof of work of the counted lines; the stamps of the
      // others, to tell a voter that their line is there but unsigned.
      const bar = $('progress');
      const counted = voteLines.slice(0, st.scope.vote.counted);
      bar.hidden = false;
      bar.max = Math.max(1, counted.length);
      bar.value = 0;
      status('checking', { done: 0, total: counted.length });
      const scores = await scoreAll(counted, (d) => {
        bar.value = d;
        status('checking', { done: d, total: counted.length });
      });
      st.votes = counted.map((l, i) => Object.assign(parseVote(l), { n: i + 1, score: scores[i], status: '' }));
      st.unsigned = new Map();
      for (let i = counted.length; i < voteLines.length; i++) {
        const k = stampKey(parseVote(voteLines[i]).voter);
        if (k && !st.unsigned.has(k)) st.unsigned.set(k, i + 1);
      }

      // The mandates of the counted lines.
      st.voters = null;
      if (authLines !== null) {
        const mine = authLines.slice(0, st.scope.auth.counted);
        bar.max = Math.max(1, mine.length);
        bar.value = 0;
        status('mandatesChecking', { done: 0, total: mine.length });
        const verdicts = await checkMandates(mine, st.authorities, (d) => {
          bar.value = d;
          status('mandatesChecking', { done: d, total: mine.length });
        });
        const v = { lines: mine.length, ok: 0, unreadable: [], duplicate: [], authority: [], badsig: [], unchecked: [] };
        verdicts.forEach((x, i) => { if (x === 'ok') v.ok++; else v[x].push(i + 1); });
        st.voters = v;
      }
      tallyVotes();
      // The history, against the counted lines; it needs the ballot.
      st.history = src.history && st.options.length > 0 ? readHistory(historyText(src.history)) : null;

      // The retracted votes: each signed line against the counted votes.
      st.retracted = null;
      if (src.site && retractedLines !== null && st.checkpoints.retracted) {
        const mine = retractedLines.slice(0, st.scope.retracted.counted);
        bar.max = Math.max(1, mine.length);
        bar.value = 0;
        status('retractedChecking', { done: 0, total: mine.length });
        st.retracted = await checkRetractions(mine, (d) => {
          bar.value = d;
          status('retractedChecking', { done: d, total: mine.length });
        });
      }
      bar.hidden = true;
      findProblems();
      const secs = ((performance.now() - t0) / 1000).toFixed(1);
      status('checked', { total: counted.length, secs });
      st.checkedAt = Math.floor(Date.now() / 1000);
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

  // tallyVotes counts the votes per option among the counted lines: those
  // whose work reaches the threshold, and apart from them those below it.
  // A line that is not a vote line, or that repeats the nonce or the voter
  // stamp of an earlier vote line, counts nowhere: the first one stands.
  function tallyVotes() {
    const rows = st.options.map((o) => ({ option: o, votes: 0, below: 0, onBallot: true }));
    const index = new Map(st.options.map((o, i) => [o, i]));
    const nonces = new Set();
    st.byStamp = new Map();
    st.byNonce = new Map();
    st.nonces = nonces;
    st.work = 0;
    st.votes.forEach((v, i) => {
      if (v.score < 0 || v.option === null) { v.status = 'unreadable'; return; }
      if (nonces.has(v.nonce)) { v.status = 'dupNonce'; return; }
      nonces.add(v.nonce);
      const k = stampKey(v.voter);
      if (st.byStamp.has(k)) { v.status = 'dupStamp'; return; }
      st.byStamp.set(k, i);
      st.byNonce.set(v.nonce, i);
      st.work += 2 ** v.score;
      let r = index.get(v.option);
      if (r === undefined) {
        r = rows.length;
        index.set(v.option, r);
        // An option the ballot does not have, or any option when the
        // ballot is not known (files checked offline).
        rows.push({ option: v.option, votes: 0, below: 0, onBallot: st.options.length === 0 });
      }
      if (v.score >= st.threshold) { rows[r].votes++; v.status = 'counted'; } else { rows[r].below++; v.status = 'below'; }
    });
    st.tally = rows;
  }

  // ---- the history (docs/PUBLISHING.md) ----

  // MAX_HISTORY_NUMBER is the largest number a history line may hold,
  // 2^53 - 1, beyond which JavaScript numbers are not exact; the audit
  // refuses the same (audit.MaxHistoryNumber).
  const MAX_HISTORY_NUMBER = Number.MAX_SAFE_INTEGER;

  // parseHistory reads the history of a ballot of n options as
  // audit.ParseHistory does: a line is read when it is exactly size, time
  // and n counts separated by single spaces, each written as the
  // publisher writes it (listline.ParseHistory: decimal digits, no sign, no
  // leading zero) and at most 2^53 - 1; a last line without its line feed
  // is refused. It returns {lines: [{line, size, time, counts}],
  // refused: [line numbers]}, both in file order.
  function parseHistory(s, n) {
    const lines = [], refused = [];
    if (s === '') return { lines, refused };
    const ls = s.split('\n');
    let last = ls.length; // the number of an unterminated last line
    if (ls[ls.length - 1] === '') { ls.pop(); last = 0; }
    for (let i = 0; i < ls.length; i++) {
      if (i + 1 === last) { refused.push(last); break; }
      const f = ls[i].split(' ');
      // As the publisher writes them: decimal, no sign, no leading zero.
      const v = f.map((x) => (/^(0|[1-9][0-9]*)$/.test(x) ? Number(x) : NaN));
      const ok = f.length === 2 + n && v.every((x) => x <= MAX_HISTORY_NUMBER);
      if (!ok) { refused.push(i + 1); continue; }
      lines.push({ line: i + 1, size: v[0], time: v[1], counts: v.slice(2) });
    }
    return { lines, refused };
  }

  // historyGrowth finds, per option, its largest increase between
  // consecutive lines (from zero before the first) and the median of its
  // increases, most unusual first, as audit.HistoryGrowth does: by ratio,
  // largest over median (the largest alone when the median is 0), highest
  // first, options of equal ratio in ballot order. Its figures are named
  // as the audit's JSON names them.
  function historyGrowth(hist, options) {
    if (hist.length === 0) return [];
    const out = options.map((option, k) => {
      const g = { option, largest: 0, median: 0, at_size: 0, at_time: 0 };
      const incs = [];
      let prev = 0;
      hist.forEach((h, i) => {
        const inc = h.counts[k] - prev;
        prev = h.counts[k];
        incs.push(inc);
        if (inc > g.largest || i === 0) { g.largest = inc; g.at_size = h.size; g.at_time = h.time; }
      });
      incs.sort((a, b) => a - b);
      const m = incs.length;
      g.median = m % 2 === 1 ? incs[(m - 1) / 2] : (incs[m / 2 - 1] + incs[m / 2]) / 2;
      return g;
    });
    const ratio = (g) => (g.median === 0 ? g.largest : g.largest / g.median);
    return out.map((g, i) => [g, i]).sort(([a, i], [b, j]) => ratio(b) - ratio(a) || i - j).map(([g]) => g);
  }

  // minuteOf is the start of the minute that holds Unix time t, also
  // before 1970; exact for every number a history holds.
  const minuteOf = (t) => t - (((t % 60) + 60) % 60);

  // perMinute keeps, of each run of consecutive lines in the same minute
  // (UTC), the last, as audit.PerMinute does: the history at minute
  // granularity, which the chart draws.
  function perMinute(hist) {
    const out = [];
    for (const h of hist) {
      if (out.length > 0 && minuteOf(out[out.length - 1].time) === minuteOf(h.time)) out[out.length - 1] = h;
      else out.push(h);
    }
    return out;
  }

  // readHistory reads the history (its text) against the counted lines of
  // the votes list (tallyVotes first). It draws and measures only the
  // lines whose size the counted lines reach, and checks each one's
  // counts against those lines as the audit does: the well-formed lines
  // of each option of the ballot among the first <size>, whatever their
  // work or repeats (`head -<size> | grep -c`). It returns st.history:
  // {lines, refused, beyond, wrong, minutes, growth}: beyond counts the
  // lines past the counted lines, wrong lists the line numbers whose
  // counts are not the list's.
  function readHistory(s) {
    const n = st.options.length;
    const { lines, refused } = parseHistory(s, n);
    const counted = st.scope.vote.counted;
    const shown = lines.filter((h) => h.size <= counted);
    const index = new Map(st.options.map((o, i) => [o, i]));
    // The list's counts at each size the history names, in one pass.
    const sizes = [...new Set(shown.map((h) => h.size))].sort((a, b) => a - b);
    const at = new Map();
    const run = new Array(n).fill(0);
    let next = 0;
    for (const size of sizes) {
      for (; next < size; next++) {
        const v = st.votes[next];
        const k = v.score >= 0 && v.option !== null ? index.get(v.option) : undefined;
        if (k !== undefined) run[k]++;
      }
      at.set(size, run.join(' '));
    }
    const wrong = shown.filter((h) => at.get(h.size) !== h.counts.join(' ')).map((h) => h.line);
    return {
      lines: shown, refused, beyond: lines.length - shown.length, wrong,
      minutes: perMinute(shown), growth: historyGrowth(shown, st.options),
    };
  }

  // ---- retracted votes (docs/PUBLISHING.md, docs/MIRRORS.md) ----

  // parseRetracted reads a line of the retracted list
  // (parseRetractedLine), its vote as parseVote reads it, or
  // returns null. The worker decides whether the vote line is well formed.
  function parseRetracted(line) {
    const r = parseRetractedLine(line);
    return r && { winner: r.winner, sig: r.sig, vote: parseVote(r.vote) };
  }

  function compareBytes(a, b) {
    for (let i = 0; i < a.length && i < b.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
    return a.length - b.length;
  }

  // wins reports whether vote a beats vote b for the same mandate by mirror
  // rule 3 (listline.Wins): the smaller P-UTC as a number, then the smaller
  // nonce bytes, then the smaller voter stamp, then the smaller line. Both
  // are votes as parseVote returns them, of lines the worker scored: their
  // P-UTC is decimal and their nonce lower-case hex, whose order as text
  // is the order of the bytes.
  function wins(a, b) {
    const ta = BigInt(a.putcText), tb = BigInt(b.putcText);
    if (ta !== tb) return ta < tb;
    if (a.nonce !== b.nonce) return a.nonce < b.nonce;
    if (a.voter !== b.voter) return a.voter < b.voter;
    return compareBytes(utf8.encode(a.line), utf8.encode(b.line)) < 0;
  }

  // RETRACTION_VERDICTS are what is wrong with a line of the retracted
  // list, in the order they are looked for: the first found is its
  // verdict. ok means it proves what it says.
  //   unreadable  not a line of the retracted list
  //   weak        the retracted vote's proof of work is below the threshold
  //   ballot      the retracted vote's option is not on the ballot
  //   dupLoser    its nonce or voter stamp is an earlier line's
  //   counted     its nonce is in the counted lines of the votes list, or
  //               its voter stamp on another line than its winner's
  //   noWinner    its winner is not among the counted votes
  //   dupWinner   its winner explains an earlier line already
  //   order       its winner does not beat it by the mirror rule
  //   badSig      the receipt key did not sign the binding
  //   unchecked   the binding cannot be checked: no receipt key, or no
  //               Ed25519 in this browser
  const RETRACTION_VERDICTS = ['unreadable', 'weak', 'ballot', 'dupLoser', 'counted', 'noWinner', 'dupWinner', 'order', 'badSig', 'unchecked'];

  // checkRetractions checks the signed lines of the retracted list against
  // the counted votes (tallyVotes first) and returns st.retracted.
  async function checkRetractions(lines, progress) {
    const items = lines.map((l, i) => Object.assign({ n: i + 1, verdict: '' }, parseRetracted(l) || { vote: null }));
    const scores = await scoreAll(items.map((r) => (r.vote ? r.vote.line : '')), progress);
    const nonces = new Set(), stamps = new Set(), winners = new Set();
    const byStamp = new Map();
    const pending = [];
    items.forEach((r, i) => {
      if (r.vote === null || scores[i] < 0 || r.vote.option === null) { r.verdict = 'unreadable'; return; }
      const k = stampKey(r.vote.voter);
      if (!byStamp.has(k)) byStamp.set(k, []);
      byStamp.get(k).push(i);
      r.win = st.byNonce.get(r.winner);
      const dupLoser = nonces.has(r.vote.nonce) || stamps.has(k);
      nonces.add(r.vote.nonce);
      stamps.add(k);
      const dupWinner = winners.has(r.winner);
      winners.add(r.winner);
      const onList = st.byStamp.get(k);
      if (scores[i] < st.threshold) r.verdict = 'weak';
      else if (st.options.length > 0 && !st.options.includes(r.vote.option)) r.verdict = 'ballot';
      else if (dupLoser) r.verdict = 'dupLoser';
      else if (st.nonces.has(r.vote.nonce) || (onList !== undefined && onList !== r.win)) r.verdict = 'counted';
      else if (r.win === undefined) r.verdict = 'noWinner';
      else if (dupWinner) r.verdict = 'dupWinner';
      else if (!wins(st.votes[r.win], r.vote)) r.verdict = 'order';
      else pending.push(r);
    });
    // The bindings, CHUNK at a time: WebCrypto verifies them together.
    const raw = await receiptKey();
    let key = null;
    if (raw !== null && (await canVerify())) {
      key = await crypto.subtle.importKey('raw', raw, { name: 'Ed25519' }, false, ['verify']).catch(() => null);
    }
    for (let i = 0; i < pending.length; i += CHUNK) {
      await Promise.all(pending.slice(i, i + CHUNK).map(async (r) => {
        if (key === null) { r.verdict = 'unchecked'; return; }
        const msg = retractionMessage(st.campaign, r.vote.line, st.votes[r.win].line);
        let ok = false;
        try { ok = await crypto.subtle.verify({ name: 'Ed25519' }, key, r.sig, msg); } catch (e) { ok = false; }
        r.verdict = ok ? 'ok' : 'badSig';
      }));
    }
    return { items, byStamp, ok: items.filter((r) => r.verdict === 'ok').length };
  }

  // SHOWN is how many line numbers a problem names.
  const SHOWN = 5;

  // findProblems lists what is wrong in the counted lines, in the order
  // the page shows it.
  function findProblems() {
    const ps = [];
    const add = (kind, lines) => { if (lines.length) ps.push({ kind, count: lines.length, lines: lines.slice(0, SHOWN) }); };
    for (const kind of ['unreadable', 'dupNonce', 'dupStamp']) {
      add(kind === 'unreadable' ? 'voteUnreadable' : kind, st.votes.filter((v) => v.status === kind).map((v) => v.n));
    }
    if (st.voters !== null) {
      add('authUnreadable', st.voters.unreadable);
      add('dupMandate', st.voters.duplicate);
      add('badSig', st.voters.badsig);
      add('authority', st.voters.authority);
      add('mandatesUnchecked', st.voters.unchecked);
      if (st.authorities === null && st.voters.lines > 0) ps.push({ kind: 'noAuthorities', count: 0, lines: [] });
    }
    if (st.retracted !== null) {
      for (const v of RETRACTION_VERDICTS) {
        add('retract_' + v, st.retracted.items.filter((r) => r.verdict === v).map((r) => r.n));
      }
    }
    st.problems = ps;
  }

  // ---- showing ----

  function cell(tr, s, cls) {
    const td = document.createElement('td');
    td.textContent = s;
    if (cls) td.className = cls;
    tr.append(td);
  }

  // lineList writes the first line numbers of a problem, "…" after them
  // when there are more; without digit grouping, whose commas would read
  // as separators.
  function lineList(p) {
    return p.lines.map(String).join(', ') + (p.count > p.lines.length ? ', …' : '');
  }

  function showResults() {
    // A site that contradicts what its log key signed is said first.
    const alarm = ['rewritten', 'older', 'keychanged'].some((r) => Object.values(st.consistency).some((c) => c.result === r)) ||
      (st.settings !== null && ['mismatch', 'missing'].includes(st.settings.result));
    $('alarm').textContent = alarm ? t('alarm') : '';
    $('alarm').hidden = !alarm;

    // What the tally stands on.
    const trust = $('trust');
    const sv = st.scope.vote;
    const trustKey = !sv.site ? 'trustFiles' : sv.counted > 0 || st.checkpoints.vote.result === 'match' || st.checkpoints.vote.result === 'tail' ? 'trustSigned' : 'trustNone';
    trust.textContent = t(trustKey, { n: num(sv.counted) });
    trust.className = trustKey === 'trustNone' ? 'error' : trustKey === 'trustSigned' ? 'ok' : 'hint';
    trust.dataset.result = { trustFiles: 'files', trustSigned: 'signed', trustNone: 'unsigned' }[trustKey];

    const body = $('tally').tBodies[0];
    body.textContent = '';
    let belowCount = 0;
    for (const r of st.tally) {
      const tr = document.createElement('tr');
      if (!r.onBallot) tr.className = 'extra';
      cell(tr, r.onBallot ? r.option : t('notOnBallot', { option: r.option }));
      cell(tr, num(r.votes), 'num');
      cell(tr, r.below ? num(r.below) : '', 'num below');
      body.append(tr);
      belowCount += r.below;
    }
    $('tally-caption').textContent = t('tallyCaption', { bits: st.threshold });
    $('below-note').textContent = belowCount ? t('belowNote', { n: num(belowCount), bits: st.threshold }) : '';
    $('below-note').hidden = belowCount === 0;

    const problems = $('problems');
    problems.textContent = '';
    for (const p of st.problems) {
      const li = document.createElement('li');
      li.textContent = t('problem_' + p.kind, { n: num(p.count), lines: lineList(p) });
      li.className = p.kind === 'noAuthorities' || p.kind === 'retract_unchecked' ? 'hint' : 'error';
      li.dataset.kind = p.kind;
      li.dataset.count = String(p.count);
      problems.append(li);
    }
    problems.hidden = st.problems.length === 0;

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
    item('sumVotes', num(sv.counted));
    item('sumVoters', st.voters === null ? t('notGiven') : num(st.voters.ok));
    const tailVotes = sv.lines - sv.counted, tailVoters = st.scope.auth.lines - st.scope.auth.counted;
    if (tailVotes > 0 || tailVoters > 0) {
      item('sumUnsigned', t('unsignedValue', { vote: num(tailVotes), auth: num(tailVoters) }));
      $('sum-sumUnsigned').className = 'error';
    }
    if (st.retracted !== null) {
      const n = st.retracted.items.length;
      item('sumRetracted', n === 0 ? num(0) : t('retractedValue', { n: num(n), ok: num(st.retracted.ok) }));
      if (st.retracted.ok < n) $('sum-sumRetracted').className = 'error';
    }
    item('sumWork', t('workValue', { hashes: num(st.work), log: st.work > 0 ? Math.log2(st.work).toFixed(1) : '0' }));
    item('sumSettings', st.settingsHash === null ? t('notGiven') : st.settingsHash);
    $('sum-sumSettings').className = 'hash';
    item('sumAuthorities', st.authorities === null ? t('notGiven') : st.authorities.join(' '));
    $('sum-sumAuthorities').className = 'hash';
    if (st.voters !== null && st.scope.auth.counted !== sv.counted) {
      const dd = document.createElement('dd');
      dd.className = 'error wide';
      dd.textContent = t('countsDiffer');
      dl.append(dd);
    }
    showCheckpoints();
    showHistoryNotes();
    showGrowth();
    $('checked-at').textContent = t(st.source === null ? 'checkedFiles' : 'checkedAt', { site: st.source || '', time: timeText(st.checkedAt) });
    $('results').hidden = false;
    $('find').hidden = false;
    $('receipt').hidden = false;
    // uPlot sizes the chart to its box, which must be shown first.
    drawChart();
  }

  // showHistoryNotes says what the check of the history found: lines it
  // could not read, lines whose counts are not the signed list's, lines
  // beyond the signed lines, or that every line drawn agrees.
  function showHistoryNotes() {
    const ul = $('history-notes');
    ul.textContent = '';
    const h = st.history;
    const note = (kind, count, lines, cls) => {
      const li = document.createElement('li');
      li.textContent = t('history_' + kind, { n: num(count), lines: lineList({ count, lines: lines.slice(0, SHOWN) }) });
      li.dataset.kind = kind;
      li.dataset.count = String(count);
      li.className = cls;
      ul.append(li);
    };
    if (h !== null) {
      if (h.refused.length) note('refused', h.refused.length, h.refused, 'error');
      if (h.wrong.length) note('wrong', h.wrong.length, h.wrong, 'error');
      if (h.beyond) note('beyond', h.beyond, [], 'hint');
      if (h.lines.length && !h.wrong.length) note('ok', h.lines.length, [], 'ok');
    }
    ul.hidden = ul.children.length === 0;
  }

  // showResult writes message key into li with the result as data-result
  // and a class: ok, bad, or none for what is only said.
  function showResult(li, result, key, args, ok, neutral) {
    if (!result) {
      li.textContent = '';
      li.hidden = true;
      delete li.dataset.result;
      return;
    }
    li.hidden = false;
    li.textContent = t(key, args);
    li.dataset.result = result;
    li.className = ok.includes(result) ? 'ok' : neutral.includes(result) ? '' : 'bad';
  }

  // showCheckpoints says, per list, what its checkpoint check found, what
  // the checkpoints say of the settings, and how each checkpoint stands to
  // the one this browser kept from before.
  function showCheckpoints() {
    const keys = {
      match: 'cpMatch', tail: 'cpTail', mismatch: 'cpMismatch', short: 'cpShort', badsig: 'cpBadSig', nosig: 'cpNoSig',
      badkey: 'cpBadKey', malformed: 'cpMalformed', origin: 'cpOrigin', missing: 'cpMissing',
      unsupported: 'cpUnsupported', unavailable: 'cpUnavailable',
    };
    for (const w of LISTS) {
      const li = $('cp-' + w);
      const r = st.checkpoints[w];
      if (!r) { showResult(li, null); continue; }
      const args = { list: listName(w, true), size: num(r.size || 0), lines: num(r.lines || 0), extra: num(r.unsigned || 0), origin: r.origin || '' };
      showResult(li, r.result, keys[r.result], args, ['match'], ['unavailable', 'unsupported']);
      li.dataset.unsigned = String(r.unsigned || 0);
    }
    const s = st.settings;
    showResult($('cp-settings'), s && s.result, s && 'set_' + s.result, {}, ['committed'], ['uncommitted', 'unavailable']);
    const evidence = [];
    for (const w of LISTS) {
      const c = st.consistency[w];
      const args = c && { list: listName(w, true), from: num(c.from || 0), to: num(c.to || 0) };
      showResult($('cons-' + w), c && c.result, c && 'cons_' + c.result, args, ['first', 'same', 'consistent'], ['unchecked', 'nostorage']);
      if (c && c.evidence && ['rewritten', 'older', 'keychanged'].includes(c.result)) evidence.push(c.evidence);
    }
    $('evidence').hidden = evidence.length === 0;
    $('evidence-text').textContent = evidence.join('\n');
  }

  function timeText(secs) {
    return new Date(secs * 1000).toLocaleString(st.lang, { dateStyle: 'short', timeStyle: 'short', timeZone: 'UTC' }) + ' UTC';
  }

  // COLORS are the series' colours, as the legend's swatches (.k0 to .k9
  // in check.css) show them.
  const COLORS = ['#1f4e99', '#d95f02', '#1b9e77', '#7570b3', '#e7298a', '#66a61e', '#a6761d', '#444444', '#e6ab02', '#17becf'];

  // CHART_HEIGHT is the plot's height in CSS pixels, on every screen.
  const CHART_HEIGHT = 240;

  // COUNT_STEPS are the steps the count axis may take: whole votes.
  const COUNT_STEPS = [];
  for (let p = 1; p <= 1e12; p *= 10) COUNT_STEPS.push(p, 2 * p, 5 * p);

  // TIME_STEPS are the steps the time axis may take, in seconds: whole
  // minutes at least, as the chart has a point a minute.
  const TIME_STEPS = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200];
  for (const days of [1, 2, 7, 14, 28, 91, 182, 365, 730, 1825, 3650]) TIME_STEPS.push(days * 86400);

  // chart is the uPlot instance that draws the history (window.powcheck.chart
  // for tests), null when there is nothing to draw.
  let chart = null;

  // chartWidth is the width the chart takes: its box's, on the screen; a
  // printed page's, when printing.
  const chartWidth = (printing) => (printing ? 640 : Math.max(240, $('chart').clientWidth));

  // dateText writes a Unix time's date, and clock writes its hour and
  // minute, in the page's language, in UTC, as the history counts time.
  const dateText = (secs) => new Date(secs * 1000).toLocaleDateString(st.lang, { dateStyle: 'short', timeZone: 'UTC' });
  const clockText = (secs) => new Date(secs * 1000).toLocaleTimeString(st.lang, { hour: '2-digit', minute: '2-digit', timeZone: 'UTC' });

  // drawChart draws, per option of the ballot, its count after each batch
  // from the history, at one point a minute (st.history.minutes), with
  // uPlot (web/check/vendor/): times in UTC, numbers and dates in the
  // page's language, the options' names in the legend below.
  function drawChart() {
    const box = $('chart');
    const legend = $('legend');
    if (chart !== null) chart.destroy();
    chart = null;
    st.chart = null;
    box.textContent = '';
    legend.textContent = '';
    box.removeAttribute('aria-label');
    box.removeAttribute('role');
    const h = st.history;
    if (h === null || h.minutes.length === 0) {
      box.textContent = t(h === null ? 'noHistory' : 'noVotes');
      return;
    }
    const xs = h.minutes.map((m) => m.time);
    const data = [xs, ...st.options.map((o, k) => h.minutes.map((m) => m.counts[k]))];
    const opts = {
      width: chartWidth(false),
      height: CHART_HEIGHT,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      padding: [12, 20, 0, 0],
      scales: {
        // One minute alone is drawn in the ten minutes around it (uPlot
        // would take a thousand days).
        x: {
          time: true,
          range: (u, min, max) => {
            const d = u.data[0];
            return d.length > 0 && d[0] === d[d.length - 1] ? [d[0] - 300, d[0] + 300] : [min, max];
          },
        },
        y: { range: (u, min, max) => [0, Math.max(1, max)] },
      },
      series: [{}, ...st.options.map((o, k) => ({ label: o, stroke: COLORS[k % COLORS.length], width: 2 }))],
      axes: [
        {
          // Hours and minutes, and the date under the first and under
          // each that starts a day.
          incrs: TIME_STEPS,
          space: 64,
          values: (u, splits) => splits.map((x, i) => {
            const day = i === 0 || dateText(splits[i - 1]) !== dateText(x);
            return clockText(x) + (day ? '\n' + dateText(x) : '');
          }),
          font: '12px system-ui, sans-serif',
        },
        {
          incrs: COUNT_STEPS,
          values: (u, splits) => splits.map((v) => num(v)),
          size: (u, values) => 24 + 8 * Math.max(2, ...(values || []).map((v) => v.length)),
          font: '12px system-ui, sans-serif',
        },
      ],
    };
    chart = new uPlot(opts, data, box);
    st.chart = chart;
    box.setAttribute('role', 'img');
    box.setAttribute('aria-label', t('chartLabel', { from: timeText(xs[0]), to: timeText(xs[xs.length - 1]) }));
    st.options.forEach((o, k) => {
      const li = document.createElement('li');
      const sw = document.createElement('span');
      sw.className = 'k' + (k % 10);
      sw.setAttribute('aria-hidden', 'true');
      li.append(sw, document.createTextNode(o));
      legend.append(li);
    });
  }

  // resizeChart fits the chart to its box, or to a printed page.
  function resizeChart(printing) {
    if (chart !== null) chart.setSize({ width: chartWidth(printing), height: CHART_HEIGHT });
  }

  // showGrowth writes, per option, its largest increase between two lines
  // of the history against its median (st.history.growth), most unusual
  // first, as powvote audit reports them.
  function showGrowth() {
    const body = $('growth').tBodies[0];
    body.textContent = '';
    const g = st.history === null ? [] : st.history.growth;
    for (const x of g) {
      const tr = document.createElement('tr');
      const ratio = x.median === 0 ? x.largest : x.largest / x.median;
      cell(tr, x.option);
      cell(tr, (x.largest >= 0 ? '+' : '') + num(x.largest), 'num');
      cell(tr, (x.median >= 0 ? '+' : '') + num(x.median), 'num');
      cell(tr, ratio.toLocaleString(st.lang, { maximumFractionDigits: 2 }), 'num');
      cell(tr, t('growthAt', { size: num(x.at_size), time: timeText(x.at_time) }));
      tr.dataset.option = x.option;
      body.append(tr);
    }
    $('growth-box').hidden = g.length === 0;
  }

  // ---- find my vote ----

  // lookup finds a voter stamp, for option when it is given: {result:
  // 'found', vote} among the counted lines, {result: 'retracted', r} in
  // the signed lines of the retracted list (r.verdict says whether the
  // retraction holds), {result: 'unsigned', line} when only a line outside
  // the signed ones carries it, or {result: 'missing'}. A stamp counted
  // against another option is found in the retracted list when a line
  // there has it against option: the retracted vote of a mandate may
  // carry its winner's stamp.
  function lookup(stamp, option) {
    const k = stampKey(stamp);
    const i = st.byStamp.get(k);
    let r = null;
    if (st.retracted !== null) {
      const at = (st.retracted.byStamp.get(k) || []).map((j) => st.retracted.items[j]);
      r = at.find((x) => option === undefined || x.vote.option === option) || null;
    }
    if (i !== undefined && (r === null || option === undefined || st.votes[i].option === option)) return { result: 'found', vote: st.votes[i] };
    if (r !== null) return { result: 'retracted', r };
    const n = st.unsigned.get(k);
    if (n !== undefined) return { result: 'unsigned', line: n };
    return { result: 'missing' };
  }

  // retractedArgs are the message arguments of a retraction found: its
  // line, the retracted option, and the winner's line and option, or why
  // the retraction does not hold.
  function retractedArgs(r) {
    const w = r.win === undefined ? null : st.votes[r.win];
    return {
      line: num(r.n), option: r.vote.option, why: t('why_' + r.verdict),
      winLine: w ? num(w.n) : '', winOption: w ? w.option : '',
    };
  }

  function findVote(ev) {
    if (ev) ev.preventDefault();
    const out = $('find-result');
    const k = stampKey($('stamp').value);
    out.className = '';
    delete out.dataset.result;
    if (!k) { out.textContent = t('stampEmpty'); out.className = 'bad'; return; }
    const f = lookup(k);
    out.dataset.result = f.result === 'found' ? f.vote.status : f.result;
    if (f.result === 'missing') {
      out.textContent = t('stampMissing');
      out.className = 'bad';
    } else if (f.result === 'retracted') {
      const ok = f.r.verdict === 'ok';
      out.dataset.result = ok ? 'retracted' : 'retractedBad';
      out.textContent = t(ok ? 'stampRetracted' : 'stampRetractedBad', retractedArgs(f.r));
      out.className = ok ? '' : 'bad';
    } else if (f.result === 'unsigned') {
      out.textContent = t('stampUnsigned', { line: num(f.line) });
      out.className = 'bad';
    } else {
      const v = f.vote;
      out.textContent = t(v.status === 'counted' ? 'stampFound' : 'stampFoundBelow', { line: num(v.n), option: v.option });
      out.className = v.status === 'counted' ? 'ok' : 'bad';
    }
  }

  // ---- check my receipt ----

  // parseReceipt reads a saved receipt (Campaign:, Receipt01: ...,
  // Receipt-Sig:) and returns {campaign, sig, lines: [{n, raw, stamp,
  // option}]} or null; raw is the line as the header carried it, which the
  // signature covers.
  function parseReceipt(s) {
    let campaign = null, sig = null;
    const lines = [];
    for (const raw of s.replace(/\r\n/g, '\n').split('\n')) {
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
          const k = fromB64((await r.text()).trim());
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
    return (await verifyReceipt(key, rc.campaign, rc.lines.map((l) => l.raw), rc.sig)) ? 'valid' : 'invalid';
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
    const n = { ok: 0, missing: 0, unsigned: 0, wrong: 0, none: 0, retracted: 0, retractedBad: 0 };
    for (const l of rc.lines) {
      // "-" stands against an option nobody had chosen yet (PROTOCOL 5.4).
      const f = l.stamp === '-' ? null : lookup(l.stamp, l.option);
      let result, args = {};
      if (f === null) result = 'none';
      else if (f.result === 'missing') result = 'missing';
      else if (f.result === 'retracted') { result = f.r.verdict === 'ok' ? 'retracted' : 'retractedBad'; args = retractedArgs(f.r); }
      else if (f.result === 'unsigned') { result = 'unsigned'; args = { line: num(f.line) }; }
      else if (f.vote.option !== l.option) { result = 'wrong'; args = { line: num(f.vote.n), listed: f.vote.option }; }
      else { result = 'ok'; args = { line: num(f.vote.n) }; }
      n[result]++;
      const li = document.createElement('li');
      li.className = result === 'ok' ? 'ok' : result === 'none' || result === 'retracted' ? '' : 'bad';
      li.dataset.result = result;
      const code = document.createElement('code');
      code.textContent = l.stamp;
      const key = {
        ok: 'lineOk', missing: 'lineMissing', unsigned: 'lineUnsigned', wrong: 'lineWrong', none: 'lineNone',
        retracted: 'lineRetracted', retractedBad: 'lineRetractedBad',
      }[result];
      li.append(code, document.createTextNode(' ' + l.option + ': ' + t(key, args)));
      list.append(li);
    }
    const parts = [];
    if (st.campaign && rc.campaign !== st.campaign) parts.push(t('receiptOtherCampaign', { name: rc.campaign }));
    const bad = n.missing + n.unsigned + n.wrong + n.retractedBad;
    if (bad === 0 && n.retracted === 0) parts.push(t('receiptAllOk', { n: num(n.ok) }));
    else parts.push(t('receiptSome', { ok: num(n.ok), missing: num(n.missing), unsigned: num(n.unsigned), wrong: num(n.wrong), n: num(rc.lines.length - n.none) }));
    if (n.retracted) parts.push(t('receiptRetracted', { n: num(n.retracted) }));
    if (n.retractedBad) parts.push(t('receiptRetractedBad', { n: num(n.retractedBad) }));
    const good = bad === 0 && !(st.campaign && rc.campaign !== st.campaign);
    if (n.none) parts.push(t('receiptNone', { n: num(n.none) }));
    sum.textContent = parts.join(' ');
    sum.className = good ? 'ok' : 'bad';
    for (const k of Object.keys(n)) sum.dataset[k] = String(n[k]);
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
    // downloaded after them hold at least the lines they sign. The
    // retracted list's checkpoint comes before the others': the publisher
    // appends a retraction once its winner is signed in the votes list,
    // so every winner it signs is under the votes checkpoint read after
    // it.
    const retractedCp = await fetchOptional(c + 'retracted.checkpoint');
    // The history too, like the checkpoints: each of its lines that the
    // lists downloaded next reach is checked against them.
    const [vkey, voteCp, authCp, settings, history] = await Promise.all([
      fetchOptional(c + 'log.vkey'), fetchOptional(c + 'vote.checkpoint'), fetchOptional(c + 'auth.checkpoint'), fetchOptional(c + 'settings.yaml'),
      fetchOptional(c + 'history.log'),
    ]);
    let vote, auth, retracted;
    try {
      [vote, auth, retracted] = await Promise.all([fetchBytes(c + 'vote.log'), fetchBytes(c + 'auth.log'), fetchOptional(c + 'retracted.log')]);
    } catch (e) {
      status('');
      showError(t('downloadFailed'));
      return;
    }
    await check({ site: true, lists: { vote, auth, retracted }, settings, history, vkey, cps: { vote: voteCp, auth: authCp, retracted: retractedCp } });
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
    const bytes = async (id) => {
      const f = $(id).files[0];
      return f ? new Uint8Array(await f.arrayBuffer()) : null;
    };
    await check({
      site: false, lists: { vote: await bytes('vote-file'), auth: await bytes('auth-file'), retracted: null },
      settings: await bytes('settings-file'), history: await bytes('history-file'),
    });
  }

  // ---- for tests: the page's own computations on given inputs ----

  // treeHash is the tree hash of the first size lines of text, in base64,
  // by the page's own workers (null when text is shorter).
  st.treeHash = async (s, size) => {
    const root = await hashTree(utf8.encode(s), size, () => {});
    return root === null ? null : toB64(root);
  };

  // scoreLines gives the score of each vote line by the page's own
  // workers, -1 for a line that is not a vote line.
  st.scoreLines = async (lines) => Array.from(await scoreAll(lines, () => {}));

  // checkMandates gives the page's verdict on each voter line (a list of
  // strings) under authorities (base64 keys, or null for none known).
  st.checkMandates = (lines, authorities) => checkMandates(lines, authorities, () => {});

  // consistency compares a tree of size n and root h with one of size t
  // and root th (base64) through the tiles served under base.
  st.checkConsistency = (base, n, h, tt, th) => consistency(base, n, fromB64(h), tt, fromB64(th));

  // parseCheckpoint and parseAuthorities, on text.
  st.parseCheckpoint = (s) => {
    const cp = parseCheckpoint(s);
    return cp && { origin: cp.origin, size: cp.size, root: toB64(cp.root), settings: cp.settings };
  };
  st.parseAuthorities = parseAuthorities;

  // wins is the mirror rule's order between two vote lines.
  st.wins = (a, b) => wins(parseVote(a), parseVote(b));

  // historyFigures reads a history (text) for a ballot (options) as the
  // page does: the line numbers read and refused, the growth, and the
  // line numbers kept at one a minute (testdata/vectors/growth.json).
  st.historyFigures = (s, options) => {
    const h = parseHistory(s, options.length);
    return { lines: h.lines.map((l) => l.line), refused: h.refused, growth: historyGrowth(h.lines, options), minutes: perMinute(h.lines).map((l) => l.line) };
  };

  // ---- start ----

  async function init() {
    await loadLang(powvoteLang.pick());
    powvoteLang.onPick(async (lang) => {
      await loadLang(lang);
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
    $('report').addEventListener('click', () => window.print());
    window.addEventListener('resize', () => resizeChart(false));
    window.addEventListener('beforeprint', () => resizeChart(true));
    window.addEventListener('afterprint', () => resizeChart(false));
    const online = await loadBallot();
    showCampaign();
    $('load-site').hidden = !online;
    if (!online) $('files').open = true;
    document.body.dataset.ready = 'true';
    if (online) await loadSite();
  }

  init();
})();
