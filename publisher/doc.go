// Package publisher builds a campaign's published lists (PROTOCOL.md
// section 8) from its collecting instances and serves them for download.
//
// Every round (Config.Interval, default 2s) the publisher pulls from every
// instance of every pair the vote records it has not seen yet and, when
// they may have changed, the voter tables; it merges the two instances of
// each pair, appends the votes and voters that became final to the two
// lists in equal numbers and in batches, extends the Merkle tree of each
// list and signs a checkpoint of each, and makes all of it durable before
// it serves it.
//
// # Files
//
// In Config.Dir, for campaign C, under the names package published gives
// the files that are served (the state and the hashes are the
// publisher's own):
//
//	C-vote.log             the votes list: lines.Vote lines, each ended by "\n"
//	C-auth.log             the voters list: lines.Voter lines, each ended by "\n"
//	C-state.json           what has been published and where to resume
//	C-vote.hashes          the stored hashes of the votes list's tree, 32 bytes each
//	C-auth.hashes          the same for the voters list
//	C-vote.checkpoint.<n>  the signed checkpoint of the votes list at n lines, one per batch
//	C-auth.checkpoint.<n>  the same for the voters list
//	C-history.log          one line per batch (History below)
//	C-retracted.log        the retracted votes (Retractions below)
//	C-retracted.hashes     the stored hashes of its tree
//	C-retracted.checkpoint.<n>  its signed checkpoint at n lines, one per append
//	C-keys.txt             the public keys published at the close (Closing below)
//	C-archive.tar.gz       everything an offline audit needs, written at the close
//
// The hashes, checkpoints and history exist only when Config.LogKey is set. Without
// it the lists are published with no logs, checkpoints or history: that
// is for configurations that predate the logs, not for a campaign.
//
// The state file holds the number of lines of each list (always the same),
// the number of bytes of each and of the history, the time the lists last grew (their
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
// ("retract <nonce hex> <winning nonce hex> <signature base64>",
// listline.Retraction), numbered from 1, and an instance never renumbers
// a record, so its restarts are harmless.
//
// Voters come by cursor: GET /records/voters?since=C returns the voters an
// instance added since C, sorted by key, and the next cursor. At a start,
// and whenever an instance no longer knows its cursor (410: it restarted,
// or was not asked for long), the publisher takes new cursors from both
// instances of the pair and then reads both voter tables in full, side by
// side (GET /records/voters?after=K&limit=M, in key order): every voter
// added after the cursors comes by them, every one before is in the
// tables. A voter is final once both instances have shown it, by either
// way; one shown by one instance only waits in memory for the other. So
// a round reads what the round added, and the cost of publishing grows
// with the votes, not with the campaign times the rounds. A collector of
// an earlier release, which answers a cursor with 400, gets its tables
// read in full whenever it showed new vote records.
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
// another pair), one voter stamp on two votes (a stamp used again, which
// PROTOCOL.md 5.3 forbids, recorded before the edges and collectors knew
// of its first vote: docs/THREAT_MODEL.md, Known limits 4), two different
// lines under one nonce, a nonce twice on one instance, or a retraction of
// a vote that was already final all break the rule's premises. The
// publisher logs them as errors, counts them (Status.Anomalies), keeps the
// first of two votes with one nonce or one voter stamp to become final and
// publishes the other nowhere (a second line with one stamp would fail the
// audit of the whole election), and never takes back a published line;
// the lists stay equal in length (below), with the odd voter or vote held
// back.
//
// # Publishing
//
// Final votes and final voters wait in two queues, each in the order they
// became final (within a round, sorted as below). Let r = min(len(votes),
// len(voters)) be what is ready (normally both queues hold the same
// number) and b = Config.BatchSize. A batch smaller than b would narrow
// down who cast which vote, and so would a small last batch at the close:
// the votes that trickle in after the last batch before it, after End
// among them (stamped before End, they are valid for Config.CloseDelay),
// would go out one or two at a time, line k of one list then being line
// k of the other, and the history would show which option grew by one.
// So the rule is:
//
//   - before the close, a round publishes the first r - b of each queue
//     when r >= 2b, and nothing otherwise: it always keeps at least b of
//     each back, after End as before it;
//   - the last batch (the close, Finish, Flush) publishes all r.
//
// Every batch before the close is then at least b, and so is the last
// one, since the b kept back only grow until it, whenever the campaign
// has at least b votes in all (but for a vote retracted after it became
// final, a broken premise of the merge rule that takes it out of its
// queue). A campaign with fewer than b votes has one batch, of all of
// them, at the close. With b = 1 nothing is kept back.
// The rule needs no state of its own: what is kept back is what was final
// and not published, which the cursors make a restarted publisher read
// again (Restart below), so a restart in the middle of a campaign keeps
// back what the publisher it replaces kept back. Close publishes nothing:
// a publisher stopped for maintenance keeps its batches whole. Flush
// before the end would publish what is kept back, and is not for that.
//
// The price is latency. A vote is published by the first round after at
// least b votes have become final behind it in its queue and at least 2b
// are ready, so it waits for b to 2b - 1 later votes (2b - 1 when it was
// the first of those kept back), plus a round, at worst until the close:
// the last b votes or more of every campaign are published at the close.
//
// The batch's votes are sorted by voter stamp and its voters by the base64
// text of auth-sig, so that the order within a batch says nothing about
// arrival and line n of one list nothing about line n of the other: the
// same set of votes and voters gives the same bytes whatever order they
// arrived in. The lists grow at most once per clock second, so that
// Last-Modified, which has one-second resolution, changes with every
// growth (a round in the same second as the last growth waits for the next
// one).
//
// A batch commits in this order: write the new vote lines at the committed
// size of the votes list and fsync, the same for the voters list; write
// the new stored hashes of each tree and fsync; write the two signed
// checkpoints at the new size and fsync; write the history line and fsync;
// fsync the directory; then replace the state file. Only then do the new
// sizes reach the handlers. A crash in between leaves bytes beyond the
// committed sizes and checkpoint files above the committed size, which no
// client has seen: New cuts the bytes and removes the files, and the next
// batch is built again from the queues. If a write or an fsync fails, the
// publisher stops publishing (ErrFailed) and must be restarted, so that it
// never serves what it cannot show durable.
//
// # Transparency logs
//
// Each list is a Merkle tree log hashed as in RFC 6962 and C2SP
// tlog-tiles: leaf n is line n of the list without its "\n". After each
// batch the publisher signs a C2SP tlog-checkpoint of each list with
// Config.LogKey, a golang.org/x/mod/sumdb/note Ed25519 key named
// powvote-C: a signed note whose text (audit.CheckpointText, the one
// definition writers and readers share) is four lines,
//
//	powvote/C/vote       the origin (powvote/C/auth for the voters list)
//	308                  the number of lines, in decimal
//	<base64 root hash>   tlog.TreeHash of the list at that size
//	settings <hex>       lower-case hex SHA-256 of Config.Settings (/C-settings.yaml)
//
// followed by a blank line and the signature line. The fourth line is a
// C2SP tlog-checkpoint extension line: it makes the log key sign the
// settings (ballot, authorities, threshold, window) the lists are to be
// audited against, so that a platform serving other settings, an
// authority key of its own among them, would have to sign them too.
// Clients and witnesses that follow C2SP accept and ignore extension
// lines. Without Config.Settings the checkpoints have three lines. For
// example, with the signer key PRIVATE+KEY+powvote-solar+0dd4a274+AQcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH
// (served as its verifier key
// powvote-solar+0dd4a274+AepKbGPinFIKvvVQexMuxfmVR3auvr57kkIe6mkURtIs)
// and, for brevity, the 12 bytes "name: solar\n" as Config.Settings, a
// votes list of campaign solar holding the one line of the worked example
// of package lines has this checkpoint (TestExampleCheckpoint checks it
// byte for byte):
//
//	powvote/solar/vote
//	1
//	7SzLwCSl0yXBYxbgIz+cLaOHWDMCIfcF+dMd4NIMo6U=
//	settings d37e5747311cd2cf341f162afbec4495585e153769841018d80aedbadc89e548
//
//	— powvote-solar DdSidFnq28pm851LpPTC03zo7nGJYhh69vG4LhdKOWbOq3zfw5vPNpIhhtZL6wgVmEPVfb0HptkwGwNWexxzSX71KgI=
//
// Anyone who kept an
// older checkpoint can ask for a consistency proof from the tiles (or
// recompute both trees from the list) and see that the list only grew.
//
// The trees are computed with golang.org/x/mod/sumdb/tlog from the list
// files, with the stored hashes in C-vote.hashes and C-auth.hashes. The
// Tessera library (POSIX driver) was considered and not used: it keeps its
// own copy of every entry in entry bundles and assigns indexes in its own
// integration loop, so the lists and the log would be two records of the
// same data whose agreement across a crash we would have to prove, and it
// publishes checkpoints on its own schedule rather than exactly at our
// batch boundaries. Here the lists are the only record: the hash files
// follow from them, and New cuts each to the committed tree and recomputes
// whatever a crash left missing, then checks that the latest checkpoint
// file is what the key signs for the recomputed tree and Config.Settings
// (Ed25519 signatures are deterministic), and refuses to start
// (ErrCorrupt) if it is not, naming settings that changed since they were
// signed. One exception: a directory written before checkpoints carried
// the settings line, whose latest checkpoint is the same text without it.
// That file is served as the latest checkpoint as it stands, with a
// warning in the log, and every checkpoint signed from the next batch on
// carries the line; the earlier checkpoint files are left as they were.
// An audit accepts such a checkpoint with a warning, and fails it under
// --strict until the next batch has published one with the line.
//
// Tiles follow C2SP tlog-tiles, with the two lists as the entries: tile
// height 8, hash tiles at C-vote/tile/<L>/<N>[.p/<W>] computed from the
// hash file, entry bundles at C-vote/tile/entries/<N>[.p/<W>] read from
// the list (each line as a big-endian uint16 length and its bytes).
//
// # History
//
// After each batch C-history.log gains one line,
//
//	<size> <unix time> <count of option 1> ... <count of option N>
//
// the lists' size after the batch, the time of the batch (the lists'
// Last-Modified) and the number of votes for each option of Config.Options,
// in ballot order, in the whole votes list at that size. With the
// checkpoints at each size it lets anyone follow the count as it grew.
//
// # Retractions
//
// A mandate that votes twice while the two instances of its pair cannot
// see each other gets two receipts, and only the winner of the mirror
// rule is published (docs/MIRRORS.md). The loser's receipt proves a vote
// that the votes list does not hold; C-retracted.log answers it, with
// evidence rather than a claim. The instance that held the loser retracts
// it with a record that names the winner's nonce and carries the
// signature, by the campaign's receipt key (the key that signed the
// loser's receipt), of the binding of the loser's line to the winner's
// (wire.RetractionMessage). When an instance's vote log shows such a
// record, the publisher takes the vote line that instance showed for the
// retracted nonce (its own vote, which stands earlier in its log) and
// holds the line of the retracted list (listline.Retracted)
//
//	<winning nonce hex> <signature base64> <retracted vote line>
//
// until the winner is published. A round appends the retractions whose
// winner the votes list holds once its batch is committed, so a reader of
// the retracted list finds every winner it names in the votes list read
// after it; until then the held retraction keeps the retracted vote's
// record under its instance's cursor, so a restart reads it again. The
// publisher does not check the signature: the audit does, and a binding
// that does not verify is the collector's to answer for. A retraction
// that binds nothing ("retract <nonce hex>", from a collector without the
// receipt key) is an anomaly: its vote is not published, and the retracted
// list cannot show it.
//
// The retracted list is the third log: with Config.LogKey, each append
// extends its Merkle tree (C-retracted.hashes) and is signed by a
// checkpoint like the lists', of origin powvote/C/retracted, with the
// settings line, kept as C-retracted.checkpoint.<n> and served with its
// tiles. It is not part of the history or of the batches: it is not one of
// the two lists that must grow together, and its lines name no mandate.
// When a line appears tells roughly when the split healed and the winner
// was published, not which line of the voters list is the mandate that
// voted twice. It grows in the order retractions become publishable, one
// line per nonce (a retraction read again after a restart is not added
// twice); its lines are durable (written and fsynced), then hashed and
// signed, before they are served. It has no committed size in the state:
// every complete line on disk stands, and New cuts an incomplete last line,
// which a crash in the middle of an append left and no client saw, and
// signs the checkpoint a crash between an append and its checkpoint left
// unwritten. A line that is a bare vote line, written before retractions
// were bound to their winner, is kept; an audit fails it. The list is
// served with an ETag and without Last-Modified, since it may grow twice
// in one second.
//
// Corners. A retraction of a vote already published (a broken premise of
// the merge rule) leaves the vote in the votes list and out of the
// retracted list: the votes list answers its receipt. If the two
// instances of a pair showed two different lines under one nonce, the
// publisher publishes neither (above); a retraction of that nonce lists
// the line of the instance that retracted it once its winner is
// published, and the twin's line is published nowhere, so a receipt for
// it finds no answer. Such a conflict without a retraction stays pending,
// which keeps Run from closing the campaign on its own (Finish must). A
// retraction whose winner is never published stays out of the retracted
// list, and the close logs it.
//
// # Closing
//
// Once the clock is past Config.End plus Config.CloseDelay (the time a
// vote stamped at the end stays acceptable to a collector, and a margin
// for the twins to exchange it), the first round in which every collector
// answers and no vote is pending on one instance only is the last: it
// publishes the last batch and closes the campaign (if the lists grew in
// the same clock second already, the next round does both). Finish closes
// it at once, whatever is still pending: it is for the operator who
// decides not to wait.
//
// The last round publishes whatever is final (at least Config.BatchSize
// of each, but in a campaign with fewer votes in all; see Publishing);
// then the close writes C-keys.txt,
//
//	utc-sign <base64 of the UTC-SIGN public key>
//	utc-hole <base64 of the UTC-HOLE public key>
//	receipt <base64 of the receipt public key>
//	log <note verifier key of the checkpoints>
//
// (a line for each key Config holds; the publisher is given the public
// keys only), and C-archive.tar.gz, a gzipped tar of one folder C/ with
// the committed bytes of C-vote.log, C-auth.log, C-retracted.log,
// C-history.log, C-log.vkey, C-settings.yaml (Config.Settings), C-keys.txt,
// the latest checkpoints C-vote.checkpoint, C-auth.checkpoint and
// C-retracted.checkpoint and every C-W.checkpoint.<n>, all dated at the
// close: "tar xzf C-archive.tar.gz"
// and "powvote audit C" re-verify the election offline. Both files are
// fsynced, then the directory, then the state records the close time;
// only then are they served. A crash before that leaves files no client
// saw, which New removes. After the close, rounds, Flush and Finish do
// nothing; a restart reads the close from the state and serves the same
// files, whatever the collectors hold by then. The archive is written
// under the round lock, in one go: for a large campaign the close takes
// the time of compressing its lists.
//
// # Restart
//
// New reads the lists back (every line must parse, their counts must match
// the state) to know which nonces and mandates are published, and the
// retracted list to know which retractions it holds. The cursor kept for
// an instance is the index of its oldest vote record that is neither
// published nor retracted and in the retracted list, so a restart reads
// again every record whose fate was still open, and skips the published
// ones and the retractions listed that it meets. Voter
// tables are read in full once after a start. What a batch kept back is
// therefore queued again, and the next batch obeys the same rule.
//
// # Serving
//
// GET and HEAD of /C-vote.log, /C-auth.log and /C-history.log answer the
// committed part of each file as text/plain; charset=utf-8 with an ETag
// ("epoch-size") and a Last-Modified; If-None-Match and If-Modified-Since
// give 304, If-Match 412; one byte range (Range: bytes=a-b, a-, -n) gives
// 206 with Content-Range, an unsatisfiable one 416 with Content-Range:
// bytes */size (what wget -c gets for a file it already has in full),
// several ranges or a Range it does not understand the whole list;
// If-Range with the current ETag or Last-Modified keeps the range,
// anything else gets the whole list. fasthttp's file server is not used:
// it would serve bytes beyond the committed size, and it has no ETag or
// If-Range.
//
// With Config.LogKey set it also serves, W being vote, auth or retracted:
//
//	/C-log.vkey              the note verifier key of the checkpoints
//	/C-W.checkpoint          the latest checkpoint (of size 0 before the first batch, or retraction)
//	/C-W/checkpoint          the same, where C2SP tlog-tiles clients look
//	/C-W.checkpoint.<n>      the checkpoint at size n, for each batch's n (each append's, for the retracted list)
//	/C-W/tile/<L>/<N>[.p/<W>]        hash tiles
//	/C-W/tile/entries/<N>[.p/<W>]    entry bundles
//
// Always, besides the lists and whatever the logs add:
//
//	/C-settings.yaml         Config.Settings, byte for byte (404 if not set)
//	/C-receipt.key           Config.ReceiptPub (404 if not set)
//	/C-retracted.log         the retracted votes, with ranges and an ETag, below its latest checkpoint's size
//	/C-keys.txt              once closed; 404 before
//	/C-archive.tar.gz        once closed, with ranges, ETag and Last-Modified (the close); 404 before
//
// /C-receipt.key is one line, the standard base64 of the 32-byte Ed25519
// receipt public key and "\n", as text/plain; charset=utf-8 with
// Cache-Control: no-cache, before and after the close. Unlike the UTC-SIGN
// key, whose public half tells genuine stamps from decoys and so waits for
// C-keys.txt, the receipt key's public half gives nothing away: a voter's
// device fetches it to check the Receipt-Sig of the receipt it was just
// given, and the check page to check a saved one.
//
// The 404 of a file that will exist later carries Cache-Control: no-cache.
// A checkpoint or tile of the campaign that does not exist (yet) gets 404
// with an empty body; every other path or method 400 with an empty body.
// Kept checkpoints and tiles never change and are served with a year's
// immutable Cache-Control; the latest checkpoint with no-cache.
//
// # Concurrency
//
// A round (PullOnce, called by Run every Interval, Flush or Finish) holds
// roundMu from start to end, and Close takes it too. Within a round each
// pair's pulls run on their own goroutine, which alone touches that
// pair's state; they only read the published and queued sets, which the
// round's goroutine changes after they are done. Handlers read the lists,
// the history, the retracted list and the hash files with ReadAt below
// the committed sizes, which they load from an atomic snapshot together
// with the latest checkpoints, a prefix of the offsets of the entry
// bundles and, once closed, the keys and the archive; the round writes
// only above those sizes, and appends offsets beyond the prefix.
package publisher
