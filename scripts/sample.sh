#!/usr/bin/env bash
# Regenerates the committed sample (reports/sample/) from the commit checked
# out: builds that commit's release binaries, runs the main job (one
# `isobench run --experiment all` of the quick preset with the arguments of
# scripts/main-job.sh, as scripts/quick-suite.sh does: the suite natively,
# in containers and in a VM, density, noisy neighbours and the permission
# check, into one run directory with one run id) in a scratch directory,
# removes this machine's paths from what it recorded, renders its one
# report with the same binary, writes the sample's README (commit, host,
# command, time) and replaces reports/sample/ with the result. As root,
# like the main job; a few minutes on a quiet 2-core host.
#
# Fails closed, leaving reports/sample/ as it was: when the code differs
# from the commit (uncommitted changes in src, runtime, workloads,
# reports/src), when the run recorded another commit than the one checked
# out, when the run fails, and when a machine path (this checkout, the
# scratch directory, /work, /tmp, /root, /home, $HOME) is left in any file.
# Commit the result on top of the commit it names: the code is the same.
#
# ISOBENCH_SAMPLE_RUN=DIR takes an existing run directory of the main job
# instead of running one (e.g. the one `bash scripts/quick-suite.sh` just
# made in a fresh clone): it must have been made by the commit checked out
# (checked below) with the main job's arguments (its run.json's command is
# checked against scripts/main-job.sh); the copy in the sample is scrubbed of
# that checkout's paths too.
#
# ISOBENCH_BIN=PATH measures with that isobench binary (and the isorun and
# workload binaries it finds) instead of building; it must have been built
# from the commit checked out. Extra arguments go to `isobench run` (e.g.
# --env native,container where no VM can run; the README then shows them).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd -P)

log() { echo "sample: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
    log "run me as root (containers, cgroups and the permission check need it)"
    exit 2
fi
head=$(git rev-parse --short=12 HEAD)
if [ -n "$(git status --porcelain -- src runtime workloads reports/src build.rs Cargo.toml Cargo.lock scripts/main-job.sh)" ]; then  # the measuring code and the renderer
    log "the code has uncommitted changes: commit them first, the sample must be what commit $head measures"
    exit 2
fi

if [ -n "${ISOBENCH_BIN:-}" ]; then
    bin=$ISOBENCH_BIN
else
    log "building the release binaries of $head"
    cargo build --release -q -p isobench -p isorun
    bash scripts/build-workload.sh >/dev/null
    bin=target/release/isobench
fi

# shellcheck source=scripts/main-job.sh
. scripts/main-job.sh

scratch=$(mktemp -d /tmp/isobench-sample.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
new=$scratch/sample
mkdir -p "$new"

started=$(date -u +%Y-%m-%dT%H:%MZ)
t0=$(date +%s)
load=$(cut -d' ' -f1-3 /proc/loadavg)
# The main job, kept out of the history database. Exit 1 means some runs
# were invalid (the report shows them): still the sample, and its README
# says so; anything else (usage, interrupt, a failure before any result)
# leaves the sample as it was.
status=0
src_root=$root
if [ -n "${ISOBENCH_SAMPLE_RUN:-}" ]; then
    run_src=$(cd "$ISOBENCH_SAMPLE_RUN" && pwd -P) || { log "error: no run directory $ISOBENCH_SAMPLE_RUN"; exit 2; }
    [ -s "$run_src/run.json" ] && [ -s "$run_src/results.jsonl" ] ||
        { log "error: $ISOBENCH_SAMPLE_RUN holds no run.json and results.jsonl"; exit 2; }
    # run.json keeps the plan, not the command line: check its preset and
    # that every workload and runtime of the main job is in it.
    want=$(printf '%s\n' "${main_job[@]}" | sed -n '/^--\(workload\|runtime\|preset\)$/{n;p}' | tr ',' '\n')
    grep -qE '"preset": *"quick"' "$run_src/run.json" ||
        { log "error: $ISOBENCH_SAMPLE_RUN is not a run of the quick preset (the main job's)"; exit 2; }
    for a in $want; do
        grep -qF -- "\"$a\"" "$run_src/run.json" ||
            { log "error: $ISOBENCH_SAMPLE_RUN was not made with the main job's arguments (no '$a' in its plan)"; exit 2; }
    done
    src_root=$(git -C "$run_src" rev-parse --show-toplevel 2>/dev/null || echo "$run_src")
    cp -r "$run_src" "$new/run"
    rm -rf "$new/run/report"
    # The run's own start and end (run.json), not this script's.
    started=$(sed -n 's/.*"started_at": *"\([^"]*\)".*/\1/p' "$new/run/run.json" | head -1)
    finished=$(sed -n 's/.*"finished_at": *"\([^"]*\)".*/\1/p' "$new/run/run.json" | head -1)
    seconds=$(($(date -d "$finished" +%s) - $(date -d "$started" +%s)))
    load="(not recorded: an existing run)"
    if grep -q '"valid": *false' "$new/run/results.jsonl"; then status=1; fi
else
    "$bin" "${main_job[@]}" --no-history --out "$new/run" "$@" || status=$?
    seconds=$(($(date +%s) - t0))
fi
if [ "$status" != 0 ] && { [ "$status" != 1 ] || [ ! -s "$new/run/results.jsonl" ]; }; then
    log "error: the main job failed (exit $status); reports/sample/ is unchanged"
    exit 1
fi
invalid=""
if [ "$status" = 1 ]; then
    invalid=" Some runs or trials were invalid (the run exited 1); the report lists them and leaves them out of every figure."
    log "warning: some runs were invalid (exit 1); the report shows them"
fi

commit=$(sed -n 's/.*"git_commit": *"\([^"]*\)".*/\1/p' "$new/run/run.json" | head -1)
# The run's commit, or one whose measuring code is the same as the
# checkout's (only docs, scripts, the sample or the report renderer
# (reports/src) changed since: the report is rendered by $bin, built from
# the checkout, and the README names both commits).
code_paths=(src runtime workloads build.rs Cargo.toml Cargo.lock scripts/main-job.sh)
if [ "$commit" != "$head" ] &&
    ! { [ -n "$commit" ] && git cat-file -e "$commit^{commit}" 2>/dev/null &&
        git diff --quiet "$commit" HEAD -- "${code_paths[@]}"; }; then
    log "error: the run recorded commit '${commit:-none}', whose code differs from $head checked out: build $head (or unset ISOBENCH_BIN)"
    exit 1
fi

# No path of this machine in the sample: paths under the checkout (or
# under any checkout's target/, with ISOBENCH_BIN) become relative to it,
# the scratch directory becomes `sample/`, the permission check's work
# directories lose their /tmp, its throwaway users' homes read `~isobp<pid>a`
# and $HOME becomes `~`.
scrub() {
    sed -i -E -e "s|$root/||g" -e "s|$src_root/||g" -e "s|$scratch/||g" \
        -e 's#/[^" ]*/(target/[^" ]*)#\1#g' \
        -e 's#/tmp/(isobench-[a-z]+-[0-9A-Za-z.]+)#\1#g' \
        -e 's#/home/(isobp[0-9]+[a-z])#~\1#g' \
        -e "s#(^|[^[:alnum:]_.-])$HOME/#\\1~/#g" "$@"
}
scrub "$new"/run/run.json "$new"/run/results.jsonl

"$bin" report "$new/run" --out "$new/report" >/dev/null
# What a reader sees first: the report's first screen, rendered by a real
# browser (Debian's chromium, which scripts/setup.sh installs).
shot=""
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$browser" ]; then
    "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --window-size=1280,900 --screenshot="$new/first-screen.png" \
        "file://$new/report/index.html" >/dev/null 2>&1 || true
    [ -s "$new/first-screen.png" ] && shot=yes
fi
[ -n "$shot" ] || log "warning: no chromium: the sample has no first-screen.png"
shot_line=""
if [ -n "$shot" ]; then
    shot_line='- [`first-screen.png`](first-screen.png): the first screen of the report in headless Chromium (1280x900).
'
fi

# A machine path: this checkout, the scratch directory, any target/
# directory, or a path starting at /work, /tmp, /root or /home (not a
# directory of that name deeper in a path, such as a kernel unpacked into
# .../kernel/root/boot).
left() {
    grep -rlIE -e "$root|$scratch|/[^\" ]*/target/" \
        -e '(^|[^[:alnum:]_.~-])/(work|tmp|root|home)(/|$|[^[:alnum:]_.-])' "$new"
}
if left >/dev/null; then
    log "error: machine paths left in: $(left | tr '\n' ' ')"
    left | head -3 | while read -r f; do
        grep -noIE -e "$root|$scratch" -e '(^|[^[:alnum:]_.~-])/(work|tmp|root|home)(/[^" ]*)?' "$f" | head -3 >&2
    done
    exit 1
fi

rendered=""
if [ "$commit" != "$head" ]; then
    rendered=" (report rendered by \`${head}\`, whose measuring code is the same)"
fi
cpu=$(sed -n 's/.*"cpu_model": *"\([^"]*\)".*/\1/p' "$new/run/run.json" | head -1)
cores=$(nproc)
cmd="isobench ${main_job[*]}${*:+ $*}"
cat >"$new/README.md" <<EOM
# Sample report

Regenerated by \`scripts/sample.sh\` on ${started} from commit \`${commit}\`${rendered}
on a ${cores}-core ${cpu:-host} (load average ${load} at the start; the
run took ${seconds} s): one run of the main job (what
\`scripts/quick-suite.sh\` runs), one run directory with one run id, and
its one report.

${shot_line}- \`run/\`: \`run.json\` and \`results.jsonl\`, as \`isobench run\` wrote them
  (paths of the machine removed).
- \`report/\`: [\`summary.md\`](report/summary.md), \`index.html\` (one
  self-contained page), \`claims.json\`, \`results.csv\`, \`summary.csv\`,
  \`bencher.json\` and \`plots/\`. Render it again with
  \`isobench report run --out report\`.

The command:

\`\`\`
${cmd}
\`\`\`

Read the figures with the caveats the report states: quick runs have few
repetitions (wide intervals; "inconclusive" where an interval spans a
claim's limit), and where the VM ran under TCG emulation its figures
measure the emulator ("not testable on this host").${invalid}
EOM

rm -rf reports/sample
mkdir -p reports
cp -r "$new" reports/sample
log "reports/sample/ regenerated from commit ${commit} in ${seconds} s: reports/sample/report/index.html"
