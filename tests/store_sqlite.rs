//! The SQLite history store under the same demands as the shared
//! PostgreSQL one (tests/store_pg.rs): concurrent writers (threads and
//! processes, different runs and the same run) lose and duplicate nothing,
//! a push that fails midway leaves nothing of its run, and `report` and
//! `compare` read stored runs as they read run directories.

use isobench_reports::history::{History, Pushed};
use isobench_reports::load::{load_run, Run};
use isobench_reports::testdata;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::process::Command;

fn run_with_id(id: &str, host: &str, reps: u32, scale: f64) -> Run {
    let mut run = testdata::fixture_run(reps, scale);
    run.info.run_id = id.into();
    run.info.host.hostname = host.into();
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

fn counts(db: &Path) -> (usize, usize, usize) {
    let mut h = History::open(db).unwrap();
    (
        h.run_count().unwrap(),
        h.repetition_count().unwrap(),
        h.value_count().unwrap(),
    )
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
fn concurrent_writers_lose_and_duplicate_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    // A store not yet created: the writers race to create and migrate it.
    let db = tmp.path().join("h.sqlite");
    const WRITERS: usize = 6;
    let shared: Vec<PathBuf> = (0..3)
        .map(|i| {
            write(
                tmp.path(),
                &run_with_id(&format!("shared-{i}"), "h", 2, 1.0),
            )
        })
        .collect();
    let own: Vec<PathBuf> = (0..WRITERS)
        .map(|w| write(tmp.path(), &run_with_id(&format!("own-{w}"), "h", 2, 1.0)))
        .collect();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(WRITERS));
    let outcomes: Vec<Vec<(String, Pushed)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (db, barrier) = (db.clone(), barrier.clone());
                let mut dirs = shared.clone();
                dirs.rotate_left(w % 3);
                dirs.insert(w % 4, own[w].clone());
                s.spawn(move || {
                    barrier.wait();
                    let mut h = History::open(&db).unwrap();
                    dirs.iter()
                        .map(|d| {
                            let run = load_run(d).unwrap();
                            (run.info.run_id.clone(), h.push(&run).unwrap())
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let runs = 3 + WRITERS;
    assert_eq!(counts(&db), (runs, runs * 40, runs * 120));
    for i in 0..3 {
        let id = format!("shared-{i}");
        let added = outcomes
            .iter()
            .flatten()
            .filter(|(r, p)| *r == id && matches!(p, Pushed::Added { .. }))
            .count();
        assert_eq!(added, 1, "{id} must be added exactly once");
    }

    // Separate processes through the CLI, each pushing two new runs of its
    // own and every run already there, at once.
    let mut all = shared.clone();
    all.extend(own.iter().cloned());
    let children: Vec<_> = (0..4)
        .map(|p| {
            let mut dirs = all.clone();
            for k in 0..2 {
                dirs.push(write(
                    tmp.path(),
                    &run_with_id(&format!("proc-{p}-{k}"), "h", 2, 1.0),
                ));
            }
            Command::new(env!("CARGO_BIN_EXE_isobench"))
                .arg("push")
                .args(&dirs)
                .arg("--db")
                .arg(&db)
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
            text.contains("2 run(s) pushed") && text.contains(&format!("{runs} already there")),
            "{text}"
        );
    }
    let total = runs + 8;
    assert_eq!(counts(&db), (total, total * 40, total * 120));
}

#[test]
fn a_push_failing_midway_leaves_nothing_of_its_run() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("h.sqlite");
    let a = write(tmp.path(), &run_with_id("run-a", "h", 2, 1.0));
    let b = write(tmp.path(), &run_with_id("run-b", "h", 2, 1.0));
    let db_str = db.to_str().unwrap();
    let out = isobench(&["push", a.to_str().unwrap(), "--db", db_str]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // The store rejects one metric value after the run's row and its
    // repetitions were written.
    Connection::open(&db)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER no_gups BEFORE INSERT ON results WHEN NEW.metric = 'gups'
             BEGIN SELECT RAISE(ABORT, 'no_gups: refused'); END;",
        )
        .unwrap();
    let out = isobench(&["push", b.to_str().unwrap(), "--db", db_str]);
    assert_eq!(out.status.code(), Some(1));
    assert!(one_line_error(&out).contains("no_gups"));
    assert_eq!(counts(&db), (1, 40, 120));
    Connection::open(&db)
        .unwrap()
        .execute_batch("DROP TRIGGER no_gups")
        .unwrap();
    let out = isobench(&["push", b.to_str().unwrap(), "--db", db_str]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(counts(&db), (2, 80, 240));
}

#[test]
fn report_and_compare_read_stored_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("h.sqlite");
    let db_str = db.to_str().unwrap();
    let base = write(
        tmp.path(),
        &run_with_id("20261127T1815-base", "epyc", 12, 1.0),
    );
    let slow = write(
        tmp.path(),
        &run_with_id("20261128T0900-slow", "epyc", 12, 0.8),
    );
    let other = write(
        tmp.path(),
        &run_with_id("20261128T1000-xeon", "xeon", 12, 1.0),
    );
    for d in [&base, &slow, &other] {
        let out = isobench(&["push", d.to_str().unwrap(), "--db", db_str]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    }

    // One stored run: the same report as from its directory.
    let out_store = tmp.path().join("r-store");
    let out = isobench(&[
        "report",
        "--db",
        db_str,
        "--run",
        "20261127T1815",
        "--out",
        out_store.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out_dir = tmp.path().join("r-dir");
    let out = isobench(&[
        "report",
        base.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    for f in ["results.csv", "summary.md", "bencher.json"] {
        assert_eq!(
            std::fs::read(out_store.join(f)).unwrap(),
            std::fs::read(out_dir.join(f)).unwrap(),
            "{f} differs between the stored run and its directory"
        );
    }

    // Several runs, stored and a directory mixed: hosts side by side.
    let multi = tmp.path().join("multi");
    let out = isobench(&[
        "report",
        "--db",
        db_str,
        "--run",
        "20261127T1815-base",
        "--run",
        "20261128T1000",
        slow.to_str().unwrap(),
        "--out",
        multi.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let md = std::fs::read_to_string(multi.join("summary.md")).unwrap();
    assert!(md.contains("3 runs on 2 host(s)"), "{md}");
    assert!(multi.join("plots/hosts-membw.svg").is_file());

    // compare: a regression between stored runs of one host is found ...
    let cmp = tmp.path().join("cmp");
    let cmp_s = cmp.to_str().unwrap();
    let out = isobench(&[
        "compare",
        "--db",
        db_str,
        "20261127T1815",
        "20261128T0900",
        "--threshold",
        "15",
        "--workload",
        "membw",
        "--out",
        cmp_s,
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = std::fs::read_to_string(cmp.join("compare.txt")).unwrap();
    assert!(
        text.contains("REGRESSION: native membw/triad_mbs"),
        "{text}"
    );
    // ... runs of other hosts are refused unless forced ...
    let args = [
        "compare",
        "--db",
        db_str,
        "20261127T1815",
        "20261128T1000",
        "--threshold",
        "15",
        "--workload",
        "membw",
        "--out",
        cmp_s,
    ];
    let out = isobench(&args);
    assert_eq!(out.status.code(), Some(2));
    assert!(one_line_error(&out).contains("different hosts"));
    let mut forced = args.to_vec();
    forced.push("--force");
    let out = isobench(&forced);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // ... and an unknown or ambiguous id is one line, exit 2.
    let out = isobench(&["compare", "--db", db_str, "2026", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(one_line_error(&out).contains("ambiguous"));
    let out = isobench(&["report", "--db", db_str, "--run", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(one_line_error(&out).contains("no run nope"));
    // A store that does not exist is not created by reading it.
    let missing = tmp.path().join("none.sqlite");
    let out = isobench(&["report", "--db", missing.to_str().unwrap(), "--run", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(one_line_error(&out).contains("no history store"));
    assert!(!missing.exists());

    // A run whose repetitions were partly deleted outside isobench: one
    // line, exit 1, never a partial report.
    Connection::open(&db)
        .unwrap()
        .execute(
            "DELETE FROM repetitions WHERE run_id = '20261128T0900-slow' AND line >= 100",
            [],
        )
        .unwrap();
    let out = isobench(&["report", "--db", db_str, "--run", "20261128T0900"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(one_line_error(&out).contains("is incomplete: 100 of its 240"));

    // The listing names every run.
    let out = isobench(&["history", "--db", db_str, "--runs"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("3 runs in"), "{text}");
    assert!(text.contains("20261128T1000-xeon"), "{text}");
}
