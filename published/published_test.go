package published

import (
	"strconv"
	"strings"
	"testing"
)

// golden is every name of campaign solar, and what Parse reads from it.
var golden = []struct {
	name string
	file File
}{
	{"solar-vote.log", File{Kind: Log, List: Vote}},
	{"solar-auth.log", File{Kind: Log, List: Auth}},
	{"solar-retracted.log", File{Kind: Log, List: Retracted}},
	{"solar-vote.checkpoint", File{Kind: Checkpoint, List: Vote}},
	{"solar-auth.checkpoint", File{Kind: Checkpoint, List: Auth}},
	{"solar-retracted.checkpoint", File{Kind: Checkpoint, List: Retracted}},
	{"solar-vote/checkpoint", File{Kind: TileCheckpoint, List: Vote}},
	{"solar-auth/checkpoint", File{Kind: TileCheckpoint, List: Auth}},
	{"solar-retracted/checkpoint", File{Kind: TileCheckpoint, List: Retracted}},
	{"solar-vote.checkpoint.308", File{Kind: KeptCheckpoint, List: Vote, Size: 308}},
	{"solar-auth.checkpoint.0", File{Kind: KeptCheckpoint, List: Auth, Size: 0}},
	{"solar-retracted.checkpoint.9223372036854775807", File{Kind: KeptCheckpoint, List: Retracted, Size: 1<<63 - 1}},
	{"solar-vote/tile/0/x001/x234/067", File{Kind: Tile, List: Vote, Level: 0, N: 1234067, Width: 256}},
	{"solar-auth/tile/1/000.p/2", File{Kind: Tile, List: Auth, Level: 1, N: 0, Width: 2}},
	{"solar-retracted/tile/entries/000.p/1", File{Kind: Tile, List: Retracted, Level: -1, N: 0, Width: 1}},
	{"solar-history.log", File{Kind: History}},
	{"solar-log.vkey", File{Kind: LogKey}},
	{"solar-settings.yaml", File{Kind: Settings}},
	{"solar-receipt.key", File{Kind: ReceiptKey}},
	{"solar-keys.txt", File{Kind: Keys}},
	{"solar-archive.tar.gz", File{Kind: Archive}},
}

// name is the name the functions give f, for campaign.
func name(campaign string, f File) string {
	switch f.Kind {
	case Log:
		return LogName(campaign, f.List)
	case Checkpoint:
		return CheckpointName(campaign, f.List)
	case TileCheckpoint:
		return TileCheckpointName(campaign, f.List)
	case KeptCheckpoint:
		return KeptCheckpointName(campaign, f.List, f.Size)
	case Tile:
		return TileDir(campaign, f.List) + "/" + TilePath(f.Level, f.N, f.Width)
	case History:
		return HistoryName(campaign)
	case LogKey:
		return LogKeyName(campaign)
	case Settings:
		return SettingsName(campaign)
	case ReceiptKey:
		return ReceiptKeyName(campaign)
	case Keys:
		return KeysName(campaign)
	case Archive:
		return ArchiveName(campaign)
	}
	panic("kind " + strconv.Itoa(int(f.Kind)))
}

// TestGolden checks every name of campaign solar both ways.
func TestGolden(t *testing.T) {
	kinds := make(map[Kind]bool)
	for _, g := range golden {
		if got := name("solar", g.file); got != g.name {
			t.Errorf("%+v is named %q, want %q", g.file, got, g.name)
		}
		if f, ok := Parse("solar", g.name); !ok || f != g.file {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", g.name, f, ok, g.file)
		}
		if !strings.HasPrefix(g.name, Prefix("solar")) {
			t.Errorf("%q does not start with %q", g.name, Prefix("solar"))
		}
		kinds[g.file.Kind] = true
	}
	for k := Log; k <= Archive; k++ {
		if !kinds[k] {
			t.Errorf("no name of kind %d in the table", k)
		}
	}
}

// TestOrigin checks the origins of the three lists' checkpoints.
func TestOrigin(t *testing.T) {
	for l, want := range map[List]string{
		Vote:      "powvote/solar/vote",
		Auth:      "powvote/solar/auth",
		Retracted: "powvote/solar/retracted",
	} {
		if got := Origin("solar", l); got != want {
			t.Errorf("Origin(solar, %s) = %q, want %q", l, got, want)
		}
	}
}

// TestParseRefuses checks that Parse refuses other campaigns' names, other
// lists, and every other spelling of a kept checkpoint's size or of a tile.
func TestParseRefuses(t *testing.T) {
	for _, bad := range []string{
		"", "solar", "solar-", "solar-vote", "solar-vote.", "solar-town.log", "solar-vote.log.1",
		"solar-2-vote.log", "lunar-vote.log", "/solar-vote.log", "solar/vote.log", "solar-Vote.log",
		"solar-state.json", "solar-vote.hashes", "solar-history.log.1", "solar-history.checkpoint",
		"solar-vote.checkpoint.", "solar-vote.checkpoint.03", "solar-vote.checkpoint.+3",
		"solar-vote.checkpoint.-1", "solar-vote.checkpoint.-0", "solar-vote.checkpoint.3 ",
		"solar-vote.checkpoint.9223372036854775808", "solar-vote.checkpoint.0x10",
		"solar-vote/checkpoint.3", "solar-vote/tile", "solar-vote/tile/", "solar-vote/tile/0/x000/001",
		"solar-vote/tile/0/1", "solar-town/tile/0/000", "solar-vote/tile/entries/000.p/256",
		"solar-vote/tiles/0/000", "solar-vote.tile/0/000",
	} {
		if f, ok := Parse("solar", bad); ok {
			t.Errorf("Parse(%q) = %+v", bad, f)
		}
	}
	// The name of campaign solar-2's votes list is not one of solar's.
	if _, ok := Parse("solar", LogName("solar-2", Vote)); ok {
		t.Errorf("Parse(solar, %q) accepted", LogName("solar-2", Vote))
	}
	if f, ok := Parse("solar-2", "solar-2-vote.log"); !ok || f != (File{Kind: Log, List: Vote}) {
		t.Errorf("Parse(solar-2, solar-2-vote.log) = %+v, %v", f, ok)
	}
}

// TestParseKeptCheckpointName checks that the parser of kept checkpoints
// reads back what KeptCheckpointName writes, and no other name.
func TestParseKeptCheckpointName(t *testing.T) {
	for _, l := range lists {
		for _, size := range []int64{0, 1, 9, 10, 308, 1<<63 - 1} {
			n := KeptCheckpointName("solar", l, size)
			if got, gotSize, ok := ParseKeptCheckpointName("solar", n); !ok || got != l || gotSize != size {
				t.Errorf("ParseKeptCheckpointName(%q) = %s %d %v", n, got, gotSize, ok)
			}
		}
	}
	for _, bad := range []string{"solar-vote.checkpoint", "solar-vote.checkpoint.007", "lunar-vote.checkpoint.7", "solar-vote.log"} {
		if _, _, ok := ParseKeptCheckpointName("solar", bad); ok {
			t.Errorf("ParseKeptCheckpointName(%q) accepted", bad)
		}
	}
}

// FuzzParse checks that a file has one name: whatever Parse accepts, the
// functions name byte for byte.
func FuzzParse(f *testing.F) {
	for _, g := range golden {
		f.Add("solar", g.name)
	}
	f.Fuzz(func(t *testing.T, campaign, n string) {
		file, ok := Parse(campaign, n)
		if !ok {
			return
		}
		if got := name(campaign, file); got != n {
			t.Fatalf("Parse(%q, %q) = %+v, named %q", campaign, n, file, got)
		}
	})
}
