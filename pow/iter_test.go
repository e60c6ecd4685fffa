package pow

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

func TestNonceLen(t *testing.T) {
	for p := 0; p < 300; p++ {
		n := nonceLen(p)
		if n < MinNonce || n > MaxNonce {
			t.Fatalf("nonceLen(%d) = %d, out of range", p, n)
		}
		r := (p + n) % 64
		if r < 4 || r > 55 {
			t.Errorf("nonceLen(%d) = %d leaves %d bytes in the last block", p, n, r)
		}
		if min(n, r) < 4 {
			t.Errorf("nonceLen(%d) = %d puts %d nonce bytes in the last block", p, n, min(n, r))
		}
		for m := MinNonce; m < n; m++ {
			if r := (p + m) % 64; r >= 4 && r <= 55 {
				t.Errorf("nonceLen(%d) = %d, but %d fits too", p, n, m)
			}
		}
	}
	for _, tt := range []struct{ prefix, want int }{
		{125, 8}, // the typical vote
		{0, 8},
		{48, 20},
		{55, 13},
		{56, 12},
		{63, 8},
	} {
		if got := nonceLen(tt.prefix); got != tt.want {
			t.Errorf("nonceLen(%d) = %d, want %d", tt.prefix, got, tt.want)
		}
	}
}

// increment adds one to b as a big-endian integer, wrapping at the top.
func increment(b []byte) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i]++
		if b[i] != 0 {
			return
		}
	}
}

func testPrefix(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + 3)
	}
	return p
}

// TestIter checks the iterator against the plain hash of the whole message
// for consecutive nonces, starting close to carries that cross into the
// cached blocks and to the wrap of the whole nonce.
func TestIter(t *testing.T) {
	tests := []struct {
		prefix int
		start  string // hex
	}{
		// 133 bytes, 5 nonce bytes in the last block: the carry out of
		// them reaches the 3 nonce bytes of the cached blocks.
		{125, "00ff00fffffffc00"},
		{125, "fffffffffffffc00"}, // then the whole nonce wraps
		{125, "12ffffffffffff00"},
		// One nonce byte in the last block: a carry every 256 nonces.
		{63, "00f0"},
		{63, "fff0"},
		{62, "00fffff0"},
		{57, "0102ff03fffffff0"},
		// The nonce is the whole message: nothing to cache.
		{0, "fffffffffffff800"},
		// The message ends on a block boundary: the padding takes a block
		// of its own. With a 66-byte nonce, carries reach the cached block.
		{56, "00000000fffff800"},
		{120, "ffffffffffffff00"},
		{62, "00ff" + strings.Repeat("ff", 63) + "00"},
		// 55 bytes in the last block leave just room for the padding; from
		// 56 to 63 bytes it takes a second block.
		{47, "00ff00ff00fff800"},
		{48, "00ff00ff00fff800"},
		{50, "00ff00ff00fff800"},
		{117, "00ff00ff00fffff0"},
		// The nonce lengths that Solve picks for awkward prefixes.
		{55, "ff00ff00ff00ff00fffffff800"},
		{48, "ffffffffffffffffffffffffffffffffffffff00"},
	}
	for _, tt := range tests {
		start := mustHex(t, tt.start)
		t.Run(fmt.Sprintf("prefix%d/%d/%.16s", tt.prefix, len(start), tt.start), func(t *testing.T) {
			prefix := testPrefix(tt.prefix)
			it := newIter(prefix, start)
			if it.a == nil {
				t.Fatal("the iterator fell back to sum mode")
			}
			checkIter(t, it, prefix, start)
			checkIter(t, newIterMode(prefix, start, false), prefix, start)
			if !bytes.Equal(prefix, testPrefix(tt.prefix)) {
				t.Error("the iterator changed the prefix")
			}
		})
	}
}

func checkIter(t *testing.T, it *iter, prefix, start []byte) {
	t.Helper()
	nonce := bytes.Clone(start)
	for i := 0; i < 3000; i++ {
		it.hash()
		want := sha256.Sum256(append(bytes.Clone(prefix), nonce...))
		if it.sum != want {
			t.Fatalf("nonce %x (step %d): digest %x, want %x", nonce, i, it.sum, want)
		}
		if got := it.nonce(); !bytes.Equal(got, nonce) {
			t.Fatalf("step %d: nonce %x, want %x", i, got, nonce)
		}
		it.next()
		increment(nonce)
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
