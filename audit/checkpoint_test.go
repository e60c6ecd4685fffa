package audit

import (
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// TestCheckpointText checks the checkpoint text byte for byte, reads it
// back, and refuses settings lines that are not exactly the format.
func TestCheckpointText(t *testing.T) {
	root, err := tlog.ParseHash("7SzLwCSl0yXBYxbgIz+cLaOHWDMCIfcF+dMd4NIMo6U=")
	if err != nil {
		t.Fatal(err)
	}
	tree := tlog.Tree{N: 308, Hash: root}
	// SHA-256 of the empty file, as a stand-in for a settings file.
	settings := SettingsHash(nil)
	if settings != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatalf("SettingsHash(nil) = %s", settings)
	}
	const want = "powvote/solar/vote\n308\n7SzLwCSl0yXBYxbgIz+cLaOHWDMCIfcF+dMd4NIMo6U=\n" +
		"settings e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
	text := CheckpointText("powvote/solar/vote", tree, settings)
	if text != want {
		t.Fatalf("CheckpointText:\n%s\nwant\n%s", text, want)
	}
	for _, c := range []struct {
		text     string
		settings string
	}{
		{want, settings},
		{want + "other extension\n", settings},
		{CheckpointText("powvote/solar/vote", tree, ""), ""},             // from before the settings line
		{CheckpointText("powvote/solar/vote", tree, "") + "other\n", ""}, // another extension only
	} {
		cp, err := ParseCheckpoint(c.text)
		if err != nil || cp.Origin != "powvote/solar/vote" || cp.Tree != tree || cp.Settings != c.settings {
			t.Errorf("ParseCheckpoint(%q) = %+v, %v", c.text, cp, err)
		}
	}
	base := CheckpointText("powvote/solar/vote", tree, "")
	for _, bad := range []string{
		base + "settings " + strings.ToUpper(settings) + "\n",
		base + "settings " + settings[:63] + "\n",
		base + "settings " + settings + "0\n",
		base + "settings  " + settings + "\n",
		base + "settings\n",
		base + "settings " + settings,               // no final line feed
		base + "other\nsettings " + settings + "\n", // not the first extension line
		want + "settings " + settings + "\n",        // twice
		base + "\n",
		"\n308\n" + base[strings.Index(base, "7Sz"):],
	} {
		if cp, err := ParseCheckpoint(bad); err == nil {
			t.Errorf("ParseCheckpoint(%q) = %+v, want an error", bad, cp)
		}
	}
}

// TestCheckpointMutations signs a checkpoint with a settings line and
// checks that OpenCheckpoint refuses every single changed byte.
func TestCheckpointMutations(t *testing.T) {
	signer, vkey := logKeys(t)
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	tree := mthHash([]string{"a", "b", "c"})
	msg, err := note.Sign(&note.Note{Text: CheckpointText("powvote/solar/vote", tree, SettingsHash([]byte("name: solar\n")))}, signer)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := OpenCheckpoint(msg, v)
	if err != nil || cp.Tree != tree || cp.Settings != SettingsHash([]byte("name: solar\n")) {
		t.Fatalf("OpenCheckpoint: %+v, %v", cp, err)
	}
	for i := range msg {
		for _, b := range []byte{'0', 'a', 'A', '\n', ' '} {
			if msg[i] == b {
				continue
			}
			mutated := append([]byte(nil), msg...)
			mutated[i] = b
			if cp, err := OpenCheckpoint(mutated, v); err == nil {
				t.Fatalf("byte %d changed to %q: accepted as %+v", i, b, cp)
			}
		}
	}
}

// TestCheckpointCosigned opens a checkpoint with a settings line that a
// witness has cosigned: the witness signs the same text, extension line
// included, and its signature line beside the log's is no obstacle.
func TestCheckpointCosigned(t *testing.T) {
	signer, vkey := logKeys(t)
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	wkey, _, err := note.GenerateKey(strings.NewReader(strings.Repeat("w", 64)), "witness.example")
	if err != nil {
		t.Fatal(err)
	}
	witness, err := note.NewSigner(wkey)
	if err != nil {
		t.Fatal(err)
	}
	tree := mthHash([]string{"a", "b"})
	text := CheckpointText("powvote/solar/vote", tree, SettingsHash([]byte("name: solar\n")))
	msg, err := note.Sign(&note.Note{Text: text}, signer, witness)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := OpenCheckpoint(msg, v)
	if err != nil || cp.Tree != tree || cp.Settings != SettingsHash([]byte("name: solar\n")) {
		t.Fatalf("a cosigned checkpoint: %+v, %v", cp, err)
	}
}
