//! Engine columns end to end, as root: the workload image run by
//! `podman run --rm` under isorun and crun (`--runtime podman:isorun`,
//! `podman:crun`), READY seen through conmon and podman's attach, the
//! engine's processes in the footprint, and nothing left behind (no
//! container, no image, no scratch directory). A missing prerequisite is a
//! recorded skip (`isobench_testkit`), and a failure under `CI=true`.

use isobench::env::column::{Oci, Runtime};
use isobench::env::engine::PodmanEnv;
use isobench::env::{EnvContext, Environment};
use isobench_workloads::spec::{Workload, WorkloadSpec};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn prerequisites() -> Option<(PathBuf, PathBuf)> {
    if !isobench_testkit::require_root("podman, namespaces, mounts, cgroups") {
        return None;
    }
    let exe = std::env::current_exe().unwrap();
    let t = exe.ancestors().nth(3).unwrap().to_path_buf();
    let workload = t.join("x86_64-unknown-linux-gnu/release/isobench-workload");
    let isorun = ["debug", "release"]
        .iter()
        .map(|p| t.join(p).join("isorun"))
        .filter(|p| p.is_file())
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok());
    if !workload.is_file() {
        isobench_testkit::missing(format!(
            "{} missing (scripts/build-workload.sh)",
            workload.display()
        ));
        return None;
    }
    let Some(isorun) = isorun else {
        isobench_testkit::missing("isorun binary missing (cargo build -p isorun)");
        return None;
    };
    if Command::new("podman").arg("--version").output().is_err() {
        isobench_testkit::missing("podman not installed (scripts/setup.sh installs it)");
        return None;
    }
    Some((workload, isorun))
}

fn podman_lines(args: &[&str]) -> Vec<String> {
    let o = Command::new("podman").args(args).output().unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(String::from)
        .collect()
}

fn startup_through_podman(runtime: &str) {
    let Some((workload, isorun)) = prerequisites() else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let mut env = PodmanEnv::new(&Oci::parse(runtime).unwrap().runtime, isorun).unwrap();
    assert_eq!(env.id(), format!("container-podman-{runtime}"));
    let d = env.detail();
    assert_eq!(d["engine"], "podman");
    assert!(d["engine_version"].starts_with("podman version"), "{d:?}");
    assert_eq!(d["runtime"], runtime);
    assert!(d["ulimits"].contains("nofile=1024:1024"), "{d:?}");
    env.prepare(&EnvContext {
        workload_bin: workload,
        scratch: scratch.path().to_path_buf(),
        threads: 1,
        data_dir: None,
        command_root: None,
        fileio: false,
    })
    .unwrap();
    let label = format!(
        "label={}={}",
        isobench::env::engine::LABEL,
        env.label_value()
    );
    let spec = WorkloadSpec {
        workload: Workload::Startup,
        args: vec!["startup".into(), "--hold-ms".into(), "200".into()],
    };
    for _ in 0..2 {
        let out = env.run(&spec, Duration::from_secs(60)).unwrap();
        assert!(out.result.valid, "{:?}", out.result);
        let fi = out.first_instruction.expect("ISOBENCH-READY seen");
        assert!(fi <= out.lifecycle);
        let f = out.footprint.expect("footprint measured at READY");
        eprintln!(
            "podman:{runtime}: first instruction {:.1} ms, lifecycle {:.1} ms, PSS {} KiB over {} pids",
            fi.as_secs_f64() * 1000.0,
            out.lifecycle.as_secs_f64() * 1000.0,
            f.pss_kib,
            f.pids.len()
        );
        // The workload and conmon at least; the client apart.
        assert!(f.pids.len() >= 2, "{f:?}");
        let client: f64 = out.result.info["engine_client_pss_mib"].parse().unwrap();
        assert!(client > 0.0, "{:?}", out.result.info);
        assert!(
            podman_lines(&["ps", "-aq", "--filter", &label]).is_empty(),
            "podman run --rm left a container"
        );
    }

    // A live instance stopped early: the engine removes the container.
    let idle = WorkloadSpec {
        workload: Workload::Idle,
        args: vec!["idle".into()],
    };
    let t = Duration::from_secs(30);
    let mut i = env.launch(&idle, t).unwrap();
    i.wait_ready(t).unwrap();
    assert!(i.pids().len() >= 3, "{:?}", i.pids());
    i.stop().unwrap();
    i.stop().unwrap(); // idempotent
    assert!(i.pids().is_empty());
    assert!(podman_lines(&["ps", "-aq", "--filter", &label]).is_empty());

    env.cleanup().unwrap();
    let images = podman_lines(&["images", "--format", "{{.Repository}}"]);
    let ours = format!("localhost/isobench-{runtime}-{}", std::process::id());
    assert!(!images.contains(&ours), "{images:?}");
    assert!(!scratch
        .path()
        .join(format!("container-podman-{runtime}"))
        .exists());
}

#[test]
fn startup_through_podman_with_isorun() {
    startup_through_podman("isorun");
}

#[test]
fn startup_through_podman_with_crun() {
    startup_through_podman("crun");
}

#[test]
fn missing_runtime_is_named() {
    let e = PodmanEnv::new(
        &Runtime::Path("/nonexistent/runtime".into()),
        PathBuf::from("/nonexistent/isorun"),
    );
    if let Err(e) = e {
        let m = e.to_string();
        assert!(
            m.contains("/nonexistent/runtime") || m.contains("podman not found"),
            "{m}"
        );
    } else {
        panic!("a missing runtime was accepted");
    }
}
