//! The arguments of `isobench report` (run by `cmd::report`).

use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Run directories written by `isobench run` (holding run.json and
    /// results.jsonl), or run ids (or unique prefixes) in the history store.
    /// Several runs give one report with a column per run and host.
    pub runs: Vec<PathBuf>,
    /// A run id in the history store (repeatable; with the runs above).
    #[arg(long = "run")]
    pub run_ids: Vec<String>,
    /// History store of the run ids: a SQLite file or postgres://USER@HOST:PORT/DB
    /// [default: $XDG_DATA_HOME or ~/.local/share, then isobench/history.sqlite].
    #[arg(long, env = "ISOBENCH_DB")]
    pub db: Option<PathBuf>,
    /// Output directory [default: RUN_DIR/report for one run directory,
    /// else ./isobench-report].
    #[arg(long)]
    pub out: Option<PathBuf>,
}
