#!/usr/bin/env bash
# Runs the benchmarks quoted in BENCHMARKS.md and prints them with the
# machine they ran on. Compare figures as ratios within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/machine.sh
echo
go test ./pow -run '^$' -bench . -benchtime 2s -count 3
echo
# The edge under load over loopback, each against the floor of HTTP on this
# machine (a fasthttp server that only sets the status), and the handler
# alone with its allocations.
go test ./edge -run '^$' -bench '^BenchmarkEdge(JunkVotes|Stamp)$' -benchtime 1x -count 3
go test ./edge -run '^$' -bench '^BenchmarkHandle' -benchtime 200000x -count 3
echo
# The platform under votes: powvote loadtest against powvote up
# (RATE, DURATION as for make loadtest; the targets are 5000 votes/s for 5
# minutes). The voter table at 10 million mandates is make bench-table.
# A run that misses its targets exits non-zero; its report is the figure.
if [ -z "${SKIP_LOADTEST:-}" ]; then
	scripts/loadtest.sh || echo "loadtest exited with status $?: see its report above"
fi
