//! The arguments of `isobench clean`: what dead runs left (run by `cmd::clean`).

#[derive(clap::Args, Debug, Clone)]
pub struct CleanArgs {
    /// List what would be removed, remove nothing.
    #[arg(long)]
    pub dry_run: bool,
}
