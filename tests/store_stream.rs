//! `isobench push` streams a run (reports/src/history/write.rs): runs longer
//! than a reading chunk and a PostgreSQL batch go in whole, in order, and a
//! run refused or broken late (after many chunks and batches were written)
//! leaves nothing, on SQLite and on the throwaway PostgreSQL server of
//! scripts/test.sh (ISOBENCH_TEST_PG_URL).

use isobench_reports::history::{History, PG_WRITE_BATCH, STREAM_CHUNK};
use isobench_reports::load::{load_run, Run};
use isobench_reports::testdata;
use std::path::{Path, PathBuf};
use std::process::Command;

const URL_ENV: &str = "ISOBENCH_TEST_PG_URL";

/// Repetitions of the fixture (20 lines each) for a run longer than two
/// PostgreSQL batches and many reading chunks.
fn long_reps() -> u32 {
    let lines = (2 * PG_WRITE_BATCH).max(8 * STREAM_CHUNK) + 300;
    lines.div_ceil(20) as u32
}

fn long_run(id: &str) -> Run {
    let mut run = testdata::fixture_run(long_reps(), 1.0);
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

fn isobench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_isobench"))
        .args(args)
        .env_remove("ISOBENCH_DB")
        .output()
        .unwrap()
}

fn counts(db: &str) -> (usize, usize, usize) {
    let mut h = History::open(Path::new(db)).unwrap();
    (
        h.run_count().unwrap(),
        h.repetition_count().unwrap(),
        h.value_count().unwrap(),
    )
}

/// A fresh database on the test server, as a URL; None (skip recorded)
/// when no server is configured.
fn fresh_pg(name: &str) -> Option<String> {
    let Ok(base) = std::env::var(URL_ENV) else {
        isobench_testkit::missing(format!(
            "{URL_ENV} is not set (scripts/test.sh starts a PostgreSQL server)"
        ));
        return None;
    };
    let mut admin = postgres::Client::connect(&base, postgres::NoTls).expect("connect");
    let db = format!("isobench_t_{name}");
    for sql in [
        format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
        format!("CREATE DATABASE {db}"),
    ] {
        admin.batch_execute(&sql).expect("create test database");
    }
    let (prefix, _) = base.rsplit_once('/').expect("URL names a database");
    Some(format!("{prefix}/{db}"))
}

/// Everything the streaming push must do, against the store `db`.
fn streams_whole_or_not_at_all(db: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let run = long_run("long");
    let n = run.records.len();
    let values: usize = run.records.iter().map(|r| r.metrics.len()).sum();
    let last_values = run.records.last().unwrap().metrics.len();
    assert!(n > 2 * PG_WRITE_BATCH, "{n}");
    assert!(n > 8 * STREAM_CHUNK, "{n}");
    let dir = write(tmp.path(), &run);
    let dir_s = dir.to_str().unwrap();
    let results = dir.join("results.jsonl");
    let text = std::fs::read_to_string(&results).unwrap();

    // A malformed line near the end, after many chunks and batches were
    // written: bad input, one line naming it, nothing stored.
    let mut lines: Vec<&str> = text.lines().collect();
    let bad_at = n - 50;
    lines[bad_at - 1] = "{not json";
    std::fs::write(&results, lines.join("\n") + "\n").unwrap();
    let out = isobench(&["push", dir_s, "--db", db]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains(&format!("results.jsonl:{bad_at}:")), "{err}");
    assert_eq!(counts(db), (0, 0, 0));

    // A cut last line (an interrupted run): refused whole after reading it
    // all, unless --unfinished, which stores the lines before it.
    let cut = &text[..text.len() - 30];
    std::fs::write(&results, cut).unwrap();
    let out = isobench(&["push", dir_s, "--db", db]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("did not finish") && err.contains("cut off"),
        "{err}"
    );
    assert_eq!(counts(db), (0, 0, 0));
    let out = isobench(&["push", dir_s, "--db", db, "--unfinished"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(counts(db), (1, n - 1, values - last_values));
    // Pushed again whole: already there, and the message says the store
    // holds fewer lines than the directory.
    std::fs::write(&results, &text).unwrap();
    let out = isobench(&["push", dir_s, "--db", db]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        said.contains("already in")
            && said.contains(&format!("holds {} repetitions of it", n - 1))
            && said.contains(&format!("holds {n};")),
        "{said}"
    );

    // A whole long run: every line, in order, as written.
    let run2 = long_run("long-2");
    let dir2 = write(tmp.path(), &run2);
    let out = isobench(&["push", dir2.to_str().unwrap(), "--db", db]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        said.contains(&format!("{n} repetitions, {values} values")),
        "{said}"
    );
    assert_eq!(counts(db), (2, 2 * n - 1, 2 * values - last_values));
    let mut h = History::open(Path::new(db)).unwrap();
    assert_eq!(
        h.repetitions("long-2").unwrap(),
        load_run(&dir2).unwrap().records
    );
}

#[test]
fn a_long_run_streams_into_sqlite_whole_or_not_at_all() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("h.sqlite");
    streams_whole_or_not_at_all(db.to_str().unwrap());
}

#[test]
fn a_long_run_streams_into_postgres_whole_or_not_at_all() {
    let Some(url) = fresh_pg("stream") else {
        return;
    };
    streams_whole_or_not_at_all(&url);
}
