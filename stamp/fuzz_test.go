package stamp

import (
	"bytes"
	"errors"
	"testing"

	"github.com/powvote/powvote/internal/crockford"
)

// FuzzCheckVoter checks that CheckVoter accepts only canonical stamps (an
// accepted stamp is the grouped encoding of the bytes it decodes to, so two
// spellings never pass for one stamp) and fails only with ErrVoter. It also
// makes a stamp from the input's first 16 bytes and checks that it passes
// for its own platform stamp and for no other, and that Key's HMAC is
// crypto/hmac's on its inputs.
func FuzzCheckVoter(f *testing.F) {
	f.Fuzz(func(t *testing.T, key []byte, voter, putc string, psig []byte) {
		if len(key) == 0 {
			key = exKey
		}
		// Key's HMAC is crypto/hmac's, whatever the lengths.
		k, err := NewKey(key)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := k.sum([]byte(voter), putc, psig), refHMAC(key, []byte(voter), putc, psig); !bytes.Equal(got[:], want) {
			t.Fatalf("Key.sum = %x, crypto/hmac %x", got, want)
		}
		err = CheckVoter(key, voter, putc, psig)
		if err == nil {
			b, derr := crockford.Decode(voter)
			if derr != nil {
				t.Fatalf("CheckVoter accepted %q, which does not decode: %v", voter, derr)
			}
			if e := crockford.Group(crockford.Encode(b), "-", groupLen); e != voter {
				t.Fatalf("CheckVoter accepted %q, whose canonical form is %q", voter, e)
			}
		} else if !errors.Is(err, ErrVoter) {
			t.Fatalf("CheckVoter(%q) = %v, want ErrVoter", voter, err)
		}

		r := make([]byte, randLen)
		copy(r, voter)
		v, err := NewVoter(key, bytes.NewReader(r), putc, psig)
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckVoter(key, v, putc, psig); err != nil {
			t.Fatalf("CheckVoter(NewVoter()) = %v", err)
		}
		// Another P-UTC changes the MACed bytes. A MAC that still matches
		// is a 1 in 2^32 chance: no fuzzing run gets there by luck.
		if err := CheckVoter(key, v, putc+"0", psig); err == nil {
			t.Fatalf("stamp %q for P-UTC %q passes for %q", v, putc, putc+"0")
		}
	})
}
