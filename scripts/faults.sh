#!/usr/bin/env bash
# Runs the fault-injection suite (TestFaults in cmd/powvote) with every
# scenario: the platform as separate processes (edge, collector instances
# 0 and 1, publisher) under `powvote loadtest` at 300 votes/s for 30 s,
# one fault per scenario on a fresh campaign (kill -9 of each process, a
# collector down or frozen, a torn votes.log, a full disk, a collector's
# clock three minutes behind or ahead), then the load test's
# zero-loss verdict and `powvote audit`. make test runs three of the
# scenarios; this runs all of them (a few minutes). The summary table is
# printed at the end and, with POWVOTE_ARTIFACTS set, kept in
# $POWVOTE_ARTIFACTS/faults.txt. The disk-full scenario mounts a small
# tmpfs and so needs root; without it that scenario is reported as skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
POWVOTE_FAULTS=all go test ./cmd/powvote -run '^TestFaults$' -count=1 -v -timeout 15m "$@"
