package publisher

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/powvote/powvote/published"
)

// Names of the files of a closed campaign, in Config.Dir and as served.
func (p *Publisher) keysPath() string {
	return filepath.Join(p.cfg.Dir, published.KeysName(p.cfg.Campaign))
}
func (p *Publisher) archivePath() string {
	return filepath.Join(p.cfg.Dir, published.ArchiveName(p.cfg.Campaign))
}

// Ended reports whether the clock is past Config.End plus
// Config.CloseDelay: no collector accepts a vote any more, and once the
// twins have exchanged what they hold the campaign can be closed. False
// when End is zero. Until the close, rounds keep a batch back (batchLen),
// after End as before it: votes stamped before the end still come in.
func (p *Publisher) Ended() bool {
	return !p.cfg.End.IsZero() && p.cfg.Clock().After(p.cfg.End.Add(p.cfg.CloseDelay))
}

// Finish closes the campaign: it runs a last round that publishes
// whatever is final (Flush), at least Config.BatchSize of each whenever
// a batch was published before or the campaign had that many votes
// (batchLen), then publishes the keys file
// and the archive, and records the close in the state. From then on the
// lists never change, rounds do nothing, and a restart serves the same
// files. A vote that was still pending (held by one instance of its pair
// only, or in conflict) is never published: Run closes on its own only
// once every collector answered and nothing is pending, and Finish is
// for the operator who decides not to wait (an instance lost for good).
// Calling it again is harmless. The collectors' errors of the last
// round are logged, not returned: the close does not depend on them.
func (p *Publisher) Finish(ctx context.Context) error {
	p.roundMu.Lock()
	defer p.roundMu.Unlock()
	defer p.updateGaugesLocked()
	if p.st.Closed != 0 && !p.closed {
		return nil
	}
	if err := p.flushLocked(ctx); err != nil {
		if errors.Is(err, ErrClosed) || errors.Is(err, ErrFailed) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("publisher: finish: %w", err)
		}
		p.log.Warn("closing although a collector did not answer the last round", "err", err)
	}
	if p.st.Closed != 0 {
		return nil // the last round closed it on its own
	}
	return p.closeLocked()
}

// settledLocked reports whether nothing can become final any more from
// what the pairs showed: no vote pending and no final vote or voter
// waiting for a batch.
func (p *Publisher) settledLocked() bool {
	return p.ready() == 0 && p.pendingLocked() == 0
}

// pendingLocked counts the votes seen on one instance of their pair only,
// or in conflict: votes that may still become final, or never will.
func (p *Publisher) pendingLocked() int {
	n := 0
	for _, ps := range p.pairs {
		for _, pv := range ps.pending {
			if !pv.queued {
				n++
			}
		}
	}
	return n
}

// closeLocked writes the keys file and the archive, makes them durable,
// then records the close in the state: only then are they served. A
// crash before the state is written leaves files no client saw, which
// New removes and the next close writes again.
func (p *Publisher) closeLocked() error {
	if held := len(p.voteQueue) + len(p.voterQueue); held > 0 {
		// Votes without voters or the reverse: only anomalies (logged
		// when they happened) leave the queues unequal.
		p.log.Error("closing with final votes or voters that have no counterpart; they stay unpublished", "votes", len(p.voteQueue), "voters", len(p.voterQueue))
	}
	if pending := p.pendingLocked(); pending > 0 {
		p.log.Error("closing with votes held by one instance of their pair only or in conflict; they stay unpublished", "votes", pending)
	}
	held := 0
	for _, ps := range p.pairs {
		held += len(ps.held)
	}
	if held > 0 {
		p.log.Error("closing with retractions whose winning vote was never published; they stay out of the retracted list", "retractions", held)
	}
	fail := func(err error) error {
		p.failed = fmt.Errorf("%w: close: %w", ErrFailed, err)
		p.log.Error("publishing stopped", "err", err)
		return p.failed
	}
	next := p.st
	next.Cursors = slices.Clone(p.st.Cursors)
	next.Logs = slices.Clone(p.st.Logs)
	// Never before the lists' Last-Modified, so that the archive's times
	// do not go back even if the clock did.
	next.Closed = max(p.cfg.Clock().Unix(), p.st.Modified)
	keys := p.keysFile()
	if err := writeFileSync(p.keysPath(), keys); err != nil {
		return fail(err)
	}
	if err := p.writeArchive(keys, time.Unix(next.Closed, 0)); err != nil {
		return fail(err)
	}
	if err := syncDir(p.cfg.Dir); err != nil {
		return fail(err)
	}
	f, err := os.Open(p.archivePath())
	if err != nil {
		return fail(err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fail(err)
	}
	if err := p.writeState(&next); err != nil {
		f.Close()
		return fail(err)
	}
	p.st = next
	p.keysText, p.archive, p.archiveSize = keys, f, fi.Size()
	p.snap.Store(p.snapshot())
	p.log.Info("campaign closed", "lines", p.st.Lines, "archive_bytes", p.archiveSize)
	return nil
}

// keysFile is the content of C-keys.txt: one key a line, a word and the
// key, for the keys Config holds, in this order:
//
//	utc-sign <base64 of the UTC-SIGN Ed25519 public key>
//	utc-hole <base64 of the UTC-HOLE Ed25519 public key>
//	receipt <base64 of the receipt Ed25519 public key>
//	log <note verifier key of the checkpoints>
func (p *Publisher) keysFile() []byte {
	var b strings.Builder
	for _, k := range []struct {
		word string
		key  []byte
	}{{"utc-sign", p.cfg.UTCSignPub}, {"utc-hole", p.cfg.UTCHolePub}, {"receipt", p.cfg.ReceiptPub}} {
		if k.key != nil {
			b.WriteString(k.word + " " + base64.StdEncoding.EncodeToString(k.key) + "\n")
		}
	}
	if p.key != nil {
		b.WriteString("log " + p.key.vkey + "\n")
	}
	return []byte(b.String())
}

// archiveMember is one file of the archive: its name and where its bytes
// come from.
type archiveMember struct {
	name string
	r    io.Reader
	size int64
}

// writeArchive writes C-archive.tar.gz: a folder C/ holding everything an
// auditor needs offline, with the committed bytes of every file. All
// members carry the close time, so the archive says nothing about when
// the publisher wrote it.
func (p *Publisher) writeArchive(keys []byte, at time.Time) error {
	c := p.cfg.Campaign
	section := func(name string, f *os.File, size int64) archiveMember {
		return archiveMember{name, io.NewSectionReader(f, 0, size), size}
	}
	small := func(name string, b []byte) archiveMember {
		return archiveMember{name, strings.NewReader(string(b)), int64(len(b))}
	}
	members := []archiveMember{
		section(published.LogName(c, published.Vote), p.files[votesList], p.st.Bytes[votesList]),
		section(published.LogName(c, published.Auth), p.files[votersList], p.st.Bytes[votersList]),
		section(published.LogName(c, published.Retracted), p.retracted, p.retractedSize),
		small(published.KeysName(c), keys),
	}
	if p.cfg.Settings != nil {
		members = append(members, small(published.SettingsName(c), p.cfg.Settings))
	}
	if p.key != nil {
		members = append(members,
			section(published.HistoryName(c), p.history, p.st.History),
			small(published.LogKeyName(c), []byte(p.key.vkey+"\n")))
		for i := range logLists {
			members = append(members, small(p.checkpointName(i), p.trees[i].checkpoint))
			sizes, err := p.checkpointSizes(i)
			if err != nil {
				return err
			}
			for _, n := range sizes {
				b, err := os.ReadFile(p.checkpointPath(i, n))
				if err != nil {
					return fmt.Errorf("archive: %w", err)
				}
				members = append(members, small(filepath.Base(p.checkpointPath(i, n)), b))
			}
		}
	}

	f, err := os.OpenFile(p.archivePath(), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("couldn't create %s: %w", p.archivePath(), err)
	}
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	err = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: c + "/", Mode: 0o755, ModTime: at, Format: tar.FormatPAX})
	for _, m := range members {
		if err != nil {
			break
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: c + "/" + m.name, Mode: 0o644, Size: m.size, ModTime: at, Format: tar.FormatPAX}
		if err = tw.WriteHeader(hdr); err == nil {
			var n int64
			if n, err = io.Copy(tw, m.r); err == nil && n != m.size {
				err = fmt.Errorf("%s: read %d bytes, want %d", m.name, n, m.size)
			}
		}
	}
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = zw.Close()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("couldn't write %s: %w", p.archivePath(), err)
	}
	return nil
}

// checkpointSizes lists, in increasing order, the sizes at which log i
// has a checkpoint file, up to the committed size.
func (p *Publisher) checkpointSizes(i int) ([]int64, error) {
	entries, err := os.ReadDir(p.cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	var sizes []int64
	for _, e := range entries {
		if l, n, ok := published.ParseKeptCheckpointName(p.cfg.Campaign, e.Name()); ok && l == logLists[i] && n > 0 && n <= p.logSize(i) {
			sizes = append(sizes, n)
		}
	}
	slices.Sort(sizes)
	return sizes, nil
}

// openClosed, at start, loads the keys file and the archive of a closed
// campaign, or removes those a close that crashed before its commit left.
func (p *Publisher) openClosed() error {
	if p.st.Closed == 0 {
		for _, path := range []string{p.keysPath(), p.archivePath()} {
			if err := os.Remove(path); err == nil {
				p.log.Warn("removing a file of a close that was never committed", "file", path)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("publisher: %w", err)
			}
		}
		return nil
	}
	keys, err := os.ReadFile(p.keysPath())
	if err != nil {
		return fmt.Errorf("publisher: the campaign is closed but its keys file is missing: %w: %w", err, ErrCorrupt)
	}
	if want := p.keysFile(); string(keys) != string(want) {
		// Served as it was at the close; the configuration is what changed.
		p.log.Error("the keys given differ from those published at the close; serving the published ones", "file", p.keysPath())
	}
	f, err := os.Open(p.archivePath())
	if err != nil {
		return fmt.Errorf("publisher: the campaign is closed but its archive is missing: %w: %w", err, ErrCorrupt)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("publisher: %w", err)
	}
	p.keysText, p.archive, p.archiveSize = keys, f, fi.Size()
	return nil
}
