package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	be "encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/powvote/powvote/audit"
	"github.com/powvote/powvote/internal/crockford"
	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/mandate"
	"github.com/powvote/powvote/pow"
	"github.com/powvote/powvote/web"
	"github.com/powvote/powvote/wire"
)

// The shared vectors: inputs of the formats that both the Go packages and
// the browser apps implement, with the answer each must give, one JSON
// file a format under testdata/vectors/. TestVectors recomputes every
// answer with the Go implementation; TestJSVectors has the apps compute
// them in Chromium, with the functions the apps themselves run. The files
// are written by the Go implementation:
//
//	go test ./cmd/powvote -run TestVectors -update-vectors
//
// and TestVectors fails when they are not what it would write, so that an
// input added to the generators below reaches both sides.

var updateVectors = flag.Bool("update-vectors", false, "write testdata/vectors/ from the Go implementation instead of checking it")

var vectorsDir = filepath.Join("..", "..", "testdata", "vectors")

// ---- pow.json: vote lines and their proof of work ----

type powFile struct {
	Description string      `json:"description"`
	Vectors     []powVector `json:"vectors"`
}

type powVector struct {
	Why     string `json:"why"`
	Line    string `json:"line"`
	Message string `json:"message,omitempty"` // hex: what the proof of work hashes
	Digest  string `json:"digest,omitempty"`  // hex
	Score   *int   `json:"score,omitempty"`
	Refused bool   `json:"refused,omitempty"` // not a vote line
}

// powOf is the Go answer for a line: listline.ParseVote, then pow.
func powOf(why, line string) powVector {
	v, err := listline.ParseVote(line)
	if err != nil {
		return powVector{Why: why, Line: line, Refused: true}
	}
	w := v.Work()
	d := pow.Digest(w, v.Nonce)
	score := pow.Score(d)
	return powVector{Why: why, Line: line, Message: hex.EncodeToString(append(w.Prefix(), v.Nonce...)), Digest: hex.EncodeToString(d[:]), Score: &score}
}

// exampleVote is the vote of package pow's worked example (score 22), as
// listline's package doc writes its line.
func exampleVote(t *testing.T) listline.Vote {
	t.Helper()
	v, err := listline.ParseVote(`1767225600 Kb7R95/rlQnX7sVm6opyMynjNLcj4y1aSwtRqi6PjVgO0qtPWKXoazw6XYsOW0AoBqIa/qiYo8ijsnwq+Ss+Cw== 7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS-1NCA-8FYQ 09a733f6d68415da "Énergie solaire"`)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// vectorBytes returns n bytes that depend only on label.
func vectorBytes(label string, n int) []byte {
	var out []byte
	for i := 0; len(out) < n; i++ {
		h := sha256.Sum256(fmt.Appendf(nil, "powvote vectors %s %d", label, i))
		out = append(out, h[:]...)
	}
	return out[:n]
}

func genPow(t *testing.T) powFile {
	ex := exampleVote(t)
	with := func(change func(v *listline.Vote)) string {
		v := ex
		v.Nonce = slices.Clone(ex.Nonce)
		change(&v)
		return v.Line()
	}
	nonce := func(n int) func(v *listline.Vote) {
		return func(v *listline.Vote) { v.Nonce = vectorBytes(fmt.Sprint("nonce", n), n) }
	}
	// option returns a change to an option of n ASCII bytes, with
	// P-UTC putc: the message is len(putc) + 64 + 39 + n + 8 bytes.
	option := func(putc string, n int) func(v *listline.Vote) {
		return func(v *listline.Vote) {
			v.PUTC = putc
			v.Option = strings.Repeat("Sun ", n)[:n-1] + "!"
			v.Nonce = vectorBytes(fmt.Sprint("option", n), 8)
		}
	}
	// A vote whose nonce was searched for, from a counter of 0, until its
	// score reached 16.
	mined := ex
	mined.Option = "Bold Jupiter"
	for i := uint64(0); ; i++ {
		mined.Nonce = be.BigEndian.AppendUint64(nil, i)
		if pow.Score(pow.Digest(mined.Work(), mined.Nonce)) >= 16 {
			break
		}
	}
	line := ex.Line()
	sig := base64.StdEncoding.EncodeToString(ex.PSig[:])
	putc, voter, nonceHex := ex.PUTC, ex.Voter, hex.EncodeToString(ex.Nonce)
	f := func(field, repl string) string { return strings.Replace(line, field, repl, 1) }
	vs := []powVector{
		powOf("package pow's worked example: score 22", line),
		powOf("a nonce searched for from a counter of 0 until the score reached 16", mined.Line()),
		powOf("an ASCII option", with(func(v *listline.Vote) { v.Option = "Bold Jupiter" })),
		powOf("a nonce of 12 bytes", with(nonce(12))),
		powOf("a nonce of 20 bytes", with(nonce(20))),
		powOf("a nonce of 31 bytes", with(nonce(31))),
		powOf("a nonce of 32 bytes, the longest", with(nonce(32))),
		powOf("P-UTC 0", with(func(v *listline.Vote) { v.PUTC = "0" })),
		powOf("P-UTC of 12 digits, the longest", with(func(v *listline.Vote) { v.PUTC = "999999999999" })),
		powOf("a 119-byte message: its length fits in its last block", with(option("0", 7))),
		powOf("a 120-byte message: its length needs a block of its own", with(option("0", 8))),
		powOf("a 128-byte message: two whole blocks", with(option("1767225600", 7))),
		powOf("a 183-byte message", with(option("1767225600", 62))),
		powOf("a 184-byte message", with(option("1767225600", 63))),
		powOf("a 192-byte message: three whole blocks", with(option("1767225600", 71))),
		powOf("an option of 200 bytes of UTF-8, the longest", with(func(v *listline.Vote) { v.Option = strings.Repeat("Ω", 100) })),
		powOf("an option with characters of four bytes in UTF-8 and a '%'", with(func(v *listline.Vote) { v.Option = "🌞 100% Sun" })),
		powOf("an option with a single quote, a backslash and inner spaces", with(func(v *listline.Vote) { v.Option = `Don't  \ care` })),

		powOf("refused: P-SIG in base64 whose pad bits are not zero (the same 64 bytes)", f(sig, strings.Replace(sig, "Cw==", "Cx==", 1))),
		powOf("refused: P-SIG without its padding", f(sig, strings.TrimRight(sig, "="))),
		powOf("refused: P-SIG in URL-safe base64", f(sig, strings.ReplaceAll(sig, "+", "-"))),
		powOf("refused: P-SIG of 63 bytes", f(sig, base64.StdEncoding.EncodeToString(ex.PSig[:63]))),
		powOf("refused: P-UTC with a leading zero", f(putc, "0"+putc)),
		powOf("refused: P-UTC of 13 digits", f(putc, putc+"000")),
		powOf("refused: P-UTC with a sign", f(putc, "+"+putc)),
		powOf("refused: voter stamp in lower case", f(voter, strings.ToLower(voter))),
		powOf("refused: voter stamp with O for 0", f(voter, strings.Replace(voter, "0", "O", 1))),
		powOf("refused: voter stamp with U, a check symbol", f(voter, strings.Replace(voter, "7Q2M", "7U2M", 1))),
		powOf("refused: voter stamp without dashes", f(voter, strings.ReplaceAll(voter, "-", ""))),
		powOf("refused: nonce in upper-case hex", f(nonceHex, strings.ToUpper(nonceHex))),
		powOf("refused: nonce of 7 bytes", f(nonceHex, nonceHex[:14])),
		powOf("refused: nonce of 33 bytes", f(nonceHex, hex.EncodeToString(vectorBytes("nonce33", 33)))),
		powOf("refused: nonce of an odd number of hex digits", f(nonceHex, nonceHex+"0")),
		powOf("refused: option without quotes", strings.Replace(strings.TrimSuffix(line, `"`), ` "`, " ", 1)),
		powOf("refused: option with a double quote inside", with(func(v *listline.Vote) { v.Option = `Bold "Jupiter` })),
		powOf("refused: empty option", with(func(v *listline.Vote) { v.Option = "" })),
		powOf("refused: option starting with a space", with(func(v *listline.Vote) { v.Option = " Pluto" })),
		powOf("refused: option ending with a no-break space", with(func(v *listline.Vote) { v.Option = "Pluto\u00a0" })),
		powOf("refused: option with a tab", with(func(v *listline.Vote) { v.Option = "Bold\tJupiter" })),
		powOf("refused: option with a line separator (U+2028)", with(func(v *listline.Vote) { v.Option = "Bold\u2028Jupiter" })),
		powOf("refused: option with a C1 control character (U+0085)", with(func(v *listline.Vote) { v.Option = "Bold\u0085Jupiter" })),
		powOf("refused: option of 201 bytes", with(func(v *listline.Vote) { v.Option = strings.Repeat("Ω", 100) + "!" })),
		powOf("refused: two spaces after P-UTC", f(putc+" ", putc+"  ")),
		powOf("refused: a carriage return after the closing quote", line+"\r"),
		powOf("refused: four fields", strings.Join(strings.Fields(line)[:4], " ")),
		powOf("refused: an empty line", ""),
	}
	return powFile{
		Description: "Lines of a votes list (PROTOCOL.md 8) and what their proof of work covers (5.3): the message, P-UTC || raw P-SIG || Voter || option text in UTF-8 || nonce, in hex; its SHA-256; and the score, its leading zero bits. A line that is not written exactly as package listline writes a vote is refused, and has no score. Go: listline.ParseVote, pow.Digest, pow.Score. JavaScript: powvoteWire.parseVoteLine and powMessage (web/voter/wire.js) and the check page's workers (web/check/check-worker.js), through window.powcheck.scoreLines. Written by cmd/powvote/jsvectors_test.go.",
		Vectors:     vs,
	}
}

func checkPowFile(t *testing.T, f powFile) {
	checkVectors(t, "pow.json", f.Vectors, func(v powVector) powVector { return powOf(v.Why, v.Line) }, powEqual)
}

func powEqual(a, b powVector) bool {
	if a.Refused || b.Refused {
		return a.Refused == b.Refused && a.Score == nil && b.Score == nil && a.Message == "" && b.Message == ""
	}
	return a.Message == b.Message && a.Digest == b.Digest && a.Score != nil && b.Score != nil && *a.Score == *b.Score
}

// ---- stamps.json: voter stamps as typed ----

type stampFile struct {
	Description string        `json:"description"`
	Vectors     []stampVector `json:"vectors"`
}

type stampVector struct {
	Why    string `json:"why"`
	Input  string `json:"input"`
	Stamp  string `json:"stamp,omitempty"` // the stamp it reads as, "" for none
	Listed bool   `json:"listed"`          // written as the votes list writes a stamp
}

// stampOf is the Go answer: the stamp a PROTOCOL.md 2 decoder
// (internal/crockford) reads as 20 bytes, in the edge's spelling, and
// whether listline takes the input as a list's stamp.
func stampOf(why, input string) stampVector {
	v := stampVector{Why: why, Input: input, Listed: listline.CheckVoterStamp(input) == nil}
	if b, err := crockford.Decode(input); err == nil && len(b) == 20 {
		v.Stamp = crockford.Group(crockford.Encode(b), "-", 4)
	}
	return v
}

func genStamps() stampFile {
	const a, b = "7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS-1NCA-8FYQ", "008J-4CT4-ANK7-F24S-NAXW-SQFE-ZWCA-TH4H"
	vs := []stampVector{
		stampOf("the voter stamp of package pow's worked example", a),
		stampOf("the voter stamp of package stamp's worked example", b),
		stampOf("the example on the check page", "8MSD-JR3X-GF1D-GCFT-CKWP-15P0-JKY3-YTFZ"),
		stampOf("lower case", strings.ToLower(a)),
		stampOf("without dashes", strings.ReplaceAll(a, "-", "")),
		stampOf("spaces for dashes", strings.ReplaceAll(a, "-", " ")),
		stampOf("colons for dashes", strings.ReplaceAll(a, "-", ":")),
		stampOf("spaces around it", "  "+a+" "),
		stampOf("groups of 8", crockford.Group(strings.ReplaceAll(a, "-", ""), "-", 8)),
		stampOf("O for 0 and I for 1", strings.NewReplacer("0", "O", "1", "I").Replace(a)),
		stampOf("o for 0 and l for 1", strings.NewReplacer("0", "o", "1", "l").Replace(a)),
		stampOf("none: 31 symbols", a[:len(a)-1]),
		stampOf("none: 33 symbols", a+"0"),
		stampOf("none: U, a check symbol only", strings.Replace(a, "7Q2M", "7U2M", 1)),
		stampOf("none: *, a check symbol only", strings.Replace(a, "7Q2M", "7*2M", 1)),
		stampOf("none: a letter outside ASCII", strings.Replace(a, "W4XE", "W4XÉ", 1)),
		stampOf("none: empty", ""),
	}
	return stampFile{
		Description: "Voter stamps (PROTOCOL.md 5.2) as a voter may type them, and the stamp each reads as when case, spaces, '-' and ':' do not count and O reads as 0, I and L as 1 (PROTOCOL.md 2), or none; listed says whether the input is the stamp as the edge writes it and the votes list carries it. Go: internal/crockford.Decode and listline.CheckVoterStamp. JavaScript: powvoteWire.stampKey, the key by which the check page finds a stamp, must be the stamp's 32 symbols, or for none not 32 symbols of the alphabet; powvoteWire.isVoterStamp gives listed. The JavaScript also skips white space other than spaces, which no vector holds. Written by cmd/powvote/jsvectors_test.go.",
		Vectors:     vs,
	}
}

func checkStampFile(t *testing.T, f stampFile) {
	checkVectors(t, "stamps.json", f.Vectors, func(v stampVector) stampVector { return stampOf(v.Why, v.Input) }, equal)
}

// ---- options.json: option texts in headers ----

type optionFile struct {
	Description string         `json:"description"`
	Vectors     []optionVector `json:"vectors"`
}

type optionVector struct {
	Why     string `json:"why"`
	Header  string `json:"header"`
	Text    string `json:"text,omitempty"`    // the text it decodes to
	Encoded string `json:"encoded,omitempty"` // how the text is encoded
	Refused bool   `json:"refused,omitempty"`
}

func optionOf(why, header string) optionVector {
	text, err := wire.DecodeOption(header)
	if err != nil {
		return optionVector{Why: why, Header: header, Refused: true}
	}
	return optionVector{Why: why, Header: header, Text: text, Encoded: wire.EncodeOption(text)}
}

func genOptions() optionFile {
	var vs []optionVector
	for _, c := range []struct{ why, text string }{
		{"plain ASCII", "Pluto"},
		{"plain ASCII with spaces", "Bold Jupiter"},
		{"a letter outside ASCII", "Énergie solaire"},
		{"a '%', which is always encoded", "100% renewable"},
		{"'+', '=', '&' and '?' stay as they are", "a+b=c&d?"},
		{"what encodeURIComponent leaves alone", "Don't (maybe)!~*_-."},
		{"a tab", "Tab\there"},
		{"characters of four bytes in UTF-8", "🌞 Sun"},
		{"letters of several scripts and a dash", "Zürich – Genève 日本語"},
		{"a backslash and a double quote", `back\slash "q"`},
		{"a lone '%'", "%"},
	} {
		vs = append(vs, optionOf("round trip: "+c.why, wire.EncodeOption(c.text)))
	}
	for _, c := range []struct{ why, header string }{
		{"lower-case escapes", "%c3%a9t%c3%a9"},
		{"an escape of a letter that needs none", "%41BC"},
		{"UTF-8 sent as it is, with no escape", "Zürich"},
		{"an escaped space in plain ASCII", "a%20b"},
		{"refused: a '%' at the end", "100%"},
		{"refused: '%' alone", "%"},
		{"refused: an escape cut short", "a%2"},
		{"refused: an escape that is not hex", "%zz"},
		{"refused: an escape with a letter past F", "%G0"},
		{"refused: '%%'", "%%41"},
		{"refused: UTF-8 cut short", "%C3"},
		{"refused: a byte that is never UTF-8", "%FF"},
		{"refused: a lead byte without its continuation", "%C3%28"},
		{"refused: a surrogate in UTF-8", "%ED%A0%80"},
		{"refused: an overlong encoding of '/'", "%C0%AF"},
		{"refused: beyond U+10FFFF", "%F4%90%80%80"},
	} {
		vs = append(vs, optionOf("decode: "+c.why, c.header))
	}
	return optionFile{
		Description: "Option texts as headers carry them (PROTOCOL.md 5.1): each header value, the text it decodes to and the encoding of that text, which is the header itself where the encoding is the one writers use; or refused, for a '%' that starts no escape or escapes that do not make UTF-8. Go: wire.DecodeOption and wire.EncodeOption. JavaScript: powvoteWire.decodeOption (it throws to refuse) and powvoteWire.encodeOption, which the voter app and the check page use. Written by cmd/powvote/jsvectors_test.go.",
		Vectors:     vs,
	}
}

func checkOptionFile(t *testing.T, f optionFile) {
	checkVectors(t, "options.json", f.Vectors, func(v optionVector) optionVector { return optionOf(v.Why, v.Header) }, equal)
}

// ---- receipts.json: what Receipt-Sig signs ----

type receiptFile struct {
	Description string          `json:"description"`
	Key         string          `json:"key"` // base64 of the receipt key's public half
	Vectors     []receiptVector `json:"vectors"`
}

type receiptVector struct {
	Why      string   `json:"why"`
	Campaign string   `json:"campaign"`
	Lines    []string `json:"lines"`
	Sig      string   `json:"sig"`
	Message  string   `json:"message"` // what Receipt-Sig signs
	Text     string   `json:"text"`    // the receipt as saved
	Valid    bool     `json:"valid"`
}

func receiptOf(pub ed25519.PublicKey, why, campaign string, lines []string, sig string) receiptVector {
	return receiptVector{
		Why: why, Campaign: campaign, Lines: lines, Sig: sig,
		Message: string(wire.ReceiptMessage(campaign, lines)),
		Text:    wire.FormatReceipt(campaign, lines, sig),
		Valid:   wire.VerifyReceipt(pub, campaign, lines, sig) == nil,
	}
}

// vectorKey is the receipt key of the vectors: RFC 8032 section 7.1,
// TEST 1.
func vectorKey(t *testing.T) ed25519.PrivateKey {
	seed, err := hex.DecodeString("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
	if err != nil {
		t.Fatal(err)
	}
	return ed25519.NewKeyFromSeed(seed)
}

func genReceipts(t *testing.T) receiptFile {
	key := vectorKey(t)
	pub := key.Public().(ed25519.PublicKey)
	lines := []string{
		"8MSD-JR3X-GF1D-GCFT-CKWP-15P0-JKY3-YTFZ Bold Jupiter",
		"7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS-1NCA-8FYQ %C3%89nergie%20solaire",
		"- Pluto",
	}
	sig := wire.SignReceipt(key, "solar", lines)
	raw, _ := base64.StdEncoding.DecodeString(sig)
	flipped := slices.Clone(raw)
	flipped[10] ^= 0x20
	one := []string{"008J-4CT4-ANK7-F24S-NAXW-SQFE-ZWCA-TH4H 100%25%20renewable"}
	swapped := []string{lines[1], lines[0], lines[2]}
	changed := slices.Clone(lines)
	changed[0] = mistype(changed[0])
	return receiptFile{
		Description: "Receipts (PROTOCOL.md 5.4 and 6): a campaign, its receipt lines and a Receipt-Sig; the message the signature covers (the campaign, a line feed and the lines joined by line feeds), the receipt as a voter saves it, and whether the signature verifies under key (RFC 8032 section 7.1 TEST 1). A Receipt-Sig that is not the canonical base64 of 64 bytes verifies nothing. Go: wire.ReceiptMessage, wire.FormatReceipt, wire.VerifyReceipt. JavaScript: powvoteWire.receiptMessage, formatReceipt and verifyReceipt, and the voter app's own check (window.powvote.verifyReceipt). Written by cmd/powvote/jsvectors_test.go.",
		Key:         base64.StdEncoding.EncodeToString(pub),
		Vectors: []receiptVector{
			receiptOf(pub, "a receipt of three lines, one for an option nobody had chosen yet", "solar", lines, sig),
			receiptOf(pub, "a receipt of one line with an encoded option", "moon", one, wire.SignReceipt(key, "moon", one)),
			receiptOf(pub, "refused: signed for another campaign", "lunar", lines, sig),
			receiptOf(pub, "refused: the lines in another order", "solar", swapped, sig),
			receiptOf(pub, "refused: one symbol of a stamp changed", "solar", changed, sig),
			receiptOf(pub, "refused: one bit of the signature changed", "solar", lines, base64.StdEncoding.EncodeToString(flipped)),
			receiptOf(pub, "refused: the signature with S + L for S", "solar", lines, base64.StdEncoding.EncodeToString(plusL(raw))),
			receiptOf(pub, "refused: the signature in base64 whose pad bits are not zero (the same 64 bytes)", "solar", lines, nonCanonical64(t, sig)),
			receiptOf(pub, "refused: the signature without its padding", "solar", lines, strings.TrimRight(sig, "=")),
			receiptOf(pub, "refused: the signature with a line feed inside", "solar", lines, sig[:30]+"\n"+sig[30:]),
			receiptOf(pub, "refused: 63 bytes of the signature", "solar", lines, base64.StdEncoding.EncodeToString(raw[:63])),
			receiptOf(pub, "refused: no signature", "solar", lines, ""),
		},
	}
}

// plusL returns an Ed25519 signature with its scalar S (the last 32
// bytes, little-endian) replaced by S + L, L being the order of the base
// point: the same signature to a verifier that does not require S < L, as
// RFC 8032 does.
func plusL(sig []byte) []byte {
	l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
	s := new(big.Int).SetBytes(reversed(sig[32:]))
	s.Add(s, l)
	return append(slices.Clone(sig[:32]), reversed(s.FillBytes(make([]byte, 32)))...)
}

func reversed(b []byte) []byte {
	r := slices.Clone(b)
	slices.Reverse(r)
	return r
}

// nonCanonical64 returns the base64 of 64 bytes, b64, with the pad bits
// of its last symbol set: the same bytes in a spelling Go's strict
// decoder refuses.
func nonCanonical64(t *testing.T, b64 string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	if len(b64) != 88 || !strings.HasSuffix(b64, "==") {
		t.Fatalf("%q is not the base64 of 64 bytes", b64)
	}
	last := strings.IndexByte(alphabet, b64[85])
	return b64[:85] + string(alphabet[last|1]) + "=="
}

func checkReceiptFile(t *testing.T, f receiptFile) {
	pub, err := base64.StdEncoding.DecodeString(f.Key)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		t.Fatalf("receipts.json: key %q", f.Key)
	}
	checkVectors(t, "receipts.json", f.Vectors, func(v receiptVector) receiptVector { return receiptOf(pub, v.Why, v.Campaign, v.Lines, v.Sig) },
		func(a, b receiptVector) bool { return a.Message == b.Message && a.Text == b.Text && a.Valid == b.Valid })
}

// ---- cards.json: mandate card lines ----

type cardFile struct {
	Description string       `json:"description"`
	Cards       []cardVector `json:"cards"`
	Lines       []lineVector `json:"lines"`
}

type cardVector struct {
	Why   string   `json:"why"`
	Token string   `json:"token"` // hex, 120 bytes
	Lines []string `json:"lines"` // the 12 lines as printed
}

type lineVector struct {
	Why   string `json:"why"`
	N     int    `json:"n"` // the field, 1 to 12
	Text  string `json:"text"`
	Bytes string `json:"bytes,omitempty"` // hex, the line's 10 token bytes
	Error string `json:"error,omitempty"` // length, symbol or check
}

func cardOf(t *testing.T, why, tokenHex string) cardVector {
	t.Helper()
	tok, err := mandate.ParseHex(tokenHex)
	if err != nil {
		t.Fatalf("cards.json: %s: %v", why, err)
	}
	lines := tok.Card()
	return cardVector{Why: why, Token: tokenHex, Lines: lines[:]}
}

func lineOf(t *testing.T, why string, n int, text string) lineVector {
	t.Helper()
	v := lineVector{Why: why, N: n, Text: text}
	b, err := mandate.ParseCardLine(n, text)
	switch {
	case err == nil:
		v.Bytes = hex.EncodeToString(b[:])
	case errors.Is(err, mandate.ErrLineLength):
		v.Error = "length"
	case errors.Is(err, crockford.ErrSymbol):
		v.Error = "symbol"
	case errors.Is(err, crockford.ErrCheck):
		v.Error = "check"
	default:
		t.Fatalf("cards.json: %s: ParseCardLine(%d, %q): %v", why, n, text, err)
	}
	return v
}

// symbolToken returns a token whose lines 1 to 5 end in the check-only
// symbols * ~ $ = U and whose line 6 starts with 1: bytes that depend only
// on the line, searched for until they do.
func symbolToken() string {
	var tok []byte
	for line := range mandate.CardLines {
		for i := 0; ; i++ {
			b := vectorBytes(fmt.Sprint("card", line, i), 10)
			switch {
			case line < 5 && crockford.CheckSymbol(b) != "*~$=U"[line]:
				continue
			case line == 5 && crockford.Encode(b)[0] != '1':
				continue
			}
			tok = append(tok, b...)
			break
		}
	}
	return hex.EncodeToString(tok)
}

func genCards(t *testing.T) cardFile {
	ex := exampleVoterToken(t)
	special := symbolToken()
	cards := []cardVector{
		cardOf(t, "the mandate of package mandate's example: RFC 8032 TEST 1 key, auth-id the bytes 0 to 23", ex),
		cardOf(t, "lines ending in each check-only symbol, * ~ $ = U, and a line starting with 1", special),
		cardOf(t, "all bytes 0", strings.Repeat("00", mandate.TokenSize)),
		cardOf(t, "all bytes 255", strings.Repeat("ff", mandate.TokenSize)),
	}
	e, s := cards[0].Lines, cards[1].Lines
	// A line of the example with a 0 or a 1 in it, to type as O, I or L.
	n01 := slices.IndexFunc(e, func(l string) bool { return strings.ContainsAny(l, "01") }) + 1
	l1 := e[0]
	compact := strings.ReplaceAll(l1, " ", "")
	// The first two neighbouring symbols that differ, swapped.
	at := 0
	for compact[at] == compact[at+1] {
		at++
	}
	swapped := compact[:at] + compact[at+1:at+2] + compact[at:at+1] + compact[at+2:]
	lines := []lineVector{
		lineOf(t, "line 1 as printed", 1, l1),
		lineOf(t, "line 12 as printed", 12, e[11]),
		lineOf(t, "in lower case", 1, strings.ToLower(l1)),
		lineOf(t, "without spaces", 1, compact),
		lineOf(t, "dashes for spaces", 1, strings.ReplaceAll(l1, " ", "-")),
		lineOf(t, "colons for spaces", 1, strings.ReplaceAll(l1, " ", ":")),
		lineOf(t, "tabs, spaces around it and a line ending", 1, " \t"+strings.ReplaceAll(l1, " ", "\t")+"  \r\n"),
		lineOf(t, "a label with the line's number and a colon", 1, "1: "+l1),
		lineOf(t, "a label with a leading zero and a full stop", 1, "01. "+l1),
		lineOf(t, "a label with a parenthesis and no space", 1, "1)"+l1),
		lineOf(t, "a label with a tab", 1, "1\t"+l1),
		lineOf(t, "a label of two digits", 12, "12: "+e[11]),
		lineOf(t, "O for 0, I and l for 1", n01, strings.NewReplacer("0", "O", "1", "I").Replace(e[n01-1])),
		lineOf(t, "l for 1 and o for 0", n01, strings.NewReplacer("0", "o", "1", "l").Replace(e[n01-1])),
		lineOf(t, "check symbol *", 1, s[0]),
		lineOf(t, "check symbol ~", 2, s[1]),
		lineOf(t, "check symbol $", 3, s[2]),
		lineOf(t, "check symbol =", 4, s[3]),
		lineOf(t, "check symbol U", 5, s[4]),
		lineOf(t, "check symbol u, in lower case", 5, strings.ToLower(s[4])),
		lineOf(t, "a line that starts with its own number, typed with a space after it", 6, s[5][:1]+" "+s[5][1:]),
		lineOf(t, "a line that starts with its own number, typed with a label", 6, "6: "+s[5]),

		lineOf(t, "refused (check): one symbol changed", 1, mistype(l1)),
		lineOf(t, "refused (check): two neighbouring symbols swapped", 1, swapped),
		lineOf(t, "refused (length): a symbol left out", 1, compact[:16]),
		lineOf(t, "refused (length): a symbol too many", 1, "0"+compact),
		lineOf(t, "refused (length): empty", 1, ""),
		lineOf(t, "refused (length): spaces only", 1, "   "),
		lineOf(t, "refused (length): the label of another line, read as symbols", 1, "2: "+l1),
		lineOf(t, "refused (length): a label of three digits, read as symbols", 12, "012: "+e[11]),
		lineOf(t, "refused (symbol): a character that is no symbol", 1, l1[:5]+"!"+l1[5:]),
		lineOf(t, "refused (symbol): a letter outside ASCII", 1, "É"+l1[1:]),
		lineOf(t, "refused (symbol): a no-break space", 1, strings.Replace(l1, " ", "\u00a0", 1)),
		lineOf(t, "refused (symbol): U, a check symbol, before the last", 1, "U"+l1[1:]),
		lineOf(t, "refused (symbol): *, a check symbol, before the last", 1, l1[:2]+"*"+l1[3:]),
		lineOf(t, "refused (symbol): a short line with a character that is no symbol", 1, "AB!"),
		lineOf(t, "refused (symbol): a symbol after the check symbol *", 1, s[0]+"0"),
		lineOf(t, "refused (symbol): a line ending inside it", 1, l1[:9]+"\n"+l1[9:]),
	}
	return cardFile{
		Description: "Mandate cards (PROTOCOL.md 2 and 3): tokens (hex) and the 12 lines printed for them; and card lines as typed into field n, with their 10 token bytes (hex) or why they are refused: symbol (a character that is no symbol, or a check-only symbol before the last; said before a wrong count), length (not 17 symbols) or check (the check symbol does not match). Go: mandate.Token.Card and mandate.ParseCardLine. JavaScript: the voter app's encodeLine and parseLine (web/voter/app.js), through window.powvote.cardLines and parseCardLine. Written by cmd/powvote/jsvectors_test.go.",
		Cards:       cards,
		Lines:       lines,
	}
}

// exampleVoterToken is the token of the mandate in listline's package doc.
func exampleVoterToken(t *testing.T) string {
	v, err := listline.ParseVoter("11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo= u++K575Y7oX/nNprygVLXEKjvZ53DIK4MEBnlCfiN7ksHyPGoEclZ204aFC9Eu/y+N9SCV4xdXNnv2ttf1MTAg== AAECAwQFBgcICQoLDA0ODxAREhMUFRYX")
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(slices.Concat(v.Pkey[:], v.Sig[:], v.ID[:]))
}

func checkCardFile(t *testing.T, f cardFile) {
	for i, c := range f.Cards {
		if got := cardOf(t, c.Why, c.Token); !slices.Equal(got.Lines, c.Lines) {
			t.Errorf("cards.json card %d (%s): Go prints %q, the file %q", i+1, c.Why, got.Lines, c.Lines)
		}
	}
	checkVectors(t, "cards.json line", f.Lines, func(l lineVector) lineVector { return lineOf(t, l.Why, l.N, l.Text) }, equal)
}

// ---- checkpoints.json: the text of a signed checkpoint ----

type checkpointFile struct {
	Description string             `json:"description"`
	Vectors     []checkpointVector `json:"vectors"`
}

type checkpointVector struct {
	Why      string `json:"why"`
	Text     string `json:"text"`
	Origin   string `json:"origin,omitempty"`
	Size     *int64 `json:"size,omitempty"`
	Root     string `json:"root,omitempty"`     // base64
	Settings string `json:"settings,omitempty"` // "" without a settings line
	Refused  bool   `json:"refused,omitempty"`
}

func checkpointOf(why, text string) checkpointVector {
	cp, err := audit.ParseCheckpoint(text)
	if err != nil {
		return checkpointVector{Why: why, Text: text, Refused: true}
	}
	return checkpointVector{Why: why, Text: text, Origin: cp.Origin, Size: &cp.Tree.N, Root: base64.StdEncoding.EncodeToString(cp.Tree.Hash[:]), Settings: cp.Settings}
}

func genCheckpoints(t *testing.T) checkpointFile {
	root, err := tlog.ParseHash("7SzLwCSl0yXBYxbgIz+cLaOHWDMCIfcF+dMd4NIMo6U=")
	if err != nil {
		t.Fatal(err)
	}
	const origin = "powvote/solar/vote"
	settings := audit.SettingsHash(nil)
	tree := tlog.Tree{N: 308, Hash: root}
	with := audit.CheckpointText(origin, tree, settings)
	without := audit.CheckpointText(origin, tree, "")
	rootB64 := base64.StdEncoding.EncodeToString(root[:])
	bad := func(what, repl string) string { return strings.Replace(with, what, repl, 1) }
	vs := []checkpointVector{
		checkpointOf("a checkpoint with a settings line, as the publisher writes it", with),
		checkpointOf("a checkpoint from before the settings line", without),
		checkpointOf("another extension line after the settings line", with+"example.org/extension one\n"),
		checkpointOf("another extension line only", without+"example.org/extension one\n"),
		checkpointOf("an extension line whose first word only starts with settings", without+"settingsfile abc\n"),
		checkpointOf("the empty list", audit.CheckpointText("powvote/solar/auth", tlog.Tree{N: 0, Hash: sha256.Sum256(nil)}, settings)),
		checkpointOf("the largest size the check page reads, 2^53 - 1", audit.CheckpointText("powvote/solar/retracted", tlog.Tree{N: 1<<53 - 1, Hash: root}, "")),
		checkpointOf("an origin with a space", audit.CheckpointText("example.org/log one", tree, "")),

		checkpointOf("refused: no final line feed", strings.TrimSuffix(with, "\n")),
		checkpointOf("refused: an empty origin", strings.TrimPrefix(with, origin)),
		checkpointOf("refused: origin and size only", origin+"\n308\n"),
		checkpointOf("refused: size with a leading zero", bad("\n308\n", "\n0308\n")),
		checkpointOf("refused: a negative size", bad("\n308\n", "\n-1\n")),
		checkpointOf("refused: size with a sign", bad("\n308\n", "\n+308\n")),
		checkpointOf("refused: size with a decimal point", bad("\n308\n", "\n308.0\n")),
		checkpointOf("refused: size in exponent notation", bad("\n308\n", "\n3.08e2\n")),
		checkpointOf("refused: an empty size", bad("\n308\n", "\n\n")),
		checkpointOf("refused: size with a space", bad("\n308\n", "\n 308\n")),
		checkpointOf("refused: root hash in base64 whose pad bits are not zero (the same 32 bytes)", bad(rootB64, rootB64[:42]+"V=")),
		checkpointOf("refused: root hash without its padding", bad(rootB64, strings.TrimSuffix(rootB64, "="))),
		checkpointOf("refused: root hash with a carriage return inside", bad(rootB64, rootB64[:20]+"\r"+rootB64[20:])),
		checkpointOf("refused: root hash of 31 bytes", bad(rootB64, base64.StdEncoding.EncodeToString(root[:31]))),
		checkpointOf("refused: root hash of 33 bytes", bad(rootB64, base64.StdEncoding.EncodeToString(append(root[:], 0)))),
		checkpointOf("refused: root hash in hex", bad(rootB64, hex.EncodeToString(root[:]))),
		checkpointOf("refused: settings hash in upper case", bad(settings, strings.ToUpper(settings))),
		checkpointOf("refused: settings hash of 63 digits", bad(settings, settings[:63])),
		checkpointOf("refused: settings hash of 65 digits", bad(settings, settings+"0")),
		checkpointOf("refused: settings without a hash", without+"settings\n"),
		checkpointOf("refused: a settings line after another extension line: it must be the first", without+"example.org/extension one\n"+"settings "+settings+"\n"),
		checkpointOf("refused: two spaces after settings", bad("settings ", "settings  ")),
		checkpointOf("refused: two settings lines", with+"settings "+settings+"\n"),
		checkpointOf("refused: an empty extension line", with+"\n"),
	}
	return checkpointFile{
		Description: "Texts of signed checkpoints (PROTOCOL.md 8, docs/PUBLISHING.md), without their signatures: origin, size, root hash (base64) and the settings line's hash, or refused. Go: audit.ParseCheckpoint. JavaScript: the check page's parseCheckpoint (web/check/check.js), through window.powcheck.parseCheckpoint. Left out because the two differ: sizes of 2^53 or more (beyond the check page's numbers). Written by cmd/powvote/jsvectors_test.go.",
		Vectors:     vs,
	}
}

func checkCheckpointFile(t *testing.T, f checkpointFile) {
	checkVectors(t, "checkpoints.json", f.Vectors, func(v checkpointVector) checkpointVector { return checkpointOf(v.Why, v.Text) },
		func(a, b checkpointVector) bool {
			return a.Refused == b.Refused && a.Origin == b.Origin && a.Root == b.Root && a.Settings == b.Settings &&
				(a.Size == nil) == (b.Size == nil) && (a.Size == nil || *a.Size == *b.Size)
		})
}

// ---- growth.json: histories, read, grown and kept per minute ----

type growthFile struct {
	Description string         `json:"description"`
	Vectors     []growthVector `json:"vectors"`
}

type growthVector struct {
	Why     string         `json:"why"`
	Options []string       `json:"options"`
	History string         `json:"history"`
	Lines   []int          `json:"lines"`   // the lines read, by number
	Refused []int          `json:"refused"` // the lines refused, ascending
	Growth  []audit.Growth `json:"growth"`
	Minutes []int          `json:"minutes"` // the lines kept per minute
}

// growthOf is the Go answer for a history: audit.ParseHistory, then
// audit.HistoryGrowth and audit.PerMinute of the lines read.
func growthOf(why string, options []string, history string) growthVector {
	if options == nil {
		options = []string{} // a ballot of no option, [] rather than null
	}
	hist, bad := audit.ParseHistory([]byte(history), len(options))
	v := growthVector{Why: why, Options: options, History: history, Lines: []int{}, Refused: []int{}, Minutes: []int{}, Growth: audit.HistoryGrowth(hist, options)}
	for _, h := range hist {
		v.Lines = append(v.Lines, h.Line)
	}
	for ln := range bad {
		v.Refused = append(v.Refused, ln)
	}
	slices.Sort(v.Refused)
	for _, h := range audit.PerMinute(hist) {
		v.Minutes = append(v.Minutes, h.Line)
	}
	if v.Growth == nil {
		v.Growth = []audit.Growth{}
	}
	return v
}

func genGrowth() growthFile {
	two := []string{"Bold Jupiter", "Énergie solaire"}
	four := []string{"Evil Neptune", "Humble Pluto", "Pluto", "Énergie solaire"}
	const t0 = 1793491200 // 2026-11-01 00:00:00 UTC, a minute's start
	lines := func(ls ...string) string { return strings.Join(ls, "\n") + "\n" }
	at := func(dt int64, size int, counts ...int) string {
		s := fmt.Sprintf("%d %d", size, t0+dt)
		for _, c := range counts {
			s += fmt.Sprint(" ", c)
		}
		return s
	}
	vs := []growthVector{
		growthOf("the publisher's lines, one batch of four a minute, evenly spread", four,
			lines(at(10, 4, 1, 1, 1, 1), at(70, 8, 2, 2, 2, 2), at(130, 12, 3, 3, 3, 3))),
		growthOf("a burst of one option: largest 100 against a median of 2", two,
			lines(at(5, 4, 2, 2), at(65, 8, 4, 4), at(125, 112, 104, 8), at(185, 116, 106, 10), at(245, 120, 108, 12))),
		growthOf("an even number of lines: the median is the mean of the middle two", two,
			lines(at(0, 4, 1, 3), at(60, 8, 2, 6), at(120, 112, 102, 8), at(180, 116, 103, 10))),
		growthOf("a median of zero: the ratio is the largest increase", two,
			lines(at(0, 4, 4, 0), at(60, 8, 4, 4), at(120, 8, 4, 4), at(180, 8, 4, 4), at(240, 12, 8, 4))),
		growthOf("equal ratios keep the ballot's order", four,
			lines(at(0, 4, 1, 1, 1, 1), at(60, 8, 2, 2, 2, 2))),
		growthOf("counts that drop: negative increases, a negative median and ratio, sorted last", two,
			lines(at(0, 4, 5, 1), at(60, 8, 3, 6), at(120, 12, 1, 10))),
		growthOf("several batches in one minute: the last of each minute is kept, seconds 0 and 59 are one minute, 60 the next", two,
			lines(at(0, 4, 2, 2), at(30, 8, 4, 4), at(59, 12, 6, 6), at(60, 16, 8, 8), at(119, 20, 10, 10), at(3600, 24, 12, 12))),
		growthOf("refused: times before 1970, which no publisher writes; 0 is read", []string{"Pluto"},
			lines("4 -61 1", "8 -60 2", "12 -1 3", "16 0 4")),
		growthOf("a time that goes back: a new run of a minute", two,
			lines(at(0, 4, 2, 2), at(90, 8, 4, 4), at(30, 12, 6, 6), at(40, 16, 8, 8))),
		growthOf("no ballot: sizes and times only", nil, lines("4 1000", "8 1000")),
		growthOf("an empty history", two, ""),
		growthOf("one line", two, lines(at(0, 4, 3, 1))),
		growthOf("refused: spellings strconv.ParseInt reads but the publisher never writes: a plus sign, leading zeros, minus zero, a negative time", []string{"Pluto"},
			lines("+4 007 -0", "0008 -5 +2")),
		growthOf("the largest number read, 2^53 - 1, and the smallest time, 0", []string{"Pluto"},
			lines("9007199254740991 0 9007199254740991")),
		growthOf("refused: 2^53 as a count, a size, a time", []string{"Pluto"},
			lines("4 1000 9007199254740992", "9007199254740992 1000 1", "4 -9007199254740992 1", "4 1000 1")),
		growthOf("refused: a number beyond 64 bits", []string{"Pluto"}, lines("4 1000 99999999999999999999", "4 1000 1")),
		growthOf("refused: too few and too many fields", two, lines("4 1000 1", "4 1000 1 1 1", "4 1000 1 1")),
		growthOf("refused: two spaces, a leading space, a trailing space, a tab", []string{"Pluto"},
			lines("4 1000  1", " 4 1000 1", "4 1000 1 ", "4\t1000 1", "4 1000 1")),
		growthOf("refused: a carriage return before the line feed", []string{"Pluto"}, "4 1000 1\r\n8 1060 2\n"),
		growthOf("refused: a negative count and a negative size", []string{"Pluto"}, lines("4 1000 -1", "-4 1000 1", "8 1060 2")),
		growthOf("refused: a last line without its line feed", []string{"Pluto"}, "4 1000 1\n8 1060 2"),
		growthOf("refused: empty lines", []string{"Pluto"}, "\n4 1000 1\n\n"),
		growthOf("refused: a byte order mark before the first line", []string{"Pluto"}, lines("\ufeff4 1000 1", "8 1060 2")),
		growthOf("refused: a no-break space and Arabic-Indic digits", []string{"Pluto"}, lines("4\u00a01000 1", "4 1000 \u0661", "8 1060 2")),
		growthOf("refused: hexadecimal, underscores, a decimal point, an exponent", []string{"Pluto"},
			lines("0x4 1000 1", "4 1_000 1", "4 1000 1.0", "4 1e3 1", "8 1060 2")),
		growthOf("a refused line is left out of the increases: 2 to 5 is +3", []string{"Pluto"}, lines("4 1000 2", "8 1060 x", "12 1120 5")),
	}
	return growthFile{
		Description: "Histories (docs/PUBLISHING.md, <campaign>-history.log) for a ballot: the lines read and refused, each option's largest growth between lines read against its median (the figure powvote audit reports), and the lines kept at one a minute (the last of each run of lines in a minute, UTC), which the charts draw. Go: audit.ParseHistory, audit.HistoryGrowth, audit.PerMinute. JavaScript: the check page's parseHistory, historyGrowth and perMinute (web/check/check.js), through window.powcheck.historyFigures. Written by cmd/powvote/jsvectors_test.go.",
		Vectors:     vs,
	}
}

func checkGrowthFile(t *testing.T, f growthFile) {
	checkVectors(t, "growth.json", f.Vectors, func(v growthVector) growthVector { return growthOf(v.Why, v.Options, v.History) },
		func(a, b growthVector) bool {
			return slices.Equal(a.Lines, b.Lines) && slices.Equal(a.Refused, b.Refused) && slices.Equal(a.Growth, b.Growth) && slices.Equal(a.Minutes, b.Minutes)
		})
	kinds := map[string]bool{}
	for _, v := range f.Vectors {
		kinds["refused"] = kinds["refused"] || len(v.Refused) > 0
		kinds["drop"] = kinds["drop"] || slices.ContainsFunc(v.Growth, func(g audit.Growth) bool { return g.Median < 0 || g.Largest < 0 })
		kinds["zero median"] = kinds["zero median"] || slices.ContainsFunc(v.Growth, func(g audit.Growth) bool { return g.Median == 0 && g.Largest > 0 })
		kinds["half median"] = kinds["half median"] || slices.ContainsFunc(v.Growth, func(g audit.Growth) bool { return g.Median != float64(int(g.Median)) })
		kinds["merged minutes"] = kinds["merged minutes"] || len(v.Minutes) < len(v.Lines)
	}
	for _, k := range []string{"refused", "drop", "zero median", "half median", "merged minutes"} {
		if !kinds[k] {
			t.Errorf("growth.json: no vector has a %s", k)
		}
	}
}

// ---- the files ----

// vectorFile is one file of testdata/vectors/: how Go writes it and how
// Go checks it.
type vectorFile struct {
	name  string
	gen   func(t *testing.T) any
	check func(t *testing.T, data []byte)
}

func vectorFiles() []vectorFile {
	return []vectorFile{
		{"pow.json", func(t *testing.T) any { return genPow(t) }, checkWith(checkPowFile)},
		{"stamps.json", func(t *testing.T) any { return genStamps() }, checkWith(checkStampFile)},
		{"options.json", func(t *testing.T) any { return genOptions() }, checkWith(checkOptionFile)},
		{"receipts.json", func(t *testing.T) any { return genReceipts(t) }, checkWith(checkReceiptFile)},
		{"cards.json", func(t *testing.T) any { return genCards(t) }, checkWith(checkCardFile)},
		{"checkpoints.json", func(t *testing.T) any { return genCheckpoints(t) }, checkWith(checkCheckpointFile)},
		{"growth.json", func(t *testing.T) any { return genGrowth() }, checkWith(checkGrowthFile)},
	}
}

func checkWith[F any](check func(*testing.T, F)) func(*testing.T, []byte) {
	return func(t *testing.T, data []byte) {
		var f F
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatal(err)
		}
		check(t, f)
	}
}

// encodeVectors writes a file as it is committed: indented JSON, text
// unescaped, a final line feed.
func encodeVectors(t *testing.T, v any) []byte {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	e.SetIndent("", "  ")
	if err := e.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func readVectors(t *testing.T, name string, v any) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(vectorsDir, name))
	if err != nil {
		t.Fatalf("%v (go test ./cmd/powvote -run TestVectors -update-vectors writes it)", err)
	}
	if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return data
}

// TestVectors checks every vector of testdata/vectors/ against the Go
// implementation, and that each file is what the generators above write;
// with -update-vectors it writes the files instead.
func TestVectors(t *testing.T) {
	for _, f := range vectorFiles() {
		t.Run(f.name, func(t *testing.T) {
			want := encodeVectors(t, f.gen(t))
			path := filepath.Join(vectorsDir, f.name)
			if *updateVectors {
				if err := os.MkdirAll(vectorsDir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			data := readVectors(t, f.name, nil)
			f.check(t, data)
			if !bytes.Equal(data, want) {
				t.Errorf("%s is not what the Go implementation writes: run go test ./cmd/powvote -run TestVectors -update-vectors", path)
			}
		})
	}
}

// checkVectors recomputes each vector of vs with again, the Go
// implementation, and reports those for which same finds that Go's answer
// is not the file's.
func checkVectors[V vector](t *testing.T, file string, vs []V, again func(V) V, same func(got, want V) bool) {
	t.Helper()
	for i, v := range vs {
		if got := again(v); !same(got, v) {
			t.Errorf("%s %d (%s): Go gives %s, the file %s", file, i+1, v.why(), show(got), show(v))
		}
	}
}

// vector is a vector of any of the files: each says why it is there.
type vector interface{ why() string }

func (v powVector) why() string        { return v.Why }
func (v stampVector) why() string      { return v.Why }
func (v optionVector) why() string     { return v.Why }
func (v receiptVector) why() string    { return v.Why }
func (v lineVector) why() string       { return v.Why }
func (v checkpointVector) why() string { return v.Why }
func (v growthVector) why() string     { return v.Why }

func equal[V comparable](a, b V) bool { return a == b }

// show writes a vector, or an answer, as JSON.
func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// ---- the browser ----

// canonicalKey is what stampKey gives for a stamp: 32 symbols.
var canonicalKey = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{32}$`)

// TestJSVectors replays testdata/vectors/ in Chromium with the functions
// the apps run: the check page's (its workers, parseCheckpoint and the
// shared web/voter/wire.js), then the voter app's (card lines and its
// receipt check), in one browser, against the files as the edge serves
// them.
func TestJSVectors(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/app/", http.StripPrefix("/app/", http.FileServerFS(web.FS)))
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, web.FS, "voter/index.html")
	})
	// A ballot without a campaign: the check page then downloads no lists.
	mux.HandleFunc("/list", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Say01", "Pluto")
		w.Header().Set("Say02", wire.EncodeOption("Énergie solaire"))
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	b := newBrowser(t)
	b.do("open the check page", chromedp.Navigate(srv.URL+"/app/check/index.html?lang=en"), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="true"]`)))
	jsPow(t, b)
	jsStamps(t, b)
	jsOptions(t, b)
	jsReceipts(t, b, false)
	jsCheckpoints(t, b)
	jsGrowth(t, b)

	b.do("open the voter app", chromedp.Navigate(srv.URL+"/app/voter/index.html?lang=en"), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="true"]`)))
	jsCards(t, b)
	jsReceipts(t, b, true)
}

// evalVectors calls the JavaScript function fn with the JSON value arg
// and returns its answer.
func evalVectors[T any](b *browser, fn string, arg any) T {
	b.t.Helper()
	a, err := json.Marshal(arg)
	if err != nil {
		b.t.Fatal(err)
	}
	return evalJS[T](b, "("+fn+")("+string(a)+")", chromedp.EvalAwaitPromise)
}

// evalEach is evalVectors for a function that answers with one value per
// vector of vs, in order.
func evalEach[T, V any](b *browser, file, fn string, vs []V, arg any) []T {
	b.t.Helper()
	got := evalVectors[[]T](b, fn, arg)
	if len(got) != len(vs) {
		b.t.Fatalf("%s: %d answers for %d vectors", file, len(got), len(vs))
	}
	return got
}

func jsPow(t *testing.T, b *browser) {
	var f powFile
	readVectors(t, "pow.json", &f)
	got := evalEach[powVector](b, "pow.json", `async (vs) => {
		const w = powvoteWire;
		const scores = await window.powcheck.scoreLines(vs.map((v) => v.line));
		return Promise.all(vs.map(async (v, i) => {
			const p = w.parseVoteLine(v.line);
			if (p === null) return { refused: true, score: scores[i] === -1 ? undefined : scores[i] };
			const msg = w.powMessage(p.putc, p.psig, p.voter, p.option, p.nonce);
			const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', msg));
			return { message: w.toHex(msg), digest: w.toHex(digest), score: scores[i] };
		}));
	}`, f.Vectors, f.Vectors)
	for i, v := range f.Vectors {
		if !powEqual(got[i], v) {
			t.Errorf("pow.json %d (%s): the page gives %s, want %s", i+1, v.Why, show(got[i]), show(v))
		}
	}
}

func jsStamps(t *testing.T, b *browser) {
	var f stampFile
	readVectors(t, "stamps.json", &f)
	type answer struct {
		Key    string `json:"key"`
		Listed bool   `json:"listed"`
	}
	got := evalEach[answer](b, "stamps.json", `(vs) => vs.map((v) => ({ key: powvoteWire.stampKey(v.input), listed: powvoteWire.isVoterStamp(v.input) }))`, f.Vectors, f.Vectors)
	for i, v := range f.Vectors {
		g := got[i]
		ok := g.Listed == v.Listed
		if v.Stamp != "" {
			ok = ok && g.Key == strings.ReplaceAll(v.Stamp, "-", "")
		} else {
			ok = ok && !canonicalKey.MatchString(g.Key)
		}
		if !ok {
			t.Errorf("stamps.json %d (%s): stampKey(%q) = %q, isVoterStamp %v; want the stamp %q, listed %v", i+1, v.Why, v.Input, g.Key, g.Listed, v.Stamp, v.Listed)
		}
	}
}

func jsOptions(t *testing.T, b *browser) {
	var f optionFile
	readVectors(t, "options.json", &f)
	got := evalEach[optionVector](b, "options.json", `(vs) => vs.map((v) => {
		let text;
		try {
			text = powvoteWire.decodeOption(v.header);
		} catch (e) {
			return { refused: e instanceof URIError };
		}
		return { text, encoded: powvoteWire.encodeOption(text) };
	})`, f.Vectors, f.Vectors)
	for i, v := range f.Vectors {
		g := got[i]
		if g.Refused != v.Refused || g.Text != v.Text || g.Encoded != v.Encoded {
			t.Errorf("options.json %d (%s): the page reads %q as %+v, want %+v", i+1, v.Why, v.Header, g, v)
		}
	}
}

// jsReceipts checks the receipt vectors with wire.js, or with the voter
// app's own check (app) on the voter app's page.
func jsReceipts(t *testing.T, b *browser, app bool) {
	var f receiptFile
	readVectors(t, "receipts.json", &f)
	fn := `async (f) => {
		const w = powvoteWire, key = w.fromB64(f.key);
		return Promise.all(f.vectors.map(async (v) => ({
			message: new TextDecoder().decode(w.receiptMessage(v.campaign, v.lines)),
			text: w.formatReceipt(v.campaign, v.lines, v.sig),
			valid: await w.verifyReceipt(key, v.campaign, v.lines, v.sig),
		})));
	}`
	if app {
		fn = `async (f) => Promise.all(f.vectors.map(async (v) => ({
			valid: await window.powvote.verifyReceipt(f.key, v.campaign, v.lines, v.sig),
		})))`
	}
	got := evalEach[receiptVector](b, "receipts.json", fn, f.Vectors, f)
	for i, v := range f.Vectors {
		g := got[i]
		if app {
			if g.Valid != v.Valid {
				t.Errorf("receipts.json %d (%s): the voter app says valid %v, want %v", i+1, v.Why, g.Valid, v.Valid)
			}
			continue
		}
		if g.Message != v.Message || g.Text != v.Text || g.Valid != v.Valid {
			t.Errorf("receipts.json %d (%s): wire.js gives message %q, text %q, valid %v; want %q, %q, %v", i+1, v.Why, g.Message, g.Text, g.Valid, v.Message, v.Text, v.Valid)
		}
	}
}

func jsCheckpoints(t *testing.T, b *browser) {
	var f checkpointFile
	readVectors(t, "checkpoints.json", &f)
	type answer struct {
		Origin   string  `json:"origin"`
		Size     int64   `json:"size"`
		Root     string  `json:"root"`
		Settings *string `json:"settings"`
	}
	got := evalEach[*answer](b, "checkpoints.json", `(vs) => vs.map((v) => window.powcheck.parseCheckpoint(v.text))`, f.Vectors, f.Vectors)
	for i, v := range f.Vectors {
		g := got[i]
		var ok bool
		if v.Refused {
			ok = g == nil
		} else {
			ok = g != nil && v.Size != nil && g.Origin == v.Origin && g.Size == *v.Size && g.Root == v.Root &&
				(g.Settings == nil && v.Settings == "" || g.Settings != nil && *g.Settings == v.Settings)
		}
		if !ok {
			t.Errorf("checkpoints.json %d (%s): the page reads %s, want %s", i+1, v.Why, show(g), show(v))
		}
	}
}

func jsCards(t *testing.T, b *browser) {
	var f cardFile
	readVectors(t, "cards.json", &f)
	type answer struct {
		Cards [][]string   `json:"cards"`
		Lines []lineVector `json:"lines"`
	}
	got := evalVectors[answer](b, `(f) => ({
		cards: f.cards.map((c) => window.powvote.cardLines(c.token)),
		lines: f.lines.map((l) => window.powvote.parseCardLine(l.n, l.text)),
	})`, f)
	if len(got.Cards) != len(f.Cards) || len(got.Lines) != len(f.Lines) {
		t.Fatalf("cards.json: %d and %d answers for %d cards and %d lines", len(got.Cards), len(got.Lines), len(f.Cards), len(f.Lines))
	}
	for i, c := range f.Cards {
		if !slices.Equal(got.Cards[i], c.Lines) {
			t.Errorf("cards.json card %d (%s): the voter app writes %q, want %q", i+1, c.Why, got.Cards[i], c.Lines)
		}
	}
	for i, l := range f.Lines {
		if g := got.Lines[i]; g.Bytes != l.Bytes || g.Error != l.Error {
			t.Errorf("cards.json line %d (%s): the voter app reads %q in field %d as %+v, want %+v", i+1, l.Why, l.Text, l.N, g, l)
		}
	}
}

func jsGrowth(t *testing.T, b *browser) {
	var f growthFile
	readVectors(t, "growth.json", &f)
	got := evalEach[growthVector](b, "growth.json", `(vs) => vs.map((v) => window.powcheck.historyFigures(v.history, v.options))`, f.Vectors, f.Vectors)
	for i, v := range f.Vectors {
		g := got[i]
		if !slices.Equal(g.Lines, v.Lines) || !slices.Equal(g.Refused, v.Refused) || !slices.Equal(g.Growth, v.Growth) || !slices.Equal(g.Minutes, v.Minutes) {
			t.Errorf("growth.json %d (%s): the page gives %s, want %s", i+1, v.Why, show(g), show(v))
		}
	}
}
