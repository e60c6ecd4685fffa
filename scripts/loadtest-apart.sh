#!/usr/bin/env bash
# Runs powvote loadtest against the platform as separate processes on
# this machine, as docs/DEPLOY.md lays it out on several: collector
# instances 0 and 1 on 127.0.0.2 and 127.0.0.3, the publisher on
# 127.0.0.4 and the edge on 127.0.0.5, each from its own role's export,
# with mutual TLS on every internal link. The campaign, the rate and the
# report are those of scripts/loadtest.sh (RATE, DURATION, RAMP, OUT,
# EXTRA); the server CPU is the sum of the four processes'.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-5000}
DURATION=${DURATION:-5m}
RAMP=${RAMP:-10s}
OUT=${OUT:-loadtest-apart-report.json}
EXTRA=${EXTRA:-}
C=load

go build -o bin/powvote ./cmd/powvote
data=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$data"
}
trap cleanup EXIT

bin/powvote init "$C" --dir "$data/ops" --threshold 8 --batch-size 100 \
	--option "Evil Neptune" --option "Humble Pluto" --option "Zürich" >/dev/null
bin/powvote export --dir "$data/ops" --campaign "$C" --role edge --out "$data/edge" >/dev/null
bin/powvote export --dir "$data/ops" --campaign "$C" --role publisher --out "$data/publisher" >/dev/null
for i in 0 1; do
	bin/powvote export --dir "$data/ops" --campaign "$C" --role collector --instance "$i" --out "$data/collector-$i" >/dev/null
done

col=(https://127.0.0.2:7101 https://127.0.0.3:7101)
pair="${col[0]},${col[1]}"
bin/powvote collector --dir "$data/collector-0" --instance 0 --listen 127.0.0.2:7101 --twin "${col[1]}" 2>"$data/c0.log" &
pids+=($!)
bin/powvote collector --dir "$data/collector-1" --instance 1 --listen 127.0.0.3:7101 --twin "${col[0]}" 2>"$data/c1.log" &
pids+=($!)
bin/powvote publisher --dir "$data/publisher" --listen 127.0.0.4:7102 --pair "$pair" 2>"$data/pub.log" &
pids+=($!)
# Every connection of the load comes from this machine's one address:
# no per-address connection limit.
bin/powvote edge --dir "$data/edge" --listen 127.0.0.5:7103 --pair "$pair" \
	--publisher http://127.0.0.4:7102 --max-conns-per-ip 0 2>"$data/edge.log" &
pids+=($!)
for _ in $(seq 100); do
	if curl -fsS -o /dev/null "http://127.0.0.5:7103/list" 2>/dev/null; then break; fi
	sleep 0.1
done

scripts/machine.sh
echo "run:     $RATE votes/s for $DURATION after a $RAMP ramp, four processes, internal TLS"
echo
serverpids=()
for p in "${pids[@]}"; do serverpids+=(--server-pid "$p"); done
# shellcheck disable=SC2086
bin/powvote loadtest --edge "http://127.0.0.5:7103" --dir "$data/ops" --campaign "$C" --rate "$RATE" \
	--duration "$DURATION" --ramp "$RAMP" --no-browse "${serverpids[@]}" --out "$OUT" $EXTRA
