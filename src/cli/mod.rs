//! Command-line interface (clap derive): the contract of docs/design.md,
//! "Command line". Arguments only: `cmd` runs them (one module per
//! verb there, its arguments in the module of the same name here).
// The doc comments here are clap's help text, printed as written:
// `[default: runs/<run id>]` is help, not a rustdoc link or HTML tag.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]

pub mod baseline;
pub mod clean;
pub mod compare;
pub mod fleet;
pub mod history;
mod one_of;
pub mod push;
pub mod report;

use clap::builder::PossibleValuesParser;
use clap::{Args, Parser, Subcommand};
pub use one_of::OneOf;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "isobench",
    version,
    about = "Measures what isolation costs: the same workloads natively, in containers and in VMs"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run workloads in environments and write a run directory.
    Run(Box<RunArgs>),
    /// Remove what dead runs left (containers, cgroups, mounts, QEMU, scratch
    /// directories); exit 1 naming what could not be removed.
    Clean(clean::CleanArgs),
    /// Show workloads and environments, and whether each is usable here.
    List(ListArgs),
    /// Render statistics, plots and the claims section of a run directory.
    Report(report::ReportArgs),
    /// Regression gate: baseline run(s) against new run(s); exit 1 on a broken
    /// or lost result or a regression, 2 when it cannot decide, 0 on a pass.
    #[command(after_help = "\
Forms:
  isobench compare BASE NEW                    one baseline run, one new run
  isobench compare BASE1 BASE2 BASE3 NEW       several baseline runs, one new run
  isobench compare BASE1 BASE2 --new N1 N2 N3  several new runs (after --new)
  isobench compare N1 N2 N3 --last 10          new runs against the last 10 stored runs
  isobench compare N1 N2 N3 --baseline main    new runs against a named baseline
  isobench compare N1 N2 N3 --last 10 --relative-to native
                                               each environment's ratio to native in the
                                               same run: the host's drift cancels
Several new runs (`isobench run --preset gate` M times, one after another)
narrow the interval (3 new runs against 10 baseline runs: about 1.6x, 5: 2x):
the route to catching 5-10% changes on a noisy host (docs/gating.md).")]
    Compare(compare::CompareArgs),
    /// Show the recorded history of a metric.
    History(history::HistoryArgs),
    /// Named baselines in the history store (save, list, delete), for
    /// `compare NEW --baseline NAME`.
    Baseline(baseline::BaselineArgs),
    /// Add run directories measured elsewhere to a history store (idempotent per run id).
    Push(push::PushArgs),
    /// Dispatch one plan to many hosts with Slurm and follow the campaign
    /// (submit, status, report, resubmit, cancel).
    Fleet(fleet::FleetArgs),
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Environments, comma-separated [default: native].
    #[arg(long, value_delimiter = ',', value_parser = OneOf::env_kinds())]
    pub env: Vec<String>,
    /// Workloads, comma-separated [default: all; cpu for --preset gate, whose
    /// figures must be stable enough to gate].
    #[arg(long, value_delimiter = ',', value_parser = OneOf::workloads())]
    pub workload: Vec<String>,
    /// Size preset: quick, standard, full, or gate (quick sizes, 1 thread, 12 reps: for `compare` in CI).
    #[arg(long, default_value = "quick", value_parser = PossibleValuesParser::new(["quick", "standard", "full", "gate"]))]
    pub preset: String,
    /// Threads per workload and vCPUs per VM [default: all cores].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Measured repetitions [default: 3 quick, 5 standard, 10 full, 12 gate].
    #[arg(long)]
    pub reps: Option<u32>,
    /// Warm-up runs per pair, not recorded.
    #[arg(long)]
    pub warmup: Option<u32>,
    /// Run directory to write [default: runs/<run id>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Container runtime(s), comma-separated: isorun, runc, crun or a path, each optionally
    /// with -rootless (as root: run by the user isobench-rootless); one column each.
    /// `podman:RUNTIME` (podman:isorun, podman:runc, podman:crun) runs it through `podman run --rm`
    /// [default: isorun].
    #[arg(long, value_delimiter = ',')]
    pub runtime: Vec<String>,
    /// VM accelerator: auto (KVM when a test boot works), kvm or tcg [default: auto].
    #[arg(long, value_parser = PossibleValuesParser::new(["auto", "kvm", "tcg"]))]
    pub accel: Option<String>,
    /// VM machine type [default: microvm].
    #[arg(long, value_parser = PossibleValuesParser::new(["microvm", "q35"]))]
    pub machine: Option<String>,
    /// Guest kernel [default: $ISOBENCH_KERNEL, the host's, or the setup script's].
    #[arg(long)]
    pub kernel: Option<PathBuf>,
    /// Guest memory in MiB [default: sized from the workloads and the guest overhead a test boot measures].
    #[arg(long = "vm-memory")]
    pub vm_memory: Option<u64>,
    /// VM CPU model: host, max, qemu64 or a named QEMU model, optionally with ,+FLAG/,-FLAG [default: host under KVM, max under TCG].
    #[arg(long = "vm-cpu")]
    pub vm_cpu: Option<String>,
    /// STREAM variant: plain (STREAM as written) or tuned (non-temporal stores, labelled tuned).
    #[arg(long, default_value = "plain", value_parser = PossibleValuesParser::new(["plain", "tuned"]))]
    pub stream: String,
    /// Page policy of membw, randacc and latency: base (4 KiB pages everywhere) or huge (THP where allowed).
    #[arg(long, default_value = "base", value_parser = PossibleValuesParser::new(["base", "huge"]))]
    pub pages: String,
    /// Continue the interrupted run in this directory (its plan is reused).
    #[arg(long, conflicts_with = "out")]
    pub resume: Option<PathBuf>,
    /// The static isobench-workload binary [default: found next to isobench or in target/].
    #[arg(long, env = "ISOBENCH_WORKLOAD_BIN")]
    pub workload_bin: Option<PathBuf>,
    /// Seed of the per-repetition shuffle.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Longest one run may take, seconds.
    #[arg(long)]
    pub timeout: Option<u64>,
    /// History database [default: ~/.local/share/isobench/history.sqlite].
    #[arg(long, env = "ISOBENCH_DB")]
    pub db: Option<PathBuf>,
    /// Do not record the run in the history database.
    #[arg(long)]
    pub no_history: bool,
    /// Run an experiment instead of the workloads: density (idle instances
    /// launched one at a time per environment; claim C4) or neighbours
    /// (victims alone and beside antagonists, shared and partitioned; claim
    /// C5; victims from --workload [default: cpu,membw]) or permissions
    /// (who may act on whose containers; claim C6; needs root); or all of
    /// them after the workloads, into one run directory (the main job).
    #[arg(long, value_enum)]
    pub experiment: Option<Experiment>,
    /// Density: instances per environment [default: 500 native and per
    /// container runtime, --preset quick 200; VMs: as many as stay above
    /// --mem-floor even if every guest used all its memory, at most 4 under
    /// TCG and 16 with KVM (6 and 32 beyond --preset quick)].
    #[arg(long)]
    pub instances: Option<usize>,
    /// Neighbours: antagonists, comma-separated: cpu, membw, llc, fork
    /// [default: all four; --preset quick: each victim beside the antagonist
    /// of its own resource only, cpu and membw].
    #[arg(long, value_delimiter = ',', value_parser = PossibleValuesParser::new(crate::experiment::neighbours::ANTAGONISTS))]
    pub antagonists: Vec<String>,
    /// Density: stop launching when host MemAvailable falls below this (MiB)
    /// [default: 2048].
    #[arg(long)]
    pub mem_floor: Option<u64>,
    /// Your own program and its arguments, after `--`: measured in every
    /// column instead of the built-in workloads, once per repetition (wall
    /// time, user and system CPU, peak RSS), as hyperfine times a command.
    #[arg(last = true, value_name = "PROG ARGS")]
    pub command: Vec<String>,
    /// The command's root file system: a directory, or an OCI image layout
    /// LAYOUT[:TAG] (unpacked with umoci) [default: the program alone, found
    /// on the host; it must then be static to run in containers and VMs].
    #[arg(long, value_name = "DIR|LAYOUT[:TAG]")]
    pub rootfs: Option<PathBuf>,
    /// The command's name in results, reports and history [default: the
    /// program's file name].
    #[arg(long)]
    pub name: Option<String>,
    /// A metric taken from the command's standard output (repeatable):
    /// NAME:UNIT:higher|lower=REGEX; the last match counts, its first
    /// capture group (or the whole match) is the number.
    #[arg(long = "metric", value_name = "NAME:UNIT:higher|lower=REGEX")]
    pub metrics: Vec<String>,
    /// Longest one run of the command may take inside its environment,
    /// seconds; a run that takes longer is killed and invalid [default: 3/4
    /// of --timeout].
    #[arg(long)]
    pub command_timeout: Option<u64>,
    /// Print the plan (columns, workloads and their arguments, repetitions,
    /// experiments) and an estimate of its time, then exit: nothing is
    /// probed, prepared or written.
    #[arg(long, conflicts_with = "resume")]
    pub dry_run: bool,
}

/// Experiments beyond one instance.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Experiment {
    Density,
    /// A victim alone and beside antagonists, shared and partitioned (C5).
    Neighbours,
    /// Who may act on whose containers (C6): a permission check as root,
    /// with two test users, through a shared podman service, shared runtime
    /// state roots and per-user rootless engines.
    Permissions,
    /// The main job in one run directory: the workloads, then density,
    /// neighbours (native and isorun columns, victims cpu and membw) and,
    /// as root, permissions; one report decides every claim.
    All,
}

impl Experiment {
    /// Its name in run.json (`config.experiment`).
    pub fn name(self) -> &'static str {
        match self {
            Experiment::Density => "density",
            Experiment::Neighbours => "neighbours",
            Experiment::Permissions => "permissions",
            Experiment::All => "all",
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct ListArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}
