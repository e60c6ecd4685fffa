package hedged_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"

	"github.com/powvote/powvote/internal/hedged"
)

func ExampleSigner_Sign() {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	k, err := hedged.New(priv)
	if err != nil {
		fmt.Println(err)
		return
	}
	msg := []byte("1767225600")
	var a, b [hedged.SignatureSize]byte
	k.Sign(rand.Reader, msg, &a)
	k.Sign(rand.Reader, msg, &b)
	fmt.Println(ed25519.Verify(k.Public(), msg, a[:]), ed25519.Verify(k.Public(), msg, b[:]), a == b)
	// Output: true true false
}
