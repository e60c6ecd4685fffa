package audit

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/powvote/powvote/campaign"
)

// A Source hands out the files a campaign publishes, by the names package
// published gives them (published.LogName, published.SettingsName, ...).
// Open returns an error wrapping [fs.ErrNotExist] when the source does not
// have the file, so that callers can tell a file that is not published
// (yet) from one that failed to download. The reader
// may also have a method Size() int64 returning its length in bytes, or -1
// when unknown; Run uses it for [Options.Progress]. Run closes every reader
// it opens, and closes it early to stop a read when its context is done.
type Source interface {
	Open(name string) (io.ReadCloser, error)
}

// OpenSettings reads the settings file name (published.SettingsName, or
// a folder's campaign.yaml) from src: the campaign's public settings, and
// the exact bytes they were read from, for Options.SettingsData. The
// error wraps fs.ErrNotExist when src does not have the file.
func OpenSettings(src Source, name string) (*campaign.Settings, []byte, error) {
	r, err := src.Open(name)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	// Parse refuses more than 1 MiB; reading one byte more lets it say so.
	data, err := io.ReadAll(io.LimitReader(r, 1<<20+1))
	if err != nil {
		return nil, nil, fmt.Errorf("couldn't read %s: %w", name, err)
	}
	s, err := campaign.Parse(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, data, nil
}

// sized is a reader that knows its length.
type sized struct {
	io.ReadCloser
	size int64
}

func (s sized) Size() int64 { return s.size }

// Dir is a folder of downloaded lists: Open("solar-vote.log") opens
// Dir/solar-vote.log.
type Dir string

// Open opens the file name in the folder. Names are plain file names: a
// name with a path separator or ".." is refused, so that a name taken from
// published data cannot reach outside the folder.
func (d Dir) Open(name string) (io.ReadCloser, error) {
	if !validName(name) {
		return nil, fmt.Errorf("audit: %q is not a plain file name", name)
	}
	f, err := os.Open(filepath.Join(string(d), name))
	if err != nil {
		return nil, err // *fs.PathError already names the file and wraps fs.ErrNotExist
	}
	size := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	return sized{f, size}, nil
}

// URL is the base URL of an edge or a publisher: Open("solar-vote.log")
// GETs <Base>/solar-vote.log.
type URL struct {
	Base   string       // for example "http://127.0.0.1:8080"; a trailing '/' is optional
	Client *http.Client // nil means http.DefaultClient
	// Context bounds every request; nil means context.Background(). Run
	// also stops a download in progress by closing its body.
	Context context.Context
}

// Open GETs the file. A 404 or 410 answer wraps fs.ErrNotExist; any other
// answer but 200 is an error that quotes the status.
func (u *URL) Open(name string) (io.ReadCloser, error) {
	if !validName(name) {
		return nil, fmt.Errorf("audit: %q is not a plain file name", name)
	}
	base, err := url.Parse(u.Base)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("audit: %q is not an http or https base URL", u.Base)
	}
	full := strings.TrimSuffix(base.String(), "/") + "/" + url.PathEscape(name)
	ctx := u.Context
	if ctx == nil {
		ctx = context.Background()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, full, nil)
	if err != nil {
		return nil, fmt.Errorf("audit: GET %s: %w", full, err)
	}
	c := u.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("audit: GET %s: %w", full, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return sized{resp.Body, resp.ContentLength}, nil
	case http.StatusNotFound, http.StatusGone:
		resp.Body.Close()
		return nil, fmt.Errorf("audit: GET %s: %s: %w", full, resp.Status, fs.ErrNotExist)
	default:
		resp.Body.Close()
		return nil, fmt.Errorf("audit: GET %s: %s", full, resp.Status)
	}
}

func validName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, `/\`) && fs.ValidPath(name)
}

// sizeOf returns the length of r when it says, else -1.
func sizeOf(r io.Reader) int64 {
	if s, ok := r.(interface{ Size() int64 }); ok {
		return s.Size()
	}
	return -1
}
