#!/usr/bin/env bash
# Prints the machine a benchmark or load run ran on, as BENCHMARKS.md
# quotes it: the date, nproc, the CPU model, Go and the load average.
# The benchmark scripts run it before their figures.
echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "nproc:   $(nproc)"
echo "cpu:     $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "go:      $(go version)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg)"
