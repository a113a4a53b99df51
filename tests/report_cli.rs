//! The real `isobench` binary on fixture run directories: `report` writes the
//! report; `compare` exits 2 in one line on the same run given twice, 0 on
//! two runs of the same host that did not change and 1 (naming the metric)
//! on a run whose STREAM triad is 20% slower; bad input exits 2 with one line.

use isobench_reports::testdata::{fixture_run, fixture_run_seeded, write_run_dir};
use std::process::Command;

fn isobench(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_isobench"))
        .args(args)
        .output()
        .expect("run isobench")
}

#[test]
fn report_and_compare_through_the_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    let slow = tmp.path().join("slow");
    let short = tmp.path().join("short");
    write_run_dir(&short, &fixture_run(3, 1.0));
    write_run_dir(&base, &fixture_run(12, 1.0));
    write_run_dir(&slow, &fixture_run(12, 0.8));

    let out = isobench(&["report".as_ref(), base.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(base.join("report/index.html").is_file());
    assert!(base.join("report/bencher.json").is_file());

    // The same run twice is not a comparison: one line, exit 2.
    let out = isobench(&["compare".as_ref(), short.as_os_str(), short.as_os_str()]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("same run"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let other = tmp.path().join("other");
    let mut run = fixture_run_seeded(12, 1.0, 7);
    run.info.run_id = "20261127T191500Z-other".into();
    write_run_dir(&other, &run);

    // Gate the membw figures at 15% (12 repetitions of the fixture's ±10%
    // noise can show that).
    let membw = |a: &std::path::Path, b: &std::path::Path| {
        let mut args: Vec<&std::ffi::OsStr> =
            vec!["compare".as_ref(), a.as_os_str(), b.as_os_str()];
        args.extend(
            ["--workload", "membw", "--threshold", "15"]
                .iter()
                .map(std::ffi::OsStr::new),
        );
        isobench(&args)
    };
    let out = membw(&base, &other);
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    let out = membw(&base, &slow);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("REGRESSION: native membw/triad_mbs (-20.0% ["),
        "{stdout}"
    );
    assert!(slow.join("compare/compare.png").is_file());
}

#[test]
fn bad_run_directories_exit_2_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing");
    let out = isobench(&["report".as_ref(), missing.as_os_str()]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("does not exist"), "{err}");

    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = isobench(&["compare".as_ref(), empty.as_os_str(), empty.as_os_str()]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("is empty"));

    // A truncated last line is a warning on stderr, not a failure.
    let cut = tmp.path().join("cut");
    write_run_dir(&cut, &fixture_run(2, 1.0));
    let results = cut.join("results.jsonl");
    let text = std::fs::read_to_string(&results).unwrap();
    std::fs::write(&results, &text[..text.len() - 30]).unwrap();
    let out = isobench(&["report".as_ref(), cut.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning") && err.contains("truncated"),
        "{err}"
    );
}

/// `isobench report A B C` of the old four-run main job's parts (a suite
/// run and a density run of one host) and a run of another host: the
/// claims stand side by side, one column per host, and claims.json is
/// written beside the report.
#[test]
fn a_report_of_several_runs_keeps_the_claims_host_by_host() {
    use isobench_reports::testdata::density_records;
    let tmp = tempfile::tempdir().unwrap();
    let (suite, density, other, out) = (
        tmp.path().join("suite"),
        tmp.path().join("density"),
        tmp.path().join("other"),
        tmp.path().join("out"),
    );
    write_run_dir(&suite, &fixture_run(3, 1.0));
    let mut d = fixture_run(1, 1.0);
    d.info.run_id = "20261127T183000Z-density".into();
    d.records = density_records("container-isorun", "", 200, 0.3, 0.5);
    write_run_dir(&density, &d);
    let mut o = fixture_run(3, 1.0);
    o.info.run_id = "20261127T190000Z-other".into();
    o.info.host.hostname = "other-host".into();
    write_run_dir(&other, &o);
    let o = isobench(&[
        "report".as_ref(),
        suite.as_os_str(),
        density.as_os_str(),
        other.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("  bench-host: C1 "), "{stdout}");
    assert!(stdout.contains("  other-host: C1 "), "{stdout}");
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("claims.json")).unwrap()).unwrap();
    let cols = v["columns"].as_array().unwrap();
    assert_eq!(cols.len(), 2, "{v}");
    assert_eq!(cols[0]["label"], "bench-host");
    assert_eq!(cols[0]["run_ids"].as_array().unwrap().len(), 2);
    let c4 = |c: &serde_json::Value| {
        c["claims"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == "C4")
            .unwrap()["verdict"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_ne!(c4(&cols[0]), "not-measured");
    assert_eq!(c4(&cols[1]), "not-measured");
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(md.contains("| claim | bench-host | other-host |"), "{md}");
}
