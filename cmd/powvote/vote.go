package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
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

The mandate is either --mandate HEX, the token in 240 hex digits, or
--card FILE, the 12 lines printed on the card as a voter types them: one
card line a line, in either case, with or without the spaces, with or
without the printed line numbers ("10: KRN5 ..."), O for 0 and I or L for
1; blank lines are skipped. FILE "-" reads the card from standard input. A
line that does not read is named by its number on the card.

Examples:
  powvote vote --edge http://127.0.0.1:8080 --mandate 9b1c...e4 --booth-code 6263917 --say "Humble Pluto"
  powvote vote --edge http://127.0.0.1:8080 --card card.txt --booth-code 6263917 --say "Humble Pluto"
`

// maxCardFile bounds what --card reads: a card is 12 lines of some 25
// characters; a file far larger is not a card.
const maxCardFile = 64 << 10

func runVote(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "vote", "--edge URL (--mandate HEX | --card FILE) --booth-code CODE --say TEXT", voteHelp)
	edgeURL := fs.String("edge", "", "base URL of the edge (required)")
	token := fs.String("mandate", "", "mandate token, 240 hex digits (this or --card)")
	card := fs.String("card", "", "mandate as the 12 lines of the printed card, from `FILE` or - for standard input (this or --mandate)")
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
	if *edgeURL == "" || *code == "" || *say == "" {
		return usagef("--edge, --booth-code and --say are required")
	}
	if (*token == "") == (*card == "") {
		return usagef("give the mandate once: --mandate HEX or --card FILE")
	}
	var tok mandate.Token
	var err error
	if *card != "" {
		tok, err = readCard(e, *card)
	} else {
		tok, err = mandate.ParseHex(*token)
	}
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

// readCard reads the mandate from the card lines in file, or on standard
// input for "-", with the parser the voter app follows.
func readCard(e *env, file string) (mandate.Token, error) {
	var r io.Reader = e.Stdin
	name := "standard input"
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return mandate.Token{}, fmt.Errorf("--card: %w", err)
		}
		defer f.Close()
		r, name = f, file
	}
	text, err := io.ReadAll(io.LimitReader(r, maxCardFile+1))
	if err != nil {
		return mandate.Token{}, fmt.Errorf("--card: read %s: %w", name, err)
	}
	if len(text) > maxCardFile {
		return mandate.Token{}, fmt.Errorf("--card: %s is over %d KiB: not a card", name, maxCardFile>>10)
	}
	tok, err := mandate.ParseCard(string(text))
	if err != nil {
		return mandate.Token{}, fmt.Errorf("--card %s: %w", name, err)
	}
	return tok, nil
}
