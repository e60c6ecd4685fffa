// Package mandate issues, prints and reads voting mandates: an election
// authority's signature on a random identifier, which a voter hands to the
// platform once to have one vote counted.
//
// # Token
//
// An auth-id is [IDSize] (24) random bytes chosen by the authority. The
// auth-sig is the Ed25519 signature (RFC 8032) of those 24 bytes, and
// nothing else, by an authority key whose 32-byte public key is the
// auth-pkey. The token is the concatenation
//
//	auth-pkey (32 bytes) || auth-sig (64 bytes) || auth-id (24 bytes)
//
// of [TokenSize] (120) bytes, written in hex as 240 digits. A mandate is
// identified by the pair (auth-pkey, auth-id), and a campaign counts it at
// most once. Campaigns list the authority public keys they accept; a
// signature that verifies says nothing about whether its key is on that
// list.
//
// # Card
//
// A card carries the token in two forms, for a phone to scan and for a
// person to type.
//
// The QR code holds the 120 token bytes in a single byte-mode segment at
// error correction level H, which makes it version 11 (61 modules square).
// A reader that returns the raw bytes of the code returns the token.
//
// The 12 lines of text each carry 10 token bytes: line i (1 to 12) is the
// Crockford base32 encoding of bytes 10(i-1) to 10i-1, which is 16 symbols,
// followed by the check symbol of those 10 bytes, 17 symbols in all, shown
// in groups of 4, 4, 4, 4 and 1. Crockford base32 is
// the alphabet 0123456789ABCDEFGHJKMNPQRSTVWXYZ, bits read most significant
// first, and a check symbol that is the 10 bytes as a big-endian integer
// modulo 37, written *, ~, $, = or U for 32 to 36. Because every line has
// its own check, software checks each line as it is typed, and a typo is
// reported on the line where it was made rather than minutes later when the
// whole mandate fails to verify. Readers ignore case, spaces, '-' and ':',
// and read O as 0 and I and L as 1.
//
// The lookup needle is the first 22 characters of the standard base64
// (RFC 4648, section 4) of auth-sig. It is printed on the card and finds the
// voter's line in the published voters list with a plain text search. Its
// 132 bits make it as good as unique: a shared needle is not a practical
// concern.
//
// The card id is auth-id in Crockford base32 (39 symbols), used to name a
// card's files. It is not a secret, but it is not enough to vote either.
//
// # Example
//
// The authority key whose seed is the secret key of RFC 8032, section 7.1,
// test 1,
//
//	9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60
//
// signing the auth-id made of the bytes 0 to 23,
//
//	000102030405060708090a0b0c0d0e0f1011121314151617
//
// gives the token
//
//	d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a
//	bbef8ae7be58ee85ff9cda6bca054b5c42a3bd9e770c82b83040679427e237b9
//	2c1f23c6a04725676d386850bd12eff2f8df52095e31757367bf6b6d7f531302
//	000102030405060708090a0b0c0d0e0f1011121314151617
//
// (one line of 240 digits; broken here after auth-pkey and after each half
// of auth-sig), which prints as the card
//
//	 1: TXD9 G0C2 P45B FNAB =
//	 2: ZV9W JS07 787E 2WQK S
//	 3: VAK2 69DF 08D6 HXR7 J
//	 4: A4DB QVWA WYZ5 HVM5 X
//	 5: ZYED MTYA 0N5N RGN3 4
//	 6: QPF7 E342 Q0R4 0SWM 5
//	 7: 4ZH3 FE9C 3WHW D827 *
//	 8: 4NKP TE38 A2YH 5VZJ T
//	 9: Z3FN 42AY 65TQ 6SXZ Y
//	10: DDPQ YMRK 0800 20G3 P
//	11: 0G2G C1R8 1450 P30D $
//	12: 1R7H 048J 2CA1 A5GQ 7
//
// with the lookup needle u++K575Y7oX/nNprygVLXE and the card id
// 000G40R40M30E209185GR38E1W8124GK2GAHC5R. Line 1 is bytes 0 to 9 of the
// token, d75a980182b10ab7d54b, whose value is 35 modulo 37: check symbol =.
package mandate
