#!/usr/bin/env bash
# Runs every fuzz target of the module for $FUZZTIME each (default 30s).
# New crashers land in the package's testdata/fuzz/ and fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-30s}
status=0
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "fuzz $pkg $target ($fuzztime)"
		if ! go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" >/tmp/powvote-fuzz.log 2>&1; then
			cat /tmp/powvote-fuzz.log
			status=1
		fi
	done
done
exit $status
