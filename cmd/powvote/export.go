package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/powvote/powvote/campaign"
)

func init() {
	register(command{name: "export", summary: "write the settings and one process's secrets for its machine", run: runExport})
}

const exportHelp = `
Writes OUT/CAMPAIGN with the campaign's public settings and only the secrets
that one process needs (mode 0600 in a 0700 secrets/), for the machine
that runs it:

  edge       the UTC-SIGN public key, UTC-HOLE (it signs the decoys), the
             voter-stamp key, the pass secret
  collector  UTC-SIGN, the TOTP seed, the receipt key, the pass secret
  publisher  the log key, the pass secret, the public halves of UTC-SIGN,
             UTC-HOLE and the receipt key

Run the process with --dir OUT. Keep the full campaign directory, which
holds every secret, off the servers (docs/DEPLOY.md).

Example:
  powvote export --dir /offline/powvote --role edge --out /tmp/edge-machine
`

func runExport(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "export", "--dir D [--campaign C] --role ROLE --out OUT", exportHelp)
	dir := fs.String("dir", "", "directory that holds the full campaign (required)")
	name := fs.String("campaign", "", "campaign (default: the only one in D)")
	roleName := fs.String("role", "", "edge, collector or publisher (required)")
	out := fs.String("out", "", "directory to write OUT/CAMPAIGN into (required)")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *dir == "" || *roleName == "" || *out == "" {
		return usagef("--dir, --role and --out are required")
	}
	role, err := campaign.ParseRole(*roleName)
	if err != nil {
		return usagef("%v", err)
	}
	c, err := loadCampaign(*dir, *name)
	if err != nil {
		return err
	}
	x, err := campaign.Export(c, role, *out)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "campaign %s for the %s: %s (secrets: %s)\n", c.Settings.Name, role, x.Dir,
		strings.Join(campaign.RoleFiles(role), ", "))
	return nil
}

// loadRole loads campaign name of dir (the only one when name is empty)
// with only the secrets of role.
func loadRole(dir, name string, role campaign.Role) (*campaign.Campaign, error) {
	name, err := campaign.Resolve(dir, name)
	if err != nil {
		return nil, err
	}
	return campaign.LoadRole(dir, name, role)
}
