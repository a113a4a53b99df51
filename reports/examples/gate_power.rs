//! Measure the regression gate's false alarms and power by resampling whole
//! runs (docs/gating.md):
//!
//! ```text
//! cargo run --release -p isobench-reports --example gate_power -- \
//!     [--k 1,5,10] [--trials 500] [--threshold 5] [--slowdown 10] \
//!     [--target ENV/WORKLOAD/METRIC]... [--one-thread-cpu] [--fail-on-possible] \
//!     [--sim-run-sd 0.025] \
//!     [--workload W]... [--metric M]... [--env E]... RUN_DIR...
//! ```
//!
//! Each trial draws `k` baseline runs and one new run (all different) from
//! the RUN_DIRs and runs the gate `isobench compare` runs
//! (`isobench_reports::compare::compare_sets`, driven by
//! `isobench_reports::gate::study`). `k = 1` is measured twice: with the
//! run-to-run spread from the other runs (a history store) and from the
//! repetitions alone. `--one-thread-cpu` targets every 1-thread cpu quantity
//! in turn. Without a RUN_DIR, 60 simulated runs (2% log-normal noise, run
//! offsets of `--sim-run-sd` [default 0.025] on the log scale, 1% outliers
//! 20% slow) are used.

use isobench_reports::analysis::{analyse, StatsOptions};
use isobench_reports::compare::GateOptions;
use isobench_reports::gate::{self, SimSpec, Target};
use isobench_reports::load::load_run;

fn main() {
    let mut ks = vec![1, 5, 10];
    let (mut trials, mut slowdown) = (500, 10.0);
    let mut gate_opts = GateOptions::new(5.0);
    let mut targets: Vec<Target> = Vec::new();
    let mut one_thread = false;
    let mut sim_run_sd = 0.025;
    let mut dirs = Vec::new();
    let mut args = std::env::args().skip(1);
    let die = |m: String| -> ! {
        eprintln!("gate_power: {m}");
        std::process::exit(2)
    };
    while let Some(a) = args.next() {
        let mut val = || {
            args.next()
                .unwrap_or_else(|| die(format!("{a} needs a value")))
        };
        match a.as_str() {
            "--k" => {
                ks = val()
                    .split(',')
                    .map(|x| x.parse().unwrap_or_else(|_| die(format!("bad --k {x}"))))
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
            "--sim-run-sd" => {
                sim_run_sd = val()
                    .parse()
                    .unwrap_or_else(|_| die("bad --sim-run-sd".into()))
            }
            "--fail-on-possible" => gate_opts.fail_on_possible = true,
            "--workload" => gate_opts.filter.workloads.push(val()),
            "--metric" => gate_opts.filter.metrics.push(val()),
            "--env" => gate_opts.filter.envs.push(val()),
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
        };
        gate::simulate(spec, 60, 0x9A7E)
    } else {
        dirs.iter()
            .map(|d| {
                let run = load_run(std::path::Path::new(d)).unwrap_or_else(|e| die(e.to_string()));
                analyse(&run.records, StatsOptions::default())
            })
            .collect()
    };
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
    let mut rows = Vec::new();
    for &k in &ks {
        let modes: &[bool] = if k == 1 { &[true, false] } else { &[false] };
        for &history in modes {
            match gate::study(
                &runs,
                k,
                history,
                trials,
                &gate_opts,
                &targets,
                slowdown,
                0x9A7E + k as u64,
            ) {
                Some(r) => rows.push(r),
                None => eprintln!("gate_power: k = {k}: too few runs ({})", runs.len()),
            }
        }
    }
    println!(
        "{} runs{}",
        runs.len(),
        if gate_opts.fail_on_possible {
            "; failing on possibly regressed too"
        } else {
            ""
        }
    );
    print!("{}", gate::table(&rows, &gate_opts, slowdown));
}
