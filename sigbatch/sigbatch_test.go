package sigbatch

import (
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"testing"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"

	"github.com/powvote/powvote/sigbatch/sigbatchtest"
)

// check verifies es and compares every decision with crypto/ed25519's.
func check(t testing.TB, v *Verifier, es []Entry) []bool {
	t.Helper()
	ok := make([]bool, len(es))
	v.Verify(es, ok)
	for i, e := range es {
		want := len(e.Key) == ed25519.PublicKeySize && ed25519.Verify(e.Key, e.Msg, e.Sig)
		if ok[i] != want {
			t.Errorf("entry %d: %v, crypto/ed25519 says %v (sig %x)", i, ok[i], want, e.Sig)
		}
	}
	return ok
}

// padded returns n valid entries of s with the given ones put at the front.
func padded(s *sigbatchtest.Signer, n int, front ...Entry) []Entry {
	es := append([]Entry(nil), front...)
	for i := len(es); i < n; i++ {
		msg := fmt.Appendf(nil, "mandate %d", i)
		es = append(es, Entry{s.Pub, msg, s.Sign(msg, nil)})
	}
	return es
}

func TestValidBatch(t *testing.T) {
	s := sigbatchtest.NewSigner(rand.NewChaCha8([32]byte{1}), nil)
	v := NewVerifier(s.Pub)
	for _, n := range []int{1, MinBatch - 1, MinBatch, MaxBatch, MaxBatch + MinBatch + 3} {
		es := padded(s, n)
		for i, ok := range check(t, v, es) {
			if !ok {
				t.Fatalf("%d entries: entry %d refused", n, i)
			}
		}
	}
	idx := make([]int, MinBatch)
	for i := range idx {
		idx[i] = i
	}
	if !v.batch(padded(s, MinBatch), idx) {
		t.Error("a batch of valid signatures fails")
	}
}

// TestSmallOrderComponents is the case a cofactored batch verifier gets
// wrong: a signature whose R carries a point of E[8]. The batch verifier
// alone accepts every such batch (checked here, so that the test shows
// what the subset test adds); Verify refuses each such signature, as
// crypto/ed25519 does, however several of them are combined to cancel out.
func TestSmallOrderComponents(t *testing.T) {
	e8 := sigbatchtest.Torsion()
	s := sigbatchtest.NewSigner(rand.NewChaCha8([32]byte{2}), nil)
	v := NewVerifier(s.Pub)
	crafted := func(ts ...int) []Entry {
		var out []Entry
		for j, ti := range ts {
			msg := fmt.Appendf(nil, "crafted %d", j)
			out = append(out, Entry{s.Pub, msg, s.Sign(msg, &e8[ti])})
		}
		return out
	}
	cases := [][]int{{4}, {2}, {6}}
	for i := 1; i < 8; i++ {
		cases = append(cases, []int{i})
	}
	cases = append(cases,
		[]int{4, 4},       // two of order 2: they cancel in any sum holding both
		[]int{1, 7},       // T and -T
		[]int{2, 6},       // order 4, T and -T
		[]int{2, 2, 4},    // 2 + 2 + 4 = 8 = 0
		[]int{1, 1, 1, 5}, // 1 + 1 + 1 + 5 = 8
		[]int{4, 4, 4, 4, 4, 4, 4, 4},
	)
	for _, ts := range cases {
		t.Run(fmt.Sprint(ts), func(t *testing.T) {
			es := padded(s, MinBatch, crafted(ts...)...)
			bv := voi.NewBatchVerifier()
			for _, e := range es {
				bv.Add(voi.PublicKey(e.Key), e.Msg, e.Sig)
			}
			if !bv.VerifyBatchOnly(nil) {
				t.Fatal("the cofactored batch refuses the crafted signatures: they do not test what they should")
			}
			ok := check(t, v, es)
			for i := range ts {
				if ok[i] {
					t.Errorf("crafted signature %d accepted", i)
				}
			}
			idx := make([]int, len(es))
			for i := range idx {
				idx[i] = i
			}
			if v.batch(es, idx) {
				t.Error("the batch passes with a small-order component in an R")
			}
		})
	}
}

// TestEdgeCases compares Verify with crypto/ed25519 on the signatures
// where implementations of Ed25519 disagree ("Taming the many EdDSAs"):
// small-order R, non-canonical R and S, small-order and mixed-order keys,
// non-canonical keys, each in a batch of valid signatures.
func TestEdgeCases(t *testing.T) {
	rng := rand.NewChaCha8([32]byte{3})
	e8 := sigbatchtest.Torsion()
	good := sigbatchtest.NewSigner(rng, nil)
	mixed := sigbatchtest.NewSigner(rng, &e8[1])
	small := sigbatchtest.WithPub(rng, sigbatchtest.Compress(&e8[1])) // a = 0, A of order 8
	ident := sigbatchtest.WithPub(rng, sigbatchtest.Compress(&e8[0])) // A the identity
	v := NewVerifier(good.Pub, mixed.Pub, small.Pub, ident.Pub)
	for _, s := range []*sigbatchtest.Signer{mixed, small, ident} {
		if Batchable(s.Pub) {
			t.Errorf("key %x is batchable", s.Pub)
		}
	}
	if !Batchable(good.Pub) {
		t.Error("a key of prime order is not batchable")
	}

	msg := []byte("edge")
	type edge struct {
		name string
		e    Entry
	}
	var cases []edge
	add := func(name string, s *sigbatchtest.Signer, sig []byte) {
		cases = append(cases, edge{name, Entry{s.Pub, msg, sig}})
	}
	for i := range 8 {
		// R = T alone (r = 0): valid for crypto/ed25519 only when T is the
		// identity.
		add(fmt.Sprintf("R = [%d]T8", i), good, good.SignWithR(msg, sigbatchtest.Compress(&e8[i])))
	}
	for i, rb := range sigbatchtest.NonCanonical() {
		add(fmt.Sprintf("non-canonical R %d", i), good, good.SignWithR(msg, rb))
	}
	valid := good.Sign(msg, nil)
	add("valid", good, valid)
	if pl := sigbatchtest.PlusL(valid); string(pl[32:]) == string(valid[32:]) || !ed25519.Verify(good.Pub, msg, valid) || ed25519.Verify(good.Pub, msg, pl) {
		t.Fatal("PlusL does not make a refused encoding of a valid S")
	}
	add("S + L", good, sigbatchtest.PlusL(valid))
	flipped := append([]byte(nil), valid...)
	flipped[5] ^= 1
	add("R flipped", good, flipped)
	flipped = append([]byte(nil), valid...)
	flipped[40] ^= 1
	add("S flipped", good, flipped)
	add("short", good, valid[:63])
	for i := range 8 {
		add(fmt.Sprintf("mixed-order key, R + [%d]T8", i), mixed, mixed.Sign(msg, &e8[i]))
		add(fmt.Sprintf("order-8 key, R = [%d]T8", i), small, small.SignWithR(msg, sigbatchtest.Compress(&e8[i])))
		add(fmt.Sprintf("identity key, R + [%d]T8", i), ident, ident.Sign(msg, &e8[i]))
	}
	for _, rb := range sigbatchtest.NonCanonical() {
		// A non-canonical key: a valid point that crypto/ed25519 decodes.
		nc := sigbatchtest.WithPub(rng, rb)
		add(fmt.Sprintf("non-canonical key %x", rb[:2]), nc, nc.SignWithR(msg, sigbatchtest.Compress(&e8[0])))
	}
	accepted := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ok := check(t, v, padded(good, MinBatch, c.e))
			if ok[0] {
				accepted++
			}
		})
	}
	// The cases must hold both outcomes, or the comparison proves little.
	if accepted == 0 || accepted == len(cases) {
		t.Errorf("%d of %d edge cases accepted", accepted, len(cases))
	}
}

func TestOtherKeys(t *testing.T) {
	rng := rand.NewChaCha8([32]byte{4})
	a, b := sigbatchtest.NewSigner(rng, nil), sigbatchtest.NewSigner(rng, nil)
	v := NewVerifier(a.Pub)
	es := padded(a, MinBatch+10)
	for i := range 10 {
		msg := fmt.Appendf(nil, "b %d", i)
		sig := b.Sign(msg, nil)
		if i%2 == 1 {
			sig[0] ^= 1
		}
		es[i] = Entry{b.Pub, msg, sig}
	}
	es = append(es, Entry{a.Pub[:31], []byte("short key"), es[20].Sig})
	ok := check(t, v, es)
	if ok[len(ok)-1] {
		t.Error("a 31-byte key accepted")
	}
}

func TestLengthMismatch(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	NewVerifier().Verify(make([]Entry, 2), make([]bool, 1))
}

func TestTorsionFree(t *testing.T) {
	e8 := sigbatchtest.Torsion()
	s := sigbatchtest.NewSigner(rand.NewChaCha8([32]byte{5}), nil)
	for i := range 8 {
		for _, r := range [][]byte{s.Pub, sigbatchtest.Compress(&e8[0])} {
			var p curvePoint
			if err := decode(&p, r); err != nil {
				t.Fatal(err)
			}
			p.Add(&p, &e8[i])
			if got := torsionFree(&p); got != (i == 0) {
				t.Errorf("point %x plus [%d]T8: torsion-free %v", r[:4], i, got)
			}
		}
	}
}
