#!/bin/bash
# mmcosim as a library (docs/embedding.md): `cmake --install` into a fresh
# temporary prefix, then examples/embed (an out-of-tree SystemC platform)
# configured with find_package(mmcosim), built against that prefix only and
# run; and the installed program finds its plotting and gdb scripts.
# Usage: embed_install_test.sh BUILD_DIR SOURCE_DIR
set -u
BUILD=$1
SRC=$2
fail() { echo "FAIL: $*"; exit 1; }
TMP=$(mktemp -d /tmp/mmcosim-embed-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

cmake --install "$BUILD" --prefix "$TMP/prefix" > "$TMP/install.log" 2>&1 || { tail -20 "$TMP/install.log"; fail "cmake --install"; }
for f in lib/cmake/mmcosim/mmcosimConfig.cmake include/mmcosim/hw/mmu/mmu.h include/mmcosim/sw/hal/hal.h \
         include/mmcosim/tb/workload/workload.h lib/libmmcosim_mmu.a lib/libmmcosim_fw.a bin/mmcosim \
         bin/mmcosim-gdb.py share/mmcosim/mmcosim-plot.py; do
    [ -e "$TMP/prefix/$f" ] || fail "not installed: $f"
done

# Configure and build the example against the prefix alone (the compiler
# launcher of the main build, e.g. ccache, is reused when there is one).
LAUNCHER=$(sed -n 's/^CMAKE_CXX_COMPILER_LAUNCHER:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
cmake -S "$SRC/examples/embed" -B "$TMP/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$TMP/prefix" ${LAUNCHER:+-DCMAKE_CXX_COMPILER_LAUNCHER=$LAUNCHER} \
    > "$TMP/configure.log" 2>&1 || { cat "$TMP/configure.log"; fail "configuring examples/embed against the package"; }
cmake --build "$TMP/build" > "$TMP/build.log" 2>&1 || { tail -30 "$TMP/build.log"; fail "building examples/embed"; }
"$TMP/build/embed_platform" > "$TMP/run.log" 2>&1 || { cat "$TMP/run.log"; fail "examples/embed did not run cleanly"; }
head -1 "$TMP/run.log"
grep -q "^embed_platform: 200000 accesses, 4096 page faults handled, 0 errors" "$TMP/run.log" || fail "unexpected summary"
grep -Eq "^system\.cpu0\.mmu\.walker\.walks +[1-9][0-9]+ " "$TMP/run.log" || fail "no walker statistics printed"
grep -Eq "^system\.cpu0\.mmu\.pageFaults +4096 " "$TMP/run.log" || fail "the MMU's page faults do not match"

# The installed program finds mmcosim-plot.py in ../share/mmcosim.
printf 'point,x,status,y\na,1,0,2\nb,2,0,3\n' > "$TMP/r.csv"
"$TMP/prefix/bin/mmcosim" plot "$TMP/r.csv" --x x --y y -o "$TMP/r.png" > "$TMP/plot.log" 2>&1 || { cat "$TMP/plot.log"; fail "installed mmcosim plot"; }
[ -s "$TMP/r.png" ] || fail "no plot written"
echo "PASS: installed, built examples/embed against the package, ran it"
