package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sync/errgroup"

	"github.com/powvote/powvote/keyfile"
	"github.com/powvote/powvote/mandate"
)

func init() {
	register(command{name: "mandates", summary: "issue mandates: cards (PNG, print sheet) and a list, or tokens", run: runMandates})
}

const mandatesHelp = `
Issues N mandates signed with the authority key in FILE. With --out, writes
for each mandate DIR/<card id>.png (QR code and printed card), plus
DIR/cards.html (print-ready, one card per page) and DIR/list.txt (one
"<card id>  <lookup needle>" a line). With --format tokens, prints N tokens
(240 hex digits each) one a line and writes no files.

Examples:
  powvote mandates --key authority.key --count 500 --out cards/
  powvote mandates --key authority.key --count 3 --format tokens
`

// progressMin is the count from which mandates draws a progress bar.
const progressMin = 200

func runMandates(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "mandates", "--key FILE --count N (--out DIR | --format tokens)", mandatesHelp)
	keyPath := fs.String("key", "", "authority private key file (required)")
	count := fs.Int("count", 0, "number of mandates (required, >= 1)")
	out := fs.String("out", "", "directory for cards, cards.html and list.txt")
	format := fs.String("format", "cards", "cards or tokens")
	title := fs.String("title", "Voting mandate", "heading printed on each card")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	switch {
	case *keyPath == "":
		return usagef("--key is required")
	case *count < 1:
		return usagef("--count must be at least 1")
	case *format != "cards" && *format != "tokens":
		return usagef("--format must be cards or tokens, not %q", *format)
	case *format == "cards" && *out == "":
		return usagef("--out is required for cards (or use --format tokens)")
	case *format == "tokens" && *out != "":
		return usagef("--format tokens writes no files; drop --out")
	}
	key, err := keyfile.ReadEd25519(*keyPath)
	if err != nil {
		return err
	}
	var bar *progress
	if *count >= progressMin {
		bar = newProgress(e.Stderr, "mandates", *count)
	}
	if *format == "tokens" {
		w := bufio.NewWriter(e.Stdout)
		for i := 0; i < *count; i++ {
			t, err := mandate.Issue(key, rand.Reader)
			if err != nil {
				return err
			}
			fmt.Fprintln(w, t.Hex())
			bar.add(1)
		}
		bar.finish()
		return w.Flush()
	}

	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", *out, err)
	}
	tokens := make([]mandate.Token, *count)
	for i := range tokens {
		if tokens[i], err = mandate.Issue(key, rand.Reader); err != nil {
			return err
		}
	}
	// Rendering a card is the slow part; spread it over the cores.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, t := range tokens {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			png, err := t.CardPNG()
			if err != nil {
				return err
			}
			path := filepath.Join(*out, t.CardID()+".png")
			if err := os.WriteFile(path, png, 0o644); err != nil {
				return fmt.Errorf("write %s: %w", path, err)
			}
			bar.add(1)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	bar.finish()

	list, err := os.Create(filepath.Join(*out, "list.txt"))
	if err != nil {
		return err
	}
	lw := bufio.NewWriter(list)
	for _, t := range tokens {
		fmt.Fprintf(lw, "%s  %s\n", t.CardID(), t.Needle())
	}
	if err := lw.Flush(); err != nil {
		list.Close()
		return err
	}
	if err := list.Close(); err != nil {
		return err
	}

	sheet, err := os.Create(filepath.Join(*out, "cards.html"))
	if err != nil {
		return err
	}
	sw := bufio.NewWriter(sheet)
	if err := mandate.WriteCardsHTML(sw, *title, tokens); err != nil {
		sheet.Close()
		return err
	}
	if err := sw.Flush(); err != nil {
		sheet.Close()
		return err
	}
	if err := sheet.Close(); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "%d mandates in %s (cards.html to print, list.txt to look up)\n", *count, *out)
	return nil
}
