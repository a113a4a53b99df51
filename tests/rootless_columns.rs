//! Rootless columns in a root run: `--runtime isorun,isorun-rootless` gives
//! both columns in one results.jsonl, the rootless one run by the user
//! `isobench-rootless`; afterwards (and after a kill -9 and `isobench
//! clean`) no process of that user, no directory of the run and no user
//! is left.

use isobench::env::rootless::user;
use isobench_reports::schema::ResultRecord;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The two tests share the user: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn workload() -> Option<PathBuf> {
    let w = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/x86_64-unknown-linux-gnu/release/isobench-workload");
    if !w.is_file() {
        isobench_testkit::missing(format!(
            "{} missing (scripts/build-workload.sh)",
            w.display()
        ));
        return None;
    }
    let isorun = Path::new(env!("CARGO_BIN_EXE_isobench"))
        .parent()
        .unwrap()
        .join("isorun");
    if !isorun.is_file() {
        isobench_testkit::missing(format!("{} not built (cargo build)", isorun.display()));
        return None;
    }
    Some(w)
}

fn isobench(wl: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_isobench"));
    c.env("ISOBENCH_WORKLOAD_BIN", wl).env("NO_COLOR", "1");
    c
}

/// Nothing of run `pid` left, and (when no other run holds the user) no
/// user and no process of it. Waits a moment for killed processes.
fn assert_nothing_left(pid: u32, uid: Option<u32>) {
    let dir = user::run_dir(pid);
    assert!(!dir.exists(), "{} left", dir.display());
    let deadline = Instant::now() + Duration::from_secs(5);
    if let Some(uid) = uid {
        while let Some(p) = user::busy(Path::new("/proc"), uid, None) {
            assert!(Instant::now() < deadline, "process {p} of uid {uid} left");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    // Another run using the user (another test binary) holds the lock.
    let idle = std::fs::File::open(user::LOCK).is_ok_and(|f| {
        use std::os::fd::AsRawFd;
        // SAFETY: flock(2) on a descriptor we own, released on close.
        unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
    });
    if idle {
        assert!(
            user::lookup().filter(|a| a.ours()).is_none(),
            "user {} left",
            user::USER
        );
    }
}

#[test]
fn rootful_and_rootless_columns_in_one_run() {
    if !isobench_testkit::require_root("running a runtime as another user") {
        return;
    }
    let Some(wl) = workload() else { return };
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let t = tempfile::tempdir().unwrap(); // 0700: the user cannot reach it
    let out = t.path().join("run");
    let child = isobench(&wl)
        .args([
            "run",
            "--env",
            "container",
            "--runtime",
            "isorun,isorun-rootless",
        ])
        .args([
            "--workload",
            "startup,cpu",
            "--preset",
            "quick",
            "--reps",
            "2",
        ])
        .args(["--warmup", "0", "--no-history", "--out"])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let o = child.wait_with_output().unwrap();
    let se = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{se}");
    let recs: Vec<ResultRecord> = std::fs::read_to_string(out.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut uid = None;
    for col in ["container-isorun", "container-isorun-rootless"] {
        for w in ["startup", "cpu"] {
            let n = recs
                .iter()
                .filter(|r| r.env_id == col && r.workload == w)
                .inspect(|r| assert!(r.valid, "{col} {w}: {:?}", r.error))
                .count();
            assert_eq!(n, 2, "{col} {w}");
        }
    }
    for r in &recs {
        let rl = r.env_detail.get("rootless");
        if r.env_id == "container-isorun" {
            assert!(rl.is_none(), "{:?}", r.env_detail);
            continue;
        }
        let rl = rl.expect("rootless detail");
        assert!(rl.contains("as user isobench-rootless (uid "), "{rl}");
        assert!(rl.contains("uid map 0 "), "{rl}");
        uid = rl
            .split("(uid ")
            .nth(1)
            .and_then(|s| s.split(',').next())
            .and_then(|s| s.parse().ok());
        if r.workload == "startup" {
            assert!(r.metrics.contains_key("first_instruction_ms"));
            assert!(
                r.metrics.contains_key("footprint_pss_mib"),
                "{:?}",
                r.metrics
            );
        }
    }
    assert!(uid.is_some());
    assert_nothing_left(pid, uid);
}

#[test]
fn a_killed_root_run_leaves_nothing_of_its_rootless_columns() {
    if !isobench_testkit::require_root("running a runtime as another user") {
        return;
    }
    let Some(wl) = workload() else { return };
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("run");
    let mut child = isobench(&wl)
        .args(["run", "--env", "container", "--runtime", "isorun-rootless"])
        .args(["--workload", "startup", "--reps", "500", "--warmup", "0"])
        .args(["--no-history", "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Killed while its containers come and go: after a few results.
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(out.join("results.jsonl"))
        .map(|s| s.lines().count())
        .unwrap_or(0)
        < 3
    {
        assert!(Instant::now() < deadline, "no results in 60 s");
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    let uid = user::lookup().map(|a| a.uid);
    assert!(user::run_dir(pid).is_dir());
    child.kill().unwrap();
    child.wait().unwrap();
    let o = isobench(&wl).arg("clean").output().unwrap();
    let so = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{so}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        so.contains(&user::run_dir(pid).display().to_string()),
        "{so}"
    );
    assert_nothing_left(pid, uid);
}
