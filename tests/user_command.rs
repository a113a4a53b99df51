//! The user's own program on every column (`isobench run -- PROG ARGS...`),
//! end to end with the real binaries: a busybox root file system natively
//! (chrooted), under isorun and runc, from an OCI layout and in a TCG guest;
//! a static program without a rootfs; native wall time against Debian's
//! hyperfine; failing commands (invalid repetitions with the reason, in the
//! records and the report) and bad input (one line, exit 2, nothing made).
//! A missing prerequisite is a recorded skip (`isobench_testkit`), and a
//! failure under `CI=true`.

use isobench_reports::schema::ResultRecord;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workload_bin() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/x86_64-unknown-linux-gnu/release/isobench-workload");
    if p.is_file() {
        Some(p)
    } else {
        isobench_testkit::missing(format!(
            "{} missing (scripts/build-workload.sh)",
            p.display()
        ));
        None
    }
}

fn isobench(workload: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_isobench"));
    c.env("ISOBENCH_WORKLOAD_BIN", workload)
        .env("NO_COLOR", "1")
        .args(["run", "--no-history"]);
    c
}

fn busybox() -> Option<PathBuf> {
    let b = PathBuf::from("/bin/busybox");
    if b.is_file() {
        Some(b)
    } else {
        isobench_testkit::missing("/bin/busybox missing (apt-get install busybox-static)");
        None
    }
}

fn isorun_built() -> bool {
    let isorun = Path::new(env!("CARGO_BIN_EXE_isobench"))
        .parent()
        .unwrap()
        .join("isorun");
    if !isorun.is_file() {
        isobench_testkit::missing(format!("{} not built (cargo build)", isorun.display()));
        return false;
    }
    true
}

fn have(prog: &str, package: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
        .unwrap_or(false);
    if !found {
        isobench_testkit::missing(format!("{prog} not found (apt-get install {package})"));
    }
    found
}

/// A root file system of busybox, `/bin/sh` and a marker file the host's
/// root does not have: a command that finds `/isobench-marker` ran inside.
fn busybox_rootfs(dir: &Path, busybox: &Path) -> PathBuf {
    let root = dir.join("rootfs");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy(busybox, root.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", root.join("bin/sh")).unwrap();
    std::fs::write(root.join("isobench-marker"), "inside\n").unwrap();
    root
}

const MARKER: &str = "/isobench-marker";

fn records(out: &Path) -> Vec<ResultRecord> {
    std::fs::read_to_string(out.join("results.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn run(c: &mut Command) -> (Output, String) {
    let o = c.output().unwrap();
    let se = String::from_utf8_lossy(&o.stderr).into_owned();
    (o, se)
}

/// Inside the rootfs in every column: the marker is there, the metric
/// comes from the output, and the records carry the command's label.
#[test]
fn a_rootfs_command_runs_natively_under_isorun_and_under_runc() {
    if !isobench_testkit::require_root("chroot, namespaces, mounts") {
        return;
    }
    let (Some(w), Some(bb)) = (workload_bin(), busybox()) else {
        return;
    };
    if !isorun_built() || !have("runc", "runc") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = busybox_rootfs(t.path(), &bb);
    let out = t.path().join("run");
    let (o, se) = run(isobench(&w)
        .args(["--env", "native,container", "--runtime", "isorun,runc"])
        .args(["--reps", "2", "--warmup", "0", "--out"])
        .arg(&out)
        .arg("--rootfs")
        .arg(&root)
        .args(["--metric", "count:items:higher=count ([0-9]+)"])
        .args(["--", "/bin/sh", "-c"])
        .arg(format!(
            "test -f {MARKER} && echo 'count 41' && echo 'count 42'"
        )));
    assert!(o.status.success(), "{se}");
    let recs = records(&out);
    assert_eq!(recs.len(), 6, "{recs:?}");
    let mut envs: Vec<&str> = recs.iter().map(|r| r.env_id.as_str()).collect();
    envs.sort();
    envs.dedup();
    assert_eq!(envs, ["container-isorun", "container-runc", "native"]);
    for r in &recs {
        assert!(r.valid, "{r:?}");
        assert_eq!(r.workload, "sh", "the program's name labels it");
        assert_eq!(r.metrics["count"], 42.0, "the last match");
        assert_eq!(r.units["count"], "items");
        assert!(r.metrics["wall_s"] > 0.0 && r.metrics["max_rss_mib"] > 0.0);
        assert_eq!(r.units["wall_s"], "s");
        assert!(r.info["rootfs"].contains("directory"), "{:?}", r.info);
    }
    for r in recs.iter().filter(|r| r.env == "container") {
        assert!(
            r.env_detail["image"].contains("the command's files"),
            "{:?}",
            r.env_detail
        );
    }
    let native = recs.iter().find(|r| r.env == "native").unwrap();
    assert!(native.info["root"].contains("chroot"), "{:?}", native.info);
    assert!(
        !Path::new(MARKER).exists(),
        "the marker is only in the rootfs"
    );
}

/// The same rootfs through an engine (podman with runc) and in gVisor's
/// user-space kernel (runsc).
#[test]
fn a_rootfs_command_runs_under_podman_and_runsc() {
    if !isobench_testkit::require_root("namespaces, mounts, podman") {
        return;
    }
    let (Some(w), Some(bb)) = (workload_bin(), busybox()) else {
        return;
    };
    if !isorun_built() || !have("podman", "podman") || !have("runsc", "runsc") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = busybox_rootfs(t.path(), &bb);
    let out = t.path().join("run");
    let (o, se) = run(isobench(&w)
        .args(["--env", "container", "--runtime", "podman:runc,runsc"])
        .args(["--reps", "1", "--warmup", "0", "--out"])
        .arg(&out)
        .arg("--rootfs")
        .arg(&root)
        .args(["--", "/bin/sh", "-c"])
        .arg(format!("test -f {MARKER}")));
    assert!(o.status.success(), "{se}");
    let recs = records(&out);
    let mut envs: Vec<&str> = recs.iter().map(|r| r.env_id.as_str()).collect();
    envs.sort();
    assert_eq!(envs, ["container-podman-runc", "container-runsc"]);
    for r in &recs {
        assert!(r.valid, "{r:?}");
    }
}

/// Without a rootfs the program travels alone, at its own path; `--name`
/// labels it.
#[test]
fn a_static_program_runs_alone_in_a_container() {
    if !isobench_testkit::require_root("namespaces, mounts") {
        return;
    }
    let (Some(w), Some(_)) = (workload_bin(), busybox()) else {
        return;
    };
    if !isorun_built() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("run");
    let (o, se) = run(isobench(&w)
        .args(["--env", "native,container", "--reps", "1", "--warmup", "0"])
        .arg("--out")
        .arg(&out)
        .args(["--name", "bb-echo", "--"])
        .args(["busybox", "sh", "-c", "echo hello, world"]));
    assert!(o.status.success(), "{se}");
    let recs = records(&out);
    assert_eq!(recs.len(), 2, "{recs:?}");
    // As a shell finds it: the first busybox on the host's PATH.
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join("busybox"))
        .find(|p| p.is_file())
        .unwrap();
    for r in &recs {
        assert!(r.valid, "{r:?}");
        assert_eq!(r.workload, "bb-echo");
        assert_eq!(
            r.params["argv"],
            serde_json::json!([found, "sh", "-c", "echo hello, world"]),
            "found on the host's PATH"
        );
    }
}

/// An OCI layout made by umoci from the same rootfs, unpacked by isobench.
#[test]
fn an_oci_layout_is_unpacked_and_run() {
    if !isobench_testkit::require_root("namespaces, mounts") {
        return;
    }
    let (Some(w), Some(bb)) = (workload_bin(), busybox()) else {
        return;
    };
    if !isorun_built() || !have("umoci", "umoci") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = busybox_rootfs(t.path(), &bb);
    let layout = t.path().join("layout");
    let umoci = |args: &[&str]| {
        let o = Command::new("umoci").args(args).output().unwrap();
        assert!(o.status.success(), "umoci {args:?}: {o:?}");
    };
    let l = layout.to_str().unwrap();
    umoci(&["init", "--layout", l]);
    umoci(&["new", "--image", &format!("{l}:v1")]);
    umoci(&[
        "insert",
        "--image",
        &format!("{l}:v1"),
        root.to_str().unwrap(),
        "/",
    ]);
    let out = t.path().join("run");
    let (o, se) = run(isobench(&w)
        .args(["--env", "native,container", "--reps", "1", "--warmup", "0"])
        .arg("--out")
        .arg(&out)
        .arg("--rootfs")
        .arg(format!("{l}:v1"))
        .args(["--", "/bin/sh", "-c"])
        .arg(format!("test -f {MARKER}")));
    assert!(o.status.success(), "{se}");
    let recs = records(&out);
    assert_eq!(recs.len(), 2, "{recs:?}");
    for r in &recs {
        assert!(r.valid, "{r:?}");
        assert!(r.info["rootfs"].contains("OCI layout"), "{:?}", r.info);
    }
}

/// The rootfs goes into the guest's initramfs; the command's arguments
/// (with spaces, commas and quotes) survive the kernel command line.
#[test]
fn a_rootfs_command_runs_in_a_tcg_guest() {
    let (Some(w), Some(bb)) = (workload_bin(), busybox()) else {
        return;
    };
    if !have("qemu-system-x86_64", "qemu-system-x86") {
        return;
    }
    if let Err(e) = isobench::env::vm::kernel::KernelSearch::from_host(None).find() {
        isobench_testkit::missing(format!("no guest kernel: {e}"));
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = busybox_rootfs(t.path(), &bb);
    let out = t.path().join("run");
    let (o, se) = run(isobench(&w)
        .args(["--env", "vm", "--accel", "tcg", "--threads", "1"])
        .args(["--reps", "1", "--warmup", "0", "--out"])
        .arg(&out)
        .arg("--rootfs")
        .arg(&root)
        .args(["--metric", "count:items:higher=count ([0-9]+)"])
        .args(["--", "/bin/sh", "-c"])
        .arg(format!("test -f {MARKER} && echo \"count 7, ok\"")));
    assert!(o.status.success(), "{se}");
    let recs = records(&out);
    assert_eq!(recs.len(), 1, "{recs:?}");
    let r = &recs[0];
    assert!(r.valid, "{r:?}");
    assert_eq!(r.env, "vm");
    assert_eq!(r.metrics["count"], 7.0);
    assert!(r.metrics["wall_s"] > 0.0);
}

/// Not found, exit 3 and a timeout: each repetition invalid, the reason in
/// the record and in the report; the run exits 1.
#[test]
fn failing_commands_are_invalid_with_the_reason_in_the_report() {
    let (Some(w), Some(_)) = (workload_bin(), busybox()) else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &[&str], &str); 3] = [
        (&[], &["/no/such/isobench-program"], "command not found"),
        (
            &[],
            &["/bin/busybox", "sh", "-c", "echo broken input >&2; exit 3"],
            "exited with status 3; stderr: broken input",
        ),
        (
            &["--timeout", "60", "--command-timeout", "1"],
            &["/bin/busybox", "sleep", "30"],
            "timed out",
        ),
    ];
    for (i, (flags, argv, why)) in cases.iter().enumerate() {
        let out = t.path().join(format!("run{i}"));
        let (o, se) = run(isobench(&w)
            .args(["--env", "native", "--reps", "2", "--warmup", "0", "--out"])
            .arg(&out)
            .args(*flags)
            .arg("--")
            .args(*argv));
        assert_eq!(o.status.code(), Some(1), "{argv:?}: {se}");
        let recs = records(&out);
        assert_eq!(recs.len(), 2, "{recs:?}");
        for r in &recs {
            assert!(!r.valid, "{r:?}");
            let e = r.error.as_deref().unwrap_or("");
            assert!(e.contains(why), "{argv:?}: {e}");
        }
        let report = t.path().join(format!("report{i}"));
        let o = Command::new(env!("CARGO_BIN_EXE_isobench"))
            .arg("report")
            .arg(&out)
            .arg("--out")
            .arg(&report)
            .output()
            .unwrap();
        assert!(o.status.success(), "{o:?}");
        let html = std::fs::read_to_string(report.join("index.html")).unwrap();
        assert!(html.contains(why), "{why} not in the report");
        let md = std::fs::read_to_string(report.join("summary.md")).unwrap();
        assert!(md.contains(why), "{why} not in summary.md");
    }
}

/// Bad input: one line naming the problem, exit 2, no run directory.
#[test]
fn bad_input_is_refused_with_one_line() {
    let Some(w) = workload_bin() else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("run");
    let cases: [(&[&str], &str); 6] = [
        (
            &["--rootfs", "/no/such/isobench-rootfs", "--", "/bin/sh"],
            "--rootfs /no/such/isobench-rootfs",
        ),
        (&["--", ""], "empty"),
        (
            &["--rootfs", "/"],
            "--rootfs does nothing without a command after --",
        ),
        (&["--metric", "x=1", "--", "/bin/sh"], "NAME:UNIT"),
        (
            &["--workload", "cpu", "--", "/bin/sh"],
            "do not go together",
        ),
        (&["--name", "cpu", "--", "/bin/sh"], "built-in workload"),
    ];
    for (args, why) in cases {
        let o = isobench(&w)
            .arg("--out")
            .arg(&out)
            .args(args)
            .output()
            .unwrap();
        let se = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {se}");
        let lines: Vec<&str> = se.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: one line: {se}");
        assert!(
            lines[0].starts_with("isobench: error:") && lines[0].contains(why),
            "{args:?}: {se}"
        );
        assert!(!out.exists(), "{args:?} made {}", out.display());
    }
}

/// Native wall time of the same command agrees with Debian's hyperfine
/// (`-N`: no shell, as isobench spawns it): both samples interleaved in six
/// rounds of three, and their 95% intervals (Student t on logs, the reports'
/// statistic) overlap, or the ratio of the geometric means lies within the
/// combined half-widths of the two intervals. No fixed threshold.
#[test]
fn native_wall_time_agrees_with_hyperfine() {
    let (Some(w), Some(_)) = (workload_bin(), busybox()) else {
        return;
    };
    if !have("hyperfine", "hyperfine") {
        return;
    }
    // A busybox shell loop of some tens of ms, no output.
    let script = "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done";
    let t = tempfile::tempdir().unwrap();
    let (mut iso, mut hf) = (Vec::new(), Vec::new());
    // Short alternating rounds, so that both samples see the same drift of
    // a shared host.
    for round in 0..6 {
        let json = t.path().join(format!("hf{round}.json"));
        let o = Command::new("hyperfine")
            .args(["-N", "--warmup", "1", "--runs", "3", "--style", "none"])
            .arg("--export-json")
            .arg(&json)
            .arg(format!("/bin/busybox sh -c '{script}'"))
            .output()
            .unwrap();
        assert!(o.status.success(), "hyperfine: {o:?}");
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        hf.extend(
            v["results"][0]["times"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap()),
        );
        let out = t.path().join(format!("run{round}"));
        let (o, se) = run(isobench(&w)
            .args(["--env", "native", "--reps", "3", "--warmup", "1", "--out"])
            .arg(&out)
            .args(["--", "/bin/busybox", "sh", "-c", script]));
        assert!(o.status.success(), "{se}");
        iso.extend(records(&out).iter().map(|r| {
            assert!(r.valid, "{r:?}");
            r.metrics["wall_s"]
        }));
    }
    use isobench_reports::stats::log_t_interval;
    let (gi, ci) = log_t_interval(&iso).unwrap();
    let (gh, ch) = log_t_interval(&hf).unwrap();
    let overlap = ci.lo <= ch.hi && ch.lo <= ci.hi;
    let half = |g: f64, hi: f64| (hi / g).ln();
    let tol = (half(gi, ci.hi).powi(2) + half(gh, ch.hi).powi(2)).sqrt();
    let log_ratio = (gi / gh).ln();
    eprintln!(
        "isobench {gi:.5} s [{:.5}, {:.5}] (n={}), hyperfine {gh:.5} s [{:.5}, {:.5}] (n={}), ratio {:.3}, tolerance ±{:.3} (log)",
        ci.lo,
        ci.hi,
        iso.len(),
        ch.lo,
        ch.hi,
        hf.len(),
        gi / gh,
        tol
    );
    assert!(
        overlap || log_ratio.abs() <= tol,
        "isobench {gi} s [{}, {}] and hyperfine {gh} s [{}, {}] disagree: ratio {} beyond ±{tol} (log)",
        ci.lo,
        ci.hi,
        ch.lo,
        ch.hi,
        gi / gh
    );
}
