//! `isobench compare [BASE]... NEW | BASE... --new NEW... | NEW... [--last K |
//! --baseline NAME] [--db FILE|URL] [--threshold PCT] [--fail-on-possible]
//! [--run-summary mean|best|best-half|q75] [--relative-to ENV]
//! [--workload W,...] [--metric M,...] [--env E,...] [--force]
//! [--force-params] [--out DIR]`: the regression gate. Runs are run
//! directories or run ids in a history store (see [`crate::cmd::source`]).
//! The baseline is every BASE, or with `--last K` the last K stored runs of
//! the new runs' host and plan, or with `--baseline NAME` the runs of a
//! named baseline (`isobench baseline save`). The new runs are the last
//! positional run (`BASE... NEW`), the runs after `--new`, or, with `--last`
//! or `--baseline`, every positional run. With one baseline run, one new run
//! and a store (`--db`/`ISOBENCH_DB`, or the baseline's) holding other runs
//! of that host and plan, their run-to-run spread makes the interval (see
//! `isobench_reports::compare` and `::shift`). Filters take comma lists, as
//! `run` does ([`crate::cmd::select`]).
//!
//! Exit status (failing closed): 1 a quantity valid in the baseline is
//! missing, lost or ≤ 0 in a new run, or regressed (the whole 95% interval
//! worse than the threshold; with `--fail-on-possible` also possibly
//! regressed); 2 nothing failed and something could not be decided, or bad
//! input: runs from other hosts (unless `--force`), with other plans or
//! parameters (unless `--force-params`), a baseline or new runs mixing hosts
//! or plans, the same run twice, an unknown baseline name, a filter value
//! that selects nothing; 0 every quantity decided and none regressed. The
//! table and compare.json are written on every outcome of a comparison.

pub use crate::cli::compare::CompareArgs;
use crate::cmd::select::{filter_for, Quantity};
use crate::cmd::source::{Reader, RunRef};
use anyhow::{Context, Result};
use isobench_reports::compare::{
    compare_sets, digest_differences, history_noise_for, host_differences, plan_differences, plot,
    to_json, to_text, Comparison, Filter, GateOptions,
};
use isobench_reports::digest::Digest;
use isobench_reports::history::{host_fingerprint, Baseline, History, HistoryError};
use isobench_reports::output::{write_files, OutputFile};
use isobench_reports::shift::RunSummary;
use std::path::PathBuf;

impl CompareArgs {
    /// `compare BASE NEW` with every other flag at its default.
    pub fn pair(base: PathBuf, new: PathBuf) -> CompareArgs {
        CompareArgs {
            runs: vec![base, new],
            new: vec![],
            last: None,
            baseline: None,
            db: None,
            threshold: 5.0,
            fail_on_possible: false,
            run_summary: "mean".into(),
            relative_to: None,
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
pub(crate) fn same_host_and_plan(
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
    let (base_refs, new_refs) = split_runs(args);
    check_shape(args, base_refs.len(), new_refs.len())?;
    let mut reader = Reader::new(args.db.as_deref());
    // Arguments are read in the order given, so the first bad one is named.
    let mut bases = Vec::new();
    for r in &base_refs {
        bases.push(reader.digest(r)?);
    }
    let mut news = Vec::new();
    for r in &new_refs {
        news.push(reader.digest(r)?);
    }
    let db = args
        .db
        .clone()
        .unwrap_or_else(isobench_reports::history::default_db_path);
    // The new run that started first: --last takes the runs before it.
    let first_new = news
        .iter()
        .min_by(|a, b| a.info.started_at.cmp(&b.info.started_at))
        .expect("check_shape requires a new run");
    if let Some(k) = args.last {
        bases = last_runs(&db, first_new, &news, k)?;
    }
    let named = match &args.baseline {
        Some(name) => {
            let (b, runs) = named_baseline(&db, name, &news[0], args)?;
            bases = runs;
            Some(b)
        }
        None => None,
    };
    for w in bases.iter().chain(&news).flat_map(|d| &d.load_warnings) {
        eprintln!("isobench: warning: {w}");
    }
    let same = |a: &Digest, b: &Digest| a.info == b.info && a.analysis == b.analysis;
    for (i, n) in news.iter().enumerate() {
        if news[..i].iter().any(|m| same(m, n)) {
            return Err(crate::plan::usage(format!(
                "the new run {} is given twice",
                n.info.run_id
            )));
        }
        if bases.iter().any(|b| same(b, n)) {
            return Err(crate::plan::usage(format!(
                "the baseline and the new run are the same run ({}): nothing to compare",
                n.info.run_id
            )));
        }
    }
    // Every filter value must select a quantity of these runs.
    let present: std::collections::BTreeSet<Quantity> = bases
        .iter()
        .chain(&news)
        .flat_map(|d| &d.analysis.figures)
        .map(|f| (f.env_id.clone(), f.workload.clone(), f.metric.clone()))
        .collect();
    let filter: Filter = filter_for(
        &args.envs,
        &args.workloads,
        &args.metrics,
        &present,
        "these runs",
    )
    .map_err(crate::plan::usage)?;
    check_comparable(args, &bases, &news, &filter)?;
    let base0 = bases.first().expect("a baseline");
    let new0 = &news[0];
    let mut gate = GateOptions {
        filter,
        fail_on_possible: args.fail_on_possible,
        run_summary: RunSummary::parse(&args.run_summary).ok_or_else(|| {
            crate::plan::usage(format!(
                "unknown --run-summary '{}' (known: {})",
                args.run_summary,
                RunSummary::NAMES.join(", ")
            ))
        })?,
        relative_to: args.relative_to.clone(),
        ..GateOptions::new(args.threshold)
    };
    if let Some(r) = &args.relative_to {
        if !present.iter().any(|q| &q.0 == r) {
            return Err(crate::plan::usage(format!(
                "--relative-to {r}: no figure of environment {r} in these runs"
            )));
        }
    }
    // One run a side: the run-to-run spread from the store, when one is
    // named and holds at least two other runs of this host and plan.
    if bases.len() == 1
        && news.len() == 1
        && args.last.is_none()
        && (args.db.is_some() || named.is_some())
    {
        if let Ok(mut h) = History::open_existing(&db) {
            let skip = [new0.info.run_id.as_str(), base0.info.run_id.as_str()];
            let hist = same_host_and_plan(&mut h, new0, &skip, 20)?;
            if hist.len() >= 2 {
                let a: Vec<_> = hist.iter().map(|d| &d.analysis).collect();
                gate.history_noise = history_noise_for(&a, &gate);
            }
        }
    }
    if let (Some(r), 1, 1, true) = (
        &args.relative_to,
        bases.len(),
        news.len(),
        gate.history_noise.is_empty(),
    ) {
        return Err(crate::plan::usage(format!(
            "--relative-to {r} with one baseline run and one new run needs the run-to-run spread of the ratios: give several baseline runs (--last K) or new runs (--new), or a store with other runs of this host and plan (--db)"
        )));
    }
    let c = compare_sets(&run_sets(&bases), &run_sets(&news), &gate);
    if c.changes.is_empty() && c.failures.is_empty() && c.undecided.is_empty() {
        return Err(crate::plan::usage(
            "no quantity to compare: the baseline has no figure that the filters keep".to_string(),
        ));
    }
    let last_ref = new_refs.last().expect("a new run");
    write_outputs(&c, named.as_ref(), new0, last_ref, args)?;
    Ok(c.exit_code())
}

/// `(run id, analysis)` of each run, as the gate takes them.
fn run_sets(ds: &[Digest]) -> Vec<(&str, &isobench_reports::analysis::Analysis)> {
    ds.iter()
        .map(|d| (d.info.run_id.as_str(), &d.analysis))
        .collect()
}

/// The runs named on the command line: (baseline, new). `--new` names the
/// new runs (the positional ones are the baseline); with `--last` or
/// `--baseline` every positional run is new; else the last one is.
fn split_runs(args: &CompareArgs) -> (Vec<RunRef>, Vec<RunRef>) {
    let refs = |v: &[PathBuf]| -> Vec<RunRef> { v.iter().map(|p| RunRef::of_arg(p)).collect() };
    let mut runs = refs(&args.runs);
    if !args.new.is_empty() {
        (runs, refs(&args.new))
    } else if args.last.is_some() || args.baseline.is_some() {
        (Vec::new(), runs)
    } else {
        let new: Vec<RunRef> = runs.pop().into_iter().collect();
        (runs, new)
    }
}

/// The flags' shape: a threshold in range, one way to name a baseline, and
/// at least one new run.
fn check_shape(args: &CompareArgs, n_bases: usize, n_new: usize) -> Result<()> {
    if !(args.threshold.is_finite() && args.threshold > 0.0 && args.threshold < 100.0) {
        return Err(crate::plan::usage(format!(
            "--threshold {} must be a percentage above 0 and below 100",
            args.threshold
        )));
    }
    let store = args.last.is_some() || args.baseline.is_some();
    if store && n_bases > 0 {
        let which = if args.baseline.is_some() {
            "--baseline NAME is the baseline"
        } else {
            "--last K takes its baseline from the store"
        };
        return Err(crate::plan::usage(format!(
            "{which}: the runs before --new would be a second baseline; give only new runs (NEW... or --new NEW...)"
        )));
    }
    if args.last == Some(0) {
        return Err(crate::plan::usage("--last must be at least 1".to_string()));
    }
    if n_new == 0 || (!store && n_bases == 0) {
        return Err(crate::plan::usage(
            "give a baseline and new runs: BASE... NEW, BASE... --new NEW..., NEW... --last K, or NEW... --baseline NAME"
                .to_string(),
        ));
    }
    Ok(())
}

/// `--last K`: the last K finished runs of the new runs' host and plan
/// that started no later than `new` (the first new run), the new runs left
/// out.
fn last_runs(db: &std::path::Path, new: &Digest, news: &[Digest], k: usize) -> Result<Vec<Digest>> {
    let mut h = History::open_existing(db)
        .map_err(|e| crate::plan::usage(format!("--last {k} needs a history store: {e}")))?;
    let skip: Vec<&str> = news.iter().map(|d| d.info.run_id.as_str()).collect();
    let bases = same_host_and_plan(&mut h, new, &skip, k)?;
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
    Ok(bases)
}

/// The runs must be comparable: a baseline of one host and plan, and the
/// same host and plan as NEW (unless forced, with a warning); a note when
/// the kernel or OS differ.
fn check_comparable(
    args: &CompareArgs,
    bases: &[Digest],
    news: &[Digest],
    filter: &Filter,
) -> Result<()> {
    // Several baseline runs, and several new runs, must each be one host
    // and one plan.
    one_host_and_plan(args, bases, "the baseline mixes", filter)?;
    one_host_and_plan(args, news, "the new runs mix", filter)?;
    let new = &news[0];
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
    let plan_diffs = digest_differences(base0, new, filter);
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
    Ok(())
}

/// Runs of one host and plan (unless forced: a host difference needs
/// `--force` and `--force-params`, a plan difference `--force-params`).
fn one_host_and_plan(
    args: &CompareArgs,
    runs: &[Digest],
    what: &str,
    filter: &Filter,
) -> Result<()> {
    let Some(first) = runs.first() else {
        return Ok(());
    };
    for b in &runs[1..] {
        let mut d = host_differences(&first.info.host, &b.info.host);
        let host = !d.is_empty();
        d.extend(digest_differences(first, b, filter));
        if !d.is_empty() && !((!host || args.force) && args.force_params) {
            return Err(crate::plan::usage(format!(
                "{what} hosts or plans ({} vs {}: {}); give runs of one host and plan",
                first.info.run_id,
                b.info.run_id,
                d.join("; ")
            )));
        }
    }
    Ok(())
}

/// Print the comparison and write compare.txt, .json, .svg and .png.
fn write_outputs(
    c: &Comparison,
    named: Option<&Baseline>,
    new: &Digest,
    new_ref: &RunRef,
    args: &CompareArgs,
) -> Result<()> {
    let mut text = to_text(c);
    if let Some(b) = named {
        text = format!(
            "baseline '{}' ({} run(s), saved {}): {}\n{text}",
            b.name,
            b.run_ids.len(),
            b.saved_at,
            b.run_ids.join(", ")
        );
    }
    print!("{text}");
    let relative = match &c.relative_to {
        Some(r) => format!("; ratios to {r} in the same run"),
        None => String::new(),
    };
    let subtitle = format!(
        "host {}{relative}; red: regressed or possibly regressed (threshold {}%)",
        new.info.host.hostname, args.threshold
    );
    let img = plot(c, &subtitle).context("drawing the comparison plot")?;
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
            bytes: serde_json::to_vec_pretty(&with_baseline(to_json(c), named))?,
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
    Ok(())
}

/// compare.json with the named baseline it was gated against, if any.
fn with_baseline(mut json: serde_json::Value, b: Option<&Baseline>) -> serde_json::Value {
    if let (Some(b), Some(o)) = (b, json.as_object_mut()) {
        o.insert(
            "baseline".into(),
            serde_json::json!({
                "name": b.name,
                "saved_at": b.saved_at,
                "runs": b.run_ids,
                "host": b.host.hostname,
                "host_fingerprint": b.host_fingerprint(),
            }),
        );
    }
    json
}

/// The named baseline `name` of the store `db` and its runs, digested;
/// refused (one line, exit 2) when the store or the name is unknown, or
/// when it was measured on another host (unless `--force`) or with another
/// plan (unless `--force-params`) than `new`.
fn named_baseline(
    db: &std::path::Path,
    name: &str,
    new: &Digest,
    args: &CompareArgs,
) -> Result<(Baseline, Vec<Digest>)> {
    let mut h = History::open_existing(db).map_err(|e| match e {
        HistoryError::NoStore { .. } => {
            crate::plan::usage(format!("--baseline {name} needs a history store: {e}"))
        }
        other => crate::cmd::push::store_error(other),
    })?;
    let Some(b) = h.baseline(name).map_err(crate::cmd::push::store_error)? else {
        return Err(crate::cmd::baseline::unknown(&mut h, name));
    };
    let hosts = host_differences(&b.host, &new.info.host);
    if !hosts.is_empty() && !args.force {
        return Err(crate::plan::usage(format!(
            "baseline '{name}' was measured on another host ({}); pass --force to compare anyway",
            hosts.join("; ")
        )));
    }
    let mut saved = new.info.clone();
    saved.config = b.plan.clone();
    let plans = plan_differences(&saved, &new.info);
    if !plans.is_empty() && !args.force_params {
        return Err(crate::plan::usage(format!(
            "baseline '{name}' was measured with another plan ({}); pass --force-params to compare anyway",
            plans.join("; ")
        )));
    }
    let mut runs = Vec::with_capacity(b.run_ids.len());
    for id in &b.run_ids {
        runs.push(h.digest(id).map_err(crate::cmd::push::store_error)?);
    }
    Ok((b, runs))
}
