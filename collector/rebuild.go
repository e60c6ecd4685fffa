package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/collector/internal/store"
	"github.com/powvote/powvote/internal/mtls"
)

// ErrNotEmpty means a rebuild or a backup was given a data directory that
// holds something: neither writes over data.
var ErrNotEmpty = store.ErrNotEmpty

// CheckEmpty returns nil when dir is empty or absent, the only data
// directory a rebuild (Config.Rebuild) or a backup writes into, and an
// error wrapping ErrNotEmpty otherwise.
func CheckEmpty(dir string) error { return store.CheckEmpty(dir) }

// errSnapshotBad marks a snapshot that arrived but did not verify: a
// rebuild does not try again, it stops.
var errSnapshotBad = errors.New("the copy does not verify")

// copySnapshot asks the instance at base (instance owner of campaign name)
// for its snapshot over client and writes it into dir, which must be empty:
// for the owner's twin if twin (a rebuild), for the owner itself if not (a
// backup). It then opens the store it wrote and checks that the store
// reads back as the snapshot it was sent: the vote records with their
// receipts, and the voters (and the links, which only the owner's copy
// keeps), hash for hash. It returns the store, open, or an error having
// left dir empty. An error that wraps errSnapshotBad means the snapshot
// arrived and did not verify.
func copySnapshot(ctx context.Context, client *http.Client, pass, base, name string, owner int, dir string, twin bool,
	opt store.Options) (*store.Store, store.SnapshotInfo, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/snapshot", nil)
	if err != nil {
		return nil, store.SnapshotInfo{}, fmt.Errorf("collector: snapshot from %s: %w", redact(base), err)
	}
	if len(pass) > 0 {
		req.Header.Set("Pass", pass)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, store.SnapshotInfo{}, fmt.Errorf("collector: snapshot: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, store.SnapshotInfo{}, fmt.Errorf("collector: snapshot from %s: status %d", redact(base), resp.StatusCode)
	}
	var b *store.Builder
	var info store.SnapshotInfo
	sent, err := readSnapshot(resp.Body, func(h snapshotHeader) (snapshotSink, error) {
		if h.campaign != name || h.instance != owner {
			return nil, fmt.Errorf("collector: %s sent a snapshot of collector %d of campaign %q, want collector %d of %q: %w",
				redact(base), h.instance, h.campaign, owner, name, errSnapshotBad)
		}
		info = h.info
		var err error
		b, err = store.NewBuilder(dir, h.info, store.BuildOptions{Logger: opt.Logger, Twin: twin})
		if err != nil {
			return nil, fmt.Errorf("collector: %w", err)
		}
		return b, nil
	})
	if err == nil {
		err = b.Finish()
	}
	if err != nil {
		if b != nil {
			b.Abort()
		}
		if !errors.Is(err, ErrNotEmpty) && b != nil {
			err = fmt.Errorf("%w: %w", errSnapshotBad, err)
		}
		return nil, info, err
	}
	st, err := store.Open(dir, opt)
	if err != nil {
		emptyDir(dir)
		return nil, info, fmt.Errorf("collector: open the copy: %w: %w", errSnapshotBad, err)
	}
	got, err := digestOf(ctx, st, name, owner)
	if err == nil {
		switch {
		case got.records != sent.records:
			err = errors.New("its vote records differ from the snapshot's")
		case got.voters != sent.voters:
			err = errors.New("its voters differ from the snapshot's")
		case !twin && got.links != sent.links:
			err = errors.New("its links differ from the snapshot's")
		}
	}
	if err != nil {
		st.Close()
		emptyDir(dir)
		return nil, info, fmt.Errorf("collector: the copy in %s: %w: %w", dir, errSnapshotBad, err)
	}
	return st, info, nil
}

// emptyDir empties dir, which held nothing before a copy into it failed:
// what it holds now is that copy.
func emptyDir(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

// rebuild copies the twin's state into the empty data directory (New
// checked it) and opens it as this instance's store. It tries again while
// the twin does not answer, and stops at a copy that does not verify.
func (s *Server) rebuild(ctx context.Context) error {
	s.log.Info("rebuilding from the twin: copying its state", "twin", redact(s.cfg.Twin))
	wait := 200 * time.Millisecond
	for {
		st, info, err := copySnapshot(ctx, s.twin, s.cfg.Link.Pass(), s.twinURL, s.cfg.Settings.Name, s.cfg.Instance^1,
			s.cfg.Dir, true, s.storeOptions())
		if err == nil {
			s.st = st
			s.log.Info("rebuilt from the twin: the copy verifies",
				"records", info.Index, "voters", info.Voters, "votes", info.Votes, "twin_links_left_to_it", info.Links,
				"log_id", st.LogID())
			return nil
		}
		if errors.Is(err, errSnapshotBad) || errors.Is(err, ErrNotEmpty) || ctx.Err() != nil {
			return err
		}
		s.log.Warn("rebuild: the twin does not give its snapshot yet; trying again", "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("collector: rebuild: %w", ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// BackupConfig says what Backup copies where.
type BackupConfig struct {
	Settings *campaign.Settings
	Instance int    // the instance to back up
	From     string // its base URL
	// Link is the end of the internal links Backup speaks with: a
	// certificate of the instance's twin, or of any collector, since only
	// the twin may take a snapshot (docs/INTERNAL.md, Authorisation).
	Link *mtls.Link
	Out  string       // the directory to write, empty or absent
	Log  *slog.Logger // nil: discard
}

// Backup takes a consistent copy of the running instance at cfg.From, as
// its twin would for a rebuild (GET /snapshot), and writes it into
// cfg.Out as that instance's data directory: its vote log, voter table,
// receipts, counters and the links it still holds for its twin. It checks
// the copy as a rebuild does and leaves cfg.Out empty if it fails.
// powvote collector --data cfg.Out starts from it, with a new log
// identity (docs/MIRRORS.md, Backups).
func Backup(ctx context.Context, cfg BackupConfig) (store.SnapshotInfo, error) {
	if cfg.Settings == nil || cfg.Link == nil || cfg.Out == "" {
		return store.SnapshotInfo{}, errors.New("collector: backup: settings, link and output directory are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	base, err := checkTwinURL(cfg.From)
	if err != nil || base == "" {
		return store.SnapshotInfo{}, fmt.Errorf("collector: backup: the instance's URL: %v", err)
	}
	if err := cfg.Link.CheckURL(base); err != nil {
		return store.SnapshotInfo{}, fmt.Errorf("collector: backup: %w", err)
	}
	if err := store.CheckEmpty(cfg.Out); err != nil {
		return store.SnapshotInfo{}, fmt.Errorf("collector: backup: %w", err)
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSClientConfig:       cfg.Link.ClientConfig(mtls.Peer{Role: string(campaign.RoleCollector), Instance: cfg.Instance}),
		ResponseHeaderTimeout: 30 * time.Second,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	st, info, err := copySnapshot(ctx, client, cfg.Link.Pass(), base, cfg.Settings.Name, cfg.Instance, cfg.Out, false,
		store.Options{Logger: cfg.Log, MoveBatch: cfg.Settings.BatchSize})
	if err != nil {
		return info, fmt.Errorf("collector: backup: %w", err)
	}
	if err := st.Close(); err != nil {
		return info, fmt.Errorf("collector: backup: %w", err)
	}
	// The check's Open wrote files of its own.
	if err := store.Privatize(cfg.Out); err != nil {
		return info, fmt.Errorf("collector: backup: %w", err)
	}
	return info, nil
}
