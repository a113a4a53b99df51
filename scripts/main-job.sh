# shellcheck shell=bash
# The main job's `isobench` arguments, in one place: scripts/quick-suite.sh
# runs them and scripts/sample.sh regenerates the committed sample from
# them, so that the sample is what the README's first command produces.
# One run directory with one run id: the quick suite natively, in
# containers (isorun, runc, crun) and in a VM with every workload (claim
# C7's among them), then density (claim C4), noisy neighbours (claim C5)
# and, as root, the permission check (claim C6). Sourced, not run.
# shellcheck disable=SC2034 # used by the scripts that source this file
main_job=(run --experiment all
    --env native,container,vm
    --runtime isorun,runc,crun
    --workload cpu,membw,randacc,latency,startup,copyup,ovlmount,fsmeta,layers
    --preset quick)
