package audit

import (
	"crypto/rand"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// FuzzOpenCheckpoint reads arbitrary checkpoint texts, signed by the test's
// key or not signed at all: it must not panic, must refuse every text the
// key did not sign, and what it accepts must hold the origin, a canonical
// non-negative size and a 32-byte root, and begin with what CheckpointText
// writes for it.
func FuzzOpenCheckpoint(f *testing.F) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "powvote/fuzz")
	if err != nil {
		f.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		f.Fatal(err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		f.Fatal(err)
	}
	root := "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
	for _, text := range []string{
		"powvote/solar/vote\n12\n" + root + "\n",
		"powvote/solar/vote\n0\n" + root + "\n",
		"powvote/solar/vote\n12\n" + root + "\nextension line\n",
		"powvote/solar/vote\n12\n" + root + "\nsettings " + strings.Repeat("ab", 32) + "\n",
		"powvote/solar/vote\n12\n" + root + "\nsettings " + strings.Repeat("ab", 32) + "\nextension line\n",
		"powvote/solar/vote\n12\n" + root + "\nextension line\nsettings " + strings.Repeat("ab", 32) + "\n",
		"powvote/solar/vote\n012\n" + root + "\n",
		"powvote/solar/vote\n-1\n" + root + "\n",
		"powvote/solar/vote\n99999999999999999999\n" + root + "\n",
		"powvote/solar/vote\n12\n" + root[:40] + "\n",
		"powvote/solar/vote\n12\n",
		"",
	} {
		f.Add(text, true)
		f.Add(text, false)
	}
	f.Fuzz(func(t *testing.T, text string, sign bool) {
		data := []byte(text)
		if sign {
			msg, err := note.Sign(&note.Note{Text: text}, signer)
			if err != nil {
				return // not a note text: nothing to sign
			}
			data = msg
		}
		cp, err := OpenCheckpoint(data, verifier)
		if err != nil {
			return
		}
		if !sign {
			t.Fatalf("accepted an unsigned text %q", text)
		}
		lines := strings.Split(text, "\n")
		if cp.Origin != lines[0] {
			t.Errorf("origin %q, first line %q", cp.Origin, lines[0])
		}
		if cp.Tree.N < 0 || strconv.FormatInt(cp.Tree.N, 10) != lines[1] {
			t.Errorf("size %d from %q", cp.Tree.N, lines[1])
		}
		// One text per checkpoint: what was accepted is what
		// CheckpointText writes, then extension lines it ignored.
		if want := CheckpointText(cp.Origin, cp.Tree, cp.Settings); !strings.HasPrefix(text, want) {
			t.Errorf("accepted %q, which does not begin with %q", text, want)
		}
	})
}

// FuzzParseLogKey: no panic, and an accepted key names itself.
func FuzzParseLogKey(f *testing.F) {
	_, vkey, err := note.GenerateKey(rand.Reader, "solar-log")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(vkey)
	f.Add(vkey + "\n")
	f.Add("solar-log+00000000+AQ")
	f.Add("")
	f.Fuzz(func(t *testing.T, text string) {
		v, err := ParseLogKey(text)
		if err != nil {
			return
		}
		if !strings.HasPrefix(strings.TrimSpace(text), v.Name()+"+") {
			t.Errorf("key %q named %q", text, v.Name())
		}
	})
}
