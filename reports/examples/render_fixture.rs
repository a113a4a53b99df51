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
