//! `isobench compare BASE NEW [--threshold PCT] [--workload W] [--metric M]
//! [--env E] [--force] [--force-params] [--out DIR]`: the regression gate.
//! Every quantity of both runs side by side with a one-sided Welch t test on
//! logs, Holm-corrected (see `isobench_reports::compare`).
//!
//! Exit status: 0 no regression; 1 a quantity got significantly worse by more
//! than the threshold; 2 bad input, runs from other hosts (unless `--force`),
//! runs with different plans or parameters (unless `--force-params`), or runs
//! with too few repetitions to detect a threshold-sized change.

use anyhow::{Context, Result};
use isobench_reports::analysis::StatsOptions;
use isobench_reports::compare::{
    compare_runs, host_differences, plot, run_differences, to_json, to_text, Filter, GateOptions,
};
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
    /// many percent, significantly (one-sided Welch t on logs, Holm-corrected,
    /// family-wise α = 0.05).
    #[arg(long, default_value_t = 5.0)]
    pub threshold: f64,
    /// Gate only these workloads (repeatable).
    #[arg(long = "workload")]
    pub workloads: Vec<String>,
    /// Gate only these metrics, `triad_mbs` or `membw/triad_mbs` (repeatable).
    #[arg(long = "metric")]
    pub metrics: Vec<String>,
    /// Gate only these environments, e.g. `native` (repeatable).
    #[arg(long = "env")]
    pub envs: Vec<String>,
    /// Compare runs from different hosts anyway.
    #[arg(long)]
    pub force: bool,
    /// Compare runs whose plans (preset, threads, array sizes, ...) or
    /// workload parameters differ anyway.
    #[arg(long)]
    pub force_params: bool,
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
    if !(args.threshold.is_finite() && args.threshold > 0.0 && args.threshold < 100.0) {
        return Err(crate::plan::usage(format!(
            "--threshold {} must be a percentage above 0 and below 100",
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
    let filter = Filter {
        envs: args.envs.clone(),
        workloads: args.workloads.clone(),
        metrics: args.metrics.clone(),
    };
    let plan_diffs = run_differences(&base, &new, &filter);
    if !plan_diffs.is_empty() {
        if args.force_params {
            eprintln!(
                "isobench: warning: the runs measured different things ({}); compared anyway (--force-params)",
                plan_diffs.join("; ")
            );
        } else {
            return Err(crate::plan::usage(format!(
                "the runs measured different things ({}); pass --force-params to compare them anyway",
                plan_diffs.join("; ")
            )));
        }
    }
    let gate = GateOptions {
        filter,
        ..GateOptions::new(args.threshold)
    };
    let c = compare_runs(&base, &new, &gate, StatsOptions::default());
    if c.changes.is_empty() {
        return Err(crate::plan::usage(
            "no quantity to compare: the runs share no figure with two or more repetitions that the filters keep".to_string(),
        ));
    }
    if let Some(msg) = c.underpowered_message() {
        return Err(crate::plan::usage(msg));
    }
    let text = to_text(&c);
    print!("{text}");
    let subtitle = format!(
        "host {}; red: significantly worse (Holm) by more than {}%",
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
