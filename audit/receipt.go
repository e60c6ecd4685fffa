package audit

import (
	"bufio"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/published"
	"github.com/powvote/powvote/wire"
)

// A receipt (PROTOCOL.md 6, wire.ParseReceipt) is checked against what a
// source publishes: its signature under the receipt key, and each of its
// voter stamps against the votes list, with a record inclusion proof under
// the list's signed checkpoint; a stamp the votes list lacks is looked up
// in the retracted list, whose line, winner, mirror rule and binding are
// shown. powvote receipt verify is this function with flags.

// ErrReceipt means a receipt does not hold: a line, or its signature,
// failed. The report names each.
var ErrReceipt = errors.New("the receipt fails")

// ReceiptOptions are what a receipt check trusts besides the source.
type ReceiptOptions struct {
	// ReceiptKey is the platform's receipt public key, obtained
	// independently; nil: the one the source serves (published.ReceiptKeyName),
	// and without one the signature and the bindings are not checked.
	ReceiptKey ed25519.PublicKey
	// ReceiptKeyFrom names where ReceiptKey came from, for the report.
	ReceiptKeyFrom string
	// LogKey is the checkpoints' note verifier key; "": the one the
	// source serves (published.LogKeyName).
	LogKey string
}

// VerifyReceipt checks the receipt of campaign name, its lines and
// Receipt-Sig as wire.ParseReceipt returns them, against src, and writes
// its report to out, one verdict a line ("ok", "FAIL" or a note). It
// returns an error wrapping ErrReceipt, naming the receipt lines that
// failed, when anything of the receipt does not hold, and other errors
// when the source cannot be read or its checkpoint does not verify.
func VerifyReceipt(out io.Writer, src Source, name string, rlines []string, sig string, opts ReceiptOptions) error {
	var failed []string // what failed, for the last line of stderr
	// Without a key given, the one the source publishes: it proves the
	// receipt to whoever trusts that source; a key known by other means
	// is stronger.
	pub, keyFrom, err := receiptKey(src, name, opts.ReceiptKey, nil)
	if err != nil {
		return err
	}
	if opts.ReceiptKey != nil {
		keyFrom = opts.ReceiptKeyFrom
	}
	// pub nil: the bindings of retractions are not checked either.
	if pub != nil {
		if err := wire.VerifyReceipt(pub, name, rlines, sig); err != nil {
			fmt.Fprintf(out, "FAIL  Receipt-Sig: %v\n", err)
			failed = append(failed, "Receipt-Sig")
		} else {
			fmt.Fprintf(out, "ok    Receipt-Sig verifies under the receipt key (%s)\n", keyFrom)
		}
	} else {
		fmt.Fprintf(out, "      Receipt-Sig: signature not checked (no --receipt-pubkey, and the source has no %s)\n", published.ReceiptKeyName(name))
	}

	// The key, then the checkpoint, then the list: the list read is then
	// at least as long as the checkpoint, and the proofs are against the
	// checkpoint's size.
	key := opts.LogKey
	if key == "" {
		b, err := readAll(src, published.LogKeyName(name))
		if err != nil {
			return err
		}
		key = string(b)
	}
	verifier, err := ParseLogKey(key)
	if err != nil {
		return err
	}
	cpName, origin := published.CheckpointName(name, published.Vote), published.Origin(name, published.Vote)
	cpData, err := readAll(src, cpName)
	if err != nil {
		return err
	}
	cp, err := OpenCheckpoint(cpData, verifier)
	if err == nil && cp.Origin != origin {
		err = fmt.Errorf("origin %q, want %q", cp.Origin, origin)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", cpName, err)
	}
	fmt.Fprintf(out, "ok    %s verifies under %s: %d lines\n", cpName, verifier.Name(), cp.Tree.N)

	// The receipt's stamps, by receipt line; "-" stands for no stamp.
	want := make(map[string][]int)
	for i, l := range rlines {
		stamp, _, _ := strings.Cut(l, " ")
		if stamp != "-" {
			want[stamp] = append(want[stamp], i)
		}
	}
	// The retracted list before the votes list, which then holds every
	// winner it names (the publisher appends a retraction once its winner
	// is published).
	retracted, err := readRetractions(src, name, verifier, want)
	if err != nil {
		return err
	}
	scan, err := scanVotes(src, name, cp.Tree.N, want, retracted.winners())
	if err != nil {
		return err
	}
	hr := storedHashes(scan.hashes)
	root, err := tlog.TreeHash(cp.Tree.N, hr)
	if err != nil {
		return fmt.Errorf("%s has fewer lines than its checkpoint: %w", published.LogName(name, published.Vote), err)
	}
	if root != cp.Tree.Hash {
		return fmt.Errorf("the first %d lines of %s hash to %s, not to the checkpoint's root %s", cp.Tree.N, published.LogName(name, published.Vote), root, cp.Tree.Hash)
	}

	for i, l := range rlines {
		label := fmt.Sprintf("Receipt%02d", i+1)
		stamp, encoded, _ := strings.Cut(l, " ")
		if stamp == "-" {
			if o, err := wire.DecodeOption(encoded); err == nil {
				encoded = o
			}
			fmt.Fprintf(out, "      %s: no stamp (nobody had chosen %q yet)\n", label, encoded)
			continue
		}
		if len(scan.found[stamp]) == 0 && retracted.explains(out, label, name, stamp, encoded, scan, pub, keyFrom) {
			failed = append(failed, label+" (retracted)")
			continue
		}
		msg, ok := checkReceiptLine(stamp, encoded, scan.found[stamp], cp.Tree, hr)
		if ok {
			fmt.Fprintf(out, "ok    %s: %s\n", label, msg)
		} else {
			fmt.Fprintf(out, "FAIL  %s: %s\n", label, msg)
			failed = append(failed, label)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%w: %s", ErrReceipt, strings.Join(failed, ", "))
	}
	fmt.Fprintln(out, "every stamp of the receipt is published once, against its option, under the signed checkpoint")
	return nil
}

// found is a votes-list line that carries a receipt's stamp.
type found struct {
	index int64 // 0-based leaf index
	line  string
}

type voteScan struct {
	hashes  []tlog.Hash        // the stored hashes of the first n lines' tree
	found   map[string][]found // receipt stamp to the lines carrying it
	winners map[string]found   // nonce (hex) of a winner sought to its first line
}

// scanVotes reads the votes list once: it computes the stored hashes of
// its first n lines, and notes every line, within them or not, whose voter
// stamp is one of want's, and the first line of each nonce (hex) in
// winners.
func scanVotes(src Source, campaignName string, n int64, want map[string][]int, winners map[string]bool) (*voteScan, error) {
	name := published.LogName(campaignName, published.Vote)
	r, err := src.Open(name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	s := &voteScan{found: make(map[string][]found), winners: make(map[string]found)}
	err = hashedLines(r, name, n, &s.hashes, func(i int64, line string) {
		// The stamp is the third field; a line too short to have one
		// cannot carry a stamp of the receipt.
		if f := strings.SplitN(line, " ", 5); len(f) >= 4 {
			if _, ok := want[f[2]]; ok {
				s.found[f[2]] = append(s.found[f[2]], found{index: i, line: line})
			}
			if _, seen := s.winners[f[3]]; len(f) == 5 && winners[f[3]] && !seen {
				s.winners[f[3]] = found{index: i, line: line}
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// hashedLines reads the list name from r line by line: it appends the
// stored hashes (tlog.StoredHashes) of its first n lines to *hashes, and
// calls each with every line, without its line feed, and its index.
func hashedLines(r io.Reader, name string, n int64, hashes *[]tlog.Hash, each func(i int64, line string)) error {
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		hs := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			hs[i] = (*hashes)[x]
		}
		return hs, nil
	})
	br := bufio.NewReaderSize(r, 64<<10)
	for i := int64(0); ; i++ {
		line, err := br.ReadString('\n')
		if err == io.EOF && line == "" {
			return nil
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		line = strings.TrimSuffix(line, "\n")
		if i < n {
			hs, err := tlog.StoredHashes(i, []byte(line), hr)
			if err != nil {
				return err
			}
			*hashes = append(*hashes, hs...)
		}
		each(i, line)
	}
}

// checkReceiptLine checks one receipt line against the lines carrying its
// stamp and proves the line's inclusion under the checkpoint.
func checkReceiptLine(stamp, encoded string, at []found, cp tlog.Tree, hr tlog.HashReader) (string, bool) {
	option, err := wire.DecodeOption(encoded)
	if err != nil {
		return fmt.Sprintf("option %q: %v", encoded, err), false
	}
	switch len(at) {
	case 0:
		return fmt.Sprintf("stamp %s is not in the votes list", stamp), false
	case 1:
	default:
		return fmt.Sprintf("stamp %s stands %d times in the votes list", stamp, len(at)), false
	}
	f := at[0]
	v, err := listline.ParseVote(f.line)
	if err != nil {
		return fmt.Sprintf("stamp %s is on line %d, which is malformed: %v", stamp, f.index+1, err), false
	}
	if v.Option != option {
		return fmt.Sprintf("stamp %s stands against %q on line %d, not against %q", stamp, v.Option, f.index+1, option), false
	}
	if f.index >= cp.N {
		return fmt.Sprintf("stamp %s is on line %d, after the %d lines of the latest checkpoint", stamp, f.index+1, cp.N), false
	}
	proof, err := tlog.ProveRecord(cp.N, f.index, hr)
	if err == nil {
		err = tlog.CheckRecord(proof, cp.N, cp.Hash, f.index, tlog.RecordHash([]byte(f.line)))
	}
	if err != nil {
		return fmt.Sprintf("line %d does not prove included under the checkpoint: %v", f.index+1, err), false
	}
	return fmt.Sprintf("%s %q on line %d, proved included under the checkpoint", stamp, option, f.index+1), true
}

// readAll reads a whole file the source must have.
func readAll(src Source, name string) ([]byte, error) {
	r, err := src.Open(name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return b, nil
}

// retractedLine is a line of the retracted list whose retracted vote
// carries a stamp of the receipt.
type retractedLine struct {
	index int64 // 0-based leaf index
	text  string
	r     listline.Retracted
}

// retractions is what the retracted list says about a receipt's stamps:
// the lines that retract a vote with one of them, and what proves each
// line published: the list's latest checkpoint, verified under the log
// key, and the stored hashes of the lines it covers.
type retractions struct {
	name    string // the retracted list's file
	byStamp map[string][]retractedLine
	cp      *Checkpoint // nil when none verified
	cpWhy   string      // why, then
	hashes  []tlog.Hash
}

// readRetractions reads the retracted list's checkpoint, then the list. A
// source without them has retracted nothing it can show.
func readRetractions(src Source, campaignName string, v note.Verifier, want map[string][]int) (*retractions, error) {
	rs := &retractions{name: published.LogName(campaignName, published.Retracted), byStamp: make(map[string][]retractedLine)}
	cpName := published.CheckpointName(campaignName, published.Retracted)
	data, err := readAll(src, cpName)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		rs.cpWhy = cpName + " is not published"
	case err != nil:
		return nil, err
	default:
		cp, err := OpenCheckpoint(data, v)
		if origin := published.Origin(campaignName, published.Retracted); err == nil && cp.Origin != origin {
			err = fmt.Errorf("origin %q, want %q", cp.Origin, origin)
		}
		if err != nil {
			rs.cpWhy = fmt.Sprintf("%s: %v", cpName, err)
		} else {
			rs.cp = cp
		}
	}
	r, err := src.Open(rs.name)
	if errors.Is(err, fs.ErrNotExist) {
		return rs, nil
	}
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var n int64
	if rs.cp != nil {
		n = rs.cp.Tree.N
	}
	err = hashedLines(r, rs.name, n, &rs.hashes, func(i int64, line string) {
		if rl, err := listline.ParseRetracted(line); err == nil {
			if _, ok := want[rl.Vote.Voter]; ok {
				rs.byStamp[rl.Vote.Voter] = append(rs.byStamp[rl.Vote.Voter], retractedLine{index: i, text: line, r: rl})
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return rs, nil
}

// winners returns the nonces (hex) of the winners the lines name.
func (rs *retractions) winners() map[string]bool {
	w := make(map[string]bool)
	for _, ls := range rs.byStamp {
		for _, l := range ls {
			w[hex.EncodeToString(l.r.Winner)] = true
		}
	}
	return w
}

// explains reports a receipt line whose stamp the votes list lacks and
// the retracted list retracts against the line's option: where the
// retraction stands, the vote that won, and whether the receipt key binds
// the two (pub nil: not checked) and the winner beats the retracted vote
// by the mirror rule. It returns false, and writes nothing, when no
// retraction explains the line.
func (rs *retractions) explains(out io.Writer, label, campaignName, stamp, encoded string, scan *voteScan, pub ed25519.PublicKey, keyFrom string) bool {
	option, err := wire.DecodeOption(encoded)
	if err != nil {
		return false
	}
	i := slices.IndexFunc(rs.byStamp[stamp], func(l retractedLine) bool { return l.r.Vote.Option == option })
	if i < 0 {
		return false
	}
	l := rs.byStamp[stamp][i]
	signed := "under no signed checkpoint: " + rs.cpWhy
	if rs.cp != nil {
		signed = fmt.Sprintf("beyond its latest signed checkpoint (%d lines)", rs.cp.Tree.N)
		if l.index < rs.cp.Tree.N {
			hr := storedHashes(rs.hashes)
			proof, err := tlog.ProveRecord(rs.cp.Tree.N, l.index, hr)
			if err == nil {
				err = tlog.CheckRecord(proof, rs.cp.Tree.N, rs.cp.Tree.Hash, l.index, tlog.RecordHash([]byte(l.text)))
			}
			signed = "proved included under its signed checkpoint"
			if err != nil {
				signed = fmt.Sprintf("not proved included under its checkpoint: %v", err)
			}
		}
	}
	fmt.Fprintf(out, "FAIL  %s: %s %q is not in the votes list: it was retracted, line %d of %s, %s\n", label, stamp, option, l.index+1, rs.name, signed)
	winner := hex.EncodeToString(l.r.Winner)
	w, ok := scan.winners[winner]
	if !ok {
		fmt.Fprintf(out, "      the vote it names as the winner, nonce %s, is not in %s\n", winner, published.LogName(campaignName, published.Vote))
		return true
	}
	fmt.Fprintf(out, "      the vote counted instead for the same mandate, line %d of %s:\n      %s\n", w.index+1, published.LogName(campaignName, published.Vote), w.line)
	wv, err := listline.ParseVote(w.line)
	switch {
	case err != nil:
		fmt.Fprintf(out, "      FAIL  that line is malformed: %v\n", err)
	case !listline.Wins(wv, l.r.Vote):
		fmt.Fprintf(out, "      FAIL  it does not beat the retracted vote by the mirror rule (the smaller P-UTC, then nonce, stamp, line)\n")
	default:
		fmt.Fprintf(out, "      ok    it beats the retracted vote by the mirror rule (the smaller P-UTC, then nonce, stamp, line)\n")
	}
	switch {
	case pub == nil:
		fmt.Fprintf(out, "      the binding is not checked: no receipt key\n")
	case wire.VerifyRetraction(pub, campaignName, l.r.Vote.Line(), w.line, l.r.Sig[:]) != nil:
		fmt.Fprintf(out, "      FAIL  the binding does not verify under the receipt key (%s)\n", keyFrom)
	default:
		fmt.Fprintf(out, "      ok    the binding verifies under the receipt key (%s), the key that signed this receipt: the platform answers for it\n", keyFrom)
	}
	return true
}

// storedHashes reads the stored hashes of a tree (tlog.StoredHashes, in
// order) from memory.
func storedHashes(hashes []tlog.Hash) tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		hs := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x < 0 || x >= int64(len(hashes)) {
				return nil, fmt.Errorf("stored hash %d of %d", x, len(hashes))
			}
			hs[i] = hashes[x]
		}
		return hs, nil
	})
}
