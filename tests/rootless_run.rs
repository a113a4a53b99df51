//! `isobench run --env native,container` started by an ordinary user (a
//! throwaway test user): native and rootless isorun columns with valid
//! results, one notice naming what needs root, and nothing left behind
//! (no run record, no state, no process of the user).

use isobench_reports::schema::ResultRecord;
use isobench_testkit::testuser::TestUser;
use std::path::{Path, PathBuf};

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_isobench"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn an_ordinary_user_measures_native_and_rootless_containers() {
    let workload = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/x86_64-unknown-linux-gnu/release/isobench-workload");
    if !workload.is_file() {
        isobench_testkit::missing(format!(
            "{} missing (scripts/build-workload.sh)",
            workload.display()
        ));
        return;
    }
    let isorun = target_dir().join("isorun");
    if !isorun.is_file() {
        isobench_testkit::missing(format!("{} not built (cargo build)", isorun.display()));
        return;
    }
    let Some(user) = TestUser::create("ib") else {
        return;
    };
    // The binaries in a directory the user can read (the checkout may not be).
    let t = tempfile::tempdir().unwrap();
    for (from, name) in [
        (Path::new(env!("CARGO_BIN_EXE_isobench")), "isobench"),
        (isorun.as_path(), "isorun"),
        (workload.as_path(), "isobench-workload"),
    ] {
        std::fs::copy(from, t.path().join(name)).unwrap();
    }
    user.give(t.path());
    let out = t.path().join("run");
    let o = user
        .command(t.path().join("isobench"))
        .env("ISOBENCH_WORKLOAD_BIN", t.path().join("isobench-workload"))
        .env("NO_COLOR", "1")
        .args(["run", "--env", "native,container", "--workload", "startup"])
        .args(["--reps", "1", "--warmup", "0", "--no-history", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let se = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{se}");
    let notices: Vec<&str> = se.lines().filter(|l| l.contains("without root")).collect();
    assert_eq!(notices.len(), 1, "one notice: {se}");
    assert!(notices[0].contains("isorun-rootless"), "{se}");
    let recs: Vec<ResultRecord> = std::fs::read_to_string(out.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let envs: Vec<&str> = recs.iter().map(|r| r.env_id.as_str()).collect();
    assert!(envs.contains(&"native"), "{envs:?}");
    assert!(envs.contains(&"container-isorun-rootless"), "{envs:?}");
    for r in &recs {
        assert!(r.valid, "{}: {:?}", r.env_id, r.error);
        if r.env_id.starts_with("container") {
            assert_eq!(r.env_detail["runtime"], "isorun-rootless");
            assert!(
                r.env_detail["rootless"].contains("user namespace"),
                "{:?}",
                r.env_detail
            );
            assert!(
                r.metrics.contains_key("first_instruction_ms"),
                "{:?}",
                r.metrics
            );
        }
    }
    // Nothing left: the user's run record, scratch, processes.
    let runs = PathBuf::from(format!("/tmp/isobench-{}/runs", user.uid));
    assert!(
        std::fs::read_dir(&runs).map(|d| d.count()).unwrap_or(0) == 0,
        "run record left in {}",
        runs.display()
    );
    assert!(!out.join(".scratch").exists());
    // A process killed at the end may take a moment to be reaped.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let left = user_processes(user.uid);
        if left.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "processes of the user left: {left:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = std::fs::remove_dir_all(format!("/tmp/isobench-{}", user.uid));
}

/// `/proc/PID/stat` of every process owned by `uid`.
fn user_processes(uid: u32) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter(|e| e.metadata().is_ok_and(|m| m.uid() == uid))
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .collect()
}
