package published_test

import (
	"fmt"

	"github.com/powvote/powvote/published"
)

// The names of campaign solar's files, as the publisher serves them and
// the audit reads them.
func Example() {
	c := "solar"
	fmt.Println(published.LogName(c, published.Vote))
	fmt.Println(published.CheckpointName(c, published.Auth))
	fmt.Println(published.KeptCheckpointName(c, published.Vote, 308))
	fmt.Println(published.TileCheckpointName(c, published.Retracted))
	fmt.Println(published.TileDir(c, published.Vote) + "/" + published.TilePath(0, 1234067, published.TileWidth))
	fmt.Println(published.TileDir(c, published.Auth) + "/" + published.TilePath(-1, 1, 7))
	fmt.Println(published.Origin(c, published.Vote))
	fmt.Println(published.HistoryName(c), published.LogKeyName(c), published.SettingsName(c))
	fmt.Println(published.ReceiptKeyName(c), published.KeysName(c), published.ArchiveName(c))

	f, ok := published.Parse(c, "solar-vote.checkpoint.308")
	fmt.Println(ok, f.Kind == published.KeptCheckpoint, f.List, f.Size)
	_, ok = published.Parse(c, "solar-vote.checkpoint.0308")
	fmt.Println(ok)
	// Output:
	// solar-vote.log
	// solar-auth.checkpoint
	// solar-vote.checkpoint.308
	// solar-retracted/checkpoint
	// solar-vote/tile/0/x001/x234/067
	// solar-auth/tile/entries/001.p/7
	// powvote/solar/vote
	// solar-history.log solar-log.vkey solar-settings.yaml
	// solar-receipt.key solar-keys.txt solar-archive.tar.gz
	// true true vote 308
	// false
}
