package campaign

import (
	"path/filepath"
	"strconv"
)

// CollectorDir is where collecting instance n of the campaign keeps its
// stores by default: D/<name>/collector-<n>.
func (c *Campaign) CollectorDir(instance int) string {
	return filepath.Join(c.Dir, "collector-"+strconv.Itoa(instance))
}

// PublishedDir is where the campaign's publisher keeps the published
// lists, their logs and its state: D/<name>/published.
func (c *Campaign) PublishedDir() string { return filepath.Join(c.Dir, "published") }
