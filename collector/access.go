package collector

import (
	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/internal/mtls"
)

// route is one endpoint and the roles that may use it: the authorisation
// table of docs/INTERNAL.md. The caller's role comes from its certificate
// (package mtls). Each role gets what its job needs and no more: the edge
// sends votes and takes stamps but reads no voter; the publisher reads the
// records, one kind a page, but can neither vote nor pull the links; only
// the twin pulls the links (the one place a voter and a vote travel
// together).
type route struct {
	method, path string
	roles        []campaign.Role
	twinOnly     bool // for RoleCollector: only this instance's twin
}

var routes = []route{
	{"POST", "/vote", []campaign.Role{campaign.RoleEdge}, false},
	{"POST", "/votes", []campaign.Role{campaign.RoleEdge}, false},
	{"GET", "/stamp", []campaign.Role{campaign.RoleEdge}, false},
	{"GET", "/sync", []campaign.Role{campaign.RoleCollector}, true},
	// The whole state, for a rebuild of the twin or a backup taken with
	// the twin's certificate: what /sync would carry and no more.
	{"GET", "/snapshot", []campaign.Role{campaign.RoleCollector}, true},
	{"GET", "/health", []campaign.Role{campaign.RoleEdge, campaign.RolePublisher, campaign.RoleCollector}, false},
	// The edge reads the vote records for the stamps and nonces of the
	// recorded votes (486, 481); never the voters.
	{"GET", "/records/votes", []campaign.Role{campaign.RoleEdge, campaign.RolePublisher}, false},
	{"GET", "/records/voters", []campaign.Role{campaign.RolePublisher}, false},
}

// findRoute returns the endpoint of a request, or nil.
func findRoute(method, path string) *route {
	for i := range routes {
		if routes[i].method == method && routes[i].path == path {
			return &routes[i]
		}
	}
	return nil
}

// allows reports whether caller may use r at instance self.
func (r *route) allows(caller mtls.Peer, self int) bool {
	for _, role := range r.roles {
		if caller.Role != string(role) {
			continue
		}
		if r.twinOnly {
			// A certificate for any instance passes: the operator chose
			// one certificate for every collector machine (DEPLOY.md).
			return caller.Instance == mtls.AnyInstance || caller.Instance == self^1
		}
		return true
	}
	return false
}
