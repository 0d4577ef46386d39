#!/bin/sh
# The README's two commands on a really fresh machine: builds a bare Debian 12
# root (debootstrap --variant=minbase), installs there only what the README
# says a bare Debian needs first (git, make), clones this repository into it
# and runs `make run` and `make test` in it, timing each step. Run it before
# calling any change to the dependencies done: the development machines
# already have packages a new machine lacks, so CI cannot see a missing one.
#
#   sudo scripts/fresh-check.sh [-d DIR] [-r REV] [-m MIRROR] [-s STEPS]
#
#   -d DIR     where the root is built (default /var/tmp/mmcosim-fresh/root);
#              the logs and report.txt go beside it (DIR/../logs). A DIR
#              left by an earlier check is deleted first; any other
#              non-empty DIR is refused.
#   -r REV     the commit to check (default HEAD of this checkout); it is
#              cloned from a git bundle, so only committed work is checked
#   -m MIRROR  the Debian mirror (default: the first Debian URI of this
#              machine's apt sources, else http://deb.debian.org/debian)
#   -s STEPS   the steps to run, of: root prereq clone run test (default
#              all, in that order; later steps reuse an existing root)
#
# Needs root (debootstrap, chroot, mounts) and the network to the mirror;
# installs debootstrap on this machine if it is missing. In the root, no
# daemon is started by package installs (policy-rc.d), and /proc, /sys,
# /sys/fs/cgroup, /dev, /dev/pts and /dev/shm are bind-mounted for the steps and unmounted
# afterwards. Where a mount is refused (a sandbox), the steps run without it
# and the report says so. Each step's output is in LOGS/<step>.log; the
# report lists each step's result and time. Exit status: 0 both commands
# succeeded, 1 a step failed, 2 the check could not be set up.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
dir=/var/tmp/mmcosim-fresh/root
rev=HEAD
mirror=""
steps="root prereq clone run test"
while getopts "d:r:m:s:" opt; do
    case "$opt" in
        d) dir=$OPTARG ;;
        r) rev=$OPTARG ;;
        m) mirror=$OPTARG ;;
        s) steps=$OPTARG ;;
        *) echo "usage: $0 [-d DIR] [-r REV] [-m MIRROR] [-s STEPS]" >&2; exit 2 ;;
    esac
done
suite=bookworm
marker=.mmcosim-fresh-root
logs=$(dirname "$dir")/logs
report=$logs/report.txt

die() { echo "fresh-check: $*" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot and mounts)"

if [ -z "$mirror" ]; then
    # The URI this machine's apt already fetches Debian from (deb822 or one-line format).
    mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
             sed -n -e 's/^URIs: *\(http[^ ]*\/debian\)\/\{0,1\} *$/\1/p' \
                    -e 's/^deb  *\(\[[^]]*\]  *\)\{0,1\}\(http[^ ]*\/debian\)\/\{0,1\}  *bookworm .*/\2/p' | head -n 1)
    [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
fi
rev_id=$(git -C "$here" rev-parse --verify "$rev^{commit}") || die "no commit '$rev' in $here"

mkdir -p "$logs"
: > "$report"
say() { echo "$*" | tee -a "$report"; }
now() { date +%s; }

mounted=""
unmount_all() {
    for m in $mounted; do umount -R "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
    mounted=""
}
trap unmount_all EXIT INT TERM

mount_one() {  # mount_one TARGET ARGS...: records what was and was not possible
    target=$1
    shift
    mkdir -p "$target"
    if mount "$@" "$target" 2>>"$logs/mounts.log"; then
        mounted="$target $mounted"
    else
        say "  note: could not mount $target ($*): the steps run without it"
    fi
}

mount_root() {
    [ -z "$mounted" ] || return 0
    mount_one "$dir/proc" -t proc proc
    mount_one "$dir/sys" -t sysfs sysfs
    # A real machine has its cgroup file systems mounted (slurmd needs them).
    if mountpoint -q /sys/fs/cgroup; then mount_one "$dir/sys/fs/cgroup" --rbind /sys/fs/cgroup; fi
    mount_one "$dir/dev" --bind /dev
    mount_one "$dir/dev/pts" --bind /dev/pts
    if mountpoint -q /dev/shm; then mount_one "$dir/dev/shm" --bind /dev/shm; fi
}

# in_root CMD: runs CMD in the root as a fresh login would, niced.
in_root() {
    chroot "$dir" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        nice -n 10 /bin/sh -c "$1"
}

failed=0
step() {  # step NAME DESCRIPTION FUNCTION
    name=$1
    t0=$(now)
    # A subshell outside any condition (step itself is never called in one),
    # so that set -e stops the step at its first failure.
    set +e
    (set -e; "$3") > "$logs/$name.log" 2>&1
    rc=$?
    set -e
    if [ "$rc" -eq 0 ]; then result=ok; else result="FAILED (exit $rc)"; failed=1; fi
    t=$(( $(now) - t0 ))
    say "$(printf '%-7s %-58s %-16s %4dm%02ds' "$name" "$2" "$result" $((t / 60)) $((t % 60)))"
    [ "$result" = ok ] || { say "  last lines of $logs/$name.log:"; tail -n 15 "$logs/$name.log" | sed 's/^/    /' | tee -a "$report" >/dev/null; }
    ok=$([ "$result" = ok ] && echo 1 || echo 0)
}

do_root() {
    if [ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
        [ -e "$dir/$marker" ] || { echo "$dir is not empty and was not made by this script"; return 1; }
        rm -rf --one-file-system "$dir"
    fi
    if ! command -v debootstrap >/dev/null 2>&1; then
        # Waits for another apt (unattended upgrades, a parallel install) to finish.
        install="apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 debootstrap"
        DEBIAN_FRONTEND=noninteractive $install || { apt-get update -q; DEBIAN_FRONTEND=noninteractive $install; }
    fi
    mkdir -p "$dir"
    touch "$dir/$marker"
    debootstrap --variant=minbase "$suite" "$dir" "$mirror"
    # What a Debian 12 installation's sources are: the release, its updates, security.
    {
        echo "deb $mirror $suite main"
        echo "deb $mirror $suite-updates main"
        case "$mirror" in
            */debian) echo "deb $mirror-security $suite-security main" ;;
        esac
    } > "$dir/etc/apt/sources.list"
    # Package installs in the root must not start daemons on this machine.
    printf '#!/bin/sh\nexit 101\n' > "$dir/usr/sbin/policy-rc.d"
    chmod 755 "$dir/usr/sbin/policy-rc.d"
    cp /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true
}

do_prereq() {
    in_root 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends git make'
}

do_clone() {
    rm -rf "$dir/root/mmcosim" "$dir/root/mmcosim.bundle"
    git -C "$here" bundle create "$dir/root/mmcosim.bundle" "$rev_id" HEAD
    in_root "git -c advice.detachedHead=false clone -q /root/mmcosim.bundle /root/mmcosim && cd /root/mmcosim && git checkout -q --detach $rev_id && git log -1 --oneline"
}

do_run() { in_root 'cd /root/mmcosim && make run'; }
do_test() { in_root 'cd /root/mmcosim && make test'; }

say "fresh-check: $(git -C "$here" log -1 --format='%h %s' "$rev_id")"
say "  root $dir (Debian $suite, minbase) from $mirror; logs in $logs; $(nproc) cores"
for s in $steps; do
    # Mounts are made here, not in a step's subshell, so that they are undone at the end.
    [ "$s" = root ] || [ ! -d "$dir/proc" ] || mount_root
    case "$s" in
        root)   step root "debootstrap --variant=minbase $suite" do_root ;;
        prereq) step prereq "apt-get install git make (what the README asks first)" do_prereq ;;
        clone)  step clone "git clone" do_clone ;;
        run)    step run "make run" do_run ;;
        test)   step test "make test" do_test ;;
        *) die "unknown step '$s' (root prereq clone run test)" ;;
    esac
    # Without a root, git or a clone nothing after can run; make test still runs after a failed make run.
    [ "$ok" = 1 ] || [ "$s" = run ] || break
done
unmount_all
if [ -f "$logs/test.log" ]; then
    summary=$(grep -E '^[0-9]+% tests passed|tests failed out of' "$logs/test.log" | tail -n 1 || true)
    [ -z "$summary" ] || say "  ctest: $summary"
fi
exit $failed
