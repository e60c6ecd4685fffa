package wire

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

// asStrings is v with its fields as strings, for comparing votes read from
// a body with the values written.
func asStrings(v BatchVote[[]byte]) BatchVote[string] {
	return BatchVote[string]{
		NoSign: v.NoSign, AuthPkey: string(v.AuthPkey), AuthSig: string(v.AuthSig), AuthID: string(v.AuthID),
		PUTC: string(v.PUTC), PSIG: string(v.PSIG), Voter: string(v.Voter), Nonce: string(v.Nonce),
		Decoys: string(v.Decoys), Say: string(v.Say),
	}
}

// asBytes is v with its fields as byte slices; an empty string becomes nil.
func asBytes(v BatchVote[string]) BatchVote[[]byte] {
	b := func(s string) []byte {
		if s == "" {
			return nil
		}
		return []byte(s)
	}
	return BatchVote[[]byte]{
		NoSign: v.NoSign, AuthPkey: b(v.AuthPkey), AuthSig: b(v.AuthSig), AuthID: b(v.AuthID),
		PUTC: b(v.PUTC), PSIG: b(v.PSIG), Voter: b(v.Voter), Nonce: b(v.Nonce),
		Decoys: b(v.Decoys), Say: b(v.Say),
	}
}

// exampleKey signs the receipt of the golden example: Ed25519 signatures
// are deterministic, so the example's signature is one that verifies.
var exampleKey = ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))

// batchExample is the batch of testdata/batch.golden: a signed vote with
// decoys, which is accepted, and an unsigned one without, which is
// refused 481.
func batchExample() ([]BatchVote[string], []BatchAnswer) {
	votes := []BatchVote[string]{{
		AuthPkey: "ORSkiSbwTOnJKXE6vc4HYs8ZuWVnIlVw3jDiIKM7LF0=",
		AuthSig:  "bZc4Zl9Lj1tcnFNg2ujKgMfrZ4c+4vrS7lf4wS8M0gXqGLEL1O3QHwxrqxh2Tiic1XTxnS2kv9uv+IVkVUb6Dg==",
		AuthID:   "9Uqw0Ioi1Qvm+Ztf+6GnH2mdIuQc13EU",
		PUTC:     "1767225600",
		PSIG:     "Kx2mYc0v1Dd7fS4bq8hN3uTzW6pRjLgE9aC5oVyXeI0sQ1nHtB7kUwMZrAiG2lJfO4dP8vYxN6cF3hTqWmE5Bg==",
		Voter:    "7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS-1NCA-8FYQ",
		Nonce:    "0011223344556677",
		Decoys:   "*,-,8MSD-JR3X-GF1D-GCFT-CKWP-15P0-JKY3-YTFZ",
		Say:      "Humble Pluto",
	}, {
		NoSign:   true,
		AuthPkey: "ORSkiSbwTOnJKXE6vc4HYs8ZuWVnIlVw3jDiIKM7LF0=",
		AuthSig:  "2rV0hM5yTq9cKxJ1bW7nE3fLs8GdA4pZuO6iYjXk0mC1eRtN9wQvHaU2gS5lI7oBzD3FyP8cKnT4xMhJ6qWfAg==",
		AuthID:   "Lm3Qx8Zr0Tb5Vn2Wc7Yk4Hs9Dp1Fg6Ja",
		PUTC:     "1767225607",
		PSIG:     "pT4wZ0cN8bR1yH6mK3vX9sJ2dQ7fL5gA0eU4iO8nC6tY1kB3hW9rM5zV2xE7jG0qF4uS8lD6aP1oI3cT5wRgBw==",
		Voter:    "0HBR-P3TV-G6ZS-1NCA-8FYQ-7Q2M-W4XE-9JKD",
		Nonce:    "8899AABBCCDDEEFF",
		Say:      "%C3%89nergie%20solaire",
	}}
	lines := []string{
		"7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS-1NCA-8FYQ Humble Pluto",
		"- Wind",
		"8MSD-JR3X-GF1D-GCFT-CKWP-15P0-JKY3-YTFZ %C3%89nergie%20solaire",
	}
	answers := []BatchAnswer{
		{Status: 204, Sig: SignReceipt(exampleKey, "solar", lines), Lines: lines},
		{Status: StatusAlreadyVoted},
	}
	return votes, answers
}

// TestBatchGolden pins the format of POST /votes: testdata/batch.golden
// holds the body of batchExample and its answer, which the writers must
// write and the readers read byte for byte.
func TestBatchGolden(t *testing.T) {
	golden, err := os.ReadFile("testdata/batch.golden")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok1 := bytes.Cut(golden, []byte("-- votes --\n"))
	body, answer, ok2 := bytes.Cut(rest, []byte("-- answer --\n"))
	if !ok1 || !ok2 {
		t.Fatalf("testdata/batch.golden lacks a line %q or %q", "-- votes --", "-- answer --")
	}
	votes, answers := batchExample()

	var b []byte
	for _, v := range votes {
		if b, err = AppendBatchVote(b, v); err != nil {
			t.Fatalf("AppendBatchVote(%+v): %v", v, err)
		}
	}
	if !bytes.Equal(b, body) {
		t.Errorf("AppendBatchVote wrote\n%s\nwant\n%s", b, body)
	}
	got, err := ParseBatch(body)
	if err != nil {
		t.Fatalf("ParseBatch: %v", err)
	}
	if len(got) != len(votes) {
		t.Fatalf("ParseBatch: %d votes, want %d", len(got), len(votes))
	}
	for i := range got {
		if s := asStrings(got[i]); s != votes[i] {
			t.Errorf("ParseBatch: vote %d %+v, want %+v", i+1, s, votes[i])
		}
	}

	b = nil
	for _, a := range answers {
		b = AppendBatchAnswer(b, a)
	}
	if !bytes.Equal(b, answer) {
		t.Errorf("AppendBatchAnswer wrote\n%q\nwant\n%q", b, answer)
	}
	gotAnswers, err := ParseBatchAnswer(answer, len(answers))
	if err != nil || !reflect.DeepEqual(gotAnswers, answers) {
		t.Errorf("ParseBatchAnswer: %+v, %v; want %+v", gotAnswers, err, answers)
	}
	if err := VerifyReceipt(exampleKey.Public().(ed25519.PublicKey), "solar", answers[0].Lines, answers[0].Sig); err != nil {
		t.Errorf("the example's receipt: %v", err)
	}
}

// TestAppendBatchVote: the line of a vote, and the votes whose values
// cannot go on a line, which the writer refuses whole, leaving the buffer
// as it was.
func TestAppendBatchVote(t *testing.T) {
	good := BatchVote[string]{AuthPkey: "a", AuthSig: "b", AuthID: "c", PUTC: "1", PSIG: "d", Voter: "V", Nonce: "00", Say: "Yes please"}
	for _, tc := range []struct {
		name string
		edit func(v *BatchVote[string])
		want string
	}{
		{"unsigned, no decoys", func(v *BatchVote[string]) { v.NoSign = true }, "n a b c 1 d V 00 . Yes please\n"},
		{"signed, decoys", func(v *BatchVote[string]) { v.Decoys = "*,-" }, "s a b c 1 d V 00 *,- Yes please\n"},
		{"Say of one byte", func(v *BatchVote[string]) { v.Say = "." }, "s a b c 1 d V 00 . .\n"},
		{"tabs and bytes over 0x7E in Say", func(v *BatchVote[string]) { v.Say = "a\tb\xc3\xa9" }, "s a b c 1 d V 00 . a\tb\xc3\xa9\n"},
	} {
		v := good
		tc.edit(&v)
		for _, prefix := range []string{"", "x\n"} {
			line, err := AppendBatchVote([]byte(prefix), v)
			if err != nil || string(line) != prefix+tc.want {
				t.Errorf("%s: %q, %v; want %q", tc.name, line, err, prefix+tc.want)
			}
			line, err = AppendBatchVote([]byte(prefix), asBytes(v))
			if err != nil || string(line) != prefix+tc.want {
				t.Errorf("%s, as bytes: %q, %v; want %q", tc.name, line, err, prefix+tc.want)
			}
		}
	}

	for _, tc := range []struct {
		name string
		edit func(v *BatchVote[string])
		why  string // in the error
	}{
		{"a line feed in Say", func(v *BatchVote[string]) { v.Say = "Yes\nn a b c 1 d V 01 . No" }, "Say holds byte 0x0a"},
		{"a carriage return in Say", func(v *BatchVote[string]) { v.Say = "Yes\r" }, "Say holds byte 0x0d"},
		{"empty Say", func(v *BatchVote[string]) { v.Say = "" }, "Say is empty"},
		{"a space in Voter", func(v *BatchVote[string]) { v.Voter = "V W" }, "Voter holds byte 0x20"},
		{"a control byte in Auth-Id", func(v *BatchVote[string]) { v.AuthID = "c\x00" }, "Auth-Id holds byte 0x00"},
		{"DEL in Nonce", func(v *BatchVote[string]) { v.Nonce = "0\x7f" }, "Nonce holds byte 0x7f"},
		{"a byte over 0x7E in P-SIG", func(v *BatchVote[string]) { v.PSIG = "d\xc3\xa9" }, "P-SIG holds byte 0xc3"},
		{"a tab in Decoys", func(v *BatchVote[string]) { v.Decoys = "*\t-" }, "Decoys holds byte 0x09"},
		{"Decoys that read as none", func(v *BatchVote[string]) { v.Decoys = NoDecoys }, `Decoys is "."`},
		{"empty P-UTC", func(v *BatchVote[string]) { v.PUTC = "" }, "P-UTC is empty"},
		{"empty Auth-Pkey", func(v *BatchVote[string]) { v.AuthPkey = "" }, "Auth-Pkey is empty"},
		{"a line over the body limit", func(v *BatchVote[string]) { v.Say = strings.Repeat("P", MaxBatchBody) }, "over 1048576"},
	} {
		v := good
		tc.edit(&v)
		for _, bytesToo := range []bool{false, true} {
			prev := []byte("x\n")
			var line []byte
			var err error
			if bytesToo {
				line, err = AppendBatchVote(prev, asBytes(v))
			} else {
				line, err = AppendBatchVote(prev, v)
			}
			if !errors.Is(err, ErrUnframeable) || !strings.Contains(err.Error(), tc.why) || string(line) != "x\n" {
				t.Errorf("%s (bytes %v): %q, %v; want the buffer unchanged and ErrUnframeable with %q", tc.name, bytesToo, line, err, tc.why)
			}
		}
	}
}

// TestBatchRoundTrip: what AppendBatchVote writes, from strings or from
// byte slices, ParseBatch reads back as the same values; and the answer
// lines of AppendBatchAnswer read back with ParseBatchAnswer.
func TestBatchRoundTrip(t *testing.T) {
	votes, answers := batchExample()
	votes = append(votes,
		BatchVote[string]{AuthPkey: "!", AuthSig: "~", AuthID: "a.b", PUTC: "0", PSIG: "-", Voter: "s", Nonce: "n", Decoys: "..", Say: " "},
		BatchVote[string]{NoSign: true, AuthPkey: "x", AuthSig: "y", AuthID: "z", PUTC: "1", PSIG: "2", Voter: "3", Nonce: "4", Decoys: "*", Say: "s a b c 1 d V 00 . Yes\t\x00\xff"},
	)
	var fromStrings, fromBytes []byte
	for _, v := range votes {
		var err error
		if fromStrings, err = AppendBatchVote(fromStrings, v); err != nil {
			t.Fatalf("%+v: %v", v, err)
		}
		if fromBytes, err = AppendBatchVote(fromBytes, asBytes(v)); err != nil {
			t.Fatalf("%+v as bytes: %v", v, err)
		}
	}
	if !bytes.Equal(fromStrings, fromBytes) {
		t.Fatalf("from strings %q, from bytes %q", fromStrings, fromBytes)
	}
	got, err := ParseBatch(fromStrings)
	if err != nil || len(got) != len(votes) {
		t.Fatalf("ParseBatch: %d votes, %v; want %d", len(got), err, len(votes))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], asBytes(votes[i])) {
			t.Errorf("vote %d: read %+v, want %+v", i+1, asStrings(got[i]), votes[i])
		}
	}

	answers = append(answers,
		BatchAnswer{Status: 204, Lines: []string{"- A", "x"}},
		BatchAnswer{Status: 200, Sig: "c2ln", Lines: []string{" "}},
		BatchAnswer{Status: 503},
		BatchAnswer{Status: 400},
		BatchAnswer{Status: 204, Lines: strings.Split(strings.Repeat("a|", maxReceiptLines-1)+"a", "|")},
	)
	var b []byte
	for _, a := range answers {
		b = AppendBatchAnswer(b, a)
	}
	back, err := ParseBatchAnswer(b, len(answers))
	if err != nil || !reflect.DeepEqual(back, answers) {
		t.Errorf("ParseBatchAnswer(%q): %+v, %v; want %+v", b, back, err, answers)
	}
}

// TestParseBatchRefuses: a body that is not a batch is refused whole, with
// a reason that names the line and the fault.
func TestParseBatchRefuses(t *testing.T) {
	const good = "s a b c 1 d V 00 . Pluto\n"
	for _, tc := range []struct {
		name, body, want string
	}{
		{"empty", "", "votes: no vote"},
		{"no final line feed", strings.TrimSuffix(good, "\n"), "votes: the last line does not end with a line feed"},
		{"CR LF", strings.ReplaceAll(good, "\n", "\r\n"), "votes: line 1: the Say field holds a carriage return"},
		{"nine fields", strings.Replace(good, " . ", " ", 1), "votes: line 1: 9 fields, want 10"},
		{"an empty field", strings.Replace(good, " ", "  ", 1), "votes: line 1: field 2 is empty"},
		{"an empty first field", " " + good, "votes: line 1: field 1 is empty"},
		{"an unknown flag", "x" + good[1:], `votes: line 1: the first field is neither "s" nor "n"`},
		{"a flag of two bytes", "ss" + good[1:], `votes: line 1: the first field is neither "s" nor "n"`},
		{"a tab in a field", strings.Replace(good, " ", "\t", 1), "votes: line 1: field 1 holds byte 0x09, want visible ASCII"},
		{"a byte over 0x7E in a field", strings.Replace(good, "V", "\xc3\x89", 1), "votes: line 1: field 7 holds byte 0xc3, want visible ASCII"},
		{"empty Say", strings.Replace(good, " Pluto\n", " \n", 1), "votes: line 1: no Say"},
		{"a good line then a bad one", good + "garbage\n", "votes: line 2: 1 fields, want 10"},
		{"an empty line", good + "\n", "votes: line 2: 1 fields, want 10"},
		{"1025 votes", strings.Repeat(good, MaxBatchVotes+1), "votes: 1025 votes, more than 1024"},
		{"over 1 MiB", good + strings.Repeat("x", MaxBatchBody), "votes: body over 1048576 bytes"},
	} {
		votes, err := ParseBatch([]byte(tc.body))
		if err == nil || err.Error() != tc.want || votes != nil {
			t.Errorf("%s: %d votes, %v; want %q", tc.name, len(votes), err, tc.want)
		}
		if tooLarge := errors.Is(err, ErrBatchTooLarge); tooLarge != (tc.name == "over 1 MiB") {
			t.Errorf("%s: ErrBatchTooLarge %v", tc.name, tooLarge)
		}
	}
	// At the limits.
	if votes, err := ParseBatch([]byte(strings.Repeat(good, MaxBatchVotes))); err != nil || len(votes) != MaxBatchVotes {
		t.Errorf("%d votes: %d read, %v", MaxBatchVotes, len(votes), err)
	}
	big := strings.Replace(good, "Pluto", strings.Repeat("P", MaxBatchBody-len(good)+len("Pluto")), 1)
	if votes, err := ParseBatch([]byte(big)); err != nil || len(votes) != 1 || len(votes[0].Say) != MaxBatchBody-len("s a b c 1 d V 00 . \n") {
		t.Errorf("a body of %d bytes: %d votes, %v", len(big), len(votes), err)
	}
}

// TestParseBatchFieldsInBody: the fields point into the body, and each is
// capped, so that appending to one leaves the body as it was.
func TestParseBatchFieldsInBody(t *testing.T) {
	body := []byte("s a b c 1 d V 00 . Pluto\n")
	votes, err := ParseBatch(body)
	if err != nil {
		t.Fatal(err)
	}
	v := votes[0]
	if &v.Say[0] != &body[len(body)-len("Pluto\n")] || &v.AuthPkey[0] != &body[2] {
		t.Error("the fields are copies, not parts of the body")
	}
	grown := append(v.AuthPkey, 'X')
	if string(grown) != "aX" || string(body) != "s a b c 1 d V 00 . Pluto\n" {
		t.Errorf("appending to a field gave %q and changed the body: %q", grown, body)
	}
}

// TestParseBatchAnswerRefuses: an answer that is not one well-formed line
// per vote is refused whole: its values would become headers of the
// answers to voters.
func TestParseBatchAnswerRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		n          int
		want       string
	}{
		{"empty", "", 0, "the answer does not end with a line feed"},
		{"no final line feed", "481\n481", 2, "the answer does not end with a line feed"},
		{"a line too few", "481\n", 2, "1 answer lines for 2 votes"},
		{"a line too many", "481\n481\n481\n", 2, "3 answer lines for 2 votes"},
		{"a 2xx without a receipt", "204\n481\n", 2, "answer line 1: 0 receipt lines, want 1 to 99"},
		{"a 2xx with a signature alone", "481\n204\t-\n", 2, "answer line 2: 0 receipt lines, want 1 to 99"},
		{"100 receipt lines", "204\t-" + strings.Repeat("\tA Yes", 100) + "\n", 1, "answer line 1: 100 receipt lines, want 1 to 99"},
		{"a refusal with a receipt", "481\t-\tA Yes\n", 1, "answer line 1: a receipt with status 481"},
		{"a refusal with a tab", "481\t\n", 1, "answer line 1: a receipt with status 481"},
		{"a signature that is not base64", "204\tno sig\tA Yes\n", 1, "answer line 1: the signature is not base64"},
		{"an empty signature", "204\t\tA\n", 1, "answer line 1: an empty signature"},
		{"a carriage return in a receipt line", "204\t-\tA Yes\rSet-Cookie: x\n", 1, "answer line 1: a receipt line holds byte 0x0d"},
		{"a byte over 0x7E in a receipt line", "204\t-\tA \xc3\x89\n", 1, "answer line 1: a receipt line holds byte 0xc3"},
		{"an empty receipt line", "204\t-\t\n", 1, "answer line 1: an empty receipt line"},
		{"an empty last receipt line", "204\t-\tA\t\n", 1, "answer line 1: an empty receipt line"},
		{"no status", "20x\n", 1, "answer line 1: no status code"},
		{"a status of two digits", "99\n", 1, "answer line 1: no status code"},
		{"a status of four digits", "2040\t-\tA\n", 1, "answer line 1: no status code"},
		{"a status below 100", "099\n", 1, "answer line 1: no status code"},
		{"a signed status", "+99\n", 1, "answer line 1: no status code"},
		{"an empty line", "\n", 1, "answer line 1: no status code"},
	} {
		got, err := ParseBatchAnswer([]byte(tc.body), tc.n)
		if err == nil || err.Error() != tc.want || got != nil {
			t.Errorf("%s: %+v, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

// TestBatchAllocs: the edge writes a line per vote into a buffer with room
// for it, without allocating; the collector reads a batch into one slice
// of votes; the edge reads an answer with one slice, and per 2xx line one
// string and one slice of receipt lines.
func TestBatchAllocs(t *testing.T) {
	votes, answers := batchExample()
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(100, func() {
		buf, _ = AppendBatchVote(buf[:0], votes[0])
	}); n != 0 {
		t.Errorf("AppendBatchVote: %v allocations, want 0", n)
	}
	var body, answer []byte
	for i := range votes {
		body, _ = AppendBatchVote(body, votes[i])
		answer = AppendBatchAnswer(answer, answers[i])
	}
	if n := testing.AllocsPerRun(100, func() {
		ParseBatch(body)
	}); n != 1 {
		t.Errorf("ParseBatch: %v allocations, want 1", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		answer = AppendBatchAnswer(answer[:0], answers[0])
		answer = AppendBatchAnswer(answer, answers[1])
	}); n != 0 {
		t.Errorf("AppendBatchAnswer: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		ParseBatchAnswer(answer, 2)
	}); n != 3 {
		t.Errorf("ParseBatchAnswer: %v allocations, want 3", n)
	}
}

// FuzzParseBatch feeds the reader of POST /votes arbitrary bodies: it must
// not panic, must hold to the limits, and what it accepts AppendBatchVote
// must write again byte for byte, from byte slices and from strings: no
// two bodies read as the same votes.
func FuzzParseBatch(f *testing.F) {
	votes, _ := batchExample()
	var two []byte
	for _, v := range votes {
		two, _ = AppendBatchVote(two, v)
	}
	line, _, _ := strings.Cut(string(two), "\n")
	line += "\n"
	for _, seed := range []string{
		line,
		string(two),
		strings.Replace(line, "*,-,8MSD-JR3X-GF1D-GCFT-CKWP-15P0-JKY3-YTFZ", ".", 1),
		strings.Replace(line, "Humble Pluto", "%C3%89nergie%20solaire", 1),
		strings.TrimSuffix(line, "\n"),
		"",
		"\n",
		"s a b c d e f g h i\n",
		"s a b c d e f g h \n",
		"x a b c d e f g h i\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		votes, err := ParseBatch(body)
		if err != nil {
			if votes != nil {
				t.Fatalf("votes %v with error %v", votes, err)
			}
			if errors.Is(err, ErrBatchTooLarge) != (len(body) > MaxBatchBody) {
				t.Fatalf("error %v for %d bytes", err, len(body))
			}
			return
		}
		if len(votes) == 0 || len(votes) > MaxBatchVotes || len(body) > MaxBatchBody {
			t.Fatalf("accepted %d votes in %d bytes", len(votes), len(body))
		}
		var fromBytes, fromStrings []byte
		for _, v := range votes {
			if fromBytes, err = AppendBatchVote(fromBytes, v); err != nil {
				t.Fatalf("read %+v from %q, which AppendBatchVote refuses: %v", asStrings(v), body, err)
			}
			if fromStrings, err = AppendBatchVote(fromStrings, asStrings(v)); err != nil {
				t.Fatalf("read %+v from %q, which AppendBatchVote refuses as strings: %v", asStrings(v), body, err)
			}
		}
		if !bytes.Equal(fromBytes, body) || !bytes.Equal(fromStrings, body) {
			t.Fatalf("read %q, written again %q and %q", body, fromBytes, fromStrings)
		}
	})
}

// FuzzParseBatchAnswer feeds the reader of a batch's answer arbitrary
// bodies: it must not panic, and what it accepts must be one line per
// vote whose values are safe as headers, and come back byte for byte
// when written again with AppendBatchAnswer.
func FuzzParseBatchAnswer(f *testing.F) {
	for _, seed := range []string{
		"204\t-\tA Yes\tc0 Other\n481\n",
		"204\tc2ln\tA Yes\n",
		"481\n482\n483\n484\n485\n486\n400\n503\n",
		"204\t-\n",
		"204\t\tA\n",
		"481",
	} {
		f.Add([]byte(seed), strings.Count(seed, "\n"))
	}
	f.Fuzz(func(t *testing.T, body []byte, n int) {
		answers, err := ParseBatchAnswer(body, n)
		if err != nil {
			if answers != nil {
				t.Fatalf("answers %+v with error %v", answers, err)
			}
			return
		}
		if len(answers) != n {
			t.Fatalf("%d lines for %d votes", len(answers), n)
		}
		var out []byte
		for _, a := range answers {
			if a.Status < 100 || a.Status > 999 {
				t.Fatalf("status %d", a.Status)
			}
			if a.Status/100 == 2 {
				if len(a.Lines) == 0 || len(a.Lines) > maxReceiptLines {
					t.Fatalf("%d receipt lines", len(a.Lines))
				}
				if strings.ContainsFunc(a.Sig, func(c rune) bool { return !strings.ContainsRune(base64Alphabet, c) }) {
					t.Fatalf("signature %q", a.Sig)
				}
				for _, r := range a.Lines {
					if r == "" || strings.ContainsFunc(r, func(c rune) bool { return c < 0x20 || c > 0x7e }) {
						t.Fatalf("receipt line %q", r)
					}
				}
			} else if a.Sig != "" || a.Lines != nil {
				t.Fatalf("status %d with a receipt", a.Status)
			}
			out = AppendBatchAnswer(out, a)
		}
		if !bytes.Equal(out, body) {
			t.Fatalf("read %q, written again %q", body, out)
		}
	})
}

// base64Alphabet is what a signature may hold.
const base64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
