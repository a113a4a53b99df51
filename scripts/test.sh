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

# A throwaway PostgreSQL cluster for the history-store tests: initdb into a
# temporary directory owned by `postgres`, listening on 127.0.0.1 only on a
# private port, trust authentication; stopped and removed on every exit. No
# system service is started.
pg_bin="${ISOBENCH_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
pg_port="${ISOBENCH_TEST_PG_PORT:-54329}"
pg_dir=""
stop_pg() {
    if [ -n "$pg_dir" ] && [ -d "$pg_dir" ]; then
        runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate -w stop >/dev/null 2>&1 || true
        rm -rf "$pg_dir"
    fi
}
# A throwaway one-node Slurm cluster for the fleet tests
# (scripts/slurm-local.sh: munged, slurmctld, slurmd on 127.0.0.1, private
# ports, everything in one temporary directory); stopped on every exit, its
# jobs cancelled and their processes killed.
slurm_dir=""
stop_slurm() {
    if [ -n "$slurm_dir" ]; then
        bash scripts/slurm-local.sh stop "$slurm_dir" || true
    fi
}
trap 'stop_slurm; stop_pg' EXIT
trap 'exit 130' INT TERM
if [ -x "$pg_bin/initdb" ] && id postgres >/dev/null 2>&1; then
    pg_dir=$(mktemp -d /tmp/isobench-pg.XXXXXX)
    chown postgres: "$pg_dir"
    runuser -u postgres -- "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust -E UTF8 >"$pg_dir/initdb.log" 2>&1 ||
        { cat "$pg_dir/initdb.log" >&2; exit 1; }
    runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 30 \
        -o "-h 127.0.0.1 -p $pg_port -k $pg_dir -c max_connections=200 -c fsync=off" start >/dev/null ||
        { cat "$pg_dir/server.log" >&2; exit 1; }
    runuser -u postgres -- "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres isobench_test
    export ISOBENCH_TEST_PG_URL="postgres://postgres@127.0.0.1:$pg_port/isobench_test"
    echo "test.sh: PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port ($pg_dir)" >&2
else
    echo "test.sh: no PostgreSQL server binaries (scripts/setup.sh installs them); the store tests will skip" >&2
fi

if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
    slurm_dir=$(mktemp -d /tmp/isobench-slurm.XXXXXX)
    bash scripts/slurm-local.sh start "$slurm_dir" >/dev/null
    # Not SLURM_CONF: the tests pass it only to the commands they run.
    export ISOBENCH_TEST_SLURM_CONF="$slurm_dir/slurm.conf"
    echo "test.sh: Slurm $(slurmctld -V | awk '{print $2}') one-node cluster ($slurm_dir)" >&2
else
    echo "test.sh: no Slurm daemons (scripts/setup.sh installs slurmctld, slurmd, munge); the fleet tests will skip" >&2
fi

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
