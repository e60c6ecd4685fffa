package published

import (
	"fmt"
	"strconv"
	"strings"
)

// Tiles follow C2SP tlog-tiles: TileHeight levels of the tree to a tile,
// TileWidth hashes, or lines, in a full one.
const (
	TileHeight = 8
	TileWidth  = 1 << TileHeight
)

// TilePath is the path of a tile below TileDir (C2SP tlog-tiles):
// "<L>/<N>[.p/<W>]". Level is the tile's level, or -1 for an entry bundle,
// which "entries" names (as golang.org/x/mod/sumdb/tlog numbers its data
// tiles); n is written in groups of three digits, all but the last
// prefixed with "x"; w is the width, TileWidth for a full tile, written
// after ".p/" when it is smaller:
//
//	TilePath(0, 1234067, 256) = "0/x001/x234/067"
//	TilePath(-1, 1000, 7)     = "entries/x001/000.p/7"
//
// A tlog.Tile t of height TileHeight is at TilePath(t.L, t.N, t.W).
func TilePath(level int, n int64, w int) string {
	var b strings.Builder
	if level < 0 {
		b.WriteString("entries/")
	} else {
		b.WriteString(strconv.Itoa(level) + "/")
	}
	var groups []string
	for {
		groups = append(groups, fmt.Sprintf("%03d", n%1000))
		n /= 1000
		if n == 0 {
			break
		}
	}
	for i := len(groups) - 1; i > 0; i-- {
		b.WriteString("x" + groups[i] + "/")
	}
	b.WriteString(groups[0])
	if w < TileWidth {
		b.WriteString(".p/" + strconv.Itoa(w))
	}
	return b.String()
}

// ParseTilePath reads what TilePath writes and nothing else: a path that
// would be written differently (leading zeros, a group without its "x",
// a width of 0 or of TileWidth and more) is refused, so every tile has
// one name. Level is -1 for an entry bundle.
func ParseTilePath(path string) (level int, n int64, w int, ok bool) {
	first, rest, ok := strings.Cut(path, "/")
	if !ok {
		return 0, 0, 0, false
	}
	if first == "entries" {
		level = -1
	} else if level, ok = smallNumber(first, 63); !ok {
		return 0, 0, 0, false
	}
	w = TileWidth
	if idx, ws, partial := strings.Cut(rest, ".p/"); partial {
		if w, ok = smallNumber(ws, TileWidth-1); !ok || w == 0 {
			return 0, 0, 0, false
		}
		rest = idx
	}
	groups := strings.Split(rest, "/")
	if len(groups) > 7 { // beyond 2^63 leaves
		return 0, 0, 0, false
	}
	for i, g := range groups {
		if i < len(groups)-1 {
			if g, ok = strings.CutPrefix(g, "x"); !ok {
				return 0, 0, 0, false
			}
		}
		if len(g) != 3 || strings.Trim(g, "0123456789") != "" {
			return 0, 0, 0, false
		}
		d, _ := strconv.Atoi(g)
		if n > (1<<62)/1000 {
			return 0, 0, 0, false
		}
		n = n*1000 + int64(d)
	}
	if TilePath(level, n, w) != path {
		return 0, 0, 0, false
	}
	return level, n, w, true
}

// smallNumber reads a decimal number in [0, max] without leading zeros.
func smallNumber(s string, max int) (int, bool) {
	if s == "" || len(s) > 1 && s[0] == '0' || strings.Trim(s, "0123456789") != "" || len(s) > 4 {
		return 0, false
	}
	x, _ := strconv.Atoi(s)
	return x, x <= max
}
