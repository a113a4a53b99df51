#!/usr/bin/env bash
# Installs and builds everything isobench needs on a fresh Debian 12 machine,
# as root: QEMU, runc, crun, busybox-static, cpio, PostgreSQL, Slurm and
# munge, uidmap (newuidmap/newgidmap for rootless containers), umoci (C7 and
# OCI layouts of a user's command), hyperfine (the reference for a user's
# command), podman with conmon, sudo (the permission check of claim C6), fio
# (the reference of the file I/O workload, claim C8),
# libseccomp-dev and pkg-config (isorun links libseccomp), clang (builds
# isorun's cgroup v2 eBPF device program) (Debian packages;
# no server is started as a service: scripts/test.sh runs a throwaway
# PostgreSQL cluster and, with scripts/slurm-local.sh, a one-node Slurm
# cluster), a guest
# kernel (scripts/fetch-kernel.sh), the static workload binary
# (scripts/build-workload.sh), the release binaries (isobench, isorun) and
# isorun's static build (scripts/build-isorun.sh), which isobench runs.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "setup: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
    log "run me as root (containers, cgroups and packages need it)"
    exit 2
fi

pkgs=(qemu-system-x86 busybox-static runc crun runsc cpio ca-certificates postgresql
    slurmctld slurmd slurm-client munge uidmap podman conmon sudo umoci
    libseccomp-dev pkg-config clang
    fio  # the reference of the fileio workload (tests/fileio.rs)
    hyperfine  # the reference timing of a user's command (tests/user_command.rs)
    chromium)  # chromium: the report test of reports/tests/browser.rs
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ] || [ "${ISOBENCH_APT_UPDATE:-0}" = 1 ]; then
    log "installing ${missing[*]:-(update only)}"
    apt-get update -q
    if [ "${#missing[@]}" -gt 0 ]; then
        # Exit 101 from policy-rc.d: installing must not start a system
        # service (postgresql's cluster, munge, slurmctld, slurmd); tests
        # start their own servers.
        policy=/usr/sbin/policy-rc.d
        own_policy=0
        if [ ! -e "$policy" ]; then
            printf '#!/bin/sh\nexit 101\n' >"$policy"
            chmod 755 "$policy"
            own_policy=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
        if [ "$own_policy" = 1 ]; then rm -f "$policy"; fi
    fi
fi

if ! command -v cargo >/dev/null; then
    log "cargo not found: install a Rust toolchain (https://rustup.rs) and run me again"
    exit 1
fi

if [ -x scripts/fetch-kernel.sh ] || [ -f scripts/fetch-kernel.sh ]; then
    log "guest kernel: $(bash scripts/fetch-kernel.sh)"
fi

log "building the static workload binary"
bash scripts/build-workload.sh >/dev/null
log "building isobench and isorun (release)"
cargo build --release --locked -p isobench -p isorun 2>&1 | tail -n 2 >&2
# After the dynamic build: isobench runs the newer of the two isorun
# binaries (src/locate.rs), and this one is the faster.
log "building isorun as a static binary"
bash scripts/build-isorun.sh >/dev/null
