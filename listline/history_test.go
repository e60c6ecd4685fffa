package listline_test

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/powvote/powvote/listline"
)

// exampleHistory is a history line of a three-option ballot: 308 lines
// after the batch published at 2026-01-01T00:00:00Z.
const exampleHistory = "308 1767225600 120 0 188"

func ExampleParseHistory() {
	h, err := listline.ParseHistory(exampleHistory, 3)
	fmt.Println(h.Size, h.Time, h.Counts, err)
	fmt.Println(h.Line() == exampleHistory)
	// Output:
	// 308 1767225600 [120 0 188] <nil>
	// true
}

func TestHistoryLine(t *testing.T) {
	for _, tc := range []struct {
		line    string
		options int
		want    listline.History
	}{
		{"308 1767225600 120 0 188", 3, listline.History{Size: 308, Time: 1767225600, Counts: []int64{120, 0, 188}}},
		{"0 0", 0, listline.History{Counts: []int64{}}},
		{"4 1767225601", 0, listline.History{Size: 4, Time: 1767225601, Counts: []int64{}}},
		{fmt.Sprintf("%d 1 %d", int64(math.MaxInt64), int64(math.MaxInt64)), 1, listline.History{Size: math.MaxInt64, Time: 1, Counts: []int64{math.MaxInt64}}},
	} {
		h, err := listline.ParseHistory(tc.line, tc.options)
		if err != nil || h.Size != tc.want.Size || h.Time != tc.want.Time || !slices.Equal(h.Counts, tc.want.Counts) {
			t.Errorf("ParseHistory(%q, %d) = %+v, %v; want %+v", tc.line, tc.options, h, err, tc.want)
			continue
		}
		if got := h.Line(); got != tc.line {
			t.Errorf("ParseHistory(%q).Line() = %q", tc.line, got)
		}
	}
}

func TestBadHistoryLines(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		options    int
		field      string
	}{
		{"empty", "", 0, "line"},
		{"empty, with options", "", 2, "line"},
		{"a count short", "308 1767225600 120 0", 3, "line"},
		{"a count too many", "308 1767225600 120 0 188 1", 3, "line"},
		{"no counts for a ballot", "308 1767225600", 3, "line"},
		{"counts without a ballot", "308 1767225600 1", 0, "line"},
		{"leading zero", "0308 1767225600 120 0 188", 3, "size"},
		{"plus sign", "+308 1767225600 120 0 188", 3, "size"},
		{"negative time", "308 -1 120 0 188", 3, "time"},
		{"negative count", "308 1767225600 120 -0 188", 3, "count 2"},
		{"two spaces", "308  1767225600 120 0 188", 3, "line"},
		{"tab", "308\t1767225600 120 0 188", 3, "line"},
		{"trailing space", "308 1767225600 120 0 188 ", 3, "line"},
		{"line feed", "308 1767225600 120 0 188\n", 3, "count 3"},
		{"carriage return", "308 1767225600 120 0 188\r", 3, "count 3"},
		{"beyond int64", "9223372036854775808 1767225600 120 0 188", 3, "size"},
		{"hex", "0x134 1767225600 120 0 188", 3, "size"},
		{"fraction", "308 1767225600.5 120 0 188", 3, "time"},
		{"negative options", "308 1767225600", -1, "line"},
	} {
		_, err := listline.ParseHistory(tc.line, tc.options)
		var fe *listline.FieldError
		if !errors.As(err, &fe) || !errors.Is(err, listline.ErrSyntax) || fe.Field != tc.field {
			t.Errorf("%s: ParseHistory(%q, %d) = %v; want a FieldError on %q", tc.name, tc.line, tc.options, err, tc.field)
		}
	}
}

// FuzzParseHistory checks that a history line has one spelling: whatever
// the parser accepts, Line writes back byte for byte, and reading that
// again gives the same numbers; whatever it refuses, it refuses with a
// FieldError.
func FuzzParseHistory(f *testing.F) {
	f.Add(exampleHistory, 3)
	f.Add("0 0", 0)
	f.Fuzz(func(t *testing.T, line string, options int) {
		options %= 128 // ballots hold at most 99 options; keep the allocation small
		h, err := listline.ParseHistory(line, options)
		if err != nil {
			var fe *listline.FieldError
			if !errors.As(err, &fe) || !errors.Is(err, listline.ErrSyntax) {
				t.Fatalf("ParseHistory(%q, %d): %v is not a FieldError", line, options, err)
			}
			return
		}
		if len(h.Counts) != options {
			t.Fatalf("ParseHistory(%q, %d): %d counts", line, options, len(h.Counts))
		}
		got := h.Line()
		if got != line {
			t.Fatalf("ParseHistory(%q, %d).Line() = %q", line, options, got)
		}
		again, err := listline.ParseHistory(got, options)
		if err != nil || again.Size != h.Size || again.Time != h.Time || !slices.Equal(again.Counts, h.Counts) {
			t.Fatalf("second read of %q: %+v, %v", got, again, err)
		}
	})
}
