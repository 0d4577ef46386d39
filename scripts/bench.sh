#!/bin/sh
# Runs every Google Benchmark binary of the build (targets named bench_*),
# with repetitions so medians can be quoted. Usage: scripts/bench.sh [BUILD_DIR] [extra benchmark args]
set -eu
build="${1:-build}"
[ $# -gt 0 ] && shift
found=0
for b in $(find "$build" -type f -name 'bench_*' -perm -u+x | sort); do
    found=1
    echo "== $b"
    "$b" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true "$@"
done
[ "$found" = 1 ] || { echo "bench: no bench_* binaries under $build (build first)" >&2; exit 1; }
