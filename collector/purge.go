package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/collector/internal/store"
)

// ErrUnconfirmed means a purge kept links because the twin has not
// confirmed their votes (since this instance last started: confirmations
// live in memory).
var ErrUnconfirmed = store.ErrUnconfirmed

// Closed returns when a collector of the campaign stops accepting votes of
// its own: the last platform stamp it takes is stamped at End and is
// MaxStampAge old then. Copies from the twin may still arrive afterwards.
func Closed(set *campaign.Settings) time.Time { return set.End.Add(set.MaxStampAge) }

// purgeLoop purges the store once the campaign is closed (Closed) and the
// twin has confirmed every own vote, so that the data directory keeps no
// link between a voter and a vote (store.Store.Purge). It tries every
// SyncInterval until that holds, and again whenever a late copy from the
// twin leaves something pending. An instance without a twin purges with
// force: nobody will ever confirm its links.
func (s *Server) purgeLoop(ctx context.Context) {
	closed := Closed(s.cfg.Settings)
	t := time.NewTicker(s.cfg.SyncInterval)
	defer t.Stop()
	waiting := false // logged that links wait for the twin
	purged := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if s.cfg.Clock().Before(closed) {
			continue
		}
		if links, pending := s.st.Held(); purged && links == 0 && pending == 0 {
			continue
		}
		err := s.st.Purge(ctx, s.twin == nil)
		switch {
		case err == nil:
			purged, waiting = true, false
			s.log.Info("campaign closed: purged the store, the data directory holds no link between voters and votes")
		case errors.Is(err, store.ErrUnconfirmed):
			if !waiting {
				s.log.Info("campaign closed: waiting for the twin to confirm the last votes before purging", "err", err)
				waiting = true
			}
		case ctx.Err() != nil:
			return
		default:
			s.log.Warn("campaign closed: purge failed; trying again", "err", err)
		}
	}
}

// Purge purges the store of an instance that is not running, in its data
// directory dir: it moves every pending voter into the voter table and
// compacts, so that the directory keeps no link between a voter and a
// vote (store.Store.Purge). Confirmations of the twin live in the running
// instance's memory only, so links still held are kept and reported with
// ErrUnconfirmed unless force drops them; a dropped link's vote then never
// reaches the twin from this instance. It returns how many links and
// pending voters the directory held before. A directory without an
// instance's store is refused, not made one.
func Purge(ctx context.Context, dir string, set *campaign.Settings, force bool, log *slog.Logger) (links, pending int, err error) {
	// Open would make a new store in a directory without one.
	if _, err := os.Stat(filepath.Join(dir, store.LogFile)); err != nil {
		return 0, 0, fmt.Errorf("collector: %s holds no collecting instance: %w", dir, err)
	}
	st, err := store.Open(dir, store.Options{Logger: log, MoveBatch: set.BatchSize})
	if err != nil {
		return 0, 0, fmt.Errorf("collector: open store %s: %w", dir, err)
	}
	links, pending = st.Held()
	err = st.Purge(ctx, force)
	if cerr := st.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return links, pending, fmt.Errorf("collector: purge %s: %w", dir, err)
	}
	return links, pending, nil
}

// heldLoop logs every HeldReport what a copy of the instance's disk could
// link, while there is any: the links held for the twin and the voters
// waiting for the mover.
func (s *Server) heldLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.HeldReport)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if links, pending := s.st.Held(); links+pending > 0 {
			s.log.Info("store holds links for the twin and voters for the mover", "links", links, "pending_voters", pending)
		}
	}
}

// Held reports how many links between a voter and a vote the instance's
// store holds, and how many voter records wait to be moved into the voter
// table (store.Store.Held): what a copy of its disk could tie to votes.
func (s *Server) Held() (links, pending int) {
	if s.rebuilding.Load() {
		return 0, 0
	}
	return s.st.Held()
}
