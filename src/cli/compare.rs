//! The arguments of `isobench compare`: the regression gate (run by `cmd::compare`).

use super::OneOf;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// Baseline run(s) then the new run, last: run directories, or run ids
    /// (or unique prefixes) in the history store. With --last or
    /// --baseline, only NEW.
    #[arg(required = true, value_name = "[BASE]... NEW")]
    pub runs: Vec<PathBuf>,
    /// Baseline: the last K runs in the history store of NEW's host and
    /// plan (NEW itself left out), run means as the unit.
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
    /// [default: NEW/compare for a run directory, else ./isobench-compare].
    #[arg(long)]
    pub out: Option<PathBuf>,
}
