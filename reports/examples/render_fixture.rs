//! Render the report of the synthetic fixture run into a directory:
//! `cargo run -p isobench-reports --example render_fixture -- OUT_DIR [REPS]`.

fn main() {
    let mut args = std::env::args().skip(1);
    let out = std::path::PathBuf::from(args.next().unwrap_or_else(|| "fixture-report".into()));
    let reps = args.next().and_then(|r| r.parse().ok()).unwrap_or(5);
    let run_dir = out.join("run");
    let run = isobench_reports::testdata::fixture_run(reps, 1.0);
    isobench_reports::testdata::write_run_dir(&run_dir, &run);
    let t = std::time::Instant::now();
    if args.next().as_deref() == Some("extra") {
        extra(&out, &run, reps);
    }
    match isobench_reports::report::write_report(&run_dir, &out.join("report")) {
        Ok((_, paths)) => {
            println!("wrote {} files in {:.2?}", paths.len(), t.elapsed());
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

/// The compare and history plots, against a second fixture whose triad is
/// 20% slower: `OUT/compare.png`, `OUT/history.png`.
fn extra(out: &std::path::Path, run: &isobench_reports::load::Run, reps: u32) {
    use isobench_reports::{analysis::StatsOptions, compare, history};
    let mut slow = isobench_reports::testdata::fixture_run(reps, 0.8);
    slow.info.run_id = "slower".into();
    slow.info.started_at = "2026-11-28T09:30:00Z".into();
    let c = compare::compare(run, &slow, 5.0, StatsOptions::default());
    print!("{}", compare::to_text(&c));
    let img = compare::plot(&c, "host bench-host").expect("compare plot");
    std::fs::write(out.join("compare.png"), img.png).expect("write");
    let db = out.join("history.sqlite");
    let mut h = history::History::open(&db).expect("db");
    h.record(run).expect("record");
    for r in slow.records.iter_mut() {
        r.run_id = "slower".into();
    }
    h.record(&slow).expect("record");
    let s = h
        .series("membw", "triad_mbs", Some("native"))
        .expect("series");
    let img = history::plot_series("membw", "triad_mbs", &s).expect("plot");
    std::fs::write(out.join("history.png"), img.png).expect("write");
}
