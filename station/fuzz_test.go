package station

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"github.com/powvote/powvote/mandate"
)

// fuzzKey is the desk key of the fuzz target: fixed, so that the seed
// corpus in testdata/fuzz/FuzzReadIssued can hold mandates it signed
// (mandate.Sign is deterministic) beside mandates of otherFuzzKey.
var fuzzKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x5d}, ed25519.SeedSize))

// otherFuzzKey signs the foreign mandates of the corpus.
var otherFuzzKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0xa7}, ed25519.SeedSize))

// FuzzReadIssued checks that whatever readIssued accepts is a list of
// distinct mandates of the desk's key, one a whole line, that the lengths
// it reports cover the input, and that the file stays acceptable only as
// long as nobody adds a copy of one of its lines or a line of another key.
func FuzzReadIssued(f *testing.F) {
	pub := fuzzKey.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, file []byte) {
		ids, good, partial, err := readIssued(bytes.NewReader(file), "issued.txt", pub)
		if err != nil {
			if ids != nil || good != 0 || partial != 0 {
				t.Fatalf("refused (%v), but reported %d lines, %d+%d bytes", err, len(ids), good, partial)
			}
			return
		}
		if good+int64(partial) != int64(len(file)) || partial > 0 && file[len(file)-1] == '\n' ||
			good > 0 && file[good-1] != '\n' {
			t.Fatalf("accepted %q as %d whole bytes and %d partial", file, good, partial)
		}
		whole := strings.SplitAfter(string(file[:good]), "\n")
		whole = whole[:len(whole)-1] // after the last line feed
		if len(whole) != len(ids) {
			t.Fatalf("accepted %d lines, counted %d", len(whole), len(ids))
		}
		seen := make(map[[mandate.IDSize]byte]bool)
		var canonical bytes.Buffer
		for n, line := range whole {
			tok, err := mandate.ParseHex(line)
			if err != nil || tok.Verify() != nil || !bytes.Equal(tok.AuthPkey[:], pub) || seen[tok.AuthID] || ids[tok.AuthID] != n+1 {
				t.Fatalf("accepted line %d %q, which is no distinct mandate of the desk's key", n+1, line)
			}
			seen[tok.AuthID] = true
			canonical.WriteString(tok.Hex() + "\n")
		}
		// The same mandates written as the desk writes them read the same.
		again, _, _, err := readIssued(&canonical, "issued.txt", pub)
		if err != nil || len(again) != len(ids) {
			t.Fatalf("the canonical form of an accepted file reads %d lines, %v", len(again), err)
		}
		if len(whole) == 0 {
			return
		}
		// One more copy of any line, or a mandate of another key, and the
		// file is refused for that reason.
		for _, line := range []string{whole[0], whole[len(whole)-1]} {
			dup := append(file[:good:good], line...)
			if _, _, _, err := readIssued(bytes.NewReader(dup), "issued.txt", pub); !errors.Is(err, ErrDuplicate) {
				t.Fatalf("a copy of %q appended: %v, want ErrDuplicate", line, err)
			}
		}
		tok, _ := mandate.ParseHex(whole[0])
		foreign := mandate.Sign(otherFuzzKey, tok.AuthID)
		withForeign := append(file[:good:good], foreign.Hex()+"\n"...)
		if _, _, _, err := readIssued(bytes.NewReader(withForeign), "issued.txt", pub); !errors.Is(err, ErrForeignKey) {
			t.Fatalf("another key's mandate appended: %v, want ErrForeignKey", err)
		}
	})
}
