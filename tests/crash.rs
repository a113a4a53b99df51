//! Crash safety end to end, as root: `isobench run` killed with SIGKILL
//! while a runc container (or a QEMU guest) is up leaves no mount in the
//! host's table (its mounts live in a private mount namespace), and
//! `isobench clean` then removes every cgroup, container, QEMU process,
//! scratch directory and run record of it. A native run killed the same
//! way resumes with every (env, workload, rep) measured exactly once.
//! A missing prerequisite is a recorded skip (`isobench_testkit`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One crash at a time: each test's `isobench clean` sweeps the host.
static SERIAL: Mutex<()> = Mutex::new(());

const REGISTRY: &str = "/run/isobench/runs";

fn workload_bin() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/x86_64-unknown-linux-gnu/release/isobench-workload")
}

fn isobench() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_isobench"));
    c.env("ISOBENCH_WORKLOAD_BIN", workload_bin())
        .env("NO_COLOR", "1");
    c
}

fn have_workload() -> bool {
    if workload_bin().is_file() {
        return true;
    }
    isobench_testkit::missing(format!(
        "{} missing (scripts/build-workload.sh)",
        workload_bin().display()
    ));
    false
}

fn start_run(out: &Path, args: &[&str]) -> Child {
    isobench()
        .arg("run")
        .args(args)
        .args(["--no-history", "--out"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(out.with_extension("stderr")).unwrap())
        .spawn()
        .unwrap()
}

/// Poll `cond` until it holds, or panic after `limit` naming `what`.
fn wait_for(what: &str, limit: Duration, child: &mut Child, log: &Path, cond: impl Fn() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        if let Ok(Some(st)) = child.try_wait() {
            panic!(
                "isobench ended ({st}) before {what}:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(t0.elapsed() < limit, "no {what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Paths under the cgroup root (two levels below each hierarchy) whose name
/// starts with `prefix`.
fn cgroups_named(prefix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![(PathBuf::from("/sys/fs/cgroup"), 0)];
    while let Some((d, depth)) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            if !e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                continue;
            }
            let p = e.path();
            if e.file_name().to_string_lossy().starts_with(prefix) {
                out.push(p.clone());
            }
            if depth < 3 {
                stack.push((p, depth + 1));
            }
        }
    }
    out
}

fn host_mounts_under(dir: &Path) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(dir.to_str().unwrap()))
        .map(str::to_string)
        .collect()
}

/// Live processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<(i32, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(c) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let c = String::from_utf8_lossy(&c).replace('\0', " ");
        if c.contains(needle) && pid != std::process::id() as i32 {
            out.push((pid, c));
        }
    }
    out
}

fn clean(dry_run: bool) -> Output {
    let mut c = isobench();
    c.arg("clean");
    if dry_run {
        c.arg("--dry-run");
    }
    c.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Kill -9 `child` and check what must hold right after: no mount of the
/// run in the host's table, its record still there.
fn kill9(child: &mut Child, run: &Path) -> i32 {
    let pid = child.id() as i32;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        host_mounts_under(run).is_empty(),
        "mounts of the killed run reached the host: {:?}",
        host_mounts_under(run)
    );
    assert!(
        Path::new(REGISTRY).join(format!("{pid}.json")).is_file(),
        "the killed run's record is missing"
    );
    pid
}

/// `isobench clean` after a crash: the dry run names the run, the sweep
/// exits 0, and nothing of the run is left.
fn clean_and_check(pid: i32, run: &Path) {
    let dry = clean(true);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry));
    assert!(
        text(&dry).contains(&format!("{pid}.json")),
        "the dry run does not name the record:\n{}",
        text(&dry)
    );
    assert!(
        run.join(".scratch").exists(),
        "the dry run removed something"
    );
    let o = clean(false);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let prefix = format!("isobench-{pid}-");
    assert_eq!(cgroups_named(&prefix), Vec::<PathBuf>::new());
    for root in ["/run/runc", "/run/crun", "/run/runsc", "/run/isorun"] {
        let left: Vec<_> = std::fs::read_dir(root)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .collect();
        assert!(left.is_empty(), "containers left in {root}: {left:?}");
    }
    assert!(host_mounts_under(run).is_empty());
    assert_eq!(
        processes_mentioning(run.to_str().unwrap()),
        vec![],
        "processes of the run survive"
    );
    assert!(!run.join(".scratch").exists(), "scratch directory left");
    assert!(!Path::new(REGISTRY).join(format!("{pid}.json")).exists());
    // A second sweep finds nothing of it.
    let again = clean(true);
    assert!(!text(&again).contains(&prefix), "{}", text(&again));
}

#[test]
fn kill_9_with_a_runc_container_up_leaves_nothing_after_clean() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !isobench_testkit::require_root("containers, cgroups, mounts") || !have_workload() {
        return;
    }
    if Command::new("runc").arg("--version").output().is_err() {
        isobench_testkit::missing("runc not installed (apt-get install runc)");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let run = t.path().join("run");
    let mut child = start_run(
        &run,
        &[
            "--env",
            "container",
            "--runtime",
            "runc",
            "--workload",
            "startup",
            "--reps",
            "50",
        ],
    );
    let prefix = format!("isobench-{}-", child.id());
    let log = run.with_extension("stderr");
    wait_for(
        "container cgroup",
        Duration::from_secs(60),
        &mut child,
        &log,
        || !cgroups_named(&prefix).is_empty(),
    );
    let pid = kill9(&mut child, &run);
    clean_and_check(pid, &run);
}

/// gVisor leaves more behind than a runc container: a sandbox and a gofer
/// per container (reparented to init) and `.state` files in its state root.
/// Idle instances of the density experiment are up for long; the crash
/// comes once two of them are.
#[test]
fn kill_9_with_runsc_sandboxes_up_leaves_nothing_after_clean() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !isobench_testkit::require_root("containers, cgroups, mounts") || !have_workload() {
        return;
    }
    if Command::new("runsc").arg("--version").output().is_err() {
        isobench_testkit::missing("runsc not installed (apt-get install runsc)");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let run = t.path().join("run");
    let mut child = start_run(
        &run,
        &[
            "--experiment",
            "density",
            "--env",
            "container",
            "--runtime",
            "runsc",
            "--preset",
            "quick",
        ],
    );
    let prefix = format!("isobench-{}-", child.id());
    let log = run.with_extension("stderr");
    let state = run.join(".scratch/container-runsc/state");
    wait_for(
        "two runsc sandboxes",
        Duration::from_secs(120),
        &mut child,
        &log,
        || {
            std::fs::read_dir(&state)
                .map(|rd| {
                    rd.flatten()
                        .filter(|e| e.file_name().to_string_lossy().ends_with(".state"))
                        .count()
                        >= 2
                })
                .unwrap_or(false)
        },
    );
    let pid = kill9(&mut child, &run);
    assert!(
        !processes_mentioning(run.to_str().unwrap()).is_empty(),
        "the sandboxes outlive the killed run (else this test shows nothing)"
    );
    // The sweep reads runsc's `<id>_sandbox:<id>.state` files as containers
    // and deletes them with runsc, not only by removing the directory.
    let dry = text(&clean(true));
    assert!(
        dry.contains(&format!("delete container {prefix}1 (runsc --root")),
        "{dry}"
    );
    clean_and_check(pid, &run);
}

#[test]
fn kill_9_with_a_qemu_guest_up_leaves_nothing_after_clean() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !isobench_testkit::require_root("the sweep removes a root run's leftovers")
        || !have_workload()
    {
        return;
    }
    if Command::new("qemu-system-x86_64")
        .arg("--version")
        .output()
        .is_err()
    {
        isobench_testkit::missing(
            "qemu-system-x86_64 not installed (apt-get install qemu-system-x86)",
        );
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let run = t.path().join("run");
    let mut child = start_run(
        &run,
        &[
            "--env",
            "vm",
            "--accel",
            "tcg",
            "--workload",
            "startup",
            "--reps",
            "20",
        ],
    );
    let log = run.with_extension("stderr");
    let initrd = run.join(".scratch/vm-initramfs.cpio");
    let needle = initrd.to_str().unwrap().to_string();
    wait_for("QEMU", Duration::from_secs(120), &mut child, &log, || {
        processes_mentioning(&needle)
            .iter()
            .any(|(_, c)| c.contains("qemu-system"))
    });
    if std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("no guest kernel")
    {
        isobench_testkit::missing("no guest kernel (scripts/fetch-kernel.sh)");
        return;
    }
    let pid = kill9(&mut child, &run);
    // The guest outlives its orchestrator until the sweep.
    clean_and_check(pid, &run);
}

#[test]
fn a_native_run_killed_mid_way_resumes_with_every_rep_once() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !have_workload() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let run = t.path().join("run");
    let reps = 8;
    let reps_s = reps.to_string();
    let mut child = start_run(
        &run,
        &[
            "--env",
            "native",
            "--workload",
            "startup,randacc",
            "--reps",
            &reps_s,
            "--warmup",
            "0",
        ],
    );
    let log = run.with_extension("stderr");
    let lines = || {
        std::fs::read_to_string(run.join("results.jsonl"))
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    wait_for(
        "a result",
        Duration::from_secs(60),
        &mut child,
        &log,
        || lines() >= 3,
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = lines();
    assert!(before < 2 * reps, "finished before the kill");
    let o = isobench()
        .args(["run", "--no-history", "--resume"])
        .arg(&run)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let mut seen: BTreeMap<(String, String, u64), usize> = BTreeMap::new();
    for l in std::fs::read_to_string(run.join("results.jsonl"))
        .unwrap()
        .lines()
    {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let key = (
            v["env"].as_str().unwrap().to_string(),
            v["workload"].as_str().unwrap().to_string(),
            v["rep"].as_u64().unwrap(),
        );
        *seen.entry(key).or_default() += 1;
    }
    assert_eq!(seen.len(), 2 * reps, "{seen:?}");
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
    assert!(
        !run.join(".scratch").exists(),
        "scratch left after the resumed run"
    );
}

fn results(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("results.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn resume(run: &Path) -> Output {
    isobench()
        .args(["run", "--no-history", "--resume"])
        .arg(run)
        .output()
        .unwrap()
}

/// Native workload processes of this test's binary whose command line
/// holds `what` (a neighbour's antagonist, an idle density instance).
fn workloads_running(what: &str) -> Vec<(i32, String)> {
    let bin = workload_bin();
    processes_mentioning(bin.to_str().unwrap())
        .into_iter()
        .filter(|(_, c)| c.contains(what))
        .collect()
}

#[test]
fn a_neighbour_run_killed_mid_way_leaves_no_child_and_resumes_every_trial_once() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !isobench_testkit::require_root("the native antagonist's pids cgroup") || !have_workload() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let run = t.path().join("run");
    let mut child = start_run(
        &run,
        &[
            "--experiment",
            "neighbours",
            "--env",
            "native",
            "--workload",
            "cpu",
            "--preset",
            "quick",
            "--reps",
            "2",
        ],
    );
    let log = run.with_extension("stderr");
    wait_for(
        "a trial beside an antagonist",
        Duration::from_secs(60),
        &mut child,
        &log,
        || results(&run).len() >= 2 && !workloads_running("antagonist").is_empty(),
    );
    let pid = child.id();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // PR_SET_PDEATHSIG: the workloads die with isobench.
    let t0 = Instant::now();
    while !workloads_running(" cpu ").is_empty() || !workloads_running("antagonist").is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "native workloads outlived isobench: {:?}",
            processes_mentioning(workload_bin().to_str().unwrap())
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let before = results(&run).len();
    assert!(before < 8 + 2, "finished before the kill");
    let o = resume(&run);
    assert!(matches!(o.status.code(), Some(0) | Some(1)), "{}", text(&o));
    assert!(text(&o).contains("already measured, kept"), "{}", text(&o));
    let mut seen: BTreeMap<(u64, String, String, String), usize> = BTreeMap::new();
    for v in results(&run) {
        let p = &v["params"];
        let key = (
            v["rep"].as_u64().unwrap(),
            p["placement"].as_str().unwrap().to_string(),
            p["victim"].as_str().unwrap().to_string(),
            p["antagonist"].as_str().unwrap().to_string(),
        );
        *seen.entry(key).or_default() += 1;
    }
    // 2 reps x 2 placements x (alone, beside the CPU hog), and the CPU hog
    // alone once per placement (its solo rate).
    assert_eq!(seen.len(), 8 + 2, "{seen:?}");
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
    // The resumed run swept the killed one's pids cgroups.
    assert_eq!(
        cgroups_named(&format!("isobench-{pid}-")),
        Vec::<PathBuf>::new()
    );
    assert!(!run.join(".scratch").exists());
}

#[test]
fn a_density_run_interrupted_resumes_from_the_next_instance() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !have_workload() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let run = t.path().join("run");
    let n = 300;
    let mut child = start_run(
        &run,
        &[
            "--experiment",
            "density",
            "--env",
            "native",
            "--instances",
            &n.to_string(),
            "--mem-floor",
            "0",
        ],
    );
    let log = run.with_extension("stderr");
    wait_for(
        "ten instances",
        Duration::from_secs(60),
        &mut child,
        &log,
        || results(&run).len() >= 10,
    );
    // Ctrl-C: every instance stopped, exit 130.
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let st = child.wait().unwrap();
    let before = results(&run).len();
    if st.code() == Some(0) {
        isobench_testkit::missing("the density run finished before it could be interrupted");
        return;
    }
    assert_eq!(
        st.code(),
        Some(130),
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
    assert!(
        workloads_running("idle").is_empty(),
        "idle instances outlived the interrupted run"
    );
    assert!(before < n);
    let o = resume(&run);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("{before} instances measured already, kept")),
        "{}",
        text(&o)
    );
    let instances = |stop: bool| {
        let mut v: Vec<u64> = results(&run)
            .iter()
            .filter(|v| (v["params"]["phase"] == "stop") == stop)
            .map(|v| v["params"]["instance"].as_u64().unwrap())
            .collect();
        v.sort_unstable();
        v
    };
    assert_eq!(instances(false), (1..=n as u64).collect::<Vec<_>>());
    // The teardown: one reading after each stop, n - 1 down to 0 live.
    assert_eq!(instances(true), (0..n as u64).collect::<Vec<_>>());
    assert!(workloads_running("idle").is_empty());
    // Once finished, a resume measures nothing more.
    let o = resume(&run);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("measured already, kept"), "{}", text(&o));
    assert_eq!(results(&run).len(), 2 * n);
}

/// The main job killed with SIGKILL in its density phase resumes into the
/// same run: each suite repetition, density instance and neighbour trial
/// once, under one run id.
#[test]
fn a_main_job_killed_in_density_resumes_every_part_once() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !have_workload() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let run = t.path().join("run");
    let n = 40;
    let mut child = start_run(
        &run,
        &[
            "--experiment",
            "all",
            "--env",
            "native",
            "--workload",
            "cpu",
            "--reps",
            "2",
            "--warmup",
            "0",
            "--instances",
            &n.to_string(),
            "--mem-floor",
            "0",
        ],
    );
    let log = run.with_extension("stderr");
    let density = |run: &Path| {
        results(run)
            .iter()
            .filter(|v| v["workload"] == "density")
            .count()
    };
    wait_for(
        "five density instances",
        Duration::from_secs(120),
        &mut child,
        &log,
        || density(&run) >= 5,
    );
    kill9(&mut child, &run);
    assert!(density(&run) < n, "density finished before the kill");
    let o = resume(&run);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let all = results(&run);
    let ids: std::collections::BTreeSet<&str> =
        all.iter().filter_map(|v| v["run_id"].as_str()).collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let mut seen: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for v in &all {
        let w = v["workload"].as_str().unwrap().to_string();
        let key = match w.as_str() {
            "density" => format!("{} {}", v["params"]["phase"], v["params"]["instance"]),
            "neighbour" => format!(
                "{} {} {} {}",
                v["rep"],
                v["params"]["placement"],
                v["params"]["victim"],
                v["params"]["antagonist"]
            ),
            _ => v["rep"].to_string(),
        };
        *seen
            .entry((v["env_id"].as_str().unwrap().to_string(), w, key))
            .or_default() += 1;
    }
    assert!(seen.values().all(|c| *c == 1), "measured twice: {seen:?}");
    let count = |w: &str| seen.keys().filter(|k| k.1 == w).count();
    assert_eq!(count("cpu"), 2);
    // n launches and n teardown readings.
    assert_eq!(count("density"), 2 * n);
    // 2 reps x 2 placements x (alone, beside the CPU hog), and the CPU
    // hog alone once per placement (its solo rate).
    assert_eq!(count("neighbour"), 8 + 2);
    assert!(workloads_running("idle").is_empty());
    assert!(!run.join(".scratch").exists());
}
