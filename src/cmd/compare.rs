//! `isobench compare BASE NEW [--db FILE|URL] [--threshold PCT] [--workload W]
//! [--metric M] [--env E] [--force] [--force-params] [--out DIR]`: the
//! regression gate. BASE and NEW are run directories or run ids in a history
//! store (see [`crate::cmd::source`]); stored runs obey the same host and
//! plan checks as directories.
//! Every quantity of both runs side by side with a one-sided Welch t test on
//! logs, Holm-corrected (see `isobench_reports::compare`).
//!
//! Exit status: 0 no regression; 1 a quantity got significantly worse by more
//! than the threshold; 2 bad input, runs from other hosts (unless `--force`),
//! runs with different plans or parameters (unless `--force-params`), or runs
//! with too few repetitions to detect a threshold-sized change.

use crate::cmd::source::{Reader, RunRef};
use anyhow::{Context, Result};
use isobench_reports::compare::{
    compare_analyses_with, digest_differences, host_differences, plot, to_json, to_text, Filter,
    GateOptions,
};
use isobench_reports::output::{write_files, OutputFile};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// Baseline: a run directory, or a run id (or unique prefix) in the history store.
    pub base: PathBuf,
    /// New run (directory or stored run id), compared against the baseline.
    pub new: PathBuf,
    /// History store of run ids: a SQLite file or postgres://USER@HOST:PORT/DB
    /// [default: $XDG_DATA_HOME or ~/.local/share, then isobench/history.sqlite].
    #[arg(long, env = "ISOBENCH_DB")]
    pub db: Option<PathBuf>,
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
    /// Where to write compare.txt, compare.json and compare.svg/.png
    /// [default: NEW/compare for a run directory, else ./isobench-compare].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: &CompareArgs) -> Result<i32> {
    if !(args.threshold.is_finite() && args.threshold > 0.0 && args.threshold < 100.0) {
        return Err(crate::plan::usage(format!(
            "--threshold {} must be a percentage above 0 and below 100",
            args.threshold
        )));
    }
    let (base_ref, new_ref) = (RunRef::of_arg(&args.base), RunRef::of_arg(&args.new));
    let mut reader = Reader::new(args.db.as_deref());
    let base = reader.digest(&base_ref)?;
    let new = reader.digest(&new_ref)?;
    for w in base.load_warnings.iter().chain(&new.load_warnings) {
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
    let plan_diffs = digest_differences(&base, &new, &filter);
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
    let c = compare_analyses_with(
        &base.analysis,
        &new.analysis,
        &base.info.run_id,
        &new.info.run_id,
        &gate,
    );
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
    let out = args.out.clone().unwrap_or_else(|| match &new_ref {
        RunRef::Dir(d) => d.join("compare"),
        RunRef::Stored(_) => PathBuf::from("isobench-compare"),
    });
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
