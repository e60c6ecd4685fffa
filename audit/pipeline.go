package audit

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/pow"
	"github.com/powvote/powvote/sigbatch"
	"github.com/powvote/powvote/stamp"
)

const (
	// readBuffer is the bufio buffer, and so the longest line read whole. A
	// valid line is at most a few hundred bytes (options are at most 200
	// bytes); anything longer than this is reported without being kept.
	readBuffer = 1 << 20
	// batchLines and batchBytes bound a batch: big enough that handing it
	// to a worker costs nothing next to verifying it, small enough that
	// every worker gets several batches of a small list.
	batchLines = 1024
	batchBytes = 256 << 10
)

// Line flags the reader sets.
const (
	flagNoLF    = 1 << iota // the last line of the list has no '\n'
	flagTooLong             // longer than readBuffer: only its hash was kept
)

// nonceKey is a nonce's length then its bytes, so nonces of different
// lengths never collide.
type nonceKey [1 + pow.MaxNonce]byte

// stampKey is a voter stamp's 32 Crockford symbols packed 5 bits each: the
// parser only lets through upper-case symbols and dashes in fixed places,
// so this is one-to-one and half the size of the text.
type stampKey [20]byte

type mandateKey = listline.Mandate

type voteRec struct {
	ok     bool  // well formed: the fields below are set
	option int16 // ballot index, -1 if not on the ballot
	score  int16
	nonce  nonceKey
	stamp  stampKey
}

type voterRec struct {
	ok      bool
	mandate mandateKey
}

// finding is a failure a worker found on one line.
type finding struct {
	line  int
	check string
	msg   string
}

// batch is a run of consecutive lines of one list. The reader fills it,
// one worker verifies it, then the list's goroutine merges it and hands it
// back to the reader; it is reused, so its slices keep their capacity.
type batch struct {
	list   *list
	first  int               // line number of the first line
	raw    []byte            // the lines without their '\n', back to back
	text   string            // raw as one string, so lines are substrings
	ends   []int             // ends[i] is the end of line i in text
	flags  []uint8           // per line
	long   map[int]tlog.Hash // leaf hashes of lines too long to keep, by index
	bytes  int64             // bytes read, line feeds included
	leaves []tlog.Hash
	votes  []voteRec
	voters []voterRec
	fails  []finding // ascending by line
	done   chan struct{}

	// The mandates of a batch of voters, verified together once every
	// line is read (sigbatch): parsed holds the lines' values, sigs their
	// signatures in line order, sigLines the line of each.
	parsed   []listline.Voter
	sigs     []sigbatch.Entry
	sigLines []int
	sigOK    []bool
	// The votes of a batch of votes, parsed first and checked once their
	// platform stamps are verified together; stampOK[i] is true when line
	// i's stamp is known to be UTC-SIGN's.
	pvotes  []listline.Vote
	stampOK []bool
}

func (b *batch) reset(l *list, first int) {
	b.list, b.first = l, first
	b.raw, b.ends, b.flags, b.fails = b.raw[:0], b.ends[:0], b.flags[:0], b.fails[:0]
	b.sigs, b.sigLines = b.sigs[:0], b.sigLines[:0]
	b.long = nil
	b.bytes = 0
	b.done = make(chan struct{})
}

func (b *batch) full() bool { return len(b.ends) >= batchLines || len(b.raw) >= batchBytes }

func (b *batch) fail(ln int, check, msg string) {
	b.fails = append(b.fails, finding{line: ln, check: check, msg: msg})
}

// scan reads l.r into batches, sends them to the workers and merges them
// back in order. It returns when the list is read and merged, or on the
// first read error.
func (a *auditor) scan(ctx context.Context, l *list, work chan<- *batch) error {
	// One batch per worker, and as many again being read or merged, keeps
	// every worker busy without holding the whole list in memory.
	n := 2*a.workers + 2
	free := make(chan *batch, n)
	for range n {
		free <- new(batch)
	}
	order := make(chan *batch, n)
	readErr := make(chan error, 1)
	go func() {
		defer close(order)
		readErr <- read(ctx, l, free, order, work)
	}()
	for b := range order {
		<-b.done
		l.merge(b, len(a.settings.Options))
		a.advance(b.bytes)
		free <- b
	}
	return <-readErr
}

// read splits r into lines and batches. Each batch goes to order first,
// so that the merging goroutine waits for batches in line order, then to a
// worker.
func read(ctx context.Context, l *list, free <-chan *batch, order, work chan<- *batch) error {
	br := bufio.NewReaderSize(l.r, readBuffer)
	ln := 1
	var b *batch
	send := func() {
		b.text = string(b.raw)
		order <- b
		work <- b
		b = nil
	}
	for {
		line, err := br.ReadSlice('\n')
		size := int64(len(line))
		var flags uint8
		var long tlog.Hash
		if errors.Is(err, bufio.ErrBufferFull) {
			// Hash the whole line for the tree, but keep none of it.
			flags |= flagTooLong
			h := sha256.New()
			h.Write([]byte{0})
			for errors.Is(err, bufio.ErrBufferFull) {
				h.Write(line)
				line, err = br.ReadSlice('\n')
				size += int64(len(line))
			}
			if err == nil {
				line = line[:len(line)-1]
			}
			h.Write(line)
			h.Sum(long[:0])
			line = nil
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("line %d: %w", ln, err)
		}
		if size == 0 {
			break // end of the list, after its last '\n'
		}
		if err == io.EOF {
			flags |= flagNoLF
		} else if flags&flagTooLong == 0 {
			line = line[:len(line)-1]
		}
		if b == nil {
			select {
			case b = <-free:
			case <-ctx.Done():
				return ctx.Err()
			}
			b.reset(l, ln)
		}
		if flags&flagTooLong != 0 {
			if b.long == nil {
				b.long = make(map[int]tlog.Hash)
			}
			b.long[len(b.ends)] = long
		}
		b.raw = append(b.raw, line...)
		b.ends = append(b.ends, len(b.raw))
		b.flags = append(b.flags, flags)
		b.bytes += size
		ln++
		if b.full() {
			send()
		}
		if err == io.EOF {
			break
		}
	}
	if b != nil {
		send()
	}
	return nil
}

// verify checks every line of a batch on its own; it runs on a worker.
func (a *auditor) verify(b *batch) {
	n := len(b.ends)
	b.leaves = grow(b.leaves, n)
	switch b.list.kind {
	case voteList:
		b.votes = grow(b.votes, n)
		// Sized before any line is read: sigs point into it.
		b.pvotes = grow(b.pvotes, n)
	case authList:
		b.voters = grow(b.voters, n)
		// Sized before any line is read: sigs point into it.
		b.parsed = grow(b.parsed, n)
	}
	start := 0
	for i, end := range b.ends {
		line := b.text[start:end]
		start = end
		ln := b.first + i
		if h, ok := b.long[i]; ok {
			b.leaves[i] = h
		} else {
			b.leaves[i] = leafHash(line)
		}
		switch b.list.kind {
		case voteList:
			a.parseVote(b, &b.votes[i], &b.pvotes[i], ln, b.flags[i], line)
		case authList:
			a.verifyVoter(b, &b.voters[i], &b.parsed[i], ln, b.flags[i], line)
		}
	}
	switch b.list.kind {
	case voteList:
		a.checkVotes(b)
	case authList:
		a.verifyMandates(b)
	}
}

// checkVotes makes the checks of each well-formed vote of a batch, after
// verifying their platform stamps together (sigbatch: the decisions are
// crypto/ed25519's). A stamp the batch does not show genuine is checked
// on its own, which tells a decoy from a forgery.
func (a *auditor) checkVotes(b *batch) {
	b.stampOK = grow(b.stampOK, len(b.votes))
	clear(b.stampOK)
	if sc := a.stamps; sc != nil && sc.utcSign != nil {
		b.sigs, b.sigLines = b.sigs[:0], b.sigLines[:0]
		for i := range b.votes {
			if b.votes[i].ok {
				v := &b.pvotes[i]
				b.sigs = append(b.sigs, sigbatch.Entry{Key: sc.utcSign, Msg: []byte(v.PUTC), Sig: v.PSig[:]})
				b.sigLines = append(b.sigLines, i)
			}
		}
		b.sigOK = grow(b.sigOK, len(b.sigs))
		sc.batch.Verify(b.sigs, b.sigOK)
		for j, ok := range b.sigOK {
			b.stampOK[b.sigLines[j]] = ok
		}
	}
	before := len(b.fails)
	for i := range b.votes {
		rec := &b.votes[i]
		if !rec.ok {
			continue
		}
		ln := b.first + i
		v := b.pvotes[i]
		option, score := a.voteChecks(v, b.stampOK[i], func(check, msg string) { b.fail(ln, check, msg) })
		rec.option, rec.score = int16(option), int16(score)
		rec.nonce[0] = byte(len(v.Nonce))
		copy(rec.nonce[1:], v.Nonce)
		rec.stamp = packStamp(v.Voter)
	}
	if before > 0 && len(b.fails) > before {
		// Format findings of the parse stand before; each line's own
		// findings keep their order.
		slices.SortStableFunc(b.fails, func(x, y finding) int { return x.line - y.line })
	}
}

// verifyMandates verifies the signatures of a batch's mandates together:
// sigbatch decides each as crypto/ed25519 does, in a quarter of the time
// when (as in an honest list) all are valid.
func (a *auditor) verifyMandates(b *batch) {
	b.sigOK = grow(b.sigOK, len(b.sigs))
	a.sigs.Verify(b.sigs, b.sigOK)
	failed := false
	for j, ok := range b.sigOK {
		if !ok {
			b.fail(b.sigLines[j], CheckMandateSignature, "auth-sig does not verify over auth-id under auth-pkey")
			failed = true
		}
	}
	if failed {
		// Each line's own findings stay in the order they were found, the
		// signature's last, as when it was checked with the line.
		slices.SortStableFunc(b.fails, func(x, y finding) int { return x.line - y.line })
	}
}

// parseVote reads one line of the votes list into parsed; checkVotes makes
// its checks.
func (a *auditor) parseVote(b *batch, rec *voteRec, parsed *listline.Vote, ln int, flags uint8, line string) {
	*rec = voteRec{option: -1}
	if flags != 0 {
		b.fail(ln, CheckVoteFormat, flagMessage(flags))
		if flags&flagTooLong != 0 {
			return
		}
	}
	v, err := listline.ParseVote(line)
	if err != nil {
		if flags == 0 {
			b.fail(ln, CheckVoteFormat, err.Error())
		}
		return
	}
	rec.ok = true
	*parsed = v
}

func (a *auditor) verifyVoter(b *batch, rec *voterRec, parsed *listline.Voter, ln int, flags uint8, line string) {
	*rec = voterRec{}
	if flags != 0 {
		b.fail(ln, CheckAuthFormat, flagMessage(flags))
		if flags&flagTooLong != 0 {
			return
		}
	}
	v, err := listline.ParseVoter(line)
	if err != nil {
		if flags == 0 {
			b.fail(ln, CheckAuthFormat, err.Error())
		}
		return
	}
	rec.ok = true
	if _, ok := a.authorities[v.Pkey]; !ok {
		b.fail(ln, CheckAuthority, "auth-pkey is not an authority of the campaign")
	}
	// Checked even for an unknown authority (verifyMandates): a forged
	// signature is worth reporting on its own.
	*parsed = v
	b.sigs = append(b.sigs, sigbatch.Entry{Key: parsed.Pkey[:], Msg: parsed.ID[:], Sig: parsed.Sig[:]})
	b.sigLines = append(b.sigLines, ln)
	rec.mandate = v.Mandate()
}

func flagMessage(flags uint8) string {
	if flags&flagTooLong != 0 {
		return fmt.Sprintf("longer than %d bytes", readBuffer)
	}
	return "the last line has no line feed"
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// stampTime reads a P-UTC that the parser accepted.
func stampTime(putc string) (int64, error) { return stamp.ParsePUTC(putc) }

// voteScore is the score of a vote's proof of work. Score rather than
// pow.Verify: the parser already bounded the nonce, and the score is
// wanted even when it passes.
func voteScore(v listline.Vote) int { return pow.Score(pow.Digest(v.Work(), v.Nonce)) }

// leafHash is tlog.RecordHash of the line, without allocating for lines of
// ordinary length.
func leafHash(line string) tlog.Hash {
	var buf [1 + 511]byte
	if len(line) < len(buf) {
		m := append(buf[:1], line...)
		return sha256.Sum256(m)
	}
	h := sha256.New()
	h.Write([]byte{0})
	io.WriteString(h, line)
	var out tlog.Hash
	h.Sum(out[:0])
	return out
}

// crockford maps an upper-case Crockford symbol to its value.
var crockford = func() (t [256]byte) {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// packStamp packs a voter stamp that listline.ParseVote accepted.
func packStamp(s string) stampKey {
	var k stampKey
	bit := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '-' {
			continue
		}
		v := uint16(crockford[s[i]]) << 11 >> (bit % 8) // 5 bits, placed at bit
		k[bit/8] |= byte(v >> 8)
		if bit/8+1 < len(k) {
			k[bit/8+1] |= byte(v)
		}
		bit += 5
	}
	return k
}
