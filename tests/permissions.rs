//! Claim C6 end to end, as root: `isobench run --experiment permissions`
//! makes two test users, checks who may act on whose containers through a
//! shared rootful podman service, shared runtime state roots and per-user
//! rootless engines, and removes everything it made (users, group, sudo
//! rule, service, containers, work directory). The expected outcome per
//! setup is asserted; its report renders the table and a C6 verdict. A
//! missing prerequisite is a recorded skip (`isobench_testkit`), and a
//! failure under `CI=true`.

use isobench_reports::schema::ResultRecord;
use std::path::Path;
use std::process::Command;

fn isobench() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_isobench"));
    c.env("NO_COLOR", "1");
    c
}

fn on_path(prog: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
        .unwrap_or(false)
}

/// Names the check makes (`isobp<pid>a|b|g`) still present in `file`.
fn leftovers(file: &str, pid: u32) -> Vec<String> {
    let prefix = format!("isobp{pid}");
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .map(str::to_string)
        .collect()
}

fn find<'a>(rs: &'a [ResultRecord], id: &str) -> &'a ResultRecord {
    rs.iter()
        .find(|r| r.env_id == id)
        .unwrap_or_else(|| panic!("no record of {id}"))
}

fn outcomes(r: &ResultRecord) -> Vec<(String, String)> {
    r.info
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("action_")?.to_string(), v.clone())))
        .collect()
}

/// Every verb tried in `r` had `want` as its outcome, and there were `n`.
fn all(r: &ResultRecord, want: &str, n: usize) {
    assert!(r.valid, "{} not available: {:?}", r.env_id, r.error);
    let o = outcomes(r);
    assert_eq!(o.len(), n, "{}: {o:?}", r.env_id);
    assert!(
        o.iter().all(|(_, v)| v == want),
        "{}: expected every action {want}: {o:?} ({:?})",
        r.env_id,
        r.info
    );
    let allowed = if want == "allowed" { n as f64 } else { 0.0 };
    assert_eq!(r.metrics["foreign_actions"], allowed, "{}", r.env_id);
    assert_eq!(r.metrics["attempts"], n as f64, "{}", r.env_id);
}

/// Nothing of the check of isobench `pid` is left: users, groups,
/// subordinate ids, sudo rules, work directory, processes naming it,
/// container cgroups.
fn nothing_left(pid: u32) {
    // The docker setup's image and containers, by their owner label.
    if isobench::env::docker::daemon_unavailable().is_none() {
        let f = format!("label={}={pid}", isobench::env::docker::OWNER_LABEL);
        for what in ["ps", "images"] {
            let o = std::process::Command::new("docker")
                .args([what, "-aq", "--filter", &f])
                .output()
                .unwrap();
            assert!(o.stdout.is_empty(), "docker {what}: {o:?}");
        }
    }
    for f in [
        "/etc/passwd",
        "/etc/group",
        "/etc/subuid",
        "/etc/subgid",
        "/etc/shadow",
    ] {
        assert_eq!(leftovers(f, pid), Vec::<String>::new(), "{f}");
    }
    let rules: Vec<_> = std::fs::read_dir("/etc/sudoers.d")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!("isobench-perm-{pid}")))
        .collect();
    assert!(rules.is_empty(), "{rules:?}");
    let work = std::env::temp_dir().join(format!("isobench-perm-{pid}"));
    assert!(!work.exists(), "{} left", work.display());
    let naming: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&work.display().to_string()))
        .collect();
    assert!(naming.is_empty(), "processes left: {naming:?}");

    let cgroups: Vec<String> = std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|h| std::fs::read_dir(h.path()).into_iter().flatten().flatten())
        .map(|e| e.path().display().to_string())
        .filter(|p| p.contains(&format!("/isobench-perm-{pid}-")))
        .collect();
    assert!(cgroups.is_empty(), "{cgroups:?}");
}

#[test]
fn ctrl_c_while_privileges_are_granted_removes_everything() {
    if !isobench_testkit::require_root("creates test users, a podman service and containers") {
        return;
    }
    for p in ["podman", "runc", "sudo"] {
        if !on_path(p) {
            isobench_testkit::missing(format!("{p} not installed (scripts/setup.sh installs it)"));
            return;
        }
    }
    let t = tempfile::tempdir().unwrap();
    let mut child = isobench()
        .args(["run", "--experiment", "permissions", "--out"])
        .arg(t.path().join("run"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    // The sudo rule of the rootful runc setup exists: users, group, a
    // privilege and (just before) a podman service were made.
    let rule = Path::new("/etc/sudoers.d").join(format!("isobench-perm-{pid}-runc"));
    let t0 = std::time::Instant::now();
    while !rule.exists() {
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(60),
            "no sudo rule appeared"
        );
        assert!(child.try_wait().unwrap().is_none(), "the check ended early");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(pid as i32, libc::SIGINT);
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    nothing_left(pid);
}

#[test]
fn who_may_act_on_whose_containers() {
    if !isobench_testkit::require_root("creates test users, a podman service and containers") {
        return;
    }
    for p in ["podman", "runc", "crun", "sudo", "newuidmap", "busybox"] {
        if !on_path(p) {
            isobench_testkit::missing(format!("{p} not installed (scripts/setup.sh installs it)"));
            return;
        }
    }
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("run");
    let child = isobench()
        .args(["run", "--experiment", "permissions", "--out"])
        .arg(&out)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");

    nothing_left(pid);

    let rs: Vec<ResultRecord> = std::fs::read_to_string(out.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rs.len(), 11, "{stderr}");
    assert!(rs.iter().all(|r| r.workload == "permissions"));
    // Shared: B may do everything to A's container.
    all(find(&rs, "podman-service"), "allowed", 4);
    // The seed's scenario: A and B in the docker group of the host's daemon.
    let d = find(&rs, "docker-daemon");
    if isobench::env::docker::daemon_unavailable().is_none() {
        all(d, "allowed", 4);
    } else {
        assert!(
            d.error
                .as_deref()
                .unwrap_or("")
                .starts_with("not available: "),
            "{:?}",
            d.error
        );
    }
    all(find(&rs, "sudo-shared-root-runc"), "allowed", 4);
    all(find(&rs, "sudo-shared-root-crun"), "allowed", 4);
    // Rootless, shared state root or per-user: B may do nothing.
    all(find(&rs, "group-shared-root-runc"), "denied", 4);
    all(find(&rs, "rootless-runc"), "denied", 4);
    all(find(&rs, "podman-rootless"), "denied", 4);
    // isorun (with exec, the fourth action): next to the test binary when
    // built; rootless and crun rootless are reported as not available, with
    // the reason, where they do not work here.
    let iso = find(&rs, "sudo-shared-root-isorun");
    if iso.valid {
        all(iso, "allowed", 4);
    } else {
        assert!(
            iso.error
                .as_deref()
                .unwrap_or("")
                .contains("isorun not installed"),
            "{:?}",
            iso.error
        );
    }
    for id in [
        "rootless-isorun",
        "group-shared-root-crun",
        "group-shared-root-isorun",
    ] {
        let r = find(&rs, id);
        if !r.valid {
            assert!(
                r.error
                    .as_deref()
                    .unwrap_or("")
                    .starts_with("not available: "),
                "{id}: {:?}",
                r.error
            );
        } else if id == "group-shared-root-isorun" {
            // A group-writable root: the kernel refuses B's kill, the state
            // directory's owner B's delete, and state.json is 0600 (as
            // runc's), so B cannot read A's state (nor exec from it) either.
            all(r, "denied", 4);
        } else {
            all(r, "denied", 4);
        }
    }
    // The report: the table and a verdict from the data.
    let rep = out.join("report");
    let o = isobench()
        .args(["report"])
        .arg(&out)
        .arg("--out")
        .arg(&rep)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let md = std::fs::read_to_string(rep.join("summary.md")).unwrap();
    assert!(md.contains("## Who may act on whose containers"), "{md}");
    assert!(
        md.contains(
            "| podman-service | shared daemon | allowed | allowed | allowed | allowed | 4 of 4 |"
        ),
        "{md}"
    );
    assert!(
        md.contains(
            "| rootless-runc | per-user rootless | denied | denied | denied | denied | 0 of 4 |"
        ),
        "{md}"
    );
    assert!(md.contains("**C6 — not supported**"), "{md}");
    assert!(Path::new(&rep.join("index.html")).is_file());
}

#[test]
fn resume_is_refused_with_exit_2() {
    let t = tempfile::tempdir().unwrap();
    let o = isobench()
        .args(["run", "--experiment", "permissions", "--resume"])
        .arg(t.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.contains("--resume does not apply"), "{e}");
}
