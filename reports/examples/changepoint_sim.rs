//! Measure the change-point detector of `isobench history`
//! (isobench_reports::changepoint) on seeded simulations and, given run
//! directories, on replayed real series:
//!
//! ```text
//! cargo run --release -p isobench-reports --example changepoint_sim -- \
//!     [--trials 200] [--runs 30] [--seed 1] [RUN_DIR...]
//! ```
//!
//! Simulated series: each run is the geometric mean of 12 log-normal
//! repetitions (CV 3%), shifted by a log-normal run offset (CV 2.5%), with 2%
//! outlier repetitions of ±20% (`changepoint::sim::Noise::default`). A step
//! of −5% or −10% is injected at a run drawn uniformly from the middle
//! (runs 8 to n − 8); A/A series have none. A step counts as detected when a
//! change point lies within 2 runs of it; every other change point is false.
//! Creep: −1% per run over the last 6 runs, counted when the creep test
//! reports a negative trend.
//!
//! Replayed real series: every (environment, workload, metric, parameters)
//! of the given runs gives one value per run (its geometric mean); each
//! trial draws `--runs` of them with replacement (keeping real run-to-run
//! noise, removing any real change and order) and injects the same steps.

use isobench_reports::changepoint::{analyse, sim, Options};
use isobench_reports::load::load_run;
use isobench_reports::stats::{self, SplitMix64};
use std::collections::BTreeMap;

fn main() {
    let (mut trials, mut n, mut seed) = (200usize, 30usize, 1u64);
    let mut dirs = Vec::new();
    let mut args = std::env::args().skip(1);
    let die = |m: String| -> ! {
        eprintln!("changepoint_sim: {m}");
        std::process::exit(2)
    };
    while let Some(a) = args.next() {
        let mut val = || {
            args.next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or_else(|| die(format!("{a} needs a number")))
        };
        match a.as_str() {
            "--trials" => trials = val() as usize,
            "--runs" => n = val() as usize,
            "--seed" => seed = val(),
            _ if a.starts_with("--") => die(format!("unknown option {a}")),
            _ => dirs.push(a),
        }
    }
    if n < 20 {
        die("--runs must be at least 20".into());
    }
    let opts = Options::default();
    let noise = sim::Noise::default();
    println!("| series | step | series×trials | detected | false change points per 100 runs | mean location error (runs) | max |");
    println!("|---|---|---|---|---|---|---|");
    let mut rng = SplitMix64::new(seed);
    for step in [None, Some(-0.05), Some(-0.10)] {
        let mut score = sim::Score::default();
        for _ in 0..trials {
            let at = step.map(|s| (8 + rng.below(n - 15), s));
            let xs = sim::series(n, at, None, &noise, &mut rng);
            score.add(&analyse(&xs, &opts).changes, at.map(|a| a.0), n, 2);
        }
        row("simulated", step, &score);
    }
    // Creep: is it reported as a trend, or (a steeper one) as a change point
    // inside the creeping runs? Both are what `isobench history` prints.
    println!();
    println!("| creep | series×trials | reported as creep | creep or a change point in the last 6 runs |");
    println!("|---|---|---|---|");
    for c in [0.0, -0.01, -0.02] {
        let (mut trend, mut either) = (0, 0);
        for _ in 0..trials {
            let creep = (c != 0.0).then_some((6, c));
            let xs = sim::series(n, None, creep, &noise, &mut rng);
            let a = analyse(&xs, &opts);
            let t = a.trend.is_some();
            trend += usize::from(t);
            either += usize::from(t || a.changes.iter().any(|x| x.index >= n - 6));
        }
        println!(
            "| {} | {trials} × {n} runs | {:.1}% | {:.1}% |",
            if c == 0.0 {
                "none (A/A)".to_string()
            } else {
                format!("{:+.0}% per run over the last 6 runs", c * 100.0)
            },
            100.0 * trend as f64 / trials as f64,
            100.0 * either as f64 / trials as f64
        );
    }
    if dirs.is_empty() {
        return;
    }
    // Real series: one geometric mean per run and series key.
    let mut series: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for d in &dirs {
        let run = load_run(std::path::Path::new(d)).unwrap_or_else(|e| die(e.to_string()));
        let mut vals: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for r in run.records.iter().filter(|r| r.valid) {
            for (m, v) in &r.metrics {
                let key = format!(
                    "{} {}/{} {}",
                    r.env_id,
                    r.workload,
                    m,
                    serde_json::to_string(&r.params).unwrap_or_default()
                );
                vals.entry(key).or_default().push(*v);
            }
        }
        for (k, v) in vals {
            if let Some(g) = stats::geometric_mean(&v) {
                series.entry(k).or_default().push(g);
            }
        }
    }
    series.retain(|_, v| v.len() >= 10);
    if series.is_empty() {
        die("no series with 10 runs or more in the given run directories".into());
    }
    println!();
    println!(
        "replayed real series: {} series from {} runs, run-to-run CV {}",
        series.len(),
        dirs.len(),
        series
            .iter()
            .map(|(k, v)| format!("{k} {:.1}%", 100.0 * stats::cv(v).unwrap_or(f64::NAN)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!();
    println!("| series | step | series×trials | detected | false change points per 100 runs | mean location error (runs) | max |");
    println!("|---|---|---|---|---|---|---|");
    let pools: Vec<&Vec<f64>> = series.values().collect();
    for step in [None, Some(-0.05), Some(-0.10)] {
        let mut score = sim::Score::default();
        for t in 0..trials {
            let pool = pools[t % pools.len()];
            let at = step.map(|s| (8 + rng.below(n - 15), s));
            let xs: Vec<f64> = (0..n)
                .map(|i| {
                    let x = pool[rng.below(pool.len())];
                    match at {
                        Some((a, s)) if i >= a => x * (1.0 + s),
                        _ => x,
                    }
                })
                .collect();
            score.add(&analyse(&xs, &opts).changes, at.map(|a| a.0), n, 2);
        }
        row("real, resampled", step, &score);
    }
}

fn row(what: &str, step: Option<f64>, s: &sim::Score) {
    println!(
        "| {what} | {} | {} × {} runs | {} | {:.2} | {} | {} |",
        step.map_or("none (A/A)".to_string(), |s| format!("{:+.0}%", s * 100.0)),
        s.series,
        s.runs / s.series.max(1),
        if step.is_some() {
            format!("{:.1}%", 100.0 * s.detection_rate())
        } else {
            "–".into()
        },
        s.false_per_100_runs(),
        if step.is_some() {
            format!("{:.2}", s.mean_location_error())
        } else {
            "–".into()
        },
        if step.is_some() {
            s.location_error_max.to_string()
        } else {
            "–".into()
        }
    );
}
