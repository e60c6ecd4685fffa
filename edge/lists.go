package edge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// An edge on its own machine serves the published files of a campaign
// (PROTOCOL.md 8) from the publisher's public server, as powvote up serves
// them from the publisher in its process: voters and observers reach one
// site. ListsFrom relays each GET or HEAD unchanged in meaning: the path,
// the conditional and range headers, and back the status, the body (as a
// stream: a list can be larger than memory should hold) and the headers
// that describe it. The publisher is trusted for nothing: whatever it
// serves is checked by its signed checkpoints, as from any mirror.

// relayedRequestHeaders are the request headers a list request carries to
// the publisher: those that make it conditional or partial.
var relayedRequestHeaders = []string{"Range", "If-Range", "If-None-Match", "If-Modified-Since"}

// relayedResponseHeaders are the publisher's response headers the edge
// passes on: those that describe the body and how long it may be kept.
var relayedResponseHeaders = []string{
	"Content-Type", "Content-Range", "Accept-Ranges", "ETag", "Last-Modified", "Cache-Control", "Content-Encoding",
}

// ListsTimeout bounds how long the edge waits for the publisher's answer
// to begin; the body then flows for as long as the edge's WriteTimeout.
const ListsTimeout = 10 * time.Second

// ErrListsURL means the publisher's URL is not an absolute http or https
// URL without a path, query or fragment.
var ErrListsURL = errors.New("edge: publisher URL")

// ListsFrom returns a Campaign.Lists handler that relays list requests to
// the publisher at base, such as "http://10.0.0.4:8443". The publisher's
// public server is an ordinary web server: an https URL is verified
// against the system's roots.
func ListsFrom(base string) (fasthttp.RequestHandler, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrListsURL, base, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.TrimSuffix(u.Path, "/") != "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("%w %q: want http(s)://HOST:PORT", ErrListsURL, base)
	}
	client := &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           (&net.Dialer{Timeout: ListsTimeout}).DialContext,
			TLSHandshakeTimeout:   ListsTimeout,
			ResponseHeaderTimeout: ListsTimeout,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       90 * time.Second,
			// The body is relayed as it comes: no transparent gzip,
			// whose Content-Length and ranges would not be the file's.
			DisableCompression: true,
		},
		// A publisher answers its files or an error, never a redirect.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	origin := u.Scheme + "://" + u.Host
	return func(ctx *fasthttp.RequestCtx) { relayList(ctx, client, origin) }, nil
}

// relayList relays one GET or HEAD request to the publisher at origin.
// A publisher that cannot be reached gets the client a 502 with an empty
// body: the lists are missing for now, nothing is wrong with the request.
func relayList(ctx *fasthttp.RequestCtx, client *http.Client, origin string) {
	rctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(rctx, string(ctx.Method()), origin+string(ctx.RequestURI()), nil)
	if err != nil {
		cancel()
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		return
	}
	for _, h := range relayedRequestHeaders {
		if v := ctx.Request.Header.Peek(h); len(v) > 0 {
			req.Header.Set(h, string(v))
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		cancel()
		ctx.Response.Header.Set("Cache-Control", "no-store")
		ctx.SetStatusCode(fasthttp.StatusBadGateway)
		return
	}
	ctx.SetStatusCode(resp.StatusCode)
	for _, h := range relayedResponseHeaders {
		if v := resp.Header.Get(h); v != "" {
			ctx.Response.Header.Set(h, v)
		}
	}
	if ctx.IsHead() {
		resp.Body.Close()
		cancel()
		ctx.Response.SkipBody = true
		if resp.ContentLength >= 0 {
			ctx.Response.Header.SetContentLength(int(resp.ContentLength))
		}
		return
	}
	// fasthttp closes the stream once it has written the body, or given
	// up on the client: then the request to the publisher ends too.
	ctx.SetBodyStream(&relayedBody{resp.Body, cancel}, int(resp.ContentLength))
}

// relayedBody is the publisher's answer as the edge streams it.
type relayedBody struct {
	body   io.ReadCloser
	cancel context.CancelFunc
}

func (b *relayedBody) Read(p []byte) (int, error) { return b.body.Read(p) }

func (b *relayedBody) Close() error {
	err := b.body.Close()
	b.cancel()
	return err
}
