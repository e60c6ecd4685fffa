package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/powvote/powvote/audit"
	"github.com/powvote/powvote/keyfile"
	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/wire"
)

func init() {
	register(command{name: "receipt verify", summary: "check that every stamp of a saved receipt is published against its option", run: runReceiptVerify})
}

const receiptVerifyHelp = `
Checks a receipt saved with "powvote vote --out FILE" against the published
votes list:

  - that Receipt-Sig verifies under the receipt key: --receipt-pubkey, else
    the one the source serves (<campaign>-receipt.key); without either the
    signature is not checked, and the report says so;
  - for every receipt line, the voter's own and the others alike ("-" lines,
    for options nobody had chosen yet, are skipped), that its voter stamp
    stands exactly once in the votes list, and against the line's option;
  - that the latest checkpoint of the votes list verifies under the log key
    (<campaign>-log.vkey, or --log-key), that its root is the tree hash of
    the list's first lines, and that each line found is among them, with a
    record inclusion proof checked against that root. The proofs are built
    from the hashes of the downloaded list, so the list is downloaded whole.

A receipt whose vote is not published yet fails: the publisher keeps the
latest votes back until a batch of others has come after them, at the
latest until the close (docs/PUBLISHING.md); try again later. Exits 0
only when everything holds; otherwise the last line of stderr names the
receipt lines that failed.

Examples:
  powvote receipt verify my-receipt.txt --edge http://127.0.0.1:8080
  powvote receipt verify my-receipt.txt --dir ./downloads --receipt-pubkey 3q2+7w... --log-key solar-log.vkey
`

func runReceiptVerify(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "receipt verify", "FILE [--edge URL | --dir FOLDER] [--receipt-pubkey KEY] [--log-key KEY]", receiptVerifyHelp)
	edgeURL := fs.String("edge", "", "base URL of the edge or the publisher")
	dir := fs.String("dir", "", "a folder holding the downloaded votes list, its checkpoint and the log key")
	receiptKey := fs.String("receipt-pubkey", "", "the platform's receipt public key (base64 or hex)")
	logKey := fs.String("log-key", "", "the checkpoints' note verifier key, or a file holding it (default: the one the source serves)")
	pos, err := parseFlags(fs, args, 1)
	if err != nil {
		return err
	}
	if (*edgeURL == "") == (*dir == "") {
		return usagef("give exactly one of --edge and --dir")
	}
	text, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	name, rlines, sig, err := wire.ParseReceipt(string(text))
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	out := e.Stdout

	var src audit.Source
	if *edgeURL != "" {
		if src, err = auditSource(ctx, *edgeURL); err != nil {
			return err
		}
	} else {
		src = audit.Dir(*dir)
	}

	var failed []string // what failed, for the last line of stderr
	keyText, keyFrom := *receiptKey, "--receipt-pubkey"
	if keyText == "" {
		// The key the source publishes: it proves the receipt to whoever
		// trusts that source; a key known by other means is stronger.
		keyFrom = receiptKeyName(name)
		b, err := readAll(src, keyFrom)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return err
		default:
			keyText = strings.TrimSpace(string(b))
		}
	}
	if keyText != "" {
		pub, err := keyfile.ParsePublicKey(keyText)
		if err != nil {
			return usagef("%s: %v", keyFrom, err)
		}
		if err := wire.VerifyReceipt(pub, name, rlines, sig); err != nil {
			fmt.Fprintf(out, "FAIL  Receipt-Sig: %v\n", err)
			failed = append(failed, "Receipt-Sig")
		} else {
			fmt.Fprintf(out, "ok    Receipt-Sig verifies under the receipt key (%s)\n", keyFrom)
		}
	} else {
		fmt.Fprintf(out, "      Receipt-Sig: signature not checked (no --receipt-pubkey, and the source has no %s)\n", receiptKeyName(name))
	}

	// The key, then the checkpoint, then the list: the list read is then
	// at least as long as the checkpoint, and the proofs are against the
	// checkpoint's size.
	key := *logKey
	if key != "" {
		if key, err = readKeyArg(key); err != nil {
			return err
		}
	} else {
		b, err := readAll(src, audit.LogKeyName(name))
		if err != nil {
			return err
		}
		key = string(b)
	}
	verifier, err := audit.ParseLogKey(key)
	if err != nil {
		return err
	}
	cpData, err := readAll(src, audit.VoteCheckpointName(name))
	if err != nil {
		return err
	}
	cp, err := audit.OpenCheckpoint(cpData, verifier)
	if err == nil && cp.Origin != audit.VoteOrigin(name) {
		err = fmt.Errorf("origin %q, want %q", cp.Origin, audit.VoteOrigin(name))
	}
	if err != nil {
		return fmt.Errorf("%s: %w", audit.VoteCheckpointName(name), err)
	}
	fmt.Fprintf(out, "ok    %s verifies under %s: %d lines\n", audit.VoteCheckpointName(name), verifier.Name(), cp.Tree.N)

	// The receipt's stamps, by receipt line; "-" stands for no stamp.
	want := make(map[string][]int)
	for i, l := range rlines {
		stamp, _, _ := strings.Cut(l, " ")
		if stamp != "-" {
			want[stamp] = append(want[stamp], i)
		}
	}
	scan, err := scanVotes(src, name, cp.Tree.N, want)
	if err != nil {
		return err
	}
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		hs := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x < 0 || x >= int64(len(scan.hashes)) {
				return nil, fmt.Errorf("stored hash %d of %d", x, len(scan.hashes))
			}
			hs[i] = scan.hashes[x]
		}
		return hs, nil
	})
	root, err := tlog.TreeHash(cp.Tree.N, hr)
	if err != nil {
		return fmt.Errorf("%s has fewer lines than its checkpoint: %w", audit.VoteLogName(name), err)
	}
	if root != cp.Tree.Hash {
		return fmt.Errorf("the first %d lines of %s hash to %s, not to the checkpoint's root %s", cp.Tree.N, audit.VoteLogName(name), root, cp.Tree.Hash)
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
		msg, ok := checkReceiptLine(stamp, encoded, scan.found[stamp], cp.Tree, hr)
		if ok {
			fmt.Fprintf(out, "ok    %s: %s\n", label, msg)
		} else {
			fmt.Fprintf(out, "FAIL  %s: %s\n", label, msg)
			failed = append(failed, label)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("the receipt fails: %s", strings.Join(failed, ", "))
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
	hashes []tlog.Hash        // the stored hashes of the first n lines' tree
	found  map[string][]found // receipt stamp to the lines carrying it
}

// scanVotes reads the votes list once: it computes the stored hashes of
// its first n lines, and notes every line, within them or not, whose voter
// stamp is one of want's.
func scanVotes(src audit.Source, campaignName string, n int64, want map[string][]int) (*voteScan, error) {
	name := audit.VoteLogName(campaignName)
	r, err := src.Open(name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	s := &voteScan{found: make(map[string][]found)}
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		hs := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			hs[i] = s.hashes[x]
		}
		return hs, nil
	})
	br := bufio.NewReaderSize(r, 64<<10)
	for i := int64(0); ; i++ {
		line, err := br.ReadString('\n')
		if err == io.EOF && line == "" {
			break
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		line = strings.TrimSuffix(line, "\n")
		if i < n {
			hs, err := tlog.StoredHashes(i, []byte(line), hr)
			if err != nil {
				return nil, err
			}
			s.hashes = append(s.hashes, hs...)
		}
		// The stamp is the third field; a line too short to have one
		// cannot carry a stamp of the receipt.
		if f := strings.SplitN(line, " ", 4); len(f) == 4 {
			if _, ok := want[f[2]]; ok {
				s.found[f[2]] = append(s.found[f[2]], found{index: i, line: line})
			}
		}
	}
	return s, nil
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

// receiptKeyName is the file in which the publisher serves the receipt
// public key.
func receiptKeyName(campaignName string) string { return campaignName + "-receipt.key" }

// readAll reads a whole file the source must have.
func readAll(src audit.Source, name string) ([]byte, error) {
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
