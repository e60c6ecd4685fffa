package publisher

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/published"
)

// retraction is a retracted vote as a pull found it, held until its
// winner is published: its nonce, its line of the retracted list
// (listline.Retracted), the winner's nonce, and the instance and index of
// the retracted vote's record, which the cursors keep until it is
// appended.
type retraction struct {
	key    nonceKey
	winner nonceKey
	line   string
	inst   int
	index  uint64
}

// retractedLog is the retracted list as the publisher keeps it: appended
// by rounds, served below the size in the snapshot. With the log key it
// is the third log: its tree, checkpoint and tile offsets are
// trees[retractedList].
type retractedLog struct {
	retracted      *os.File
	retractedSize  int64                 // bytes durable in C-retracted.log; guarded by roundMu
	retractedLines int64                 // its lines; guarded by roundMu
	retractedVotes map[nonceKey]struct{} // nonces in C-retracted.log; guarded by roundMu
}

func (p *Publisher) retractedPath() string {
	return filepath.Join(p.cfg.Dir, published.LogName(p.cfg.Campaign, published.Retracted))
}

// openRetracted opens C-retracted.log and reads it back. Unlike the
// lists it has no committed size in the state: a line is served once it
// is durable and under its checkpoint, and is never taken back, so every
// complete line on disk stands. A crash in the middle of an append can
// leave an incomplete last line, which was never served and is cut. With
// logs, it also recomputes the hashes a crash left missing; recoverLogs
// then signs or checks the latest checkpoint.
//
// A line that is a bare vote line was written before retractions were
// bound to their winner: it is kept, and an audit says it proves nothing.
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
	var lines []string
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
		text := line[:len(line)-1]
		var nonce []byte
		if rl, err := listline.ParseRetracted(text); err == nil {
			nonce = rl.Vote.Nonce
		} else if v, verr := listline.ParseVote(text); verr == nil {
			p.log.Warn("a line of the retracted list binds its vote to no winner (written before retractions were signed)", "file", path, "line", n)
			nonce = v.Nonce
		} else {
			return fmt.Errorf("publisher: %s line %d: %w: %w", path, n, ErrCorrupt, err)
		}
		p.retractedVotes[keyOf(nonce)] = struct{}{}
		p.trees[retractedList].noteLeaf(int64(len(lines)), size)
		lines = append(lines, text)
		size += int64(len(line))
	}
	p.retractedSize, p.retractedLines = size, int64(len(lines))
	if p.key == nil {
		return nil
	}
	h := p.trees[retractedList].hashes
	resume, err := h.recover(p.retractedLines)
	if err != nil {
		return err
	}
	for n := resume; n < p.retractedLines; n++ {
		if err := h.add(n, []byte(lines[n])); err != nil {
			return fmt.Errorf("publisher: %w", err)
		}
	}
	if len(h.pending) > 0 {
		p.log.Warn("recomputing hashes that were not written", "list", path, "from_leaf", resume)
	}
	if err := h.commit(); err != nil {
		return fmt.Errorf("publisher: %w", err)
	}
	return nil
}

// appendRetracted appends to C-retracted.log the held retractions whose
// winner the votes list holds, and that the list does not hold yet; makes
// them durable, extends its tree and signs its checkpoint (with logs); and
// serves them. A retraction read again after a restart is already there.
// The publisher calls it once a batch is committed: every retraction in
// the list names a published winner, so whoever reads the retracted list
// before the votes list finds each winner.
func (p *Publisher) appendRetracted() error {
	var added []string
	var keys []nonceKey
	for _, ps := range p.pairs {
		ps.held = slices.DeleteFunc(ps.held, func(r retraction) bool {
			if _, ok := p.retractedVotes[r.key]; ok {
				return true
			}
			if _, ok := p.publishedVotes[r.winner]; !ok {
				return false
			}
			p.retractedVotes[r.key] = struct{}{}
			keys = append(keys, r.key)
			added = append(added, r.line)
			return true
		})
	}
	if len(added) == 0 {
		return nil
	}
	// Bookkeeping above is not undone on failure: every failure below
	// stops the publisher (ErrFailed), and a restart reads the held
	// retractions again from the collectors.
	var b []byte
	for j, l := range added {
		p.trees[retractedList].noteLeaf(p.retractedLines+int64(j), p.retractedSize+int64(len(b)))
		b = append(append(b, l...), '\n')
	}
	if _, err := p.retracted.WriteAt(b, p.retractedSize); err != nil {
		return fmt.Errorf("couldn't write %s: %w", p.retractedPath(), err)
	}
	if err := p.retracted.Sync(); err != nil {
		return fmt.Errorf("couldn't sync %s: %w", p.retractedPath(), err)
	}
	size := p.retractedLines + int64(len(added))
	if p.key != nil {
		cp, err := p.trees[retractedList].extend(p.key, added, size)
		if err != nil {
			return err
		}
		// durable.WriteFile fsyncs the directory too.
		if err := writeFileSync(p.checkpointPath(retractedList, size), cp); err != nil {
			return err
		}
		p.trees[retractedList].checkpoint = cp
	}
	p.retractedSize += int64(len(b))
	p.retractedLines = size
	p.snap.Store(p.snapshot())
	p.log.Info("published retracted votes", "votes", len(added), "total", size)
	return nil
}
