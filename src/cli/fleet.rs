//! The arguments of `isobench fleet submit|status|report|resubmit|cancel` (run by `cmd::fleet`).

use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct FleetArgs {
    #[command(subcommand)]
    pub command: FleetCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum FleetCommand {
    /// Submit one plan as a Slurm job array: one exclusive job per host,
    /// constraint or partition, each pushing its run to the shared store.
    Submit(SubmitArgs),
    /// Per target: pending, running, done, failed or cancelled (exit 1 when any failed or was cancelled).
    Status(StatusArgs),
    /// Every target's state, and the campaign's runs from the shared store
    /// side by side (the report `isobench report` writes for several runs).
    Report(FleetReportArgs),
    /// Submit again only the targets whose latest job failed or was cancelled.
    Resubmit(CampaignArg),
    /// Cancel the campaign's pending and running jobs (scancel).
    Cancel(CampaignArg),
}

#[derive(clap::Args, Debug)]
pub struct SubmitArgs {
    /// One job on each of these nodes, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub hosts: Vec<String>,
    /// One job per node constraint (Slurm features, e.g. kvm), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub constraints: Vec<String>,
    /// One job per partition, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub partitions: Vec<String>,
    /// Jobs per target (labelled TARGET#0, TARGET#1, ...).
    #[arg(long, default_value_t = 1)]
    pub count: usize,
    /// The shared store every job pushes to: postgres://USER@HOST:PORT/DB.
    #[arg(long, env = "ISOBENCH_DB")]
    pub db: Option<String>,
    /// Campaign directory, on a file system every node sees [default: campaigns/<id>].
    #[arg(long)]
    pub campaign_dir: Option<PathBuf>,
    /// isobench binary the jobs run, at the same path on every node [default: this one].
    #[arg(long)]
    pub isobench: Option<PathBuf>,
    /// Extra sbatch option for every job (repeatable), e.g. --sbatch-arg=--time=30.
    #[arg(long = "sbatch-arg", allow_hyphen_values = true)]
    pub sbatch_args: Vec<String>,
    /// The plan: `isobench run` flags after `--` (not --out, --resume, --db or --no-history).
    #[arg(last = true)]
    pub run_args: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct CampaignArg {
    /// Campaign directory (as `fleet submit` printed it).
    pub campaign: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// Campaign directory (as `fleet submit` printed it).
    pub campaign: PathBuf,
    /// Wait until no job is pending or running.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this many seconds (exit 1).
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct FleetReportArgs {
    /// Campaign directory (as `fleet submit` printed it).
    pub campaign: PathBuf,
    /// Store to read [default: the campaign's].
    #[arg(long)]
    pub db: Option<String>,
    /// Output directory (index.html, summary.md, results.csv, plots/)
    /// [default: CAMPAIGN/report].
    #[arg(long)]
    pub out: Option<PathBuf>,
}
