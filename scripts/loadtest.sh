#!/usr/bin/env bash
# Runs powvote loadtest against powvote up on this machine: a fresh
# campaign with a low proof-of-work threshold (the load tool solves every
# vote's work before the timed phase), RATE votes/s for DURATION after a
# RAMP, no /list or /stamp traffic beside the votes so that the server CPU
# per vote is the votes' own. Prints the machine, the report, and keeps it
# as JSON in OUT. The server CPU is that of the whole `powvote up` process
# (edge, both collectors and the publisher).
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-5000}
DURATION=${DURATION:-5m}
RAMP=${RAMP:-10s}
ADDR=${ADDR:-127.0.0.1:18080}
OUT=${OUT:-loadtest-report.json}
# PROFILE=FILE also takes a 20 s CPU profile of powvote up in the middle
# of the timed phase (go tool pprof -top bin/powvote FILE).
PROFILE=${PROFILE:-}
PPROF_ADDR=${PPROF_ADDR:-127.0.0.1:16060}
EXTRA=${EXTRA:-}
# UP_EXTRA: more flags for powvote up, e.g. --insecure-plain-internal-http
# to measure what TLS on the internal links costs.
UP_EXTRA=${UP_EXTRA:-}
# UP_LOG=FILE keeps powvote up's log (the collectors report every minute
# the links and pending voters their stores hold).
UP_LOG=${UP_LOG:-}

go build -o bin/powvote ./cmd/powvote
data=$(mktemp -d)
up_pid=
cleanup() {
	if [ -n "$up_pid" ]; then kill "$up_pid" 2>/dev/null || true; wait "$up_pid" 2>/dev/null || true; fi
	if [ -n "$UP_LOG" ] && [ -f "$data/up.log" ]; then cp "$data/up.log" "$UP_LOG"; fi
	rm -rf "$data"
}
trap cleanup EXIT

bin/powvote init load --dir "$data" --threshold 8 --batch-size 100 \
	--option "Evil Neptune" --option "Humble Pluto" --option "Zürich" >/dev/null
# Every connection of the load comes from this machine's one address:
# no per-address connection limit.
# shellcheck disable=SC2086
bin/powvote up --dir "$data" --addr "$ADDR" --pprof "$PPROF_ADDR" --max-conns-per-ip 0 $UP_EXTRA >"$data/up.log" 2>&1 &
up_pid=$!
for _ in $(seq 100); do
	if curl -fsS -o /dev/null "http://$ADDR/list" 2>/dev/null; then break; fi
	sleep 0.1
done

scripts/machine.sh
echo "run:     $RATE votes/s for $DURATION after a $RAMP ramp"
echo
if [ -n "$PROFILE" ]; then
	# The profile starts once the preparation is over: when the load
	# tool's first live line appears.
	(
		while ! grep -q 'sent' "$data/lt.err" 2>/dev/null; do sleep 0.2; done
		sleep 5
		curl -fsS -o "$PROFILE" "http://$PPROF_ADDR/debug/pprof/profile?seconds=20"
	) &
	prof_pid=$!
fi
# shellcheck disable=SC2086
bin/powvote loadtest --edge "http://$ADDR" --dir "$data" --rate "$RATE" --duration "$DURATION" \
	--ramp "$RAMP" --no-browse --server-pid "$up_pid" --out "$OUT" $EXTRA 2> >(tee "$data/lt.err" >&2)
if [ -n "$PROFILE" ]; then wait "$prof_pid"; fi
