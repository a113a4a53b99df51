//! Estimate the regression gate's false-alarm rate and power on real runs:
//!
//! ```text
//! cargo run --release -p isobench-reports --example gate_power -- \
//!     [--n 5,10,15,20] [--trials 200] [--threshold 5] [--slowdown 5] \
//!     [--target native/cpu/gflops_1t] [--workload W]... [--metric M]... [--env E]... \
//!     RUN_DIR...
//! ```
//!
//! Runs with many repetitions (20–30 or more) give honest answers; with fewer
//! than 2n repetitions in the pool the pseudo-runs are drawn with
//! replacement, which understates the noise. Without a RUN_DIR the synthetic
//! fixture (40 repetitions) is used. The gate is the library's
//! (`isobench_reports::compare::compare_runs`, what `isobench compare` runs),
//! driven by `isobench_reports::gate::study`.

use isobench_reports::compare::GateOptions;
use isobench_reports::gate::{self, Target};
use isobench_reports::load::load_run;

fn main() {
    let mut ns = vec![5, 10, 15, 20];
    let (mut trials, mut slowdown) = (200, 5.0);
    let mut gate_opts = GateOptions::new(5.0);
    let mut target: Option<Target> = None;
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
            "--n" => {
                ns = val()
                    .split(',')
                    .map(|x| x.parse().unwrap_or_else(|_| die(format!("bad --n {x}"))))
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
                let p: Vec<&str> = v.splitn(3, '/').collect();
                if p.len() != 3 {
                    die(format!("--target {v}: want ENV/WORKLOAD/METRIC"));
                }
                target = Some(Target {
                    env_id: p[0].into(),
                    workload: p[1].into(),
                    metric: p[2].into(),
                });
            }
            "--workload" => gate_opts.filter.workloads.push(val()),
            "--metric" => gate_opts.filter.metrics.push(val()),
            "--env" => gate_opts.filter.envs.push(val()),
            _ if a.starts_with("--") => die(format!("unknown option {a}")),
            _ => dirs.push(a),
        }
    }
    let runs: Vec<_> = if dirs.is_empty() {
        eprintln!("gate_power: no run directory given; using the synthetic fixture (40 reps)");
        let mut run = isobench_reports::testdata::fixture_run_seeded(40, 1.0, 9);
        isobench_reports::testdata::with_two_thread_cpu(&mut run);
        vec![run]
    } else {
        dirs.iter()
            .map(|d| load_run(std::path::Path::new(d)).unwrap_or_else(|e| die(e.to_string())))
            .collect()
    };
    let target = target
        .or_else(|| gate::default_target(&runs))
        .unwrap_or_else(|| die("no native cpu/gflops_1t or cpu/gflops: pass --target".into()));
    let rows: Vec<_> = ns
        .iter()
        .filter_map(|&n| {
            gate::study(
                &runs,
                n,
                trials,
                &gate_opts,
                &target,
                slowdown,
                0x9A7E + n as u64,
            )
        })
        .collect();
    print!("{}", gate::table(&rows, &target, &gate_opts, slowdown));
}
