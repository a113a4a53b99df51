//! The default device policy, end to end: with the default spec (plus
//! CAP_MKNOD, so that the container's root can make nodes at all), a node
//! the container makes for 1:11 (/dev/kmsg: writing it reaches the host's
//! kernel log) or 1:1 (/dev/mem) can be made but not opened, while
//! /dev/null, /dev/zero and a node it makes for 1:3 work. Before the
//! policy existed the kmsg write went through.

mod common;
use common::{can_run, text, Rig};

/// The default config with CAP_MKNOD added to every capability set.
fn with_mknod(v: &mut serde_json::Value) {
    for set in ["bounding", "effective", "permitted"] {
        v["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push("CAP_MKNOD".into());
    }
}

/// Each step prints `<name>=ok` or `<name>=no`. Opening a node is what the
/// device cgroup decides, so kmsg is only opened for writing (`: >`), never
/// written: a broken policy must not spam the host's kernel log.
const SCRIPT: &str = "\
t() { n=$1; shift; if \"$@\" 2>/dev/null; then echo \"$n=ok\"; else echo \"$n=no\"; fi; }
t mknod-kmsg busybox mknod /dev/h19f-kmsg c 1 11
t mknod-mem busybox mknod /dev/h19f-mem c 1 1
t mknod-null busybox mknod /dev/h19f-null c 1 3
t write-kmsg sh -c ': > /dev/h19f-kmsg'
t read-mem sh -c ': < /dev/h19f-mem'
t write-null sh -c 'echo x > /dev/null'
t read-zero sh -c 'head -c 1 /dev/zero > /dev/null'
t write-own-null sh -c 'echo x > /dev/h19f-null'
";

fn outcome(out: &str, step: &str) -> Option<bool> {
    out.lines().find_map(|l| match l.strip_prefix(step)? {
        "=ok" => Some(true),
        "=no" => Some(false),
        _ => None,
    })
}

#[test]
fn made_nodes_outside_the_allow_list_cannot_be_opened() {
    if !can_run() {
        return;
    }
    let rig = Rig::new("h19f-devices", SCRIPT);
    rig.config(with_mknod, SCRIPT);
    let out = rig.run();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let want = [
        ("mknod-kmsg", true),
        ("mknod-mem", true),
        ("mknod-null", true),
        ("write-kmsg", false),
        ("read-mem", false),
        ("write-null", true),
        ("read-zero", true),
        ("write-own-null", true),
    ];
    for (step, ok) in want {
        assert_eq!(outcome(&stdout, step), Some(ok), "{step}:\n{stdout}");
    }
    rig.assert_clean();
}

#[test]
fn a_config_rule_opens_a_device_the_default_list_denies() {
    if !can_run() {
        return;
    }
    // Write-only: opening /dev/kmsg for reading also needs CAP_SYSLOG.
    let script = "busybox mknod /dev/h19f-kmsg c 1 11 && : > /dev/h19f-kmsg && echo opened";
    let rig = Rig::new("h19f-devrule", script);
    rig.config(
        |v| {
            with_mknod(v);
            v["linux"]["resources"] = serde_json::json!({"devices": [
                {"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"}
            ]});
        },
        script,
    );
    let out = rig.run();
    assert!(
        out.status.success() && text(&out.stdout).contains("opened"),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    rig.assert_clean();
}

fn cgroup2_mount() -> Option<std::path::PathBuf> {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mi.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        right
            .starts_with("cgroup2 ")
            .then(|| left.split(' ').nth(4).map(std::path::PathBuf::from))
            .flatten()
    })
}

/// `sh -c script`, joined to the cgroup v2 directory `cgroup` (when given)
/// between fork and exec, so that no other process is ever moved.
fn sh_in(cgroup: Option<&std::path::Path>, script: &str) -> String {
    use std::os::unix::process::CommandExt;
    let mut c = std::process::Command::new("/bin/sh");
    c.args(["-c", script]);
    if let Some(dir) = cgroup {
        let procs = std::ffi::CString::new(
            dir.join("cgroup.procs")
                .into_os_string()
                .into_encoded_bytes(),
        )
        .unwrap();
        // Safety: only async-signal-safe calls (open, write, close) run
        // between fork and exec; the path was made before the fork.
        unsafe {
            c.pre_exec(move || {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(fd);
                Ok(())
            });
        }
    }
    let out = c.output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

/// cgroup v2, for real where the host mounts a cgroup2 hierarchy (on a
/// hybrid v1 host the empty /sys/fs/cgroup/unified: eBPF device programs
/// attach to any cgroup2 directory, controllers or not): a host shell moved
/// into a cgroup that `v2::create` made with the default policy can make a
/// 1:11 node but not open it, and still opens /dev/null and its own 1:3
/// node. The same script outside that cgroup opens the 1:11 node, so the
/// denial is the program's.
#[test]
fn cgroup_v2_device_program_enforces_the_default_list() {
    use isorun::cgroup::v2;
    use isorun::config::Resources;
    let Some(root) = cgroup2_mount() else {
        isobench_testkit::not_on_this_host("no cgroup2 mount on this host");
        return;
    };
    if !isobench_testkit::require_root("to create cgroups and load eBPF programs") {
        return;
    }
    let nodes = tempfile::Builder::new()
        .prefix("h19f-devices-")
        .tempdir()
        .unwrap();
    let d = nodes.path().display();
    let script = format!(
        "t() {{ n=$1; shift; if \"$@\" 2>/dev/null; then echo \"$n=ok\"; else echo \"$n=no\"; fi; }}
rm -f {d}/kmsg {d}/null
t mknod-kmsg mknod {d}/kmsg c 1 11
t mknod-null mknod {d}/null c 1 3
t write-kmsg sh -c ': > {d}/kmsg'
t write-null sh -c ': > /dev/null'
t write-own-null sh -c ': > {d}/null'
"
    );
    let outside = sh_in(None, &script);
    assert_eq!(outcome(&outside, "write-kmsg"), Some(true), "{outside}");

    let rel = format!("/h19f-devices-{}", std::process::id());
    let cg = v2::create(&root, &rel, &Resources::default()).unwrap();
    let inside = sh_in(Some(&cg.dirs[0]), &script);
    let removed = cg.remove();
    for (step, ok) in [
        ("mknod-kmsg", true),
        ("mknod-null", true),
        ("write-kmsg", false),
        ("write-null", true),
        ("write-own-null", true),
    ] {
        assert_eq!(outcome(&inside, step), Some(ok), "{step}:\n{inside}");
    }
    removed.unwrap();
}

/// `linux.resources` of the config.json that `<bin> spec [extra]` writes
/// into a fresh directory.
fn spec_resources(bin: &str, extra: &[&str]) -> serde_json::Value {
    let d = tempfile::Builder::new()
        .prefix("h19f-spec-")
        .tempdir()
        .unwrap();
    let out = std::process::Command::new(bin)
        .arg("spec")
        .args(extra)
        .current_dir(d.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{bin} spec: {}", text(&out.stderr));
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.path().join("config.json")).unwrap()).unwrap();
    v["linux"]["resources"].clone()
}

/// `isorun spec` writes the device rules `runc spec` writes (the runc on
/// this machine), and both leave them out with --rootless.
#[test]
fn spec_device_rules_match_runc() {
    let Some(runc) = ["/usr/sbin/runc", "/usr/bin/runc", "/usr/local/bin/runc"]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_file())
    else {
        isobench_testkit::missing("runc (apt-get install runc), to compare `spec` with");
        return;
    };
    let isorun = common::isorun_bin();
    let theirs = spec_resources(runc, &[]);
    assert!(theirs["devices"].is_array(), "{theirs}");
    assert_eq!(spec_resources(isorun, &[])["devices"], theirs["devices"]);
    assert_eq!(
        spec_resources(isorun, &["--rootless"]),
        spec_resources(runc, &["--rootless"])
    );
}
