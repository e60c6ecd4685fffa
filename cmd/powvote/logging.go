package main

import (
	"log/slog"
	"os"
	"strings"
)

// logEnv names the environment variable that sets the servers' log level:
// debug, info (the default), warn or error. Debug logs every refused
// request with its cause; no level logs a secret (TestSecretsStayOut runs
// at debug).
const logEnv = "POWVOTE_LOG"

// newLogger returns the text logger a server command writes to e.Stderr,
// at the level of POWVOTE_LOG.
func newLogger(e *env) (*slog.Logger, error) {
	var level slog.Level
	if v := os.Getenv(logEnv); v != "" {
		if err := level.UnmarshalText([]byte(strings.ToUpper(v))); err != nil {
			return nil, usagef("%s=%q: want debug, info, warn or error", logEnv, v)
		}
	}
	return slog.New(slog.NewTextHandler(e.Stderr, &slog.HandlerOptions{Level: level})), nil
}
