//! Replay real series with injected steps into the change-point detector
//! (docs/gating.md):
//!
//! ```text
//! cargo run -p isobench-reports --example changepoint_replay -- [--runs N] RUN_DIR...
//! ```
//!
//! Each quantity's series of run means (logs of geometric means, run order
//! as given) is cut to its first N runs (default: all); into it a 5% and a
//! 10% slowdown is injected from every position that leaves 3 runs on each
//! side, and `shift::change_points` (E-Divisive means, 199 permutations,
//! α 0.05, segments of 3+) is run. Reported: the share of steps found
//! within ±2 runs, false change points per 100 runs (any other change point,
//! and every one found in the series without a step), and the mean error
//! in location of the steps found.

use isobench_reports::analysis::{analyse, StatsOptions};
use isobench_reports::load::load_run;
use isobench_reports::shift::{change_points, run_mean};

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut keep = usize::MAX;
    if args.first().map(String::as_str) == Some("--runs") && args.len() > 1 {
        keep = args[1].parse().expect("--runs N");
        args.drain(..2);
    }
    let runs: Vec<_> = args
        .iter()
        .map(|d| {
            let r = load_run(std::path::Path::new(d)).expect("run directory");
            analyse(&r.records, StatsOptions::default())
        })
        .collect();
    let Some(first) = runs.first() else {
        eprintln!("changepoint_replay: give run directories");
        std::process::exit(2);
    };
    println!("| step | series | runs | detected (±2 runs) | false change points per 100 runs | mean location error (runs) |");
    println!("|---|---|---|---|---|---|");
    for f in &first.figures {
        let series: Vec<f64> = runs
            .iter()
            .filter_map(|a| a.figure(&f.env_id, &f.workload, &f.metric))
            .filter(|g| g.samples.iter().all(|&x| x > 0.0))
            .map(|g| run_mean(&g.samples))
            .take(keep)
            .collect();
        let n = series.len();
        if n < 8 {
            continue;
        }
        let name = format!("{} {}/{}", f.env_id, f.workload, f.metric);
        let base = change_points(&series, 3, 0.05, 199, 1).len();
        println!(
            "| none | {name} | {n} | – | {:.1} | – |",
            base as f64 * 100.0 / n as f64
        );
        for step in [5.0, 10.0] {
            let (mut found, mut false_cps, mut err, mut tries) = (0, 0, 0.0, 0);
            for at in 3..=n - 3 {
                let mut s = series.clone();
                for x in &mut s[at..] {
                    *x += (1.0 - step / 100.0f64).ln();
                }
                let cps = change_points(&s, 3, 0.05, 199, at as u64);
                tries += 1;
                let hit = cps.iter().find(|c| c.index.abs_diff(at) <= 2);
                if let Some(h) = hit {
                    found += 1;
                    err += h.index.abs_diff(at) as f64;
                }
                false_cps += cps.len() - usize::from(hit.is_some());
            }
            println!(
                "| −{step}% | {name} | {n} | {:.0}% | {:.1} | {} |",
                found as f64 * 100.0 / tries as f64,
                false_cps as f64 * 100.0 / (tries * n) as f64,
                if found > 0 {
                    format!("{:.2}", err / found as f64)
                } else {
                    "–".into()
                }
            );
        }
    }
}
