// The protocol's encodings as powvote's browser apps read and write them,
// the browser's counterpart of packages wire, listline and pow: bytes in
// hex and base64, option texts in headers (PROTOCOL.md 5.1), voter stamps,
// the proof of work's message (5.3), vote lines (8), receipts and their
// signature (5.4, 6), and Ed25519 through WebCrypto.
//
// A classic script, no module: the voter app and the results page load it
// before their own script, their Web Workers with importScripts. It
// defines one global, powvoteWire, and nothing else. Each function names
// the Go function it answers to; testdata/vectors/ holds inputs and the
// answers both must give, replayed by Go and, in Chromium, by these
// functions (cmd/powvote/jsvectors_test.go).
'use strict';

(() => {
  const utf8 = new TextEncoder();

  // ---- bytes ----

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

  // toHex writes bytes as lower-case hex.
  function toHex(bytes) {
    return Array.from(bytes, (x) => x.toString(16).padStart(2, '0')).join('');
  }

  // fromHex reads hex whose form the caller has checked: two digits a
  // byte, either case.
  function fromHex(s) {
    return Uint8Array.from(s.match(/../g) || [], (h) => parseInt(h, 16));
  }

  // toB64 writes standard base64 with padding.
  function toB64(bytes) {
    let bin = '';
    for (const x of bytes) bin += String.fromCharCode(x);
    return btoa(bin);
  }

  // fromB64 decodes standard base64 with padding, or returns null. Like
  // Go's base64.StdEncoding, it does not look at the pad bits of the last
  // symbol; canonicalB64 does.
  function fromB64(s) {
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

  // canonicalB64 decodes the standard padded base64 of exactly n bytes,
  // written as Go's encoding/base64 writes it (pad bits zero), or returns
  // null: one value, one spelling, as listline's parsers and
  // base64.StdEncoding.Strict() read it.
  function canonicalB64(s, n) {
    if (typeof s !== 'string' || s.length !== 4 * Math.ceil(n / 3) || !/^[A-Za-z0-9+/]+={0,2}$/.test(s)) return null;
    let bin;
    try {
      bin = atob(s);
    } catch (e) {
      return null;
    }
    if (bin.length !== n || btoa(bin) !== s) return null;
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  // ---- option texts (PROTOCOL.md 5.1) ----

  // encodeOption writes an option text as a header value (wire.EncodeOption):
  // as it is when it is printable ASCII without '%', else as
  // encodeURIComponent writes it.
  function encodeOption(s) {
    return /^[\x20-\x24\x26-\x7e]*$/.test(s) ? s : encodeURIComponent(s);
  }

  // decodeOption reads an option text from a header value
  // (wire.DecodeOption). It throws a URIError for a '%' that starts no
  // escape and for escapes that do not make UTF-8.
  function decodeOption(v) {
    return v.includes('%') ? decodeURIComponent(v) : v;
  }

  // MAX_OPTION is campaign.MaxOptionLength: bytes of UTF-8.
  const MAX_OPTION = 200;
  // What Go's unicode.IsSpace calls white space, which an option text may
  // neither start nor end with.
  const SPACE = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
  const EDGE_SPACE = new RegExp('^[' + SPACE + ']|[' + SPACE + ']$');
  // '"', line breaks and the other control characters (Unicode Cc).
  const NOT_IN_OPTION = /["\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
  // A UTF-16 surrogate without its other half: no UTF-8 writes it.
  const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

  // isOption reports whether s is an option text the votes list can carry
  // (campaign.ValidateOption): not empty, at most 200 bytes of UTF-8, no
  // '"', no line break or other control character, no white space at
  // either end.
  function isOption(s) {
    return s !== '' && !NOT_IN_OPTION.test(s) && !LONE_SURROGATE.test(s) && !EDGE_SPACE.test(s) &&
      utf8.encode(s).length <= MAX_OPTION;
  }

  // ---- voter stamps (PROTOCOL.md 5.2) ----

  const VOTER_STAMP = /^[0-9A-HJKMNP-TV-Z]{4}(?:-[0-9A-HJKMNP-TV-Z]{4}){7}$/;

  // isVoterStamp reports whether s is a voter stamp as the edge writes it
  // and the votes list carries it (listline.CheckVoterStamp): 8 groups of
  // 4 upper-case Crockford symbols joined by '-'.
  function isVoterStamp(s) {
    return VOTER_STAMP.test(s);
  }

  // stampKey is a voter stamp as typed, read the way PROTOCOL.md 2 reads
  // Crockford symbols: case, white space, '-' and ':' do not count, O is
  // 0 and I and L are 1. A stamp of the votes list gives its 32 symbols,
  // and so does every spelling of it a voter may type.
  function stampKey(s) {
    return s.replace(/[\s\-:]/g, '').toUpperCase().replace(/O/g, '0').replace(/[IL]/g, '1');
  }

  // ---- votes (PROTOCOL.md 5.3 and 8) ----

  // P-UTC as stamp.ParsePUTC reads it: no sign, no leading zero, at most
  // 12 digits.
  const PUTC = /^(?:0|[1-9][0-9]{0,11})$/;
  // A nonce as the votes list writes it: 8 to 32 bytes in lower-case hex.
  const NONCE = /^(?:[0-9a-f]{2}){8,32}$/;

  // powMessage returns what a vote's proof of work hashes (pow.Digest):
  // P-UTC, the raw 64-byte P-SIG, the voter stamp as received, the option
  // text in UTF-8 (decoded, never percent-encoded) and the nonce. Without
  // a nonce it is the prefix the voter's device searches a nonce for
  // (pow.Work.Prefix).
  function powMessage(putc, psig, voter, say, nonce) {
    return concat(utf8.encode(putc), psig, utf8.encode(voter), utf8.encode(say), nonce || new Uint8Array(0));
  }

  // parseVoteLine reads a line of the votes list, "<P-UTC> <P-SIG base64>
  // <Voter> <nonce hex> "<option>"", in the one spelling listline.ParseVote
  // accepts, and returns {putc, psig, voter, nonce, option} (psig and nonce
  // as bytes), or null.
  function parseVoteLine(line) {
    const f = [];
    let from = 0;
    for (let i = 0; i < 4; i++) {
      const sp = line.indexOf(' ', from);
      if (sp < 0) return null;
      f.push(line.slice(from, sp));
      from = sp + 1;
    }
    const quoted = line.slice(from);
    if (!PUTC.test(f[0]) || !isVoterStamp(f[2]) || !NONCE.test(f[3])) return null;
    const psig = canonicalB64(f[1], 64);
    if (psig === null || quoted.length < 2 || quoted[0] !== '"' || quoted[quoted.length - 1] !== '"') return null;
    const option = quoted.slice(1, -1);
    if (!isOption(option)) return null;
    return { putc: f[0], psig, voter: f[2], nonce: fromHex(f[3]), option };
  }

  // ---- retractions (docs/PUBLISHING.md, package listline) ----

  // parseRetractedLine splits a line of the retracted list, "<winning
  // nonce hex> <signature base64> <retracted vote line>", in the one
  // spelling listline.ParseRetracted accepts for its first two fields, and
  // returns {winner (hex), sig (64 bytes), vote (the line)}, or null. The
  // vote line is the caller's to read.
  function parseRetractedLine(line) {
    const a = line.indexOf(' ');
    const b = a < 0 ? -1 : line.indexOf(' ', a + 1);
    if (b < 0) return null;
    const winner = line.slice(0, a);
    const sig = canonicalB64(line.slice(a + 1, b), 64);
    if (!NONCE.test(winner) || sig === null) return null;
    return { winner, sig, vote: line.slice(b + 1) };
  }

  // retractionMessage is what the receipt key signs for a retraction
  // (wire.RetractionMessage): the binding of the retracted vote's line to
  // the winning vote's.
  function retractionMessage(campaign, retracted, winner) {
    return utf8.encode('powvote retraction v1\n' + campaign + '\n' + retracted + '\n' + winner + '\n');
  }

  // ---- receipts (PROTOCOL.md 5.4 and 6) ----

  // receiptMessage is what Receipt-Sig signs (wire.ReceiptMessage): the
  // campaign name, a line feed, and the receipt lines (the ReceiptNN
  // header values as received) joined by line feeds.
  function receiptMessage(campaign, lines) {
    return utf8.encode(campaign + '\n' + lines.join('\n'));
  }

  // formatReceipt writes a receipt as a voter saves it (wire.FormatReceipt).
  function formatReceipt(campaign, lines, sig) {
    let out = 'Campaign: ' + campaign + '\n';
    lines.forEach((l, i) => { out += 'Receipt' + String(i + 1).padStart(2, '0') + ': ' + l + '\n'; });
    return out + 'Receipt-Sig: ' + sig + '\n';
  }

  // verifyReceipt checks a base64 Receipt-Sig over the campaign and the
  // receipt lines under the receipt key pub (32 bytes), as
  // wire.VerifyReceipt does: true, false, or null when this browser cannot
  // verify Ed25519 signatures.
  async function verifyReceipt(pub, campaign, lines, sig) {
    const raw = canonicalB64(sig, 64);
    if (raw === null) return false;
    return verifyEd25519(pub, receiptMessage(campaign, lines), raw);
  }

  // ---- Ed25519 in WebCrypto ----

  // WebCrypto exists only in secure contexts (HTTPS or this machine), and
  // Ed25519 only in recent browsers: without them signatures are reported
  // as not checkable, never as valid. The public key of RFC 8032's first
  // test vector is a valid point, which every browser that has Ed25519
  // imports.
  const RFC8032_PUB = fromHex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
  let ed25519 = null;

  // canVerify resolves to whether this browser (or worker) can verify
  // Ed25519 signatures; it asks once.
  function canVerify() {
    if (ed25519 === null) {
      ed25519 = !self.crypto || !crypto.subtle ? Promise.resolve(false)
        : crypto.subtle.importKey('raw', RFC8032_PUB, { name: 'Ed25519' }, false, ['verify']).then(() => true, () => false);
    }
    return ed25519;
  }

  // verifyEd25519 resolves to whether sig (64 bytes) signs msg under the
  // raw 32-byte public key pub, or to null when this browser cannot verify
  // Ed25519 at all. A key the browser refuses verifies nothing.
  async function verifyEd25519(pub, msg, sig) {
    if (!(await canVerify())) return null;
    if (pub.length !== 32 || sig.length !== 64) return false;
    try {
      const key = await crypto.subtle.importKey('raw', pub, { name: 'Ed25519' }, false, ['verify']);
      return await crypto.subtle.verify({ name: 'Ed25519' }, key, sig, msg);
    } catch (e) {
      return false;
    }
  }

  self.powvoteWire = Object.freeze({
    concat, equalBytes, toHex, fromHex, toB64, fromB64, canonicalB64,
    encodeOption, decodeOption, isOption,
    isVoterStamp, stampKey,
    powMessage, parseVoteLine, parseRetractedLine, retractionMessage,
    receiptMessage, formatReceipt, verifyReceipt,
    canVerify, verifyEd25519,
  });
})();
