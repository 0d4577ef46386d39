#!/bin/sh
# Bounded equivalence of the walker (rtl/walker.sv) against an earlier git
# revision of it, for a change that must not change behaviour (a refactor):
# yosys builds a miter, both walkers on the same inputs, asserting every
# output port equal in every cycle out of reset, and yosys-smtbmc + z3 check
# it to a depth. The environment is free within the ASSUME_* rules of both
# designs; their own assertions are left out (run_bmc.sh checks those). By
# hand, not from ctest (it needs the git history, and takes minutes):
#
#   rtl/formal/run_equiv.sh [-r REV] [-d DEPTH] [-o WORKDIR] [-p "MAX_LEVELS PA_BITS RESTART_LIMIT"]
#
#   -r REV     the revision to compare with (default HEAD: the working tree
#              against the last commit)
#   -d DEPTH   clock cycles from reset (default 13; 4/36/2 at 13 takes about
#              8 minutes on one core, 5/52/8 at 10 about 3)
#   -o WORKDIR where the sources, model, log and counterexample go
#   -p PARAMS  the configuration checked (default "4 36 2", as run_bmc.sh)
#
# Exit status: 0 equivalent to that depth, 1 an output differs (see
# WORKDIR/counterexample.vcd: signals a.* are REV's, b.* the tree's), 2 the
# check could not run. The top-level port list must be the same in both.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
rtl=$(dirname "$here")
rev=HEAD
depth=13
work=""
params="4 36 2"
while getopts "r:d:o:p:" opt; do
  case "$opt" in
    r) rev=$OPTARG ;;
    d) depth=$OPTARG ;;
    o) work=$OPTARG ;;
    p) params=$OPTARG ;;
    *) echo "usage: $0 [-r REV] [-d DEPTH] [-o WORKDIR] [-p \"MAX_LEVELS PA_BITS RESTART_LIMIT\"]" >&2; exit 2 ;;
  esac
done
if [ -z "$work" ]; then work=$(mktemp -d /tmp/walker_equiv.XXXXXX); fi
mkdir -p "$work"
for tool in yosys yosys-smtbmc z3 git python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "run_equiv: $tool not found" >&2; exit 2; }
done
set -- $params
max_levels=$1; pa_bits=$2; restart_limit=$3

# REV's walker, renamed (module walker_ref, package walker_ref_pkg) so that
# both designs can be read side by side.
for f in walker_pkg.sv walker.sv; do
  git -C "$rtl" cat-file -e "$rev:./$f" 2>/dev/null || { echo "run_equiv: no rtl/$f at $rev" >&2; exit 2; }
  git -C "$rtl" show "$rev:./$f" | sed 's/\bwalker_pkg\b/walker_ref_pkg/g; s/^module walker #/module walker_ref #/' \
    > "$work/ref_$f"
done

# The miter: its ports are the walker's inputs (taken from walker.sv).
python3 - "$rtl/walker.sv" "$work/miter.sv" <<'EOF'
import re, sys
src = open(sys.argv[1]).read()
ports = src[src.index(") (\n", src.index("module walker")) + 4:]
ports = ports[:ports.index("\n);")]
decl = re.compile(r"\s*(input|output)\s+(?:wire\s+)?logic\s*(\[[^\]]*\])?\s*(\w+)")
ins, outs = [], []
for line in ports.splitlines():
    m = decl.match(line)
    if m:
        (ins if m.group(1) == "input" else outs).append((m.group(2) or "", m.group(3)))
params = ("parameter int MAX_LEVELS = 4, parameter int VA_BITS = 12 + 9 * MAX_LEVELS, "
          "parameter int PA_BITS = 36, parameter int RESTART_LIMIT = 2, parameter int COUNT_BITS = 8, "
          "parameter int RESTART_BITS = $clog2(RESTART_LIMIT + 1)")
over = ".MAX_LEVELS(MAX_LEVELS), .PA_BITS(PA_BITS), .RESTART_LIMIT(RESTART_LIMIT)"
out = ["module walker_miter #(%s) (" % params,
       ",\n".join("  input logic %s %s" % (w, n) for w, n in ins), ");"]
out += ["  logic %s a_%s, b_%s;" % (w, n, n) for w, n in outs]
for side, mod in (("a", "walker_ref"), ("b", "walker")):
    conns = [".%s(%s)" % (n, n) for _, n in ins] + [".%s(%s_%s)" % (n, side, n) for _, n in outs]
    out.append("  %s #(%s) %s (%s);" % (mod, over, side, ", ".join(conns)))
out.append("  always_comb if (rst_n) begin")
out += ["    EQ_%s: assert (a_%s == b_%s);" % (n, n, n) for _, n in outs]
out += ["  end", "endmodule"]
open(sys.argv[2], "w").write("\n".join(out) + "\n")
EOF

cat > "$work/miter.ys" <<EOF
read_verilog -sv -formal -DFORMAL $work/ref_walker_pkg.sv $work/ref_walker.sv
read_verilog -sv -formal -DFORMAL $rtl/walker_pkg.sv $rtl/walker.sv
read_verilog -sv -formal $work/miter.sv
chparam -set MAX_LEVELS $max_levels -set PA_BITS $pa_bits -set RESTART_LIMIT $restart_limit walker_miter
hierarchy -top walker_miter
chformal -assert -remove \$paramod*walker*
prep -top walker_miter
flatten
opt -full
wreduce
opt_clean
opt -full
dffunmap
write_smt2 -wires $work/miter.smt2
EOF
start=$(date +%s)
yosys -q -l "$work/yosys.log" "$work/miter.ys" || { echo "run_equiv: yosys failed (see $work/yosys.log)" >&2; exit 2; }
if grep -q "implicitly declared" "$work/yosys.log"; then
  echo "run_equiv: yosys did not resolve every name (see $work/yosys.log)" >&2
  exit 2
fi

set +e
yosys-smtbmc -s z3 --unroll --noincr --noprogress -t "$depth" \
  --dump-vcd "$work/counterexample.vcd" "$work/miter.smt2" > "$work/smtbmc.log" 2>&1
rc=$?
set -e
elapsed=$(( $(date +%s) - start ))
if [ "$rc" -eq 0 ] && grep -q "Status: PASSED" "$work/smtbmc.log"; then
  echo "run_equiv: walker.sv equals $rev's output for output, cycle for cycle, for $depth cycles from reset ($params; ${elapsed}s)"
  exit 0
fi
tr -d '\r' < "$work/smtbmc.log" | grep -E "Assert failed|ERROR|Error" || true
echo "run_equiv: outputs differ from $rev (rc=$rc; log: $work/smtbmc.log; counterexample: $work/counterexample.vcd)" >&2
exit 1
