// Proof of work for the voter app (PROTOCOL.md 5.3): find a nonce whose
// digest SHA-256(prefix || nonce) starts with at least `threshold` zero bits,
// where prefix is P-UTC || raw P-SIG || Voter || option text.
//
// SHA-256 is written here from FIPS 180-4 so that the hot loop can reuse the
// work that does not change between nonces. The nonce is `pad` (0 to 16
// bytes, fixed for the search) followed by an 8-byte big-endian counter.
// The pad is chosen so that the counter and the message padding fit in the
// last 64-byte block; every block before it is the same for every nonce and
// is compressed once, as are the rounds of the last block that come before
// the first word touched by the counter. Each nonce then costs one
// compression of one block, or less.
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

// padLength is how many fixed bytes must precede the 8-byte counter for the
// counter, the 0x80 byte and the 8-byte length to fit in one block.
function padLength(prefixLength) {
  const rem = prefixLength % 64;
  return rem + 8 + 9 <= 64 ? 0 : 64 - rem;
}

// prepare compresses the blocks that do not depend on the counter and
// returns what the search needs.
function prepare(prefix, pad) {
  const total = prefix.length + pad.length + 8;
  const fixed = prefix.length + pad.length; // bytes before the counter
  const full = fixed - (fixed % 64); // bytes in blocks the counter does not touch
  const msg = new Uint8Array(full + 64);
  msg.set(prefix, 0);
  msg.set(pad, prefix.length);
  const off = fixed - full; // the counter's offset in the last block
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
  const first = off >> 2; // first schedule word the counter touches
  const last = (off + 7) >> 2;
  const words = Int32Array.from(W.subarray(0, 16));
  const mid = rounds(h, first);
  return { h, mid, first, last, off, words, block: msg.subarray(full, full + 64).slice() };
}

// hashAt computes the digest for counter (hi, lo) into out.
function hashAt(p, hi, lo, out) {
  const blk = p.block, o = p.off;
  blk[o] = hi >>> 24; blk[o + 1] = hi >>> 16; blk[o + 2] = hi >>> 8; blk[o + 3] = hi;
  blk[o + 4] = lo >>> 24; blk[o + 5] = lo >>> 16; blk[o + 6] = lo >>> 8; blk[o + 7] = lo;
  W.set(p.words);
  for (let i = p.first; i <= p.last; i++) {
    const q = 4 * i;
    W[i] = (blk[q] << 24) | (blk[q + 1] << 16) | (blk[q + 2] << 8) | blk[q + 3];
  }
  compress(p.h, p.mid, p.first, out);
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
// that the page's figures move smoothly and a stop is quick.
const CHUNK = 1 << 14;

self.onmessage = (ev) => {
  const m = ev.data;
  if (m.cmd === 'digest') {
    const pad = new Uint8Array(padLength(m.prefix.length));
    // For tests: the digest of prefix || zero pad || counter by the
    // search's own code path.
    const p = prepare(m.prefix, pad);
    const out = new Int32Array(8);
    hashAt(p, m.hi | 0, m.lo | 0, out);
    self.postMessage({ digest: hex(out), padLength: pad.length });
    return;
  }
  // A search: pad and counter start are random per worker, so that workers
  // (and devices) never try the same nonce.
  const rnd = new Uint32Array(2);
  crypto.getRandomValues(rnd);
  const padBytes = new Uint8Array(padLength(m.prefix.length));
  crypto.getRandomValues(padBytes);
  const p = prepare(m.prefix, padBytes);
  const out = new Int32Array(8);
  const want = m.threshold;
  let hi = rnd[0] | 0, lo = rnd[1] | 0;
  for (;;) {
    for (let i = 0; i < CHUNK; i++) {
      hashAt(p, hi, lo, out);
      if (Math.clz32(out[0]) >= Math.min(want, 32)) {
        const s = score(out);
        if (s >= want) {
          self.postMessage({ found: true, hashes: i + 1, score: s, nonce: nonceBytes(padBytes, hi, lo), digest: hex(out) });
          return;
        }
      }
      lo = (lo + 1) | 0;
      if (lo === 0) hi = (hi + 1) | 0;
    }
    self.postMessage({ hashes: CHUNK });
  }
};
