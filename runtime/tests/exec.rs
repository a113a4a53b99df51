//! `isorun exec` on the real binary: the process joins every namespace and
//! the cgroup of the container (compared by /proc/*/ns links and
//! /proc/*/cgroup from the host), gets the env, cwd and user asked for,
//! passes its exit status on, takes `--process` files, sees no leaked fd,
//! and exec into a stopped or unknown container fails with one line.

mod common;
use common::{can_run, text, Rig};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

const KINDS: &[&str] = &["mnt", "pid", "net", "ipc", "uts", "cgroup", "user"];

/// Create and start the rig's container (`sleep`ing); its host pid.
fn started(rig: &Rig) -> i32 {
    let create = rig
        .cmd()
        .args(["create", "--bundle", rig.bundle.to_str().unwrap(), &rig.id])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(rig.dir.path().join("create.err")).unwrap())
        .status()
        .unwrap();
    assert!(
        create.success(),
        "{}",
        std::fs::read_to_string(rig.dir.path().join("create.err")).unwrap()
    );
    let start = rig.isorun(&["start", &rig.id]);
    assert!(start.status.success(), "{}", text(&start.stderr));
    let st = rig.isorun(&["state", &rig.id]);
    let v: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    v["pid"].as_i64().unwrap() as i32
}

fn exec(rig: &Rig, args: &[&str]) -> Output {
    let mut a = vec!["exec"];
    a.extend_from_slice(args);
    rig.isorun(&a)
}

fn ns(pid: &str, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

fn finish(rig: &Rig) {
    let del = rig.isorun(&["delete", "--force", &rig.id]);
    assert!(del.status.success(), "{}", text(&del.stderr));
    rig.assert_clean();
}

/// A detached exec's process, seen from the host: same namespaces and
/// cgroup as the container's process, none of the host's own.
fn assert_joined(rig: &Rig, init: i32) {
    let pid_file = rig.dir.path().join("exec.pid");
    // The process keeps its stdio: files, not pipes `output()` would
    // read to their end.
    let err = rig.dir.path().join("exec.err");
    let ok = rig
        .cmd()
        .args(["exec", "--detach", "--pid-file"])
        .arg(&pid_file)
        .args([&rig.id, "sleep", "30"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap())
        .status()
        .unwrap();
    assert!(ok.success(), "{}", std::fs::read_to_string(&err).unwrap());
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let pid = pid.trim();
    assert!(pid.parse::<i32>().unwrap() > 0, "{pid}");
    let init = init.to_string();
    for kind in KINDS {
        assert_eq!(ns(pid, kind), ns(&init, kind), "{kind} namespace");
    }
    for kind in ["mnt", "pid", "net", "ipc", "uts"] {
        assert_ne!(
            ns(pid, kind),
            ns("self", kind),
            "{kind}: the container has its own"
        );
    }
    let cg = |p: &str| std::fs::read_to_string(format!("/proc/{p}/cgroup")).unwrap();
    assert_eq!(cg(pid), cg(&init), "the container's cgroup");
    // It runs as a process of the container's pid namespace.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let nspid = status
        .lines()
        .find(|l| l.starts_with("NSpid:"))
        .unwrap()
        .to_string();
    assert_eq!(nspid.split_whitespace().count(), 3, "{nspid}");
}

#[test]
fn exec_joins_the_containers_namespaces_and_cgroup() {
    if !can_run() {
        return;
    }
    let rig = Rig::new("h19g-exec-ns", "exec sleep 60");
    let init = started(&rig);
    assert_joined(&rig, init);
    finish(&rig);
}

#[test]
fn exec_applies_env_cwd_and_user_and_passes_the_status_on() {
    if !can_run() {
        return;
    }
    let rig = Rig::new("h19g-exec-env", "exec sleep 60");
    rig.config(
        |v| v["process"]["env"] = serde_json::json!(["PATH=/bin", "KEEP=k", "FOO=old"]),
        "exec sleep 60",
    );
    started(&rig);
    let out = exec(
        &rig,
        &[
            "-e",
            "FOO=bar",
            "--cwd",
            "/tmp",
            "--user",
            "1000:1001",
            &rig.id,
            "sh",
            "-c",
            "echo $FOO $KEEP; pwd; id -u; id -g; exit 7",
        ],
    );
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "bar k\n/tmp\n1000\n1001\n");
    let killed = exec(&rig, &[&rig.id, "sh", "-c", "kill -9 $$"]);
    assert_eq!(killed.status.code(), Some(128 + 9));
    // A --process file instead of a command line.
    let pf = rig.dir.path().join("process.json");
    std::fs::write(
        &pf,
        serde_json::json!({
            "args": ["sh", "-c", "echo $X; pwd; id -u; exit 3"],
            "env": ["PATH=/bin", "X=from-file"],
            "cwd": "/proc",
            "user": {"uid": 4, "gid": 4}
        })
        .to_string(),
    )
    .unwrap();
    let out = exec(&rig, &["--process", pf.to_str().unwrap(), &rig.id]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "from-file\n/proc\n4\n");
    // A missing program: one line, non-zero.
    let out = exec(&rig, &[&rig.id, "no-such-program"]);
    let se = text(&out.stderr);
    assert!(!out.status.success());
    assert!(se.contains("no-such-program"), "{se}");
    assert_eq!(se.trim().lines().count(), 1, "{se}");
    finish(&rig);
}

#[test]
fn exec_closes_inherited_fds_so_cwd_cannot_escape() {
    if !can_run() {
        return;
    }
    let rig = Rig::new("h19g-exec-fd", "exec sleep 60");
    started(&rig);
    // A host directory leaked to isorun as fd 7 (no close-on-exec).
    let host = std::fs::File::open("/").unwrap();
    let run = |args: &[&str]| {
        use std::os::fd::AsRawFd;
        let fd = host.as_raw_fd();
        let mut c = rig.cmd();
        c.arg("exec").args(args);
        // SAFETY: dup2 only, in the forked child before exec.
        unsafe {
            c.pre_exec(move || {
                if libc::dup2(fd, 7) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        c.output().unwrap()
    };
    let out = run(&["--cwd", "/proc/self/fd/7", &rig.id, "ls", "/"]);
    let se = text(&out.stderr);
    assert!(
        !out.status.success(),
        "cwd through a leaked fd: {}",
        text(&out.stdout)
    );
    assert!(se.contains("process.cwd"), "{se}");
    assert_eq!(se.trim().lines().count(), 1, "{se}");
    let out = run(&[&rig.id, "ls", "/proc/self/fd"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let fds: Vec<String> = text(&out.stdout)
        .split_whitespace()
        .map(String::from)
        .collect();
    // stdio and ls's own directory fd.
    assert!(fds.len() <= 4 && !fds.contains(&"7".to_string()), "{fds:?}");
    finish(&rig);
}

#[test]
fn exec_into_a_stopped_or_unknown_container_fails_with_one_line() {
    if !can_run() {
        return;
    }
    let rig = Rig::new("h19g-exec-stop", "exec sleep 60");
    started(&rig);
    assert!(rig.isorun(&["kill", &rig.id, "KILL"]).status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let st = rig.isorun(&["state", &rig.id]);
        let v: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
        if v["status"] == "stopped" || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    for (id, want) in [
        (rig.id.as_str(), "stopped"),
        ("h19g-no-such-container", "does not exist"),
    ] {
        let out = exec(&rig, &[id, "true"]);
        let se = text(&out.stderr);
        assert!(!out.status.success());
        assert!(se.contains(want), "{se}");
        assert_eq!(se.trim().lines().count(), 1, "{se}");
    }
    finish(&rig);
    assert!(!Path::new(&rig.root.join(&rig.id)).exists());
}

#[test]
fn rootless_exec_joins_the_user_namespace_first() {
    let Some(rig) = Rig::rootless("h19g-exec-rl", "") else {
        return;
    };
    let out = rig
        .cmd()
        .args([
            "spec",
            "--rootless",
            "--bundle",
            rig.bundle.to_str().unwrap(),
        ])
        .args(["sleep", "60"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let init = started(&rig);
    assert_joined(&rig, init);
    let out = exec(&rig, &[&rig.id, "id", "-u"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "0\n",
        "root of the container's user namespace"
    );
    finish(&rig);
}

#[test]
fn exec_gets_the_containers_seccomp_capabilities_and_no_new_privs() {
    if !can_run() {
        return;
    }
    let rig = Rig::new("h19g-exec-sec", "exec sleep 60");
    rig.config(
        |v| {
            v["process"]["noNewPrivileges"] = serde_json::json!(true);
            v["linux"]["seccomp"] = serde_json::json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
            });
        },
        "exec sleep 60",
    );
    let init = started(&rig);
    let pid_file = rig.dir.path().join("exec.pid");
    let ok = rig
        .cmd()
        .args(["exec", "--detach", "--pid-file"])
        .arg(&pid_file)
        .args([&rig.id, "sleep", "30"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let fields = |p: &str| -> Vec<String> {
        std::fs::read_to_string(format!("/proc/{p}/status"))
            .unwrap()
            .lines()
            .filter(|l| {
                [
                    "Seccomp:",
                    "NoNewPrivs:",
                    "CapBnd:",
                    "CapEff:",
                    "CapPrm:",
                    "CapInh:",
                ]
                .iter()
                .any(|k| l.starts_with(k))
            })
            .map(String::from)
            .collect()
    };
    let theirs = fields(&init.to_string());
    assert_eq!(theirs.len(), 6, "{theirs:?}");
    assert!(theirs.contains(&"Seccomp:\t2".to_string()), "{theirs:?}");
    assert!(theirs.contains(&"NoNewPrivs:\t1".to_string()), "{theirs:?}");
    assert_eq!(fields(pid.trim()), theirs);
    // The filter is the container's: mkdir is denied with EPERM.
    let out = exec(&rig, &[&rig.id, "/bin/busybox", "mkdir", "/tmp/x"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("Operation not permitted"),
        "{}",
        text(&out.stderr)
    );
    finish(&rig);
}
