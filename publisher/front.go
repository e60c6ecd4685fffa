package publisher

import (
	"bytes"
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/published"
)

// Front serves the published files of several campaigns on one port: a
// request goes to the campaign the first label of its Host names, else to
// the campaign its file name belongs to (every published file is
// /<campaign>-..., so an edge that relays the lists reaches the right one
// whatever Host it sends). Publishers may be added while it serves.
type Front struct {
	mu   sync.Mutex
	pubs atomic.Pointer[[]*Publisher] // longest campaign name first
}

// ErrDuplicate is Add's error for a campaign served already.
var ErrDuplicate = errors.New("publisher: campaign served already")

// NewFront serves pubs.
func NewFront(pubs ...*Publisher) (*Front, error) {
	f := &Front{}
	f.pubs.Store(&[]*Publisher{})
	for _, p := range pubs {
		if err := f.Add(p); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// Add serves p's files from now on.
func (f *Front) Add(p *Publisher) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := *f.pubs.Load()
	for _, q := range old {
		if q.cfg.Campaign == p.cfg.Campaign {
			return ErrDuplicate
		}
	}
	pubs := append(slices.Clone(old), p)
	// A name that is a prefix of another ("a" and "a-b") must not take
	// the other's files: the longer is tried first.
	slices.SortFunc(pubs, func(a, b *Publisher) int { return len(b.cfg.Campaign) - len(a.cfg.Campaign) })
	f.pubs.Store(&pubs)
	return nil
}

// pick is the publisher of the request's campaign, or nil.
func (f *Front) pick(host, path []byte) *Publisher {
	pubs := *f.pubs.Load()
	if len(pubs) == 1 {
		return pubs[0]
	}
	label, _, _ := bytes.Cut(host, []byte("."))
	label, _, _ = bytes.Cut(label, []byte(":"))
	for _, p := range pubs {
		if strings.EqualFold(string(label), p.cfg.Campaign) {
			return p
		}
	}
	name, _ := strings.CutPrefix(string(path), "/")
	for _, p := range pubs {
		if _, ok := published.Parse(p.cfg.Campaign, name); ok {
			return p
		}
	}
	return nil
}

// Handle serves a request as its campaign's Publisher.Handle does, and
// 400 with an empty body when no campaign served here owns it.
func (f *Front) Handle(ctx *fasthttp.RequestCtx) {
	p := f.pick(ctx.Host(), ctx.Path())
	if p == nil {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		return
	}
	p.Handle(ctx)
}

// Serve serves the files on ln, with cfg's connection limits and
// timeouts (those of a campaign's Config), until ctx is done.
func (f *Front) Serve(ctx context.Context, ln net.Listener, cfg Config) error {
	cfg.withDefaults()
	return serveLists(ctx, ln, cfg, cfg.Logger, f.Handle, func(ctx context.Context) error {
		<-ctx.Done()
		return nil
	})
}
