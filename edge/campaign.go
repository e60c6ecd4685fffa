package edge

import (
	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/internal/mtls"
)

// CampaignFor is the edge's entry for campaign c: its settings and the
// keys the edge holds (campaign.RoleEdge), its end of the internal links,
// its pairs of collecting instances in order, and lists, the handler of
// its published files (a publisher's own, or ListsFrom; nil: not served
// here). powvote up and powvote edge both build it here.
func CampaignFor(c *campaign.Campaign, link *mtls.Link, pairs [][2]string, lists fasthttp.RequestHandler) Campaign {
	return Campaign{
		Settings:   c.Settings,
		UTCSignPub: c.Secrets.UTCSignPub,
		UTCHole:    c.Secrets.UTCHole,
		VoterKey:   c.Secrets.VoterStampKey,
		Link:       link,
		Pairs:      pairs,
		Lists:      lists,
	}
}
