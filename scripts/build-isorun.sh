#!/bin/sh
# Build isorun as a static non-PIE executable (libc, libgcc_eh and
# libseccomp linked in, no dynamic loader, linked at a fixed address) and
# print its path: target/x86_64-unknown-linux-gnu/release/isorun.
#
# Why: a `run` is dominated by process start-up and fork costs. The dynamic
# build pays the loader (libseccomp, libgcc_s, 10k relocations, RELRO
# copy-on-write faults) in every `isorun` process; the static PIE measured
# about 1 ms of CPU less per bare `run` (runtime/README.md, speed). Whatever
# runs isorun (src/locate.rs `isorun_bin`, the lifecycle bench) takes this
# binary when it is at least as new as the dynamic one of `cargo build`, so
# a later `cargo build` after a source change is never shadowed by a stale
# static build. Run this script again after changing isorun's sources.
#
# glibc warns at link time that getpwuid_r (rootless `isorun spec`: the
# caller's name for /etc/subuid) needs the host's libnss_* at run time: the
# binary looks users up only on a host with the glibc it was built with, as
# any build made here.
#
# Non-PIE (`-C relocation-model=static`): a static PIE relocates itself at
# every start (about 12k R_X86_64_RELATIVE entries: 54 page faults, about
# 5 % of a bare `run`'s CPU); runc (Go) ships non-PIE too. What is given
# up: ASLR of the runtime's own image (its code and static data sit at
# the same address in every isorun process; heap, stack and mmap stay
# randomised). The container's processes are exec'd images of their own
# and keep their ASLR. Measured: runtime/README.md, speed.
#
# With --target, RUSTFLAGS reach only the target's crates, not build scripts
# or proc-macros (as scripts/build-workload.sh, whose RUSTFLAGS these match so
# the two share the target directory without rebuilding each other). The
# relocation model is given to the isorun binary's own compilation only
# (`cargo rustc ... -- FLAGS`), which also links it: the dependencies stay
# built as for the workload (position-independent code links into a
# non-PIE executable).
set -eu

cd "$(dirname "$0")/.."
TARGET=x86_64-unknown-linux-gnu
BIN="target/$TARGET/release/isorun"

# libseccomp's static archive (libseccomp-dev).
libdir=
for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib; do
    if [ -f "$d/libseccomp.a" ]; then libdir=$d; break; fi
done
[ -n "$libdir" ] || { echo "error: libseccomp.a not found (apt-get install libseccomp-dev)" >&2; exit 1; }

LIBSECCOMP_LINK_TYPE=static LIBSECCOMP_LIB_PATH="$libdir" \
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    cargo rustc --release -p isorun --bin isorun --target "$TARGET" -- -C relocation-model=static >&2

# Static means no program interpreter (PT_INTERP, p_type 3); non-PIE means
# e_type ET_EXEC (2). Read the ELF header with od (coreutils): readelf, file
# and python may be absent on a fresh machine.
sh scripts/check-static-elf.sh "$BIN" --no-pie
# The build may have been a no-op (nothing changed): it is still the
# newest isorun only if no dynamic build is newer; touch it so the order
# of the two builds decides (src/locate.rs).
touch "$BIN"

echo "$BIN"
