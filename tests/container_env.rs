//! The container environment end to end, as root: the workload binary's
//! `startup` kernel under isorun, runc, crun and gVisor's runsc, with
//! nothing left behind.
//! A missing prerequisite is a recorded skip (`isobench_testkit`), and a
//! failure under `CI=true`.

use isobench::env::column::Oci;
use isobench::env::container::ContainerEnv;
use isobench::env::{EnvContext, Environment};
use isobench_workloads::spec::{Workload, WorkloadSpec};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

fn target_dir() -> PathBuf {
    // target/<profile>/deps/container_env-... → target/
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf()
}

fn prerequisites() -> Option<(PathBuf, PathBuf)> {
    if !isobench_testkit::require_root("namespaces, mounts, cgroups") {
        return None;
    }
    let t = target_dir();
    let workload = t.join("x86_64-unknown-linux-gnu/release/isobench-workload");
    // The most recently built isorun of any profile.
    let isorun = ["debug", "release"]
        .iter()
        .map(|p| t.join(p).join("isorun"))
        .filter(|p| p.is_file())
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok());
    match (workload.is_file(), isorun) {
        (true, Some(i)) => Some((workload, i)),
        (false, _) => {
            isobench_testkit::missing(format!(
                "{} missing (scripts/build-workload.sh)",
                workload.display()
            ));
            None
        }
        (_, None) => {
            isobench_testkit::missing("isorun binary missing (cargo build -p isorun)");
            None
        }
    }
}

fn startup_under(runtime: &str) {
    let Some((workload, isorun)) = prerequisites() else {
        return;
    };
    if runtime != "isorun"
        && std::process::Command::new(runtime)
            .arg("--version")
            .output()
            .is_err()
    {
        isobench_testkit::missing(format!(
            "{runtime} not installed (apt-get install {runtime})"
        ));
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let mut env = ContainerEnv::new(&Oci::parse(runtime).unwrap(), isorun).unwrap();
    assert_eq!(env.id(), format!("container-{runtime}"));
    let d = env.detail();
    assert_eq!(d["runtime"], runtime);
    assert!(!d["runtime_version"].is_empty());
    if runtime == "crun" {
        assert!(d["quirks"].contains("cgroup2"), "{d:?}");
    }
    if runtime == "runsc" {
        // The platform is chosen and recorded, and the sandbox is its own class.
        assert!(!d["platform"].is_empty(), "{d:?}");
        assert!(
            d["quirks"].contains(&format!("platform {}", d["platform"])),
            "{d:?}"
        );
        assert_eq!(d["class"], "sandbox: user-space kernel");
    }
    env.prepare(&EnvContext {
        workload_bin: workload,
        scratch: scratch.path().to_path_buf(),
        threads: 1,
        data_dir: None,
        command_root: None,
        fileio: false,
    })
    .unwrap();
    // The footprint is read while the workload holds at READY: a hold of
    // 200 ms was too short on a loaded 2-core host (crun's container had
    // exited before its smaps were read), so hold long enough for a slow
    // reader.
    let spec = WorkloadSpec {
        workload: Workload::Startup,
        args: vec!["startup".into(), "--hold-ms".into(), "1000".into()],
    };
    for _ in 0..5 {
        let out = env.run(&spec, Duration::from_secs(60)).unwrap();
        assert!(out.result.valid, "{:?}", out.result);
        let fi = out.first_instruction.expect("ISOBENCH-READY seen");
        eprintln!(
            "{runtime}: first instruction {:.1} ms, lifecycle {:.1} ms, {:?}",
            fi.as_secs_f64() * 1000.0,
            out.lifecycle.as_secs_f64() * 1000.0,
            out.extra_ms
        );
        assert!(fi <= out.lifecycle);
        for k in ["create_ms", "start_ms", "delete_ms"] {
            assert!(out.extra_ms[k] > 0.0, "{k}");
        }
        // Measured while the workload held at READY: the workload process
        // itself at least, runtime leftovers included.
        let f = out.footprint.expect("footprint measured at READY");
        eprintln!(
            "{runtime}: footprint PSS {} KiB, USS {} KiB over pids {:?}",
            f.pss_kib, f.uss_kib, f.pids
        );
        assert!(f.pss_kib > 0 && f.uss_kib <= f.pss_kib, "{f:?}");
        assert!(!f.pids.is_empty());
        let held: f64 = out.result.info["held_ms"].parse().unwrap();
        assert!(held >= 200.0, "held {held} ms");
        // The hold lies between READY and exit; READY may come before
        // `start` returns (crun), so only start + run must span it.
        assert!(
            out.extra_ms["start_ms"] + out.extra_ms["run_ms"] >= held,
            "{:?}",
            out.extra_ms
        );
    }
    env.cleanup().unwrap();
    // Nothing left: no scratch dir, no mount on it.
    assert!(!scratch.path().join(format!("container-{runtime}")).exists());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&scratch.path().display().to_string()),
        "{mounts}"
    );
}

#[test]
fn startup_under_isorun() {
    startup_under("isorun");
}

#[test]
fn startup_under_runc() {
    startup_under("runc");
}

#[test]
fn startup_under_crun() {
    startup_under("crun");
}

#[test]
fn startup_under_runsc() {
    startup_under("runsc");
}

/// Live instances: several idle containers at once under each runtime,
/// each with its own processes and memory, all gone after stop.
fn idle_instances_under(runtime: &str) {
    let Some((workload, isorun)) = prerequisites() else {
        return;
    };
    if runtime != "isorun"
        && std::process::Command::new(runtime)
            .arg("--version")
            .output()
            .is_err()
    {
        isobench_testkit::missing(format!("{runtime} not installed"));
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut env = ContainerEnv::new(&Oci::parse(runtime).unwrap(), isorun).unwrap();
    env.prepare(&EnvContext {
        workload_bin: workload,
        scratch: tmp.path().to_path_buf(),
        threads: 1,
        data_dir: None,
        command_root: None,
        fileio: false,
    })
    .unwrap();
    let spec = WorkloadSpec {
        workload: Workload::Idle,
        args: vec!["idle".into()],
    };
    let t = Duration::from_secs(30);
    let mut live = Vec::new();
    for _ in 0..3 {
        let mut i = env.launch(&spec, t).unwrap();
        let ready = i.wait_ready(t).unwrap();
        assert!(ready < t);
        let m = i.memory().expect("a live container has memory");
        assert!(m.pss_kib > 0 && !m.pids.is_empty(), "{m:?}");
        live.push(i);
    }
    let pids: Vec<i32> = live.iter().flat_map(|i| i.pids()).collect();
    if runtime == "runsc" {
        // The workload runs inside the sandbox's kernel: the host sees the
        // sandbox's own processes (sentry, gofer, ptrace stubs), each
        // container's its own.
        let distinct: BTreeSet<i32> = pids.iter().copied().collect();
        assert!(
            pids.len() >= 6 && distinct.len() == pids.len(),
            "several host processes per sandbox, none shared: {pids:?}"
        );
    } else {
        assert_eq!(pids.len(), 3, "one idle process per container: {pids:?}");
    }
    for mut i in live {
        i.stop().unwrap();
        i.stop().unwrap(); // idempotent
        assert!(i.pids().is_empty());
    }
    for p in pids {
        // Gone, or a zombie waiting for its new parent (host init) to reap it.
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
        let state = stat
            .rsplit_once(')')
            .map(|(_, r)| r.trim_start().chars().next());
        assert!(
            stat.is_empty() || state == Some(Some('Z')),
            "{p} outlived stop: {stat}"
        );
    }
    env.cleanup().unwrap();
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    assert!(!mounts.contains(tmp.path().to_str().unwrap()), "{mounts}");
}

#[test]
fn idle_instances_isorun() {
    idle_instances_under("isorun");
}

#[test]
fn idle_instances_runc() {
    idle_instances_under("runc");
}

#[test]
fn idle_instances_crun() {
    idle_instances_under("crun");
}

#[test]
fn idle_instances_runsc() {
    idle_instances_under("runsc");
}
