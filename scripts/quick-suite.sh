#!/usr/bin/env bash
# The main job: set up, run the quick suite natively, in containers (isorun,
# runc, crun) and in a VM, and render its report; then the quick density
# experiment (idle instances launched one at a time, claim C4), the
# quick noisy-neighbour experiment (native and isorun: a cpu and a membw
# victim alone and beside the antagonist of their own resource, shared
# and partitioned, 3 repetitions; claim C5) and the permission check
# (claim C6), each with its report. Prints where the reports are.
# Extra arguments go to `isobench run` (e.g. --env native to skip the others).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
out="${ISOBENCH_OUT:-runs/quick-$(date -u +%Y%m%dT%H%M%SZ)}"
status=0
./target/release/isobench run \
    --env native,container,vm \
    --runtime isorun,runc,crun \
    --workload cpu,membw,randacc,latency,startup,copyup,ovlmount,fsmeta,layers \
    --preset quick --out "$out" "$@" || status=$?
if [ -f "$out/results.jsonl" ]; then
    ./target/release/isobench report "$out" --out "$out/report"
    echo "report: $out/report/index.html"
    [ -f "$out/report/summary.md" ] && cat "$out/report/summary.md"
fi
dstatus=0
./target/release/isobench run --experiment density \
    --env native,container,vm \
    --runtime isorun,runc,crun \
    --preset quick --out "$out-density" --no-history || dstatus=$?
if [ -f "$out-density/results.jsonl" ]; then
    ./target/release/isobench report "$out-density" --out "$out-density/report"
    echo "density report: $out-density/report/index.html"
fi
nstatus=0
./target/release/isobench run --experiment neighbours \
    --env native,container \
    --runtime isorun \
    --workload cpu,membw \
    --preset quick --out "$out-neighbours" --no-history || nstatus=$?
if [ -f "$out-neighbours/results.jsonl" ]; then
    ./target/release/isobench report "$out-neighbours" --out "$out-neighbours/report"
    echo "neighbours report: $out-neighbours/report/index.html"
    sed -n '/^## Noisy neighbours/,/^## Host/p' "$out-neighbours/report/summary.md" | sed '$d'
fi
[ "$status" = 0 ] && status=$dstatus
[ "$status" = 0 ] && status=$nstatus
# Who may act on whose containers (claim C6): two test users through a
# shared podman service, shared runtime state roots and per-user rootless
# engines (about 10 s; users, service and containers removed afterwards).
pstatus=0
./target/release/isobench run --experiment permissions --out "$out-permissions" || pstatus=$?
if [ -f "$out-permissions/results.jsonl" ]; then
    ./target/release/isobench report "$out-permissions" --out "$out-permissions/report"
    echo "permissions report: $out-permissions/report/index.html"
fi
[ "$status" = 0 ] && status=$pstatus
exit "$status"
