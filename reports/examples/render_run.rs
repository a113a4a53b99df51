//! Render the report of a run directory without the `isobench` binary:
//! `cargo run -p isobench-reports --example render_run -- RUN_DIR [OUT_DIR]`.

fn main() {
    let mut args = std::env::args_os().skip(1).map(std::path::PathBuf::from);
    let Some(run_dir) = args.next() else {
        eprintln!("usage: render_run RUN_DIR [OUT_DIR]");
        std::process::exit(2);
    };
    let out = args
        .next()
        .unwrap_or_else(|| isobench_reports::report::default_out_dir(&run_dir));
    let t = std::time::Instant::now();
    match isobench_reports::report::write_report(&run_dir, &out) {
        Ok((r, paths)) => {
            for w in &r.warnings {
                eprintln!("warning: {w}");
            }
            println!(
                "wrote {} files into {} in {:.2?}",
                paths.len(),
                out.display(),
                t.elapsed()
            );
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
