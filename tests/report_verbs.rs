//! The `report`, `compare` and `history` verbs, driven through their `run`
//! functions (the exit code they return is the process's) on fixture run
//! directories written into a temp dir.

use isobench::cmd::compare::{self, CompareArgs};
use isobench::cmd::history::{self, HistoryArgs};
use isobench::cmd::report::{self, ReportArgs};
use isobench::plan::UsageError;
use isobench_reports::testdata::{fixture_run, write_run_dir};
use std::path::{Path, PathBuf};

fn compare_args(base: &Path, new: &Path, out: &Path) -> CompareArgs {
    CompareArgs {
        base: base.to_path_buf(),
        new: new.to_path_buf(),
        db: None,
        threshold: 15.0,
        workloads: vec![],
        metrics: vec![],
        envs: vec![],
        force: false,
        force_params: false,
        out: Some(out.to_path_buf()),
    }
}

#[test]
fn report_writes_into_run_dir_by_default() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    write_run_dir(&run, &fixture_run(3, 1.0));
    let code = report::run(&ReportArgs::of_dir(run.clone(), None)).unwrap();
    assert_eq!(code, 0);
    assert!(run.join("report/index.html").is_file());
    assert!(run.join("report/plots/latency.png").is_file());
}

#[test]
fn report_of_a_missing_dir_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let e = report::run(&ReportArgs::of_dir(tmp.path().join("nope"), None)).unwrap_err();
    assert!(e.downcast_ref::<UsageError>().is_some());
    assert!(e.to_string().contains("does not exist"), "{e}");
}

#[test]
fn compare_exit_codes_follow_regressions() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    let slow = tmp.path().join("slow");
    write_run_dir(&base, &fixture_run(12, 1.0));
    write_run_dir(&slow, &fixture_run(12, 0.8));
    let out = tmp.path().join("cmp");
    assert_eq!(compare::run(&compare_args(&base, &base, &out)).unwrap(), 0);
    assert_eq!(compare::run(&compare_args(&base, &slow, &out)).unwrap(), 1);
    let text = std::fs::read_to_string(out.join("compare.txt")).unwrap();
    assert!(
        text.contains("REGRESSION: native membw/triad_mbs"),
        "{text}"
    );
    assert!(out.join("compare.svg").is_file() && out.join("compare.png").is_file());
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("compare.json")).unwrap()).unwrap();
    assert_eq!(json["regressions"].as_array().unwrap().len(), 4);
}

#[test]
fn compare_refuses_other_hosts_unless_forced() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    let other = tmp.path().join("other");
    write_run_dir(&base, &fixture_run(12, 1.0));
    let mut run = fixture_run(12, 1.0);
    run.info.host.hostname = "elsewhere".into();
    write_run_dir(&other, &run);
    let out = tmp.path().join("cmp");
    let e = compare::run(&compare_args(&base, &other, &out)).unwrap_err();
    assert!(e.downcast_ref::<UsageError>().is_some());
    let m = e.to_string();
    assert!(
        m.contains("hostname: bench-host vs elsewhere") && m.contains("--force"),
        "{m}"
    );
    let mut forced = compare_args(&base, &other, &out);
    forced.force = true;
    assert_eq!(compare::run(&forced).unwrap(), 0);
}

#[test]
fn compare_refuses_underpowered_runs_with_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    let new = tmp.path().join("new");
    write_run_dir(&base, &fixture_run(3, 1.0));
    write_run_dir(&new, &fixture_run(3, 0.8));
    let out = tmp.path().join("cmp");
    let e = compare::run(&compare_args(&base, &new, &out)).unwrap_err();
    assert!(e.downcast_ref::<UsageError>().is_some());
    let m = e.to_string();
    assert!(
        m.contains("cannot detect a 15% change")
            && m.contains("the runs have 3")
            && m.contains("--reps"),
        "{m}"
    );
}

#[test]
fn compare_refuses_other_parameters_unless_forced() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    let other = tmp.path().join("other");
    write_run_dir(&base, &fixture_run(12, 1.0));
    let mut run = fixture_run(12, 1.0);
    for r in run.records.iter_mut().filter(|r| r.workload == "randacc") {
        r.params.insert("log2_table".into(), serde_json::json!(24));
    }
    write_run_dir(&other, &run);
    let out = tmp.path().join("cmp");
    let e = compare::run(&compare_args(&base, &other, &out)).unwrap_err();
    assert!(e.downcast_ref::<UsageError>().is_some());
    let m = e.to_string();
    assert!(
        m.contains("native randacc: log2_table – vs 24") && m.contains("--force-params"),
        "{m}"
    );
    // Gating a subset without randacc is fine; so is forcing.
    let mut subset = compare_args(&base, &other, &out);
    subset.workloads = vec!["cpu".into()];
    assert_eq!(compare::run(&subset).unwrap(), 0);
    let mut forced = compare_args(&base, &other, &out);
    forced.force_params = true;
    assert_eq!(compare::run(&forced).unwrap(), 0);
}

#[test]
fn history_imports_and_plots_per_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    write_run_dir(&run, &fixture_run(3, 1.0));
    let db = tmp.path().join("h.sqlite");
    let out = tmp.path().join("plots");
    let args = HistoryArgs {
        db: Some(db.clone()),
        workload: Some("membw".into()),
        metric: Some("triad_mbs".into()),
        env: None,
        import: vec![run.clone()],
        out: Some(out.clone()),
        runs: false,
        trend_runs: 8,
        html: None,
    };
    assert_eq!(history::run(&args).unwrap(), 0);
    // Importing again is idempotent.
    assert_eq!(history::run(&args).unwrap(), 0);
    let mut h = isobench_reports::history::History::open(&db).unwrap();
    assert_eq!(h.run_count().unwrap(), 1);
    let plots: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(plots.len(), 8, "{plots:?}");
    assert!(out.join("history-membw-triad_mbs-vm-tcg.png").is_file());
    // An unknown series is bad input.
    let e = history::run(&HistoryArgs {
        metric: Some("nope".into()),
        import: vec![],
        ..args
    })
    .unwrap_err();
    assert!(
        e.to_string().contains("no recorded values of membw/nope"),
        "{e}"
    );
}
