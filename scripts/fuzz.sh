#!/usr/bin/env bash
# Runs every fuzz target of the module for $FUZZTIME each (default 30s; a
# count such as 20000x runs that many inputs instead), $FUZZJOBS targets at
# a time (default: one per CPU), each with ceil(CPUs / FUZZJOBS) fuzzing
# workers: a target spends seconds building and starting before it fuzzes,
# and another target's fuzzing fills that time. New crashers land in the
# package's testdata/fuzz/ and fail the run.
#
# Go 1.26's fuzzing coordinator can report a bare "context deadline
# exceeded" when a duration -fuzztime ends while a worker is mid-input on a
# loaded machine (golang.org/issue/75804, fixed in Go 1.27). Such a run
# wrote no failing input and found nothing, so it is run once more rather
# than failed; a failing input, a panic or any other error fails at once.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-30s}
cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
jobs=${FUZZJOBS:-$(( cpus > 0 ? cpus : 1 ))}
workers=$(( (cpus + jobs - 1) / jobs ))
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# fuzz_one runs one target, once more after the coordinator's deadline race,
# and leaves its log in $work/<n>.log and "ok" or "fail" in $work/<n>.status.
fuzz_one() {
	local n=$1 pkg=$2 target=$3 log="$work/$1.log"
	for attempt in 1 2; do
		if go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -parallel "$workers" >"$log" 2>&1; then
			echo ok >"$work/$n.status"
			return
		fi
		if [ "$attempt" = 1 ] && grep -q 'context deadline exceeded' "$log" &&
			! grep -q -e 'Failing input written' -e 'panic:' -e '_test.go:[0-9]*:' "$log"; then
			echo "  $target: the coordinator's deadline race (no input found); running again"
			continue
		fi
		break
	done
	echo fail >"$work/$n.status"
}

targets=()
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		targets+=("$pkg $target")
	done
done
echo "fuzz: ${#targets[@]} targets, $fuzztime each, $jobs at a time, $workers workers each"

n=0
for t in "${targets[@]}"; do
	# Wait for a free slot.
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n || true
	done
	n=$((n + 1))
	read -r pkg target <<<"$t"
	echo "fuzz $pkg $target ($fuzztime)"
	fuzz_one "$n" "$pkg" "$target" &
done
wait

status=0
for i in $(seq 1 "$n"); do
	if [ "$(cat "$work/$i.status" 2>/dev/null)" != ok ]; then
		echo "FAIL: ${targets[$((i - 1))]}"
		cat "$work/$i.log"
		status=1
	fi
done
[ "$status" = 0 ] && echo "fuzz: all ${#targets[@]} targets passed"
exit $status
