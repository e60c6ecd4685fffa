package pow

import (
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"fmt"
	"hash"
)

// nonceLen is the nonce length that Solve uses for a prefix of prefixLen
// bytes: the shortest in MinNonce..MaxNonce that leaves the message length
// mod 64 between 4 and 55, so that the last block holds at least 4 nonce
// bytes and, after them, the 9 bytes of SHA-256 padding. The bad residues
// (56..63 and 0..3) are 12 consecutive values, so among the 25 lengths at
// least 13 qualify and the search always succeeds.
func nonceLen(prefixLen int) int {
	for n := MinNonce; n <= MaxNonce; n++ {
		if r := (prefixLen + n) % 64; r >= 4 && r <= 55 {
			return n
		}
	}
	panic("pow: no nonce length fits") // unreachable, see above
}

// iter enumerates consecutive nonces for one message prefix and hashes each
// with the SHA-256 state of the unchanging blocks computed once.
//
// The message prefix||nonce (L bytes) splits into a head, every full 64-byte
// block before the one holding the last byte, and a tail of T = L - head
// bytes, 1 <= T <= 64. The nonce is a big-endian integer; its last k =
// min(n, T) bytes lie in the tail and change from one nonce to the next
// (ctr), the others lie in the head and change only when a carry leaves ctr,
// which then costs hashing the head again.
//
// The tail is kept padded as FIPS 180-4 section 5.1.1 pads the whole
// message (0x80, zeros, the message length in bits as 8 big-endian bytes),
// which makes it one block, or two when T > 55. For each nonce the hash is
// restored to its state after the head (UnmarshalBinary) and given the
// padded tail, which it compresses straight from our buffer since it holds
// no pending bytes. Its chaining value is then the digest: AppendBinary
// writes it as eight big-endian words after a 4-byte identifier. This skips
// the copies, padding and checks of Sum, which cost about as much as the
// compression itself. Construction checks this against sha256.Sum256 once;
// should the marshalled layout ever differ, the iterator writes the unpadded
// tail and calls Sum instead (sum mode), slower but equally correct.
//
// An iter is used by one goroutine.
type iter struct {
	h hash.Hash
	u encoding.BinaryUnmarshaler
	a encoding.BinaryAppender // nil in sum mode

	msg   []byte // prefix||nonce; the bytes under ctr are stale
	plen  int    // prefix length
	head  int    // length of the head, a multiple of 64
	state []byte // marshalled hash state after the head
	tail  []byte // the padded tail; its first T bytes are the message's
	t     int    // T
	ctr   []byte // the nonce's changing bytes, tail[T-k:T]
	out   []byte // AppendBinary's output, reused

	sum [32]byte // digest of the current nonce, set by hash
}

// digestAt is where the chaining value starts in the marshalled state.
const digestAt = 4

// newIter returns an iterator starting at nonce start (copied). It needs a
// nonce of at least one byte.
func newIter(prefix, start []byte) *iter {
	it := newIterMode(prefix, start, true)
	if it.a != nil {
		it.hash()
		if it.sum != sha256.Sum256(it.msg) {
			it.a = nil
		}
	}
	return it
}

// newIterMode returns an iterator in block mode if block is true and the
// hash can append its state, in sum mode otherwise.
func newIterMode(prefix, start []byte, block bool) *iter {
	if len(start) == 0 {
		panic("pow: empty nonce")
	}
	h := sha256.New()
	it := &iter{
		h:    h,
		u:    h.(encoding.BinaryUnmarshaler),
		msg:  append(append(make([]byte, 0, len(prefix)+len(start)), prefix...), start...),
		plen: len(prefix),
	}
	if a, ok := h.(encoding.BinaryAppender); ok && block {
		it.a = a
	}
	L := len(it.msg)
	it.head = (L - 1) / 64 * 64
	it.t = L - it.head
	padded := 64
	if it.t > 55 {
		padded = 128
	}
	it.tail = make([]byte, padded)
	copy(it.tail, it.msg[it.head:])
	it.tail[it.t] = 0x80
	binary.BigEndian.PutUint64(it.tail[padded-8:], uint64(L)*8)
	it.ctr = it.tail[it.t-min(len(start), it.t) : it.t]
	it.rebuild()
	return it
}

// rebuild recomputes the hash state after the head of msg changed.
func (it *iter) rebuild() {
	it.h.Reset()
	it.h.Write(it.msg[:it.head])
	st, err := it.h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		panic(fmt.Sprintf("pow: sha256 state: %v", err))
	}
	it.state = st
}

// hash sets it.sum to the digest of the current nonce.
func (it *iter) hash() {
	if err := it.u.UnmarshalBinary(it.state); err != nil {
		// The state came from MarshalBinary of the same hash.
		panic(fmt.Sprintf("pow: sha256 state: %v", err))
	}
	if it.a == nil {
		it.h.Write(it.tail[:it.t])
		it.h.Sum(it.sum[:0])
		return
	}
	it.h.Write(it.tail)
	out, err := it.a.AppendBinary(it.out[:0])
	if err != nil || len(out) < digestAt+32 {
		panic(fmt.Sprintf("pow: sha256 state of %d bytes: %v", len(out), err))
	}
	it.out = out
	it.sum = [32]byte(out[digestAt:])
}

// next moves to the following nonce, wrapping from all 0xff bytes to all
// zero bytes.
func (it *iter) next() {
	for i := len(it.ctr) - 1; i >= 0; i-- {
		it.ctr[i]++
		if it.ctr[i] != 0 {
			return
		}
	}
	// The carry leaves the tail: ctr is all zero now.
	headNonce := it.msg[it.plen : len(it.msg)-len(it.ctr)]
	if len(headNonce) == 0 {
		return
	}
	for i := len(headNonce) - 1; i >= 0; i-- {
		headNonce[i]++
		if headNonce[i] != 0 {
			break
		}
	}
	it.rebuild()
}

// nonce returns the current nonce. It aliases the iterator's buffer, valid
// until the next call to next.
func (it *iter) nonce() []byte {
	copy(it.msg[len(it.msg)-len(it.ctr):], it.ctr)
	return it.msg[it.plen:]
}
