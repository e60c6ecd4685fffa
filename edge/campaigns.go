package edge

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/campaign"
)

// CampaignsPath lists the campaigns an edge serves, beyond PROTOCOL.md
// (docs/EXTENSIONS.md): one name a line, sorted, whatever the Host. An
// auditor given only the edge's URL learns from it which campaign to
// audit; the names are public anyway, as the first label of every Host
// the edge answers.
const CampaignsPath = "/campaigns.txt"

// campaignsMaxAge is how long a client may keep the listing: it changes
// only when the edge restarts with other campaigns.
const campaignsMaxAge = "max-age=300"

// MaxCampaignsSize bounds the listing a reader takes: far more than the
// names of any edge's campaigns.
const MaxCampaignsSize = 64 << 10

// isCampaignsPath reports whether ctx asks for the listing.
func isCampaignsPath(ctx *fasthttp.RequestCtx) bool {
	return (ctx.IsGet() || ctx.IsHead()) && string(ctx.Path()) == CampaignsPath
}

// campaigns answers GET and HEAD /campaigns.txt. Like the published lists
// it may be read from any page whose origin is allowed; unlike them it
// does not depend on Host, so it answers even a Host that names no
// campaign.
func (s *Server) campaigns(ctx *fasthttp.RequestCtx) {
	sites := s.siteMap()
	names := make([]string, 0, len(sites))
	for n := range sites {
		names = append(names, n)
	}
	h := &ctx.Response.Header
	h.SetContentType("text/plain; charset=utf-8")
	h.Set("Cache-Control", campaignsMaxAge)
	h.Set("X-Content-Type-Options", "nosniff")
	if origin := ctx.Request.Header.Peek("Origin"); len(origin) > 0 && (s.allowAll || s.origins[string(origin)]) {
		h.SetBytesV("Access-Control-Allow-Origin", origin)
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetBodyString(FormatCampaigns(names))
}

// FormatCampaigns writes the listing of names: sorted, each followed by a
// line feed.
func FormatCampaigns(names []string) string {
	names = slices.Clone(names)
	slices.Sort(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte('\n')
	}
	return b.String()
}

// ErrCampaigns means a campaign listing is not one FormatCampaigns
// writes.
var ErrCampaigns = errors.New("edge: malformed campaign listing")

// ParseCampaigns reads a listing as FormatCampaigns writes it: campaign
// names (campaign.ValidateName), each ended by a line feed, sorted, none
// twice. It returns the names in order; an empty listing is no error.
func ParseCampaigns(data []byte) ([]string, error) {
	if len(data) > MaxCampaignsSize {
		return nil, fmt.Errorf("%w: over %d bytes", ErrCampaigns, MaxCampaignsSize)
	}
	var names []string
	for i := 1; len(data) > 0; i++ {
		line, rest, ok := bytes.Cut(data, []byte("\n"))
		if !ok {
			return nil, fmt.Errorf("%w: line %d has no line feed", ErrCampaigns, i)
		}
		n := string(line)
		if err := campaign.ValidateName(n); err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrCampaigns, i, err)
		}
		if len(names) > 0 && names[len(names)-1] >= n {
			return nil, fmt.Errorf("%w: line %d: %q is not after %q", ErrCampaigns, i, n, names[len(names)-1])
		}
		names = append(names, n)
		data = rest
	}
	return names, nil
}
