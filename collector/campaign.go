package collector

import (
	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/internal/mtls"
)

// ConfigFor is the configuration of collecting instance n of campaign c,
// with its stores in dir (c.CollectorDir(n) by default), its twin at
// twin and its end of the internal links. powvote up and powvote
// collector both build it here; the caller adds the logger and, for
// drills, a clock.
func ConfigFor(c *campaign.Campaign, instance int, dir, twin string, link *mtls.Link) Config {
	if dir == "" {
		dir = c.CollectorDir(instance)
	}
	return Config{
		Settings: c.Settings,
		Secrets:  c.Secrets,
		Dir:      dir,
		Instance: instance,
		Twin:     twin,
		Link:     link,
	}
}
