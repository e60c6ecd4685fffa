package audit

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// This file is the one home of the checkpoint text: the publisher writes
// it with CheckpointText, every reader reads it with ParseCheckpoint (or
// OpenCheckpoint), and nothing else spells it.
//
// A checkpoint of a list is a C2SP tlog-checkpoint, signed as a note by the
// log key, whose text is four lines:
//
//	powvote/solar/vote
//	308
//	<base64 of the tree hash of the first 308 lines>
//	settings <lower-case hex SHA-256 of solar-settings.yaml>
//
// the origin (published.Origin), the size in decimal, the root hash
// in standard base64 and, as the first C2SP extension line, the hash of the
// campaign's public settings file, byte for byte as served at
// /<campaign>-settings.yaml (SettingsHash). The settings line makes the log
// key sign the ballot, the authorities, the threshold and the window that
// the lists must be read against: a platform that served other settings
// (one more authority of its own, say) would have to sign them too, in
// front of every auditor and witness. Checkpoints signed before the line
// existed have three lines; readers accept them, and an audit says so.

// settingsWord starts the settings extension line.
const settingsWord = "settings"

// SettingsHash returns the hash a checkpoint's settings line carries: the
// lower-case hex SHA-256 of the exact bytes of a settings file.
func SettingsHash(settings []byte) string {
	h := sha256.Sum256(settings)
	return hex.EncodeToString(h[:])
}

// CheckpointText returns the text a checkpoint signs: origin, size, root
// and, unless settingsHash is "", the settings line. settingsHash is what
// SettingsHash returns.
func CheckpointText(origin string, tree tlog.Tree, settingsHash string) string {
	text := origin + "\n" + strconv.FormatInt(tree.N, 10) + "\n" + base64.StdEncoding.EncodeToString(tree.Hash[:]) + "\n"
	if settingsHash != "" {
		text += settingsWord + " " + settingsHash + "\n"
	}
	return text
}

// Checkpoint is a checkpoint's text, read. OpenCheckpoint returns only
// checkpoints whose signature verified.
type Checkpoint struct {
	Origin string    `json:"origin"`
	Tree   tlog.Tree `json:"tree"`
	// Settings is the hash of the settings line, "" when the checkpoint
	// has none (one signed before the line existed).
	Settings string `json:"settings,omitempty"`
	// Signatures are the signatures the note carries, those that
	// verified first. A checkpoint read with no key at hand (an earlier
	// one, LogOptions.Since) has none verified.
	Signatures []NoteSignature `json:"signatures,omitempty"`
	Note       []byte          `json:"-"` // the signed note as read, to keep for a later Since
}

// NoteSignature names the key of one signature on a checkpoint's note.
type NoteSignature struct {
	// Key is "<name>+<key hash>", the key hash in 8 hex digits: how a
	// note verifier key starts, so that it can be matched with the log
	// key the report shows.
	Key      string `json:"key"`
	Verified bool   `json:"verified"`
}

// signatures lists the signatures of n, verified first.
func signatures(n *note.Note) []NoteSignature {
	var out []NoteSignature
	for _, group := range []struct {
		sigs     []note.Signature
		verified bool
	}{{n.Sigs, true}, {n.UnverifiedSigs, false}} {
		for _, s := range group.sigs {
			out = append(out, NoteSignature{Key: fmt.Sprintf("%s+%08x", s.Name, s.Hash), Verified: group.verified})
		}
	}
	return out
}

// ParseCheckpoint reads a checkpoint's text, without its signatures:
// origin, size and root hash, then extension lines. A settings line may
// only be the first extension line and must hold a lower-case hex SHA-256;
// other extension lines are allowed (C2SP tlog-checkpoint) and ignored.
// Every number and hash must be written as CheckpointText writes it, so
// that one tree has one text.
func ParseCheckpoint(text string) (*Checkpoint, error) {
	if !strings.HasSuffix(text, "\n") {
		return nil, errors.New("not a checkpoint: no final line feed")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return nil, errors.New("not a checkpoint: want origin, size and root hash lines")
	}
	if lines[0] == "" {
		return nil, errors.New("not a checkpoint: empty origin")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return nil, fmt.Errorf("not a checkpoint: size %q", lines[1])
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize || base64.StdEncoding.EncodeToString(raw) != lines[2] {
		return nil, fmt.Errorf("not a checkpoint: root hash %q", lines[2])
	}
	cp := &Checkpoint{Origin: lines[0], Tree: tlog.Tree{N: size, Hash: tlog.Hash(raw)}}
	for i, ext := range lines[3:] {
		if ext == "" {
			return nil, errors.New("not a checkpoint: an empty extension line")
		}
		word, value, _ := strings.Cut(ext, " ")
		if word != settingsWord {
			continue
		}
		if i != 0 {
			return nil, fmt.Errorf("not a checkpoint: %q is not the first extension line", ext)
		}
		if len(value) != 2*sha256.Size || strings.Trim(value, "0123456789abcdef") != "" {
			return nil, fmt.Errorf("not a checkpoint: settings line %q: want %q and a lower-case hex SHA-256", ext, settingsWord)
		}
		cp.Settings = value
	}
	return cp, nil
}

// OpenCheckpoint verifies a checkpoint's signature under v and reads its
// text (ParseCheckpoint).
func OpenCheckpoint(data []byte, v note.Verifier) (*Checkpoint, error) {
	n, err := note.Open(data, note.VerifierList(v))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		if errors.As(err, &unverified) {
			return nil, fmt.Errorf("not signed by %s", v.Name())
		}
		return nil, err
	}
	cp, err := ParseCheckpoint(n.Text)
	if err != nil {
		return nil, err
	}
	cp.Note, cp.Signatures = data, signatures(n)
	return cp, nil
}

// openUnverified reads a checkpoint's text without verifying any of its
// signatures: for a checkpoint the auditor kept, with no key at hand.
func openUnverified(data []byte) (*Checkpoint, error) {
	_, err := note.Open(data, note.VerifierList())
	var unverified *note.UnverifiedNoteError
	if !errors.As(err, &unverified) {
		if err == nil {
			err = errors.New("a note no verifier opens")
		}
		return nil, err
	}
	cp, err := ParseCheckpoint(unverified.Note.Text)
	if err != nil {
		return nil, err
	}
	cp.Note, cp.Signatures = data, signatures(unverified.Note)
	return cp, nil
}
