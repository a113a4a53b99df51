//! The runtime under test, bundles with a static busybox root, containers
//! driven through the runtime's command line, and the known-gap bookkeeping.

#![allow(dead_code)]

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BUSYBOX: &str = "/bin/busybox";
const APPLETS: &[&str] = &[
    "sh", "cat", "echo", "hostname", "ls", "grep", "sleep", "head", "wc", "true", "false", "id",
    "touch", "mount", "umount", "mkdir", "readlink", "stat", "test", "ulimit",
];

/// A deadline no healthy host comes near: the tests are about states
/// reached, not speed.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The runtime binary under test.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// "isorun", "runc" or "crun" (whatever the variable names).
    pub name: String,
    pub bin: PathBuf,
    /// How to start it on this host (crun on a hybrid cgroup host).
    pub peer: isorun::peer::Peer,
}

/// Name of the variable selecting the runtime.
pub const RUNTIME_ENV: &str = "ISORUN_CONFORMANCE_RUNTIME";

/// The runtime under test, or None with the skip recorded when the host
/// cannot run containers (not root, no busybox, runtime not installed).
pub fn runtime() -> Option<Runtime> {
    if !isobench_testkit::require_root("namespaces, mounts, cgroups") {
        return None;
    }
    if !Path::new(BUSYBOX).is_file() {
        isobench_testkit::missing(format!(
            "{BUSYBOX} missing (apt-get install busybox-static)"
        ));
        return None;
    }
    let name = std::env::var(RUNTIME_ENV).unwrap_or_else(|_| "isorun".into());
    let found = if name == "isorun" {
        // $ISORUN_BIN: another isorun build (the static build), as in common/.
        Some(std::env::var_os("ISORUN_BIN").map_or_else(
            || PathBuf::from(env!("CARGO_BIN_EXE_isorun")),
            PathBuf::from,
        ))
    } else {
        on_path(&name)
    };
    let Some(bin) = found else {
        isobench_testkit::missing(format!("{RUNTIME_ENV}={name}: not found on PATH"));
        return None;
    };
    match isorun::peer::Peer::probe(&bin) {
        Ok(peer) => Some(Runtime { name, bin, peer }),
        Err(e) => {
            isobench_testkit::missing(format!(
                "{RUNTIME_ENV}={name}: {} --version: {e}",
                bin.display()
            ));
            None
        }
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// Run one conformance test against the runtime under test, with the
/// known-gap rule of [`crate::GAPS`].
pub fn check(name: &str, body: impl FnOnce(&Runtime) -> Result<()>) {
    let Some(rt) = runtime() else { return };
    let name = name.trim_start_matches("conformance::");
    let gap = crate::GAPS
        .iter()
        .find(|(r, t, _)| *r == rt.name && *t == name)
        .map(|g| g.2);
    match (body(&rt), gap) {
        (Ok(()), None) => {}
        (Err(e), None) => panic!("{} fails {name}: {e:#}", rt.name),
        (Ok(()), Some(why)) => panic!(
            "{} now passes {name}, listed as a known gap ({why}): remove it from GAPS",
            rt.name
        ),
        (Err(e), Some(why)) => isobench_testkit::not_on_this_host(format!(
            "known gap of {}: {why} (fails with: {e:#})",
            rt.name
        )),
    }
}

/// Declare conformance tests: `conformance!(fn_name, |rt| body)`.
#[macro_export]
macro_rules! conformance {
    ($(#[$m:meta])* $name:ident, $body:expr) => {
        $(#[$m])*
        #[test]
        fn $name() {
            $crate::harness::check(concat!(module_path!(), "::", stringify!($name)), $body)
        }
    };
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

/// A bundle and a container id on a private state root; the container is
/// deleted (forcibly) when this drops.
pub struct Ct {
    pub rt: Runtime,
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub bundle: PathBuf,
    pub id: String,
    pub config: serde_json::Value,
}

impl Ct {
    /// A bundle whose process runs `sh -c script`, with the default config.
    pub fn new(rt: &Runtime, name: &str, script: &str) -> Ct {
        let dir = tempfile::Builder::new()
            .prefix("isorun-conformance-")
            .tempdir()
            .unwrap();
        let root = dir.path().join("state");
        let bundle = dir.path().join("bundle");
        install_busybox(&bundle.join("rootfs"));
        let config = isorun::spec::default_json(&["/bin/sh".into(), "-c".into(), script.into()]);
        Ct {
            rt: rt.clone(),
            id: format!("h19e-{name}-{}", std::process::id()),
            dir,
            root,
            bundle,
            config,
        }
    }

    pub fn rootfs(&self) -> PathBuf {
        self.bundle.join("rootfs")
    }

    /// Change the config (written before create/run).
    pub fn edit(&mut self, f: impl FnOnce(&mut serde_json::Value)) -> &mut Self {
        f(&mut self.config);
        self
    }

    pub fn write_config(&self) {
        std::fs::write(
            self.bundle.join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }

    /// The runtime with `--root`, stdin closed.
    pub fn cmd(&self) -> Command {
        let mut c = self
            .rt
            .peer
            .command([std::ffi::OsStr::new("--root"), self.root.as_os_str()]);
        c.stdin(Stdio::null());
        c
    }

    /// `<runtime> args...`, output captured.
    pub fn verb(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// `run`: the container's output is the command's.
    pub fn run(&self) -> Output {
        self.write_config();
        self.cmd()
            .arg("run")
            .arg("--bundle")
            .arg(&self.bundle)
            .arg(&self.id)
            .output()
            .unwrap()
    }

    /// `run` that must succeed; returns the container's stdout.
    pub fn run_ok(&self) -> Result<String> {
        let o = self.run();
        if !o.status.success() {
            bail!(
                "run exited {:?}: {}{}",
                o.status.code(),
                text(&o.stderr),
                text(&o.stdout)
            );
        }
        Ok(text(&o.stdout))
    }

    /// `create` with extra flags; the container's stdout and stderr go to
    /// files (a pipe would stay open as long as the container lives).
    pub fn create_with(&self, extra: &[&str]) -> Result<()> {
        self.write_config();
        let st = self
            .cmd()
            .arg("create")
            .args(extra)
            .arg("--bundle")
            .arg(&self.bundle)
            .arg(&self.id)
            .stdout(std::fs::File::create(self.dir.path().join("out")).unwrap())
            .stderr(std::fs::File::create(self.dir.path().join("err")).unwrap())
            .status()
            .unwrap();
        if !st.success() {
            bail!("create exited {:?}: {}", st.code(), self.err());
        }
        Ok(())
    }

    pub fn create(&self) -> Result<()> {
        self.create_with(&[])
    }

    /// What the container (and create) wrote to stdout so far.
    pub fn out(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("out")).unwrap_or_default()
    }

    /// What create wrote to stderr.
    pub fn err(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("err")).unwrap_or_default()
    }

    pub fn start(&self) -> Result<()> {
        let o = self.verb(&["start", &self.id]);
        if !o.status.success() {
            bail!("start exited {:?}: {}", o.status.code(), text(&o.stderr));
        }
        Ok(())
    }

    pub fn kill(&self, sig: &str) -> Result<()> {
        let o = self.verb(&["kill", &self.id, sig]);
        if !o.status.success() {
            bail!(
                "kill {sig} exited {:?}: {}",
                o.status.code(),
                text(&o.stderr)
            );
        }
        Ok(())
    }

    pub fn delete(&self) -> Output {
        self.verb(&["delete", &self.id])
    }

    /// The state JSON.
    pub fn state(&self) -> Result<serde_json::Value> {
        let o = self.verb(&["state", &self.id]);
        if !o.status.success() {
            bail!("state exited {:?}: {}", o.status.code(), text(&o.stderr));
        }
        serde_json::from_slice(&o.stdout).context("state prints JSON")
    }

    pub fn status(&self) -> String {
        self.state()
            .ok()
            .and_then(|v| v["status"].as_str().map(String::from))
            .unwrap_or_default()
    }

    pub fn pid(&self) -> Result<i32> {
        let v = self.state()?;
        v["pid"]
            .as_i64()
            .map(|p| p as i32)
            .context("state has no pid")
    }

    /// Wait until the status is `want` (at most [`PATIENCE`]).
    pub fn wait_status(&self, want: &str) -> Result<()> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let s = self.status();
            if s == want {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("status stayed {s:?}, expected {want:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Wait until `path` exists (at most [`PATIENCE`]).
    pub fn wait_file(&self, path: &Path) -> Result<()> {
        let deadline = Instant::now() + PATIENCE;
        while !path.exists() {
            if Instant::now() > deadline {
                bail!("{} never appeared", path.display());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }
}

impl Drop for Ct {
    fn drop(&mut self) {
        let _ = self.verb(&["delete", "--force", &self.id]);
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The `ns` namespace link of a process ("net:[4026531840]").
pub fn ns_of(pid: i32, ns: &str) -> Result<String> {
    let p = format!("/proc/{pid}/ns/{ns}");
    Ok(std::fs::read_link(&p)
        .with_context(|| format!("readlink {p}"))?
        .display()
        .to_string())
}

/// A process in fresh namespaces (`unshare --fork <flags> sleep`), killed
/// on drop; its pid is the unshare's, whose child holds the namespaces.
pub struct Unshared {
    child: std::process::Child,
}

impl Unshared {
    pub fn new(flags: &[&str]) -> Result<Unshared> {
        let child = Command::new("unshare")
            .args(flags)
            .args(["--fork", "--kill-child", BUSYBOX, "sleep", "600"])
            .stdin(Stdio::null())
            .spawn()
            .context("unshare (util-linux)")?;
        Ok(Unshared { child })
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The namespace file of `ns` once unshare made it (differs from ours).
    pub fn ns_path(&self, ns: &str) -> Result<PathBuf> {
        let me = ns_of(std::process::id() as i32, ns)?;
        // pid: the unshare process itself stays in our pid namespace;
        // its children's namespace is the new one.
        let file = if ns == "pid" { "pid_for_children" } else { ns };
        let p = PathBuf::from(format!("/proc/{}/ns/{file}", self.pid()));
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(l) = std::fs::read_link(&p) {
                if l.display().to_string() != me && !l.display().to_string().is_empty() {
                    return Ok(p);
                }
            }
            if Instant::now() > deadline {
                bail!("unshare never entered a new {ns} namespace");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Unshared {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
