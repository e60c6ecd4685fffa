package totp

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
)

// rfcSeed is the SHA-1 seed of RFC 6238 Appendix B.
var rfcSeed = []byte("12345678901234567890")

// seed32 is a campaign-sized seed for the tests that go through Code.
var seed32 = []byte("12345678901234567890123456789012")

// TestRFC6238 runs the SHA-1 rows of RFC 6238 Appendix B through the helper
// that Code uses, with the 8 digits of the RFC and again with 6, which are the
// last 6 of the 8 (the truncation is a remainder modulo a power of ten).
func TestRFC6238(t *testing.T) {
	vectors := []struct {
		unix int64
		want string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	}
	for _, v := range vectors {
		tm := time.Unix(v.unix, 0)
		got, err := code(rfcSeed, tm, otp.DigitsEight)
		if err != nil {
			t.Fatalf("%d: %v", v.unix, err)
		}
		if got != v.want {
			t.Errorf("%d: 8 digits = %s, want %s", v.unix, got, v.want)
		}
		got6, err := code(rfcSeed, tm, otp.DigitsSix)
		if err != nil {
			t.Fatalf("%d: %v", v.unix, err)
		}
		if got6 != v.want[2:] {
			t.Errorf("%d: 6 digits = %s, want %s", v.unix, got6, v.want[2:])
		}
	}
}

// hotpSHA1 is RFC 4226 written out on crypto/hmac, to check that Code hands
// the 32-byte seed to otp intact (a wrong base32 encoding would change the
// key and every code).
func hotpSHA1(key []byte, counter uint64) string {
	mac := hmac.New(sha1.New, key)
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:]) & 0x7fffffff
	return fmt.Sprintf("%06d", v%1000000)
}

func TestCodeMatchesRFC4226(t *testing.T) {
	seeds := [][]byte{seed32, bytes.Repeat([]byte{0}, SeedSize), bytes.Repeat([]byte{0xff}, SeedSize)}
	for si, seed := range seeds {
		for _, unix := range []int64{0, 29, 30, 59, 1111111109, 1767225600, 1767225629, 1767225630, 20000000000} {
			got, err := Code(seed, time.Unix(unix, 999999999))
			if err != nil {
				t.Fatal(err)
			}
			if want := hotpSHA1(seed, uint64(unix/30)); got != want {
				t.Errorf("seed %d, time %d: Code = %s, want %s", si, unix, got, want)
			}
		}
	}
}

func TestCodeErrors(t *testing.T) {
	for _, n := range []int{0, 20, 31, 33, 64} {
		if _, err := Code(make([]byte, n), time.Unix(59, 0)); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("totp: seed is %d bytes, want 32", n)) {
			t.Errorf("seed of %d bytes: error = %v", n, err)
		}
	}
	if _, err := Code(seed32, time.Unix(-1, 0)); err == nil || !strings.Contains(err.Error(), "before the Unix epoch") {
		t.Errorf("time before 1970: error = %v", err)
	}
}

func TestCheckChar(t *testing.T) {
	tests := []struct {
		digits string
		want   byte
	}{
		{"263917", '6'}, // the example of the spec: sum 28
		{"000000", '0'}, // sum 0
		{"000019", 'A'}, // sum 10
		{"550000", 'A'}, // sum 10
		{"000029", '0'}, // sum 11
		{"999999", 'A'}, // sum 54, the largest: 54 = 4*11 + 10
		{"999990", '1'}, // sum 45
		{"100000", '1'},
		{"000009", '9'},
	}
	for _, tc := range tests {
		got, err := CheckChar(tc.digits)
		if err != nil {
			t.Errorf("CheckChar(%q): %v", tc.digits, err)
			continue
		}
		if got != tc.want {
			t.Errorf("CheckChar(%q) = %c, want %c", tc.digits, got, tc.want)
		}
	}
	for _, bad := range []string{"", "26391", "2639170", "26391x", "-63917", "２63917"} {
		if c, err := CheckChar(bad); !errors.Is(err, ErrFormat) {
			t.Errorf("CheckChar(%q) = %q, %v; want ErrFormat", bad, c, err)
		}
	}
}

// TestCheckCharCatchesTypos is the reason for modulo 11: changing one digit
// changes the sum by 1 to 9, never by a multiple of 11, so the check
// character always changes.
func TestCheckCharCatchesTypos(t *testing.T) {
	for _, d := range []string{"263917", "000000", "999999", "102938"} {
		orig, _ := CheckChar(d)
		for i := 0; i < Digits; i++ {
			for c := byte('0'); c <= '9'; c++ {
				if c == d[i] {
					continue
				}
				typo := d[:i] + string(c) + d[i+1:]
				if got, _ := CheckChar(typo); got == orig {
					t.Errorf("typo %s of %s keeps check %c", typo, d, got)
				}
			}
		}
	}
}

func TestBoothCode(t *testing.T) {
	tm := time.Unix(1111111109, 0)
	got, err := BoothCode(seed32, tm)
	if err != nil {
		t.Fatal(err)
	}
	digits, _ := Code(seed32, tm)
	check, _ := CheckChar(digits)
	if want := string(check) + digits; got != want {
		t.Fatalf("BoothCode = %s, want %s", got, want)
	}
	back, err := ParseBoothCode(FormatBooth(got))
	if err != nil || back != digits {
		t.Fatalf("ParseBoothCode(FormatBooth(%s)) = %q, %v; want %s", got, back, err, digits)
	}
	if _, err := BoothCode(rfcSeed, tm); err == nil {
		t.Fatal("BoothCode accepted a 20-byte seed")
	}
}

func TestFormatBooth(t *testing.T) {
	tests := map[string]string{
		"6263917":  "6 263 917",
		"A000019":  "A 000 019",
		"626391":   "626391",
		"":         "",
		"6263917x": "6263917x",
	}
	for in, want := range tests {
		if got := FormatBooth(in); got != want {
			t.Errorf("FormatBooth(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseBoothCode(t *testing.T) {
	good := []struct{ in, want string }{
		{"6 263 917", "263917"},
		{"6263917", "263917"},
		{"  6263 917\n", "263917"},
		{"6\t2 6 3 9 1 7", "263917"},
		{"A 000 019", "000019"},
		{"a 000 019", "000019"},
		{"a000019", "000019"},
		{"0 000 000", "000000"},
		{"A 999 999", "999999"},
		{"6\u00a0263\u00a0917", "263917"}, // no-break spaces, as pasted from a web page
		// A plain sum cannot see two digits swapped: the platform refuses
		// the code later.
		{"6 236 917", "236917"},
	}
	for _, tc := range good {
		got, err := ParseBoothCode(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseBoothCode(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}

	bad := []struct {
		in       string
		sentinel error
		msg      string
	}{
		{"", ErrFormat, "0 characters, want 7"},
		{"   ", ErrFormat, "0 characters, want 7"},
		{"263917", ErrFormat, "6 characters, want 7"},
		{"6 263 9170", ErrFormat, "8 characters, want 7"},
		{"B 263 917", ErrFormat, `check character 'B' is not 0-9 or A`},
		{"- 263 917", ErrFormat, `check character '-' is not 0-9 or A`},
		{"6 263-917", ErrFormat, `'-' at position 5 is not a digit`},
		{"6 26A 917", ErrFormat, `'A' at position 4 is not a digit`},
		{"6 263 91a", ErrFormat, `'a' at position 7 is not a digit`},
		{"6 ２63 917", ErrFormat, `'２' at position 2 is not a digit`},
		{"6 263 91\xff", ErrFormat, `'�' at position 7 is not a digit`},
		{"7 263 917", ErrCheck, "7 for digits 263917, want 6"},
		{"6 263 918", ErrCheck, "6 for digits 263918, want 7"},
		{"A 263 917", ErrCheck, "A for digits 263917, want 6"},
		{"0 999 999", ErrCheck, "0 for digits 999999, want A"},
		{"263 917 6", ErrCheck, "2 for digits 639176, want A"}, // check character typed last
	}
	for _, tc := range bad {
		got, err := ParseBoothCode(tc.in)
		if err == nil {
			t.Errorf("ParseBoothCode(%q) = %q, want an error", tc.in, got)
			continue
		}
		if !errors.Is(err, tc.sentinel) {
			t.Errorf("ParseBoothCode(%q) error %v, want %v", tc.in, err, tc.sentinel)
		}
		other := ErrCheck
		if tc.sentinel == ErrCheck {
			other = ErrFormat
		}
		if errors.Is(err, other) {
			t.Errorf("ParseBoothCode(%q) error %v is also %v", tc.in, err, other)
		}
		if !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "totp: ") {
			t.Errorf("ParseBoothCode(%q) error %q, want it to start with \"totp: \" and contain %q", tc.in, err, tc.msg)
		}
		if got != "" {
			t.Errorf("ParseBoothCode(%q) returned %q with an error", tc.in, got)
		}
	}
}

func TestValidate(t *testing.T) {
	// The middle of a step, so that t and t±Step are plainly in the
	// neighbouring steps.
	now := time.Unix(1767225600+15, 0)
	codeAt := func(steps int) string {
		c, err := Code(seed32, now.Add(time.Duration(steps)*Step))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cur, prev, prev2, next := codeAt(0), codeAt(-1), codeAt(-2), codeAt(1)
	// The refusals below prove nothing if the codes happen to coincide.
	if cur == prev || cur == prev2 || cur == next || prev == prev2 || prev == next {
		t.Fatalf("pick another time: codes %s %s %s %s are not all different", prev2, prev, cur, next)
	}

	tests := []struct {
		name   string
		digits string
		want   bool
	}{
		{"current step", cur, true},
		{"previous step", prev, true},
		{"two steps back", prev2, false},
		{"next step", next, false},
		{"empty", "", false},
		{"one digit short", cur[:5], false},
		{"one digit more", cur + "0", false},
		{"previous with one more", prev + cur[:1], false},
		{"with check character", "0" + cur, false},
		{"spaced", cur[:3] + " " + cur[3:], false},
		{"non-digit", cur[:5] + "x", false},
		{"all x", "xxxxxx", false},
		{"other digit", cur[:5] + string('0'+(cur[5]-'0'+1)%10), false},
	}
	for _, tc := range tests {
		if got := Validate(seed32, tc.digits, now); got != tc.want {
			t.Errorf("%s: Validate(%q) = %v, want %v (codes: previous %s, current %s)", tc.name, tc.digits, got, tc.want, prev, cur)
		}
	}

	// At the last instant of a step the current code is still this step's,
	// and at the first instant of the next one it has become the previous.
	start := time.Unix(1767225600, 0)
	last := start.Add(Step - time.Nanosecond)
	c, _ := Code(seed32, start)
	if !Validate(seed32, c, last) {
		t.Error("code refused at the last instant of its step")
	}
	if !Validate(seed32, c, start.Add(Step)) {
		t.Error("code refused at the first instant of the next step")
	}
	if !Validate(seed32, c, start.Add(2*Step-time.Nanosecond)) {
		t.Error("code refused at the last instant of the next step")
	}
	if Validate(seed32, c, start.Add(2*Step)) {
		t.Error("code accepted two steps later")
	}

	if Validate(rfcSeed, "287082", time.Unix(59, 0)) {
		t.Error("Validate accepted a code under a 20-byte seed")
	}
	// In the first step there is no previous one; the current code still
	// passes.
	first, _ := Code(seed32, time.Unix(10, 0))
	if !Validate(seed32, first, time.Unix(10, 0)) {
		t.Error("current code refused in the first step after the epoch")
	}
}

func TestRemainingAndWarn(t *testing.T) {
	base := time.Unix(1767225600, 0) // a step boundary: divisible by 30
	tests := []struct {
		at        time.Time
		remaining time.Duration
		warn      bool
	}{
		{base, 30 * time.Second, false},
		{base.Add(time.Nanosecond), 30*time.Second - time.Nanosecond, false},
		{base.Add(19 * time.Second), 11 * time.Second, false},
		{base.Add(20*time.Second - time.Nanosecond), 10*time.Second + time.Nanosecond, false},
		{base.Add(20 * time.Second), 10 * time.Second, true},
		{base.Add(29*time.Second + 500*time.Millisecond), 500 * time.Millisecond, true},
		{base.Add(30*time.Second - time.Nanosecond), time.Nanosecond, true},
		{base.Add(30 * time.Second), 30 * time.Second, false},
		{time.Unix(0, 0), 30 * time.Second, false},
		{time.Unix(-1, 0), time.Second, true},
		{time.Unix(-30, 0), 30 * time.Second, false},
		{time.Unix(-25, 0).In(time.FixedZone("X", 3600*5+1800)), 25 * time.Second, false},
	}
	for _, tc := range tests {
		if got := Remaining(tc.at); got != tc.remaining {
			t.Errorf("Remaining(%v) = %v, want %v", tc.at, got, tc.remaining)
		}
		if got := Warn(tc.at); got != tc.warn {
			t.Errorf("Warn(%v) = %v, want %v", tc.at, got, tc.warn)
		}
	}
	// Remaining must agree with the step Code uses: the code is the same
	// until Remaining runs out, and different right after.
	at := base.Add(7 * time.Second)
	c0, _ := Code(seed32, at)
	c1, _ := Code(seed32, at.Add(Remaining(at)-time.Nanosecond))
	c2, _ := Code(seed32, at.Add(Remaining(at)))
	if c0 != c1 || c0 == c2 {
		t.Errorf("codes around the end of the step: %s %s %s", c0, c1, c2)
	}
}

func BenchmarkValidate(b *testing.B) {
	now := time.Unix(1767225600, 0)
	c, _ := Code(seed32, now)
	for b.Loop() {
		Validate(seed32, c, now)
	}
}
