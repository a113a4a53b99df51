//! Test rig: a temp dir holding a state root and a bundle whose rootfs has
//! a static busybox, and the real `isorun` binary driven on it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const BUSYBOX: &str = "/bin/busybox";
const APPLETS: &[&str] = &[
    "sh", "cat", "echo", "hostname", "ls", "grep", "sleep", "head", "wc", "true", "id", "dd",
];

/// The isorun under test: cargo's build of this crate, or `$ISORUN_BIN`
/// (to run the tests against another build, such as the static build of
/// scripts/build-isorun.sh).
pub fn isorun_bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        std::env::var("ISORUN_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_isorun").to_string())
    })
}

/// False, with the skip recorded (a failure under `CI=true`; see
/// `isobench_testkit`), when the host cannot run containers.
pub fn can_run() -> bool {
    if !isobench_testkit::require_root("namespaces, mounts, cgroups") {
        return false;
    }
    if !Path::new(BUSYBOX).is_file() {
        isobench_testkit::missing(format!(
            "{BUSYBOX} missing (apt-get install busybox-static)"
        ));
        return false;
    }
    true
}

pub struct Rig {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub bundle: PathBuf,
    pub id: String,
    /// Set for a rootless rig: isorun runs as this user (a copy of the
    /// binary in the rig, the rig's files given to the user).
    pub user: Option<isobench_testkit::testuser::TestUser>,
}

/// A test that fails half way (a panicking assert) still removes its
/// container: process, cgroup and state go with `delete --force` before the
/// rig's directory does (without it a failed test left the container's
/// cgroups behind under /sys/fs/cgroup/*/isorun).
impl Drop for Rig {
    fn drop(&mut self) {
        if self.root.exists() {
            let _ = self
                .cmd()
                .args(["delete", "--force", &self.id])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Put busybox and its applet links into `dir/bin`.
pub fn install_busybox(dir: &Path) {
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::copy(BUSYBOX, dir.join("bin/busybox")).unwrap();
    for a in APPLETS {
        std::os::unix::fs::symlink("busybox", dir.join("bin").join(a)).unwrap();
    }
    for d in ["proc", "dev", "sys", "tmp"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
}

impl Rig {
    /// A bundle running `sh -c script`.
    pub fn new(name: &str, script: &str) -> Rig {
        let dir = tempfile::Builder::new()
            .prefix("isorun-test-")
            .tempdir()
            .unwrap();
        let root = dir.path().join("state");
        let bundle = dir.path().join("bundle");
        install_busybox(&bundle.join("rootfs"));
        let rig = Rig {
            id: format!("t-{name}-{}", std::process::id()),
            dir,
            root,
            bundle,
            user: None,
        };
        rig.config(|_| {}, script);
        rig
    }

    /// A rig whose isorun runs as a fresh unprivileged user; None (skip
    /// recorded) when users cannot be made here.
    pub fn rootless(name: &str, script: &str) -> Option<Rig> {
        if !can_run() {
            return None;
        }
        let user = isobench_testkit::testuser::TestUser::create("rl")?;
        let mut rig = Rig::new(name, script);
        std::fs::copy(isorun_bin(), rig.dir.path().join("isorun")).unwrap();
        user.give(rig.dir.path());
        rig.user = Some(user);
        Some(rig)
    }

    /// Give files made since to the rig's user (no-op when rootful).
    pub fn regive(&self) {
        if let Some(u) = &self.user {
            u.give(self.dir.path());
        }
    }

    /// Write config.json: the default one, tweaked by `f`.
    pub fn config(&self, f: impl FnOnce(&mut serde_json::Value), script: &str) {
        let mut v = isorun::spec::default_json(&["/bin/sh".into(), "-c".into(), script.into()]);
        f(&mut v);
        isorun::spec::write_config(&self.bundle, &v).unwrap();
        self.regive();
    }

    pub fn cmd(&self) -> Command {
        let mut c = match &self.user {
            Some(u) => u.command(self.dir.path().join("isorun")),
            None => Command::new(isorun_bin()),
        };
        c.arg("--root").arg(&self.root).stdin(Stdio::null());
        c
    }

    /// `isorun <args...>`, output captured.
    pub fn isorun(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// `isorun run` of the bundle.
    pub fn run(&self) -> Output {
        self.cmd()
            .arg("run")
            .arg("--bundle")
            .arg(&self.bundle)
            .arg(&self.id)
            .output()
            .unwrap()
    }

    /// Nothing of container `id` remains: state dir, cgroups, mounts under
    /// the rig, processes rooted in it.
    pub fn assert_clean(&self) {
        assert!(!self.root.join(&self.id).exists(), "state dir left");
        for ctl in ["memory", "pids", "cpu", "cpuset", "devices", "blkio"] {
            let p = Path::new("/sys/fs/cgroup")
                .join(ctl)
                .join("isorun")
                .join(&self.id);
            assert!(!p.exists(), "cgroup {} left", p.display());
        }
        let here = self.dir.path().display().to_string();
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mounts.contains(&here), "mount under {here} left");
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            if let Ok(cwd) = std::fs::read_link(e.path().join("cwd")) {
                assert!(
                    !cwd.starts_with(self.dir.path()),
                    "process {:?} left",
                    e.file_name()
                );
            }
        }
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
