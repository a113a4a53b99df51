#!/bin/sh
# Build the static isobench-workload binary for the baseline x86-64 ISA and
# print its path.
#
# Baseline ISA on purpose (no -C target-cpu=native): under QEMU TCG, AVX2/FMA
# code is emulated very slowly, so a native build would measure the emulator's
# vector support instead of the memory system (docs/design.md). The binary
# records the code path it was built for in its result (`info.isa`).
#
# With --target, RUSTFLAGS reach only the target's crates, not build scripts
# or proc-macros, which must stay dynamically linked host programs.
set -eu

cd "$(dirname "$0")/.."
TARGET=x86_64-unknown-linux-gnu
BIN="target/$TARGET/release/isobench-workload"

RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    cargo build --release -p isobench-workloads --bin isobench-workload --target "$TARGET" >&2

# Static means no program interpreter (PT_INTERP, p_type 3) in the program
# headers. Read the ELF header with od (coreutils): readelf, file and python
# may be absent on a fresh machine.
sh scripts/check-static-elf.sh "$BIN"

echo "$BIN"
