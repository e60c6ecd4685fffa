package publisher

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/powvote/powvote/audit"
	"github.com/powvote/powvote/internal/durable"
	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/published"
)

// stateFormat names the layout of the state file; a file of another
// layout is refused rather than guessed at.
const stateFormat = "powvote publisher state 2"

// state is the content of the state file: what is committed.
type state struct {
	Format   string      `json:"format"`
	Campaign string      `json:"campaign"`
	Epoch    string      `json:"epoch"`    // 16 hex digits, random; part of every ETag, so a list rebuilt from scratch never matches an old one
	Lines    int64       `json:"lines"`    // lines in each list
	Bytes    [2]int64    `json:"bytes"`    // committed size of the votes list and of the voters list
	History  int64       `json:"history"`  // committed size of the history file
	Modified int64       `json:"modified"` // Unix seconds of the last growth, or of the creation
	Cursors  [][2]uint64 `json:"cursors"`  // per pair and instance: the from= at which pulling resumes
	// Logs is, per pair and instance, the identity of the vote log the
	// cursor reads (the Log-Id a collector sends, docs/INTERNAL.md); ""
	// for none seen yet. A state written before it existed has none.
	Logs [][2]string `json:"logs,omitempty"`
	// Closed is the Unix time at which the campaign was closed (Finish),
	// 0 while it is open. Once it is set the lists, the keys file and the
	// archive never change again.
	Closed int64 `json:"closed,omitempty"`
}

// equal reports whether committing b after a would change nothing.
func (a *state) equal(b *state) bool {
	if a.Lines != b.Lines || a.Bytes != b.Bytes || a.History != b.History || a.Modified != b.Modified || a.Closed != b.Closed || len(a.Cursors) != len(b.Cursors) {
		return false
	}
	for i := range a.Cursors {
		if a.Cursors[i] != b.Cursors[i] {
			return false
		}
	}
	return slices.Equal(a.Logs, b.Logs)
}

// decodeState reads and checks a state file for a campaign of pairs pairs.
func decodeState(data []byte, campaign string, pairs int) (state, error) {
	var st state
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return state{}, err
	}
	switch {
	case st.Format != stateFormat:
		return state{}, fmt.Errorf("format %q, want %q", st.Format, stateFormat)
	case st.Campaign != campaign:
		return state{}, fmt.Errorf("written for campaign %q, not %q", st.Campaign, campaign)
	case len(st.Cursors) != pairs:
		return state{}, fmt.Errorf("written for %d pairs of collectors, the configuration has %d: a campaign's pairs never change", len(st.Cursors), pairs)
	case st.Logs != nil && len(st.Logs) != pairs:
		return state{}, fmt.Errorf("log identities for %d pairs of collectors, the configuration has %d", len(st.Logs), pairs)
	case len(st.Epoch) != 16:
		return state{}, fmt.Errorf("epoch %q is not 16 hex digits", st.Epoch)
	case st.Closed < 0:
		return state{}, fmt.Errorf("close time %d is negative", st.Closed)
	case st.History < 0:
		return state{}, fmt.Errorf("history size %d is negative", st.History)
	case st.Lines < 0 || st.Bytes[0] < 0 || st.Bytes[1] < 0 || (st.Lines == 0) != (st.Bytes[0] == 0) || (st.Lines == 0) != (st.Bytes[1] == 0):
		return state{}, fmt.Errorf("%d lines in %d and %d bytes do not add up", st.Lines, st.Bytes[0], st.Bytes[1])
	}
	if _, err := hex.DecodeString(st.Epoch); err != nil {
		return state{}, fmt.Errorf("epoch %q is not 16 hex digits", st.Epoch)
	}
	return st, nil
}

// listPath returns the file of list i.
func (p *Publisher) listPath(i int) string { return filepath.Join(p.cfg.Dir, p.paths[i][1:]) }

// open loads or creates the state, opens the lists, cuts what was not
// committed and reads them back into the published sets.
func (p *Publisher) open() error {
	data, err := os.ReadFile(p.state)
	switch {
	case err == nil:
		if p.st, err = decodeState(data, p.cfg.Campaign, len(p.cfg.Pairs)); err != nil {
			return fmt.Errorf("publisher: state %s: %w", p.state, err)
		}
	case errors.Is(err, fs.ErrNotExist):
		// Lists without a state have no known committed size: some of
		// their lines may never have been published, others may have
		// been downloaded. Neither cutting nor keeping them is safe.
		for i := range p.paths {
			if fi, err := os.Stat(p.listPath(i)); err == nil && fi.Size() > 0 {
				return fmt.Errorf("publisher: %s exists but %s does not: refusing to guess what was published: %w", p.listPath(i), p.state, ErrCorrupt)
			}
		}
		var epoch [8]byte
		if _, err := rand.Read(epoch[:]); err != nil {
			return fmt.Errorf("publisher: epoch: %w", err)
		}
		st := state{
			Format:   stateFormat,
			Campaign: p.cfg.Campaign,
			Epoch:    hex.EncodeToString(epoch[:]),
			Modified: p.cfg.Clock().Unix(),
			Cursors:  make([][2]uint64, len(p.cfg.Pairs)),
		}
		if err := p.writeState(&st); err != nil {
			return err
		}
		p.st = st
	default:
		return fmt.Errorf("publisher: couldn't read state: %w", err)
	}
	for i := range p.files {
		f, err := os.OpenFile(p.listPath(i), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("publisher: couldn't open list: %w", err)
		}
		p.files[i] = f
	}
	// A list just created must survive a crash as much as the state does.
	if err := syncDir(p.cfg.Dir); err != nil {
		return err
	}
	if p.key != nil {
		if err := p.openLogs(); err != nil {
			return err
		}
	}
	for i := range p.files {
		if err := p.recoverList(i); err != nil {
			return err
		}
	}
	if err := p.openRetracted(); err != nil {
		return err
	}
	if p.key != nil {
		if err := p.recoverLogs(); err != nil {
			return err
		}
	}
	return p.openClosed()
}

// Paths of the files of the logs. The hashes are the publisher's own,
// never published.
func (p *Publisher) hashPath(i int) string {
	return filepath.Join(p.cfg.Dir, p.cfg.Campaign+"-"+string(logLists[i])+".hashes")
}
func (p *Publisher) checkpointPath(i int, size int64) string {
	return filepath.Join(p.cfg.Dir, published.KeptCheckpointName(p.cfg.Campaign, logLists[i], size))
}

// checkpointName is the name of log i's latest checkpoint.
func (p *Publisher) checkpointName(i int) string {
	return published.CheckpointName(p.cfg.Campaign, logLists[i])
}

// logSize returns the committed number of lines of log i.
func (p *Publisher) logSize(i int) int64 {
	if i == retractedList {
		return p.retractedLines
	}
	return p.st.Lines
}
func (p *Publisher) historyPath() string {
	return filepath.Join(p.cfg.Dir, published.HistoryName(p.cfg.Campaign))
}

// openLogs opens the hash files and the history, and cuts the history to
// its committed size.
func (p *Publisher) openLogs() error {
	for i := range p.trees {
		f, err := os.OpenFile(p.hashPath(i), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("publisher: couldn't open hashes: %w", err)
		}
		p.trees[i].hashes = &hashStore{f: f, path: p.hashPath(i)}
	}
	f, err := os.OpenFile(p.historyPath(), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("publisher: couldn't open history: %w", err)
	}
	p.history = f
	if err := syncDir(p.cfg.Dir); err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("publisher: %w", err)
	}
	switch {
	case fi.Size() < p.st.History:
		return fmt.Errorf("publisher: %s is %d bytes but %d were published: %w", p.historyPath(), fi.Size(), p.st.History, ErrCorrupt)
	case fi.Size() > p.st.History:
		p.log.Warn("cutting history that was written but never published", "bytes", fi.Size()-p.st.History)
		if err := f.Truncate(p.st.History); err != nil {
			return fmt.Errorf("publisher: couldn't cut %s: %w", p.historyPath(), err)
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("publisher: couldn't sync %s: %w", p.historyPath(), err)
		}
	}
	return nil
}

// recoverLogs, once the lists are read back and their hashes complete,
// checks the latest checkpoint files against the trees (latestCheckpoint)
// and removes those that a crash left above the committed size.
func (p *Publisher) recoverLogs() error {
	for i := range p.trees {
		size := p.logSize(i)
		root, err := tlog.TreeHash(size, p.trees[i].hashes)
		if err != nil {
			return fmt.Errorf("publisher: tree of %s: %w", p.logPath(i), err)
		}
		cp, err := p.key.sign(p.trees[i].origin, size, root)
		if err != nil {
			return fmt.Errorf("publisher: %w", err)
		}
		if size > 0 {
			if cp, err = p.latestCheckpoint(i, root, cp); err != nil {
				return err
			}
		}
		p.trees[i].checkpoint = cp
	}
	entries, err := os.ReadDir(p.cfg.Dir)
	if err != nil {
		return fmt.Errorf("publisher: %w", err)
	}
	for _, e := range entries {
		l, size, ok := published.ParseKeptCheckpointName(p.cfg.Campaign, e.Name())
		if !ok {
			continue
		}
		for i := range logLists {
			if l == logLists[i] && size > p.logSize(i) {
				// Signed by a batch that crashed before its commit; no
				// client saw it, and the next batch may differ.
				p.log.Warn("removing a checkpoint that was written but never published", "file", e.Name())
				if err := os.Remove(filepath.Join(p.cfg.Dir, e.Name())); err != nil {
					return fmt.Errorf("publisher: %w", err)
				}
			}
		}
	}
	return nil
}

// logPath returns the file of log i: a list, or the retracted list.
func (p *Publisher) logPath(i int) string {
	if i == retractedList {
		return p.retractedPath()
	}
	return p.listPath(i)
}

// latestCheckpoint checks the checkpoint file of log i at its committed
// size against want, what the key signs today for its tree (root), and
// returns the checkpoint to serve as the latest.
//
// The same key over the same tree and settings signs the same bytes, so a
// file that differs was signed by another key, over other lists, or for
// other settings, and New refuses to start (ErrCorrupt), naming a change
// of settings, since the checkpoints committed to the settings the
// campaign was audited against. One difference is expected: a directory
// written before checkpoints carried the settings line. Its latest
// checkpoint, the same text without the line, is served as it stands (it
// is the file of its size, which clients may have kept, and a second
// checkpoint of one size would serve two texts for it); the checkpoints
// of the next batch carry the line.
//
// The retracted list has no committed size besides its complete lines: a
// crash between an append and its checkpoint leaves lines no client saw,
// whose checkpoint is signed now. So is the first checkpoint of a
// retracted list written before it had checkpoints.
func (p *Publisher) latestCheckpoint(i int, root tlog.Hash, want []byte) ([]byte, error) {
	size := p.logSize(i)
	path := p.checkpointPath(i, size)
	onDisk, err := os.ReadFile(path)
	if i == retractedList && errors.Is(err, fs.ErrNotExist) {
		if err := writeFileSync(path, want); err != nil {
			return nil, fmt.Errorf("publisher: %w", err)
		}
		return want, nil
	}
	if err != nil {
		return nil, fmt.Errorf("publisher: latest checkpoint: %w: %w", err, ErrCorrupt)
	}
	if string(onDisk) == string(want) {
		return want, nil
	}
	if p.key.settingsHash != "" {
		before, err := signCheckpoint(p.key.signer, p.trees[i].origin, size, root, "")
		if err != nil {
			return nil, fmt.Errorf("publisher: %w", err)
		}
		if string(onDisk) == string(before) {
			p.log.Warn("the latest checkpoint was signed before checkpoints carried the settings line: it is served as it is, and the next batch's checkpoints carry the line",
				"file", path)
			return onDisk, nil
		}
	}
	if v, err := note.NewVerifier(p.key.vkey); err == nil {
		cp, err := audit.OpenCheckpoint(onDisk, v)
		if err == nil && cp.Tree == (tlog.Tree{N: size, Hash: root}) && cp.Settings != p.key.settingsHash {
			was, now := "commits to settings with SHA-256 "+cp.Settings, "Config.Settings hash to "+p.key.settingsHash
			if cp.Settings == "" {
				was = "has no settings line"
			}
			if p.key.settingsHash == "" {
				now = "Config.Settings is not set"
			}
			return nil, fmt.Errorf("publisher: %s %s, but %s: the settings changed after the log signed them: %w", path, was, now, ErrCorrupt)
		}
	}
	return nil, fmt.Errorf("publisher: %s is not what LogKey signs for %s: %w", path, p.logPath(i), ErrCorrupt)
}

// recoverList cuts list i to its committed size and reads it back.
func (p *Publisher) recoverList(i int) error {
	f, path, committed := p.files[i], p.listPath(i), p.st.Bytes[i]
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("publisher: %w", err)
	}
	if fi.Size() < committed {
		return fmt.Errorf("publisher: %s is %d bytes but %d were published: %w", path, fi.Size(), committed, ErrCorrupt)
	}
	if fi.Size() > committed {
		// A round that crashed after writing the list and before
		// committing the state. No client saw these bytes.
		p.log.Warn("cutting lines that were written but never published", "list", path, "bytes", fi.Size()-committed)
		if err := f.Truncate(committed); err != nil {
			return fmt.Errorf("publisher: couldn't cut %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("publisher: couldn't sync %s: %w", path, err)
		}
	}
	var resume int64 // the first leaf whose stored hashes are missing
	if p.key != nil {
		if resume, err = p.trees[i].hashes.recover(p.st.Lines); err != nil {
			return err
		}
	}
	r := bufio.NewReaderSize(io.NewSectionReader(f, 0, committed), 64<<10)
	var n, offset int64
	for {
		line, err := r.ReadString('\n')
		if err == io.EOF {
			if line != "" {
				return fmt.Errorf("publisher: %s: the last line has no line feed: %w", path, ErrCorrupt)
			}
			break
		}
		if err != nil {
			return fmt.Errorf("publisher: couldn't read %s: %w", path, err)
		}
		p.trees[i].noteLeaf(n, offset)
		offset += int64(len(line))
		line = line[:len(line)-1]
		if p.key != nil && n >= resume {
			if err := p.trees[i].hashes.add(n, []byte(line)); err != nil {
				return fmt.Errorf("publisher: %w", err)
			}
		}
		n++
		if i == votesList {
			v, err := listline.ParseVote(line)
			if err != nil {
				return fmt.Errorf("publisher: %s line %d: %w: %w", path, n, ErrCorrupt, err)
			}
			k := keyOf(v.Nonce)
			if _, dup := p.publishedVotes[k]; dup {
				p.log.Error("a nonce stands twice in the votes list", "list", path, "line", n)
			}
			p.publishedVotes[k] = struct{}{}
			sk := stampKeyOf(v.Voter)
			if _, dup := p.publishedVotes[sk]; dup {
				p.log.Error("a voter stamp stands twice in the votes list", "list", path, "line", n)
			}
			p.publishedVotes[sk] = struct{}{}
			p.count(v.Option)
		} else {
			v, err := listline.ParseVoter(line)
			if err != nil {
				return fmt.Errorf("publisher: %s line %d: %w: %w", path, n, ErrCorrupt, err)
			}
			m := v.Mandate()
			if _, dup := p.publishedVoters[m]; dup {
				p.log.Error("a mandate stands twice in the voters list", "list", path, "line", n)
			}
			p.publishedVoters[m] = struct{}{}
		}
	}
	if n != p.st.Lines {
		return fmt.Errorf("publisher: %s has %d lines, the state says %d: %w", path, n, p.st.Lines, ErrCorrupt)
	}
	if p.key != nil {
		if len(p.trees[i].hashes.pending) > 0 {
			p.log.Warn("recomputing hashes that were not written", "list", path, "from_leaf", resume)
		}
		if err := p.trees[i].hashes.commit(); err != nil {
			return fmt.Errorf("publisher: %w", err)
		}
	}
	return nil
}

// count adds a published vote for option o to the counts of the history.
func (p *Publisher) count(o string) {
	if len(p.cfg.Options) == 0 {
		return
	}
	i, ok := p.options[o]
	if !ok {
		// The collectors accept only the ballot's options: the list
		// and the configuration disagree.
		p.anomalies++
		p.log.Error("a published vote is for an option not on the ballot; the history does not count it", "option", o)
		return
	}
	p.counts[i]++
}

// appendList writes b at the committed end of list i and fsyncs. Writing
// at an offset rather than appending means bytes left by an earlier
// failed attempt are overwritten, not built upon.
func (p *Publisher) appendList(i int, b []byte) error {
	if _, err := p.files[i].WriteAt(b, p.st.Bytes[i]); err != nil {
		return fmt.Errorf("couldn't write %s: %w", p.listPath(i), err)
	}
	if err := p.files[i].Sync(); err != nil {
		return fmt.Errorf("couldn't sync %s: %w", p.listPath(i), err)
	}
	return nil
}

// writeState replaces the state file atomically and durably.
func (p *Publisher) writeState(st *state) error {
	data, err := json.MarshalIndent(st, "", "\t")
	if err != nil {
		return fmt.Errorf("publisher: encode state: %w", err)
	}
	data = append(data, '\n')
	if err := durable.WriteFile(p.state, data, 0o644); err != nil {
		return fmt.Errorf("publisher: %w", err)
	}
	return nil
}

// syncDir makes the directory entries of dir durable.
func syncDir(dir string) error {
	if err := durable.SyncDir(dir); err != nil {
		return fmt.Errorf("publisher: %w", err)
	}
	return nil
}

// snapshot returns what handlers serve for the committed state.
func (p *Publisher) snapshot() *snapshot {
	s := &snapshot{
		size:     [4]int64{p.st.Bytes[0], p.st.Bytes[1], p.retractedSize, p.st.History},
		modified: time.Unix(p.st.Modified, 0),
		lines:    [3]int64{p.st.Lines, p.st.Lines, p.retractedLines},
	}
	for i := range s.etag {
		s.etag[i] = fmt.Sprintf(`"%s-%d"`, p.st.Epoch, s.size[i])
	}
	if p.st.Closed != 0 {
		s.closed = &closedFiles{at: time.Unix(p.st.Closed, 0), keys: p.keysText, archive: p.archive, size: p.archiveSize,
			etag: fmt.Sprintf(`"%s-archive-%d"`, p.st.Epoch, p.archiveSize)}
	}
	for i, l := range p.trees {
		s.tileStart[i] = l.tileStart[:len(l.tileStart):len(l.tileStart)]
		s.checkpoint[i] = l.checkpoint
		if p.key != nil {
			s.hashes[i] = l.hashes.n
		}
	}
	return s
}

// writeFileSync replaces path with data atomically and durably, with mode
// 0644 (durable.WriteFile); it fsyncs the directory too.
func writeFileSync(path string, data []byte) error {
	return durable.WriteFile(path, data, 0o644)
}
