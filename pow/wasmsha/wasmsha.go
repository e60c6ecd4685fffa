// Package wasmsha builds the WebAssembly module with which the voter app
// searches for proof-of-work nonces: SHA-256 of four nonces at once in
// 128-bit SIMD lanes, from a state the app has already advanced through
// everything the nonces share. The module is generated, not hand-written,
// so that its straight-line code follows from one readable description;
// web/voter/pow.wasm is its output, and a test keeps the two the same.
//
// # The search
//
// The app arranges the message so that the last 64-byte block holds the
// nonce's two counter words, word-aligned, then the padding: block word J
// (1 <= J <= 12) is the low counter word, the only one that changes from
// nonce to nonce. Everything else is fixed for a search, so the app
// computes once, into the module's memory (all words little-endian i32):
//
//	OffH   8 words: the chaining value before the last block
//	OffMid 8 words: the working variables a..h after rounds 0..J-1
//	OffKW  64 words: K[t]+W[t] for every round t whose schedule word does not depend on word J
//	OffP   64 words: for t < 16, W[t]; for t >= 16, the sum of the terms
//	       of W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16] that do not
//	       depend on word J (all of W[t] when none does)
//
// Whether a schedule word depends on word J is [Varies]. The module's
// function "searchJ"(lo, n, mask) then hashes the nonces whose low counter
// word is lo, lo+1, ..., lo+n-1 (wrapping modulo 2^32; n is rounded up to
// a multiple of 4*Groups) four at a time and returns 1+i for the first
// group i, i+1, i+2, i+3 in which some nonce's first digest word ANDed with
// mask is zero, or 0 if none is. Only the first digest word is computed: a caller asking for
// more than 32 zero bits passes mask 0xffffffff and checks the whole
// digest of the few candidates itself.
package wasmsha

import (
	"encoding/binary"
)

// Memory layout shared with the app (byte offsets).
const (
	OffH   = 0
	OffMid = 32
	OffKW  = 64
	OffP   = 320
	offK   = 576 // the round constants, a data segment of the module
)

// MinJ and MaxJ bound the block word of the low counter word: the high
// counter word comes before it in the same block, and the 0x80 byte and
// the 8-byte length after it.
const MinJ, MaxJ = 1, 12

// K is SHA-256's round constants (FIPS 180-4 4.2.2).
var K = [64]uint32{
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}

// Varies reports, for each of the 64 schedule words of a block, whether it
// depends on block word j.
func Varies(j int) [64]bool {
	var v [64]bool
	v[j] = true
	for t := 16; t < 64; t++ {
		v[t] = v[t-2] || v[t-7] || v[t-15] || v[t-16]
	}
	return v
}

// Module returns the WebAssembly module's bytes.
func Module() []byte {
	var m module
	m.build()
	return m.bytes()
}

// ---- WebAssembly binary encoding (WebAssembly Core Specification 2.0, section 5) ----

const (
	tI32  = 0x7f
	tV128 = 0x7b
)

// Opcodes used; SIMD ones follow the 0xfd prefix.
const (
	opLoop     = 0x03
	opIf       = 0x04
	opEnd      = 0x0b
	opBrIf     = 0x0d
	opReturn   = 0x0f
	opLocalGet = 0x20
	opLocalSet = 0x21
	opLocalTee = 0x22
	opI32Const = 0x41
	opI32LtU   = 0x49
	opI32Add   = 0x6a

	simdLoad32Spl  = 0x09
	simdConst      = 0x0c
	simdI32Splat   = 0x11
	simdI32Eq      = 0x37
	simdAnd        = 0x4e
	simdOr         = 0x50
	simdXor        = 0x51
	simdBitselect  = 0x52
	simdAnyTrue    = 0x53
	simdI32Shl     = 0xab
	simdI32ShrU    = 0xad
	simdI32Add     = 0xae
	blockTypeEmpty = 0x40
)

func uleb(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func sleb(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func name(b []byte, s string) []byte {
	return append(uleb(b, uint64(len(s))), s...)
}

func section(b []byte, id byte, body []byte) []byte {
	b = append(b, id)
	b = uleb(b, uint64(len(body)))
	return append(b, body...)
}

// code is a function body being written.
type code struct{ b []byte }

func (c *code) op(o ...byte)          { c.b = append(c.b, o...) }
func (c *code) get(l int)             { c.op(opLocalGet); c.b = uleb(c.b, uint64(l)) }
func (c *code) set(l int)             { c.op(opLocalSet); c.b = uleb(c.b, uint64(l)) }
func (c *code) tee(l int)             { c.op(opLocalTee); c.b = uleb(c.b, uint64(l)) }
func (c *code) i32(v int32)           { c.op(opI32Const); c.b = sleb(c.b, int64(v)) }
func (c *code) simd(o uint32)         { c.op(0xfd); c.b = uleb(c.b, uint64(o)) }
func (c *code) memarg(align, off int) { c.b = uleb(uleb(c.b, uint64(align)), uint64(off)) }

// splat pushes the i32 at memory offset off in all four lanes.
func (c *code) splat(off int) { c.i32(0); c.simd(simdLoad32Spl); c.memarg(2, off) }

func (c *code) add() { c.simd(simdI32Add) }
func (c *code) xor() { c.simd(simdXor) }

// rotr pushes local x rotated right by n bits in each lane. A lane's two
// shifted halves have no bit in common, so XOR would serve as well as OR.
func (c *code) rotr(x, n int) {
	c.get(x)
	c.i32(int32(n))
	c.simd(simdI32ShrU)
	c.get(x)
	c.i32(int32(32 - n))
	c.simd(simdI32Shl)
	c.simd(simdOr)
}

// shr pushes local x shifted right by n bits in each lane.
func (c *code) shr(x, n int) {
	c.get(x)
	c.i32(int32(n))
	c.simd(simdI32ShrU)
}

// bigSigma pushes rotr(x,r0) ^ rotr(x,r1) ^ rotr(x,r2).
func (c *code) bigSigma(x, r0, r1, r2 int) {
	c.rotr(x, r0)
	c.rotr(x, r1)
	c.xor()
	c.rotr(x, r2)
	c.xor()
}

// smallSigma pushes rotr(x,r0) ^ rotr(x,r1) ^ (x >> s).
func (c *code) smallSigma(x, r0, r1, s int) {
	c.rotr(x, r0)
	c.rotr(x, r1)
	c.xor()
	c.shr(x, s)
	c.xor()
}

type module struct {
	funcs [][]byte // bodies, one per J
}

func (m *module) build() {
	for j := MinJ; j <= MaxJ; j++ {
		m.funcs = append(m.funcs, searchBody(j))
	}
}

// Groups is how many groups of four nonces one pass of a search function
// hashes, their instructions interleaved round by round, so that a second
// independent chain of dependent instructions could keep the processor's
// units busy while the first waits on its results. Measured in V8 (the
// engine of Chromium), 2 and 3 groups were no faster than 1: their locals
// no longer fit the registers and the spills eat the gain.
const Groups = 1

// Locals of a search function. Parameters come first; then the i32 nonce
// count; then, per group, its v128 locals.
const (
	lLo   = 0 // param: low counter word of lane 0
	lN    = 1 // param: nonces to try
	lMask = 2 // param: bits of the first digest word that must be zero
	lI    = 3 // i32: nonces tried
	lVM   = 4 // v128: mask in all lanes
	lG    = 5 // first group's locals

	gCtr  = 0  // the four lanes' low counter words
	gT1   = 1  // a round's T1
	gAB   = 2  // a^b of the round before (b^c of this one)
	gS    = 3  // 8 working variables
	gW    = 11 // 16 schedule ring slots, for the words that vary
	gSize = 27
)

// group is one group's locals.
type group struct {
	base int    // first local
	reg  [8]int // role (a..h) -> local, as the roles move
}

func (g *group) ctr() int    { return g.base + gCtr }
func (g *group) t1() int     { return g.base + gT1 }
func (g *group) ab() int     { return g.base + gAB }
func (g *group) w(t int) int { return g.base + gW + t%16 }

// searchBody writes the search function for low counter word j.
func searchBody(j int) []byte {
	varies := Varies(j)
	var c code
	gs := make([]*group, Groups)
	for k := range gs {
		gs[k] = &group{base: lG + k*gSize}
		// Lane counters lo+4k, ..., lo+4k+3.
		c.get(lLo)
		c.simd(simdI32Splat)
		c.simd(simdConst)
		for l := uint32(0); l < 4; l++ {
			c.b = binary.LittleEndian.AppendUint32(c.b, uint32(4*k)+l)
		}
		c.add()
		c.set(gs[k].ctr())
	}
	c.get(lMask)
	c.simd(simdI32Splat)
	c.set(lVM)

	c.op(opLoop, blockTypeEmpty)
	for _, g := range gs {
		// The working variables after rounds 0..j-1, the same for all nonces.
		for r := range g.reg {
			g.reg[r] = g.base + gS + r
			c.splat(OffMid + 4*r)
			c.set(g.reg[r])
		}
		c.get(g.ctr())
		c.set(g.w(j))
		// Maj's b^c for round j.
		c.get(g.reg[1])
		c.get(g.reg[2])
		c.xor()
		c.set(g.ab())
	}
	for t := j; t < 64; t++ {
		for _, g := range gs {
			if t >= 16 && varies[t] {
				scheduleWord(&c, g, t, varies)
			}
			round(&c, g, t, varies[t], t == 63)
		}
	}
	for k, g := range gs {
		// First digest word: chaining value's first word plus a.
		c.get(g.reg[0])
		c.splat(OffH)
		c.add()
		c.get(lVM)
		c.simd(simdAnd)
		c.simd(simdConst)
		c.b = append(c.b, make([]byte, 16)...)
		c.simd(simdI32Eq)
		c.simd(simdAnyTrue)
		c.op(opIf, blockTypeEmpty)
		c.get(lI)
		c.i32(int32(4*k + 1))
		c.op(opI32Add)
		c.op(opReturn)
		c.op(opEnd)
	}
	// Next nonces.
	for _, g := range gs {
		c.get(g.ctr())
		c.i32(4 * Groups)
		c.simd(simdI32Splat)
		c.add()
		c.set(g.ctr())
	}
	c.get(lI)
	c.i32(4 * Groups)
	c.op(opI32Add)
	c.tee(lI)
	c.get(lN)
	c.op(opI32LtU)
	c.op(opBrIf, 0)
	c.op(opEnd)
	c.i32(0)
	c.op(opEnd)

	var body []byte
	body = uleb(body, 2) // local groups
	body = uleb(body, 1)
	body = append(body, tI32)
	body = uleb(body, uint64(1+Groups*gSize))
	body = append(body, tV128)
	return append(body, c.b...)
}

// scheduleWord computes schedule word t (which depends on word J) into its
// ring slot: the app's precomputed sum of the terms that do not depend on
// word J plus those that do.
func scheduleWord(c *code, g *group, t int, varies [64]bool) {
	c.splat(OffP + 4*t)
	if varies[t-2] {
		c.smallSigma(g.w(t-2), 17, 19, 10)
		c.add()
	}
	if varies[t-7] {
		c.get(g.w(t - 7))
		c.add()
	}
	if varies[t-15] {
		c.smallSigma(g.w(t-15), 7, 18, 3)
		c.add()
	}
	if varies[t-16] {
		c.get(g.w(t))
		c.add()
	}
	c.set(g.w(t))
}

// round writes SHA-256 round t. The roles of the working variables move
// instead of their values: the new e takes d's local and the new a takes
// h's. In the last round only a is needed.
func round(c *code, g *group, t int, varies, last bool) {
	a, b, cc, d, e, f, gg, h := g.reg[0], g.reg[1], g.reg[2], g.reg[3], g.reg[4], g.reg[5], g.reg[6], g.reg[7]
	// T1 = h + Σ1(e) + Ch(e,f,g) + K[t] + W[t]
	c.get(h)
	c.bigSigma(e, 6, 11, 25)
	c.add()
	c.get(f)
	c.get(gg)
	c.get(e)
	c.simd(simdBitselect) // Ch: f where e is set, else g
	c.add()
	if varies {
		c.get(g.w(t))
		c.splat(offK + 4*t)
		c.add()
	} else {
		c.splat(OffKW + 4*t)
	}
	c.add()
	c.set(g.t1())
	if !last {
		// e' = d + T1
		c.get(d)
		c.get(g.t1())
		c.add()
		c.set(d)
	}
	// a' = T1 + Σ0(a) + Maj(a,b,c); Maj is a where b and c differ, else c.
	c.get(g.t1())
	c.bigSigma(a, 2, 13, 22)
	c.add()
	c.get(a)
	c.get(cc)
	c.get(g.ab()) // b^c
	if !last {
		c.get(a)
		c.get(b)
		c.xor()
		c.set(g.ab()) // a^b: the next round's b^c
	}
	c.simd(simdBitselect)
	c.add()
	c.set(h)
	g.reg = [8]int{h, a, b, cc, d, e, f, gg}
}

func (m *module) bytes() []byte {
	out := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

	// One type: (i32, i32, i32) -> i32.
	typ := uleb(nil, 1)
	typ = append(typ, 0x60)
	typ = uleb(typ, 3)
	typ = append(typ, tI32, tI32, tI32)
	typ = uleb(typ, 1)
	typ = append(typ, tI32)
	out = section(out, 1, typ)

	fn := uleb(nil, uint64(len(m.funcs)))
	for range m.funcs {
		fn = uleb(fn, 0)
	}
	out = section(out, 3, fn)

	mem := uleb(nil, 1)
	mem = append(mem, 0x00) // min only
	mem = uleb(mem, 1)      // one 64 KiB page
	out = section(out, 5, mem)

	exp := uleb(nil, uint64(len(m.funcs)+1))
	exp = name(exp, "memory")
	exp = append(exp, 0x02)
	exp = uleb(exp, 0)
	for i := range m.funcs {
		exp = name(exp, "search"+itoa(MinJ+i))
		exp = append(exp, 0x00)
		exp = uleb(exp, uint64(i))
	}
	out = section(out, 7, exp)

	cod := uleb(nil, uint64(len(m.funcs)))
	for _, f := range m.funcs {
		cod = uleb(cod, uint64(len(f)))
		cod = append(cod, f...)
	}
	out = section(out, 10, cod)

	// The round constants at offK.
	data := uleb(nil, 1)
	data = append(data, 0x00, opI32Const)
	data = sleb(data, offK)
	data = append(data, opEnd)
	data = uleb(data, 4*64)
	for _, k := range K {
		data = binary.LittleEndian.AppendUint32(data, k)
	}
	out = section(out, 11, data)
	return out
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return string(rune('0'+i/10)) + string(rune('0'+i%10))
}
