package store

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// Framing of votes.log: each record is one line
//
//	<crc32c of payload, 8 lower-case hex digits> <payload>\n
//
// where the payload is a record of listline.Record: a vote line or a
// retraction.
// A line that lacks its line feed, whose checksum does not match or that
// does not even have the shape above ends the good part of the log.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frameOverhead is the checksum, its space and the line feed.
const frameOverhead = 8 + 1 + 1

// appendFrame appends one framed record to dst.
func appendFrame(dst []byte, payload []byte) []byte {
	const hexDigits = "0123456789abcdef"
	c := crc32.Checksum(payload, castagnoli)
	for shift := 28; shift >= 0; shift -= 4 {
		dst = append(dst, hexDigits[c>>uint(shift)&15])
	}
	dst = append(dst, ' ')
	dst = append(dst, payload...)
	return append(dst, '\n')
}

// unframe returns the payload of one line (with its line feed) or why the
// line is not a good record.
func unframe(line []byte) ([]byte, error) {
	if len(line) < frameOverhead || line[len(line)-1] != '\n' || line[8] != ' ' {
		return nil, errors.New("not a framed record")
	}
	var want uint32
	for _, c := range line[:8] {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		default:
			return nil, errors.New("checksum is not lower-case hex")
		}
		want = want<<4 | uint32(d)
	}
	payload := line[9 : len(line)-1]
	if bytes.IndexByte(payload, '\n') >= 0 {
		return nil, errors.New("line feed inside the payload")
	}
	if got := crc32.Checksum(payload, castagnoli); got != want {
		return nil, fmt.Errorf("checksum %08x, line says %08x", got, want)
	}
	return payload, nil
}

// maxRecordLine bounds a good line: a vote line is at most about 430
// bytes, a retraction at most about 240; a longer run without a line feed
// is garbage.
const maxRecordLine = 4096

// logScan is what scanLog found.
type logScan struct {
	records uint64 // good records from the start
	good    int64  // offset just past the last good record
	size    int64  // bytes read in all
	why     string // why the scan stopped before size, "" if it did not
}

// scanLog reads a log from the start and hands each good record's payload
// to fn with its index (from 1). It stops at the first bad line; an error
// from fn or from reading ends it with that error.
func scanLog(r io.Reader, fn func(index uint64, payload []byte) error) (logScan, error) {
	var sc logScan
	br := bufio.NewReaderSize(r, maxRecordLine)
	for {
		line, err := br.ReadSlice('\n')
		sc.size += int64(len(line))
		switch {
		case err == io.EOF && len(line) == 0:
			return sc, nil
		case err == io.EOF:
			sc.why = fmt.Sprintf("record %d has no line feed (%d bytes)", sc.records+1, len(line))
		case errors.Is(err, bufio.ErrBufferFull):
			sc.why = fmt.Sprintf("record %d is longer than %d bytes", sc.records+1, maxRecordLine)
		case err != nil:
			return sc, fmt.Errorf("store: read votes.log: %w", err)
		}
		if sc.why == "" {
			payload, ferr := unframe(line)
			if ferr != nil {
				sc.why = fmt.Sprintf("record %d: %v", sc.records+1, ferr)
			} else {
				if err := fn(sc.records+1, payload); err != nil {
					return sc, err
				}
				sc.records++
				sc.good += int64(len(line))
				continue
			}
		}
		// Count what follows the bad line, for the log message.
		n, err := io.Copy(io.Discard, br)
		sc.size += n
		if err != nil {
			return sc, fmt.Errorf("store: read votes.log: %w", err)
		}
		return sc, nil
	}
}

// appender is what the writer goroutine needs of votes.log once it is
// recovered. Tests wrap the file to make writes and fsyncs fail.
type appender interface {
	Write(p []byte) (int, error)
	Sync() error
	Close() error
}
