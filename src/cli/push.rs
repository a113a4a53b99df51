//! The arguments of `isobench push` (run by `cmd::push`).

use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct PushArgs {
    /// Run directories (as written by `isobench run`).
    #[arg(required = true)]
    pub run_dirs: Vec<PathBuf>,
    /// History store: postgres://USER@HOST:PORT/DB, or a SQLite file
    /// [default: $XDG_DATA_HOME or ~/.local/share, then isobench/history.sqlite].
    #[arg(long, env = "ISOBENCH_DB")]
    pub db: Option<PathBuf>,
    /// Push a run that did not finish (its later results could not be added).
    #[arg(long)]
    pub unfinished: bool,
}
