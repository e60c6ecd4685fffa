package main

import (
	"context"
	"fmt"
	"os"

	"github.com/powvote/powvote/audit"
	"github.com/powvote/powvote/keyfile"
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

A stamp missing from the votes list that the retracted list retracts
against the line's option (<campaign>-retracted.log: the mirror rule kept
another vote of the same mandate, cast while the two collecting instances
of its pair could not see each other) fails too, and the report shows the
retraction: its line, proved included under the retracted list's signed
checkpoint; the vote counted instead, from the votes list; whether that
vote beats it by the mirror rule; and whether the receipt key, the key
that signed the receipt, binds the two. If you cast only one vote with
your mandate, that binding is the platform's signed word against itself.

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

	opts := audit.ReceiptOptions{ReceiptKeyFrom: "--receipt-pubkey"}
	if *receiptKey != "" {
		if opts.ReceiptKey, err = keyfile.ParsePublicKey(*receiptKey); err != nil {
			return usagef("--receipt-pubkey: %v", err)
		}
	}
	if *logKey != "" {
		if opts.LogKey, err = readKeyArg(*logKey); err != nil {
			return err
		}
	}
	return audit.VerifyReceipt(out, src, name, rlines, sig, opts)
}
