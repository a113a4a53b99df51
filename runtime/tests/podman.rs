//! podman as a real client of isorun: `podman --runtime <isorun> run` with
//! Debian podman's defaults (its seccomp profile, its default sysctl
//! `net.ipv4.ping_group_range`, a network namespace it prepared, a
//! read-only /sys/fs/cgroup, a deny-all device rule), through conmon,
//! exactly as podman drives runc and crun. The image is imported from a
//! busybox rootfs tar (no registry needed); it and every container are
//! removed afterwards, and isorun's state root keeps nothing of them.

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

#[test]
fn podman_runs_containers_with_isorun_under_its_defaults() {
    if !common::can_run() || !have_podman() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rootfs = dir.path().join("rootfs");
    common::install_busybox(&rootfs);
    let tar = dir.path().join("rootfs.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    let image = format!("localhost/isorun-podman-test-{}:latest", std::process::id());
    let _cleanup = Cleanup {
        image: image.clone(),
    };
    let o = podman(&["import", tar.to_str().unwrap(), &image]);
    assert!(o.status.success(), "{}", text(&o));
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
