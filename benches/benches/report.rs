//! Rendering the report of a run with 2,000 result lines (issue 5, "Speed":
//! target under 2 s on the 2-core development host). 100 repetitions of the
//! fixture's 4 environments × 5 workloads; the whole `isobench report` path
//! is measured: parsing the run directory, statistics with 2,000-resample
//! bootstraps, claims, every plot to SVG and PNG, the exporters, and writing.

use criterion::{criterion_group, criterion_main, Criterion};
use isobench_reports::analysis::StatsOptions;
use isobench_reports::load::load_run;
use isobench_reports::report::{render, write_report};
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

criterion_group!(benches, report);
criterion_main!(benches);
