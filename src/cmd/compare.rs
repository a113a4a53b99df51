//! `isobench compare [BASE]... NEW [--last K] [--db FILE|URL] [--threshold PCT]
//! [--fail-on-possible] [--workload W] [--metric M] [--env E] [--force]
//! [--force-params] [--out DIR]`: the regression gate. Runs are run
//! directories or run ids in a history store (see [`crate::cmd::source`]).
//! The baseline is every BASE, or with `--last K` the last K stored runs of
//! NEW's host and plan. With one BASE and a store (`--db`/`ISOBENCH_DB`)
//! holding other runs of that host and plan, their run-to-run spread makes
//! the interval (see `isobench_reports::compare` and `::shift`).
//!
//! Exit status (failing closed): 1 a quantity valid in the baseline is
//! missing, lost or ≤ 0 in NEW, or regressed (the whole 95% interval worse
//! than the threshold; with `--fail-on-possible` also possibly regressed);
//! 2 nothing failed and something could not be decided, or bad input: runs
//! from other hosts (unless `--force`), with other plans or parameters
//! (unless `--force-params`), a baseline mixing hosts or plans, the same run
//! twice; 0 every quantity decided and none regressed. The table and
//! compare.json are written on every outcome of a comparison.

use crate::cmd::source::{Reader, RunRef};
use anyhow::{Context, Result};
use isobench_reports::compare::{
    compare_sets, digest_differences, history_noise, host_differences, plan_differences, plot,
    to_json, to_text, Filter, GateOptions,
};
use isobench_reports::digest::Digest;
use isobench_reports::history::{host_fingerprint, History};
use isobench_reports::output::{write_files, OutputFile};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// Baseline run(s) then the new run, last: run directories, or run ids
    /// (or unique prefixes) in the history store. With --last, only NEW.
    #[arg(required = true, value_name = "[BASE]... NEW")]
    pub runs: Vec<PathBuf>,
    /// Baseline: the last K runs in the history store of NEW's host and
    /// plan (NEW itself left out), run means as the unit.
    #[arg(long, value_name = "K")]
    pub last: Option<usize>,
    /// History store of run ids: a SQLite file or postgres://USER@HOST:PORT/DB
    /// [default: $XDG_DATA_HOME or ~/.local/share, then isobench/history.sqlite].
    /// When given, a one-run baseline takes its run-to-run spread from the
    /// store's other runs of the same host and plan.
    #[arg(long, env = "ISOBENCH_DB")]
    pub db: Option<PathBuf>,
    /// Minimum effect, percent of performance: a quantity regressed when
    /// its whole 95% interval is worse than this; possibly regressed when it
    /// is significantly worse (one-sided t, Holm-corrected, family-wise
    /// α = 0.05) and its interval reaches it; no change when its interval
    /// lies within ±this.
    #[arg(long, default_value_t = 5.0)]
    pub threshold: f64,
    /// Exit 1 on possibly regressed quantities too.
    #[arg(long)]
    pub fail_on_possible: bool,
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

impl CompareArgs {
    /// `compare BASE NEW` with every other flag at its default.
    pub fn pair(base: PathBuf, new: PathBuf) -> CompareArgs {
        CompareArgs {
            runs: vec![base, new],
            last: None,
            db: None,
            threshold: 5.0,
            fail_on_possible: false,
            workloads: vec![],
            metrics: vec![],
            envs: vec![],
            force: false,
            force_params: false,
            out: None,
        }
    }
}

/// Runs of the store with `new`'s host and plan, newest first, started no
/// later than `new`, other than `skip`; at most `k`.
fn same_host_and_plan(
    h: &mut History,
    new: &Digest,
    skip: &[&str],
    k: usize,
) -> Result<Vec<Digest>> {
    let fp = host_fingerprint(&new.info.host);
    let mut listing = h.runs().map_err(crate::cmd::push::store_error)?;
    listing.retain(|r| {
        r.finished
            && r.host_fingerprint == fp
            && !skip.contains(&r.run_id.as_str())
            && r.started_at <= new.info.started_at
    });
    let mut out = Vec::new();
    for r in listing.iter().rev() {
        if out.len() == k {
            break;
        }
        let d = h.digest(&r.run_id).map_err(crate::cmd::push::store_error)?;
        if plan_differences(&d.info, &new.info).is_empty()
            && host_differences(&d.info.host, &new.info.host).is_empty()
        {
            out.push(d);
        }
    }
    Ok(out)
}

pub fn run(args: &CompareArgs) -> Result<i32> {
    if !(args.threshold.is_finite() && args.threshold > 0.0 && args.threshold < 100.0) {
        return Err(crate::plan::usage(format!(
            "--threshold {} must be a percentage above 0 and below 100",
            args.threshold
        )));
    }
    let refs: Vec<RunRef> = args.runs.iter().map(|p| RunRef::of_arg(p)).collect();
    let (new_ref, base_refs) = refs.split_last().expect("clap requires one run");
    match (args.last, base_refs.len()) {
        (Some(0), _) => return Err(crate::plan::usage("--last must be at least 1".to_string())),
        (Some(_), n) if n > 0 => {
            return Err(crate::plan::usage(
                "--last K takes its baseline from the store: give only NEW".to_string(),
            ))
        }
        (None, 0) => {
            return Err(crate::plan::usage(
                "give a baseline: BASE... NEW, or NEW with --last K".to_string(),
            ))
        }
        _ => {}
    }
    let mut reader = Reader::new(args.db.as_deref());
    // Arguments are read in the order given, so the first bad one is named.
    let mut bases = Vec::new();
    for r in base_refs {
        bases.push(reader.digest(r)?);
    }
    let new = reader.digest(new_ref)?;
    let db = args
        .db
        .clone()
        .unwrap_or_else(isobench_reports::history::default_db_path);
    if let Some(k) = args.last {
        let mut h = History::open_existing(&db)
            .map_err(|e| crate::plan::usage(format!("--last {k} needs a history store: {e}")))?;
        bases = same_host_and_plan(&mut h, &new, &[new.info.run_id.as_str()], k)?;
        if bases.is_empty() {
            return Err(crate::plan::usage(format!(
                "--last {k}: the store {} holds no other finished run of {}'s host and plan",
                h.location(),
                new.info.run_id
            )));
        }
        if bases.len() < k {
            eprintln!(
                "isobench: note: --last {k}: the store holds {} earlier runs of this host and plan; using them",
                bases.len()
            );
        }
    }
    for w in bases.iter().chain([&new]).flat_map(|d| &d.load_warnings) {
        eprintln!("isobench: warning: {w}");
    }
    for b in &bases {
        if b.info == new.info && b.analysis == new.analysis {
            return Err(crate::plan::usage(format!(
                "the baseline and the new run are the same run ({}): nothing to compare",
                new.info.run_id
            )));
        }
    }
    let filter = Filter {
        envs: args.envs.clone(),
        workloads: args.workloads.clone(),
        metrics: args.metrics.clone(),
    };
    // A baseline of several runs must be one host and one plan.
    if let Some(first) = bases.first() {
        for b in &bases[1..] {
            let mut d = host_differences(&first.info.host, &b.info.host);
            let host = !d.is_empty();
            d.extend(digest_differences(first, b, &filter));
            if !d.is_empty() && !((!host || args.force) && args.force_params) {
                return Err(crate::plan::usage(format!(
                    "the baseline mixes hosts or plans ({} vs {}: {}); give runs of one host and plan",
                    first.info.run_id,
                    b.info.run_id,
                    d.join("; ")
                )));
            }
        }
    }
    let base0 = bases.first().expect("a baseline");
    let diffs = host_differences(&base0.info.host, &new.info.host);
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
    let (hb, hn) = (&base0.info.host, &new.info.host);
    if hb.kernel != hn.kernel || hb.os != hn.os {
        eprintln!(
            "isobench: note: the runs differ in kernel or OS ({} {} vs {} {}); a change may come from there",
            hb.os, hb.kernel, hn.os, hn.kernel
        );
    }
    let plan_diffs = digest_differences(base0, &new, &filter);
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
    let mut gate = GateOptions {
        filter,
        fail_on_possible: args.fail_on_possible,
        ..GateOptions::new(args.threshold)
    };
    // One run a side: the run-to-run spread from the store, when one is
    // named and holds at least two other runs of this host and plan.
    if bases.len() == 1 && args.last.is_none() && args.db.is_some() {
        if let Ok(mut h) = History::open_existing(&db) {
            let skip = [new.info.run_id.as_str(), base0.info.run_id.as_str()];
            let hist = same_host_and_plan(&mut h, &new, &skip, 20)?;
            if hist.len() >= 2 {
                let a: Vec<_> = hist.iter().map(|d| &d.analysis).collect();
                gate.history_noise = history_noise(&a);
            }
        }
    }
    let base_sets: Vec<(&str, &isobench_reports::analysis::Analysis)> = bases
        .iter()
        .map(|d| (d.info.run_id.as_str(), &d.analysis))
        .collect();
    let c = compare_sets(
        &base_sets,
        &[(new.info.run_id.as_str(), &new.analysis)],
        &gate,
    );
    if c.changes.is_empty() && c.failures.is_empty() && c.undecided.is_empty() {
        return Err(crate::plan::usage(
            "no quantity to compare: the baseline has no figure that the filters keep".to_string(),
        ));
    }
    let text = to_text(&c);
    print!("{text}");
    let subtitle = format!(
        "host {}; red: regressed or possibly regressed (threshold {}%)",
        new.info.host.hostname, args.threshold
    );
    let img = plot(&c, &subtitle).context("drawing the comparison plot")?;
    let out = args.out.clone().unwrap_or_else(|| match new_ref {
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
    Ok(c.exit_code())
}
