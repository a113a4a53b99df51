//! `isobench history [--db FILE] [--workload W,...] [--metric M,...]
//! [--env E,...] [--import RUN_DIR] [--out DIR]`: the series of the selected
//! metrics over recorded runs, printed and plotted per environment;
//! `--import` records an older run. Filters take comma lists, as `run` and
//! `compare` do, and each value must select something in the store
//! ([`crate::cmd::select`]).
//! Every series (workload × metric × parameters × environment × host) is
//! searched for change points and slow creep (reports/src/changepoint.rs,
//! docs/history.md).

pub use crate::cli::history::HistoryArgs;
use crate::cmd::select::{filter_for, Quantity};
use anyhow::{Context, Result};
use isobench_reports::changepoint::{self, analyse_points, run_json_diff};
use isobench_reports::history::{default_db_path, plot_series, split_series, History, SeriesPoint};
use isobench_reports::load::load_run;
use isobench_reports::output::{write_files, OutputFile};
use isobench_reports::text::num;
use std::path::PathBuf;

/// Print the change points and creep of every series in `points`.
fn print_changes(h: &mut History, points: &[SeriesPoint], trend_runs: usize) -> Result<usize> {
    let opts = changepoint::Options {
        trend_runs,
        ..Default::default()
    };
    let mut found = 0;
    for s in split_series(points) {
        let p0 = &s[0];
        let name = format!(
            "{}/{} {} in {} on host {}",
            p0.workload,
            p0.metric,
            p0.params,
            p0.env_id,
            &p0.host_fingerprint[..8.min(p0.host_fingerprint.len())]
        );
        let Some((changes, trend)) = analyse_points(s, &opts) else {
            println!("{name}: not analysed (a run has no positive figure)");
            continue;
        };
        for c in &changes {
            found += 1;
            let x = &c.change;
            println!(
                "{name}: change at run {} (after {}): {} ×{:.3} {} ({:+.1}%), p {:.3}, {} runs before, {} after",
                c.first_after,
                c.last_before,
                p0.centre_kind.label(),
                x.ratio,
                x.ratio_ci
                    .map_or("[no interval]".to_string(), |(lo, hi)| format!("[{lo:.3}, {hi:.3}]")),
                (x.ratio - 1.0) * 100.0,
                x.p_value,
                x.runs_before,
                x.runs_after
            );
            let before = h
                .run_json(&c.last_before)
                .map_err(crate::cmd::push::store_error)?;
            let after = h
                .run_json(&c.first_after)
                .map_err(crate::cmd::push::store_error)?;
            match (before, after) {
                (Some(a), Some(b)) => {
                    let d = run_json_diff(&a, &b);
                    if d.is_empty() {
                        println!("    run.json: no difference in tool, host, environments or plan");
                    }
                    for d in d {
                        println!("    run.json {}: {} → {}", d.path, d.before, d.after);
                    }
                }
                _ => println!(
                    "    run.json: not stored for one side (recorded before store schema 2)"
                ),
            }
        }
        if let Some(t) = trend {
            found += 1;
            println!(
                "{name}: creep over the last {} runs (from {}): {:+.2}% per run [{:+.2}, {:+.2}], p {:.3}",
                t.runs,
                s[t.from].run_id,
                t.per_run * 100.0,
                t.per_run_ci.0 * 100.0,
                t.per_run_ci.1 * 100.0,
                t.p_value
            );
        }
    }
    Ok(found)
}

pub fn run(args: &HistoryArgs) -> Result<i32> {
    let db = args.db.clone().unwrap_or_else(default_db_path);
    let mut h = History::open(&db).map_err(crate::cmd::push::store_error)?;
    let location = h.location().to_string();
    for dir in &args.import {
        let run = load_run(dir).map_err(|e| crate::plan::usage(e.to_string()))?;
        for w in &run.warnings {
            eprintln!("isobench: warning: {w}");
        }
        let n = h.record(&run).map_err(crate::cmd::push::store_error)?;
        println!(
            "recorded run {} from {} ({n} values) in {}",
            run.info.run_id,
            dir.display(),
            location
        );
    }
    if args.runs {
        let runs = h.runs().map_err(crate::cmd::push::store_error)?;
        println!("{} runs in {}", runs.len(), location);
        println!(
            "{:<34} {:<20} {:<20} {:>8}  host",
            "run", "started", "host", "results"
        );
        for r in &runs {
            println!(
                "{:<34} {:<20} {:<20} {:>8}  {}{}",
                r.run_id,
                r.started_at,
                r.hostname,
                r.lines.map_or("–".to_string(), |n| n.to_string()),
                &r.host_fingerprint[..8.min(r.host_fingerprint.len())],
                if r.finished { "" } else { "  (unfinished)" }
            );
        }
        return Ok(0);
    }
    let table = !args.workload.is_empty() || !args.metric.is_empty();
    if args.html.is_none() && !table {
        let metrics = h.metrics().map_err(crate::cmd::push::store_error)?;
        println!(
            "{} runs in {}; series available (pick with --workload W --metric M; lists: --metric copy_mbs,triad_mbs):",
            h.run_count().map_err(crate::cmd::push::store_error)?,
            location
        );
        if metrics.is_empty() {
            return Ok(0);
        }
        for (w, m) in metrics {
            println!("  --workload {w} --metric {m}");
        }
        let all = select(&mut h, args)?;
        println!("change points and creep (E-Divisive means, permutation test, α 0.05; run geometric means):");
        let n = print_changes(&mut h, &all, args.trend_runs as usize)?;
        if n == 0 {
            println!("  none in {} series", split_series(&all).len());
        }
        return Ok(0);
    }
    let points = select(&mut h, args)?;
    if let Some(file) = &args.html {
        let opts = changepoint::Options {
            trend_runs: args.trend_runs as usize,
            ..Default::default()
        };
        let link = |p: &SeriesPoint| {
            let r = std::path::Path::new(&p.run_dir).join("report/index.html");
            r.is_file().then(|| r.display().to_string())
        };
        let page = isobench_reports::history_page::render(
            &format!("isobench history: {location}"),
            &points,
            &opts,
            &link,
        );
        // Written beside and renamed: never a half-written page.
        let tmp = file.with_extension("html.partial");
        std::fs::write(&tmp, page).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, file).with_context(|| format!("writing {}", file.display()))?;
        println!("history page: {}", file.display());
        return Ok(0);
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("isobench-history"));
    let mut files = Vec::new();
    // One table, change search and set of plots per (workload, metric).
    for group in points.chunk_by(|a, b| a.workload == b.workload && a.metric == b.metric) {
        files.extend(show_metric(&mut h, group, args.trend_runs as usize)?);
    }
    let written = write_files(&out, &files)?;
    for p in written
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "svg"))
    {
        println!("plot: {}", p.display());
    }
    Ok(0)
}

/// The points the filters select (every series of the store without
/// filters), or one line naming the value that selects nothing.
fn select(h: &mut History, args: &HistoryArgs) -> Result<Vec<SeriesPoint>> {
    let location = h.location().to_string();
    let store = format!("the store {location}");
    let recorded = h.metrics().map_err(crate::cmd::push::store_error)?;
    if recorded.is_empty() {
        return Err(crate::plan::usage(format!(
            "no recorded values in {location}; record runs with `isobench run` or `isobench push`"
        )));
    }
    // Workloads and metrics first, against what the store lists (the
    // environments are known once the series are read).
    let present: std::collections::BTreeSet<Quantity> = recorded
        .iter()
        .map(|(w, m)| (String::new(), w.clone(), m.clone()))
        .collect();
    filter_for(&[], &args.workload, &args.metric, &present, &store).map_err(|e| {
        crate::plan::usage(match (args.workload.as_slice(), args.metric.as_slice()) {
            // "no recorded values of membw/nope" for the one series asked for.
            ([w], [m]) if !m.contains('/') => format!("no recorded values of {w}/{m}: {e}"),
            _ => e,
        })
    })?;
    // One workload or metric narrows the query; lists filter below.
    let one = |v: &[String]| match v {
        [x] if !x.contains('/') => Some(x.clone()),
        _ => None,
    };
    let points = h
        .all_series(
            one(args.workload.as_slice()).as_deref(),
            one(args.metric.as_slice()).as_deref(),
            None,
        )
        .map_err(crate::cmd::push::store_error)?;
    let present: std::collections::BTreeSet<Quantity> = points
        .iter()
        .map(|p| (p.env_id.clone(), p.workload.clone(), p.metric.clone()))
        .collect();
    let filter = filter_for(
        &args.env,
        &args.workload,
        &args.metric,
        &present,
        &format!("the selected series of {location}"),
    )
    .map_err(crate::plan::usage)?;
    let points: Vec<SeriesPoint> = points
        .into_iter()
        .filter(|p| filter.keeps(&p.env_id, &p.workload, &p.metric))
        .collect();
    if points.is_empty() {
        return Err(crate::plan::usage(format!(
            "no recorded values match in {location}; run `isobench history` to list the series"
        )));
    }
    Ok(points)
}

/// The table, change points and plots of one (workload, metric): every
/// series of it the filters kept.
fn show_metric(
    h: &mut History,
    points: &[SeriesPoint],
    trend_runs: usize,
) -> Result<Vec<OutputFile>> {
    let (workload, metric) = (&points[0].workload, &points[0].metric);
    println!("{workload}/{metric}:");
    let kind = points[0].centre_kind.label();
    println!(
        "{:<28} {:<20} {:<18} {:>16} {:>24} {:>3}  host / parameters",
        "run", "started", "environment", kind, "95% t interval", "n"
    );
    for p in points {
        println!(
            "{:<28} {:<20} {:<18} {:>16} {:>24} {:>3}  {} {}",
            p.run_id,
            p.started_at,
            p.env_id,
            format!("{} {}", num(p.centre), p.unit),
            p.ci.map_or("–".to_string(), |(lo, hi)| format!(
                "[{}, {}]",
                num(lo),
                num(hi)
            )),
            p.n,
            &p.host_fingerprint[..8.min(p.host_fingerprint.len())],
            p.params
        );
    }
    print_changes(h, points, trend_runs)?;
    let series = split_series(points);
    let mut files = Vec::new();
    for (k, series) in series.iter().enumerate() {
        let env = &series[0].env_id;
        let img = plot_series(workload, metric, series)
            .with_context(|| format!("drawing the history of {env}"))?;
        // One file per environment; a number when an environment has several
        // series (other parameters or hosts).
        let shared = split_series(points)
            .iter()
            .filter(|s| &s[0].env_id == env)
            .count()
            > 1;
        let stem = if shared {
            format!("history-{workload}-{metric}-{env}-{k}")
        } else {
            format!("history-{workload}-{metric}-{env}")
        };
        files.push(OutputFile {
            name: format!("{stem}.svg"),
            bytes: img.svg.into_bytes(),
        });
        files.push(OutputFile {
            name: format!("{stem}.png"),
            bytes: img.png,
        });
    }
    Ok(files)
}
