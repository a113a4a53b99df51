//! End-to-end tests of `isobench run` and `isobench list` with the real
//! binaries: a quick native run, bad input, and resuming a run killed with
//! SIGKILL. They need the static workload binary (scripts/build-workload.sh,
//! which scripts/test.sh runs first).

use isobench_reports::schema::{ResultRecord, RunInfo};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn isobench() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_isobench"));
    c.env("ISOBENCH_WORKLOAD_BIN", workload_bin())
        .env("NO_COLOR", "1");
    c
}

fn workload_bin() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let p = root.join("target/x86_64-unknown-linux-gnu/release/isobench-workload");
    assert!(
        p.is_file(),
        "{} is missing: build it with scripts/build-workload.sh (scripts/test.sh does)",
        p.display()
    );
    p
}

fn records(dir: &Path) -> Vec<ResultRecord> {
    std::fs::read_to_string(dir.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn quick_native_run_writes_valid_results_and_run_json() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("run");
    let o = isobench()
        .args([
            "run",
            "--env",
            "native",
            "--workload",
            "cpu,membw,randacc,latency,startup",
        ])
        .args([
            "--preset",
            "quick",
            "--reps",
            "1",
            "--warmup",
            "0",
            "--no-history",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "isobench run failed: {stderr}");
    // It ends with the results table and the next command, on stdout.
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        stdout.lines().next(),
        Some(out.to_str().unwrap()),
        "{stdout}"
    );
    for needle in [
        "cpu primes_per_s",
        "membw triad_mbs",
        "MB/s",
        "startup first_instruction_ms",
        &format!("next: isobench report {}", out.display()),
    ] {
        assert!(stdout.contains(needle), "no '{needle}' in:\n{stdout}");
    }
    let recs = records(&out);
    assert_eq!(recs.len(), 5, "{recs:?}");
    for r in &recs {
        assert!(r.valid, "invalid: {r:?}");
        assert_eq!(r.env, "native");
        assert_eq!(r.rep, 0);
        assert!(!r.metrics.is_empty());
        for k in r.metrics.keys() {
            assert!(r.units.contains_key(k), "metric {k} has no unit");
        }
    }
    let by = |w: &str| recs.iter().find(|r| r.workload == w).unwrap();
    for m in ["copy_mbs", "scale_mbs", "add_mbs", "triad_mbs"] {
        assert!(by("membw").metrics[m] > 100.0, "{m}");
    }
    assert!(by("randacc").metrics["gups"] > 0.0);
    assert!(by("cpu").metrics["primes_per_s"] > 0.0);
    assert!(by("cpu").metrics["gflops"] > 0.0);
    assert!(by("latency").metrics.contains_key("ns_per_load_16KiB"));
    let s = by("startup");
    assert!(s.metrics["first_instruction_ms"] <= s.metrics["lifecycle_ms"]);
    // One footprint measure in every environment, taken while the workload
    // holds at READY; the hold is not in lifecycle_ms.
    let (pss, uss) = (
        s.metrics["footprint_pss_mib"],
        s.metrics["footprint_uss_mib"],
    );
    assert!(pss > 0.0 && uss <= pss, "pss {pss} uss {uss}");
    assert_eq!(s.units["footprint_pss_mib"], "MiB");
    assert_eq!(s.info["footprint_pids"], "1");
    assert!(s.info["footprint_method"].contains("smaps_rollup"));
    assert!(!s.metrics.contains_key("footprint_mib"));
    let held: f64 = s.info["held_ms"].parse().unwrap();
    assert!(held >= 250.0, "held {held}");
    let info: RunInfo =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert!(info.finished_at.is_some());
    assert!(info.host.cores_logical >= 1);
    assert!(info.host.memory_bytes > 0);
    assert!(!info.host.caches.is_empty());
    assert_eq!(info.environments.len(), 1);
    assert_eq!(info.config["reps"], 1);
    assert!(!out.join(".scratch").exists(), "scratch dir left behind");
}

fn exit_2_with_one_line(args: &[&str], needle: &str) {
    let o = isobench().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(
        stderr.trim().lines().count(),
        1,
        "one line expected: {stderr}"
    );
    assert!(stderr.contains(needle), "{args:?}: {stderr}");
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("never");
    let o = out.to_str().unwrap();
    exit_2_with_one_line(
        &["run", "--workload", "gpu", "--out", o],
        "invalid value 'gpu' for '--workload",
    );
    exit_2_with_one_line(
        &["run", "--env", "container", "--runtime", "runcc", "--out", o],
        "unknown runtime 'runcc' (known: isorun, runc, crun, runsc, or a path such as ./runcc); did you mean 'runc'?",
    );
    exit_2_with_one_line(
        &[
            "run",
            "--env",
            "container",
            "--runtime",
            "podman:runsc",
            "--out",
            o,
        ],
        "not yet supported",
    );
    exit_2_with_one_line(
        &[
            "run",
            "--env",
            "container",
            "--runtime",
            "docker:crun",
            "--out",
            o,
        ],
        "docker drives runc or isorun only",
    );
    // Flags that would do nothing are refused.
    for (args, needle) in [
        (
            &["--experiment", "density", "--workload", "cpu"][..],
            "--workload does nothing with --experiment density",
        ),
        (
            &["--accel", "tcg"][..],
            "--accel does nothing without --env vm",
        ),
        (
            &["--runtime", "runc"][..],
            "--runtime does nothing without --env container",
        ),
        (
            &["--vm-cpu", "max"][..],
            "--vm-cpu does nothing without --env vm",
        ),
        (
            &["--instances", "3"][..],
            "--instances does nothing without --experiment",
        ),
        (
            &["--experiment", "neighbours", "--mem-floor", "0"][..],
            "--mem-floor does nothing with --experiment neighbours",
        ),
        (
            &["--experiment", "permissions", "--env", "vm"][..],
            "--env does nothing with --experiment permissions",
        ),
    ] {
        let mut v = vec!["run"];
        v.extend_from_slice(args);
        v.extend(["--out", o]);
        exit_2_with_one_line(&v, needle);
    }
    exit_2_with_one_line(
        &["run", "--resume", o, "--reps", "2"],
        "--reps does nothing with --resume",
    );
    // A VM CPU model QEMU does not list (checked against `-cpu help`).
    let qemu_here = std::process::Command::new("qemu-system-x86_64")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    exit_2_with_one_line(
        &["run", "--env", "vm", "--vm-cpu", "qemu65", "--out", o],
        if qemu_here {
            "unknown VM CPU model 'qemu65' (qemu-system-x86_64 lists"
        } else {
            "--vm-cpu qemu65: cannot list QEMU's CPU models"
        },
    );
    if qemu_here {
        exit_2_with_one_line(
            &["run", "--env", "vm", "--vm-cpu", "qemu65", "--out", o],
            "did you mean 'qemu64'?",
        );
        exit_2_with_one_line(
            &[
                "run", "--env", "vm", "--accel", "tcg", "--vm-cpu", "host", "--out", o,
            ],
            "--vm-cpu host needs KVM",
        );
    }
    exit_2_with_one_line(&["run", "--threads", "0", "--out", o], "--threads");
    exit_2_with_one_line(&["run", "--reps", "0", "--out", o], "--reps");
    exit_2_with_one_line(
        &["run", "--env", "jail", "--out", o],
        "invalid value 'jail' for '--env",
    );
    assert!(
        !out.exists(),
        "a rejected run left {} behind",
        out.display()
    );
    // An --out that cannot be created: below a regular file.
    let file = t.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let under = file.join("run");
    exit_2_with_one_line(
        &["run", "--out", under.to_str().unwrap()],
        "cannot create output directory",
    );
    // A run directory that already holds a run.
    let done = t.path().join("done");
    std::fs::create_dir(&done).unwrap();
    std::fs::write(done.join("results.jsonl"), "").unwrap();
    exit_2_with_one_line(&["run", "--out", done.to_str().unwrap()], "--resume");
    // Resuming something that is no run.
    exit_2_with_one_line(
        &["run", "--resume", t.path().to_str().unwrap()],
        "cannot resume",
    );
}

/// `run --dry-run` prints the plan and an estimate of its time, exits 0,
/// and creates nothing: no run directory, no default `runs/`.
#[test]
fn a_dry_run_prints_the_plan_and_an_estimate_and_creates_nothing() {
    let t = tempfile::tempdir().unwrap();
    let dry = |extra: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_isobench"))
            // Any file will do: a dry run runs no workload.
            .env("ISOBENCH_WORKLOAD_BIN", env!("CARGO_BIN_EXE_isobench"))
            .env("NO_COLOR", "1")
            .current_dir(t.path())
            .args(["run", "--dry-run", "--env", "native,container"])
            .args(extra)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            o.status.success(),
            "{extra:?}: {stdout}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        stdout
    };
    let s = dry(&["--workload", "cpu,membw"]);
    for needle in [
        "columns:\n  native\n  container isorun\n",
        "cpu --threads",
        "membw --threads",
        "3 measured repetitions",
        "estimated time: about ",
        "(an estimate, not a measurement)",
        "it assumes:",
        "4 pairs × (3 measured + 1 warm-up) repetitions",
    ] {
        assert!(s.contains(needle), "no '{needle}' in:\n{s}");
    }
    let more = dry(&["--workload", "cpu,membw", "--reps", "7"]);
    assert!(
        more.contains("4 pairs × (7 measured + 1 warm-up)"),
        "{more}"
    );
    // The main job lists its experiments and their phases.
    let all = dry(&["--experiment", "all", "--workload", "cpu,membw"]);
    for needle in [
        "density: up to",
        "neighbours in native",
        "victim: cpu",
        "permissions",
    ] {
        assert!(all.contains(needle), "no '{needle}' in:\n{all}");
    }
    assert_eq!(
        std::fs::read_dir(t.path()).unwrap().count(),
        0,
        "a dry run created something"
    );
    // Bad input is still refused before anything (exit 2).
    let o = Command::new(env!("CARGO_BIN_EXE_isobench"))
        .env("ISOBENCH_WORKLOAD_BIN", env!("CARGO_BIN_EXE_isobench"))
        .current_dir(t.path())
        .args(["run", "--dry-run", "--reps", "0"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn the_workload_binary_rejects_bad_sizes() {
    for args in [
        &["membw", "--size", "0"][..],
        &["membw", "--threads", "0"][..],
        &["randacc", "--log2-table", "0"][..],
        &["cpu", "--isa", "avx3"][..],
        &["nosuch"][..],
    ] {
        let o = Command::new(workload_bin()).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
    }
}

/// `isobench run` of native `workloads` in the background, stderr piped.
fn spawn_native_run(bin: &Path, workloads: &str, reps: u32, out: &Path) -> std::process::Child {
    isobench()
        .env("ISOBENCH_WORKLOAD_BIN", bin)
        .args(["run", "--env", "native", "--workload", workloads])
        .args(["--reps", &reps.to_string(), "--warmup", "0", "--no-history"])
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn lines_in(p: &Path) -> usize {
    std::fs::read_to_string(p)
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

#[test]
fn a_run_killed_with_sigkill_resumes_and_keeps_every_line() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("run");
    let mut child = spawn_native_run(&workload_bin(), "startup,cpu", 12, &out);
    let results = out.join("results.jsonl");
    let t0 = Instant::now();
    loop {
        if lines_in(&results) >= 4 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "no progress");
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = std::fs::read_to_string(&results).unwrap();
    let whole: Vec<&str> = before
        .lines()
        .filter(|l| serde_json::from_str::<ResultRecord>(l).is_ok())
        .collect();
    assert!(whole.len() >= 4 && whole.len() < 24);

    let o = isobench()
        .args(["run", "--no-history", "--resume"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let after = std::fs::read_to_string(&results).unwrap();
    for l in &whole {
        assert!(
            after.contains(l),
            "a line measured before the kill was lost"
        );
    }
    let recs = records(&out);
    assert_eq!(recs.len(), 24);
    let mut keys: Vec<(String, u32)> = recs.iter().map(|r| (r.workload.clone(), r.rep)).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 24, "a run was measured twice");
    assert!(recs.iter().all(|r| r.valid));
}

#[test]
fn list_names_every_workload_and_environment() {
    let o = isobench().args(["list", "--json"]).output().unwrap();
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    for n in [
        "cpu", "membw", "randacc", "latency", "startup", "native", "vm",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
}

/// Processes whose executable is `exe`.
fn processes_running(exe: &Path) -> Vec<u32> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if std::fs::read_link(e.path().join("exe")).is_ok_and(|p| p == exe) {
            v.push(pid);
        }
    }
    v
}

#[test]
fn ctrl_c_kills_the_workload_keeps_results_and_exits_130() {
    let t = tempfile::tempdir().unwrap();
    // A private copy of the workload binary, so that its processes can be
    // told apart from those of tests running in parallel.
    let bin = t.path().join("isobench-workload");
    std::fs::copy(workload_bin(), &bin).unwrap();
    let out = t.path().join("run");
    let mut child = spawn_native_run(&bin, "startup,latency", 50, &out);
    let results = out.join("results.jsonl");
    let t0 = Instant::now();
    // Wait until something is measured and a latency run is under way.
    loop {
        if lines_in(&results) >= 2 && !processes_running(&bin).is_empty() {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("--resume"), "{err}");
    assert!(
        processes_running(&bin).is_empty(),
        "a workload process outlived Ctrl-C"
    );
    let recs = records(&out);
    assert!(recs.len() >= 2 && recs.len() < 100);
    assert!(out.join("run.json").is_file());
}

/// The main job writes one run directory with one run id holding the
/// suite, density, neighbours and (as root) permission records; resuming
/// the finished run measures nothing again.
#[test]
fn experiment_all_measures_every_part_into_one_run() {
    use std::os::unix::fs::MetadataExt;
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("run");
    let o = isobench()
        .args(["run", "--experiment", "all", "--env", "native"])
        .args(["--workload", "cpu", "--preset", "quick", "--reps", "1"])
        .args(["--warmup", "0", "--instances", "2", "--no-history", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "isobench run failed: {stderr}");
    // The main job ends with its results table, the claims it decided and
    // the next command, on stdout.
    let stdout = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "cpu primes_per_s",
        "claims (decided from this run",
        &format!("next: isobench report {}", out.display()),
    ] {
        assert!(stdout.contains(needle), "no '{needle}' in:\n{stdout}");
    }
    let recs = records(&out);
    let ids: std::collections::BTreeSet<&str> = recs.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(ids.len(), 1, "one run id: {ids:?}");
    let count = |w: &str| recs.iter().filter(|r| r.workload == w).count();
    assert_eq!(count("cpu"), 1);
    // Two launches, then a MemAvailable reading after each of two stops.
    assert_eq!(count("density"), 4);
    let stops = recs
        .iter()
        .filter(|r| r.workload == "density")
        .filter(|r| r.params.get("phase").and_then(|v| v.as_str()) == Some("stop"))
        .count();
    assert_eq!(stops, 2);
    assert!(count("neighbour") >= 2, "{stderr}");
    let info: RunInfo =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(info.config["experiment"], "all");
    assert_eq!(info.config["density_instances"], 2);
    assert!(info.config["neighbours"].is_object());
    assert!(info.finished_at.is_some());
    let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    let skipped = info
        .warnings
        .iter()
        .any(|w| w.contains("permissions (claim C6): not measured"));
    assert_eq!(skipped, !root, "{:?}", info.warnings);
    assert_eq!(count("permissions") > 0, root, "{stderr}");
    assert!(!out.join(".scratch").exists(), "scratch dir left behind");
    let o = isobench()
        .arg("run")
        .arg("--resume")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "resume failed: {stderr}");
    assert_eq!(
        records(&out).len(),
        recs.len(),
        "resumed run measured again: {stderr}"
    );
}
