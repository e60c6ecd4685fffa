//go:build !linux

package main

import (
	"bufio"
	"context"
	"errors"
	"os"
)

// isTerminal reports whether f is a character device: a terminal,
// most likely.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// readHidden refuses: turning echo off is done for Linux only, and a
// password must not show on the screen.
func readHidden(context.Context, *os.File, *bufio.Reader) (string, error) {
	return "", errors.New("reading a password from a terminal without echo works on Linux only: pipe it in (e.g. from a password manager)")
}
