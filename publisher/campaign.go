package publisher

import (
	"fmt"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/internal/mtls"
)

// ConfigFor is the configuration of the publisher of campaign c, pulling
// from pairs over link: the public settings it serves, the derived close
// (campaign.Settings.CloseDelay), and of the keys it publishes at the
// close only the public halves. powvote up and powvote publisher both
// build it here; the caller adds the logger, the interval and the
// connection limits.
func ConfigFor(c *campaign.Campaign, pairs [][2]string, link *mtls.Link) (Config, error) {
	settings, err := c.Settings.Marshal()
	if err != nil {
		return Config{}, fmt.Errorf("publisher: campaign %s: %w", c.Settings.Name, err)
	}
	return Config{
		Campaign:   c.Settings.Name,
		Pairs:      pairs,
		Link:       link,
		Dir:        c.PublishedDir(),
		BatchSize:  c.Settings.BatchSize,
		End:        c.Settings.End,
		CloseDelay: c.Settings.CloseDelay(),
		Options:    c.Settings.Options,
		LogKey:     c.Secrets.LogKey,
		Settings:   settings,
		UTCSignPub: c.Secrets.UTCSignPub,
		UTCHolePub: c.Secrets.UTCHolePub,
		ReceiptPub: c.Secrets.ReceiptPub,
	}, nil
}
