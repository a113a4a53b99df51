#!/usr/bin/env bash
# Every table of docs/gating-measured.md ("Measured, not asserted") from a series of
# whole `--preset gate` runs made by scripts/gate-runs.sh: the series' dates
# and load averages (from the gate-NN.load sidecars), the run-to-run spread
# of each quantity, then the gate's A/A false alarms, exit-2 rate and power
# (reports/examples/gate_power.rs) for K = 1, 5, 10 baseline runs and
# M = 1, 3, 5 new runs (random and consecutive draws), against a 10%
# slowdown of each 1-thread cpu quantity in turn (default mode and
# --fail-on-possible) and a 5% one (threshold 5, threshold 2,
# --fail-on-possible), and in history order (each window of K runs and the
# M runs right after them, once). Then, for each other run summary
# (`gate_power --summary`, `compare --run-summary`: best, best-half, q75),
# its spread and the K = 5 and K = 10 rows of the same tables. Seeds are
# fixed: the same series gives the same tables. Markdown on stdout.
#
#   scripts/gate-measure.sh SERIES_DIR [TRIALS]     # default 500 trials a row
#
# GATE_MEASURE_FLAGS: extra gate_power flags for every table (for example
# `--metric gflops,primes_per_s` to gate only those). Messages name the
# series by its directory name, never this machine's paths.
set -euo pipefail
dir="${1:-}"
trials="${2:-500}"
[ -n "$dir" ] || { echo "usage: scripts/gate-measure.sh SERIES_DIR [TRIALS]" >&2; exit 2; }
case "$trials" in '' | *[!0-9]*) echo "error: TRIALS must be a number, not '$trials'" >&2; exit 2 ;; esac
[ -d "$dir" ] || { echo "error: no series directory $(basename "$dir")" >&2; exit 2; }
dir=$(cd "$dir" && pwd)
shopt -s nullglob
runs=("$dir"/gate-*/)
[ "${#runs[@]}" -ge 12 ] || {
    echo "error: $(basename "$dir") holds ${#runs[@]} gate-NN run directories; the tables need at least 12 (K = 5 + M = 5 + 2)" >&2
    exit 2
}
cd "$(dirname "$0")/.."
nice -n 10 cargo build --quiet --release -p isobench-reports --example gate_power
bin=target/release/examples/gate_power
name=$(basename "$dir")

echo "## Series $name: ${#runs[@]} runs"
echo
loads=("$dir"/gate-*.load)
if [ "${#loads[@]}" -gt 0 ]; then
    first=$(grep -h '^started ' "${loads[@]}" | sort | head -1 | cut -d' ' -f2)
    last=$(grep -h '^ended ' "${loads[@]}" | sort | tail -1 | cut -d' ' -f2)
    range() { grep -h "^$1 " "${loads[@]}" | cut -d' ' -f2 | sort -g | sed -n '1p;$p' | paste -sd' ' | sed 's/ /–/'; }
    failed=$(grep -h '^exit ' "${loads[@]}" | grep -vc '^exit 0$' || true)
    echo "Made $first to $last; 1-minute load average before each run $(range before), after $(range after); $failed run(s) exited non-zero."
    echo
fi

# One table: a heading, the exact command, the table.
table() {
    local title="$1"
    shift
    echo "### $title"
    echo
    echo '```sh'
    echo "cargo run --release -p isobench-reports --example gate_power -- $*${GATE_MEASURE_FLAGS:+ $GATE_MEASURE_FLAGS} $name/gate-*/"
    echo '```'
    echo
    # shellcheck disable=SC2086
    "$bin" "$@" ${GATE_MEASURE_FLAGS:-} "${runs[@]}"
    echo
}

full=$(mktemp)
alt=$(mktemp)
trap 'rm -f "$full" "$alt"' EXIT
# Every table of one run summary ($1: mean, best, best-half, q75).
tables() {
    local sum=(--summary "$1")
    local common=(--k 1,5,10 --m 1,3,5 --trials "$trials" --one-thread-cpu "${sum[@]}")
    table "10% slowdown, threshold 5, default mode" "${common[@]}" --slowdown 10
    table "10% slowdown, threshold 5, --fail-on-possible" "${common[@]}" --slowdown 10 --fail-on-possible
    table "5% slowdown, threshold 5, default mode" "${common[@]}" --slowdown 5
    table "5% slowdown, --threshold 2, default mode" "${common[@]}" --slowdown 5 --threshold 2
    table "5% slowdown, threshold 5, --fail-on-possible" "${common[@]}" --slowdown 5 --fail-on-possible
    # History order: every window of K runs and the M runs right after them
    # once (what --last K takes in CI); few windows, so coarse shares.
    local after=(--k 5,10 --m 1,3,5 --draw after --one-thread-cpu --slowdown 10 "${sum[@]}")
    table "10% slowdown, history order (every window once), default mode" "${after[@]}"
    table "10% slowdown, history order (every window once), --fail-on-possible" "${after[@]}" --fail-on-possible
}

# The rows of K baseline runs of every table side by side (power: exit 1
# naming the target): summarise FILE LABEL K...
summarise() {
    python3 - "$@" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
label = sys.argv[2]
tables = {}
for sec in re.split(r"^### ", text, flags=re.M)[1:]:
    title = sec.split("\n", 1)[0]
    tables[title] = [l for l in sec.split("\n") if l.startswith("| ") and not l.startswith("| baseline")]
cols = [("native", "primes_per_s"), ("container-isorun", "primes_per_s"), ("native", "gflops"), ("container-isorun", "gflops")]
def rows(title, mode, k):
    out = []
    for r in tables.get(title, []):
        c = [x.strip() for x in r.strip("|").split("|")]
        if c[0] != f"{k} runs":
            continue
        power = {}
        for part in c[7].split("; "):
            m = re.match(r"(\S+) cpu/(\S+): ([\d.]+)%", part)
            if m:
                power[(m.group(1), m.group(2))] = m.group(3) + "%"
        cells = [power.get(key, "–") for key in cols]
        out.append(f"| {mode} | {c[1]} | {c[4]} | {c[5]} | " + " | ".join(cells) + " |")
    return out
head = ("| mode | new runs (M) | A/A exit 1 | A/A exit 2 | native primes_per_s | container primes_per_s | native gflops | container gflops |\n"
        "|---|---|---|---|---|---|---|---|")
for k in sys.argv[3:]:
    for slow, parts in [
        ("10", [("10% slowdown, threshold 5, default mode", "threshold 5"),
                ("10% slowdown, threshold 5, --fail-on-possible", "threshold 5, --fail-on-possible")]),
        ("5", [("5% slowdown, threshold 5, default mode", "threshold 5"),
               ("5% slowdown, --threshold 2, default mode", "--threshold 2"),
               ("5% slowdown, threshold 5, --fail-on-possible", "threshold 5, --fail-on-possible")]),
    ]:
        print(f"### {label}K = {k} baseline runs, {slow}% slowdown of one quantity (power = exit 1 naming it)\n")
        print(head)
        for title, mode in parts:
            print("\n".join(rows(title, mode, k)))
        print()
PY
}

table "Spread of run means" --spread
tables mean >"$full"
summarise "$full" "Summary: " 10
echo "<details><summary>Every table (K = 1, 5, 10; M = 1, 3, 5)</summary>"
echo
cat "$full"
echo "</details>"
echo
for sum in best best-half q75; do
    echo "## Run summary $sum (--summary $sum)"
    echo
    table "Spread of run summaries ($sum)" --spread --summary "$sum" | sed '/^Correlation/,$d'
    tables "$sum" >"$alt"
    summarise "$alt" "$sum: " 5 10
done
