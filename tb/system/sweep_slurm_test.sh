#!/bin/bash
# The Slurm back end of `mmcosim sweep` against a real single-node cluster
# (tb/system/slurm_cluster.sh: munged, slurmctld and slurmd on localhost,
# started here and stopped on any exit): a twelve-point sweep submitted as a
# job array gives the same results.csv as the local back end with --jobs 2,
# apart from host times; --no-wait then --collect gives it too.
# Needs slurm-wlm and munge (scripts/deps.sh installs them, as `make`
# does) and root (the throwaway cluster runs as root), as CI has.
# Usage: sweep_slurm_test.sh MMCOSIM_BIN SOURCE_DIR
set -u
fail() { echo "FAIL: $*"; exit 1; }
BIN=$1
SRC=$2
for b in munged slurmctld slurmd sbatch squeue sinfo scancel; do
    command -v "$b" >/dev/null 2>&1 || fail "$b is not installed (scripts/deps.sh installs slurm-wlm and munge)"
done
[ "$(id -u)" = 0 ] || fail "the throwaway Slurm cluster runs as root"

TMP=$(mktemp -d /tmp/mmcosim-slurm-test.XXXXXX)
# shellcheck source=tb/system/slurm_cluster.sh
. "$SRC/tb/system/slurm_cluster.sh"
cleanup() { cluster_stop; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 1' INT TERM

cluster_start "$TMP/cluster" || fail "the cluster did not start"

cat > "$TMP/s.yaml" <<'YAML'
seed: 3
platform: {memory: {size: 256MiB}}
workload:
  processes:
    - name: app
      ops:
        - mmap: {region: b, size: 2MiB}
        - access: {region: b, pattern: random, count: 3000, writes: 0.5}
YAML
cat > "$TMP/sweep.yaml" <<'YAML'
scenario: s.yaml
repetitions: 2
axes:
  - {key: platform.mmu.stlb.sets, name: stlb_sets, values: [4, 16, 64]}
  - {key: 'workload.processes[0].ops[1].access.writes', name: writes, values: [0.1, 0.9]}
stats:
  - system.cpu0.mmu.walks
  - system.cpu0.walksPerKiloAccess
  - system.fw.vmstat.pgfault
YAML

"$BIN" sweep "$TMP/sweep.yaml" --outdir "$TMP/local" --jobs 2 --no-progress > "$TMP/local.log" 2>&1 \
    || { cat "$TMP/local.log"; fail "the local sweep failed"; }
"$BIN" sweep "$TMP/sweep.yaml" --outdir "$TMP/slurm" --slurm --poll 0.3 --time 5 --sbatch-arg=--comment=mmcosim-test \
    > "$TMP/slurm.log" 2>&1 || { cat "$TMP/slurm.log"; tail "$TMP"/slurm/slurm/*.out; fail "the Slurm sweep failed"; }
cat "$TMP/slurm.log"
grep -q "submitted Slurm job [0-9]* (12 array tasks)" "$TMP/slurm.log" || fail "no job array was submitted"
[ "$(ls "$TMP"/slurm/slurm/*.out | wc -l)" = 12 ] || fail "expected one Slurm output file per array task"

without_host_time() { sed 's/,[^,]*$//' "$1"; }
[ "$(wc -l < "$TMP/local/results.csv")" = 13 ] || fail "results.csv: expected 12 rows"
diff <(without_host_time "$TMP/local/results.csv") <(without_host_time "$TMP/slurm/results.csv") \
    || fail "results.csv differs between --jobs 2 and --slurm"

# Submit and return; collect once the array is done.
"$BIN" sweep "$TMP/sweep.yaml" --outdir "$TMP/later" --slurm --no-wait > "$TMP/later.log" 2>&1 \
    || { cat "$TMP/later.log"; fail "--no-wait failed"; }
grep -q "mmcosim sweep --collect $TMP/later" "$TMP/later.log" || fail "--no-wait did not say how to collect"
JOB=$(cat "$TMP/later/slurm/job-id")
for _ in $(seq 1 300); do
    [ -z "$(squeue --noheader --jobs="$JOB" 2>/dev/null)" ] && break
    sleep 0.2
done
"$BIN" sweep --collect "$TMP/later" > "$TMP/collect.log" 2>&1 || { cat "$TMP/collect.log"; fail "--collect failed"; }
diff <(without_host_time "$TMP/local/results.csv") <(without_host_time "$TMP/later/results.csv") \
    || fail "results.csv differs between --jobs 2 and --no-wait + --collect"
echo "PASS: 12 points through a Slurm job array match the local sweep"
