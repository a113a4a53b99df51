#!/usr/bin/env bash
# The long hostile-input run of isorun (outside CI; CI's test command runs
# the same property tests with small counts): every proptest target of
# runtime/tests/proptest_config.rs and proptest_image.rs, one after another,
# with ISORUN_PROPTEST_CASES cases each (default 100000). Run as root (the
# layer targets make device nodes for whiteouts). Prints one line per
# target: its name, the cases run and the wall time; a failing target
# (a panic, or the "host" directory changed) fails the script with
# proptest's minimal case in the output.
#
#   bash scripts/fuzz.sh            # 100000 cases per target
#   bash scripts/fuzz.sh 1000       # a quick run
set -euo pipefail
cd "$(dirname "$0")/.."
cases="${1:-100000}"
case "$cases" in
'' | *[!0-9]*)
    echo "fuzz.sh: the case count must be a number, not '$cases'" >&2
    exit 2
    ;;
esac
targets=(
    "proptest_config edited_configs_never_panic"
    "proptest_config mangled_config_text_never_panics"
    "proptest_config raw_bytes_never_panic"
    "proptest_image layer_unpack_never_panics_nor_touches_the_host"
    "proptest_image image_import_never_panics_nor_touches_the_host"
)
# Build first, so the times below are the runs' alone.
nice -n 10 cargo test --locked -p isorun --test proptest_config --test proptest_image --no-run
# The image targets make a temporary layout and layer store per case: on
# a tmpfs (FUZZ_TMPDIR, default /dev/shm when it is one) they do not wait
# on a disk.
tmp="${FUZZ_TMPDIR:-}"
if [ -z "$tmp" ] && [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then
    tmp=/dev/shm
fi
export TMPDIR="${tmp:-${TMPDIR:-/tmp}}"
echo "fuzz.sh: $cases cases per target, all targets at once, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), TMPDIR=$TMPDIR"
# One process per target, all at once (each is single-threaded); each
# prints its line when it ends.
one() {
    local file=$1 name=$2 start log result
    start=$(date +%s)
    log="target/fuzz-$name.log"
    # A name that matched no test would pass with 0 tests run: count it.
    if ISORUN_PROPTEST_CASES="$cases" nice -n 10 cargo test --locked -p isorun --test "$file" \
        -- --exact "$name" >"$log" 2>&1 && grep -q 'test result: ok. 1 passed' "$log"; then
        result=$cases
    else
        result=FAILED
    fi
    printf '%-66s %8s %8d\n' "$file::$name" "$result" "$(($(date +%s) - start))"
    if [ "$result" = FAILED ]; then
        tail -n 40 "$log" >&2
        return 1
    fi
}
printf '%-66s %8s %8s\n' target cases seconds
pids=()
for t in "${targets[@]}"; do
    read -r file name <<<"$t"
    one "$file" "$name" &
    pids+=($!)
done
status=0
for p in "${pids[@]}"; do
    wait "$p" || status=1
done
echo "fuzz.sh: done, load $(cut -d' ' -f1-3 /proc/loadavg)"
exit $status
