package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/internal/mtls"
)

func init() {
	register(command{name: "export", summary: "write the settings and one process's secrets for its machine", run: runExport})
}

const exportHelp = `
Writes OUT/CAMPAIGN, for campaign C or else for every campaign of D, with
the campaign's public settings and only the secrets
that one process needs (mode 0600 in a 0700 secrets/), for the machine
that runs it:

  edge       the UTC-SIGN public key, UTC-HOLE (it signs the decoys), the
             voter-stamp key
  collector  UTC-SIGN, the TOTP seed, the receipt key
  publisher  the log key, the public halves of UTC-SIGN, UTC-HOLE and the
             receipt key

and for every role the campaign's internal CA certificate and a new
certificate and key for the role's internal links (secrets/internal.crt,
secrets/internal.key), issued by the CA whose key stays in D: a TLS 1.3
client and server certificate naming the role, valid for --cert-lifetime
(90 days). For a collector, --instance N limits it to instance N, so that
only its twin may pull its links (without it, one certificate serves every
collector machine).

Run the process with --dir OUT. Keep the full campaign directory, which
holds every secret and the CA's key, off the servers (docs/DEPLOY.md).

To renew a certificate before it expires (or after a machine was lost),
run export again with --renew into the machine's directory, copy
secrets/internal.crt and secrets/internal.key to it, and send the process
SIGHUP: new connections use the new certificate, no vote is lost.

Example:
  powvote export --dir /offline/powvote --role edge --out /tmp/edge-machine
  powvote export --dir /offline/powvote --role collector --instance 0 --out /tmp/collector-0
  powvote export --dir /offline/powvote --role edge --out /tmp/edge-machine --renew
`

func runExport(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "export", "--dir D [--campaign C] --role ROLE --out OUT", exportHelp)
	dir := fs.String("dir", "", "directory that holds the full campaign (required)")
	name := fs.String("campaign", "", "campaign (default: every campaign of D)")
	roleName := fs.String("role", "", "edge, collector or publisher (required)")
	out := fs.String("out", "", "directory to write OUT/CAMPAIGN into (required)")
	instance := fs.Int("instance", mtls.AnyInstance, "collector only: limit the certificate to this instance")
	lifetime := fs.Duration("cert-lifetime", mtls.CertLifetime, "how long the certificate is valid")
	renew := fs.Bool("renew", false, "only write a new certificate and key into OUT/CAMPAIGN, exported before for ROLE")
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
	if *instance < mtls.AnyInstance || (*instance != mtls.AnyInstance && role != campaign.RoleCollector) {
		return usagef("--instance %d: only for the collector role, and not negative", *instance)
	}
	if *lifetime <= 0 {
		return usagef("--cert-lifetime %v: want a positive duration", *lifetime)
	}
	names := []string{*name}
	if *name == "" {
		// Every campaign of D: one process serves them all.
		if names, err = campaign.List(*dir); err != nil {
			return err
		}
		if len(names) == 0 {
			_, err := campaign.Resolve(*dir, "")
			return err
		}
	}
	opt := campaign.ExportOptions{Instance: *instance, Lifetime: *lifetime}
	for _, n := range names {
		c, err := loadCampaign(*dir, n)
		if err != nil {
			return err
		}
		if *renew {
			if err := campaign.RenewLink(c, role, *out, opt); err != nil {
				return err
			}
			fmt.Fprintf(e.Stdout, "campaign %s for the %s: new certificate in %s; send the process SIGHUP\n", c.Settings.Name, role, *out)
			continue
		}
		x, err := campaign.Export(c, role, *out, opt)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "campaign %s for the %s: %s (secrets: %s)\n", c.Settings.Name, role, x.Dir,
			strings.Join(campaign.RoleFiles(role), ", "))
	}
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
