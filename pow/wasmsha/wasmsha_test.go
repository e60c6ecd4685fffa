package wasmsha

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"math/bits"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

var update = flag.Bool("update", false, "rewrite web/voter/pow.wasm")

// appFile is where the voter app loads the module from.
const appFile = "../../web/voter/pow.wasm"

// TestAppFile keeps the app's copy of the module equal to what Module
// builds: go test ./pow/wasmsha -run TestAppFile -update rewrites it.
func TestAppFile(t *testing.T) {
	want := Module()
	if *update {
		if err := os.WriteFile(appFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(appFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from Module() (%d vs %d bytes): run go test ./pow/wasmsha -run TestAppFile -update", appFile, len(got), len(want))
	}
}

// compress is FIPS 180-4's compression, the reference for the module: it
// runs rounds [0, n) of block w from working variables v and returns them.
func rounds(v [8]uint32, w *[64]uint32, n int) [8]uint32 {
	a, b, c, d, e, f, g, h := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
	for t := 0; t < n; t++ {
		t1 := h + (bits.RotateLeft32(e, -6) ^ bits.RotateLeft32(e, -11) ^ bits.RotateLeft32(e, -25)) + (e&f ^ ^e&g) + K[t] + w[t]
		t2 := (bits.RotateLeft32(a, -2) ^ bits.RotateLeft32(a, -13) ^ bits.RotateLeft32(a, -22)) + (a&b ^ a&c ^ b&c)
		h, g, f, e, d, c, b, a = g, f, e, d+t1, c, b, a, t1+t2
	}
	return [8]uint32{a, b, c, d, e, f, g, h}
}

func sigma0(x uint32) uint32 { return bits.RotateLeft32(x, -7) ^ bits.RotateLeft32(x, -18) ^ x>>3 }
func sigma1(x uint32) uint32 { return bits.RotateLeft32(x, -17) ^ bits.RotateLeft32(x, -19) ^ x>>10 }

func schedule(block []byte) *[64]uint32 {
	var w [64]uint32
	for i := 0; i < 16; i++ {
		w[i] = binary.BigEndian.Uint32(block[4*i:])
	}
	for t := 16; t < 64; t++ {
		w[t] = sigma1(w[t-2]) + w[t-7] + sigma0(w[t-15]) + w[t-16]
	}
	return &w
}

var iv = [8]uint32{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}

// search is one search set up as the app does it: fixed is the message
// before the low counter word (prefix, pad and high counter word).
type search struct {
	fixed []byte
	j     int
	mem   []byte // what the app writes at offset 0
}

func newSearch(t testing.TB, fixed []byte) *search {
	rem := len(fixed) % 64
	if rem%4 != 0 || rem < 4 || rem > 48 {
		t.Fatalf("fixed part of %d bytes: the low counter word must be word-aligned and fit with the padding", len(fixed))
	}
	j := rem / 4
	full := len(fixed) - rem
	s := &search{fixed: fixed, j: j, mem: make([]byte, offK)}
	h := iv
	for p := 0; p < full; p += 64 {
		w := schedule(fixed[p : p+64])
		v := rounds(h, w, 64)
		for i := range h {
			h[i] += v[i]
		}
	}
	block := make([]byte, 64)
	copy(block, fixed[full:])
	// The low counter word stays zero here: only what does not depend on
	// it is used.
	block[rem+4] = 0x80
	binary.BigEndian.PutUint64(block[56:], uint64(len(fixed)+4)*8)
	w := schedule(block)
	mid := rounds(h, w, j)
	put := func(off int, v uint32) { binary.LittleEndian.PutUint32(s.mem[off:], v) }
	for i := range 8 {
		put(OffH+4*i, h[i])
		put(OffMid+4*i, mid[i])
	}
	varies := Varies(j)
	for i := range 64 {
		if !varies[i] {
			put(OffKW+4*i, K[i]+w[i])
		}
		switch {
		case i < 16:
			put(OffP+4*i, w[i])
		default:
			var p uint32
			if !varies[i-2] {
				p += sigma1(w[i-2])
			}
			if !varies[i-7] {
				p += w[i-7]
			}
			if !varies[i-15] {
				p += sigma0(w[i-15])
			}
			if !varies[i-16] {
				p += w[i-16]
			}
			put(OffP+4*i, p)
		}
	}
	return s
}

// first returns the first digest word of the nonce with low counter lo.
func (s *search) first(lo uint32) uint32 {
	m := binary.BigEndian.AppendUint32(bytes.Clone(s.fixed), lo)
	d := sha256.Sum256(m)
	return binary.BigEndian.Uint32(d[:])
}

// want is what searchJ(lo, n, mask) must return.
func (s *search) want(lo, n, mask uint32) uint32 {
	for i := uint32(0); i < n; i += 4 {
		for k := uint32(0); k < 4; k++ {
			if s.first(lo+i+k)&mask == 0 {
				return i + 1
			}
		}
	}
	return 0
}

type runtime struct {
	mod api.Module
	ctx context.Context
}

func newRuntime(t testing.TB) *runtime {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	mod, err := r.Instantiate(ctx, Module())
	if err != nil {
		t.Fatalf("instantiate: %v", err)
	}
	return &runtime{mod: mod, ctx: ctx}
}

func (r *runtime) run(t testing.TB, s *search, lo, n, mask uint32) uint32 {
	if !r.mod.Memory().Write(0, s.mem) {
		t.Fatal("memory write")
	}
	f := r.mod.ExportedFunction("search" + itoa(s.j))
	if f == nil {
		t.Fatalf("no search%d", s.j)
	}
	res, err := f.Call(r.ctx, uint64(lo), uint64(n), uint64(mask))
	if err != nil {
		t.Fatal(err)
	}
	return uint32(res[0])
}

// TestSearch compares the module with crypto/sha256 for every position of
// the counter word, prefixes of one to three blocks, masks from one bit to
// twelve and counters that wrap around 2^32.
func TestSearch(t *testing.T) {
	r := newRuntime(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for j := MinJ; j <= MaxJ; j++ {
		for _, blocks := range []int{0, 1, 2} {
			fixed := make([]byte, 64*blocks+4*j)
			for i := range fixed {
				fixed[i] = byte(rng.Uint32())
			}
			s := newSearch(t, fixed)
			for trial := 0; trial < 12; trial++ {
				lo := rng.Uint32()
				if trial == 0 {
					lo = 0xffffffff - 5 // wraps inside the first groups
				}
				nbits := 1 + trial
				mask := uint32(0)
				for bits.OnesCount32(mask) < nbits {
					mask |= 1 << rng.IntN(32)
				}
				const n = 1 << 12
				got, want := r.run(t, s, lo, n, mask), s.want(lo, n, mask)
				if got != want {
					t.Fatalf("j=%d blocks=%d lo=%#x mask=%#08x: search returned %d, want %d", j, blocks, lo, mask, got, want)
				}
			}
		}
	}
}

// TestSearchMaskZero: every group qualifies, and no nonce qualifies under
// a full mask unless its first word is zero.
func TestSearchMaskEdges(t *testing.T) {
	r := newRuntime(t)
	s := newSearch(t, bytes.Repeat([]byte{7}, 100))
	if got := r.run(t, s, 12345, 64, 0); got != 1 {
		t.Fatalf("mask 0: got %d, want 1", got)
	}
	if got, want := r.run(t, s, 12345, 1<<12, 0xffffffff), s.want(12345, 1<<12, 0xffffffff); got != want {
		t.Fatalf("full mask: got %d, want %d", got, want)
	}
}

// BenchmarkSearch runs the module under wazero's compiler: a rough figure,
// the browser's is what counts (make bench-browser).
func BenchmarkSearch(b *testing.B) {
	r := newRuntime(b)
	s := newSearch(b, bytes.Repeat([]byte{7}, 128+4*9))
	const n = 1 << 14
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.run(b, s, uint32(i)*n, n, 0xffffffff)
	}
	b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds()/1e6, "MH/s")
}
