//! `isobench history` on a SQLite store and on PostgreSQL (the throwaway
//! server scripts/test.sh starts; skipped without ISOBENCH_TEST_PG_URL):
//! change points in every series, the run where each began, its size, and
//! what differs in run.json; filters as comma lists.

use isobench_reports::testdata;
use std::process::Command;

fn isobench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_isobench"))
        .args(args)
        .env_remove("ISOBENCH_DB")
        .output()
        .unwrap()
}

const URL_ENV: &str = "ISOBENCH_TEST_PG_URL";

/// A fresh, empty database for `name` on the test server, as a URL; None
/// (after recording the skip) when no server is configured.
fn fresh_pg_db(name: &str) -> Option<String> {
    let Ok(base) = std::env::var(URL_ENV) else {
        isobench_testkit::missing(format!(
            "{URL_ENV} is not set (scripts/test.sh starts a PostgreSQL server)"
        ));
        return None;
    };
    let mut admin = postgres::Client::connect(&base, postgres::NoTls).expect("connect");
    let db = format!("isobench_t_{name}");
    // Two statements: CREATE DATABASE cannot run inside a transaction block.
    for sql in [
        format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
        format!("CREATE DATABASE {db}"),
    ] {
        admin.batch_execute(&sql).expect("create test database");
    }
    let (prefix, _) = base.rsplit_once('/').expect("URL names a database");
    Some(format!("{prefix}/{db}"))
}

#[test]
fn a_step_is_found_at_its_run_with_the_run_json_difference() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("h.sqlite");
    step_is_found(db.to_str().unwrap(), tmp.path());
}

/// The same on PostgreSQL: the runs are recorded there, and the change
/// points, sizes and run.json differences printed are those of SQLite.
#[test]
fn a_step_is_found_in_a_postgres_store() {
    let Some(url) = fresh_pg_db("history_changes") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    step_is_found(&url, tmp.path());
}

/// 20 runs with a 20% step in triad from run 12 (and a new tool version)
/// recorded into `db_str`; `history` names the step, its size and what
/// changed, the page marks it, and a filter value that selects nothing is
/// one line and exit 2.
fn step_is_found(db_str: &str, tmp: &std::path::Path) {
    // 20 runs a minute apart; from run 12 on triad is 20% slower and the
    // tool is a new version.
    for i in 0..20u64 {
        let mut run = testdata::fixture_run_seeded(3, if i < 12 { 1.0 } else { 0.8 }, 100 + i);
        let id = format!("run-{i:02}");
        run.info.run_id = id.clone();
        run.info.started_at = format!("2026-11-28T10:{i:02}:00Z");
        if i >= 12 {
            run.info.tool.isobench_version = "0.2.0".into();
        }
        for r in run.records.iter_mut() {
            r.run_id = id.clone();
        }
        let dir = tmp.join(&id);
        testdata::write_run_dir(&dir, &run);
        let out = isobench(&["history", "--db", db_str, "--import", dir.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    }
    let out = isobench(
        &[
            "history",
            "--db",
            db_str,
            "--workload",
            "membw",
            "--metric",
            "triad_mbs",
            "--env",
            "native",
            "--out",
        ]
        .into_iter()
        .chain([tmp.join("plots").to_str().unwrap()])
        .collect::<Vec<_>>(),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("geometric mean"), "{text}");
    assert!(!text.contains("median"), "{text}");
    let change: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(": change at run"))
        .collect();
    assert_eq!(change.len(), 1, "{text}");
    assert!(
        change[0].contains("change at run run-12 (after run-11)"),
        "{text}"
    );
    assert!(change[0].contains("×0.8"), "{text}");
    assert!(
        text.contains("run.json tool.isobench_version: 0.1.0 → 0.2.0"),
        "{text}"
    );

    // The static page: every series, the change marked, points linked to the
    // reports that exist.
    let report = tmp.join("run-05/report");
    std::fs::create_dir_all(&report).unwrap();
    std::fs::write(report.join("index.html"), "<html></html>").unwrap();
    let page = tmp.join("history.html");
    let out = isobench(&["history", "--db", db_str, "--html", page.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("membw/triad_mbs in native"), "{html}");
    assert!(html.contains("change at run run-12 (after run-11)"));
    assert!(html.contains(&format!("href=\"{}\"", report.join("index.html").display())));
    assert!(!tmp.join("history.html.partial").exists());
    // A filter that matches nothing: one line, exit 2, no page.
    let none = tmp.join("none.html");
    let out = isobench(&[
        "history",
        "--db",
        db_str,
        "--workload",
        "nope",
        "--html",
        none.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(!none.exists());

    // Without a series: every series of the store is searched.
    let out = isobench(&["history", "--db", db_str]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    for env in ["native", "container-isorun"] {
        assert!(
            text.lines().any(|l| l.starts_with("membw/triad_mbs")
                && l.contains(&format!(" in {env} "))
                && l.contains("change at run run-12")),
            "{env}: {text}"
        );
    }
}

/// `history`'s filters take comma lists, as `run` and `compare` do; a class
/// (`vm`) selects its ids; every value must select something, or the
/// command stops with one line naming it.
#[test]
fn filters_are_comma_lists_and_name_what_selects_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("h.sqlite");
    let db_str = db.to_str().unwrap();
    for i in 0..3u64 {
        let mut run = testdata::fixture_run_seeded(3, 1.0, 7 + i);
        let id = format!("run-{i}");
        run.info.run_id = id.clone();
        run.info.started_at = format!("2026-11-28T11:0{i}:00Z");
        for r in run.records.iter_mut() {
            r.run_id = id.clone();
        }
        let dir = tmp.path().join(&id);
        testdata::write_run_dir(&dir, &run);
        let out = isobench(&["history", "--db", db_str, "--import", dir.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    }
    let plots = tmp.path().join("plots");
    let out = isobench(&[
        "history",
        "--db",
        db_str,
        "--workload",
        "membw,cpu",
        "--metric",
        "triad_mbs",
        "--metric",
        "cpu/gflops",
        "--env",
        "native,vm",
        "--out",
        plots.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    // Both metrics, in the native and vm-tcg columns only.
    assert!(
        text.contains("cpu/gflops:") && text.contains("membw/triad_mbs:"),
        "{text}"
    );
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("run-")).collect();
    assert_eq!(rows.len(), 2 * 2 * 3, "{text}");
    assert!(
        rows.iter()
            .all(|l| l.contains(" native ") || l.contains(" vm-tcg ")),
        "{text}"
    );
    for f in [
        "history-membw-triad_mbs-native.svg",
        "history-cpu-gflops-vm-tcg.svg",
    ] {
        assert!(plots.join(f).is_file(), "{f}");
    }
    assert!(!plots
        .join("history-cpu-gflops-container-isorun.svg")
        .exists());

    for (args, needle) in [
        (
            &["--workload", "cpu,gpu"][..],
            "unknown workload 'gpu' (known: cpu, membw,",
        ),
        (
            &["--workload", "cpu", "--metric", "triad_mbs"][..],
            "unknown metric 'triad_mbs' in the store",
        ),
        (&["--metric", "triad"][..], "did you mean 'triad_mbs'?"),
        (
            &["--metric", "gflops", "--env", "native,jail"][..],
            "unknown environment 'jail' in the selected series",
        ),
        (
            &["--workload", "fsmeta"][..],
            "no figure of workload 'fsmeta'",
        ),
    ] {
        let mut v = vec!["history", "--db", db_str];
        v.extend_from_slice(args);
        let out = isobench(&v);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(
            err.starts_with("isobench: error: ") && err.contains(needle),
            "{args:?}: {err}"
        );
    }
}
