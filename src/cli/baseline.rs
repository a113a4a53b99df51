//! The arguments of `isobench baseline save|list|delete` (run by `cmd::baseline`).

use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct BaselineArgs {
    #[command(subcommand)]
    pub action: Action,
    /// History store: a SQLite file or postgres://USER@HOST:PORT/DB
    /// [default: $XDG_DATA_HOME or ~/.local/share, then isobench/history.sqlite].
    #[arg(long, env = "ISOBENCH_DB", global = true)]
    pub db: Option<PathBuf>,
}

#[derive(clap::Subcommand, Debug)]
pub enum Action {
    /// Save a named baseline (replacing one of that name): runs of one host
    /// and plan.
    Save(SaveArgs),
    /// List the baselines of the store.
    List,
    /// Delete a baseline (its runs stay in the store).
    Delete {
        /// The baseline's name.
        name: String,
    },
}

#[derive(clap::Args, Debug)]
pub struct SaveArgs {
    /// The baseline's name: letters, digits, '.', '_' and '-'.
    pub name: String,
    /// Its runs: run directories (pushed to the store if not there) or
    /// stored run ids (or unique prefixes). With --last, at most one: the
    /// newest run of the baseline.
    #[arg(value_name = "RUN")]
    pub runs: Vec<PathBuf>,
    /// The newest finished run of the store (or RUN) and the K − 1 stored
    /// runs of its host and plan before it.
    #[arg(long, value_name = "K")]
    pub last: Option<usize>,
}
