#!/bin/bash
# make bench: every Google Benchmark binary of the build (targets named
# bench_*, with repetitions so medians can be quoted), then the speed table
# of docs/performance.md, each row as a ratio to a baseline measured here,
# in the same run (absolute times vary between machines; the ratios less).
# Times are host CPU time (user + system) of the whole process for mmcosim
# runs and `xz -dc` (the replay rows also by wall time); the benchmarks'
# per-iteration CPU time for bench_workload and bench_mmu; lockstep's own
# host wall time per walk for the RTL row. A row whose baseline is another
# program (the replays against `xz -dc`, the default run against its native
# loop) runs them in rounds, one right after the other, BENCH_ROUNDS times
# (default 5), and its ratio is the median of the rounds' ratios: a shared
# host's speed drifts within a sitting, and one round sees the same host.
# The RTL row is the median of three lockstep runs' ratios, the miss row
# bench_mmu's medians of five repetitions, the boot rows medians of three
# runs (their targets are absolute: 2 s, 1 GiB).
# Usage: scripts/bench.sh [BUILD_DIR] [extra benchmark args]
#        scripts/bench.sh BUILD_DIR --table-only   (the table alone)
set -euo pipefail
build="${1:-build}"
[ $# -gt 0 ] && shift
table_only=0
if [ "${1:-}" = "--table-only" ]; then table_only=1; shift; fi
rounds="${BENCH_ROUNDS:-5}"
case "$rounds" in '' | *[!0-9]* | 0) echo "bench: BENCH_ROUNDS must be a positive integer, not '$rounds'" >&2; exit 2 ;; esac

if [ "$table_only" = 0 ]; then
    found=0
    for b in $(find "$build" -type f -name 'bench_*' -perm -u+x | sort); do
        found=1
        echo "== $b"
        "$b" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true "$@"
    done
    [ "$found" = 1 ] || { echo "bench: no bench_* binaries under $build (build first)" >&2; exit 1; }
fi

mmcosim="$build/mmcosim"
for f in "$mmcosim" "$build/tb/workload/bench_workload" "$build/tb/hw/mmu/bench_mmu"; do
    [ -e "$f" ] || { echo "bench: $f is missing (build first)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# cpu CMD...: seconds of host CPU time of the command (its output dropped);
# its peak resident set, KiB, is appended to $tmp/rss.
cpu() {
    /usr/bin/time -f '%U %S %M' -o "$tmp/time" "$@" >/dev/null 2>&1 || { echo "bench: failed: $*" >&2; exit 1; }
    awk '{print $3}' "$tmp/time" >> "$tmp/rss"
    awk '{printf "%.3f\n", $1 + $2}' "$tmp/time"
}
# The median peak RSS of the last median3, KiB.
rss_median() { tail -n 3 "$tmp/rss" | sort -g | sed -n 2p; }
# median3 CMD...: the median of three cpu() measurements.
median3() {
    { cpu "$@"; cpu "$@"; cpu "$@"; } | sort -g | sed -n 2p
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print ((r + 0 <= t + 0) ? "ok" : "MISSED") }'; }
row() { printf '  %-44s %8s  ratio %6s  (target <= %s)  %s\n' "$1" "$2" "$3" "$4" "$(verdict "$3" "$4")"; }

echo
echo "== speed table (docs/performance.md): host CPU seconds; against xz -dc and the native loop, medians of $rounds rounds' ratios (the replay rows: CPU and wall), else medians of 3 (the miss row: of 5 repetitions)"

# The replay rows, each twice: by CPU time (user + system of the replay over
# that of `xz -dc`) and by wall time (what a user waits: a compressed trace
# is decoded on a thread of its own while the text is parsed, so on a
# machine with a core free the wall time is less than the CPU time), each
# ratio with its own verdict.
# cpu_wall CMD...: "CPU WALL", seconds, of one run (its output dropped).
cpu_wall() {
    /usr/bin/time -f '%U %S %e' -o "$tmp/time" "$@" >/dev/null 2>&1 || { echo "bench: failed: $*" >&2; exit 1; }
    awk '{printf "%.3f %.3f\n", $1 + $2, $3}' "$tmp/time"
}
# middle: the median of the numbers on its input, one a line (the lower
# middle one of an even count).
middle() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# median COLUMN FILE: the median of a column of FILE.
median() { awk -v c="$1" '{ print $c }' "$2" | middle; }
# median_ratio A B FILE: the median over FILE's lines of column A / column B.
median_ratio() {
    printf '%.2f' "$(awk -v a="$1" -v b="$2" '{ printf "%.4f\n", ($b > 0) ? $a / $b : 0 }' "$3" | middle)"
}
# replay_rows NAME XZ XZ_YAML PLAIN_YAML: in each round, xz -dc of XZ, then
# the replays of the .xz and of the plain trace, one line of "CPU WALL" for
# each in $tmp/replay; print_replay_rows NAME prints their medians and the
# medians of the rounds' ratios.
replay_rows() {
    : > "$tmp/replay"
    for _ in $(seq "$rounds"); do
        echo "$(cpu_wall sh -c "xz -dc '$2' > /dev/null") $(cpu_wall "$mmcosim" run "$3" --outdir "$tmp/out" -q --no-progress)" \
            "$(cpu_wall "$mmcosim" run "$4" --outdir "$tmp/out" -q --no-progress)" >> "$tmp/replay"
    done
    dc_cpu=$(median 1 "$tmp/replay"); dc_wall=$(median 2 "$tmp/replay")
}
print_replay_rows() {
    local f="$tmp/replay"
    row "lackey replay of the $1.xz trace, CPU" "$(median 3 "$f")" "$(median_ratio 3 1 "$f")" 3
    row "lackey replay of the $1.xz trace, wall" "$(median 4 "$f")" "$(median_ratio 4 2 "$f")" 3
    row "lackey replay of the $1plain trace, CPU" "$(median 5 "$f")" "$(median_ratio 5 1 "$f")" 3
    row "lackey replay of the $1plain trace, wall" "$(median 6 "$f")" "$(median_ratio 6 2 "$f")" 3
}

# 1. Lackey replay: a generated 2.25 M-record trace (scripts/gen_lackey_trace.py:
# loops over a fixed code layout, stack, strided and random heap accesses;
# about 20:1 with xz, where the sample program's trace, a few loops, is 71:1),
# from .xz, against decompressing it to /dev/null. The whole run, on a small
# machine (256 MiB: its boot takes a few ms).
python3 "$(dirname "$0")/gen_lackey_trace.py" 2250000 > "$tmp/trace"
xz -T1 -3 -c "$tmp/trace" > "$tmp/trace.xz"
records=$(grep -c '^[I ]' "$tmp/trace" || true)
for f in trace trace.xz; do
    cat > "$tmp/replay-$f.yaml" <<EOF
platform:
  memory: {size: 256MiB}
workload:
  processes:
    - name: replay
      ops:
        - replay: {file: $tmp/$f}
EOF
done
replay_rows "" "$tmp/trace.xz" "$tmp/replay-trace.xz.yaml" "$tmp/replay-trace.yaml"
echo "  trace: $records records, $(stat -c %s "$tmp/trace") bytes of text, $(stat -c %s "$tmp/trace.xz") as .xz;" \
    "xz -dc: ${dc_cpu} s CPU, ${dc_wall} s wall"
print_replay_rows ""
# ... and a real trace, where valgrind is installed: lackey's record of
# `ls -lR /usr/include/linux` (about 10 M records, 150 MB of text, 150:1 as
# .xz; half a minute under valgrind). Few pages, many records: this row is
# the per-record cost of reading and replaying.
if command -v valgrind >/dev/null && [ -d /usr/include/linux ]; then
    valgrind --tool=lackey --trace-mem=yes --log-file="$tmp/real" ls -lR /usr/include/linux >/dev/null 2>&1
    xz -T1 -3 -c "$tmp/real" > "$tmp/real.xz"
    for f in real real.xz; do sed "s|$tmp/trace|$tmp/$f|" "$tmp/replay-trace.yaml" > "$tmp/replay-$f.yaml"; done
    replay_rows "real " "$tmp/real.xz" "$tmp/replay-real.xz.yaml" "$tmp/replay-real.yaml"
    echo "  real trace (ls -lR): $(grep -c '^[I ]' "$tmp/real" || true) records, $(stat -c %s "$tmp/real") bytes," \
        "$(stat -c %s "$tmp/real.xz") as .xz; xz -dc: ${dc_cpu} s CPU, ${dc_wall} s wall"
    print_replay_rows "real "
else
    echo "  (no valgrind: the real-trace replay rows are left out)"
fi

# 2. The default run against the native loop making the same accesses with
# the same value generator and shadow checks (bench_workload).
# Each round: the native loop (one repetition), then the run.
: > "$tmp/default"
for _ in $(seq "$rounds"); do
    native=$("$build/tb/workload/bench_workload" --benchmark_repetitions=1 --benchmark_format=csv 2>/dev/null |
        awk -F, '/^"BM_/ { printf "%.3f\n", $4 / 1000; exit }')
    echo "$native $(cpu "$mmcosim" run --outdir "$tmp/out" -q --no-progress)" >> "$tmp/default"
done
echo "  native loop (bench_workload): $(median 1 "$tmp/default") s"
row "default run, 16.8 M accesses" "$(median 2 "$tmp/default")" "$(median_ratio 2 1 "$tmp/default")" 4

# 3. The RTL walker against the TLM walker, host time per walk (lockstep
# runs both on every walk and times each, so each run is its own baseline):
# the median of three runs' ratios.
: > "$tmp/lockstep"
for _ in 1 2 3; do
    "$mmcosim" run --walker=lockstep --outdir "$tmp/out" --no-progress > "$tmp/lockstep.txt" 2>&1 ||
        { echo "bench: failed: $mmcosim run --walker=lockstep" >&2; exit 1; }
    sed -n 's/.*TLM walker \([0-9]*\) walks\/s, RTL walker \([0-9]*\) walks\/s.*/\1 \2/p' "$tmp/lockstep.txt" >> "$tmp/lockstep"
done
[ "$(wc -l < "$tmp/lockstep")" = 3 ] || { echo "bench: lockstep printed no walk rates" >&2; exit 1; }
echo "  walks/s (medians of 3 runs): TLM walker $(median 1 "$tmp/lockstep"), RTL walker $(median 2 "$tmp/lockstep")"
row "RTL walker vs TLM walker, time per walk" "-" "$(median_ratio 1 2 "$tmp/lockstep")" 5

# 4. A TLB miss whose walk hits the PWC against the walker alone (bench_mmu).
"$build/tb/hw/mmu/bench_mmu" --benchmark_filter='BM_MissPwcHitWalk|BM_WalkerPwcHit' --benchmark_repetitions=5 \
    --benchmark_report_aggregates_only=true > "$tmp/mmu.txt" 2>&1
miss=$(sed -n 's/.*miss, walk with PWC hit *\([0-9.]*\).*/\1/p' "$tmp/mmu.txt")
walk=$(sed -n 's/.*walker alone: PWC-hit walk \([0-9.]*\),.*/\1/p' "$tmp/mmu.txt")
echo "  ns per miss with a PWC hit: $miss; the walker alone: $walk"
row "TLB miss with PWC hit vs the walker alone" "$miss" "$(ratio "$miss" "$walk")" 2

# 5. Boot of a 4 TiB machine (one page of workload), against the boot of the
# default 8 GiB machine: time and host memory.
for size in 8GiB 4TiB; do
    cat > "$tmp/boot-$size.yaml" <<EOF
platform:
  memory: {size: $size}
workload:
  processes:
    - name: touch
      ops:
        - mmap: {region: r, size: 4KiB}
        - write: {region: r, offset: 0, length: 8, size: 8, count: 1}
EOF
done
t_b8=$(median3 "$mmcosim" run "$tmp/boot-8GiB.yaml" --outdir "$tmp/out" -q --no-progress)
rss8=$(rss_median)
t_b4t=$(median3 "$mmcosim" run "$tmp/boot-4TiB.yaml" --outdir "$tmp/out" -q --no-progress)
rss4t=$(rss_median)
echo "  8 GiB machine: ${t_b8} s, $((rss8 / 1024)) MiB; 4 TiB machine: ${t_b4t} s, $((rss4t / 1024)) MiB"
printf '  %-44s %8s  %s\n' "boot of a 4 TiB machine (target <= 2 s)" "$t_b4t" \
    "$(verdict "$t_b4t" 2) (ratio to the 8 GiB boot: $(ratio "$t_b4t" "$t_b8"))"
printf '  %-44s %8s  %s\n' "its host RSS, MiB (target <= 1024)" "$((rss4t / 1024))" \
    "$(verdict "$((rss4t / 1024))" 1024) (ratio to the 8 GiB boot: $(ratio "$rss4t" "$rss8"))"

# 6. Storage (docs/storage.md, "Costs"): the page cache's host cost per
# 4 KiB (bench_storage: a page-cache hit read, a buffered write, a file
# fault) against
# a 4 KiB memcpy measured in the same run; and each storage scenario's
# simulated disk throughput against the disk's configured bandwidth.
if [ -x "$build/tb/sw/fs/bench_storage" ]; then
    "$build/tb/sw/fs/bench_storage" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
        --benchmark_format=csv 2>/dev/null > "$tmp/storage.csv"
    med() { awk -F, -v n="\"$1_median\"" '$1 == n { printf "%.1f\n", $4 }' "$tmp/storage.csv"; }
    t_cpy=$(med BM_Memcpy4K)
    echo "  ns per 4 KiB, host CPU: memcpy ${t_cpy}"
    for b in PageCacheHitRead4K:"page-cache hit read, 4 KiB" BufferedWrite4K:"buffered write, 4 KiB"; do
        t=$(med "BM_${b%%:*}")
        printf '  %-44s %8s  ratio to a 4 KiB memcpy %6s\n' "${b#*:}" "$t" "$(ratio "$t" "$t_cpy")"
    done
    t=$(awk -v t="$(med BM_FileFault256x4K)" 'BEGIN { printf "%.1f", t / 256 }')
    printf '  %-44s %8s  ratio to a 4 KiB memcpy %6s\n' "file fault on a cached page, 4 KiB" "$t" "$(ratio "$t" "$t_cpy")"
    for s in seq-read random-read dirty-throttle disk32-64g disk64-64g; do
        "$mmcosim" run "tb/scenarios/storage/$s.yaml" --outdir "$tmp/st-$s" -q --no-progress >/dev/null 2>&1 ||
            { echo "bench: storage scenario $s failed" >&2; continue; }
        read -r tput bw < <(awk '$1 == "system.storage.disk0.throughput" { t = $2 } $1 == "system.storage.disk0.bandwidth" { b = $2 }
                                 END { print t, b }' "$tmp/st-$s/stats.txt")
        printf '  %-44s %8.1f MiB/s of %.0f MiB/s  ratio %s\n' "storage/$s simulated disk throughput" \
            "$(awk -v t="$tput" 'BEGIN { print t / 1048576 }')" "$(awk -v b="$bw" 'BEGIN { print b / 1048576 }')" \
            "$(ratio "$tput" "$bw")"
    done
fi
