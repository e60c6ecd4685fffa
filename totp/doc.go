// Package totp makes and checks the booth codes that prove a voter stood at a
// publicly observed voting station when asking for a platform stamp. It also
// keeps the public deployment map that says which booth code generator stands
// at which station, with the campaign's seed wrapped for each of them.
//
// # Booth codes
//
// A booth code is an RFC 6238 TOTP: HMAC-SHA1, a 30-second step counted from
// the Unix epoch, 6 decimal digits, keyed with the campaign's TOTP seed of
// [SeedSize] (32) random bytes. The platform accepts the code of the current
// step and the code of the step before it, so a voter who read the code just
// before it changed is not refused; it accepts no other.
//
// The booth shows 7 characters: a check character, then the 6 digits. The
// check character is the sum of the 6 digits modulo 11, written 0 to 9, or A
// for 10. Modulo 11, the smallest prime above 10, catches every mistyped
// digit: one digit changes the sum by 1 to 9, never by a multiple of 11.
// (Swapped digits keep the sum and are not caught.) For the digits 263917
// the sum is 28, 28 mod 11 = 6 and the booth shows
//
//	6 263 917
//
// Voters' software checks the check character before sending anything (see
// [ParseBoothCode]): a typo would otherwise surface only after minutes of
// proof of work, when the platform refuses the vote, and the platform must not
// say earlier whether a code is right, since that would let anyone search for
// valid codes. Only the 6 digits are sent.
//
// A booth shows its code in one colour while more than [WarnBefore] (10 s) of
// the step remain and warns "wait for the next code" in the last 10 s, so
// that a code typed slowly is still within the two accepted steps when the
// stamp request arrives.
//
// # Deployment map
//
// A campaign has one TOTP seed, which every generator holds. Each generator
// has an identifier, 10 random bytes written as 16 Crockford base32 symbols
// in groups of 4 (8704-2A05-B259-1090), and its own AES-256 key-encryption
// key (KEK), both put into its secure element before deployment. The seed
// reaches a generator wrapped under its KEK (RFC 3394 AES key wrap, 40 bytes
// for a 32-byte seed) and is unwrapped and used only inside the secure
// element. The wrapped seeds are published in the deployment map, one
// generator per station:
//
//	# (header comment explaining the file)
//	campaign: solar
//	stations:
//	  Flying Demo:
//	    8704-2A05-B259-1090: wIZsDEbX+QZgn3Sh9hiwkANPmbD1BjcDxpTCPoI5d51Y0yjr9DSJbw==
//
// Observers check every generator they see against the map, so that none is
// used covertly to throw votes in. Because the KEKs differ, the wrapped seeds
// differ and reveal nothing about the seed. After a seed rotation the map is
// republished with the new seed rewrapped for every generator.
package totp
