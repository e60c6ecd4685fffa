package collector

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/collector/internal/store"
)

// A snapshot is an instance's complete state at one moment, as its twin
// copies it to replace an instance whose disk is lost (Rebuild) and as a
// backup takes it (Backup): GET /snapshot, docs/INTERNAL.md. Its body is
// lines of text:
//
//	powvote collector snapshot 1
//	campaign <name>
//	instance <n>
//	log <log id>
//	counts <seq> <twin> <index> <voters> <votes> <links>
//	r <index> <live> r<given>=<decoys> <record>        one per vote record, in index order
//	l <seq> <retracted> <index> <voter line> <vote line>   one per link held, by seq
//	v <voter line>                                     one per voter, in key order
//	end <records sha256> <links sha256> <voters sha256>
//
// n is the instance that answers; the counts are its last own sequence
// number, its twin cursor, its last vote record index, its voter records,
// its vote records that no retraction withdrew and its links held (each
// section has exactly that many lines). A record line carries votes.log's
// record (a vote line or a retraction, listline) after the receipt kept
// with it (as /sync writes it) and whether no retraction withdrew it (1 or
// 0; always 0 for a retraction). Each hash is SHA-256 of its section's
// lines as sent, line feeds included, in lower-case hex. The sections are
// what the instance's disk holds: the vote records and the voters, which
// no order links, and the links still held for the twin, which the twin
// may pull over /sync anyway; nothing the instance has let go.

const snapshotMagic = "powvote collector snapshot 1"

// maxSnapshotLine bounds one line: a record is at most about 430 bytes
// and its receipt at most 4096.
const maxSnapshotLine = 16 << 10

// snapshotHeader is the head of a snapshot.
type snapshotHeader struct {
	campaign string
	instance int
	info     store.SnapshotInfo
}

// snapshotDigest is the hashes of a snapshot's three sections.
type snapshotDigest struct {
	records, links, voters [sha256.Size]byte
}

func (d snapshotDigest) String() string {
	return hex.EncodeToString(d.records[:]) + " " + hex.EncodeToString(d.links[:]) + " " + hex.EncodeToString(d.voters[:])
}

// section hashes the lines of one section and counts them.
type section struct {
	h hash.Hash
	n uint64
}

func newSection() *section { return &section{h: sha256.New()} }

func (s *section) add(line []byte) {
	s.h.Write(line)
	s.n++
}

func (s *section) sum() (out [sha256.Size]byte) {
	copy(out[:], s.h.Sum(nil))
	return out
}

// writeSnapshot writes sn as a snapshot of instance n of campaign name and
// returns its digest. tick is called every few thousand lines (the server
// pushes its write deadline on).
func writeSnapshot(w io.Writer, sn *store.Snapshot, name string, n int, tick func()) (snapshotDigest, error) {
	in := sn.Info()
	bw := bufio.NewWriterSize(w, 64<<10)
	fmt.Fprintf(bw, "%s\ncampaign %s\ninstance %d\nlog %s\ncounts %d %d %d %d %d %d\n",
		snapshotMagic, name, n, in.LogID, in.Seq, in.Twin, in.Index, in.Voters, in.Votes, in.Links)
	var line []byte
	emit := func(sec *section) error {
		sec.add(line)
		if sec.n%4096 == 0 && tick != nil {
			tick()
		}
		_, err := bw.Write(line)
		return err
	}
	recs, links, voters := newSection(), newSection(), newSection()
	err := sn.Records(func(r store.SnapRecord) error {
		line = appendRecordLine(line[:0], r)
		return emit(recs)
	})
	if err == nil {
		err = sn.Links(func(l store.SnapLink) error {
			line = appendLinkLine(line[:0], l)
			return emit(links)
		})
	}
	if err == nil {
		err = sn.Voters(func(v store.Voter) error {
			line = append(append(append(line[:0], "v "...), v.Line()...), '\n')
			return emit(voters)
		})
	}
	if err != nil {
		return snapshotDigest{}, fmt.Errorf("collector: snapshot: %w", err)
	}
	d := snapshotDigest{records: recs.sum(), links: links.sum(), voters: voters.sum()}
	fmt.Fprintf(bw, "end %s\n", d)
	if err := bw.Flush(); err != nil {
		return snapshotDigest{}, fmt.Errorf("collector: snapshot: %w", err)
	}
	return d, nil
}

func appendRecordLine(b []byte, r store.SnapRecord) []byte {
	live, given := "0", "0"
	if r.Live {
		live = "1"
	}
	if r.Receipt.Given {
		given = "1"
	}
	b = append(b, "r "...)
	b = strconv.AppendUint(b, r.Index, 10)
	b = append(b, ' ')
	b = append(b, live...)
	b = append(b, " r"...)
	b = append(b, given...)
	b = append(b, '=')
	b = append(b, r.Receipt.Decoys...)
	b = append(b, ' ')
	b = append(b, r.Payload...)
	return append(b, '\n')
}

func appendLinkLine(b []byte, l store.SnapLink) []byte {
	retracted := "0"
	if l.Retracted {
		retracted = "1"
	}
	return fmt.Appendf(b, "l %d %s %d %s %s\n", l.Seq, retracted, l.Index, l.Voter.Line(), l.Vote.Line())
}

// snapshotSink takes a snapshot's content as readSnapshot parses it, in
// the order of the sections (store.Builder).
type snapshotSink interface {
	Record(store.SnapRecord) error
	Link(store.SnapLink) error
	Voter(store.Voter) error
}

// readSnapshot parses a snapshot from r. It calls start with the header,
// which returns where the content goes, then hands it every line's
// content, and finally checks each section's count against the header and
// its hash against the end line: a snapshot changed in transit, cut
// short or padded is refused. It returns the digest it computed.
func readSnapshot(r io.Reader, start func(snapshotHeader) (snapshotSink, error)) (snapshotDigest, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxSnapshotLine)
	n := 0
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		n++
		return sc.Text(), true
	}
	bad := func(format string, args ...any) (snapshotDigest, error) {
		return snapshotDigest{}, fmt.Errorf("collector: snapshot line %d: %s", n, fmt.Sprintf(format, args...))
	}
	var h snapshotHeader
	var counts [6]uint64
	for i, want := range []string{"", "campaign ", "instance ", "log ", "counts "} {
		l, ok := next()
		if !ok {
			return snapshotDigest{}, snapshotEOF(sc.Err())
		}
		if i == 0 {
			if l != snapshotMagic {
				return bad("not a snapshot of this release: %.40q", l)
			}
			continue
		}
		v, ok := strings.CutPrefix(l, want)
		if !ok {
			return bad("want %q", strings.TrimSpace(want))
		}
		switch i {
		case 1:
			h.campaign = v
		case 2:
			x, err := parseDecimal(v)
			if err != nil || x > 1<<30 {
				return bad("instance %.20q", v)
			}
			h.instance = int(x)
		case 3:
			if _, err := hex.DecodeString(v); err != nil || len(v) != 32 {
				return bad("log id %.40q", v)
			}
			h.info.LogID = v
		case 4:
			f := strings.Split(v, " ")
			if len(f) != len(counts) {
				return bad("counts: %d fields, want %d", len(f), len(counts))
			}
			for j := range f {
				x, err := parseDecimal(f[j])
				if err != nil {
					return bad("counts: %v", err)
				}
				counts[j] = x
			}
		}
	}
	h.info.Seq, h.info.Twin, h.info.Index, h.info.Voters, h.info.Votes, h.info.Links =
		counts[0], counts[1], counts[2], counts[3], counts[4], counts[5]
	sink, err := start(h)
	if err != nil {
		return snapshotDigest{}, err
	}
	recs, links, voters := newSection(), newSection(), newSection()
	var raw []byte
	for {
		l, ok := next()
		if !ok {
			return snapshotDigest{}, snapshotEOF(sc.Err())
		}
		raw = append(append(raw[:0], l...), '\n')
		kind, rest, _ := strings.Cut(l, " ")
		switch {
		case kind == "r" && links.n == 0 && voters.n == 0:
			rec, err := parseRecordLine(rest)
			if err != nil {
				return bad("%v", err)
			}
			recs.add(raw)
			if err := sink.Record(rec); err != nil {
				return snapshotDigest{}, err
			}
		case kind == "l" && voters.n == 0:
			lk, err := parseLinkLine(rest)
			if err != nil {
				return bad("%v", err)
			}
			links.add(raw)
			if err := sink.Link(lk); err != nil {
				return snapshotDigest{}, err
			}
		case kind == "v":
			v, err := store.ParseVoterLine(rest)
			if err != nil {
				return bad("%v", err)
			}
			voters.add(raw)
			if err := sink.Voter(v); err != nil {
				return snapshotDigest{}, err
			}
		case kind == "end":
			d := snapshotDigest{records: recs.sum(), links: links.sum(), voters: voters.sum()}
			switch {
			case recs.n != h.info.Index || links.n != h.info.Links || voters.n != h.info.Voters:
				return bad("%d records, %d links and %d voters; the counts say %d, %d and %d",
					recs.n, links.n, voters.n, h.info.Index, h.info.Links, h.info.Voters)
			case rest != d.String():
				return bad("the content's hashes are %s; the twin sent %.200s: changed in transit", d, rest)
			}
			if _, more := next(); more {
				return bad("lines after the end")
			}
			return d, sc.Err()
		default:
			return bad("unexpected %.20q", kind)
		}
	}
}

// snapshotEOF is the error of a snapshot that ends before its end line.
func snapshotEOF(err error) error {
	if err != nil {
		return fmt.Errorf("collector: snapshot: %w", err)
	}
	return errors.New("collector: snapshot cut short: no end line")
}

// parseDecimal reads a decimal number in its one spelling.
func parseDecimal(s string) (uint64, error) {
	x, err := strconv.ParseUint(s, 10, 64)
	if err != nil || strconv.FormatUint(x, 10) != s {
		return 0, fmt.Errorf("%.24q is not a decimal number", s)
	}
	return x, nil
}

func parseFlag(s string) (bool, error) {
	switch s {
	case "0":
		return false, nil
	case "1":
		return true, nil
	}
	return false, fmt.Errorf("%.8q is neither 0 nor 1", s)
}

// parseRecordLine reads "<index> <live> r<given>=<decoys> <record>".
func parseRecordLine(s string) (store.SnapRecord, error) {
	f := strings.SplitN(s, " ", 4)
	if len(f) != 4 {
		return store.SnapRecord{}, errors.New("record: too few fields")
	}
	var r store.SnapRecord
	var err error
	if r.Index, err = parseDecimal(f[0]); err != nil {
		return r, fmt.Errorf("record index: %w", err)
	}
	if r.Live, err = parseFlag(f[1]); err != nil {
		return r, fmt.Errorf("record %d live: %w", r.Index, err)
	}
	switch {
	case strings.HasPrefix(f[2], "r0="):
	case strings.HasPrefix(f[2], "r1="):
		r.Receipt.Given = true
	default:
		return r, fmt.Errorf("record %d: receipt field %.20q", r.Index, f[2])
	}
	r.Receipt.Decoys = f[2][3:]
	if err := store.CheckReceipt(r.Receipt); err != nil {
		return r, fmt.Errorf("record %d: %w", r.Index, err)
	}
	r.Payload = []byte(f[3])
	return r, nil
}

// parseLinkLine reads "<seq> <retracted> <index> <voter line> <vote line>".
func parseLinkLine(s string) (store.SnapLink, error) {
	f := strings.SplitN(s, " ", 7)
	if len(f) != 7 {
		return store.SnapLink{}, errors.New("link: too few fields")
	}
	var l store.SnapLink
	var err error
	if l.Seq, err = parseDecimal(f[0]); err != nil {
		return l, fmt.Errorf("link seq: %w", err)
	}
	if l.Retracted, err = parseFlag(f[1]); err != nil {
		return l, fmt.Errorf("link %d: %w", l.Seq, err)
	}
	if l.Index, err = parseDecimal(f[2]); err != nil {
		return l, fmt.Errorf("link %d index: %w", l.Seq, err)
	}
	if l.Voter, err = store.ParseVoterLine(strings.Join(f[3:6], " ")); err != nil {
		return l, fmt.Errorf("link %d: %w", l.Seq, err)
	}
	if l.Vote, err = store.ParseVoteLine(f[6]); err != nil {
		return l, fmt.Errorf("link %d: %w", l.Seq, err)
	}
	return l, nil
}

// handleSnapshot answers the twin's GET /snapshot (and a backup's, which
// comes with a twin's certificate): the instance's state at one moment,
// streamed. The writer takes the snapshot between two groups and goes on
// meanwhile. An error after the first byte cuts the answer short, which
// the reader refuses for lack of its end line.
func (s *Server) handleSnapshot(ctx *fasthttp.RequestCtx) {
	sn, err := s.st.Snapshot(context.Background())
	if err != nil {
		s.log.Error("take a snapshot for the twin", "err", err)
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		return
	}
	info := sn.Info()
	s.log.Info("sending a snapshot to the twin", "records", info.Index, "voters", info.Voters, "links", info.Links)
	conn := ctx.Conn()
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		defer sn.Close()
		// The server's WriteTimeout bounds a whole answer; a snapshot of
		// a large campaign takes longer, so each stretch of lines gets it
		// afresh: a reader that stalls is still cut off.
		tick := func() { pushDeadline(conn, s.cfg.WriteTimeout) }
		tick()
		if _, err := writeSnapshot(w, sn, s.cfg.Settings.Name, s.cfg.Instance, tick); err != nil {
			s.log.Warn("snapshot for the twin cut short", "err", err)
			return
		}
		s.log.Info("sent a snapshot to the twin", "records", info.Index)
	})
}

func pushDeadline(c net.Conn, d time.Duration) {
	if c != nil {
		c.SetWriteDeadline(time.Now().Add(d))
	}
}

// digestOf returns the digest of a store's current content, written and
// read back as a snapshot would be.
func digestOf(ctx context.Context, st *store.Store, name string, n int) (snapshotDigest, error) {
	sn, err := st.Snapshot(ctx)
	if err != nil {
		return snapshotDigest{}, err
	}
	defer sn.Close()
	return writeSnapshot(io.Discard, sn, name, n, nil)
}
