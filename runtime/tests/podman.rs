//! podman as a real client of isorun: `podman --runtime <isorun> run` with
//! Debian podman's defaults (its seccomp profile, its default sysctl
//! `net.ipv4.ping_group_range`, a network namespace it prepared, a
//! read-only /sys/fs/cgroup, a deny-all device rule), through conmon,
//! exactly as podman drives runc and crun. The image is imported from a
//! busybox rootfs tar (no registry needed); it and every container are
//! removed afterwards, and isorun's state root keeps nothing of them.
//! Covered: `run` (and `--rm`), `run -t`, `exec` and `exec -t`, `stop`,
//! `kill`, `rm`.

mod common;

use std::path::Path;
use std::process::{Command, Output};

/// Podman's default hard limits exceed this host's; these fit any host.
const ULIMITS: &[&str] = &[
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=1024:1024",
];

fn podman(args: &[&str]) -> Output {
    Command::new("podman").args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Removes the test image and any container made from it, on every path.
struct Cleanup {
    image: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let ids = podman(&["ps", "-aq", "--filter", &format!("ancestor={}", self.image)]);
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = podman(&["rm", "-f", id]);
        }
        let _ = podman(&["rmi", "-f", &self.image]);
    }
}

fn have_podman() -> bool {
    let ok = Command::new("podman")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        isobench_testkit::missing("podman not installed (scripts/setup.sh installs it)");
    }
    ok
}

/// A busybox image imported from a rootfs tar (no registry), named for
/// this test process; removed with its containers when the guard drops.
fn import_image(dir: &Path, tag: &str) -> (String, Cleanup) {
    let rootfs = dir.join("rootfs");
    common::install_busybox(&rootfs);
    let tar = dir.join("rootfs.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    let image = format!(
        "localhost/isorun-podman-test-{tag}-{}:latest",
        std::process::id()
    );
    let cleanup = Cleanup {
        image: image.clone(),
    };
    let o = podman(&["import", tar.to_str().unwrap(), &image]);
    assert!(o.status.success(), "{}", text(&o));
    (image, cleanup)
}

#[test]
fn podman_runs_containers_with_isorun_under_its_defaults() {
    if !common::can_run() || !have_podman() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (image, _cleanup) = import_image(dir.path(), "defaults");
    let isorun = common::isorun_bin();
    let run = |extra: &[&str], cmd: &str| {
        let mut a = vec!["--runtime", isorun, "run", "--rm"];
        a.extend_from_slice(ULIMITS);
        a.extend_from_slice(extra);
        a.extend_from_slice(&[&image, "/bin/sh", "-c", cmd]);
        podman(&a)
    };

    // Podman's defaults: its seccomp profile is installed (mode 2 =
    // filter), its sysctl set in the container's own network namespace,
    // the container sees its own cgroups read-only, /dev has the defaults.
    let o = run(
        &[],
        "echo hello; cat /proc/sys/net/ipv4/ping_group_range; grep '^Seccomp:' /proc/self/status; \
         ls /sys/fs/cgroup; /bin/busybox touch /sys/fs/cgroup/x 2>/dev/null && echo cgroup-writable; \
         echo > /dev/null && echo devnull-ok; exit 7",
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    assert!(out.contains("hello"), "{}", text(&o));
    assert!(out.contains("0\t0"), "sysctl not set: {}", text(&o));
    assert!(
        out.contains("Seccomp:\t2"),
        "no seccomp filter: {}",
        text(&o)
    );
    assert!(out.contains("memory"), "no cgroup view: {}", text(&o));
    assert!(!out.contains("cgroup-writable"), "{}", text(&o));
    assert!(out.contains("devnull-ok"), "{}", text(&o));

    // A profile of the user's is enforced: mkdir denied with EPERM.
    let mut profile: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string("/usr/share/containers/seccomp.json").unwrap(),
    )
    .unwrap();
    profile["syscalls"].as_array_mut().unwrap().insert(
        0,
        serde_json::json!({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}),
    );
    let pfile = dir.path().join("nomkdir.json");
    std::fs::write(&pfile, profile.to_string()).unwrap();
    let opt = format!("seccomp={}", pfile.display());
    let o = run(
        &["--security-opt", &opt],
        "/bin/busybox mkdir /tmp/x 2>&1; test -d /tmp/x && echo made",
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("Operation not permitted") && !out.contains("made"),
        "{}",
        text(&o)
    );

    // Detached, stopped (kill with SIGTERM), removed.
    let mut a = vec!["--runtime", isorun, "run", "-d"];
    a.extend_from_slice(ULIMITS);
    a.extend_from_slice(&[
        &image,
        "/bin/sh",
        "-c",
        "trap 'exit 3' TERM; while true; do sleep 1; done",
    ]);
    let o = podman(&a);
    assert!(o.status.success(), "{}", text(&o));
    let id = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let o = podman(&["--runtime", isorun, "stop", "-t", "10", &id]);
    assert!(o.status.success(), "{}", text(&o));
    let o = podman(&["inspect", "--format", "{{.State.ExitCode}}", &id]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "3",
        "{}",
        text(&o)
    );
    let o = podman(&["--runtime", isorun, "rm", &id]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        !Path::new(isorun::lifecycle::DEFAULT_ROOT)
            .join(&id)
            .exists(),
        "isorun state of {id} left behind"
    );
    let o = podman(&["ps", "-aq", "--filter", &format!("ancestor={image}")]);
    assert!(o.stdout.is_empty(), "containers left: {}", text(&o));
}

#[test]
fn podman_run_t_exec_exec_t_and_kill_work_with_isorun() {
    if !common::can_run() || !have_podman() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (image, _cleanup) = import_image(dir.path(), "exec");
    let isorun = common::isorun_bin();
    let with_runtime = |args: &[&str]| {
        let mut a = vec!["--runtime", isorun];
        a.extend_from_slice(args);
        podman(&a)
    };

    // run -t: the process's stdio is a terminal (conmon holds the master
    // isorun sent on its console socket); --rm leaves nothing.
    let mut a = vec!["run", "--rm", "-t"];
    a.extend_from_slice(ULIMITS);
    a.extend_from_slice(&[&image, "/bin/sh", "-c", "/bin/busybox tty; exit 4"]);
    let o = with_runtime(&a);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("/dev/pts/"),
        "no terminal: {}",
        text(&o)
    );

    let mut a = vec!["run", "-d"];
    a.extend_from_slice(ULIMITS);
    a.extend_from_slice(&[&image, "/bin/sh", "-c", "while true; do sleep 1; done"]);
    let o = with_runtime(&a);
    assert!(o.status.success(), "{}", text(&o));
    let id = String::from_utf8_lossy(&o.stdout).trim().to_string();

    // exec: in the container (its pid 1 is the container's process), with
    // env, user and working directory; its status is podman's.
    let o = with_runtime(&[
        "exec",
        "-e",
        "FOO=bar",
        "--user",
        "1000:1000",
        "-w",
        "/tmp",
        &id,
        "/bin/sh",
        "-c",
        "echo $FOO; id -u; pwd; cat /proc/1/cmdline; echo; exit 6",
    ]);
    assert_eq!(o.status.code(), Some(6), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&"bar"), "{}", text(&o));
    assert!(
        lines.contains(&"1000") && lines.contains(&"/tmp"),
        "{}",
        text(&o)
    );
    assert!(
        out.contains("while true"),
        "not the container's pid 1: {}",
        text(&o)
    );

    // exec -t: a terminal of its own.
    let o = with_runtime(&[
        "exec",
        "-t",
        &id,
        "/bin/sh",
        "-c",
        "/bin/busybox tty; exit 2",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("/dev/pts/"),
        "no terminal: {}",
        text(&o)
    );

    // kill (SIGKILL by podman's default): the container ends with 137.
    let o = with_runtime(&["kill", &id]);
    assert!(o.status.success(), "{}", text(&o));
    let o = with_runtime(&["wait", &id]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "137",
        "{}",
        text(&o)
    );
    let o = with_runtime(&["rm", &id]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        !Path::new(isorun::lifecycle::DEFAULT_ROOT)
            .join(&id)
            .exists(),
        "isorun state of {id} left behind"
    );
}
