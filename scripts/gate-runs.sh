#!/usr/bin/env bash
# Independent whole runs of `--preset gate` (native and the isorun container
# column), one after another, for measuring the regression gate on real
# run-to-run variation (docs/gating.md, docs/gating-measured.md). Each run gets its own run directory
# OUT/gate-NN and a sidecar OUT/gate-NN.load with the load average (1, 5 and
# 15 minutes, /proc/loadavg) before and after the run, because the host may
# be shared with other work.
#
#   scripts/gate-runs.sh [COUNT [OUT]]      # default 20 runs into runs/gate-series
#
# ISOBENCH names the isobench binary (default target/release/isobench);
# extra `isobench run` flags can be given in GATE_RUN_FLAGS. Runs are kept
# out of the history store (--no-history); push them with `isobench push`.
# Messages name run directories relative to OUT, never this machine's paths.
set -euo pipefail
count="${1:-20}"
out="${2:-runs/gate-series}"
bin="${ISOBENCH:-target/release/isobench}"
case "$count" in '' | *[!0-9]*) echo "error: COUNT must be a number, not '$count'" >&2; exit 2 ;; esac
[ -x "$bin" ] || { echo "error: no isobench binary at \$ISOBENCH (build it: cargo build --release)" >&2; exit 2; }
mkdir -p "$out"
failed=0
for i in $(seq 1 "$count"); do
    name=$(printf 'gate-%02d' "$i")
    if [ -f "$out/$name/run.json" ] && [ -f "$out/$name.load" ] && grep -q '^after ' "$out/$name.load"; then
        echo "$name: already there, kept"
        continue
    fi
    rm -rf "${out:?}/$name"
    {
        echo "before $(cut -d' ' -f1-3 /proc/loadavg)"
        echo "started $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    } >"$out/$name.load"
    status=0
    # shellcheck disable=SC2086
    "$bin" run --preset gate --env native,container --runtime isorun \
        --no-history --out "$out/$name" ${GATE_RUN_FLAGS:-} >"$out/$name.log" 2>&1 || status=$?
    {
        echo "after $(cut -d' ' -f1-3 /proc/loadavg)"
        echo "ended $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "exit $status"
    } >>"$out/$name.load"
    echo "$name: exit $status, load $(head -1 "$out/$name.load" | cut -d' ' -f2-) -> $(cut -d' ' -f1-3 /proc/loadavg)"
    [ "$status" = 0 ] || failed=$((failed + 1))
done
echo "$count runs in $(basename "$out"), $failed failed"
[ "$failed" = 0 ]
