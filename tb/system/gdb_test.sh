#!/bin/bash
# The gdb support (scripts/gdb/mmcosim-gdb.py, docs/debugging.md): gdb in
# batch mode, with the auto-load script next to the binary, stops the
# default scenario at its 100th page fault (a breakpoint in the firmware's
# fault entry) and prints the memory manager's structures; the commands
# must print what the monitor prints at the same point (the monitor's
# `until fault` also stops before the firmware handles the fault), and the
# pretty-printers must show struct page, zones, free areas, mm_struct and
# its VMAs, and TLB entries.
# Usage: gdb_test.sh MMCOSIM_BIN
set -u
BIN=$1
command -v gdb >/dev/null 2>&1 || { echo "FAIL: gdb is not installed (scripts/deps.sh installs it)"; exit 1; }
fail() { echo "FAIL: $*"; exit 1; }
TMP=$(mktemp -d /tmp/mmcosim-gdb-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
N=100

# The monitor at the N-th fault.
{ for _ in $(seq 1 $N); do echo "until fault"; done
  echo "echo ==buddyinfo"; echo "buddyinfo"; echo "echo ==ptdump"; echo "ptdump 1"; echo "echo ==tlb"; echo "tlb 0"
  echo "echo ==end"; echo "quit"; } > "$TMP/cmds"
"$BIN" run --script "$TMP/cmds" --outdir "$TMP/mon" > "$TMP/mon.log" 2>&1 || { tail "$TMP/mon.log"; fail "monitor run"; }
section() { sed -n "/^$2\$/,/^==/p" "$1" | sed '1d;$d'; }
# A script's commands are echoed: leave them out.
sed 's/^(mmcosim) //' "$TMP/mon.log" | grep -Ev '^(echo .*|buddyinfo|ptdump 1|tlb 0|until fault|quit)$' > "$TMP/mon.txt"

# gdb at the N-th call of the firmware's page-fault entry.
gdb -batch -nx -iex "add-auto-load-safe-path $(dirname "$(readlink -f "$BIN")")" \
    -ex "set pagination off" -ex "set print pretty off" \
    -ex "break fw::Kernel::page_fault" -ex "ignore 1 $((N - 1))" -ex "run" \
    -ex "echo ==buddyinfo\n" -ex "mm-buddyinfo" -ex "echo ==ptdump\n" -ex "mm-ptdump 1" \
    -ex "echo ==tlb\n" -ex "mm-tlb 0" -ex "echo ==end\n" \
    -ex "print *\$mm_of(1)" -ex "print mmcosim_gdb_kernel->nodes_.nodes_[0].node_zones[2]" \
    -ex "print *\$page_of(\$mm_of(1)->pgd >> 12)" \
    -ex "mm-pte 0x8000000123456067" -ex "kill" \
    --args "$BIN" run --outdir "$TMP/gdb" -q --no-progress > "$TMP/gdb.txt" 2>&1
grep -q "Breakpoint 1, fw::Kernel::page_fault" "$TMP/gdb.txt" || { tail -20 "$TMP/gdb.txt"; fail "gdb did not stop in the firmware"; }

for s in buddyinfo ptdump tlb; do
    section "$TMP/mon.txt" "==$s" > "$TMP/mon.$s"
    section "$TMP/gdb.txt" "==$s" > "$TMP/gdb.$s"
    [ -s "$TMP/gdb.$s" ] || { cat "$TMP/gdb.txt"; fail "mm-$s printed nothing"; }
    diff "$TMP/mon.$s" "$TMP/gdb.$s" > "$TMP/diff.$s" || { cat "$TMP/diff.$s"; fail "gdb's $s differs from the monitor's"; }
done
grep -Eq "^0x00007fff[0-9a-f]{8}-0x00007fff[0-9a-f]{8} +396K +RW USR +NX A D pte$" "$TMP/gdb.ptdump" \
    || { cat "$TMP/gdb.ptdump"; fail "the faulted-in pages are not in mm-ptdump"; }
grep -q "^  va 0x7fff" "$TMP/gdb.tlb" || fail "no user page in mm-tlb"
expect() { grep -Eq "$1" "$TMP/gdb.txt" || { cat "$TMP/gdb.txt"; fail "gdb printed no line matching: $1"; }; }
expect "mm_struct \{id [0-9]+, pgd 0x[0-9a-f]+, pcid [0-9]+, 1 VMAs, 1 users, rss anon 99 shmem 0 huge 0 pages"
expect "vma\[0\] = vm_area_struct \{0x7fff[0-9a-f]+-0x7fff[0-9a-f]+ rw-p 64M"
expect "zone Normal \(node 0\): pfns 0x100000-0x[0-9a-f]+, [0-9]+ present, [0-9]+ managed, [0-9]+ free; watermarks min"
expect "order 10 = free_area \{[0-9]+ free blocks: movable [0-9]+\}"
expect "struct page \{pfn 0x[0-9a-f]+, node 0 zone Normal, flags \[[a-z,]*\], page table, refcount [0-9]+"
expect "^page 0x123456000 \[RW USR A D NX\]$"
echo "PASS: gdb's mm-buddyinfo, mm-ptdump and mm-tlb match the monitor; the printers show the structures"
