package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/internal/mtls"
)

// insider reaches a campaign's collectors as the platform's own roles do:
// an HTTP client per role, each holding that role's certificate for the
// internal links (issued in memory from the full campaign directory), so
// that a test asks only what the role may ask (docs/INTERNAL.md).
type insider struct {
	clients map[campaign.Role]*http.Client
}

// insiders makes the clients of every role of c, a campaign loaded from
// the directory powvote init made.
func insiders(t testing.TB, c *campaign.Campaign) *insider {
	t.Helper()
	in := &insider{clients: map[campaign.Role]*http.Client{}}
	for _, r := range campaign.Roles {
		in.clients[r] = roleClient(t, c, r, mtls.AnyInstance)
	}
	return in
}

// as is role's client.
func (in *insider) as(role campaign.Role) *http.Client { return in.clients[role] }

// roleClient is an HTTP client with role's certificate (instance for a
// collector) that accepts any collector of c.
func roleClient(t testing.TB, c *campaign.Campaign, role campaign.Role, instance int) *http.Client {
	t.Helper()
	link, err := c.Link(role, instance)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: link.ClientConfig(mtls.Peer{Role: string(campaign.RoleCollector), Instance: mtls.AnyInstance})}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}
