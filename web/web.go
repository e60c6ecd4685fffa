// Package web holds the browser applications the edge serves (PROTOCOL.md
// 5): plain files, no build step and no third-party code, so that anyone can
// read what runs on a voter's device from the repository itself.
//
// The voter app, under voter/, is the browser counterpart of package client:
// it reads the ballot, checks the booth code, fetches a platform stamp, does
// the proof of work in Web Workers while the voter types the mandate card,
// casts the vote and shows and saves the receipt.
//
// The results page, under check/, reads the published lists, recomputes
// every vote's proof of work in Web Workers (with the voter app's SHA-256),
// shows the tally, the work and the votes over time, finds a voter's vote
// by stamp and checks a saved receipt against the votes list.
package web

import "embed"

// FS holds the applications, each in its own directory (voter/...,
// check/...). The edge serves it under /app/ and opens voter/index.html at
// /; the results page is /app/check/index.html.
//
//go:embed voter check
var FS embed.FS
