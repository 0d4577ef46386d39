#!/bin/bash
# A throwaway single-node Slurm cluster on localhost, for the sweep's Slurm
# test (tb/system/sweep_slurm_test.sh) and for trying `mmcosim sweep
# --slurm` by hand:
#
#   source tb/system/slurm_cluster.sh; cluster_start DIR; ...; cluster_stop
#
# cluster_start generates a munge key and a slurm.conf under DIR, starts
# munged, slurmctld and slurmd (as root, each with its socket, pid, log and
# state files in DIR, on free ports), exports SLURM_CONF and waits until
# the node is idle. cluster_stop stops every daemon it started (and
# unmounts the cgroup file system if it had to mount one).
# Debian 12's slurm-wlm 22.05 and munge 0.5.15; no cgroups (proctrack/linuxproc,
# task/none), no accounting database.

cluster_free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cluster_start() {
    CLUSTER_DIR=$(readlink -f "$1")
    CLUSTER_PIDS=""
    mkdir -p "$CLUSTER_DIR"/{munge,state,spool,log}
    chmod 700 "$CLUSTER_DIR/munge"
    dd if=/dev/urandom of="$CLUSTER_DIR/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$CLUSTER_DIR/munge/munge.key"
    local sock="$CLUSTER_DIR/munge/munge.socket"
    munged --force --socket="$sock" --key-file="$CLUSTER_DIR/munge/munge.key" \
        --pid-file="$CLUSTER_DIR/munge/munged.pid" --log-file="$CLUSTER_DIR/log/munged.log" \
        --seed-file="$CLUSTER_DIR/munge/munged.seed" || { echo "cluster: munged did not start" >&2; return 1; }
    CLUSTER_PIDS="$CLUSTER_PIDS $(cat "$CLUSTER_DIR/munge/munged.pid")"

    local node cpus mem ctld_port d_port
    node=$(hostname -s)
    cpus=$(nproc)
    mem=$(awk '/MemTotal/ { print int($2 / 1024 * 0.9) }' /proc/meminfo)
    ctld_port=$(cluster_free_port)
    d_port=$(cluster_free_port)
    cat > "$CLUSTER_DIR/slurm.conf" <<CONF
ClusterName=mmcosimtest
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
StateSaveLocation=$CLUSTER_DIR/state
SlurmdSpoolDir=$CLUSTER_DIR/spool
SlurmctldPidFile=$CLUSTER_DIR/slurmctld.pid
SlurmdPidFile=$CLUSTER_DIR/slurmd.pid
SlurmctldLogFile=$CLUSTER_DIR/log/slurmctld.log
SlurmdLogFile=$CLUSTER_DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=30
KillWait=5
Waittime=0
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
    export SLURM_CONF="$CLUSTER_DIR/slurm.conf"
    # slurmd 22.05 initialises its cgroup plugin even with proctrack/linuxproc
    # and task/none, and fails where no cgroup file system is mounted (a bare
    # chroot or container): mount cgroup2 for it then, and unmount at the end.
    CLUSTER_CGROUP_MOUNTED=""
    if ! mountpoint -q /sys/fs/cgroup 2>/dev/null && [ -d /sys/fs/cgroup ]; then
        mount -t cgroup2 cgroup2 /sys/fs/cgroup && CLUSTER_CGROUP_MOUNTED=1
    fi
    slurmctld -D -i -f "$SLURM_CONF" > "$CLUSTER_DIR/log/slurmctld.out" 2>&1 &
    CLUSTER_PIDS="$CLUSTER_PIDS $!"
    slurmd -D -f "$SLURM_CONF" -N "$node" > "$CLUSTER_DIR/log/slurmd.out" 2>&1 &
    CLUSTER_PIDS="$CLUSTER_PIDS $!"
    local i state
    for i in $(seq 1 100); do
        state=$(sinfo --noheader --format=%t 2>/dev/null | head -1)
        case "$state" in idle*|mix*|alloc*) return 0 ;; esac
        sleep 0.2
    done
    echo "cluster: the node did not become idle (state '$state'); logs in $CLUSTER_DIR/log" >&2
    tail -n 5 "$CLUSTER_DIR"/log/*.log "$CLUSTER_DIR"/log/*.out >&2
    return 1
}

# The slurmstepd processes of this cluster's jobs: slurmd starts them
# detached, so they are found by the SLURM_CONF in their environment.
cluster_step_pids() {
    local p
    for p in $(pgrep -x slurmstepd); do
        if { tr '\0' '\n' < "/proc/$p/environ"; } 2>/dev/null | grep -qx "SLURM_CONF=$CLUSTER_DIR/slurm.conf"; then
            echo "$p"
        fi
    done
}

cluster_stop() {
    local p steps
    [ -n "$CLUSTER_DIR" ] || return 0
    # Jobs first, so their steps end the ordinary way.
    scancel --full --quiet --user="$(id -un)" 2>/dev/null
    for _ in $(seq 1 30); do
        [ -z "$(squeue --noheader 2>/dev/null)" ] && break
        sleep 0.2
    done
    steps=$(cluster_step_pids)
    for p in $CLUSTER_PIDS $steps; do kill "$p" 2>/dev/null; done
    for p in $CLUSTER_PIDS $steps; do
        for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
    done
    CLUSTER_PIDS=""
    if [ -n "$CLUSTER_CGROUP_MOUNTED" ]; then
        umount /sys/fs/cgroup 2>/dev/null || umount -l /sys/fs/cgroup 2>/dev/null
        CLUSTER_CGROUP_MOUNTED=""
    fi
}
