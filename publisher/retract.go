package publisher

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/powvote/powvote/listline"
)

// retraction is a retracted vote as a pull found it: its nonce and the
// line the retracting instance showed for it.
type retraction struct {
	key  nonceKey
	line string
}

func (p *Publisher) retractedPath() string {
	return filepath.Join(p.cfg.Dir, p.cfg.Campaign+"-retracted.log")
}

// openRetracted opens C-retracted.log and reads it back. Unlike the
// lists it has no committed size in the state: a line is served once it
// is durable and is never taken back, so every complete line on disk
// stands. A crash in the middle of an append can leave an incomplete last
// line, which was never served and is cut.
func (p *Publisher) openRetracted() error {
	path := p.retractedPath()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("publisher: couldn't open the retracted list: %w", err)
	}
	p.retracted = f
	if err := syncDir(p.cfg.Dir); err != nil {
		return err
	}
	r := bufio.NewReaderSize(f, 64<<10)
	var size int64
	for n := 1; ; n++ {
		line, err := r.ReadString('\n')
		if err == io.EOF {
			if line != "" {
				p.log.Warn("cutting an incomplete line of the retracted list", "file", path, "bytes", len(line))
				if err := f.Truncate(size); err != nil {
					return fmt.Errorf("publisher: couldn't cut %s: %w", path, err)
				}
				if err := f.Sync(); err != nil {
					return fmt.Errorf("publisher: couldn't sync %s: %w", path, err)
				}
			}
			break
		}
		if err != nil {
			return fmt.Errorf("publisher: couldn't read %s: %w", path, err)
		}
		v, err := listline.ParseVote(line[:len(line)-1])
		if err != nil {
			return fmt.Errorf("publisher: %s line %d: %w: %w", path, n, ErrCorrupt, err)
		}
		p.retractedVotes[keyOf(v.Nonce)] = struct{}{}
		size += int64(len(line))
	}
	p.retractedSize = size
	return nil
}

// appendRetracted appends to C-retracted.log the retractions the round's
// pulls found that it does not hold yet, makes them durable and serves
// them. A retraction read again after a restart is already there.
func (p *Publisher) appendRetracted() error {
	var b []byte
	var added []nonceKey
	for _, ps := range p.pairs {
		for _, r := range ps.newRetracted {
			if _, ok := p.retractedVotes[r.key]; ok {
				continue
			}
			p.retractedVotes[r.key] = struct{}{}
			added = append(added, r.key)
			b = append(append(b, r.line...), '\n')
		}
		ps.newRetracted = nil
	}
	if len(b) == 0 {
		return nil
	}
	if _, err := p.retracted.WriteAt(b, p.retractedSize); err != nil {
		p.forgetRetracted(added)
		return fmt.Errorf("couldn't write %s: %w", p.retractedPath(), err)
	}
	if err := p.retracted.Sync(); err != nil {
		p.forgetRetracted(added)
		return fmt.Errorf("couldn't sync %s: %w", p.retractedPath(), err)
	}
	p.retractedSize += int64(len(b))
	p.snap.Store(p.snapshot())
	p.log.Info("published retracted votes", "votes", len(added))
	return nil
}

// forgetRetracted undoes the bookkeeping of an append that failed.
func (p *Publisher) forgetRetracted(keys []nonceKey) {
	for _, k := range keys {
		delete(p.retractedVotes, k)
	}
}
