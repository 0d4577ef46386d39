#!/bin/sh
# Installs the Debian 12 packages mmcosim builds, tests and runs with, only
# those missing. Idempotent: when everything is present it changes nothing
# and needs no root. Works on a bare Debian (debootstrap --variant=minbase):
# scripts/fresh-check.sh proves it.
set -eu

# The build and the tests: compiler and build tools, SystemC and Verilator
# (whose verilated_fst_c.h includes zlib.h), the libraries, GoogleTest and
# Benchmark, yosys + z3 for the formal checks (which apply patches with
# `patch`), valgrind (the sample lackey trace), python3 (layout check),
# liblzma, libzstd (and zlib) for compressed traces, xz-utils and time for
# `make bench`. The architect's and firmware developer's workflow
# (docs/sweeps.md, docs/debugging.md): matplotlib for `mmcosim plot`,
# slurm-wlm and munge for the Slurm back end of sweeps (its test starts a
# single-node cluster), gdb for the pretty-printers' test.
PACKAGES="g++ cmake ninja-build pkg-config make patch python3
libsystemc-dev verilator zlib1g-dev
libyaml-cpp-dev libcli11-dev libfmt-dev nlohmann-json3-dev
libgtest-dev libgmock-dev libbenchmark-dev
liblzma-dev libzstd-dev
yosys z3 valgrind xz-utils time
python3-matplotlib slurm-wlm munge gdb"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

echo "deps: installing missing Debian packages:$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "deps: need root to install:$missing (run as root or install them yourself)" >&2
        exit 1
    fi
fi
# No questions (a fresh machine has no debconf answers), no recommended
# extras: only what the packages depend on. Another apt at work (a fresh
# machine's unattended upgrades) is waited for, not an error.
export DEBIAN_FRONTEND=noninteractive
apt_install() {
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "$@"
}
# A fresh machine has empty package lists: fetch them first. Stale lists
# (a package not found, or a version gone from the mirror): refresh once and
# try again.
if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then
    $SUDO apt-get update -q -o DPkg::Lock::Timeout=600
fi
# shellcheck disable=SC2086  # the list is words
if ! apt_install $missing; then
    $SUDO apt-get update -q -o DPkg::Lock::Timeout=600
    apt_install $missing
fi
