//! `isobench history [--db FILE] [--workload W] [--metric M] [--env ID]
//! [--import RUN_DIR] [--out DIR]`: the series of a metric over recorded runs,
//! printed and plotted per environment; `--import` records an older run.

use anyhow::{Context, Result};
use isobench_reports::export::num;
use isobench_reports::history::{default_db_path, plot_series, History};
use isobench_reports::load::load_run;
use isobench_reports::output::{write_files, OutputFile};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct HistoryArgs {
    /// History store: a SQLite file or postgres://USER@HOST:PORT/DB
    /// [default: $XDG_DATA_HOME or ~/.local/share, then isobench/history.sqlite].
    #[arg(long, env = "ISOBENCH_DB")]
    pub db: Option<PathBuf>,
    /// Workload of the series (e.g. membw).
    #[arg(long)]
    pub workload: Option<String>,
    /// Metric of the series (e.g. triad_mbs).
    #[arg(long)]
    pub metric: Option<String>,
    /// Only this environment id (e.g. vm-tcg).
    #[arg(long)]
    pub env: Option<String>,
    /// Record this run directory first (idempotent per run id).
    #[arg(long)]
    pub import: Vec<PathBuf>,
    /// Where to write the plots [default: ./isobench-history].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// List the stored runs (id, start, host, results) instead: the ids
    /// `isobench report --run ID` and `isobench compare` take.
    #[arg(long, conflicts_with_all = ["workload", "metric"])]
    pub runs: bool,
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
    let (workload, metric) = match (&args.workload, &args.metric) {
        (Some(w), Some(m)) => (w.clone(), m.clone()),
        (None, None) => {
            let metrics = h.metrics().map_err(crate::cmd::push::store_error)?;
            println!(
                "{} runs in {}; series available (pick one with --workload W --metric M):",
                h.run_count().map_err(crate::cmd::push::store_error)?,
                location
            );
            for (w, m) in metrics {
                println!("  --workload {w} --metric {m}");
            }
            return Ok(0);
        }
        _ => {
            return Err(crate::plan::usage(
                "give both --workload and --metric (e.g. --workload membw --metric triad_mbs)",
            ))
        }
    };
    let points = h
        .series(&workload, &metric, args.env.as_deref())
        .map_err(crate::cmd::push::store_error)?;
    if points.is_empty() {
        return Err(crate::plan::usage(format!(
            "no recorded values of {workload}/{metric}{} in {}; run `isobench history` to list the series",
            args.env
                .as_ref()
                .map(|e| format!(" in {e}"))
                .unwrap_or_default(),
            location
        )));
    }
    println!(
        "{:<28} {:<20} {:<18} {:>14} {:>24} {:>3}  host",
        "run", "started", "environment", "median", "95% CI", "n"
    );
    for p in &points {
        println!(
            "{:<28} {:<20} {:<18} {:>14} {:>24} {:>3}  {}",
            p.run_id,
            p.started_at,
            p.env_id,
            format!("{} {}", num(p.median), p.unit),
            format!("[{}, {}]", num(p.lo), num(p.hi)),
            p.n,
            &p.host_fingerprint[..8.min(p.host_fingerprint.len())]
        );
    }
    print_change_points(&points);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("isobench-history"));
    let mut envs: Vec<&str> = points.iter().map(|p| p.env_id.as_str()).collect();
    envs.sort();
    envs.dedup();
    let mut files = Vec::new();
    for env in envs {
        let series: Vec<_> = points.iter().filter(|p| p.env_id == env).cloned().collect();
        let img = plot_series(&workload, &metric, &series)
            .with_context(|| format!("drawing the history of {env}"))?;
        let stem = format!("history-{workload}-{metric}-{env}");
        files.push(OutputFile {
            name: format!("{stem}.svg"),
            bytes: img.svg.into_bytes(),
        });
        files.push(OutputFile {
            name: format!("{stem}.png"),
            bytes: img.png,
        });
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

/// Step changes per (environment, host) series: E-Divisive means with a
/// permutation test on the logs of the run medians
/// ([`isobench_reports::shift::change_points`]), each named by the run where
/// it began, its size with a 95% interval (run means as the unit) and what
/// differs between the runs on either side.
fn print_change_points(points: &[isobench_reports::history::SeriesPoint]) {
    use isobench_reports::shift::{change_points, level};
    let mut keys: Vec<(&str, &str)> = points
        .iter()
        .map(|p| (p.env_id.as_str(), p.host_fingerprint.as_str()))
        .collect();
    keys.sort();
    keys.dedup();
    for (env, host) in keys {
        let series: Vec<_> = points
            .iter()
            .filter(|p| p.env_id == env && p.host_fingerprint == host && p.median > 0.0)
            .collect();
        let logs: Vec<f64> = series.iter().map(|p| p.median.ln()).collect();
        if logs.len() < 6 {
            continue;
        }
        let cps = change_points(&logs, 3, 0.05, 199, 0x1518);
        let mut bounds = vec![0];
        bounds.extend(cps.iter().map(|c| c.index));
        bounds.push(series.len());
        for (i, cp) in cps.iter().enumerate() {
            let (b, a) = (series[cp.index - 1], series[cp.index]);
            let runs = |r: &[&isobench_reports::history::SeriesPoint]| -> Vec<Vec<f64>> {
                r.iter().map(|p| vec![p.median]).collect()
            };
            // The segments on either side, up to the neighbouring changes.
            let before = runs(&series[bounds[i]..cp.index]);
            let after = runs(&series[cp.index..bounds[i + 2]]);
            let size = level(&before, &after, None).map(|l| {
                let (lo, hi) = l.interval(0.95);
                format!(
                    "{:+.1}% [{:+.1}, {:+.1}]",
                    (l.diff.exp() - 1.0) * 100.0,
                    (lo.exp() - 1.0) * 100.0,
                    (hi.exp() - 1.0) * 100.0
                )
            });
            let mut diffs = Vec::new();
            if b.isobench_version != a.isobench_version {
                diffs.push(format!(
                    "isobench {} → {}",
                    b.isobench_version, a.isobench_version
                ));
            }
            if b.git_commit != a.git_commit {
                diffs.push(format!(
                    "commit {} → {}",
                    b.git_commit.as_deref().unwrap_or("–"),
                    a.git_commit.as_deref().unwrap_or("–")
                ));
            }
            if b.env_detail != a.env_detail {
                diffs.push(format!("environment {} → {}", b.env_detail, a.env_detail));
            }
            println!(
                "change point ({env}, host {}): began at run {} ({}); {} (permutation p {:.3}); {}",
                &host[..8.min(host.len())],
                a.run_id,
                a.started_at,
                size.unwrap_or_else(|| "size not estimable".into()),
                cp.p,
                if diffs.is_empty() {
                    "tool and environment unchanged".to_string()
                } else {
                    diffs.join(", ")
                }
            );
        }
    }
}
