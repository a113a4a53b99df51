#!/usr/bin/env bash
# The test command: set up what the tests need (packages, guest kernel, static
# workload binary, release binaries), then check formatting and lints and run
# every test of the workspace. Tests that need root run for real (run as root).
#
# Every test runs even when one fails (--no-fail-fast). A test that cannot run
# here skips through isobench_testkit, which appends "test: reason" to
# $ISOBENCH_SKIP_LOG; with CI=true a skip for a missing prerequisite (root,
# QEMU, a guest kernel, busybox, runc, crun) fails instead. The summary at the
# end counts cargo's "test result:" lines; cargo counts a skipped test as
# passed, so the skips are subtracted from the passes. The last line is
#   tests: P passed, F failed, S skipped
# The whole cargo test output is kept in target/test-output.log.
set -euo pipefail
cd "$(dirname "$0")/.."
ISOBENCH_APT_UPDATE="${ISOBENCH_APT_UPDATE:-0}" bash scripts/setup.sh
cargo fmt --all --check
cargo clippy --locked --workspace --all-targets -- -D warnings

mkdir -p target
log="$PWD/target/test-output.log"
export ISOBENCH_SKIP_LOG="$PWD/target/test-skips.log"
: >"$ISOBENCH_SKIP_LOG"
set +e
cargo test --locked --workspace --no-fail-fast -- --test-threads="${ISOBENCH_TEST_THREADS:-2}" 2>&1 |
    tee "$log"
status=${PIPESTATUS[0]}
set -e

# "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; ..."
read -r passed failed ignored < <(
    sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed; \([0-9]*\) ignored;.*/\1 \2 \3/p' "$log" |
        awk '{p += $1; f += $2; i += $3} END {print p + 0, f + 0, i + 0}'
)
# One skip per test, however often its helpers recorded it.
skipped=$(sed 's/: .*//' "$ISOBENCH_SKIP_LOG" | sort -u | grep -c . || true)
if [ "$skipped" -gt "$passed" ]; then
    echo "test.sh: $skipped skips recorded but only $passed tests passed; is $ISOBENCH_SKIP_LOG stale?" >&2
    status=1
fi

echo
echo "== test summary (full output: $log)"
if [ "$skipped" -gt 0 ]; then
    echo "skipped (they did not run; cargo counted them as passed):"
    sort -u "$ISOBENCH_SKIP_LOG" | sed 's/^/  /'
fi
if [ "$ignored" -gt 0 ]; then
    echo "ignored (#[ignore]): $ignored"
fi
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
    echo "cargo test exited with status $status although no test reported a failure (a build error or a crashed test binary: see $log)"
fi
echo "tests: $((passed - skipped)) passed, $failed failed, $skipped skipped"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ]; then
    exit 1
fi
