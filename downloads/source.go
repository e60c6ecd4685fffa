package downloads

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/audit"
	"github.com/powvote/powvote/published"
)

// handlerSource is an audit.Source over a campaign's handler of its
// published files: the audit reads what the publisher serves, as
// audit.URL would over its listener, without a connection. A 404 or 410
// wraps fs.ErrNotExist; any other answer but 200 is an error.
type handlerSource struct{ e *entry }

// Open asks the handler for the file. A list comes as the handler's body
// stream, read as the audit goes, with its size for the progress.
func (h handlerSource) Open(name string) (io.ReadCloser, error) {
	rc := h.e.request(fasthttp.MethodGet, name, nil)
	switch status := rc.Response.StatusCode(); status {
	case fasthttp.StatusOK:
	case fasthttp.StatusNotFound, fasthttp.StatusGone:
		return nil, fmt.Errorf("%s: %d: %w", name, status, fs.ErrNotExist)
	default:
		return nil, fmt.Errorf("%s: the publisher answered %d", name, status)
	}
	if !rc.Response.IsBodyStream() {
		b := rc.Response.Body()
		return sizedReader{io.NopCloser(bytes.NewReader(b)), int64(len(b))}, nil
	}
	size := int64(rc.Response.Header.ContentLength())
	if size < 0 {
		size = -1
	}
	// The stream is taken out of the answer: the audit may close it
	// from another goroutine than the one reading it.
	body := rc.Response.BodyStream()
	r, ok := body.(io.ReadCloser)
	if !ok {
		r = io.NopCloser(body)
	}
	return sizedReader{r, size}, nil
}

// sizedReader tells the audit how long a file is (audit.Source).
type sizedReader struct {
	io.ReadCloser
	size int64
}

func (s sizedReader) Size() int64 { return s.size }

// key is what a campaign's report is kept by: the size of the votes
// list's latest checkpoint, and whether the campaign is closed (the close
// publishes the keys file, which the platform-stamp check reads, at the
// same size).
type key struct {
	votes  int64
	closed bool
}

// state reads the campaign's key from its handler; signed is false for a
// campaign without checkpoints, whose report is not kept.
func (e *entry) state() (k key, signed bool, err error) {
	arch := e.request(fasthttp.MethodHead, published.ArchiveName(e.name), nil)
	k.closed = arch.Response.StatusCode() == fasthttp.StatusOK
	cp := e.request(fasthttp.MethodGet, published.CheckpointName(e.name, published.Vote), nil)
	switch status := cp.Response.StatusCode(); status {
	case fasthttp.StatusOK:
	case fasthttp.StatusNotFound, fasthttp.StatusBadRequest:
		// Not signed yet, or a publisher without a log key (which answers
		// 400 for every checkpoint).
		return key{votes: -1, closed: k.closed}, false, nil
	default:
		return key{}, false, fmt.Errorf("%s: the publisher answered %d", published.CheckpointName(e.name, published.Vote), status)
	}
	// The checkpoint's text ends at the blank line before its
	// signatures; only its size matters here, the audit verifies it.
	body := cp.Response.Body()
	text, _, ok := bytes.Cut(body, []byte("\n\n"))
	if !ok {
		return key{}, false, fmt.Errorf("%s: not a signed note", published.CheckpointName(e.name, published.Vote))
	}
	c, err := audit.ParseCheckpoint(string(text) + "\n")
	if err != nil {
		return key{}, false, fmt.Errorf("%s: %w", published.CheckpointName(e.name, published.Vote), err)
	}
	k.votes = c.Tree.N
	return k, true, nil
}
