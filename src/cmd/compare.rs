//! `isobench compare BASE NEW [--threshold PCT] [--force] [--out DIR]`: every
//! metric of both runs side by side with a significance test; exit status 1
//! when a metric got significantly worse by more than the threshold.

use anyhow::{Context, Result};
use isobench_reports::analysis::StatsOptions;
use isobench_reports::compare::{compare, host_differences, plot, to_json, to_text};
use isobench_reports::load::{load_run, LoadError};
use isobench_reports::output::{write_files, OutputFile};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// Baseline run directory.
    pub base: PathBuf,
    /// New run directory, compared against the baseline.
    pub new: PathBuf,
    /// A metric regressed when its performance got worse by more than this
    /// many percent, significantly (Mann–Whitney U, p < 0.05).
    #[arg(long, default_value_t = 5.0)]
    pub threshold: f64,
    /// Compare runs from different hosts anyway.
    #[arg(long)]
    pub force: bool,
    /// Where to write compare.txt, compare.json and compare.svg/.png [default: NEW/compare].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn load(dir: &std::path::Path) -> Result<isobench_reports::load::Run> {
    load_run(dir).map_err(|e| match e {
        LoadError::Io { .. } => anyhow::Error::new(e),
        other => crate::plan::usage(other.to_string()),
    })
}

pub fn run(args: &CompareArgs) -> Result<i32> {
    if !(args.threshold.is_finite() && args.threshold >= 0.0) {
        return Err(crate::plan::usage(format!(
            "--threshold {} must be a non-negative percentage",
            args.threshold
        )));
    }
    let base = load(&args.base)?;
    let new = load(&args.new)?;
    for w in base.warnings.iter().chain(&new.warnings) {
        eprintln!("isobench: warning: {w}");
    }
    let diffs = host_differences(&base.info.host, &new.info.host);
    if !diffs.is_empty() {
        if args.force {
            eprintln!(
                "isobench: warning: runs come from different hosts ({}); compared anyway (--force)",
                diffs.join("; ")
            );
        } else {
            return Err(crate::plan::usage(format!(
                "runs come from different hosts ({}); pass --force to compare them anyway",
                diffs.join("; ")
            )));
        }
    }
    let (hb, hn) = (&base.info.host, &new.info.host);
    if hb.kernel != hn.kernel || hb.os != hn.os {
        eprintln!(
            "isobench: note: the runs differ in kernel or OS ({} {} vs {} {}); a change may come from there",
            hb.os, hb.kernel, hn.os, hn.kernel
        );
    }
    let c = compare(&base, &new, args.threshold, StatsOptions::default());
    let text = to_text(&c);
    print!("{text}");
    let subtitle = format!(
        "host {}; red: significantly worse by more than {}%",
        new.info.host.hostname, args.threshold
    );
    let img = plot(&c, &subtitle).context("drawing the comparison plot")?;
    let out = args.out.clone().unwrap_or_else(|| args.new.join("compare"));
    let files = [
        OutputFile {
            name: "compare.txt".into(),
            bytes: text.into_bytes(),
        },
        OutputFile {
            name: "compare.json".into(),
            bytes: serde_json::to_vec_pretty(&to_json(&c))?,
        },
        OutputFile {
            name: "compare.svg".into(),
            bytes: img.svg.into_bytes(),
        },
        OutputFile {
            name: "compare.png".into(),
            bytes: img.png,
        },
    ];
    write_files(&out, &files)?;
    println!("plot: {}", out.join("compare.svg").display());
    Ok(if c.regressions().is_empty() { 0 } else { 1 })
}
