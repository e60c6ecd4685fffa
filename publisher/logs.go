package publisher

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/powvote/powvote/audit"
	"github.com/powvote/powvote/published"
)

// tileHeight is the height of C2SP tlog-tiles tiles: 256 hashes wide.
const (
	tileHeight = published.TileHeight
	tileWidth  = published.TileWidth
)

// hashStore holds the stored hashes of one list's Merkle tree (tlog's
// numbering: tlog.StoredHashIndex) in a file of 32-byte records, with the
// hashes of a batch kept in memory until commit.
//
// The file is never the only copy of anything: every hash in it follows
// from the list's lines, so New cuts it to the committed size of the list
// and recomputes whatever a crash left missing. The round's goroutine owns
// pending and n; handlers read the file below a count taken from the
// snapshot (committedHashes), which the round never writes.
type hashStore struct {
	f       *os.File
	path    string
	n       int64       // hashes in the file, all fsynced
	pending []tlog.Hash // hashes n, n+1, ... of the batch under way
}

// ReadHashes implements tlog.HashReader over the file and the batch.
func (h *hashStore) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		switch {
		case x < 0 || x >= h.n+int64(len(h.pending)):
			return nil, fmt.Errorf("hash %d not stored (%d are)", x, h.n+int64(len(h.pending)))
		case x >= h.n:
			out[i] = h.pending[x-h.n]
		default:
			if _, err := h.f.ReadAt(out[i][:], x*tlog.HashSize); err != nil {
				return nil, fmt.Errorf("couldn't read hash %d from %s: %w", x, h.path, err)
			}
		}
	}
	return out, nil
}

// add computes the hashes that leaf n, with content line, adds to the tree.
func (h *hashStore) add(n int64, line []byte) error {
	hs, err := tlog.StoredHashes(n, line, h)
	if err != nil {
		return fmt.Errorf("leaf %d of %s: %w", n, h.path, err)
	}
	h.pending = append(h.pending, hs...)
	return nil
}

// commit writes the batch's hashes after the file's and fsyncs.
func (h *hashStore) commit() error {
	if len(h.pending) == 0 {
		return nil
	}
	b := make([]byte, 0, len(h.pending)*tlog.HashSize)
	for _, x := range h.pending {
		b = append(b, x[:]...)
	}
	if _, err := h.f.WriteAt(b, h.n*tlog.HashSize); err != nil {
		return fmt.Errorf("couldn't write %s: %w", h.path, err)
	}
	if err := h.f.Sync(); err != nil {
		return fmt.Errorf("couldn't sync %s: %w", h.path, err)
	}
	h.n += int64(len(h.pending))
	h.pending = nil
	return nil
}

// recover cuts the file to what a tree of leaves leaves needs and returns
// the first leaf whose hashes are not all in it: the caller adds that
// leaf and the following ones again, then commits.
func (h *hashStore) recover(leaves int64) (int64, error) {
	fi, err := h.f.Stat()
	if err != nil {
		return 0, fmt.Errorf("publisher: %w", err)
	}
	have := fi.Size() / tlog.HashSize
	// The largest tree whose hashes are all in the file: a crash after
	// the lists were written may have left the tail of a batch missing,
	// or a torn record.
	lo, hi := int64(0), leaves
	for lo < hi {
		mid := hi - (hi-lo)/2
		if tlog.StoredHashCount(mid) <= have {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	h.n = tlog.StoredHashCount(lo)
	if fi.Size() != h.n*tlog.HashSize {
		if err := h.f.Truncate(h.n * tlog.HashSize); err != nil {
			return 0, fmt.Errorf("publisher: couldn't cut %s: %w", h.path, err)
		}
		if err := h.f.Sync(); err != nil {
			return 0, fmt.Errorf("publisher: couldn't sync %s: %w", h.path, err)
		}
	}
	return lo, nil
}

// committedHashes reads the first n hashes of a hashStore's file; it is
// what handlers use, with n from the snapshot.
type committedHashes struct {
	f *os.File
	n int64
}

func (c committedHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= c.n {
			return nil, fmt.Errorf("hash %d not committed", x)
		}
		if _, err := c.f.ReadAt(out[i][:], x*tlog.HashSize); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// A treeLog is one of the three logs the publisher keeps: the votes
// list, the voters list and the retracted list (published.List). The
// round's goroutine extends it, handlers read a prefix of it through the
// snapshot.
type treeLog struct {
	origin string // of its checkpoints: "powvote/C/vote", ...
	// hashes are the stored hashes of its tree, with Config.LogKey; nil
	// without.
	hashes *hashStore
	// tileStart is the byte offset in the list of leaf 256*j: where the
	// entry bundle j starts. Append-only.
	tileStart []int64
	// checkpoint is the latest signed checkpoint, once durable.
	checkpoint []byte
}

// noteLeaf records that leaf n of the log starts at byte off of its list.
func (l *treeLog) noteLeaf(n, off int64) {
	if n%tileWidth == 0 {
		l.tileStart = append(l.tileStart, off)
	}
}

// extend adds lines to the tree as its leaves size-len(lines) to size-1,
// makes their hashes durable and returns the checkpoint of size that key
// signs. The caller writes it, and makes it the latest once the state
// that publishes it is durable.
func (l *treeLog) extend(key *logKey, lines []string, size int64) ([]byte, error) {
	for j, line := range lines {
		if err := l.hashes.add(size-int64(len(lines))+int64(j), []byte(line)); err != nil {
			return nil, err
		}
	}
	if err := l.hashes.commit(); err != nil {
		return nil, err
	}
	root, err := tlog.TreeHash(size, l.hashes)
	if err != nil {
		return nil, fmt.Errorf("tree of %s: %w", l.origin, err)
	}
	return key.sign(l.origin, size, root)
}

// logKey is the key that signs the logs' checkpoints, with what each of
// them carries besides the tree.
type logKey struct {
	signer note.Signer
	vkey   string // the note verifier key of signer, served as /C-log.vkey
	// settingsHash is audit.SettingsHash of Config.Settings, the settings
	// line of every checkpoint signed; "" without Config.Settings.
	settingsHash string
}

// newLogKey reads a note signer key that Config.validate checked.
func newLogKey(skey string, settings []byte) *logKey {
	k := &logKey{}
	k.signer, _ = note.NewSigner(skey)
	k.vkey, _ = verifierKey(skey)
	if settings != nil {
		k.settingsHash = audit.SettingsHash(settings)
	}
	return k
}

// sign returns the checkpoint of the tree of size leaves and root of the
// log of origin.
func (k *logKey) sign(origin string, size int64, root tlog.Hash) ([]byte, error) {
	return signCheckpoint(k.signer, origin, size, root, k.settingsHash)
}

// signCheckpoint returns the signed note of a checkpoint: its text is
// audit.CheckpointText, the one definition auditors read it by, with the
// settings line of settingsHash ("" for none). Ed25519 signatures are
// deterministic, so signing the same tree again gives the same bytes: New
// uses that to check the checkpoint files.
func signCheckpoint(s note.Signer, origin string, size int64, root tlog.Hash, settingsHash string) ([]byte, error) {
	text := audit.CheckpointText(origin, tlog.Tree{N: size, Hash: root}, settingsHash)
	msg, err := note.Sign(&note.Note{Text: text}, s)
	if err != nil {
		return nil, fmt.Errorf("couldn't sign checkpoint %s %d: %w", origin, size, err)
	}
	return msg, nil
}

// verifierKey derives the note verifier key of a note signer key
// "PRIVATE+KEY+<name>+<hash>+<base64 of 0x01 and the Ed25519 seed>".
func verifierKey(skey string) (string, error) {
	parts := strings.SplitN(skey, "+", 5) // base64 may hold "+"
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return "", errors.New("not a note signer key")
	}
	key, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(key) != 1+ed25519.SeedSize || key[0] != 1 {
		return "", errors.New("not an Ed25519 note signer key")
	}
	pub := ed25519.NewKeyFromSeed(key[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(parts[2], pub)
	if err != nil {
		return "", err
	}
	// The key hash in the signer key must be the one the verifier
	// computes, or checkpoints would carry a hash no one can match.
	s, err := note.NewSigner(skey)
	if err != nil {
		return "", err
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return "", err
	}
	if v.KeyHash() != s.KeyHash() || v.Name() != s.Name() {
		return "", errors.New("the key hash does not match the key")
	}
	return vkey, nil
}

// entryBundle encodes lines as a C2SP tlog-tiles entry bundle: each entry
// a big-endian uint16 length and the bytes of the line, without its "\n".
func entryBundle(lines [][]byte) []byte {
	var b []byte
	for _, l := range lines {
		b = binary.BigEndian.AppendUint16(b, uint16(len(l)))
		b = append(b, l...)
	}
	return b
}
