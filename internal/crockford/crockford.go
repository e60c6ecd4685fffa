// Package crockford writes bytes in Douglas Crockford's base32, the encoding
// that people read off printed mandate cards and type back in. It encodes
// byte strings of any length, with or without a check symbol, and decodes
// them canonically, so that two strings decode to the same bytes only when
// they differ in characters a reader cannot tell apart.
//
// The alphabet is
//
//	0123456789ABCDEFGHJKMNPQRSTVWXYZ
//
// for the values 0 to 31: the digits and the letters without I, L, O and U.
// The check symbols for the values 32 to 36 are *, ~, $, = and U.
//
// Bytes are read most significant bit first, 5 bits per symbol. A last
// partial group is padded with zero bits on the right, so n bytes make
// ceil(8n/5) symbols: 10 bytes make exactly 16 symbols and 20 bytes 32.
//
// The check symbol is the value of the whole byte string, read as a
// big-endian unsigned integer, modulo 37. Because 37 is prime and larger than
// any symbol value, it catches every single wrong symbol and every swap of
// two neighbouring symbols; it follows the data symbols.
//
// Decoders ignore case, spaces, '-' and ':', read O as 0 and I and L as 1,
// and reject any other character. They also reject a symbol count that no
// byte string encodes to, and pad bits that are not zero: the only freedom
// left in an encoding is in the characters listed above, never in the bytes.
package crockford

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Symbols gives the data symbol of each value 0 to 31, in upper case: the
// symbols that encoders write.
const Symbols = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// alphabet gives the symbol of each value: 0 to 31 are data symbols, 32 to
// 36 only ever appear as check symbols.
const alphabet = Symbols + "*~$=U"

// checkModulus is the prime the check symbol is taken modulo.
const checkModulus = 37

var (
	// ErrSymbol means the input has a character that is not a symbol, or a
	// check-only symbol (* ~ $ = U) where a data symbol belongs. It comes
	// wrapped in a *SymbolError that says which character and where.
	ErrSymbol = errors.New("crockford: invalid symbol")
	// ErrLength means the number of symbols is not one that an encoding
	// produces, or a check symbol is missing.
	ErrLength = errors.New("crockford: invalid number of symbols")
	// ErrPadding means the pad bits of the last symbol are not zero: the
	// string is not the canonical encoding of any bytes.
	ErrPadding = errors.New("crockford: nonzero pad bits")
	// ErrCheck means the check symbol does not match the data symbols.
	ErrCheck = errors.New("crockford: check symbol does not match")
)

// SymbolError reports a character that a decoder rejected.
type SymbolError struct {
	// Offset is the byte offset of the character in the decoded string.
	Offset int
	// Char is the rejected character, utf8.RuneError for invalid UTF-8.
	Char rune
}

func (e *SymbolError) Error() string {
	return fmt.Sprintf("crockford: invalid symbol %q at offset %d", e.Char, e.Offset)
}

// Unwrap lets callers test for ErrSymbol with errors.Is.
func (e *SymbolError) Unwrap() error { return ErrSymbol }

// values maps an input byte to its value plus one, or 0 when the byte is not
// a symbol. ignored marks the characters that decoders skip.
var values, ignored = func() (v [256]byte, ign [256]bool) {
	for i := range len(alphabet) {
		c := alphabet[i]
		v[c] = byte(i + 1)
		if 'A' <= c && c <= 'Z' {
			v[c+'a'-'A'] = byte(i + 1)
		}
	}
	for _, c := range "Oo" {
		v[c] = v['0']
	}
	for _, c := range "IiLl" {
		v[c] = v['1']
	}
	for _, c := range " -:" {
		ign[c] = true
	}
	return v, ign
}()

// EncodedLen returns the number of symbols that n bytes encode to, without a
// check symbol.
func EncodedLen(n int) int { return (8*n + 4) / 5 }

// Encode returns the symbols of b in upper case, without separators.
func Encode(b []byte) string {
	return string(AppendEncode(make([]byte, 0, EncodedLen(len(b))), b))
}

// AppendEncode appends the symbols of b, as Encode writes them, to dst and
// returns the extended slice. With room in dst it does not allocate: a
// caller can encode into a buffer on its stack.
func AppendEncode(dst, b []byte) []byte {
	out := dst
	var acc uint // holds fewer than 5 pending bits between bytes
	bits := 0
	for _, c := range b {
		acc = acc<<8 | uint(c)
		bits += 8
		for bits >= 5 {
			bits -= 5
			out = append(out, alphabet[acc>>bits&31])
		}
		acc &= 1<<bits - 1
	}
	if bits > 0 {
		out = append(out, alphabet[acc<<(5-bits)&31])
	}
	return out
}

// Decode returns the bytes that s encodes. s must not have a check symbol.
func Decode(s string) ([]byte, error) {
	b, err := AppendDecode(make([]byte, 0, len(s)*5/8), s)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// AppendDecode appends the bytes that s encodes to dst and returns the
// extended slice, or dst unchanged and Decode's error. It allocates
// nothing when dst has room: the edge checks a voter stamp on every vote.
func AppendDecode(dst []byte, s string) ([]byte, error) {
	out := dst
	var acc uint
	bits, n := 0, 0
	check := -1 // offset of a check-only symbol, an error once another symbol or the end follows
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ignored[c] {
			continue
		}
		v := values[c]
		if v == 0 {
			r, _ := utf8.DecodeRuneInString(s[i:])
			return dst, &SymbolError{Offset: i, Char: r}
		}
		if check >= 0 {
			break
		}
		if v-1 >= 32 {
			check = i
			continue
		}
		out = push(out, &acc, &bits, v-1)
		n++
	}
	if check >= 0 {
		return dst, &SymbolError{Offset: check, Char: rune(s[check])}
	}
	if EncodedLen(n*5/8) != n {
		return dst, fmt.Errorf("%w: %d", ErrLength, n)
	}
	if acc != 0 {
		return dst, ErrPadding
	}
	return out, nil
}

// CheckSymbol returns the check symbol of b.
func CheckSymbol(b []byte) byte {
	return alphabet[checkValue(b)]
}

// checkValue returns b as a big-endian integer modulo checkModulus.
func checkValue(b []byte) int {
	r := 0
	for _, c := range b {
		r = (r<<8 + int(c)) % checkModulus
	}
	return r
}

// EncodeCheck returns the symbols of b followed by its check symbol.
func EncodeCheck(b []byte) string {
	return Encode(b) + string(CheckSymbol(b))
}

// DecodeCheck returns the bytes that s encodes after checking them against
// the check symbol, which is the last symbol of s.
func DecodeCheck(s string) ([]byte, error) {
	syms, err := symbols(s, true)
	if err != nil {
		return nil, err
	}
	if len(syms) == 0 {
		return nil, fmt.Errorf("%w: no check symbol", ErrLength)
	}
	b, err := decodeValues(syms[:len(syms)-1])
	if err != nil {
		return nil, err
	}
	if int(syms[len(syms)-1]) != checkValue(b) {
		return nil, ErrCheck
	}
	return b, nil
}

// symbols returns the values of the symbols of s, skipping ignored
// characters. With withCheck the last symbol may be a check-only symbol.
func symbols(s string, withCheck bool) ([]byte, error) {
	syms := make([]byte, 0, len(s))
	last := -1 // offset of the last symbol, to report a misplaced check symbol
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ignored[c] {
			continue
		}
		v := values[c]
		if v == 0 {
			r, _ := utf8.DecodeRuneInString(s[i:])
			return nil, &SymbolError{Offset: i, Char: r}
		}
		if last >= 0 && syms[len(syms)-1] >= 32 {
			return nil, &SymbolError{Offset: last, Char: rune(s[last])}
		}
		syms = append(syms, v-1)
		last = i
	}
	if !withCheck && len(syms) > 0 && syms[len(syms)-1] >= 32 {
		return nil, &SymbolError{Offset: last, Char: rune(s[last])}
	}
	return syms, nil
}

// decodeValues turns data symbol values back into bytes, insisting on the
// canonical form.
func decodeValues(syms []byte) ([]byte, error) {
	n := len(syms) * 5 / 8
	if EncodedLen(n) != len(syms) {
		return nil, fmt.Errorf("%w: %d", ErrLength, len(syms))
	}
	out := make([]byte, 0, n)
	var acc uint
	bits := 0
	for _, v := range syms {
		out = push(out, &acc, &bits, v)
	}
	if acc != 0 {
		return nil, ErrPadding
	}
	return out, nil
}

// push adds the 5 bits of symbol value v to the accumulator (acc, its
// bits) and appends a byte to out whenever 8 bits are there.
func push(out []byte, acc *uint, bits *int, v byte) []byte {
	*acc = *acc<<5 | uint(v)
	*bits += 5
	if *bits >= 8 {
		*bits -= 8
		out = append(out, byte(*acc>>*bits))
		*acc &= 1<<*bits - 1
	}
	return out
}

// Count returns the number of symbols in s: its bytes other than the
// characters decoders ignore. It does not check that they are symbols (a
// character outside ASCII counts once per byte, and is never one). Callers
// with a fixed layout use it to tell a missing or extra symbol apart from a
// wrong one.
func Count(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if !ignored[s[i]] {
			n++
		}
	}
	return n
}

// Group splits s into groups of the given sizes, in order, and joins them
// with sep. The last size repeats until s is used up, and the final group
// may be shorter, so Group(s, "-", 4) writes any string in groups of 4. With
// no sizes, s is returned unchanged. Group counts bytes: s should be the
// output of an encoder. It panics if a size is not positive.
func Group(s, sep string, sizes ...int) string {
	if len(sizes) == 0 || s == "" {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)*len(sep))
	for i := 0; len(s) > 0; i++ {
		size := sizes[min(i, len(sizes)-1)]
		if size <= 0 {
			panic(fmt.Sprintf("crockford: group size %d", size))
		}
		if i > 0 {
			b.WriteString(sep)
		}
		size = min(size, len(s))
		b.WriteString(s[:size])
		s = s[size:]
	}
	return b.String()
}
