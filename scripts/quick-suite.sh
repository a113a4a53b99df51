#!/usr/bin/env bash
# The main job: set up, run the quick suite natively, in containers (isorun,
# runc, crun) and in a VM, and render its report. Prints where the report is.
# Extra arguments go to `isobench run` (e.g. --env native to skip the others).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
out="${ISOBENCH_OUT:-runs/quick-$(date -u +%Y%m%dT%H%M%SZ)}"
status=0
./target/release/isobench run \
    --env native,container,vm \
    --runtime isorun,runc,crun \
    --workload cpu,membw,randacc,latency,startup \
    --preset quick --out "$out" "$@" || status=$?
if [ -f "$out/results.jsonl" ]; then
    ./target/release/isobench report "$out" --out "$out/report"
    echo "report: $out/report/index.html"
    [ -f "$out/report/summary.md" ] && cat "$out/report/summary.md"
fi
exit "$status"
