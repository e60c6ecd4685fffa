// Package pow checks the proof of work that every vote carries and searches
// for it on the voter's behalf. The edge calls [Verify] on each vote before
// anything else that costs it work; voters' software calls [Solver.Solve].
//
// # Message and digest
//
// The proof of work binds a nonce to the platform stamp, the voter stamp and
// the chosen option (PROTOCOL.md section 5.3):
//
//	digest = SHA-256(P-UTC ASCII || P-SIG raw 64 bytes || Voter ASCII as received || option text UTF-8 || nonce raw bytes)
//
// The parts are concatenated with no separators or lengths. P-UTC and Voter
// are the header values exactly as GET /stamp returned them (decimal Unix
// seconds; the 39-character voter stamp with its dashes), P-SIG is the
// base64-decoded signature, and the option text is the text itself in UTF-8,
// after percent-decoding: never the percent-encoded form that the Say header
// carries for texts that are not plain ASCII. [Work] holds the four parts and
// [Work.Prefix] returns them concatenated.
//
// The nonce is [MinNonce] to [MaxNonce] (8 to 32) raw bytes, written in the
// vote's path as 16 to 64 hex digits.
//
// # Score
//
// The score is the number of leading zero bits of the digest read as a
// 256-bit big-endian integer, from 0 to 256: a digest starting 00 00 02
// scores 16 + 6 = 22. A vote passes when its score is at least the
// campaign's threshold (25 in the reference deployment); each extra bit
// doubles the expected work.
//
// # Worked example
//
// P-SIG below is the Ed25519 signature of the 10 P-UTC bytes under the
// RFC 8032 section 7.1 TEST 1 key (public key d75a9801...f707511a); this
// package does not check it. The option text is 16 bytes of UTF-8.
//
//	P-UTC   1767225600
//	P-SIG   Kb7R95/rlQnX7sVm6opyMynjNLcj4y1aSwtRqi6PjVgO0qtPWKXoazw6XYsOW0AoBqIa/qiYo8ijsnwq+Ss+Cw==
//	Voter   7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS-1NCA-8FYQ
//	Say     Énergie solaire
//	option  c3896e657267696520736f6c61697265
//	nonce   09a733f6d68415da
//	message 137 bytes (10 + 64 + 39 + 16 + 8)
//	digest  0000024b3eb1cc5dcf554eda5dff74bbd0f923dd00a97a534376082e71f1513d
//	score   22
//
// The vote is cast as GET /09a733f6d68415da with Say: %C3%89nergie%20solaire;
// it passes a threshold of 22 and fails one of 23.
//
// # Solving
//
// Solve hashes consecutive nonces: each worker goroutine starts at its own
// random nonce and adds one to it as a big-endian integer, so the last bytes
// change fastest. Solve picks the nonce length: the shortest from 8 to 32
// for which the message length mod 64 is between 4 and 55. The last 64-byte
// block of the message then holds at least 4 changing nonce bytes and room
// for the 9 bytes of SHA-256 padding, and the blocks before it change at
// most once in 2^32 consecutive nonces, when a carry reaches them. Solve
// hashes those blocks once and keeps the resulting SHA-256 state; for each
// nonce it restores that state and compresses the last block, padded in
// advance, so a nonce costs one block instead of the whole message. A carry
// recomputes the state. A typical vote has a 125-byte prefix (10 + 64 + 39
// + 12), takes an 8-byte nonce and is 133 bytes long: three blocks, of which
// each nonce recomputes one. A 56-byte prefix takes a 12-byte nonce, a
// 48-byte prefix a 20-byte one.
//
// Any nonce length from 8 to 32 is valid on the wire: the choice only makes
// the search faster, and [Verify] accepts every length in range.
package pow
