// Package store keeps a collecting instance's durable state: the voter
// table, the vote records and the links between them that the twin needs.
// Every write goes through one writer goroutine that commits a group of
// requests to Pebble with Sync and then appends their records to a log file
// with one fsync, so an acknowledged vote is on disk in both places.
//
// # What is stored where
//
// A Store lives in one directory, in three Pebble databases and a log, so
// that no file holds a voter next to its vote once the twin no longer
// needs the link (docs/MIRRORS.md, What a disk reveals); keys.go documents
// the key encoding:
//
//   - dir/votes: the vote records by index, their indexes by nonce and by
//     voter stamp, and the counters. No voter.
//   - dir/links: the links of the votes this instance accepted itself, by
//     own sequence number ([Pair]), and the pending voter records: those
//     whose link is held or that wait for the mover.
//   - dir/voters: the voter table (auth-pkey, auth-id → auth-sig), written
//     only by the mover.
//   - dir/votes.log: the vote records again, one per line, in index order.
//
// A line of votes.log is
//
//	<crc32c of payload, 8 lower-case hex digits> <payload>\n
//
// where the payload is a vote line (PROTOCOL.md 8, [Vote.Line]) or a
// retraction, which withdraws an own vote by mirror rule 3 (below):
//
//	retract <nonce hex> <winning nonce hex> <signature base64>
//
// the signature, by the campaign's receipt key (Options.ReceiptKey), over
// wire.RetractionMessage of the retracted vote's line and the winning
// vote's, which is the record that follows (listline.Retraction; without
// the key the record is "retract <nonce hex>" and binds nothing). The log
// is a projection of dir/votes: record i of the log is vote record i.
// A voter record and a vote record share nothing (PROTOCOL.md 7); only a
// link ties them, and a link is deleted once the twin has confirmed it,
// Options.Retain has passed (none by default) and this instance has
// applied every vote the twin had accepted when it confirmed
// ([Store.Confirm]).
//
// # The mover
//
// A voter whose link is gone, or whose vote was copied from the twin, is
// eligible for the voter table. Between groups, at most once a second, the
// writer's mover takes the eligible voters if there are at least
// Options.MoveBatch of them (the campaign's batch_size), commits them to
// dir/voters in one batch sorted by key, deletes them from dir/links, and
// flushes and compacts dir/links to its bottom level. It does that last
// step also when links were dropped with nothing to move, so that a
// dropped link leaves dir/links' files within about a second. dir/links
// and dir/voters never recycle a write-ahead log. [Store.Purge], after
// the close, moves every voter whatever their number and compacts
// dir/voters too.
//
// # When a write is durable
//
// [Store.Accept] and [Store.ApplyTwin] return nil only after their records
// are committed to dir/links and then dir/votes, each in one atomic batch
// with Sync, and appended to votes.log and fsynced. The batch of dir/links
// carries a redo of the batch of dir/votes, so that a crash between the
// two commits loses nothing (Recovery). Concurrent calls are
// group-committed: the writer takes every waiting request (up to
// Options.MaxBatch), checks each against the databases and the requests
// before it in the group, commits the two batches, writes all log records
// with one write and one fsync, then wakes every caller. If a commit or
// the fsync fails, every caller of that group gets an error wrapping
// [ErrFailed] and the Store refuses all writes from then on (fail stop): it
// never acknowledges something it cannot show durable. Close and Open it
// again to recover.
//
// # Concurrency
//
// All methods are safe for concurrent use. Only the writer goroutine
// writes, and it alone holds the batch being built; no lock is held across
// disk I/O by anyone else. Readers ([Store.Links], [Store.VoteRecords],
// [Store.VoterRecords]) read Pebble directly and see only committed state;
// Links and VoteRecords stop at the counters the writer publishes once a
// group's log fsync is done, so they never return what Accept has not yet
// acknowledged. [Store.Recent], [Store.Counts] and [Store.TwinCursor] read
// memory.
//
// # Duplicates
//
// A mandate is identified by (auth-pkey, auth-id) and has at most one vote
// that counts. Accept of a mandate that has voted returns the earlier
// result with Result.Repeat set if the vote is exactly the recorded one
// (so a retried request gets its receipt again), and [ErrAlreadyVoted]
// otherwise. The nonce identifies a vote: Accept of a vote whose nonce is
// recorded for another mandate returns [ErrDuplicateVote]. A voter stamp is
// good for one vote (PROTOCOL.md 5.3): Accept of a vote of a mandate that
// has not voted, whose voter stamp a recorded vote carries, returns
// [ErrDuplicateStamp]. Someone who took a stamp from the votes list or from
// a receipt can do fresh work over it with any option and nonce; this is
// what refuses that vote at the pair that holds the stamp. Both checks read
// indexes of the live vote records (keys.go) in the writer's transaction,
// with the mandate check, so two votes with one stamp sent at once are
// never both recorded by one instance.
//
// One instance cannot see what its twin records at the same moment. If the
// two instances of a pair each record first one of two votes that carry
// one stamp under two mandates (both reach them at once, or each reaches
// one instance during a split), each refuses the other's vote, and the
// edge relays the acceptance of either. When they sync, each applies the
// twin's vote by mirror rule 1 and logs a warning: the votes belong to two
// mandates that have each voted once, and a pair must count every mandate
// once, so both instances keep both votes and hold the same records. The
// publisher then publishes one vote line for the stamp and holds the
// second back (package publisher), so the votes list never carries a stamp
// twice. An edge refuses a stamp it knows recorded before it reaches a
// collector; this corner needs the stamp before its first vote is
// recorded, which only whoever sees the voter's traffic has.
//
// # Recovery
//
// Open first commits the redo of dir/links to dir/votes if dir/votes lacks
// its group, and deletes from dir/links the pending voters that the voter
// table holds already (a move cut short between its two commits). It then
// reads votes.log from the start and compares each record with dir/votes.
// At the first line that is torn (no line feed), fails its checksum or is
// malformed, it cuts the log, logging how much it cut; it then appends the
// vote records dir/votes holds beyond the log's last good record and
// fsyncs. Since the databases are committed first, nothing acknowledged is
// lost and the log holds each record exactly once. A good record that
// differs from the database, or a log longer than the database, is not a
// torn tail: Open refuses it with [ErrCorrupt]. Open also refills the
// recent voter stamps from the last vote records. A directory of the
// earlier layout (one database, dir/voters, with everything) is refused
// with [ErrOldLayout].
//
// The indexes live in the database and change in the same batch as the
// records they index, so recovery leaves them right. A database made
// before the voter stamp index existed lacks it: the first Open builds it
// from the nonce index, and marks it built in a synced batch after the
// index itself, so an Open interrupted while building builds it again.
//
// # Mirror
//
// The two instances of a pair copy each other's own pairs ([Store.Links],
// [Store.ApplyTwin], [Store.Confirm]; docs/INTERNAL.md GET /sync). For each
// pair of the twin, ApplyTwin applies the mirror rule, so that a mandate
// counts at most once and both instances converge to the same votes:
//
//  1. The mandate has no voter record here: insert the voter record and
//     the vote record (no link: this instance did not accept it).
//  2. The mandate has voted here with the same vote (the same line, so the
//     same nonce, stamp and option): nothing.
//  3. The mandate has voted here with a different vote that this instance
//     accepted itself and still holds the link of (both accepted a vote
//     during a split): the winner is the vote with the smaller P-UTC as a
//     number, then the smaller nonce bytes, then the smaller voter stamp,
//     then the smaller line.
//     If the twin's vote wins, append a retraction of the own vote, signed
//     to bind it to the twin's vote, and the twin's vote record (the voter
//     record stays); if the own vote wins, do nothing: the twin retracts
//     its own when it applies ours.
//  4. The mandate has voted here with a different vote and no link is
//     held: log an error and keep the vote held here. This cannot happen
//     while the twin reports its last own sequence number truthfully: a
//     link is kept until the twin cursor has passed every vote the twin
//     had accepted when it confirmed the link's vote, and once it had
//     applied that vote it refused any other for the mandate.
//
// [Store.Counts] counts vote records less retractions, so voters equals
// votes on both instances whatever the order of syncs. The nonce and voter
// stamp indexes follow the same records: a retraction takes its vote out
// of both, so once synced the two instances refuse the same stamps (rule 1
// with a stamp held here already: see Duplicates).
package store
