package sigbatch

import (
	"crypto/ed25519"
	"math/rand/v2"
	"testing"

	"github.com/powvote/powvote/sigbatch/sigbatchtest"
)

// BenchmarkVerify verifies MaxBatch valid signatures under one key with
// Verify, and BenchmarkStdlib the same with crypto/ed25519.Verify one at a
// time: the ratio of their ns/op is what batching buys, the subset test
// included.
func BenchmarkVerify(b *testing.B) {
	s := sigbatchtest.NewSigner(rand.NewChaCha8([32]byte{'b'}), nil)
	es := padded(s, MaxBatch)
	v := NewVerifier(s.Pub)
	ok := make([]bool, len(es))
	for b.Loop() {
		v.Verify(es, ok)
	}
	for _, o := range ok {
		if !o {
			b.Fatal("a valid signature refused")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(es)), "ns/sig")
}

func BenchmarkStdlib(b *testing.B) {
	s := sigbatchtest.NewSigner(rand.NewChaCha8([32]byte{'b'}), nil)
	es := padded(s, MaxBatch)
	for b.Loop() {
		for _, e := range es {
			if !ed25519.Verify(e.Key, e.Msg, e.Sig) {
				b.Fatal("a valid signature refused")
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(es)), "ns/sig")
}

// BenchmarkSubsetTest is the part of BenchmarkVerify that the subset test
// takes.
func BenchmarkSubsetTest(b *testing.B) {
	s := sigbatchtest.NewSigner(rand.NewChaCha8([32]byte{'b'}), nil)
	es := padded(s, MaxBatch)
	rs := make([]curvePoint, len(es))
	for i, e := range es {
		if err := decode(&rs[i], e.Sig[:32]); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if !primeOrderSums(rs) {
			b.Fatal("the subset test fails on valid signatures")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(es)), "ns/sig")
}
