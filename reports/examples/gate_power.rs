//! Measure the regression gate's false alarms and power by resampling whole
//! runs (docs/gating.md):
//!
//! ```text
//! cargo run --release -p isobench-reports --example gate_power -- \
//!     [--k 1,5,10] [--m 1,3] [--draw random,consecutive,after] [--trials 500] \
//!     [--threshold 5] [--slowdown 10] [--target ENV/WORKLOAD/METRIC]... \
//!     [--one-thread-cpu] [--fail-on-possible] [--spread] [--sim-run-sd 0.025] \
//!     [--summary mean|best|best-half|q75] [--relative-to native] \
//!     [--workload W,...] [--metric M,...] [--env E,...] RUN_DIR...
//! ```
//!
//! Each trial draws `k` baseline runs and `m` new runs (all different) from
//! the RUN_DIRs and runs the gate `isobench compare` runs
//! (`isobench_reports::compare::compare_sets`, driven by
//! `isobench_reports::gate::study`). The runs are ordered by their start
//! time. With `m > 1` the new runs are drawn at random (`random`) and as
//! runs made one after another (`consecutive`); the baseline runs at random
//! from the others. `k = m = 1` is measured twice: with the run-to-run
//! spread from the other runs (a history store) and from the repetitions
//! alone. `--one-thread-cpu` targets every 1-thread cpu quantity in turn.
//! `--spread` prints, per quantity, the spread of run means, the mean
//! within-run standard error, and the lag-1 autocorrelation of run means in
//! time order (slow periods that span several runs make it positive), and
//! the correlation of each quantity's run means with the others'. Without
//! a RUN_DIR, 60 simulated runs (2% log-normal noise, run offsets of
//! `--sim-run-sd` [default 0.025] on the log scale, 1% outliers 20% slow)
//! are used. `--summary` reduces each run (both sides, and the history) to
//! another number than the mean of its logs (`isobench compare
//! --run-summary`): the best repetition, the mean of the best half, or the
//! 75th percentile on the better side; `--spread` then shows that
//! summary's spread. `--relative-to ENV` gates every other environment by
//! its per-run ratio to ENV (`isobench compare --relative-to`): targets of
//! ENV itself are dropped (the slowdown is injected into the other
//! environment's quantity, which ENV's does not follow), `--spread` shows
//! the spread of the ratios (its within-run SE is the environment's own,
//! without the reference's). Seeds are fixed: the same runs and flags give the same table.

use isobench_reports::analysis::{analyse, Analysis, StatsOptions};
use isobench_reports::compare::{self, GateOptions};
use isobench_reports::gate::{self, Design, Draw, SimSpec, Target};
use isobench_reports::load::load_run;
use isobench_reports::metric::Direction;
use isobench_reports::shift::RunSummary;

fn main() {
    let mut ks = vec![1, 5, 10];
    let mut ms = vec![1];
    let mut draws = vec![Draw::Random, Draw::Consecutive];
    let (mut trials, mut slowdown) = (500, 10.0);
    let mut gate_opts = GateOptions::new(5.0);
    let mut targets: Vec<Target> = Vec::new();
    let (mut one_thread, mut spread) = (false, false);
    let mut sim_run_sd = 0.025;
    let mut dirs = Vec::new();
    let mut args = std::env::args().skip(1);
    let die = |m: String| -> ! {
        eprintln!("gate_power: {m}");
        std::process::exit(2)
    };
    let list = |v: String, what: &str| -> Vec<usize> {
        v.split(',')
            .map(|x| match x.parse() {
                Ok(n) if n > 0 => n,
                _ => die(format!("bad {what} {x}: want positive numbers")),
            })
            .collect()
    };
    while let Some(a) = args.next() {
        let mut val = || {
            args.next()
                .unwrap_or_else(|| die(format!("{a} needs a value")))
        };
        match a.as_str() {
            "--k" => ks = list(val(), "--k"),
            "--m" => ms = list(val(), "--m"),
            "--draw" => {
                draws = val()
                    .split(',')
                    .map(|d| match d {
                        "random" => Draw::Random,
                        "consecutive" => Draw::Consecutive,
                        "after" => Draw::AfterBaseline,
                        _ => die(format!("bad --draw {d}: want random, consecutive or after")),
                    })
                    .collect()
            }
            "--trials" => trials = val().parse().unwrap_or_else(|_| die("bad --trials".into())),
            "--threshold" => {
                gate_opts.threshold_pct = val()
                    .parse()
                    .unwrap_or_else(|_| die("bad --threshold".into()))
            }
            "--slowdown" => {
                slowdown = val()
                    .parse()
                    .unwrap_or_else(|_| die("bad --slowdown".into()))
            }
            "--target" => {
                let v = val();
                targets.push(
                    Target::parse(&v)
                        .unwrap_or_else(|| die(format!("--target {v}: want ENV/WORKLOAD/METRIC"))),
                );
            }
            "--one-thread-cpu" => one_thread = true,
            "--spread" => spread = true,
            "--sim-run-sd" => {
                sim_run_sd = val()
                    .parse()
                    .unwrap_or_else(|_| die("bad --sim-run-sd".into()))
            }
            "--fail-on-possible" => gate_opts.fail_on_possible = true,
            "--summary" => {
                let v = val();
                gate_opts.run_summary = RunSummary::parse(&v).unwrap_or_else(|| {
                    die(format!(
                        "bad --summary {v}: want {}",
                        RunSummary::NAMES.join(", ")
                    ))
                })
            }
            "--relative-to" => gate_opts.relative_to = Some(val()),
            "--workload" => gate_opts.filter.workloads.extend(comma(val())),
            "--metric" => gate_opts.filter.metrics.extend(comma(val())),
            "--env" => gate_opts.filter.envs.extend(comma(val())),
            _ if a.starts_with("--") => die(format!("unknown option {a}")),
            _ => dirs.push(a),
        }
    }
    let runs = if dirs.is_empty() {
        eprintln!("gate_power: no run directory given; using 60 simulated runs");
        let spec = SimSpec {
            reps: 12,
            sd: 0.02,
            run_sd: sim_run_sd,
            outlier_share: 0.01,
            outlier_factor: 0.8,
            spell_max: 0.0,
            spell_factor: 1.0,
        };
        gate::simulate(spec, 60, 0x9A7E)
    } else {
        let mut loaded: Vec<(String, Analysis)> = dirs
            .iter()
            .map(|d| {
                let run = load_run(std::path::Path::new(d)).unwrap_or_else(|e| die(e.to_string()));
                let a = analyse(&run.records, StatsOptions::default());
                (run.info.started_at, a)
            })
            .collect();
        // In the order the runs were made (RFC 3339 UTC sorts as text).
        loaded.sort_by(|a, b| a.0.cmp(&b.0));
        loaded.into_iter().map(|(_, a)| a).collect()
    };
    if spread {
        let runs: Vec<Analysis> = match &gate_opts.relative_to {
            Some(r) => runs
                .iter()
                .map(|a| compare::relative_analysis(a, r, gate_opts.run_summary))
                .collect(),
            None => runs,
        };
        print!("{}", spread_table(&runs, &gate_opts));
        return;
    }
    if one_thread {
        targets.extend(gate::one_thread_cpu_targets(&runs));
    }
    if targets.is_empty() {
        targets.push(
            gate::default_target(&runs).unwrap_or_else(|| {
                die("no native cpu/gflops_1t or cpu/gflops: pass --target".into())
            }),
        );
    }
    if let Some(r) = &gate_opts.relative_to {
        targets.retain(|t| &t.env_id != r);
        if targets.is_empty() {
            die(format!(
                "--relative-to {r}: every target is {r}'s own (not gated): pass --target or --one-thread-cpu"
            ));
        }
    }
    let mut rows = Vec::new();
    for &m in &ms {
        for &k in &ks {
            let mut designs = Vec::new();
            // With one new run, random and consecutive draws are the same.
            let drawn = draws.iter().any(|&d| d != Draw::AfterBaseline);
            if k == 1 && m == 1 && drawn {
                designs.push(Design::one_new(1, true));
                designs.push(Design::one_new(1, false));
            } else if m == 1 && drawn {
                designs.push(Design::one_new(k, false));
            }
            for &draw in &draws {
                if m > 1 || draw == Draw::AfterBaseline {
                    designs.push(Design {
                        k,
                        m,
                        draw,
                        history: false,
                    });
                }
            }
            for d in designs {
                let seed = 0x9A7E + k as u64 + 1000 * (m as u64 - 1);
                match gate::study(&runs, d, trials, &gate_opts, &targets, slowdown, seed) {
                    Some(r) => rows.push(r),
                    None => eprintln!(
                        "gate_power: k = {k}, m = {m}: too few runs ({}, need {})",
                        runs.len(),
                        d.runs_needed()
                    ),
                }
            }
        }
    }
    println!(
        "{} runs{}{}{}",
        runs.len(),
        match &gate_opts.relative_to {
            Some(r) => format!("; relative to {r}"),
            None => String::new(),
        },
        match gate_opts.run_summary {
            RunSummary::Mean => String::new(),
            s => format!("; each run summarised by {}", s.describe()),
        },
        if gate_opts.fail_on_possible {
            "; failing on possibly regressed too"
        } else {
            ""
        }
    );
    print!("{}", gate::table(&rows, &gate_opts, slowdown));
}

/// Per gated quantity (the filter's, in analysis order): SD of run means
/// (logs), mean within-run SE, lag-1 autocorrelation of run means in time
/// order; then the correlation matrix of run means across quantities.
fn spread_table(runs: &[Analysis], gate: &GateOptions) -> String {
    use std::fmt::Write;
    let Some(first) = runs.first() else {
        return String::new();
    };
    let mut series: Vec<(String, Vec<f64>, Vec<f64>)> = Vec::new();
    for f in first
        .figures
        .iter()
        .filter(|f| gate.filter.keeps(&f.env_id, &f.workload, &f.metric))
    {
        let (mut means, mut ses) = (Vec::new(), Vec::new());
        for a in runs {
            let Some(g) = a.figure(&f.env_id, &f.workload, &f.metric) else {
                continue;
            };
            if g.samples.iter().any(|&x| x <= 0.0) || g.samples.len() < 2 {
                continue;
            }
            means.push(
                gate.run_summary
                    .of(&g.samples, g.direction == Direction::HigherIsBetter),
            );
            let logs: Vec<f64> = g.samples.iter().map(|x| x.ln()).collect();
            ses.push(sd(&logs) / (logs.len() as f64).sqrt());
        }
        if means.len() == runs.len() && !series.iter().any(|s| s.1 == means) {
            series.push((
                format!("{} {}/{}", f.env_id, f.workload, f.metric),
                means,
                ses,
            ));
        }
    }
    let pct = |x: f64| format!("{:.2}%", x * 100.0);
    let mut s = format!(
        "{} runs in start order; run summary: {}\n\n| quantity | SD of run summaries (logs) | mean within-run SE | lag-1 autocorrelation of run means | slowest / fastest run mean vs median |\n|---|---|---|---|---|\n",
        runs.len(),
        gate.run_summary.describe()
    );
    for (name, means, ses) in &series {
        let mut sorted = means.clone();
        sorted.sort_by(f64::total_cmp);
        let med = sorted[sorted.len() / 2];
        let _ = writeln!(
            s,
            "| {name} | {} | {} | {:+.2} | {:+.1}% / {:+.1}% |",
            pct(sd(means)),
            pct(ses.iter().sum::<f64>() / ses.len() as f64),
            lag1(means),
            ((sorted[0] - med).exp() - 1.0) * 100.0,
            ((sorted[sorted.len() - 1] - med).exp() - 1.0) * 100.0,
        );
    }
    let _ = writeln!(s, "\nCorrelation of run means between quantities:\n");
    let _ = write!(s, "| |");
    for (i, _) in series.iter().enumerate() {
        let _ = write!(s, " {} |", i + 1);
    }
    let _ = write!(s, "\n|---|");
    for _ in &series {
        let _ = write!(s, "---|");
    }
    s.push('\n');
    for (i, (name, a, _)) in series.iter().enumerate() {
        let _ = write!(s, "| {} {name} |", i + 1);
        for (_, b, _) in &series {
            let _ = write!(s, " {:+.2} |", corr(a, b));
        }
        s.push('\n');
    }
    let _ = writeln!(s, "\nRun means (% from the median run), in start order:\n");
    for (name, means, _) in &series {
        let mut sorted = means.clone();
        sorted.sort_by(f64::total_cmp);
        let med = sorted[sorted.len() / 2];
        let v: Vec<String> = means
            .iter()
            .map(|x| format!("{:+.1}", ((x - med).exp() - 1.0) * 100.0))
            .collect();
        let _ = writeln!(s, "- {name}: {}", v.join(" "));
    }
    s
}

/// A comma list, as `isobench compare` takes its filters.
fn comma(v: String) -> Vec<String> {
    v.split(',').map(str::to_string).collect()
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

fn sd(x: &[f64]) -> f64 {
    let m = mean(x);
    (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() as f64 - 1.0)).sqrt()
}

fn corr(a: &[f64], b: &[f64]) -> f64 {
    let (ma, mb) = (mean(a), mean(b));
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

fn lag1(x: &[f64]) -> f64 {
    let m = mean(x);
    let num: f64 = x.windows(2).map(|w| (w[0] - m) * (w[1] - m)).sum();
    let den: f64 = x.iter().map(|v| (v - m).powi(2)).sum();
    num / den
}
