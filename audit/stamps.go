package audit

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/mod/sumdb/note"

	"github.com/powvote/powvote/published"
	"github.com/powvote/powvote/sigbatch"
)

// Keys are the public keys a keys file gives; a key the file does not give
// is nil (or "" for Log).
type Keys struct {
	UTCSign ed25519.PublicKey // verifies genuine platform stamps
	UTCHole ed25519.PublicKey // verifies decoy stamps
	Receipt ed25519.PublicKey // verifies Receipt-Sig
	Log     string            // note verifier key of the checkpoints
}

// KeysError is a keys file that ParseKeys refuses: Line is the 1-based
// line at fault, or 0 when the fault is not one line's.
type KeysError struct {
	Line int
	Msg  string
}

func (e *KeysError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// maxKeysFile bounds the keys file read: four keys take a few hundred
// bytes, and the file comes from the platform under audit.
const maxKeysFile = 64 << 10

// ParseKeys reads a keys file exactly as the publisher writes it: lines
// "<name> <key>" ending in '\n', names among utc-sign, utc-hole, receipt
// and log, each at most once, the Ed25519 keys as standard base64 of 32
// bytes and the log key as a note verifier key. Anything else is refused
// rather than skipped: a file that only the publisher writes has no
// reason to vary, and a line an auditor's tool ignored could be the one
// that matters.
func ParseKeys(data []byte) (*Keys, error) {
	k := &Keys{}
	seen := make(map[string]int)
	text := string(data)
	for ln := 1; text != ""; ln++ {
		line, rest, found := strings.Cut(text, "\n")
		text = rest
		if !found {
			return nil, &KeysError{ln, "the last line has no line feed"}
		}
		name, value, ok := strings.Cut(line, " ")
		if !ok || name == "" || value == "" || strings.ContainsAny(value, " \t\r") {
			return nil, &KeysError{ln, fmt.Sprintf("%q is not a name, one space and a key", line)}
		}
		if prev, dup := seen[name]; dup {
			return nil, &KeysError{ln, fmt.Sprintf("%s again (first on line %d)", name, prev)}
		}
		seen[name] = ln
		var dst *ed25519.PublicKey
		switch name {
		case "utc-sign":
			dst = &k.UTCSign
		case "utc-hole":
			dst = &k.UTCHole
		case "receipt":
			dst = &k.Receipt
		case "log":
			if _, err := note.NewVerifier(value); err != nil {
				return nil, &KeysError{ln, fmt.Sprintf("log: %v", err)}
			}
			k.Log = value
			continue
		default:
			return nil, &KeysError{ln, fmt.Sprintf("unknown key name %q", name)}
		}
		raw, err := base64.StdEncoding.Strict().DecodeString(value)
		if err != nil || len(raw) != ed25519.PublicKeySize {
			return nil, &KeysError{ln, fmt.Sprintf("%s: not the base64 of a %d-byte Ed25519 public key", name, ed25519.PublicKeySize)}
		}
		*dst = ed25519.PublicKey(raw)
	}
	return k, nil
}

// ParseStampKey reads an Ed25519 public key given as text: standard
// base64 (as the keys file has it) or hex.
func ParseStampKey(s string) (ed25519.PublicKey, error) {
	s = strings.TrimSpace(s)
	if raw, err := base64.StdEncoding.Strict().DecodeString(s); err == nil && len(raw) == ed25519.PublicKeySize {
		return ed25519.PublicKey(raw), nil
	}
	if raw, err := hex.DecodeString(s); err == nil && len(raw) == ed25519.PublicKeySize {
		return ed25519.PublicKey(raw), nil
	}
	return nil, fmt.Errorf("not an Ed25519 public key: want the base64 or hex of %d bytes", ed25519.PublicKeySize)
}

// readKeysFile reads the keys file if the source has it: (nil, nil) when
// it has not, which is the case of every campaign still open.
func readKeysFile(src Source, name string) ([]byte, error) {
	r, err := src.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit: couldn't open %s: %w", name, err)
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, maxKeysFile+1))
	if err != nil {
		return nil, fmt.Errorf("audit: reading %s: %w", name, err)
	}
	if b == nil {
		b = []byte{} // present but empty is not missing
	}
	return b, nil
}

// notClosed is why the platform-stamp check is skipped without a key.
const notClosed = "the campaign has not closed: the UTC-SIGN key is not public yet"

// stampChecker holds what the platform-stamp check needs, set before the
// workers start. Without utcSign the check is not made.
type stampChecker struct {
	utcSign ed25519.PublicKey
	utcHole ed25519.PublicKey  // nil when unknown: decoys are then only "not genuine"
	keyText string             // utcSign in base64, for the report
	keyFrom string             // "given" or the keys file's name
	fail    *Failure           // what is wrong with the keys file, if anything
	skip    string             // why the check is not made, if it is not
	keys    *Keys              // the keys file, when it is there and well formed
	batch   *sigbatch.Verifier // verifies many stamps under utcSign at once

	// cache holds the verdict on each P-SIG checked on its own (one that
	// a batch did not show genuine, or of a batch too small to batch:
	// checkVotes). The platform's stamps are hedged signatures, each
	// voter's its own, but a list may repeat one (a forger copying a
	// stamp, a platform signing deterministically), and the verdict is
	// then reused. It is shared by the workers. Keyed by the signature,
	// with the P-UTC it was checked against in the entry: a signature
	// copied onto another P-UTC must not ride on the verdict.
	cache   sync.Map // [64]byte -> stampEntry
	entries atomic.Int64
}

// maxStampCache bounds the cache. Past it stamps are still verified, only
// no longer remembered: a list of all-distinct signatures (a forgery, or
// a campaign with a vote every second for weeks) must not make the audit
// hold one entry per vote on top of the lists' own indexes.
const maxStampCache = 1 << 18

type stampVerdict uint8

const (
	stampGenuine stampVerdict = iota // signed by UTC-SIGN
	stampDecoy                       // signed by UTC-HOLE
	stampForged                      // signed by neither key known
)

type stampEntry struct {
	putc    string
	verdict stampVerdict
}

// newStampChecker settles the UTC-SIGN key from the one given and the
// source's keys file, and notes any fault of the file.
func newStampChecker(src Source, campaign string, given ed25519.PublicKey) (*stampChecker, error) {
	sc := &stampChecker{}
	if given != nil {
		if len(given) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("audit: the UTC-SIGN key given is %d bytes, want %d", len(given), ed25519.PublicKeySize)
		}
		sc.utcSign, sc.keyFrom = given, "given"
	}
	name := published.KeysName(campaign)
	data, err := readKeysFile(src, name)
	if err != nil {
		return nil, err
	}
	failAt := func(ln int, msg string) {
		sc.fail = &Failure{Check: CheckPlatformStamp, List: name, Message: msg}
		if ln > 0 {
			sc.fail.Lines, sc.fail.Count = []int{ln}, 1
		}
	}
	switch {
	case data == nil:
		if sc.utcSign == nil {
			// Not a failure even under Strict: during the campaign the key
			// must stay secret, so its absence is what an open campaign
			// looks like.
			sc.skip = notClosed
		}
	case len(data) > maxKeysFile:
		failAt(0, fmt.Sprintf("longer than %d bytes", maxKeysFile))
	default:
		keys, err := ParseKeys(data)
		switch {
		case err != nil:
			ln := 0
			if ke := (*KeysError)(nil); errors.As(err, &ke) {
				ln = ke.Line
			}
			failAt(ln, err.Error())
		case keys.UTCSign == nil:
			failAt(0, "the campaign has closed but the file does not give the utc-sign key")
		case sc.utcSign != nil && !sc.utcSign.Equal(keys.UTCSign):
			failAt(keyLine(data, "utc-sign"), fmt.Sprintf("line %d: the utc-sign key differs from the one given", keyLine(data, "utc-sign")))
		default:
			if sc.utcSign == nil {
				sc.utcSign, sc.keyFrom = keys.UTCSign, name
			}
		}
		if err == nil {
			sc.utcHole, sc.keys = keys.UTCHole, keys
		}
	}
	if sc.utcSign != nil {
		sc.keyText = base64.StdEncoding.EncodeToString(sc.utcSign)
		sc.batch = sigbatch.NewVerifier(sc.utcSign)
	}
	return sc, nil
}

// keyLine is the 1-based line of a well-formed keys file that gives name.
func keyLine(data []byte, name string) int {
	for i, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, name+" ") {
			return i + 1
		}
	}
	return 0
}

// check returns the verdict on one vote's platform stamp.
func (sc *stampChecker) check(putc string, sig *[64]byte) stampVerdict {
	if e, ok := sc.cache.Load(*sig); ok {
		if e := e.(stampEntry); e.putc == putc {
			return e.verdict
		}
		// The same signature over another P-UTC: it cannot verify under
		// both, so check this one afresh and keep the first entry.
		return sc.verify(putc, sig)
	}
	v := sc.verify(putc, sig)
	if sc.entries.Load() < maxStampCache {
		// Cloned: putc is a substring of the whole batch's text, which the
		// cache would otherwise keep alive.
		if _, loaded := sc.cache.LoadOrStore(*sig, stampEntry{strings.Clone(putc), v}); !loaded {
			sc.entries.Add(1)
		}
	}
	return v
}

func (sc *stampChecker) verify(putc string, sig *[64]byte) stampVerdict {
	switch {
	case ed25519.Verify(sc.utcSign, []byte(putc), sig[:]):
		return stampGenuine
	case sc.utcHole != nil && ed25519.Verify(sc.utcHole, []byte(putc), sig[:]):
		return stampDecoy
	default:
		return stampForged
	}
}

// message says why a stamp that is not genuine fails.
func (sc *stampChecker) message(v stampVerdict, putc string) string {
	if v == stampDecoy {
		return fmt.Sprintf("P-SIG is the UTC-HOLE signature of P-UTC %s: a decoy stamp (UTC-HOLE) in the votes list", putc)
	}
	if sc.utcHole != nil {
		return fmt.Sprintf("P-SIG is a signature of P-UTC %s by neither UTC-SIGN nor UTC-HOLE: forged", putc)
	}
	return fmt.Sprintf("P-SIG is not a UTC-SIGN signature of P-UTC %s: a decoy stamp or forged", putc)
}
