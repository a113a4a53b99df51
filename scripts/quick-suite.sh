#!/usr/bin/env bash
# The main job: set up, then one command measures everything into one run
# directory with one run id: the quick suite natively, in containers (isorun,
# runc, crun) and in a VM with every workload (claim C7's among them), then
# the density experiment (idle instances launched one at a time, claim C4),
# the noisy-neighbour experiment (native and isorun: cpu and membw victims
# alone and beside the antagonist of their own resource, shared and
# partitioned; claim C5) and, as root, the permission check (claim C6).
# The command's arguments live in scripts/main-job.sh (scripts/sample.sh
# runs the same). One report of that directory decides every claim. Prints
# where it is. Extra arguments go to `isobench run` (e.g. --env native to
# skip the others).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck source=scripts/main-job.sh
. scripts/main-job.sh
out="${ISOBENCH_OUT:-runs/quick-$(date -u +%Y%m%dT%H%M%SZ)}"
status=0
./target/release/isobench "${main_job[@]}" --out "$out" "$@" || status=$?
if [ -f "$out/results.jsonl" ]; then
    ./target/release/isobench report "$out" --out "$out/report"
    echo "report: $out/report/index.html"
    [ -f "$out/report/summary.md" ] && cat "$out/report/summary.md"
fi
exit "$status"
