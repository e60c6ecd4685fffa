// Recomputes the proof of work of vote lines for the results page
// (PROTOCOL.md 5.3 and 8): the digest SHA-256(P-UTC || raw P-SIG || Voter ||
// option text || nonce) and its score, the count of its leading zero bits;
// checks the mandates of voter lines (PROTOCOL.md 3): their form, their
// authority key and their Ed25519 signature; and computes the Merkle tree
// hashes of the lists, to compare with their signed checkpoints.
//
// SHA-256 is the voter app's own (web/voter/pow-worker.js, loaded by URL):
// its compression function, schedule loader, constants and score. That
// file also installs its search handler, which this worker replaces below.
// What a vote line is, what its proof of work covers, base64 and Ed25519
// come from web/voter/wire.js, as in the page.
'use strict';

importScripts('/app/voter/pow-worker.js', '/app/voter/wire.js');

// sha256 returns the digest of msg as eight big-endian words.
function sha256(msg) {
  const n = msg.length;
  const blocks = Math.ceil((n + 9) / 64);
  const buf = new Uint8Array(blocks * 64);
  buf.set(msg, 0);
  buf[n] = 0x80;
  const dv = new DataView(buf.buffer);
  dv.setUint32(buf.length - 8, Math.floor(n / 0x20000000));
  dv.setUint32(buf.length - 4, (n * 8) >>> 0);
  const h = Int32Array.from(IV);
  const out = new Int32Array(8);
  for (let p = 0; p < buf.length; p += 64) {
    loadBlock(buf, p);
    compress(h, h, 0, out);
    h.set(out);
  }
  return h;
}

// message returns the bytes a vote line's proof of work covers, nonce
// included, or null when the line is not a vote line as listline.ParseVote
// reads one.
function message(line) {
  const v = powvoteWire.parseVoteLine(line);
  return v && powvoteWire.powMessage(v.putc, v.psig, v.voter, v.option, v.nonce);
}

// ---- Merkle tree hashes (RFC 6962, as golang.org/x/mod/sumdb/tlog) ----

// digestBytes returns the SHA-256 of msg as 32 bytes.
function digestBytes(msg) {
  const h = sha256(msg);
  const out = new Uint8Array(32);
  for (let i = 0; i < 8; i++) {
    out[4 * i] = h[i] >>> 24;
    out[4 * i + 1] = h[i] >>> 16;
    out[4 * i + 2] = h[i] >>> 8;
    out[4 * i + 3] = h[i];
  }
  return out;
}

// leafHash is SHA-256(0x00 || leaf).
function leafHash(bytes, start, end) {
  const msg = new Uint8Array(1 + end - start);
  msg.set(bytes.subarray(start, end), 1);
  return digestBytes(msg);
}

// nodeHash is SHA-256(0x01 || left || right).
function nodeHash(l, r) {
  const msg = new Uint8Array(65);
  msg[0] = 1;
  msg.set(l, 1);
  msg.set(r, 33);
  return digestBytes(msg);
}

// treeHash is the hash of the tree over hashes[lo, hi): the left subtree
// holds the largest power of two of them that is less than hi - lo.
function treeHash(hashes, lo, hi) {
  if (hi - lo === 1) return hashes[lo];
  let k = 1;
  while (2 * k < hi - lo) k *= 2;
  return nodeHash(treeHash(hashes, lo, lo + k), treeHash(hashes, lo + k, hi));
}

// tree answers {id, hash} for {id, kind: 'leaves', data}, data being lines
// each ended by "\n" (a leaf is a line without its "\n"), or for {id, kind:
// 'nodes', data}, data being 32-byte subtree hashes in order. The page
// cuts a list into runs of a power of two lines, whose trees are complete
// subtrees of the whole list's, and joins the runs' hashes with 'nodes'.
function tree(msg) {
  const data = msg.data;
  const hashes = [];
  if (msg.kind === 'leaves') {
    let from = 0;
    while (from < data.length) {
      let nl = data.indexOf(10, from);
      if (nl < 0) nl = data.length;
      hashes.push(leafHash(data, from, nl));
      from = nl + 1;
    }
  } else {
    for (let i = 0; i + 32 <= data.length; i += 32) hashes.push(data.subarray(i, i + 32));
  }
  // The empty tree's hash is the hash of nothing.
  const hash = hashes.length === 0 ? digestBytes(new Uint8Array(0)) : treeHash(hashes, 0, hashes.length).slice();
  self.postMessage({ id: msg.id, hash }, [hash.buffer]);
}

// ---- mandates (PROTOCOL.md 3 and 8) ----

// Verdicts on a voter line, as mandates answers them; the page adds the
// duplicates, which need every earlier line.
const MANDATE_OK = 0; // well formed, signed by one of the authorities
const MANDATE_UNREADABLE = 1; // not "<auth-pkey> <auth-sig> <auth-id>" in canonical base64
const MANDATE_AUTHORITY = 2; // auth-pkey is not one of the campaign's authorities
const MANDATE_BADSIG = 3; // auth-sig does not verify over auth-id under auth-pkey
const MANDATE_UNCHECKED = 4; // this browser cannot verify Ed25519 signatures

// Imported public keys, by base64: the authorities' are used for every
// line, so each is imported once per worker. Keys of lines whose authority
// is not checked (no settings) are kept up to a bound.
const keys = new Map();
const KEYS_KEPT = 256;

async function publicKey(b64, raw) {
  let k = keys.get(b64);
  if (k === undefined) {
    k = crypto.subtle.importKey('raw', raw, { name: 'Ed25519' }, false, ['verify']).catch(() => null);
    if (keys.size >= KEYS_KEPT) keys.clear();
    keys.set(b64, k);
  }
  return k;
}

// mandateVerdict checks one voter line against the authorities (base64
// public keys, or null when the campaign's are not known: then any key
// whose signature verifies is taken).
async function mandateVerdict(line, authorities, verify) {
  const f = line.split(' ');
  if (f.length !== 3) return MANDATE_UNREADABLE;
  // One mandate has one spelling, the canonical base64 of each part, so
  // that the page finds duplicates by comparing text.
  const b64 = powvoteWire.canonicalB64;
  const pkey = b64(f[0], 32), sig = b64(f[1], 64), id = b64(f[2], 24);
  if (!pkey || !sig || !id) return MANDATE_UNREADABLE;
  if (authorities !== null && !authorities.has(f[0])) return MANDATE_AUTHORITY;
  if (!verify) return MANDATE_UNCHECKED;
  const key = await publicKey(f[0], pkey);
  if (key === null) return MANDATE_BADSIG; // not a public key: nothing verifies under it
  try {
    return (await crypto.subtle.verify({ name: 'Ed25519' }, key, sig, id)) ? MANDATE_OK : MANDATE_BADSIG;
  } catch (e) {
    return MANDATE_BADSIG;
  }
}

// mandates answers {id, verdicts} for {id, kind: 'mandates', lines,
// authorities}: one verdict a line. The signatures of a message are
// verified together, so that WebCrypto works on many at once.
async function mandates(msg) {
  const authorities = msg.authorities === null ? null : new Set(msg.authorities);
  const verify = await powvoteWire.canVerify();
  const verdicts = new Int8Array(msg.lines.length);
  await Promise.all(msg.lines.map(async (line, i) => {
    verdicts[i] = await mandateVerdict(line, authorities, verify);
  }));
  self.postMessage({ id: msg.id, verdicts }, [verdicts.buffer]);
}

// A message is {id, lines}; the answer is {id, scores}, -1 for a line that
// is not a vote line. Messages with a kind are tree hashes or mandates
// (above).
self.onmessage = (ev) => {
  if (ev.data.kind === 'mandates') {
    mandates(ev.data).catch((e) => self.postMessage({ id: ev.data.id, error: String(e) }));
    return;
  }
  if (ev.data.kind) {
    tree(ev.data);
    return;
  }
  const { id, lines } = ev.data;
  const scores = new Int16Array(lines.length);
  for (let i = 0; i < lines.length; i++) {
    const msg = message(lines[i]);
    scores[i] = msg ? score(sha256(msg)) : -1;
  }
  self.postMessage({ id, scores }, [scores.buffer]);
};
