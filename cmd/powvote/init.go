package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"time"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/keyfile"
)

func init() {
	register(command{name: "init", summary: "create a campaign: public settings and fresh platform secrets", run: runInit})
}

const initHelp = `
Creates campaign CAMPAIGN in D/CAMPAIGN: campaign.yaml with the public
settings and secrets/ with freshly generated platform secrets (mode 0600).
With no --authority-pubkey, a demo authority key is generated into
D/CAMPAIGN/demo-authority.key and its public key is accepted.

Examples:
  powvote init solar --dir ./data --option "Humble Pluto" --option "Shiny Saturn"
  powvote init city --dir /srv/powvote --authority-pubkey uBgX...hjQ= \
      --option Yes --option No --threshold 25 --start 2026-12-01T07:00:00Z --end 2026-12-01T20:00:00Z
`

func runInit(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "init", "CAMPAIGN --dir D [flags]", initHelp)
	dir := fs.String("dir", "", "directory that holds campaigns (required)")
	var options, authorities stringList
	fs.Var(&options, "option", "ballot option, repeatable, in ballot order (at least one)")
	fs.Var(&authorities, "authority-pubkey", "accepted authority Ed25519 public key, base64 or hex, repeatable")
	threshold := fs.Int("threshold", 25, "proof-of-work threshold in bits (1..64)")
	batch := fs.Int("batch-size", 100, "lines per published batch")
	start := fs.String("start", "", "opening time, RFC 3339 or Unix seconds (default now)")
	end := fs.String("end", "", "closing time, RFC 3339 or Unix seconds (default start + 24h)")
	maxAge := fs.Duration("max-stamp-age", 30*time.Minute, "oldest platform stamp a vote may carry")
	pos, err := parseFlags(fs, args, 1)
	if err != nil {
		return err
	}
	if *dir == "" {
		return usagef("--dir is required")
	}
	s := &campaign.Settings{
		Name:        pos[0],
		Options:     options,
		Threshold:   *threshold,
		BatchSize:   *batch,
		MaxStampAge: *maxAge,
	}
	s.Start = time.Now().UTC().Truncate(time.Second)
	if *start != "" {
		if s.Start, err = campaign.ParseTime(*start); err != nil {
			return usagef("--start: %v", err)
		}
	}
	s.End = s.Start.Add(24 * time.Hour)
	if *end != "" {
		if s.End, err = campaign.ParseTime(*end); err != nil {
			return usagef("--end: %v", err)
		}
	}
	for _, a := range authorities {
		k, err := keyfile.ParsePublicKey(a)
		if err != nil {
			return usagef("--authority-pubkey %q: %v", a, err)
		}
		s.Authorities = append(s.Authorities, k)
	}
	var demoKey ed25519.PrivateKey
	if len(s.Authorities) == 0 {
		var pub ed25519.PublicKey
		if pub, demoKey, err = ed25519.GenerateKey(rand.Reader); err != nil {
			return err
		}
		s.Authorities = []ed25519.PublicKey{pub}
	}
	c, err := createCampaign(*dir, s, demoKey)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "created campaign %s in %s\n", s.Name, c.Dir)
	if demoKey != nil {
		fmt.Fprintf(e.Stdout, "demo authority key: %s (public key %s)\n",
			filepath.Join(c.Dir, campaign.DemoAuthorityKey), base64.StdEncoding.EncodeToString(demoKey.Public().(ed25519.PublicKey)))
	}
	return nil
}

// createCampaign validates s, generates secrets, writes the campaign and, when
// demoKey is set, the demo authority key beside it.
func createCampaign(dir string, s *campaign.Settings, demoKey ed25519.PrivateKey) (*campaign.Campaign, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	sec, err := campaign.GenerateSecrets(s.Name, nil)
	if err != nil {
		return nil, err
	}
	c, err := campaign.Create(dir, s, sec)
	if err != nil {
		return nil, err
	}
	if demoKey != nil {
		if err := keyfile.WriteEd25519(filepath.Join(c.Dir, campaign.DemoAuthorityKey), demoKey); err != nil {
			return nil, err
		}
	}
	return c, nil
}
