//! `isobench history` on a SQLite store: change points in every series, the
//! run where each began, its size, and what differs in run.json.

use isobench_reports::testdata;
use std::process::Command;

fn isobench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_isobench"))
        .args(args)
        .env_remove("ISOBENCH_DB")
        .output()
        .unwrap()
}

#[test]
fn a_step_is_found_at_its_run_with_the_run_json_difference() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("h.sqlite");
    let db_str = db.to_str().unwrap();
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
        let dir = tmp.path().join(&id);
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
        .chain([tmp.path().join("plots").to_str().unwrap()])
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
    let report = tmp.path().join("run-05/report");
    std::fs::create_dir_all(&report).unwrap();
    std::fs::write(report.join("index.html"), "<html></html>").unwrap();
    let page = tmp.path().join("history.html");
    let out = isobench(&["history", "--db", db_str, "--html", page.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("membw/triad_mbs in native"), "{html}");
    assert!(html.contains("change at run run-12 (after run-11)"));
    assert!(html.contains(&format!("href=\"{}\"", report.join("index.html").display())));
    assert!(!tmp.path().join("history.html.partial").exists());
    // A filter that matches nothing: one line, exit 2, no page.
    let none = tmp.path().join("none.html");
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
