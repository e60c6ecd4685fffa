#!/usr/bin/env bash
# Runs the benchmarks quoted in BENCHMARKS.md and prints them with the
# machine they ran on. Compare figures as ratios within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "nproc:   $(nproc)"
echo "cpu:     $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "go:      $(go version)"
echo
go test ./pow -run '^$' -bench . -benchtime 2s -count 3
