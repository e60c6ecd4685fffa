//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// readHidden reads a line from the terminal f through in with echo off,
// and turns echo back on when done. An interrupt (ctx ends) turns it back
// on and returns at once, so that the terminal is never left silent.
func readHidden(ctx context.Context, f *os.File, in *bufio.Reader) (string, error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return "", err
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ISIG
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return "", err
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, old)
	type read struct {
		line string
		err  error
	}
	got := make(chan read, 1)
	// On an interrupt this goroutine stays blocked in the read; the
	// command returns and the process ends.
	go func() {
		line, err := readLine(in)
		got <- read{line, err}
	}()
	select {
	case r := <-got:
		return r.line, r.err
	case <-ctx.Done():
		return "", errors.New("interrupted")
	}
}
