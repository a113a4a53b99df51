#!/usr/bin/env bash
# A one-node Slurm cluster on localhost, for trying `isobench fleet` and for
# its tests: munged, slurmctld and slurmd from Debian (slurm-wlm, munge;
# scripts/setup.sh installs them), with every file (slurm.conf, munge key and
# socket, state, spool, logs, pid files) in one throwaway directory. No system
# service is started and nothing under /etc is changed: Slurm's commands find
# the cluster through SLURM_CONF.
#
#   eval "$(bash scripts/slurm-local.sh start [DIR])"   # prints `export SLURM_CONF=DIR/slurm.conf`
#   sbatch / squeue / isobench fleet ...                  # as on any cluster
#   bash scripts/slurm-local.sh stop [DIR]                # cancels jobs, stops the daemons, removes DIR
#
# DIR (absent or empty) defaults to $ISOBENCH_SLURM_DIR, else /tmp/isobench-slurm. As root only
# (slurmd runs jobs as their submitting user). The node is this host
# (`hostname -s`, on 127.0.0.1) with all its CPUs, in partition `debug`, with
# the features of $ISOBENCH_SLURM_FEATURES (default `local`). Ports:
# $ISOBENCH_SLURM_PORT (slurmctld, default 26817) and the next one (slurmd).
# Plugins that need no cgroup setup: proctrack/linuxproc, task/none. No
# accounting database (slurmdbd) is configured, so `sacct` reports accounting
# as disabled; job states come from slurmctld (squeue/scontrol), which keeps a
# finished job for MinJobAge (here 600 s).
set -euo pipefail

cmd="${1:-}"
dir="${2:-${ISOBENCH_SLURM_DIR:-/tmp/isobench-slurm}}"
port="${ISOBENCH_SLURM_PORT:-26817}"
features="${ISOBENCH_SLURM_FEATURES:-local}"
sbin=/usr/sbin

log() { echo "slurm-local: $*" >&2; }

pid_of() { # a pid file's process, when it still runs
    [ -s "$1" ] || return 1
    local p
    p=$(cat "$1")
    kill -0 "$p" 2>/dev/null && echo "$p"
}

stop_pidfile() { # TERM, then KILL after 10 s
    local p i
    p=$(pid_of "$1") || return 0
    kill -TERM "$p" 2>/dev/null || true
    for i in $(seq 1 100); do
        kill -0 "$p" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$p" 2>/dev/null || true
}

stop() {
    [ -d "$dir" ] || return 0
    local conf="$dir/slurm.conf" i jobs p
    if [ -f "$conf" ] && pid_of "$dir/slurmctld.pid" >/dev/null; then
        jobs=$(SLURM_CONF="$conf" timeout 10 squeue --noheader --format=%A 2>/dev/null | sort -u || true)
        if [ -n "$jobs" ]; then
            # shellcheck disable=SC2086 # one id per word
            SLURM_CONF="$conf" timeout 10 scancel --full $jobs 2>/dev/null || true
            for i in $(seq 1 100); do # KillWait is 5 s
                [ -z "$(SLURM_CONF="$conf" timeout 10 squeue --noheader --states=PENDING,RUNNING,COMPLETING --format=%A 2>/dev/null || true)" ] && break
                sleep 0.1
            done
        fi
    fi
    stop_pidfile "$dir/slurmd.pid"
    stop_pidfile "$dir/slurmctld.pid"
    stop_pidfile "$dir/munge/munged.pid"
    # What outlived the daemons: job steps (slurmstepd, started by this
    # slurmd with this SLURM_CONF) and the processes of their jobs (which
    # carry SLURM_JOB_ID and the submitter's SLURM_CONF).
    local env
    for env in /proc/[0-9]*/environ; do
        p=${env#/proc/}
        p=${p%/environ}
        [ "$p" = $$ ] && continue
        grep -qsxz "SLURM_CONF=$conf" "$env" || continue
        if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = slurmstepd ] || grep -qsz '^SLURM_JOB_ID=' "$env"; then
            kill -KILL "$p" 2>/dev/null || true
        fi
    done
    rm -rf "$dir"
}

start() {
    if [ "$(id -u)" != 0 ]; then
        log "run me as root (slurmd starts jobs as their users)"
        exit 2
    fi
    for b in munged slurmctld slurmd; do
        [ -x "$sbin/$b" ] || { log "$sbin/$b is missing: install munge, slurmctld and slurmd (scripts/setup.sh does)"; exit 1; }
    done
    if [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
        log "$dir is not empty (a cluster already started there?): run \`$0 stop $dir\` first"
        exit 2
    fi
    mkdir -p "$dir"
    trap 'stop; exit 1' ERR
    local host
    host=$(hostname -s)
    mkdir -p "$dir/munge" "$dir/ctld" "$dir/spool"
    chmod 755 "$dir"
    # munged checks that its key, socket, log and seed live in directories
    # only its own user can write; it runs as `munge`, not root.
    head -c 1024 /dev/urandom >"$dir/munge/munge.key"
    chmod 700 "$dir/munge"
    chmod 400 "$dir/munge/munge.key"
    chown -R munge: "$dir/munge"
    chmod 755 "$dir/munge" # the socket must be reachable by every user
    runuser -u munge -- "$sbin/munged" --socket="$dir/munge/munge.socket" \
        --key-file="$dir/munge/munge.key" --pid-file="$dir/munge/munged.pid" \
        --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed"

    cat >"$dir/slurm.conf" <<EOF
# Written by scripts/slurm-local.sh: a throwaway one-node cluster.
ClusterName=isobench
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/ctld
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
MinJobAge=600
KillWait=5
SchedulerParameters=sched_interval=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) Feature=$features State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    export SLURM_CONF="$dir/slurm.conf"
    "$sbin/slurmctld" -f "$SLURM_CONF"
    "$sbin/slurmd" -f "$SLURM_CONF"
    # Ready when the node is idle (slurmd registered with slurmctld).
    local i state=""
    for i in $(seq 1 150); do
        state=$(sinfo --noheader --nodes="$host" --format=%T 2>/dev/null || true)
        case "$state" in idle*) break ;; esac
        sleep 0.2
    done
    case "$state" in
    idle*) ;;
    *)
        log "node $host did not become idle (state '${state:-none}'); logs in $dir:"
        tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log" "$dir/munge/munged.log" >&2 || true
        stop
        exit 1
        ;;
    esac
    trap - ERR
    log "one-node cluster up: node $host ($(nproc) CPUs, features $features), partition debug, in $dir"
    echo "export SLURM_CONF=$dir/slurm.conf"
}

case "$cmd" in
start) start ;;
stop) stop ;;
*)
    echo "usage: $0 start|stop [DIR]" >&2
    exit 2
    ;;
esac
