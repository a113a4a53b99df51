//! The arguments of `isobench history` (run by `cmd::history`).

use super::OneOf;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct HistoryArgs {
    /// History store: a SQLite file or postgres://USER@HOST:PORT/DB
    /// [default: $XDG_DATA_HOME or ~/.local/share, then isobench/history.sqlite].
    #[arg(long, env = "ISOBENCH_DB")]
    pub db: Option<PathBuf>,
    /// Workloads of the series, comma-separated (e.g. membw,cpu).
    #[arg(long, value_delimiter = ',', value_parser = OneOf::workloads())]
    pub workload: Vec<String>,
    /// Metrics of the series, comma-separated: `triad_mbs` or
    /// `membw/triad_mbs`.
    #[arg(long, value_delimiter = ',')]
    pub metric: Vec<String>,
    /// Only these environments, comma-separated: ids (`vm-tcg`,
    /// `container-runc`) or classes (`container` is every container-* id).
    #[arg(long, value_delimiter = ',')]
    pub env: Vec<String>,
    /// Record this run directory first (idempotent per run id).
    #[arg(long)]
    pub import: Vec<PathBuf>,
    /// Where to write the plots [default: ./isobench-history].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// List the stored runs (id, start, host, results) instead: the ids
    /// `isobench report --run ID` and `isobench compare` take.
    #[arg(long, conflicts_with_all = ["workload", "metric"])]
    pub runs: bool,
    /// Write a static HTML page of every selected series (all of the store
    /// unless --workload, --metric or --env narrow it) to this file: change
    /// points marked, each point linked to its run's report.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Runs the creep test looks at: the last N after the last change.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(4..))]
    pub trend_runs: u16,
}
