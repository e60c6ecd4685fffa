package published

import "testing"

// TestTilePath checks the C2SP tlog-tiles names of tiles both ways.
func TestTilePath(t *testing.T) {
	for _, c := range []struct {
		level int
		n     int64
		w     int
		path  string
	}{
		{0, 1234067, 256, "0/x001/x234/067"},
		{0, 0, 256, "0/000"},
		{-1, 0, 256, "entries/000"},
		{-1, 1000, 7, "entries/x001/000.p/7"},
		{2, 5, 255, "2/005.p/255"},
		{63, 1<<62 - 1, 1, "63/x004/x611/x686/x018/x427/x387/903.p/1"},
	} {
		if got := TilePath(c.level, c.n, c.w); got != c.path {
			t.Errorf("TilePath(%d, %d, %d) = %q, want %q", c.level, c.n, c.w, got, c.path)
		}
		if l, n, w, ok := ParseTilePath(c.path); !ok || l != c.level || n != c.n || w != c.w {
			t.Errorf("ParseTilePath(%q) = %d %d %d %v", c.path, l, n, w, ok)
		}
	}
	for _, bad := range []string{
		"", "0", "0/", "00/000", "64/000", "0/0", "0/1234067", "0/001/234", "0/x000/001",
		"0/000.p/256", "0/000.p/0", "0/000.p/08", "0/000.p/", "entry/000", "-1/000", "0/x1/000",
		"0/x010/x000/x000/x000/x000/x000/000", // 10^19 leaves, beyond an int64
	} {
		if _, _, _, ok := ParseTilePath(bad); ok {
			t.Errorf("ParseTilePath(%q) accepted", bad)
		}
	}
}

// FuzzParseTilePath checks that a tile has one path: whatever
// ParseTilePath accepts, TilePath writes back byte for byte.
func FuzzParseTilePath(f *testing.F) {
	f.Add("0/x001/x234/067")
	f.Add("entries/x001/000.p/7")
	f.Add("2/005.p/255")
	f.Fuzz(func(t *testing.T, path string) {
		level, n, w, ok := ParseTilePath(path)
		if !ok {
			return
		}
		if level < -1 || level > 63 || n < 0 || w < 1 || w > TileWidth {
			t.Fatalf("ParseTilePath(%q) = %d %d %d", path, level, n, w)
		}
		if got := TilePath(level, n, w); got != path {
			t.Fatalf("ParseTilePath(%q) writes back as %q", path, got)
		}
	})
}
