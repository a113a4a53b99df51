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
