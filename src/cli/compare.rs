//! The arguments of `isobench compare`: the regression gate (run by `cmd::compare`).

use super::OneOf;
use isobench_reports::shift::RunSummary;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// Runs: run directories, or run ids (or unique prefixes) in the
    /// history store. `BASE... NEW`: the baseline runs, then one new run,
    /// last. With --new, every run here is a baseline run. With --last or
    /// --baseline, every run here is a new run (`NEW1 NEW2 NEW3 --last 10`).
    #[arg(required_unless_present = "new", value_name = "RUN")]
    pub runs: Vec<PathBuf>,
    /// The new runs, when the baseline runs are given before them:
    /// `BASE1 BASE2 ... --new NEW1 NEW2 ...` (M runs of `--preset gate`;
    /// run means are the unit, so 3 new runs against 10 baseline runs
    /// narrow the interval by about 1.6x against one new run).
    #[arg(long = "new", value_name = "NEW", num_args = 1..)]
    pub new: Vec<PathBuf>,
    /// Baseline: the last K runs in the history store of the new runs'
    /// host and plan that started before the first new run (the new runs
    /// left out), run means as the unit.
    #[arg(long, value_name = "K", conflicts_with = "baseline")]
    pub last: Option<usize>,
    /// Baseline: the runs of the named baseline in the history store
    /// (`isobench baseline save NAME RUN...`). Refused when it was measured
    /// on another host (unless --force) or with another plan (unless
    /// --force-params).
    #[arg(long, value_name = "NAME")]
    pub baseline: Option<String>,
    /// History store of run ids: a SQLite file or postgres://USER@HOST:PORT/DB
    /// [default: $XDG_DATA_HOME or ~/.local/share, then isobench/history.sqlite].
    /// When given, a one-run baseline takes its run-to-run spread from the
    /// store's other runs of the same host and plan.
    #[arg(long, env = "ISOBENCH_DB")]
    pub db: Option<PathBuf>,
    /// Minimum effect, percent of performance: a quantity regressed when
    /// its whole 95% interval is worse than this; possibly regressed when it
    /// is significantly worse (one-sided t, Holm-corrected, family-wise
    /// α = 0.05) and its interval reaches it; no change when its interval
    /// lies within ±this.
    #[arg(long, default_value_t = 5.0)]
    pub threshold: f64,
    /// Exit 1 on possibly regressed quantities too.
    #[arg(long)]
    pub fail_on_possible: bool,
    /// How each run is reduced to one number before runs are compared, the
    /// same for baseline, new and history runs; the t interval is on these
    /// numbers, its spread from the runs' own: `mean` the mean of the logs
    /// of its repetitions (its geometric mean; every repetition counts);
    /// `best` its best repetition (the highest value; the lowest for
    /// lower-is-better metrics); `best-half` the mean of the logs of its
    /// better half of repetitions; `q75` the 75th percentile on the better
    /// side. Cost: a slowdown that hits only some repetitions of a run can
    /// leave `best` unchanged, and moves `best-half`/`q75` less than `mean`.
    /// Which one gates better depends on the host's noise: measure it on
    /// your own runs first (docs/gating.md, scripts/gate-measure.sh). With
    /// one run a side and no history the repetitions are compared whatever
    /// this says.
    #[arg(long, value_name = "SUMMARY", default_value = "mean",
          value_parser = clap::builder::PossibleValuesParser::new(RunSummary::NAMES))]
    pub run_summary: String,
    /// Gate every environment relative to a reference environment of the
    /// same run (`--relative-to native`): for environment E, workload W,
    /// metric M the value of a run is the run summary of E's figures
    /// divided by the reference's of the same W/M in that run, and these
    /// per-run ratios are compared as run summaries are without it (t
    /// interval from their run-to-run spread). A drift of the host's speed
    /// between runs moves both and cancels; a change that slows the
    /// reference as much as E does is not seen. The reference's own
    /// quantities are not gated (the output says so). A reference figure
    /// missing, lost or ≤ 0 in a new run fails the quantities relative to
    /// it (exit 1). One run a side needs a history store for the spread of
    /// the ratios; without one the gate refuses (exit 2).
    #[arg(long, value_name = "ENV")]
    pub relative_to: Option<String>,
    /// Gate only these workloads, comma-separated.
    #[arg(long = "workload", value_delimiter = ',', value_parser = OneOf::workloads())]
    pub workloads: Vec<String>,
    /// Gate only these metrics, comma-separated: `triad_mbs` or
    /// `membw/triad_mbs`.
    #[arg(long = "metric", value_delimiter = ',')]
    pub metrics: Vec<String>,
    /// Gate only these environments, comma-separated: ids (`native`,
    /// `container-runc`, `vm-tcg`) or classes (`container` is every
    /// container-* id).
    #[arg(long = "env", value_delimiter = ',')]
    pub envs: Vec<String>,
    /// Compare runs from different hosts anyway.
    #[arg(long)]
    pub force: bool,
    /// Compare runs whose plans (preset, threads, array sizes, ...) or
    /// workload parameters differ anyway.
    #[arg(long)]
    pub force_params: bool,
    /// Where to write compare.txt, compare.json and compare.svg/.png
    /// [default: NEW/compare of the last new run when it is a run
    /// directory, else ./isobench-compare].
    #[arg(long)]
    pub out: Option<PathBuf>,
}
