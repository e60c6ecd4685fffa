// Package sigbatch verifies many Ed25519 signatures at once, and decides
// each one exactly as crypto/ed25519.Verify does: the rule that libsodium,
// PyNaCl and every outside auditor of the lists apply (PROTOCOL.md), not the
// looser rule of batch verifiers.
//
// A batch verifier (github.com/oasisprotocol/curve25519-voi) checks the
// cofactored equation [8](SB - R - kA) = 0 for all signatures at once, at
// about a quarter of the cost of verifying them one by one. crypto/ed25519
// checks the cofactorless one, R = SB - kA, byte for byte. With a key A of
// prime order, given in its canonical encoding, and R and S canonical (the
// batch verifier refuses the others), the two differ on exactly one kind of
// signature: one whose R is a valid R plus a nonzero point T of the small
// subgroup E[8]. Only the holder of the signing key can make one, but a
// dishonest authority could then issue mandates that one verifier accepts
// and another refuses.
//
// So a batch that passes is also tested for such components: for a random
// subset of its R values, the sum must lie in the prime-order subgroup
// (multiplied by the group order L, it gives the identity). When some R
// carries a T, a random subset's sum has a nonzero small component with
// probability at least one half, whatever the other signatures are: of the
// two subsets that differ only in that R, at most one can cancel it. After
// Rounds independent subsets, such a batch passes with probability at most
// 2^-Rounds. A batch that fails either test is verified one signature at a
// time with crypto/ed25519, which then decides.
//
// Keys that are not of prime order, or not canonically encoded, never go
// into a batch: their signatures are verified one at a time. So are batches
// smaller than MinBatch, for which the fixed cost of the subset test exceeds
// what batching saves.
package sigbatch

import (
	"crypto/ed25519"
	cryptorand "crypto/rand"
	"math/bits"
	"math/rand/v2"

	"github.com/oasisprotocol/curve25519-voi/curve"
	"github.com/oasisprotocol/curve25519-voi/curve/scalar"
	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

const (
	// MinBatch is the fewest signatures verified as a batch. The subset
	// test costs Rounds multiplications by L (about 35 µs each on the
	// machine of BENCHMARKS.md) whatever the batch's size, and a batch
	// saves about 36 µs per signature over crypto/ed25519: below some 100
	// signatures, one at a time is cheaper.
	MinBatch = 128
	// MaxBatch is the most signatures in one batch; more are split.
	MaxBatch = 1024
	// Rounds is how many random subsets of a batch's R values are tested:
	// a batch holding an R with a small-order component passes with
	// probability at most 2^-Rounds.
	Rounds = 64
)

// Entry is one signature to verify: Sig over Msg under Key, with the
// lengths of crypto/ed25519 (a Key of another length is refused, where
// crypto/ed25519.Verify would panic).
type Entry struct {
	Key ed25519.PublicKey
	Msg []byte
	Sig []byte
}

// Verifier verifies signatures in batches under the keys it was made with
// and one at a time under any other. It is safe for concurrent use.
type Verifier struct {
	keys map[[ed25519.PublicKeySize]byte]*voi.ExpandedPublicKey
}

// NewVerifier returns a Verifier that batches the signatures of keys, the
// few keys expected to sign most entries (a campaign's authorities). Keys
// unfit for batches are kept out of them (the package comment says which).
func NewVerifier(keys ...ed25519.PublicKey) *Verifier {
	v := &Verifier{keys: make(map[[ed25519.PublicKeySize]byte]*voi.ExpandedPublicKey)}
	for _, k := range keys {
		if !Batchable(k) {
			continue
		}
		xk, err := voi.NewExpandedPublicKey(voi.PublicKey(k))
		if err != nil {
			continue
		}
		v.keys[[ed25519.PublicKeySize]byte(k)] = xk
	}
	return v
}

// Batchable reports whether signatures under key may be verified in a
// batch: key is the canonical encoding of a point of the prime-order
// subgroup other than the identity.
func Batchable(key ed25519.PublicKey) bool {
	if len(key) != ed25519.PublicKeySize {
		return false
	}
	var c curve.CompressedEdwardsY
	if _, err := c.SetBytes(key); err != nil || !c.IsCanonicalVartime() {
		return false
	}
	var a curve.EdwardsPoint
	if _, err := a.SetCompressedY(&c); err != nil {
		return false
	}
	return !a.IsSmallOrder() && a.IsTorsionFree()
}

// Verify reports, for each entry, whether crypto/ed25519.Verify accepts it
// (ok[i] for es[i]; ok must be as long as es).
func (v *Verifier) Verify(es []Entry, ok []bool) {
	if len(ok) != len(es) {
		panic("sigbatch: ok and entries differ in length")
	}
	batch := make([]int, 0, min(len(es), MaxBatch))
	flush := func() {
		if len(batch) >= MinBatch && v.batch(es, batch) {
			for _, i := range batch {
				ok[i] = true
			}
		} else {
			for _, i := range batch {
				ok[i] = single(es[i])
			}
		}
		batch = batch[:0]
	}
	for i, e := range es {
		if len(e.Key) != ed25519.PublicKeySize || len(e.Sig) != ed25519.SignatureSize || v.keys[[ed25519.PublicKeySize]byte(e.Key)] == nil {
			ok[i] = single(e)
			continue
		}
		batch = append(batch, i)
		if len(batch) == MaxBatch {
			flush()
		}
	}
	flush()
}

// single is crypto/ed25519.Verify, refusing a key of the wrong length
// rather than panicking.
func single(e Entry) bool {
	return len(e.Key) == ed25519.PublicKeySize && ed25519.Verify(e.Key, e.Msg, e.Sig)
}

// batch reports whether every entry of es named by idx is valid; false
// when any may not be, which the caller then settles one by one.
func (v *Verifier) batch(es []Entry, idx []int) bool {
	bv := voi.NewBatchVerifierWithCapacity(len(idx))
	rs := make([]curvePoint, len(idx))
	for j, i := range idx {
		e := es[i]
		if err := decode(&rs[j], e.Sig[:32]); err != nil {
			return false
		}
		bv.AddExpanded(v.keys[[ed25519.PublicKeySize]byte(e.Key)], e.Msg, e.Sig)
	}
	return bv.VerifyBatchOnly(cryptorand.Reader) && primeOrderSums(rs)
}

// curvePoint is a point of edwards25519.
type curvePoint = curve.EdwardsPoint

// decode sets p to the point that b encodes.
func decode(p *curvePoint, b []byte) error {
	var c curve.CompressedEdwardsY
	if _, err := c.SetBytes(b); err != nil {
		return err
	}
	_, err := p.SetCompressedY(&c)
	return err
}

// primeOrderSums reports whether Rounds random subset sums of rs all lie in
// the prime-order subgroup. The subsets are drawn after rs is fixed, from
// a generator seeded by crypto/rand, so no signer can aim at them.
//
// The sums share work: rs is cut into blocks of four, each block's 16
// subset sums are computed once, and a round adds one of them per block,
// picked by four random bits, instead of adding half the points one by one.
func primeOrderSums(rs []curvePoint) bool {
	var seed [32]byte
	if _, err := cryptorand.Read(seed[:]); err != nil {
		panic("sigbatch: crypto/rand: " + err.Error())
	}
	rng := rand.NewChaCha8(seed)

	const width = 4
	blocks := (len(rs) + width - 1) / width
	sums := make([][1 << width]curvePoint, blocks)
	for b := range sums {
		t := &sums[b]
		t[0].Identity()
		for m := 1; m < 1<<width; m++ {
			low := m & -m
			k := b*width + bits.TrailingZeros(uint(low))
			if k >= len(rs) {
				// Past the end of rs: this point is absent, so the
				// subset sums to the same as without it.
				t[m].Set(&t[m^low])
				continue
			}
			t[m].Add(&t[m^low], &rs[k])
		}
	}

	var q curvePoint
	for range Rounds {
		q.Identity()
		var word uint64
		for b := range sums {
			if b%16 == 0 {
				word = rng.Uint64()
			}
			if m := word & (1<<width - 1); m != 0 {
				q.Add(&q, &sums[b][m])
			}
			word >>= width
		}
		if !torsionFree(&q) {
			return false
		}
	}
	return true
}

// torsionFree reports whether p lies in the prime-order subgroup: [L]p is
// the identity. Variable time: p is public.
func torsionFree(p *curvePoint) bool {
	var lp curvePoint
	return lp.DoubleScalarMulBasepointVartime(scalar.BASEPOINT_ORDER, p, zero).IsIdentity()
}

var zero = scalar.New()
