package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/powvote/powvote/client"
	"github.com/powvote/powvote/internal/durable"
	"github.com/powvote/powvote/keyfile"
	"github.com/powvote/powvote/mandate"
	"github.com/powvote/powvote/wire"
)

func init() {
	register(command{name: "vote", summary: "cast one vote as a voter's device does", run: runVote})
}

const voteHelp = `
Casts one vote as a voter's device would: reads the ballot, checks the booth
code's check character, fetches a platform stamp, does the proof of work,
casts, and retries with the same request while the platform answers 503.
Prints the receipt lines and Receipt-Sig.

Example:
  powvote vote --edge http://127.0.0.1:8080 --mandate 9b1c...e4 --booth-code 6263917 --say "Humble Pluto"
`

func runVote(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "vote", "--edge URL --mandate HEX --booth-code CODE --say TEXT", voteHelp)
	edgeURL := fs.String("edge", "", "base URL of the edge (required)")
	token := fs.String("mandate", "", "mandate token, 240 hex digits (required)")
	code := fs.String("booth-code", "", "booth code as shown, check character first (required)")
	say := fs.String("say", "", "the chosen option (required)")
	threshold := fs.Int("threshold", 0, "proof-of-work bits (default: what the edge says, else 25)")
	workers := fs.Int("workers", 0, "proof-of-work workers (default: all cores)")
	receiptKey := fs.String("receipt-pubkey", "", "verify Receipt-Sig with this public key (base64 or hex)")
	campaignName := fs.String("campaign", "", "campaign name for --receipt-pubkey (default: what the edge says)")
	out := fs.String("out", "", "also save the receipt to this file")
	timeout := fs.Duration("timeout", time.Hour, "give up after this long")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *edgeURL == "" || *token == "" || *code == "" || *say == "" {
		return usagef("--edge, --mandate, --booth-code and --say are required")
	}
	tok, err := mandate.ParseHex(*token)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	rc, err := client.Cast(ctx, client.Vote{Edge: *edgeURL, Mandate: tok, BoothCode: *code, Say: *say, Threshold: *threshold},
		client.Options{HTTP: &http.Client{Timeout: 30 * time.Second}, Workers: *workers,
			Log: func(f string, a ...any) { fmt.Fprintf(e.Stderr, f+"\n", a...) }})
	if err != nil {
		return err
	}
	name := *campaignName
	if name == "" {
		name = rc.Campaign
	}
	if *receiptKey != "" {
		pub, err := keyfile.ParsePublicKey(*receiptKey)
		if err != nil {
			return usagef("--receipt-pubkey: %v", err)
		}
		if err := wire.VerifyReceipt(pub, name, rc.Lines, rc.Sig); err != nil {
			return err
		}
	}
	text := wire.FormatReceipt(name, rc.Lines, rc.Sig)
	if *out != "" {
		// The voter's only proof: on disk before it is shown.
		if err := durable.WriteFile(*out, []byte(text), 0o600); err != nil {
			return err
		}
	}
	_, err = fmt.Fprint(e.Stdout, text)
	return err
}
