#!/bin/sh
# RTL coverage (`make coverage`): Verilator line and toggle coverage of rtl/
# from the RTL walker's test suite.
#
#   1. configures a separate build (build-coverage/) with the walker Verilated
#      --coverage-line --coverage-toggle (-DMMCOSIM_RTL_COVERAGE=ON),
#   2. builds the RTL test binaries and runs them through ctest (-L rtl-systemc);
#      every test process writes its counts to out/coverage/data/,
#   3. merges them (out/coverage/coverage.dat), writes the annotated sources
#      (out/coverage/annotated/, verilator_coverage --annotate) and a summary
#      (out/coverage/summary.txt), and prints the line-coverage percentage.
#
# Environment: COVERAGE_BUILD (default build-coverage), COVERAGE_OUT
# (default out/coverage), JOBS (default nproc), COVERAGE_MIN (fail below
# this line-coverage percentage; default 95).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${COVERAGE_BUILD:-$root/build-coverage}
out=${COVERAGE_OUT:-$root/out/coverage}
jobs=${JOBS:-$(nproc)}
min=${COVERAGE_MIN:-95}

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMMCOSIM_RTL_COVERAGE=ON >/dev/null
targets="rtl_walker_directed_test rtl_walker_random_test rtl_walker_assertions_test"
if ninja -C "$build" -t targets all 2>/dev/null | grep -q '^rtl_walker_differential_test:'; then
  targets="$targets rtl_walker_differential_test"
fi
# shellcheck disable=SC2086
cmake --build "$build" -j "$jobs" --target $targets

rm -rf "$out"
mkdir -p "$out/data"
MMCOSIM_RTL_COVERAGE_DIR="$out/data" ctest --test-dir "$build" -L rtl-systemc -j "$jobs" --output-on-failure

set -- "$out"/data/*.dat
[ -e "$1" ] || { echo "coverage: no coverage data written (was the model built with coverage?)" >&2; exit 1; }
verilator_coverage --write "$out/coverage.dat" "$@" >/dev/null
verilator_coverage --annotate "$out/annotated" --annotate-all --annotate-min 1 "$out/coverage.dat" > "$out/annotate.log" 2>&1

# Points by kind: line coverage is Verilator's block and branch points
# (v_line/..., v_branch/...), toggle coverage its v_toggle/... points. A
# point counts once over all walker instances (the hierarchy field dropped).
status=0
awk -v min="$min" '
  /^C / {
    n = $NF
    key = $0
    sub(/ [0-9]+$/, "", key)
    gsub(/\001h\002[^\001'"'"']*/, "", key)
    kind = ""
    if (index(key, "v_toggle/")) kind = "toggle"
    else if (index(key, "v_line/") || index(key, "v_branch/")) kind = "line"
    if (kind == "") next
    if (!(key in count)) { count[key] = 0; kinds[key] = kind }
    count[key] += n
  }
  END {
    for (key in count) {
      total[kinds[key]]++
      if (count[key] > 0) hit[kinds[key]]++
    }
    for (k in total) pct[k] = 100.0 * hit[k] / total[k]
    printf "RTL line coverage:   %6.2f%% (%d of %d points)\n", pct["line"], hit["line"], total["line"]
    printf "RTL toggle coverage: %6.2f%% (%d of %d points)\n", pct["toggle"], hit["toggle"], total["toggle"]
    if (pct["line"] < min) { printf "coverage: line coverage below %s%%\n", min; exit 1 }
  }' "$out/coverage.dat" > "$out/summary.txt" || status=1
cat "$out/summary.txt"
echo "annotated sources: $out/annotated/ (lines prefixed %000000 were never reached)"
exit $status
