#!/usr/bin/env bash
# The main job: set up, run the quick suite natively, in containers (isorun,
# runc, crun) and in a VM, and render its report; then the quick density
# experiment (idle instances launched one at a time, claim C4) and its
# report. Prints where the reports are.
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
[ "$status" = 0 ] && status=$dstatus
exit "$status"
