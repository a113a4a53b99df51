//! `isobench report RUN_DIR [--out DIR]`: statistics, plots, claims and
//! exports of one run directory (the work is done by `isobench_reports`).

use anyhow::Result;
use isobench_reports::load::LoadError;
use isobench_reports::report::{default_out_dir, write_report, ReportError};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Run directory written by `isobench run` (holds run.json and results.jsonl).
    pub run_dir: PathBuf,
    /// Output directory [default: RUN_DIR/report].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// A run directory that cannot be read is bad input (exit 2); anything
/// else is a failure (exit 1).
pub(crate) fn classify(e: ReportError) -> anyhow::Error {
    match e {
        ReportError::Load(LoadError::Io { .. }) => anyhow::Error::new(e),
        ReportError::Load(l) => crate::plan::usage(l.to_string()),
        other => anyhow::Error::new(other),
    }
}

pub fn run(args: &ReportArgs) -> Result<i32> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out_dir(&args.run_dir));
    let (rendered, paths) = write_report(&args.run_dir, &out).map_err(classify)?;
    for w in &rendered.warnings {
        eprintln!("isobench: warning: {w}");
    }
    let a = &rendered.analysis;
    println!(
        "report of {} ({} environments, {} figures, {} invalid results excluded)",
        args.run_dir.display(),
        a.envs.len(),
        a.figures.len(),
        a.invalid_total()
    );
    for c in &rendered.claims {
        println!("  {} {}", c.id, c.verdict.label());
    }
    println!(
        "wrote {} files; open {}",
        paths.len(),
        out.join("index.html").display()
    );
    Ok(0)
}
