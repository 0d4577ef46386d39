#!/bin/sh
# Installs the Debian packages mmcosim builds with, only those missing.
# Idempotent: when everything is present it changes nothing and needs no root.
set -eu

PACKAGES="g++ cmake ninja-build pkg-config make
libsystemc-dev verilator
libyaml-cpp-dev libcli11-dev libfmt-dev nlohmann-json3-dev
libgtest-dev libgmock-dev libbenchmark-dev
zlib1g-dev liblzma-dev libzstd-dev
yosys z3 valgrind xz-utils time"

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
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have stale or empty package lists: refresh once if the
# first attempt cannot find a package.
if ! $SUDO apt-get install -y --no-install-recommends $missing; then
    $SUDO apt-get update
    $SUDO apt-get install -y --no-install-recommends $missing
fi
