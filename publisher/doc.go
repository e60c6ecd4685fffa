// Package publisher builds a campaign's published lists (PROTOCOL.md
// section 8) from its collecting instances and serves them for download.
//
// Every round (Config.Interval, default 2s) the publisher pulls from every
// instance of every pair the vote records it has not seen yet and, when
// they may have changed, the voter tables; it merges the two instances of
// each pair, appends the votes and voters that became final to the two
// lists in equal numbers, and makes them durable before it serves them.
//
// # Files
//
// In Config.Dir, for campaign C:
//
//	C-vote.log    the votes list: lines.Vote lines, each ended by "\n"
//	C-auth.log    the voters list: lines.Voter lines, each ended by "\n"
//	C-state.json  what has been published and where to resume
//
// The state file holds the number of lines of each list (always the same),
// the number of bytes of each, the time the lists last grew (their
// Last-Modified), a random epoch that is part of every ETag, and for each
// instance of each pair the from= at which pulling resumes. It is replaced
// atomically (written to a temporary file, fsynced, renamed, directory
// fsynced). The lists are append-only: the publisher never rewrites a byte
// below the sizes the state names.
//
// # Pulling
//
// From each instance, GET /records/votes?from=N&limit=M (docs/INTERNAL.md)
// pages through its vote log: each record is a vote line or a retraction
// ("retract <nonce hex>"), numbered from 1, and an instance never renumbers
// a record, so its restarts are harmless. GET /records/voters?after=K&limit=M
// pages through its voter table in key order (auth-pkey, auth-id). The
// voter table has no cursor, so a pair's two tables are read in full,
// side by side, whenever one of its instances showed new vote records since
// the last complete read: an instance adds a voter only together with a
// vote record, and never shows the record before the voter, so tables that
// showed nothing new have nothing new. Under a steady flow of votes that is
// a full read of both tables every round, a cost that grows with the
// campaign (about 120 bytes per voter and instance per round); a voter
// cursor on the collectors' side would remove it.
//
// # The merge rule
//
// A vote is identified by its nonce, a mandate by (auth-pkey, auth-id). A
// pair's two instances converge to the same votes by the rule of
// docs/MIRRORS.md; while they have not, they disagree, and the publisher
// must never publish a vote that is later retracted, because the lists are
// append-only. The rule it applies:
//
//   - A vote is final when both instances of its pair have shown it (the
//     same line under the same nonce) and neither has shown a retraction of
//     its nonce.
//   - A mandate is final when both instances of its pair hold it in their
//     voter tables.
//   - A vote retracted by either instance is never published.
//
// Final is final: an instance retracts only a vote it accepted itself, and
// only when it applies a vote of its twin for the same mandate that wins;
// but if the twin held the first vote, the twin either refused the second
// (the mandate had voted there) or accepted it first and then took the
// first vote in only because it won, in which case the second cannot win
// here. So a vote both instances hold is never retracted, and a voter is
// never removed from a table. Presence is remembered across rounds: a vote
// one instance showed in one round and the other in a later one is final
// then, whoever answers in between.
//
// The price is that a pair with an instance down publishes nothing new
// until the instance is back and has caught up from its twin: a vote only
// one instance holds may still lose to a vote for the same mandate held
// only by the other. The other pairs publish as usual.
//
// The same nonce in two pairs (one vote replayed under a mandate routed to
// another pair), two different lines under one nonce, a nonce twice on one
// instance, or a retraction of a vote that was already final all break the
// rule's premises. The publisher logs them as errors, counts them
// (Status.Anomalies), keeps the first of two votes with one nonce and never
// takes back a published line; the lists stay equal in length (below),
// with the odd voter or vote held back.
//
// # Publishing
//
// Final votes and final voters wait in two queues, each in the order they
// became final (within a round, sorted as below). A round takes
// k = min(len(votes), len(voters)) from the head of each queue (normally
// both queues hold the same number), sorts the k votes by voter stamp and
// the k voters by the base64 text of auth-sig, so that the order within a
// round says nothing about arrival and line n of one list nothing about
// line n of the other, and appends them to the lists. The lists grow at
// most once per clock second, so that Last-Modified, which has one-second
// resolution, changes with every growth (a round in the same second as the
// last growth waits for the next one).
//
// A round commits in this order: write the new vote lines at the committed
// size of the votes list and fsync, the same for the voters list, then
// replace the state file; only then do the lists' new sizes reach the
// handlers. A crash in between leaves bytes beyond the committed sizes,
// which no client has seen: New cuts them. If a write or an fsync fails,
// the publisher stops publishing (ErrFailed) and must be restarted, so
// that it never serves what it cannot show durable.
//
// # Restart
//
// New reads the lists back (every line must parse, their counts must match
// the state) to know which nonces and mandates are published. The cursor
// kept for an instance is the index of its oldest vote record that is
// neither published nor retracted, so a restart reads again every record
// whose fate was still open, and skips the published ones it meets. Voter
// tables are read in full once after a start.
//
// # Serving
//
// GET and HEAD of /C-vote.log and /C-auth.log answer the committed part of
// each list as text/plain; charset=utf-8 with an ETag ("epoch-size") and a
// Last-Modified; If-None-Match and If-Modified-Since give 304, If-Match
// 412; one byte range (Range: bytes=a-b, a-, -n) gives 206 with
// Content-Range, an unsatisfiable one 416 with Content-Range: bytes */size
// (what wget -c gets for a file it already has in full), several ranges
// or a Range it does not understand the whole list; If-Range with the
// current ETag or Last-Modified keeps the range, anything else gets the
// whole list. Every other path or method gets 400 with an empty body.
// fasthttp's file server is not used: it would serve bytes beyond the
// committed size, and it has no ETag or If-Range.
//
// # Concurrency
//
// A round (PullOnce, called by Run every Interval) holds roundMu from start
// to end, and Close takes it too. Within a round each pair's pulls run on
// their own goroutine, which alone touches that pair's state; they only
// read the published and queued sets, which the round's goroutine changes
// after they are done. Handlers read the lists with ReadAt below the
// committed sizes, which they load from an atomic snapshot; the round
// writes only above them.
package publisher
