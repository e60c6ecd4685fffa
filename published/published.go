// Package published names the files a campaign publishes and the origins
// of its checkpoints: the publisher writes and serves them under these
// names, and the audit, the command line and the load test read them by
// the same names. PROTOCOL.md section 8 defines the two lists;
// docs/PUBLISHING.md what a publisher serves besides them.
//
// # Names
//
// Every name starts with the campaign's name and a hyphen (Prefix); a
// campaign's name is a lower-case DNS label, so it holds no '/', '*' or
// '.'. For campaign C, and W the word of one of the three lists (List:
// vote, auth or retracted):
//
//	C-W.log                  the list: one record a line, each ended by "\n" (LogName)
//	C-W.checkpoint           its latest signed checkpoint (CheckpointName)
//	C-W/checkpoint           the same, where C2SP tlog-tiles clients look (TileCheckpointName)
//	C-W.checkpoint.<n>       the checkpoint at size n, kept for every size a batch, or
//	                         an append of the retracted list, ended at (KeptCheckpointName)
//	C-W/tile/<L>/<N>[.p/<W>] a C2SP tlog-tiles hash tile (TileDir, TilePath)
//	C-W/tile/entries/<N>[.p/<W>]  an entry bundle: lines of the list
//	C-history.log            one line per batch (HistoryName)
//	C-log.vkey               the note verifier key of the checkpoints (LogKeyName)
//	C-settings.yaml          the campaign's public settings (SettingsName)
//	C-receipt.key            the receipt public key (ReceiptKeyName)
//	C-keys.txt               the public keys published at the close (KeysName)
//	C-archive.tar.gz         everything an offline audit needs, written at the close (ArchiveName)
//
// The size n of a kept checkpoint is in decimal without leading zeros. A
// name is the same in the publisher's folder, in the URL path (after a
// '/') of the edge and of the publisher, and inside the archive (after
// "C/"); a folder of downloaded files holds the plain names, the tiles
// aside. Parse reads every name back, and only the spelling the functions
// give: two names never mean the same file.
//
// # Origins
//
// The checkpoint of list W of campaign C is a signed note (C2SP
// tlog-checkpoint) whose first line, the origin, is "powvote/C/W"
// (Origin): a checkpoint of one list cannot pass for another list's, or
// for another campaign's.
package published

import (
	"strconv"
	"strings"
)

// A List is one of the three Merkle tree logs a campaign publishes. Its
// value is the word that names the list's files and ends its origin.
type List string

const (
	Vote      List = "vote"      // the votes list: P-UTC P-SIG Voter nonce "option"
	Auth      List = "auth"      // the voters list: auth-pkey auth-sig auth-id
	Retracted List = "retracted" // the retracted votes, each bound to the vote that won
)

// lists are the three lists, in the order above.
var lists = [...]List{Vote, Auth, Retracted}

// Prefix is what every name of campaign's files starts with: "solar-".
func Prefix(campaign string) string { return campaign + "-" }

// LogName is the name of list l: "solar-vote.log".
func LogName(campaign string, l List) string { return Prefix(campaign) + string(l) + ".log" }

// CheckpointName is the name of the latest checkpoint of list l:
// "solar-vote.checkpoint".
func CheckpointName(campaign string, l List) string {
	return Prefix(campaign) + string(l) + ".checkpoint"
}

// KeptCheckpointName is the name of the checkpoint of list l at size
// lines, which the publisher keeps for good: "solar-vote.checkpoint.308".
// Size must not be negative.
func KeptCheckpointName(campaign string, l List, size int64) string {
	return CheckpointName(campaign, l) + "." + strconv.FormatInt(size, 10)
}

// ParseKeptCheckpointName reads a name KeptCheckpointName gives for
// campaign, and nothing else: ok is false for any other name, for a size
// with a sign or leading zeros, and for one beyond an int64.
func ParseKeptCheckpointName(campaign, name string) (l List, size int64, ok bool) {
	for _, l := range lists {
		num, found := strings.CutPrefix(name, CheckpointName(campaign, l)+".")
		if !found {
			continue
		}
		size, err := strconv.ParseInt(num, 10, 64)
		if err != nil || size < 0 || strconv.FormatInt(size, 10) != num {
			return "", 0, false
		}
		return l, size, true
	}
	return "", 0, false
}

// TileCheckpointName is where C2SP tlog-tiles clients look for the latest
// checkpoint of list l, the same bytes as CheckpointName's:
// "solar-vote/checkpoint".
func TileCheckpointName(campaign string, l List) string {
	return Prefix(campaign) + string(l) + "/checkpoint"
}

// TileDir is the folder of the C2SP tlog-tiles tiles of list l:
// "solar-vote/tile". A tile is TileDir, "/" and its TilePath.
func TileDir(campaign string, l List) string { return Prefix(campaign) + string(l) + "/tile" }

// Origin is the origin line of the checkpoints of list l:
// "powvote/solar/vote".
func Origin(campaign string, l List) string { return "powvote/" + campaign + "/" + string(l) }

// HistoryName is the history: one line per batch, "<size> <unix time>
// <count of option 1> ... <count of option N>": "solar-history.log".
func HistoryName(campaign string) string { return Prefix(campaign) + "history.log" }

// LogKeyName is the note verifier key that signs the checkpoints:
// "solar-log.vkey".
func LogKeyName(campaign string) string { return Prefix(campaign) + "log.vkey" }

// SettingsName is the campaign's public settings, as in campaign.yaml:
// "solar-settings.yaml".
func SettingsName(campaign string) string { return Prefix(campaign) + "settings.yaml" }

// ReceiptKeyName is the receipt public key, one line of standard base64:
// "solar-receipt.key".
func ReceiptKeyName(campaign string) string { return Prefix(campaign) + "receipt.key" }

// KeysName is the keys file, published at the close (404 before):
// "solar-keys.txt".
func KeysName(campaign string) string { return Prefix(campaign) + "keys.txt" }

// ArchiveName is the archive of everything an offline audit needs,
// published at the close (404 before): "solar-archive.tar.gz".
func ArchiveName(campaign string) string { return Prefix(campaign) + "archive.tar.gz" }

// A Kind tells which of the published files a name is.
type Kind int

const (
	Log            Kind = iota + 1 // LogName
	Checkpoint                     // CheckpointName
	TileCheckpoint                 // TileCheckpointName
	KeptCheckpoint                 // KeptCheckpointName
	Tile                           // TileDir and TilePath
	History                        // HistoryName
	LogKey                         // LogKeyName
	Settings                       // SettingsName
	ReceiptKey                     // ReceiptKeyName
	Keys                           // KeysName
	Archive                        // ArchiveName
)

// A File is what Parse reads from a name.
type File struct {
	Kind Kind
	List List  // of a Log, Checkpoint, TileCheckpoint, KeptCheckpoint or Tile; "" otherwise
	Size int64 // of a KeptCheckpoint
	// Of a Tile, as ParseTilePath reads them: Level is -1 for an entry
	// bundle.
	Level int
	N     int64
	Width int
}

// files are the names that hold no list.
var files = [...]struct {
	kind Kind
	name func(campaign string) string
}{
	{History, HistoryName},
	{LogKey, LogKeyName},
	{Settings, SettingsName},
	{ReceiptKey, ReceiptKeyName},
	{Keys, KeysName},
	{Archive, ArchiveName},
}

// Parse reads a name of one of campaign's files, as the functions above
// give it, and reports false for any other name: another campaign's, a
// list that does not exist, a kept checkpoint's size or a tile path
// spelled another way.
func Parse(campaign, name string) (File, bool) {
	if !strings.HasPrefix(name, Prefix(campaign)) {
		return File{}, false
	}
	for _, f := range files {
		if name == f.name(campaign) {
			return File{Kind: f.kind}, true
		}
	}
	for _, l := range lists {
		switch name {
		case LogName(campaign, l):
			return File{Kind: Log, List: l}, true
		case CheckpointName(campaign, l):
			return File{Kind: Checkpoint, List: l}, true
		case TileCheckpointName(campaign, l):
			return File{Kind: TileCheckpoint, List: l}, true
		}
		if path, ok := strings.CutPrefix(name, TileDir(campaign, l)+"/"); ok {
			level, n, w, ok := ParseTilePath(path)
			if !ok {
				return File{}, false
			}
			return File{Kind: Tile, List: l, Level: level, N: n, Width: w}, true
		}
	}
	if l, size, ok := ParseKeptCheckpointName(campaign, name); ok {
		return File{Kind: KeptCheckpoint, List: l, Size: size}, true
	}
	return File{}, false
}
