// Proof of work for the voter app (PROTOCOL.md 5.3): find a nonce whose
// digest SHA-256(prefix || nonce) starts with at least `threshold` zero bits,
// where prefix is P-UTC || raw P-SIG || Voter || option text.
//
// The nonce is `pad` (0 to 19 random bytes, fixed for the search) followed
// by an 8-byte big-endian counter. The pad puts the counter on a word
// boundary in the last 64-byte block, with room for the message padding
// after it, so that from nonce to nonce only one word of one block
// changes: every block before it is compressed once, as are the rounds of
// the last block before that word, and the schedule terms that do not
// depend on it are summed once. The search itself runs in pow.wasm (four
// nonces at once in SIMD lanes) where the browser can, else in the
// JavaScript SHA-256 below, written from FIPS 180-4.
'use strict';

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

const IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

const W = new Int32Array(64);

// compress runs rounds [from, 64) of the compression of the block whose
// first 16 schedule words are in W, from the working variables in v (a..h
// after round from-1), and adds the result to the chaining value h,
// writing the new chaining value to out.
function compress(h, v, from, out) {
  for (let t = 16; t < 64; t++) {
    const x = W[t - 2], y = W[t - 15];
    const s1 = ((x >>> 17) | (x << 15)) ^ ((x >>> 19) | (x << 13)) ^ (x >>> 10);
    const s0 = ((y >>> 7) | (y << 25)) ^ ((y >>> 18) | (y << 14)) ^ (y >>> 3);
    W[t] = (s1 + W[t - 7] + s0 + W[t - 16]) | 0;
  }
  let a = v[0], b = v[1], c = v[2], d = v[3], e = v[4], f = v[5], g = v[6], hh = v[7];
  for (let t = from; t < 64; t++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (hh + S1 + ch + K[t] + W[t]) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (S0 + maj) | 0;
    hh = g; g = f; f = e; e = (d + t1) | 0;
    d = c; c = b; b = a; a = (t1 + t2) | 0;
  }
  out[0] = (h[0] + a) | 0; out[1] = (h[1] + b) | 0; out[2] = (h[2] + c) | 0; out[3] = (h[3] + d) | 0;
  out[4] = (h[4] + e) | 0; out[5] = (h[5] + f) | 0; out[6] = (h[6] + g) | 0; out[7] = (h[7] + hh) | 0;
}

// rounds runs rounds [0, n) of the block in W from the chaining value h and
// returns the working variables after them.
function rounds(h, n) {
  let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
  for (let t = 0; t < n; t++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (hh + S1 + ((e & f) ^ (~e & g)) + K[t] + W[t]) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    hh = g; g = f; f = e; e = (d + t1) | 0;
    d = c; c = b; b = a; a = (t1 + t2) | 0;
  }
  return Int32Array.of(a, b, c, d, e, f, g, hh);
}

function loadBlock(bytes, off) {
  for (let i = 0; i < 16; i++) {
    const p = off + 4 * i;
    W[i] = (bytes[p] << 24) | (bytes[p + 1] << 16) | (bytes[p + 2] << 8) | bytes[p + 3];
  }
}

// padLength is how many fixed bytes must follow the prefix so that the
// 8-byte counter is word-aligned and, with the 0x80 byte and the 8-byte
// length, fits in the last block: the counter's low word is then block word
// 1 to 12, the only word that changes from nonce to nonce (0 to 19 bytes).
function padLength(prefixLength) {
  for (let p = 0; ; p++) {
    const rem = (prefixLength + p) % 64;
    if (rem % 4 === 0 && rem <= 44) return p;
  }
}

// prepare compresses the blocks that do not depend on the counter, for
// the counter's high word hi, and returns what the search needs.
function prepare(prefix, pad, hi) {
  const total = prefix.length + pad.length + 8;
  const fixed = prefix.length + pad.length; // bytes before the counter
  const full = fixed - (fixed % 64); // bytes in blocks the counter does not touch
  const msg = new Uint8Array(full + 64);
  msg.set(prefix, 0);
  msg.set(pad, prefix.length);
  const off = fixed - full; // the counter's offset in the last block
  msg[full + off] = hi >>> 24; msg[full + off + 1] = hi >>> 16; msg[full + off + 2] = hi >>> 8; msg[full + off + 3] = hi;
  msg[full + off + 8] = 0x80;
  // Length in bits, big-endian, in the block's last 8 bytes (messages here
  // are far shorter than 2^32 bits).
  const bits = total * 8;
  msg[full + 60] = (bits >>> 24) & 255; msg[full + 61] = (bits >>> 16) & 255;
  msg[full + 62] = (bits >>> 8) & 255; msg[full + 63] = bits & 255;
  let h = Int32Array.from(IV);
  const out = new Int32Array(8);
  for (let p = 0; p < full; p += 64) {
    loadBlock(msg, p);
    compress(h, h, 0, out);
    h = Int32Array.from(out);
  }
  loadBlock(msg, full);
  const j = (off >> 2) + 1; // block word of the counter's low word
  const words = Int32Array.from(W.subarray(0, 16));
  const mid = rounds(h, j);
  return { h, mid, j, words, hi };
}

// hashAt computes the digest for low counter word lo into out.
function hashAt(p, lo, out) {
  W.set(p.words);
  W[p.j] = lo;
  compress(p.h, p.mid, p.j, out);
}

// ---- the WebAssembly solver (package pow/wasmsha) ----
//
// pow.wasm hashes four nonces at once in 128-bit SIMD lanes. The app
// writes into its memory what a search shares; the layout is documented
// in pow/wasmsha.
const OFF_H = 0, OFF_MID = 32, OFF_KW = 64, OFF_P = 320;

// varies says which schedule words depend on block word j.
function varies(j) {
  const v = new Array(64).fill(false);
  v[j] = true;
  for (let t = 16; t < 64; t++) v[t] = v[t - 2] || v[t - 7] || v[t - 15] || v[t - 16];
  return v;
}

function sigma0(x) { return ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3); }
function sigma1(x) { return ((x >>> 17) | (x << 15)) ^ ((x >>> 19) | (x << 13)) ^ (x >>> 10); }

// wasmLoad writes a prepared search into the module's memory.
function wasmLoad(mem, p) {
  const dv = new DataView(mem.buffer);
  const put = (off, v) => dv.setInt32(off, v | 0, true);
  const w = new Int32Array(64);
  w.set(p.words);
  w[p.j] = 0; // unused: only words that do not depend on it are written
  for (let t = 16; t < 64; t++) w[t] = (sigma1(w[t - 2]) + w[t - 7] + sigma0(w[t - 15]) + w[t - 16]) | 0;
  const v = varies(p.j);
  for (let i = 0; i < 8; i++) { put(OFF_H + 4 * i, p.h[i]); put(OFF_MID + 4 * i, p.mid[i]); }
  for (let t = 0; t < 64; t++) {
    if (!v[t]) put(OFF_KW + 4 * t, K[t] + w[t]);
    if (t < 16) { put(OFF_P + 4 * t, w[t]); continue; }
    let s = 0;
    if (!v[t - 2]) s += sigma1(w[t - 2]);
    if (!v[t - 7]) s += w[t - 7];
    if (!v[t - 15]) s += sigma0(w[t - 15]);
    if (!v[t - 16]) s += w[t - 16];
    put(OFF_P + 4 * t, s);
  }
}

// wasmEngine instantiates pow.wasm, or returns null where WebAssembly or
// its SIMD is missing (or the CSP forbids it): the JavaScript search then
// does the work.
async function wasmEngine() {
  try {
    const r = await fetch('/app/voter/pow.wasm', { credentials: 'omit' });
    if (!r.ok) return null;
    const bytes = await r.arrayBuffer();
    if (!WebAssembly.validate(bytes)) return null;
    const { instance } = await WebAssembly.instantiate(bytes, {});
    return instance.exports;
  } catch (e) {
    return null;
  }
}

// firstMask is the bits of the first digest word that must be zero for
// want leading zero bits (all of them beyond 32; the whole digest is then
// checked in JavaScript).
function firstMask(want) {
  if (want <= 0) return 0;
  if (want >= 32) return -1;
  return (-1 << (32 - want)) | 0;
}

// selfTest loads the prepared search p into the module and compares the
// module with the JavaScript SHA-256 on 1024 nonces from lo, under masks
// of 1 to 8 bits: a browser that miscompiled it must not send the voter
// off on a search that cannot end.
function selfTest(ex, p, lo) {
  wasmLoad(ex.memory, p);
  const out = new Int32Array(8);
  const search = ex['search' + p.j];
  for (let b = 1; b <= 8; b++) {
    const mask = firstMask(b);
    const n = 1024;
    let want = 0;
    for (let i = 0; i < n && want === 0; i += 4) {
      for (let k = 0; k < 4; k++) {
        hashAt(p, (lo + i + k) | 0, out);
        if ((out[0] & mask) === 0) { want = i + 1; break; }
      }
    }
    if (search(lo, n, mask) !== want) return false;
  }
  return true;
}

// score counts the leading zero bits of a digest.
function score(d) {
  let n = 0;
  for (let i = 0; i < 8; i++) {
    const z = Math.clz32(d[i]);
    n += z;
    if (z < 32) break;
  }
  return n;
}

function nonceBytes(pad, hi, lo) {
  const n = new Uint8Array(pad.length + 8);
  n.set(pad, 0);
  const dv = new DataView(n.buffer);
  dv.setUint32(pad.length, hi >>> 0);
  dv.setUint32(pad.length + 4, lo >>> 0);
  return n;
}

function hex(d) {
  let s = '';
  for (let i = 0; i < d.length; i++) s += (d[i] >>> 0).toString(16).padStart(8, '0');
  return s;
}

// How many nonces between progress reports: a few milliseconds of work, so
// that the page's figures move smoothly and a stop is quick. A power of
// two, so that a search started at a multiple of it never runs past 2^32
// within a chunk.
const CHUNK = 1 << 16;

// found reports a nonce and ends the worker's search.
function found(pad, p, lo, hashes, out) {
  self.postMessage({ found: true, hashes, score: score(out), nonce: nonceBytes(pad, p.hi, lo), digest: hex(out) });
}

// searchJS is the search without WebAssembly: one nonce at a time.
function searchJS(pad, prefix, hi, lo, want) {
  let p = prepare(prefix, pad, hi);
  const out = new Int32Array(8);
  const m = firstMask(want);
  for (;;) {
    for (let i = 0; i < CHUNK; i++) {
      hashAt(p, lo, out);
      if ((out[0] & m) === 0 && score(out) >= want) {
        found(pad, p, lo, i + 1, out);
        return;
      }
      lo = (lo + 1) | 0;
    }
    self.postMessage({ hashes: CHUNK });
    if (lo === 0) p = prepare(prefix, pad, (p.hi + 1) | 0);
  }
}

// searchWasm is the search with pow.wasm: four nonces at a time; the few
// whose first digest word qualifies are checked in full here.
function searchWasm(ex, pad, prefix, hi, lo, want) {
  let p = prepare(prefix, pad, hi);
  if (!selfTest(ex, p, lo)) {
    searchJS(pad, prefix, hi, lo, want);
    return;
  }
  const out = new Int32Array(8);
  const m = firstMask(want);
  for (;;) {
    const search = ex['search' + p.j];
    let from = lo;
    const end = (lo + CHUNK) | 0;
    while (from !== end) {
      const n = (end - from) >>> 0;
      const r = search(from, n, m);
      if (r === 0) break;
      const base = (from + r - 1) | 0;
      for (let k = 0; k < 4; k++) {
        const c = (base + k) | 0;
        hashAt(p, c, out);
        if ((out[0] & m) === 0 && score(out) >= want) {
          found(pad, p, c, ((c - lo) >>> 0) + 1, out);
          return;
        }
      }
      from = (base + 4) | 0;
    }
    self.postMessage({ hashes: CHUNK });
    lo = end;
    if (lo === 0) {
      p = prepare(prefix, pad, (p.hi + 1) | 0);
      wasmLoad(ex.memory, p);
    }
  }
}

// start picks the pad, the counter's high word and where the low word
// starts at random, so that workers (and devices) never try the same
// nonce.
function start(prefix) {
  const rnd = new Uint32Array(2);
  crypto.getRandomValues(rnd);
  const pad = new Uint8Array(padLength(prefix.length));
  crypto.getRandomValues(pad);
  return { pad, hi: rnd[0] | 0, lo: (rnd[1] & ~(CHUNK - 1)) | 0 };
}

self.onmessage = async (ev) => {
  const m = ev.data;
  if (m.cmd === 'digest') {
    // For tests: the digest of prefix || zero pad || counter by the
    // search's own code path.
    const pad = new Uint8Array(padLength(m.prefix.length));
    const p = prepare(m.prefix, pad, m.hi | 0);
    const out = new Int32Array(8);
    hashAt(p, m.lo | 0, out);
    self.postMessage({ digest: hex(out), padLength: pad.length });
    return;
  }
  const ex = await wasmEngine();
  const s = start(m.prefix);
  if (m.cmd === 'selftest') {
    // For tests: which engine a search would use, and whether it agrees
    // with the JavaScript SHA-256.
    self.postMessage({ engine: ex ? 'wasm' : 'js', ok: ex ? selfTest(ex, prepare(m.prefix, s.pad, s.hi), s.lo) : true });
    return;
  }
  if (ex) searchWasm(ex, s.pad, m.prefix, s.hi, s.lo, m.threshold);
  else searchJS(s.pad, m.prefix, s.hi, s.lo, m.threshold);
};
