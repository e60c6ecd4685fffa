package listline

import (
	"strconv"
	"strings"
)

// History is a line of the history.
type History struct {
	Size   int64   // lines of each list after the batch
	Time   int64   // Unix seconds at which the batch was published
	Counts []int64 // votes per option, in ballot order; none without a ballot
}

// AppendLine appends the line, without a line feed, to b. It formats
// whatever the fields hold; only a line that [ParseHistory] could have
// returned gives a line that ParseHistory reads back.
func (h History) AppendLine(b []byte) []byte {
	b = strconv.AppendInt(b, h.Size, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, h.Time, 10)
	for _, c := range h.Counts {
		b = append(b, ' ')
		b = strconv.AppendInt(b, c, 10)
	}
	return b
}

// Line returns the line without a line feed.
func (h History) Line() string { return string(h.AppendLine(nil)) }

// ParseHistory reads a line of the history, without its line feed, for a
// ballot of options options: exactly 2+options numbers, each as Line
// writes it.
func ParseHistory(s string, options int) (History, error) {
	if options < 0 {
		return History{}, fieldErr("line", "%d options", options)
	}
	f := strings.Split(s, " ")
	if len(f) != 2+options {
		return History{}, fieldErr("line", "%d fields, want %d (size, time and a count per option)", len(f), 2+options)
	}
	h := History{Counts: make([]int64, options)}
	var err error
	if h.Size, err = historyNumber(f[0], "size"); err != nil {
		return History{}, err
	}
	if h.Time, err = historyNumber(f[1], "time"); err != nil {
		return History{}, err
	}
	for i := range options {
		if h.Counts[i], err = historyNumber(f[2+i], "count "+strconv.Itoa(i+1)); err != nil {
			return History{}, err
		}
	}
	return h, nil
}

// historyNumber reads one field of a history line: a decimal int64
// without sign or leading zero.
func historyNumber(s, field string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != s {
		return 0, fieldErr(field, "%q is not a number as the publisher writes it", s)
	}
	return n, nil
}
