// Package web holds the browser applications the edge serves (PROTOCOL.md
// 5): plain files, no build step and no third-party code, so that anyone can
// read what runs on a voter's device from the repository itself.
//
// The voter app, under voter/, is the browser counterpart of package client:
// it reads the ballot, checks the booth code, fetches a platform stamp, does
// the proof of work in Web Workers while the voter types the mandate card,
// casts the vote and shows and saves the receipt.
package web

import "embed"

// FS holds the applications, each in its own directory (voter/...). The
// edge serves it under /app/ and opens voter/index.html at /.
//
//go:embed voter
var FS embed.FS
