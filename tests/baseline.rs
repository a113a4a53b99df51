//! Named baselines (`isobench baseline save|list|delete`, `compare NEW
//! --baseline NAME`) through the real binary, on a SQLite store and on
//! PostgreSQL (the throwaway server scripts/test.sh starts; skipped without
//! ISOBENCH_TEST_PG_URL). Also `compare`'s filters as comma lists, and
//! several new runs (`BASE... --new NEW...`, `NEW... --last K`).

use isobench_reports::history::History;
use isobench_reports::load::Run;
use isobench_reports::testdata::{fixture_run_seeded, write_run_dir};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

fn isobench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_isobench"))
        .args(args)
        .env_remove("ISOBENCH_DB")
        .output()
        .unwrap()
}

/// Exit 2 with one line on stderr holding `needle`.
fn refused(args: &[&str], needle: &str) {
    let out = isobench(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    assert!(
        err.starts_with("isobench: error: ") && err.contains(needle),
        "{args:?}: {err}"
    );
}

fn stdout_of(args: &[&str], code: i32) -> String {
    let out = isobench(args);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{args:?}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// A run of native and isorun cpu only (±2% noise), its own id and start
/// minute.
fn cpu_run(seed: u64) -> Run {
    let mut r = fixture_run_seeded(12, 1.0, seed);
    r.records.retain(|r| {
        r.workload == "cpu" && (r.env_id == "native" || r.env_id == "container-isorun")
    });
    r.info.run_id = format!("20261202T16{seed:02}00Z-cpu");
    r.info.started_at = format!("2026-12-02T16:{seed:02}:00Z");
    for rec in &mut r.records {
        rec.run_id = r.info.run_id.clone();
    }
    r
}

fn write(dir: &Path, name: &str, run: &Run) -> PathBuf {
    let d = dir.join(name);
    write_run_dir(&d, run);
    d
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn json_of(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("compare.json")).unwrap()).unwrap()
}

#[test]
fn baselines_in_a_sqlite_store() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("h.sqlite");
    // No store yet: listing is bad input and creates nothing.
    refused(
        &["baseline", "list", "--db", db.to_str().unwrap()],
        "no history store at",
    );
    assert!(!db.exists());
    exercise(db.to_str().unwrap(), tmp.path());
}

#[test]
fn baselines_in_a_postgres_store() {
    let Some(url) = fresh_pg_db("baseline") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let text = stdout_of(&["baseline", "list", "--db", &url], 0);
    assert!(text.starts_with("no baselines in"), "{text}");
    exercise(&url, tmp.path());
}

/// Save, list, compare with, replace and delete baselines in `db`.
fn exercise(db: &str, tmp: &Path) {
    let base: Vec<PathBuf> = (1..=3)
        .map(|s| write(tmp, &format!("base{s}"), &cpu_run(s)))
        .collect();
    let ids: Vec<String> = (1..=3).map(|s| cpu_run(s).info.run_id).collect();
    let arg = |p: &PathBuf| p.to_str().unwrap().to_string();

    // Bad input first: nothing is saved, no run is pushed.
    let mut other_host = cpu_run(20);
    other_host.info.host.hostname = "elsewhere".into();
    let other_host = write(tmp, "other-host", &other_host);
    refused(
        &["baseline", "save", "main", &arg(&base[0]), &arg(&other_host), "--db", db],
        "the runs mix hosts or plans (20261202T160100Z-cpu vs 20261202T162000Z-cpu: hostname: bench-host vs elsewhere)",
    );
    refused(
        &["baseline", "save", "a b", &arg(&base[0]), "--db", db],
        "baseline name 'a b' holds ' '",
    );
    refused(
        &[
            "baseline",
            "save",
            "main",
            &arg(&base[0]),
            &arg(&base[0]),
            "--db",
            db,
        ],
        "is given twice",
    );
    let mut cut = cpu_run(21);
    cut.info.finished_at = None;
    let cut = write(tmp, "cut", &cut);
    refused(
        &["baseline", "save", "main", &arg(&cut), "--db", db],
        "did not finish",
    );
    refused(
        &["baseline", "save", "main", "--db", db],
        "give the baseline's runs",
    );
    if db.starts_with("postgres") {
        let mut h = History::open(Path::new(db)).unwrap();
        assert_eq!(h.run_count().unwrap(), 0, "a refused save pushed a run");
        assert_eq!(h.baselines().unwrap(), vec![]);
    } else {
        assert!(!Path::new(db).exists(), "a refused save created the store");
    }

    // Three run directories: pushed, then named.
    let text = stdout_of(
        &[
            "baseline",
            "save",
            "main",
            &arg(&base[0]),
            &arg(&base[1]),
            &arg(&base[2]),
            "--db",
            db,
        ],
        0,
    );
    assert!(
        text.contains(&format!(
            "saved baseline 'main' in {}: 3 run(s) of host bench-host (",
            isobench_reports::history::redact(db)
        )) && text.contains(", preset quick: ")
            && text.contains(&ids.join(", ")),
        "{text}"
    );
    // A stored id (prefix) and --last from the store.
    stdout_of(&["baseline", "save", "one", &ids[0][..15], "--db", db], 0);
    stdout_of(&["baseline", "save", "last2", "--last", "2", "--db", db], 0);
    let text = stdout_of(&["baseline", "list", "--db", db], 0);
    assert!(text.starts_with("3 baseline(s) in"), "{text}");
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name}: {text}"))
            .to_string()
    };
    assert!(line("main").ends_with(&ids.join(", ")), "{text}");
    assert!(line("main").contains("bench-host ("), "{text}");
    assert!(line("one").ends_with(&ids[0]), "{text}");
    // The newest run and the one before it, oldest first.
    assert!(
        line("last2").ends_with(&format!("{}, {}", ids[1], ids[2])),
        "{text}"
    );

    // Compare against it: an A/A run passes, a slower one regresses.
    let same = write(tmp, "same", &cpu_run(4));
    let out = tmp.join("cmp");
    let o = arg(&out);
    let text = stdout_of(
        &[
            "compare",
            &arg(&same),
            "--baseline",
            "main",
            "--db",
            db,
            "--threshold",
            "10",
            "--out",
            &o,
        ],
        0,
    );
    assert!(
        text.starts_with("baseline 'main' (3 run(s), saved "),
        "{text}"
    );
    let json = json_of(&out);
    assert_eq!(json["baseline"]["name"], "main");
    assert_eq!(json["baseline"]["runs"], serde_json::json!(ids));
    assert_eq!(json["base_runs"].as_array().unwrap().len(), 3);
    assert_eq!(json["exit_code"], 0);
    // A one-run baseline takes the run-to-run spread from the store's
    // other runs of its host and plan (here the two other base runs).
    let one = isobench(&[
        "compare",
        &arg(&same),
        "--baseline",
        "one",
        "--db",
        db,
        "--threshold",
        "10",
        "--out",
        &o,
    ]);
    assert!(matches!(one.status.code(), Some(0 | 2)), "{one:?}");
    assert_eq!(
        json_of(&out)["changes"][0]["basis"],
        "run means, run-to-run spread from 2 history run(s)"
    );
    let mut slow = cpu_run(5);
    for r in slow.records.iter_mut().filter(|r| r.env_id == "native") {
        let g = r.metrics["gflops"];
        r.metrics.insert("gflops".into(), g * 0.7);
    }
    let slow = write(tmp, "slow", &slow);
    stdout_of(
        &[
            "compare",
            &arg(&slow),
            "--baseline",
            "main",
            "--db",
            db,
            "--threshold",
            "10",
            "--out",
            &o,
        ],
        1,
    );
    assert_eq!(
        json_of(&out)["regressions"],
        serde_json::json!(["native cpu/gflops"])
    );

    // Another host or plan: refused in one line unless forced.
    let mut moved = cpu_run(6);
    moved.info.host.hostname = "elsewhere".into();
    let moved = write(tmp, "moved", &moved);
    let cmp = [
        "--baseline",
        "main",
        "--db",
        db,
        "--threshold",
        "10",
        "--out",
        &o,
    ];
    let with = |run: &PathBuf, extra: &[&str]| {
        let mut v = vec!["compare".to_string(), arg(run)];
        v.extend(cmp.iter().chain(extra).map(|s| s.to_string()));
        v
    };
    refused(
        &refs(&with(&moved, &[])),
        "baseline 'main' was measured on another host (hostname: bench-host vs elsewhere); pass --force",
    );
    stdout_of(&refs(&with(&moved, &["--force"])), 0);
    let mut gate = cpu_run(7);
    gate.info.config["preset"] = "gate".into();
    let gate = write(tmp, "gate", &gate);
    refused(
        &refs(&with(&gate, &[])),
        "baseline 'main' was measured with another plan (config.preset: \"quick\" vs \"gate\"); pass --force-params",
    );
    stdout_of(&refs(&with(&gate, &["--force-params"])), 0);

    // Unknown names: one line, the known ones listed.
    refused(
        &["compare", &arg(&same), "--baseline", "mian", "--db", db],
        "no baseline 'mian' in",
    );
    refused(
        &["compare", &arg(&same), "--baseline", "mian", "--db", db],
        "(known: last2, main, one); did you mean 'main'?",
    );
    // With --baseline every run given is a new run: here one of them is
    // a run of the baseline.
    refused(
        &[
            "compare",
            &arg(&base[0]),
            &arg(&same),
            "--baseline",
            "main",
            "--db",
            db,
        ],
        "the baseline and the new run are the same run (",
    );
    refused(
        &[
            "compare",
            &arg(&base[0]),
            "--baseline",
            "main",
            "--new",
            &arg(&same),
            "--db",
            db,
        ],
        "--baseline NAME is the baseline: the runs before --new would be a second baseline",
    );
    // A run of the baseline compared with it.
    refused(
        &["compare", &arg(&base[0]), "--baseline", "one", "--db", db],
        "same run",
    );

    // Saving again replaces; deleting keeps the runs.
    let text = stdout_of(&["baseline", "save", "main", &arg(&same), "--db", db], 0);
    assert!(text.contains("replaced baseline 'main'"), "{text}");
    let text = stdout_of(&["baseline", "delete", "main", "--db", db], 0);
    assert!(text.contains("deleted baseline 'main'"), "{text}");
    refused(
        &["baseline", "delete", "main", "--db", db],
        "no baseline 'main' in",
    );
    let mut h = History::open(Path::new(db)).unwrap();
    let names: Vec<String> = h.baselines().unwrap().into_iter().map(|b| b.name).collect();
    assert_eq!(names, ["last2", "one"]);
    assert_eq!(h.run_count().unwrap(), 4, "3 base runs and the A/A run");
}

/// `compare`'s filters take comma lists, as `run` does: a class selects
/// its ids; a value that selects nothing is one line and exit 2 naming it
/// (no longer "no quantity to compare").
#[test]
fn compare_filters_are_comma_lists() {
    let tmp = tempfile::tempdir().unwrap();
    let a = write(tmp.path(), "a", &cpu_run(1));
    let b = write(tmp.path(), "b", &cpu_run(2));
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let out = tmp.path().join("cmp");
    let o = out.to_str().unwrap();
    stdout_of(
        &[
            "compare",
            a,
            b,
            "--env",
            "container",
            "--metric",
            "gflops,cpu/primes_per_s",
            "--workload",
            "cpu",
            "--threshold",
            "10",
            "--out",
            o,
        ],
        0,
    );
    let json = json_of(&out);
    let changes = json["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{json}");
    for c in changes {
        assert_eq!(c["env_id"], "container-isorun", "{c}");
    }
    for (args, needle) in [
        (&["--workload", "cpu,gpu"][..], "unknown workload 'gpu' (known: cpu, membw"),
        (
            &["--workload", "cpu,membw"][..],
            "no figure of workload 'membw' in these runs (they hold: cpu)",
        ),
        (
            &["--env", "native,jail"][..],
            "unknown environment 'jail' in these runs (they hold: container-isorun, native)",
        ),
        (&["--metric", "gflop"][..], "unknown metric 'gflop' in these runs (they hold: gflops, primes_per_s); did you mean 'gflops'?"),
    ] {
        let mut v = vec!["compare", a, b, "--out", o];
        v.extend_from_slice(args);
        refused(&v, needle);
    }
}

/// Several new runs: `BASE... --new NEW...` and `NEW... --last K` gate M
/// runs with run means as the unit (M new runs in the table and
/// compare.json); a slowdown in every new run fails; bad shapes are one
/// line, exit 2.
#[test]
fn compare_several_new_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let arg = |p: &PathBuf| p.to_str().unwrap().to_string();
    let base: Vec<String> = (1..=3)
        .map(|s| arg(&write(t, &format!("base{s}"), &cpu_run(s))))
        .collect();
    let new: Vec<String> = (4..=6)
        .map(|s| arg(&write(t, &format!("new{s}"), &cpu_run(s))))
        .collect();
    let slow: Vec<String> = (7..=9)
        .map(|s| {
            let mut r = cpu_run(s);
            for rec in r.records.iter_mut().filter(|r| r.env_id == "native") {
                let g = rec.metrics["gflops"];
                rec.metrics.insert("gflops".into(), g * 0.7);
            }
            arg(&write(t, &format!("slow{s}"), &r))
        })
        .collect();
    let out = t.join("cmp");
    let o = arg(&out);
    let with = |pre: &[&str], post: &[&String]| {
        let mut v: Vec<String> = vec!["compare".into()];
        v.extend(pre.iter().map(|s| s.to_string()));
        v.extend(post.iter().map(|s| s.to_string()));
        v.extend(["--threshold", "10", "--out", &o].map(String::from));
        v
    };
    let b: Vec<&String> = base.iter().collect();
    // BASE... --new NEW...: an A/A comparison passes, with 3 new runs.
    let mut v = with(&[], &b);
    v.push("--new".into());
    v.extend(new.iter().cloned());
    let text = stdout_of(&refs(&v), 0);
    assert!(text.contains("3 runs"), "{text}");
    let json = json_of(&out);
    assert_eq!(json["base_runs"].as_array().unwrap().len(), 3, "{json}");
    assert_eq!(json["new_runs"].as_array().unwrap().len(), 3, "{json}");
    assert_eq!(json["changes"][0]["new_runs"], 3, "{json}");
    assert_eq!(
        json["changes"][0]["basis"],
        "run means (3 base run(s), 3 new)"
    );
    // Slower in every new run: a regression.
    let mut v = with(&[], &b);
    v.push("--new".into());
    v.extend(slow.iter().cloned());
    stdout_of(&refs(&v), 1);
    assert_eq!(
        json_of(&out)["regressions"],
        serde_json::json!(["native cpu/gflops"])
    );

    // NEW... --last K: every run given is new; the baseline is the stored
    // runs that started before the first of them.
    let db = t.join("h.sqlite");
    let mut h = History::open(&db).unwrap();
    for s in 1..=3 {
        h.push(&cpu_run(s)).unwrap();
    }
    drop(h);
    let d = arg(&db);
    let mut v = vec!["compare".to_string()];
    v.extend(slow.iter().cloned());
    v.extend(["--last", "5", "--db", &d, "--threshold", "10", "--out", &o].map(String::from));
    let out_ = isobench(&refs(&v));
    assert_eq!(out_.status.code(), Some(1), "{out_:?}");
    let json = json_of(&out);
    assert_eq!(json["base_runs"].as_array().unwrap().len(), 3, "{json}");
    assert_eq!(json["new_runs"].as_array().unwrap().len(), 3, "{json}");
    let err = String::from_utf8_lossy(&out_.stderr);
    assert!(err.contains("the store holds 3 earlier runs"), "{err}");
    // NEW... --baseline NAME, and --new after --last: the same gate.
    stdout_of(&["baseline", "save", "main", "--last", "3", "--db", &d], 0);
    let mut v = vec!["compare".to_string()];
    v.extend(new.iter().cloned());
    v.extend(
        [
            "--baseline",
            "main",
            "--db",
            &d,
            "--threshold",
            "10",
            "--out",
            &o,
        ]
        .map(String::from),
    );
    stdout_of(&refs(&v), 0);
    assert_eq!(json_of(&out)["new_runs"].as_array().unwrap().len(), 3);
    let mut v = vec![
        "compare",
        "--last",
        "3",
        "--db",
        &d,
        "--threshold",
        "10",
        "--out",
        &o,
        "--new",
    ];
    v.extend(slow.iter().map(String::as_str));
    stdout_of(&v, 1);

    // Bad shapes: one line, exit 2.
    let mixed = {
        let mut r = cpu_run(10);
        r.info.config["preset"] = "gate".into();
        arg(&write(t, "mixed", &r))
    };
    for (v, needle) in [
        (
            vec!["compare", &base[0], "--new", &new[0], &new[0]],
            "the new run 20261202T160400Z-cpu is given twice",
        ),
        (
            vec!["compare", "--new", &new[0], &new[1]],
            "give a baseline and new runs: BASE... NEW, BASE... --new NEW...",
        ),
        (
            vec!["compare", &base[0], "--last", "3", "--new", &new[0]],
            "--last K takes its baseline from the store: the runs before --new",
        ),
        (
            vec!["compare", &base[0], "--new", &new[0], &mixed],
            "the new runs mix hosts or plans (20261202T160400Z-cpu vs 20261202T161000Z-cpu: config.preset",
        ),
        (
            vec!["compare", &base[0], "--new", &base[0]],
            "the baseline and the new run are the same run",
        ),
    ] {
        refused(&v, needle);
    }
    // The forms are in --help.
    let help = stdout_of(&["compare", "--help"], 0);
    assert!(
        help.contains("--new <NEW>...")
            && help.contains("isobench compare BASE1 BASE2 --new N1 N2 N3")
            && help.contains("isobench compare N1 N2 N3 --last 10"),
        "{help}"
    );
}

/// Writers saving one name at once on PostgreSQL: each save is whole, so
/// the baseline ends as exactly one writer's list, never a mix, and no
/// writer fails.
#[test]
fn concurrent_saves_of_one_name_leave_one_whole_list() {
    let Some(url) = fresh_pg_db("baseline_concurrent") else {
        return;
    };
    let mut h = History::open(Path::new(&url)).unwrap();
    let ids: Vec<String> = (1..=4)
        .map(|s| {
            let run = cpu_run(s);
            h.push(&run).unwrap();
            run.info.run_id
        })
        .collect();
    let info = cpu_run(1).info;
    const WRITERS: usize = 8;
    // Writer w saves the runs w % 4 .. 4: lists of 1 to 4 runs.
    let lists: Vec<Vec<String>> = (0..WRITERS).map(|w| ids[w % 4..].to_vec()).collect();
    let barrier = std::sync::Barrier::new(WRITERS);
    std::thread::scope(|s| {
        for list in &lists {
            let (url, barrier, info) = (&url, &barrier, &info);
            s.spawn(move || {
                let mut h = History::open(Path::new(url)).unwrap();
                barrier.wait();
                for _ in 0..5 {
                    h.save_baseline(&isobench_reports::history::Baseline {
                        name: "ci".into(),
                        host: info.host.clone(),
                        plan: info.config.clone(),
                        saved_at: "2026-12-02T17:00:00Z".into(),
                        run_ids: list.clone(),
                    })
                    .unwrap();
                }
            });
        }
    });
    let all = h.baselines().unwrap();
    assert_eq!(all.len(), 1);
    assert!(lists.contains(&all[0].run_ids), "{:?}", all[0].run_ids);
}
