//! The history store at scale (issue 18, "Scale"):
//!
//! - `push` of one run of 100,000 result lines (5,000 repetitions of the
//!   fixture, 300,000 values) from its run directory into a new SQLite
//!   store: the whole `isobench push` path (read, parse and write each line
//!   in one transaction). Target ≤ 2 s. Its peak memory (target ≤ 64 MiB)
//!   is measured once per bench run in a child process, this bench binary
//!   started again to push the same run alone: it prints its own peak
//!   resident set (VmHWM, which starts afresh at exec, unlike getrusage's
//!   ru_maxrss, which keeps the forking parent's), beside the peak of a
//!   child that does nothing (the binary's own share).
//! - the static history page (`isobench history --html`) of a store of
//!   1,000 runs: reading every series, the change-point search of each, and
//!   the page (`page_1000_runs_sqlite`); reading the series alone
//!   (`series_1000_runs_sqlite`) shows how the time divides. Target ≤ 2 s.

use criterion::{criterion_group, Criterion};
use isobench::cmd::push::{self, PushArgs};
use isobench_reports::changepoint::Options;
use isobench_reports::history::History;
use isobench_reports::history_page;
use isobench_reports::testdata::{fixture_run, fixture_run_seeded, write_run_dir};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Set in the child that measures the peak memory of a push: `RUN_DIR\nDB`,
/// or `-` for a child that does nothing.
const CHILD_ENV: &str = "ISOBENCH_BENCH_PUSH_CHILD";

fn push_args(dir: &Path, db: &Path) -> PushArgs {
    PushArgs {
        run_dirs: vec![dir.to_path_buf()],
        db: Some(db.to_path_buf()),
        unfinished: false,
    }
}

/// The child's side: push, print the child's peak resident set (VmHWM of
/// /proc/self/status, KiB: this process's own, from its exec on) and exit
/// with push's code.
fn child(spec: &str) -> i32 {
    let code = if spec == "-" {
        0
    } else {
        let (dir, db) = spec.split_once('\n').expect("RUN_DIR\\nDB");
        match push::run(&push_args(Path::new(dir), Path::new(db))) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("push failed: {e:#}");
                1
            }
        }
    };
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    println!("VmHWM {}", hwm.trim().trim_end_matches("kB").trim());
    code
}

/// Run this binary as a child with `spec`: its peak resident set (KiB) and
/// wall time.
fn run_child(spec: &str) -> (f64, Duration) {
    let exe = std::env::current_exe().expect("bench binary path");
    let t = Instant::now();
    let out = std::process::Command::new(exe)
        .env(CHILD_ENV, spec)
        .output()
        .expect("start the measuring child");
    let wall = t.elapsed();
    assert!(out.status.success(), "measuring child: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let kib = text
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM "))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no VmHWM line from the child: {text}"));
    (kib, wall)
}

/// Peak memory of one push of the 100,000-line run, printed.
fn push_peak_memory(dir: &Path, tmp: &Path) {
    let (baseline, _) = run_child("-");
    let db = tmp.join("peak.sqlite");
    let spec = format!("{}\n{}", dir.display(), db.display());
    let (peak, wall) = run_child(&spec);
    let mut h = History::open_existing(&db).expect("pushed store");
    assert_eq!(h.repetition_count().expect("count"), 100_000);
    drop(h);
    std::fs::remove_file(&db).expect("store removed");
    println!(
        "history/push_100k_lines_sqlite peak memory: {:.1} MiB peak resident set of a child process pushing the run ({:.2} s wall, one push; VmHWM); a child doing nothing peaks at {:.1} MiB",
        peak / 1024.0,
        wall.as_secs_f64(),
        baseline / 1024.0
    );
}

fn push_100k(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("run");
    {
        let run = fixture_run(5000, 1.0);
        assert_eq!(run.records.len(), 100_000);
        write_run_dir(&dir, &run);
    }
    push_peak_memory(&dir, tmp.path());
    let mut g = c.benchmark_group("history");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    let mut k = 0;
    g.bench_function("push_100k_lines_sqlite", |b| {
        b.iter(|| {
            k += 1;
            let db: PathBuf = tmp.path().join(format!("h{k}.sqlite"));
            assert_eq!(push::run(&push_args(&dir, &db)).expect("pushed"), 0);
            std::fs::remove_file(&db).expect("store removed");
        })
    });
    g.finish();
}

fn page_1000_runs(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let db = tmp.path().join("h.sqlite");
    {
        let mut h = History::open(&db).expect("store");
        for i in 0..1000u64 {
            // A 10% slower triad from run 600 on.
            let mut run = fixture_run_seeded(3, if i < 600 { 1.0 } else { 0.9 }, i);
            let id = format!("run-{i:04}");
            run.info.run_id = id.clone();
            run.info.started_at = format!(
                "2026-{:02}-{:02}T{:02}:00:00Z",
                1 + i / 280,
                1 + (i / 10) % 28,
                i % 10
            );
            for r in run.records.iter_mut() {
                r.run_id = id.clone();
            }
            h.push(&run).expect("push");
        }
    }
    let mut g = c.benchmark_group("history");
    g.sample_size(10).measurement_time(Duration::from_secs(30));
    g.bench_function("series_1000_runs_sqlite", |b| {
        b.iter(|| {
            let mut h = History::open_existing(&db).expect("store");
            h.all_series(None, None, None).expect("series")
        })
    });
    g.bench_function("page_1000_runs_sqlite", |b| {
        b.iter(|| {
            let mut h = History::open_existing(&db).expect("store");
            let points = h.all_series(None, None, None).expect("series");
            history_page::render("bench", &points, &Options::default(), &|_| None)
        })
    });
    g.finish();
}

criterion_group!(benches, push_100k, page_1000_runs);

// criterion_main!, with the measuring child first.
fn main() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        std::process::exit(child(&spec));
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
