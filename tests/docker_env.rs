//! Docker columns end to end, as root, against the host's Docker daemon:
//! a short cpu run on `docker:runc` and `docker:isorun` through the CLI,
//! daemon.json put back byte for byte after a normal and a failed run,
//! nothing labelled left behind, and the refusal (exit 2, one line) when
//! no daemon answers. A missing prerequisite is a recorded skip
//! (`isobench_testkit`), and a failure under `CI=true`.
//!
//! The tests share one daemon.json: they take [`LOCK`] in turn.

use isobench::env::column::Runtime;
use isobench::env::docker::{DockerEnv, DAEMON_JSON, ISORUN_RUNTIME, OWNER_LABEL};
use isobench::env::{EnvContext, Environment};
use isobench_workloads::spec::{Workload, WorkloadSpec};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

static LOCK: Mutex<()> = Mutex::new(());

fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

/// (workload binary, isorun) when root, a daemon and both binaries are here.
fn prerequisites() -> Option<(PathBuf, PathBuf)> {
    if !isobench_testkit::require_root("the Docker daemon and its daemon.json") {
        return None;
    }
    let t = target_dir();
    let workload = t.join("x86_64-unknown-linux-gnu/release/isobench-workload");
    if !workload.is_file() {
        isobench_testkit::missing(format!(
            "{} missing (scripts/build-workload.sh)",
            workload.display()
        ));
        return None;
    }
    // The CLI finds isorun beside itself.
    let isorun = Path::new(env!("CARGO_BIN_EXE_isobench")).with_file_name("isorun");
    if !isorun.is_file() {
        isobench_testkit::missing("isorun binary missing (cargo build -p isorun)");
        return None;
    }
    if let Some(why) = isobench::env::docker::daemon_unavailable() {
        isobench_testkit::missing(format!("docker columns: {why}"));
        return None;
    }
    Some((workload, isorun))
}

fn docker_lines(args: &[&str]) -> Vec<String> {
    let o = Command::new("docker").args(args).output().unwrap();
    assert!(o.status.success(), "docker {args:?}: {o:?}");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect()
}

/// isobench's containers and images of the process `pid`.
fn labelled(pid: u32) -> (Vec<String>, Vec<String>) {
    let f = format!("label={OWNER_LABEL}={pid}");
    (
        docker_lines(&["ps", "-aq", "--filter", &f]),
        docker_lines(&["images", "-q", "--filter", &f]),
    )
}

fn daemon_runtimes() -> Vec<String> {
    let d = isobench::env::column::Engine::Docker.locate().unwrap();
    isobench::env::docker::daemon_info(&d).unwrap().runtimes
}

fn daemon_json() -> Option<Vec<u8>> {
    std::fs::read(DAEMON_JSON).ok()
}

/// A short cpu run on docker:runc and docker:isorun through the CLI: both
/// valid, engine facts recorded, daemon.json as it was, nothing left.
#[test]
fn a_cpu_run_on_docker_runc_and_isorun_leaves_nothing() {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if prerequisites().is_none() {
        return;
    }
    let before = daemon_json();
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("run");
    let o = Command::new(env!("CARGO_BIN_EXE_isobench"))
        .args([
            "run",
            "--env",
            "container",
            "--runtime",
            "docker:runc,docker:isorun",
            "--workload",
            "cpu",
            "--preset",
            "quick",
            "--reps",
            "1",
            "--warmup",
            "0",
            "--no-history",
            "--out",
        ])
        .arg(&run)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let text = std::fs::read_to_string(run.join("results.jsonl")).unwrap();
    let mut seen = Vec::new();
    for line in text.lines() {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(r["valid"], true, "{line}");
        assert!(
            r["metrics"]["primes_per_s"].as_f64().unwrap() > 0.0,
            "{line}"
        );
        seen.push(r["env_id"].as_str().unwrap_or_default().to_string());
    }
    seen.sort();
    assert_eq!(seen, ["container-docker-isorun", "container-docker-runc"]);
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    let envs = info["environments"].as_array().unwrap();
    for e in envs {
        let d = &e["detail"];
        assert_eq!(d["engine"], "docker", "{e}");
        assert!(
            d["engine_version"]
                .as_str()
                .unwrap()
                .starts_with("Docker Engine "),
            "{e}"
        );
        assert!(!d["storage_driver"].as_str().unwrap().is_empty(), "{e}");
        assert!(d["cgroup"].as_str().unwrap().contains("driver"), "{e}");
    }
    assert_eq!(
        daemon_json(),
        before,
        "daemon.json not restored byte for byte"
    );
    assert!(!daemon_runtimes().contains(&ISORUN_RUNTIME.to_string()));
    // The run's pid is gone; no container or image of any isobench run
    // may carry a pid that no longer lives.
    for c in docker_lines(&[
        "ps",
        "-a",
        "--filter",
        &format!("label={OWNER_LABEL}"),
        "--format",
        "{{.Label \"org.isobench.owner\"}}",
    ]) {
        assert!(
            Path::new(&format!("/proc/{c}")).exists(),
            "container of dead pid {c} left"
        );
    }
    for i in docker_lines(&[
        "images",
        "--filter",
        &format!("label={OWNER_LABEL}"),
        "--format",
        "{{.Repository}}",
    ]) {
        let pid = i.rsplit('-').next().unwrap_or_default();
        assert!(
            Path::new(&format!("/proc/{pid}")).exists(),
            "image {i} of a dead pid left"
        );
    }
}

/// A failed run (the workload exits without a result) on docker:isorun,
/// the environment dropped without cleanup as an error unwinds it:
/// daemon.json back byte for byte, the runtime gone from the daemon,
/// nothing labelled left.
#[test]
fn a_failed_docker_isorun_run_restores_daemon_json() {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let Some((workload, isorun)) = prerequisites() else {
        return;
    };
    let before = daemon_json();
    let scratch = tempfile::tempdir().unwrap();
    {
        let mut env = DockerEnv::new(&Runtime::Isorun, isorun).unwrap();
        assert_eq!(env.id(), "container-docker-isorun");
        env.prepare(&EnvContext {
            workload_bin: workload,
            scratch: scratch.path().to_path_buf(),
            threads: 1,
            data_dir: None,
            command_root: None,
            fileio: false,
        })
        .unwrap();
        assert!(daemon_runtimes().contains(&ISORUN_RUNTIME.to_string()));
        assert_ne!(daemon_json(), before, "isorun was not registered");
        // A live instance stopped early: the daemon removes the container.
        let idle = WorkloadSpec {
            workload: Workload::Idle,
            args: vec!["idle".into()],
        };
        let t = Duration::from_secs(60);
        let mut i = env.launch(&idle, t).unwrap();
        i.wait_ready(t).unwrap();
        assert!(!i.pids().is_empty());
        i.stop().unwrap();
        assert!(i.pids().is_empty());
        assert!(labelled(std::process::id()).0.is_empty());
        // A run that fails: an unknown workload prints no result.
        let bad = WorkloadSpec {
            workload: Workload::Cpu,
            args: vec!["no-such-workload".into()],
        };
        let e = env.run(&bad, t).unwrap_err();
        assert!(format!("{e:#}").contains("ISOBENCH-RESULT"), "{e:#}");
    }
    assert_eq!(
        daemon_json(),
        before,
        "daemon.json not restored byte for byte"
    );
    assert!(!daemon_runtimes().contains(&ISORUN_RUNTIME.to_string()));
    let (c, i) = labelled(std::process::id());
    assert!(c.is_empty() && i.is_empty(), "left: {c:?} {i:?}");
    assert!(!Path::new(isobench::env::docker::BACKUP_DIR)
        .join(std::process::id().to_string())
        .exists());
}

/// No daemon: `run` refuses a docker column with exit 2 and one line
/// before probing anything, and `list` says so on the docker line.
#[test]
fn without_a_daemon_docker_columns_are_refused() {
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("run");
    let dead = format!("unix://{}", out.path().join("no-daemon.sock").display());
    let o = Command::new(env!("CARGO_BIN_EXE_isobench"))
        .env("DOCKER_HOST", &dead)
        .args(["run", "--runtime", "docker:runc", "--no-history", "--out"])
        .arg(&run)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    if isobench::env::column::Engine::Docker.locate().is_none() {
        assert_eq!(o.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("docker not found"), "{stderr}");
        return;
    }
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("docker:runc") && stderr.contains("no Docker daemon answers"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("host:"),
        "probed before refusing: {stderr}"
    );
    assert!(!run.exists(), "a run directory was made");
    let o = Command::new(env!("CARGO_BIN_EXE_isobench"))
        .env("DOCKER_HOST", &dead)
        .args(["list"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains("docker"))
        .expect("a docker line in list");
    assert!(
        line.contains("UNUSABLE") && line.contains("no Docker daemon answers"),
        "{line}"
    );
}

/// kill -9 of a docker:isorun run with a container up: `isobench clean`
/// removes the container and the image and puts daemon.json back byte for
/// byte from the run's saved copy.
#[test]
fn kill_9_during_a_docker_isorun_run_is_swept_by_clean() {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if prerequisites().is_none() {
        return;
    }
    let before = daemon_json();
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("run");
    let log = std::fs::File::create(out.path().join("log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_isobench"))
        .args([
            "run",
            "--env",
            "container",
            "--runtime",
            "docker:isorun",
            "--workload",
            "cpu",
            "--preset",
            "standard",
            "--reps",
            "5",
            "--warmup",
            "0",
            "--no-history",
            "--out",
        ])
        .arg(&run)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let pid = child.id();
    let t0 = std::time::Instant::now();
    while labelled(pid).0.is_empty() {
        let log = std::fs::read_to_string(out.path().join("log")).unwrap_or_default();
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended first:\n{log}"
        );
        assert!(
            t0.elapsed() < Duration::from_secs(180),
            "no container up:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_ne!(daemon_json(), before, "isorun was not registered");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let (c, i) = labelled(pid);
    assert!(!c.is_empty() && !i.is_empty(), "nothing outlived the kill");
    let o = Command::new(env!("CARGO_BIN_EXE_isobench"))
        .arg("clean")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{text}");
    assert!(
        text.contains("remove docker container") && text.contains("remove docker image"),
        "{text}"
    );
    assert!(text.contains("restore daemon.json saved in"), "{text}");
    assert_eq!(
        daemon_json(),
        before,
        "daemon.json not restored byte for byte"
    );
    assert!(!daemon_runtimes().contains(&ISORUN_RUNTIME.to_string()));
    let (c, i) = labelled(pid);
    assert!(c.is_empty() && i.is_empty(), "left: {c:?} {i:?}");
    assert!(!Path::new(isobench::env::docker::BACKUP_DIR)
        .join(pid.to_string())
        .exists());
}
