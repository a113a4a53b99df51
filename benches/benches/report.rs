//! Rendering reports (issue 5, "Speed", and issue 12, "Fleet-sized data").
//!
//! - 2,000 result lines: 100 repetitions of the fixture's 4 environments × 5
//!   workloads; the whole `isobench report` path: parsing the run directory,
//!   statistics, claims, every plot to SVG and PNG, the exporters, writing.
//! - 100,000 result lines (5,000 repetitions, 300,000 values): the report
//!   from the run directory and from a SQLite history store (the run read
//!   back by id, streamed), `compare` of two stored 100,000-line runs, and
//!   the `history` series of one metric over them. Target: at most 2 s each
//!   with bounded memory (peak RSS is measured with /usr/bin/time -v on the
//!   CLI; see the README).

use criterion::{criterion_group, criterion_main, Criterion};
use isobench_reports::analysis::StatsOptions;
use isobench_reports::compare::{compare_analyses_with, GateOptions};
use isobench_reports::history::History;
use isobench_reports::load::load_run;
use isobench_reports::output::write_files;
use isobench_reports::report::{render, render_digest, write_report};
use isobench_reports::testdata::{fixture_run, write_run_dir};
use std::time::Duration;

fn report(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let run_dir = tmp.path().join("run");
    let run = fixture_run(100, 1.0);
    assert_eq!(run.records.len(), 2000);
    write_run_dir(&run_dir, &run);
    let out = tmp.path().join("report");

    let mut g = c.benchmark_group("report");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("write_report_2000_lines", |b| {
        b.iter(|| write_report(&run_dir, &out).expect("report renders"))
    });
    let loaded = load_run(&run_dir).expect("fixture loads");
    g.bench_function("render_in_memory_2000_lines", |b| {
        b.iter(|| render(&loaded, StatsOptions::default()).expect("report renders"))
    });
    g.finish();
}

fn fleet(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir_a = tmp.path().join("a");
    let dir_b = tmp.path().join("b");
    let db = tmp.path().join("history.sqlite");
    {
        let mut run = fixture_run(5000, 1.0);
        assert_eq!(run.records.len(), 100_000);
        write_run_dir(&dir_a, &run);
        let mut h = History::open(&db).expect("store");
        h.push(&run).expect("push a");
        run.info.run_id = "later".into();
        run.info.started_at = "2026-11-28T09:00:00Z".into();
        for r in run.records.iter_mut() {
            r.run_id = "later".into();
        }
        write_run_dir(&dir_b, &run);
        h.push(&run).expect("push b");
    }
    let out = tmp.path().join("report");
    let id = fixture_run(1, 1.0).info.run_id;

    let mut g = c.benchmark_group("fleet");
    g.sample_size(10).measurement_time(Duration::from_secs(15));
    g.bench_function("report_100k_lines_run_dir", |b| {
        b.iter(|| write_report(&dir_a, &out).expect("report renders"))
    });
    g.bench_function("report_100k_lines_sqlite_store", |b| {
        b.iter(|| {
            let mut h = History::open_existing(&db).expect("store");
            let d = h.digest(&id).expect("stored run");
            let r = render_digest(d).expect("report renders");
            write_files(&out, &r.files).expect("written")
        })
    });
    g.bench_function("compare_2x100k_lines_sqlite_store", |b| {
        b.iter(|| {
            let mut h = History::open_existing(&db).expect("store");
            let base = h.digest(&id).expect("base");
            let new = h.digest("later").expect("new");
            compare_analyses_with(
                &base.analysis,
                &new.analysis,
                &id,
                "later",
                &GateOptions::new(5.0),
            )
        })
    });
    g.bench_function("history_series_2x100k_lines_sqlite_store", |b| {
        b.iter(|| {
            let mut h = History::open_existing(&db).expect("store");
            h.series("membw", "triad_mbs", None).expect("series")
        })
    });
    g.finish();
}

criterion_group!(benches, report, fleet);
criterion_main!(benches);
