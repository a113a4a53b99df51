#!/usr/bin/env bash
# The test command: set up what the tests need (packages, guest kernel, static
# workload binary, release binaries), then check formatting and lints and run
# every test of the workspace. Tests that need root run for real (run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
ISOBENCH_APT_UPDATE="${ISOBENCH_APT_UPDATE:-0}" bash scripts/setup.sh
cargo fmt --all --check
cargo clippy --locked --workspace --all-targets -- -D warnings
cargo test --locked --workspace -- --test-threads="${ISOBENCH_TEST_THREADS:-2}"
