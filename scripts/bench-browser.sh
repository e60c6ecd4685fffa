#!/usr/bin/env bash
# Runs BenchmarkBrowserPow: the voter app's proof of work in headless
# Chromium against the native solver, in one run, with the machine it ran
# on. Needs Chromium at /usr/bin/chromium. COUNT runs (default 2);
# POWVOTE_POW_TIME sets each side's search time (default 5s).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/machine.sh
echo "browser: $(/usr/bin/chromium --version 2>/dev/null || echo 'not found at /usr/bin/chromium')"
echo
go test ./cmd/powvote -run '^$' -bench '^BenchmarkBrowserPow$' -benchtime 1x -count "${COUNT:-2}" -timeout 10m
