package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/powvote/powvote/campaign"
)

// campaignSet is a process's share of the campaigns in a directory: the
// one named by --campaign, or every campaign D holds. At start it loads
// each with its role's files and starts it; on SIGHUP it looks at D again
// and starts the campaigns added since, each checked first (a campaign
// that does not load is logged with its cause and left out; the others
// run on). So an operator adds a campaign to a running platform by
// exporting it into each machine's D and sending each process SIGHUP.
type campaignSet struct {
	dir, only string
	role      campaign.Role
	log       *slog.Logger
	// start starts campaign c's part of the process; it is called once per
	// campaign, never twice at once.
	start func(ctx context.Context, c *campaign.Campaign) error

	mu      sync.Mutex
	started map[string]bool
}

func newCampaignSet(dir, only string, role campaign.Role, log *slog.Logger, start func(context.Context, *campaign.Campaign) error) *campaignSet {
	return &campaignSet{dir: dir, only: only, role: role, log: log, start: start, started: map[string]bool{}}
}

// names are the campaigns the set serves once started.
func (s *campaignSet) names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n []string
	for k := range s.started {
		n = append(n, k)
	}
	return n
}

// count is how many campaigns have started.
func (s *campaignSet) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.started)
}

// scan starts every campaign of D not started yet, and returns the names
// it started and the errors of those that failed.
func (s *campaignSet) scan(ctx context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := []string{s.only}
	if s.only == "" {
		var err error
		if names, err = campaign.List(s.dir); err != nil {
			return nil, err
		}
	}
	var added []string
	var errs []error
	for _, n := range names {
		if s.started[n] {
			continue
		}
		c, err := campaign.LoadRole(s.dir, n, s.role)
		if err == nil {
			err = s.start(ctx, c)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("campaign %s: %w", n, err))
			continue
		}
		s.started[n] = true
		added = append(added, n)
	}
	return added, errors.Join(errs...)
}

// open starts the campaigns of D and fails when none starts: a process
// that serves nothing is a mistake, while one campaign that does not load
// among several is logged and the others serve.
func (s *campaignSet) open(ctx context.Context) error {
	added, err := s.scan(ctx)
	if len(added) == 0 {
		if err == nil {
			_, err = campaign.Resolve(s.dir, "") // names the cause: no campaign in D
		}
		return err
	}
	if err != nil {
		s.log.Error("some campaigns of the directory could not start; the others serve", "dir", s.dir, "err", err)
	}
	s.log.Info("serving", "campaigns", added)
	return nil
}

// watch looks at D again on each SIGHUP until ctx ends.
func (s *campaignSet) watch(ctx context.Context) {
	onHangup(ctx, func() {
		added, err := s.scan(ctx)
		if err != nil {
			s.log.Error("SIGHUP: a campaign of the directory could not start; nothing else changed", "dir", s.dir, "err", err)
		}
		if len(added) > 0 {
			s.log.Info("SIGHUP: serving new campaigns", "campaigns", added)
		}
	})
}
