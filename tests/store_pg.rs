//! The history store on a real PostgreSQL server (scripts/test.sh starts a
//! throwaway one and exports ISOBENCH_TEST_PG_URL): push, idempotence,
//! concurrent writers, reading history, and failures that leave the store
//! consistent. Each test works in a database of its own.

use isobench::cmd::history::{self, HistoryArgs};
use isobench::cmd::push::{self, PushArgs};
use isobench_reports::history::{History, Pushed};
use isobench_reports::load::Run;
use isobench_reports::testdata;
use std::path::{Path, PathBuf};
use std::process::Command;

const URL_ENV: &str = "ISOBENCH_TEST_PG_URL";

/// A fresh, empty database for `name` on the test server, as a URL; None
/// (after recording the skip) when no server is configured.
fn fresh_db(name: &str) -> Option<String> {
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

fn run_with_id(id: &str, reps: u32) -> Run {
    let mut run = testdata::fixture_run(reps, 1.0);
    run.info.run_id = id.into();
    for r in run.records.iter_mut() {
        r.run_id = id.into();
    }
    run
}

fn write(dir: &Path, run: &Run) -> PathBuf {
    let d = dir.join(&run.info.run_id);
    testdata::write_run_dir(&d, run);
    d
}

fn push_args(url: &str, dirs: Vec<PathBuf>) -> PushArgs {
    PushArgs {
        run_dirs: dirs,
        db: Some(PathBuf::from(url)),
        unfinished: false,
    }
}

fn counts(url: &str) -> (usize, usize, usize) {
    let mut h = History::open(Path::new(url)).unwrap();
    (
        h.run_count().unwrap(),
        h.repetition_count().unwrap(),
        h.value_count().unwrap(),
    )
}

#[test]
fn push_is_idempotent_and_history_reads_postgres_as_sqlite() {
    let Some(url) = fresh_db("push") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let a = write(tmp.path(), &run_with_id("run-a", 3));
    let mut later = run_with_id("run-b", 3);
    later.info.started_at = "2026-11-28T09:00:00Z".into();
    testdata::scale_metrics(&mut later, |_, m| m == "triad_mbs", 0.8);
    let b = write(tmp.path(), &later);

    assert_eq!(
        push::run(&push_args(&url, vec![a.clone(), b.clone()])).unwrap(),
        0
    );
    assert_eq!(counts(&url), (2, 120, 360));
    // Twice: nothing added.
    assert_eq!(push::run(&push_args(&url, vec![a.clone()])).unwrap(), 0);
    let mut h = History::open(Path::new(&url)).unwrap();
    assert_eq!(
        h.push(&isobench_reports::load::load_run(&a).unwrap())
            .unwrap(),
        Pushed::AlreadyPresent {
            stored_repetitions: Some(60)
        }
    );
    assert_eq!(counts(&url), (2, 120, 360));
    assert_eq!(
        h.repetitions("run-a").unwrap(),
        isobench_reports::load::load_run(&a).unwrap().records
    );

    // The same runs in SQLite give the same series.
    let sqlite = tmp.path().join("h.sqlite");
    let mut s = History::open(&sqlite).unwrap();
    for d in [&a, &b] {
        s.push(&isobench_reports::load::load_run(d).unwrap())
            .unwrap();
    }
    let pg_series = h.series("membw", "triad_mbs", Some("native")).unwrap();
    assert_eq!(pg_series.len(), 2);
    assert_eq!(
        pg_series,
        s.series("membw", "triad_mbs", Some("native")).unwrap()
    );
    assert_eq!(h.metrics().unwrap(), s.metrics().unwrap());
    assert!((pg_series[1].centre / pg_series[0].centre - 0.8).abs() < 1e-9);

    // `isobench history --db URL` lists, prints and plots from PostgreSQL.
    let out = tmp.path().join("plots");
    let args = HistoryArgs {
        db: Some(PathBuf::from(&url)),
        workload: vec!["membw".into()],
        metric: vec!["triad_mbs".into()],
        env: vec![],
        import: vec![],
        runs: false,
        trend_runs: 8,
        html: None,
        out: Some(out.clone()),
    };
    assert_eq!(history::run(&args).unwrap(), 0);
    assert!(out.join("history-membw-triad_mbs-vm-tcg.svg").is_file());
}

#[test]
fn concurrent_pushers_lose_and_duplicate_nothing() {
    let Some(url) = fresh_db("concurrent") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    const WRITERS: usize = 8;
    // Every writer pushes its own run and the same three shared runs, in
    // different orders, all starting on a store not yet created.
    let shared: Vec<PathBuf> = (0..3)
        .map(|i| write(tmp.path(), &run_with_id(&format!("shared-{i}"), 2)))
        .collect();
    let own: Vec<PathBuf> = (0..WRITERS)
        .map(|w| write(tmp.path(), &run_with_id(&format!("own-{w}"), 2)))
        .collect();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(WRITERS));
    let outcomes: Vec<Vec<(String, Pushed)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (url, barrier) = (url.clone(), barrier.clone());
                let mut dirs = shared.clone();
                dirs.rotate_left(w % 3);
                dirs.insert(w % 4, own[w].clone());
                s.spawn(move || {
                    barrier.wait();
                    let mut h = History::open(Path::new(&url)).unwrap();
                    dirs.iter()
                        .map(|d| {
                            let run = isobench_reports::load::load_run(d).unwrap();
                            (run.info.run_id.clone(), h.push(&run).unwrap())
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let runs = 3 + WRITERS;
    assert_eq!(counts(&url), (runs, runs * 40, runs * 120));
    for i in 0..3 {
        let id = format!("shared-{i}");
        let added = outcomes
            .iter()
            .flatten()
            .filter(|(r, p)| *r == id && matches!(p, Pushed::Added { .. }))
            .count();
        assert_eq!(added, 1, "{id} must be added exactly once");
    }

    // And as separate processes through the CLI, all pushing everything.
    let mut all = shared.clone();
    all.extend(own.iter().cloned());
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_isobench"))
                .arg("push")
                .args(&all)
                .arg("--db")
                .arg(&url)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("0 run(s) pushed") && text.contains("already there"),
            "{text}"
        );
    }
    assert_eq!(counts(&url), (runs, runs * 40, runs * 120));
}

fn isobench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_isobench"))
        .args(args)
        .env_remove("ISOBENCH_DB")
        .output()
        .unwrap()
}

fn one_line_error(out: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.starts_with("isobench: error: "), "{err}");
    err
}

#[test]
fn failures_give_one_line_and_leave_the_store_consistent() {
    let Some(url) = fresh_db("failures") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let a = write(tmp.path(), &run_with_id("run-a", 2));
    let a_str = a.to_str().unwrap();

    // No server there: exit 1, one line.
    let out = isobench(&["push", a_str, "--db", "postgres://postgres@127.0.0.1:1/x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(one_line_error(&out).contains("cannot connect to PostgreSQL"));
    // A malformed URL is bad input.
    let out = isobench(&["history", "--db", "postgres://u@h:port/x"]);
    assert_eq!(out.status.code(), Some(2));
    one_line_error(&out);

    // A half-written run directory (interrupted run): refused, nothing added.
    let mut cut = run_with_id("run-cut", 2);
    cut.info.finished_at = None;
    let cut_dir = write(tmp.path(), &cut);
    let out = isobench(&["push", cut_dir.to_str().unwrap(), "--db", &url]);
    assert_eq!(out.status.code(), Some(2));
    assert!(one_line_error(&out).contains("did not finish"));
    // A malformed line in the middle: refused as well.
    let bad = tmp.path().join("bad");
    testdata::write_run_dir(&bad, &run_with_id("run-bad", 2));
    let text = std::fs::read_to_string(bad.join("results.jsonl")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[3] = "{not json";
    std::fs::write(bad.join("results.jsonl"), lines.join("\n") + "\n").unwrap();
    let out = isobench(&["push", bad.to_str().unwrap(), "--db", &url]);
    assert_eq!(out.status.code(), Some(2));
    one_line_error(&out);
    assert_eq!(counts(&url), (0, 0, 0));

    // A push failing midway (the server rejects one metric value after the
    // run and its repetitions were written): nothing of the run remains.
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    admin
        .batch_execute("ALTER TABLE results ADD CONSTRAINT no_gups CHECK (metric <> 'gups')")
        .unwrap();
    let out = isobench(&["push", a_str, "--db", &url]);
    assert_eq!(out.status.code(), Some(1));
    assert!(one_line_error(&out).contains("no_gups"));
    assert_eq!(counts(&url), (0, 0, 0));
    admin
        .batch_execute("ALTER TABLE results DROP CONSTRAINT no_gups")
        .unwrap();
    let out = isobench(&["push", a_str, "--db", &url]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(counts(&url), (1, 40, 120));

    // A store of a newer schema: refused, exit 2, unchanged.
    admin
        .batch_execute("UPDATE schema_version SET version = 7")
        .unwrap();
    let out = isobench(&["history", "--db", &url]);
    assert_eq!(out.status.code(), Some(2));
    assert!(one_line_error(&out).contains("schema version 7"));
    let v: i64 = admin
        .query_one("SELECT version FROM schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(v, 7);
}

#[test]
fn report_and_compare_read_runs_from_postgres() {
    let Some(url) = fresh_db("read") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let a = write(tmp.path(), &run_with_id("20261127T1815-a", 12));
    let mut other = run_with_id("20261128T0900-b", 12);
    other.info.host.hostname = "other-host".into();
    let b = write(tmp.path(), &other);
    assert_eq!(
        push::run(&push_args(&url, vec![a.clone(), b.clone()])).unwrap(),
        0
    );

    // A stored run digests as its directory does (streamed through a portal).
    let mut h = History::open(Path::new(&url)).unwrap();
    let stored = h.digest("20261127T1815").unwrap();
    let dir = isobench_reports::digest::digest_run_dir(&a).unwrap();
    assert_eq!(stored.analysis, dir.analysis);
    assert_eq!(stored.facts, dir.facts);
    assert_eq!(stored.info, dir.info);
    assert_eq!(stored.lines, 240);

    // Both hosts side by side.
    let multi = tmp.path().join("multi");
    let out = isobench(&[
        "report",
        "--db",
        &url,
        "--run",
        "20261127T1815",
        "--run",
        "20261128T0900",
        "--out",
        multi.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let md = std::fs::read_to_string(multi.join("summary.md")).unwrap();
    assert!(
        md.contains("| metric | environment | bench-host | other-host |"),
        "{md}"
    );
    // Comparing the two hosts is refused unless forced.
    let cmp = tmp.path().join("cmp");
    let args = [
        "compare",
        "--db",
        &url,
        "20261127T1815",
        "20261128T0900",
        "--workload",
        "cpu",
        "--threshold",
        "15",
        "--out",
        cmp.to_str().unwrap(),
    ];
    let out = isobench(&args);
    assert_eq!(out.status.code(), Some(2));
    assert!(one_line_error(&out).contains("different hosts"));
    let mut forced = args.to_vec();
    forced.push("--force");
    let out = isobench(&forced);
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    // Repetitions deleted behind isobench's back: one line, exit 1.
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    admin
        .batch_execute("DELETE FROM repetitions WHERE run_id = '20261128T0900-b' AND line >= 10")
        .unwrap();
    let out = isobench(&["report", "--db", &url, "--run", "20261128T0900-b"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(one_line_error(&out).contains("is incomplete: 10 of its 240"));
    // No server: one line, exit 1.
    let out = isobench(&[
        "report",
        "--db",
        "postgres://postgres@127.0.0.1:1/x",
        "--run",
        "r",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(one_line_error(&out).contains("cannot connect to PostgreSQL"));
}
