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
