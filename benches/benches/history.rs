//! The history store at scale (issue 18, "Scale"):
//!
//! - `push` of one run of 100,000 result lines (5,000 repetitions of the
//!   fixture, 300,000 values) from its run directory into a new SQLite store:
//!   the whole `isobench push` path (load, then one transaction). Target
//!   ≤ 2 s; peak memory is measured with /usr/bin/time -v on the CLI (see
//!   docs/history.md).
//! - the static history page (`isobench history --html`) of a store of
//!   1,000 runs: reading every series, the change-point search of each, and
//!   the page. Target ≤ 2 s.

use criterion::{criterion_group, criterion_main, Criterion};
use isobench::cmd::push::{self, PushArgs};
use isobench_reports::changepoint::Options;
use isobench_reports::history::History;
use isobench_reports::history_page;
use isobench_reports::testdata::{fixture_run, fixture_run_seeded, write_run_dir};
use std::time::Duration;

fn push_100k(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("run");
    let run = fixture_run(5000, 1.0);
    assert_eq!(run.records.len(), 100_000);
    write_run_dir(&dir, &run);
    let mut g = c.benchmark_group("history");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    let mut k = 0;
    g.bench_function("push_100k_lines_sqlite", |b| {
        b.iter(|| {
            k += 1;
            let db = tmp.path().join(format!("h{k}.sqlite"));
            let args = PushArgs {
                run_dirs: vec![dir.clone()],
                db: Some(db.clone()),
                unfinished: false,
            };
            assert_eq!(push::run(&args).expect("pushed"), 0);
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
criterion_main!(benches);
