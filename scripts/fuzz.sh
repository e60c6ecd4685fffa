#!/usr/bin/env bash
# Runs every fuzz target of the module for $FUZZTIME each (default 30s; a
# count such as 20000x runs that many inputs instead). New crashers land in
# the package's testdata/fuzz/ and fail the run.
#
# Go 1.26's fuzzing coordinator can report a bare "context deadline
# exceeded" when a duration -fuzztime ends while a worker is mid-input on a
# loaded machine (golang.org/issue/75804, fixed in Go 1.27). Such a run
# wrote no failing input and found nothing, so it is run once more rather
# than failed; a failing input, a panic or any other error fails at once.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-30s}
status=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		for attempt in 1 2; do
			echo "fuzz $pkg $target ($fuzztime)"
			if go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" >"$log" 2>&1; then
				break
			fi
			if [ "$attempt" = 1 ] && grep -q 'context deadline exceeded' "$log" &&
				! grep -q -e 'Failing input written' -e 'panic:' -e '_test.go:[0-9]*:' "$log"; then
				echo "  the coordinator's deadline race (no input found); running again"
				continue
			fi
			cat "$log"
			status=1
			break
		done
	done
done
exit $status
