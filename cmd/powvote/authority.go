package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"github.com/powvote/powvote/keyfile"
)

func init() {
	register(command{name: "authority keygen", summary: "make an election authority's signing key", run: runAuthorityKeygen})
}

const authorityKeygenHelp = `
Writes a new Ed25519 authority signing key to FILE (mode 0600; never
overwrites) and prints its public key in base64 on stdout. Give the public key
to the platform (powvote init --authority-pubkey); keep FILE at the authority.

Example:
  powvote authority keygen --out authority.key
`

func runAuthorityKeygen(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "authority keygen", "--out FILE", authorityKeygenHelp)
	out := fs.String("out", "", "file for the private key (required)")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *out == "" {
		return usagef("--out is required")
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	if err := keyfile.WriteEd25519(*out, priv); err != nil {
		return err
	}
	fmt.Fprintln(e.Stdout, base64.StdEncoding.EncodeToString(pub))
	return nil
}
