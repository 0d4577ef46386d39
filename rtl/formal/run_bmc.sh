#!/bin/sh
# Bounded model check of the walker's assertions (rtl/walker.sv) with yosys,
# yosys-smtbmc and z3. Used by ctest (rtl_formal_*) and by hand:
#
#   rtl/formal/run_bmc.sh [-d DEPTH] [-o WORKDIR] [-m MUTANT] [-x ASSERTION]
#
#   -d DEPTH      clock cycles to check from reset (default 13)
#   -o WORKDIR    where the SMT2 model, log and counterexample go
#                 (default: a fresh directory under /tmp)
#   -m MUTANT     check a copy of walker.sv with a bug injected: MUTANT is a
#                 patch (rtl/formal/mutants/NAME.patch, or just NAME) applied
#                 to the copy in WORKDIR/src; the design itself holds no
#                 mutants. The patch names the assertion that must catch it
#                 in an "Expect: LABEL" line above the diff.
#   -x ASSERTION  expect the check to FAIL on this assertion label (default
#                 with -m: the mutant's Expect line): exit 0 only if that
#                 assertion fails
#
# Exit status: 0 as expected (all assertions hold, or the expected one
# fails), 1 not as expected, 2 the check could not run (a tool missing,
# yosys rejecting the design, a mutant that no longer applies).
#
# The checked configuration is MAX_LEVELS=4, PA_BITS=36 (so MAXPHYADDR is 36),
# RESTART_LIMIT=2: small enough for z3, with a restart reachable within the
# bound. Depth 13 covers a walk's first pass with its locked update, a
# restart, and the second pass up to its release; each further cycle costs
# more than the last (13: ~40 s, 14: ~65 s, 16: ~3 min on one core of the
# first development machine; 13 takes 170 s on today's 2-core VM, up to
# 310 s while other tests share it: ctest starts it first, see rtl/CMakeLists.txt).
# The environment is free within the ASSUME_* rules in the RTL. The model is
# unrolled by yosys-smtbmc (--unroll) and solved afresh per step (--noincr):
# z3 chokes on the define-fun form and is faster non-incrementally.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
rtl=$(dirname "$here")
depth=13
work=""
mutant=""
expect=""
while getopts "d:o:m:x:" opt; do
  case "$opt" in
    d) depth=$OPTARG ;;
    o) work=$OPTARG ;;
    m) mutant=$OPTARG ;;
    x) expect=$OPTARG ;;
    *) echo "usage: $0 [-d DEPTH] [-o WORKDIR] [-m MUTANT] [-x ASSERTION]" >&2; exit 2 ;;
  esac
done
if [ -z "$work" ]; then work=$(mktemp -d /tmp/walker_bmc.XXXXXX); fi
mkdir -p "$work"

# The design checked: rtl/walker.sv itself, or a mutated copy of it. A
# mutant must apply exactly (no fuzz): one that no longer fits the design
# is an error, not a pass.
design=$rtl/walker.sv
if [ -n "$mutant" ]; then
  case "$mutant" in
    */*) ;;
    *) mutant=$here/mutants/${mutant%.patch}.patch ;;
  esac
  [ -f "$mutant" ] || { echo "run_bmc: no mutant $mutant" >&2; exit 2; }
  if [ -z "$expect" ]; then
    expect=$(sed -n 's/^Expect: *\([A-Z_0-9]*\).*/\1/p' "$mutant" | head -n 1)
    [ -n "$expect" ] || { echo "run_bmc: $mutant has no Expect: line" >&2; exit 2; }
  fi
  rm -rf "$work/src"
  mkdir -p "$work/src"
  cp "$rtl/walker.sv" "$work/src/walker.sv"
  patch -s -p2 -F0 --no-backup-if-mismatch -d "$work/src" -i "$mutant" > "$work/patch.log" 2>&1 \
    || { echo "run_bmc: mutant $mutant does not apply to $rtl/walker.sv (see $work/patch.log)" >&2; exit 2; }
  design=$work/src/walker.sv
fi

for tool in yosys yosys-smtbmc z3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "run_bmc: $tool not found (apt-get install yosys z3)" >&2; exit 2; }
done

# Wire values in the counterexample trace cost about a third more solver
# time: only for the expected-failure runs (which stop early).
wires=""
if [ -n "$expect" ]; then wires="-wires"; fi

start=$(date +%s)
yosys -q -l "$work/yosys.log" -p "
  read_verilog -sv -formal -DFORMAL $rtl/walker_pkg.sv $design
  chparam -set MAX_LEVELS 4 -set PA_BITS 36 -set RESTART_LIMIT 2 walker
  prep -top walker
  flatten
  opt -full
  wreduce
  opt_clean
  opt -full
  dffunmap
  write_smt2 $wires $work/walker.smt2
" || { echo "run_bmc: yosys failed (see $work/yosys.log)" >&2; exit 2; }
# yosys 0.23 takes an unknown name (e.g. a struct field it failed to
# resolve) for an implicit wire: that would check another design.
if grep -q "implicitly declared" "$work/yosys.log"; then
  grep "implicitly declared" "$work/yosys.log" >&2
  echo "run_bmc: yosys did not resolve every name (see $work/yosys.log)" >&2
  exit 2
fi

set +e
yosys-smtbmc -s z3 --unroll --noincr --noprogress -t "$depth" \
  --dump-vcd "$work/counterexample.vcd" "$work/walker.smt2" > "$work/smtbmc.log" 2>&1
rc=$?
set -e
elapsed=$(( $(date +%s) - start ))
tr -d '\r' < "$work/smtbmc.log" | grep -E "Assert failed|Status|BMC failed|ERROR|Error" || true

if [ -n "$expect" ]; then
  if [ "$rc" -ne 0 ] && grep -q "Assert failed in walker: $expect\$" "$work/smtbmc.log"; then
    echo "run_bmc: $expect fails, as expected (${elapsed}s, depth $depth; trace: $work/counterexample.vcd)"
    exit 0
  fi
  echo "run_bmc: expected $expect to fail, but it did not (rc=$rc; log: $work/smtbmc.log)" >&2
  exit 1
fi
if [ "$rc" -eq 0 ] && grep -q "Status: PASSED" "$work/smtbmc.log"; then
  echo "run_bmc: all walker assertions hold for $depth cycles from reset (${elapsed}s)"
  exit 0
fi
echo "run_bmc: FAILED (rc=$rc; log: $work/smtbmc.log; counterexample: $work/counterexample.vcd)" >&2
exit 1
