package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/internal/durable"
	"github.com/powvote/powvote/keyfile"
	"github.com/powvote/powvote/totp"
)

func init() {
	register(command{name: "booth code", summary: "print the booth code valid now", run: runBoothCode})
	register(command{name: "booth provision", summary: "add or remove a booth code generator in the public deployment map", run: runBoothProvision})
}

const boothCodeHelp = `
Prints the booth code valid now: 7 characters, check character first
(sum of the six digits mod 11, 0-9 or A). With --station and --kek, computes
it as that station's generator does: by unwrapping the seed published for it
in the deployment map (D/CAMPAIGN/booths.yaml, or --map) with its key.

Examples:
  powvote booth code --dir ./powvote-data
  powvote booth code --dir ./powvote-data --station "Town Hall" --kek townhall.kek
`

func runBoothCode(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "booth code", "--dir D [--campaign C] [--station NAME --kek FILE [--map FILE]]", boothCodeHelp)
	dir := fs.String("dir", "", "directory that holds campaigns (required unless --map)")
	name := fs.String("campaign", "", "campaign name (default: the only one in D)")
	station := fs.String("station", "", "compute as this station's generator")
	kekPath := fs.String("kek", "", "the generator's wrapping key file (with --station)")
	mapPath := fs.String("map", "", "deployment map (default D/CAMPAIGN/"+campaign.BoothMapFile+")")
	at := fs.String("at", "", "time to compute the code for, RFC 3339 or Unix seconds (default now)")
	pretty := fs.Bool("pretty", false, `print as the booth shows it ("6 263 917") with the seconds left`)
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	now := time.Now()
	if *at != "" {
		t, err := campaign.ParseTime(*at)
		if err != nil {
			return usagef("--at: %v", err)
		}
		now = t
	}
	if (*station == "") != (*kekPath == "") {
		return usagef("--station and --kek go together")
	}
	var seed []byte
	if *station != "" {
		path, err := boothMapPath(*dir, *name, *mapPath)
		if err != nil {
			return err
		}
		m, err := readBoothMap(path, true)
		if err != nil {
			return err
		}
		kek, err := keyfile.Read(*kekPath, 0)
		if err != nil {
			return err
		}
		if seed, err = m.Seed(*station, kek); err != nil {
			return err
		}
	} else {
		if *dir == "" {
			return usagef("--dir is required")
		}
		c, err := loadCampaign(*dir, *name)
		if err != nil {
			return err
		}
		seed = c.Secrets.TOTPSeed
	}
	code, err := totp.BoothCode(seed, now)
	if err != nil {
		return err
	}
	if *pretty {
		warn := ""
		if totp.Warn(now) {
			warn = "  (wait for the next code)"
		}
		fmt.Fprintf(e.Stdout, "%s  next code in %ds%s\n", totp.FormatBooth(code), int(totp.Remaining(now).Seconds()+0.999), warn)
		return nil
	}
	fmt.Fprintln(e.Stdout, code)
	return nil
}

const boothProvisionHelp = `
Manages the public deployment map of booth code generators
(D/CAMPAIGN/booths.yaml): station name -> generator id and the campaign's
TOTP seed wrapped (RFC 3394 AES key wrap) with that generator's own key.
Provisioning a station makes a generator id and a 256-bit wrapping key,
written to --kek-out (mode 0600) to be loaded into the generator, and
publishes the wrapped seed. Observers check every generator against the map.

Examples:
  powvote booth provision --dir ./powvote-data --station "Town Hall" --kek-out townhall.kek
  powvote booth provision --dir ./powvote-data --remove "Town Hall"
  powvote booth provision --dir ./powvote-data --list
`

func runBoothProvision(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "booth provision", "--dir D [--campaign C] (--station NAME --kek-out FILE | --remove NAME | --list)", boothProvisionHelp)
	dir := fs.String("dir", "", "directory that holds campaigns (required)")
	name := fs.String("campaign", "", "campaign name (default: the only one in D)")
	station := fs.String("station", "", "station to provision a generator for")
	kekOut := fs.String("kek-out", "", "file for the new generator's wrapping key (with --station)")
	remove := fs.String("remove", "", "station whose generator to remove from the map")
	list := fs.Bool("list", false, "print the deployment map")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *dir == "" {
		return usagef("--dir is required")
	}
	actions := 0
	for _, set := range []bool{*station != "", *remove != "", *list} {
		if set {
			actions++
		}
	}
	if actions != 1 {
		return usagef("give exactly one of --station, --remove, --list")
	}
	if *station != "" && *kekOut == "" {
		return usagef("--station needs --kek-out")
	}
	c, err := loadCampaign(*dir, *name)
	if err != nil {
		return err
	}
	path := filepath.Join(c.Dir, campaign.BoothMapFile)
	m, err := readBoothMap(path, false)
	if err != nil {
		return err
	}
	if m.Campaign == "" {
		m.Campaign = c.Settings.Name
	}
	switch {
	case *list:
		data, err := m.Marshal()
		if err != nil {
			return err
		}
		_, err = e.Stdout.Write(data)
		return err
	case *remove != "":
		if err := m.Remove(*remove); err != nil {
			return err
		}
		if err := writeBoothMap(path, m); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "removed the generator of %q from %s\n", *remove, path)
		return nil
	}
	if _, err := os.Stat(*kekOut); err == nil {
		return fmt.Errorf("%s exists; refusing to overwrite a key", *kekOut)
	}
	id, kek, err := m.Provision(*station, c.Secrets.TOTPSeed, nil)
	if err != nil {
		return err
	}
	// The key first: a map entry whose key was lost is a generator nobody can run.
	if err := keyfile.Write(*kekOut, kek); err != nil {
		return err
	}
	if err := writeBoothMap(path, m); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "station %q: generator %s, key in %s, map %s\n", *station, id, *kekOut, path)
	return nil
}

func loadCampaign(dir, name string) (*campaign.Campaign, error) {
	name, err := campaign.Resolve(dir, name)
	if err != nil {
		return nil, err
	}
	return campaign.Load(dir, name)
}

func boothMapPath(dir, name, mapPath string) (string, error) {
	if mapPath != "" {
		return mapPath, nil
	}
	if dir == "" {
		return "", usagef("give --dir or --map")
	}
	name, err := campaign.Resolve(dir, name)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, name, campaign.BoothMapFile), nil
}

// readBoothMap reads a deployment map; a missing file is an empty map unless
// must is set.
func readBoothMap(path string, must bool) (*totp.DeploymentMap, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && !must {
			return &totp.DeploymentMap{}, nil
		}
		return nil, fmt.Errorf("read deployment map: %w", err)
	}
	m, err := totp.ParseMap(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

func writeBoothMap(path string, m *totp.DeploymentMap) error {
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	if err := durable.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("deployment map: %w", err)
	}
	return nil
}
