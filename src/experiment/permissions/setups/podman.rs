//! The podman setups: rootful podman's API service shared by a group (the
//! daemon model) and each user's rootless podman.

use super::{kill_naming, mkdir, need, params, umount_under, PER_USER, SHARED_DAEMON, SLEEP};
use crate::experiment::permissions::users::{self, set_mode, TestUsers};
use crate::experiment::permissions::{exec_argv, user, Action, Op, Setup, Who};
use crate::experiment::Interrupt;
use anyhow::{anyhow, bail, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Image name of the podman setups.
const IMAGE: &str = "localhost/isobench-perm:latest";
/// Global flags podman needs here: runc (crun refuses hybrid cgroup hosts),
/// cgroupfs (no systemd), events in a file (no journald).
const PODMAN_GLOBAL: [&str; 6] = [
    "--runtime",
    "runc",
    "--cgroup-manager",
    "cgroupfs",
    "--events-backend",
    "file",
];

/// The podman commands of `op` (`base`: the command up to its global flags).
fn podman_op(base: impl Fn() -> Command, op: &Op, cid: &str, marker: &str) -> Vec<Command> {
    let mut c = base();
    match op {
        Op::Create => c
            .args(["run", "--detach", "--name", cid, "--network", "none"])
            .args([
                "--ulimit",
                "nofile=1024:1024",
                "--ulimit",
                "nproc=1024:1024",
            ])
            .arg(IMAGE)
            .args(SLEEP),
        Op::Act(Action::State) => c.args([
            "container",
            "inspect",
            "--format",
            "{{.State.Status}} {{.State.Pid}}",
            cid,
        ]),
        Op::Act(Action::Exec) => c.args(["exec", cid]).args(exec_argv(marker)),
        Op::Act(Action::Kill) => c.args(["kill", "--signal", "KILL", cid]),
        Op::Act(Action::Delete) => c.args(["rm", "--force", cid]),
    };
    vec![c]
}

/// Rootful podman's API service on a socket the users' group may use.
pub struct PodmanService {
    dir: PathBuf,
    sock: PathBuf,
    image_tar: PathBuf,
    service: Option<Child>,
}

impl PodmanService {
    pub fn new(image_tar: &Path) -> PodmanService {
        PodmanService {
            dir: PathBuf::new(),
            sock: PathBuf::new(),
            image_tar: image_tar.to_path_buf(),
            service: None,
        }
    }

    /// Root's podman on the setup's own storage (never the host's).
    fn root_podman(&self) -> Command {
        let mut c = Command::new("podman");
        c.args(PODMAN_GLOBAL)
            .arg("--root")
            .arg(self.dir.join("root"))
            .arg("--runroot")
            .arg(self.dir.join("run"))
            .arg("--tmpdir")
            .arg(self.dir.join("tmp"));
        c
    }

    fn url(&self) -> String {
        format!("unix://{}", self.sock.display())
    }
}

impl Setup for PodmanService {
    fn id(&self) -> String {
        "podman-service".into()
    }
    fn params(&self) -> BTreeMap<String, String> {
        params(
            SHARED_DAEMON,
            "podman",
            "rootful",
            "rootful podman API service (podman system service) on a socket owned by the users' group, mode 0660 (the docker-group model); both users run podman --url unix://...",
        )
    }
    fn has_exec(&self) -> bool {
        true
    }
    fn prepare(&mut self, users: &TestUsers, dir: &Path, stop: &dyn Interrupt) -> Result<()> {
        crate::env::column::Engine::Podman
            .locate()
            .ok_or_else(|| anyhow!("podman not installed (apt-get install podman)"))?;
        self.dir = dir.join(self.id());
        for d in ["root", "run", "tmp"] {
            mkdir(&self.dir.join(d), 0o700, None)?;
        }
        let sock_dir = self.dir.join("sock");
        mkdir(&sock_dir, 0o750, Some((0, users.gid)))?;
        self.sock = sock_dir.join("podman.sock");
        let mut imp = self.root_podman();
        imp.arg("import").arg(&self.image_tar).arg(IMAGE);
        need(
            users::run(imp, dir, Duration::from_secs(60), stop)?,
            "podman import",
        )?;
        let mut svc = self.root_podman();
        svc.args(["system", "service", "--time=0"])
            .arg(self.url())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(
                std::fs::File::create(self.dir.join("service.log"))
                    .context("cannot create the service log")?,
            );
        // Why: the service dies with isobench, even after kill -9.
        crate::env::process::die_with_parent(&mut svc);
        self.service = Some(svc.spawn().context("cannot start podman system service")?);
        let t0 = Instant::now();
        while !self.sock.exists() {
            if let Some(s) = self
                .service
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                let log = std::fs::read_to_string(self.dir.join("service.log")).unwrap_or_default();
                bail!("podman system service exited ({s}): {}", log.trim());
            }
            if t0.elapsed() > Duration::from_secs(15) {
                bail!("podman system service made no socket in 15 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // The docker-group model: the group may connect.
        crate::sys::chown(&self.sock, 0, users.gid).context("cannot chown the podman socket")?;
        set_mode(&self.sock, 0o660)
    }
    fn commands(
        &self,
        users: &TestUsers,
        who: Who,
        op: &Op,
        cid: &str,
        marker: &str,
    ) -> Vec<Command> {
        let u = user(users, who);
        let url = self.url();
        podman_op(
            || {
                let mut c = u.command("podman");
                c.arg("--url").arg(&url);
                c
            },
            op,
            cid,
            marker,
        )
    }
    fn teardown(&mut self, _users: &TestUsers, dir: &Path) -> Result<()> {
        let mut first = None;
        if self.service.is_some() {
            let mut rm = self.root_podman();
            rm.arg("--url")
                .arg(self.url())
                .args(["rm", "--all", "--force"]);
            if let Err(e) = users::run_always(rm, dir, Duration::from_secs(30)) {
                first.get_or_insert(e);
            }
        }
        if let Some(mut c) = self.service.take() {
            crate::sys::sigterm(c.id() as i32);
            let t0 = Instant::now();
            while c.try_wait().ok().flatten().is_none() {
                if t0.elapsed() > Duration::from_secs(5) {
                    let _ = c.kill();
                    let _ = c.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        if !self.dir.as_os_str().is_empty() {
            let mut rm = self.root_podman();
            rm.args(["rm", "--all", "--force"]);
            let _ = users::run_always(rm, dir, Duration::from_secs(30));
            kill_naming(&self.dir);
            umount_under(&self.dir);
        }
        first.map_or(Ok(()), Err)
    }
}

/// Rootless podman of each user, with its own storage; B points podman at
/// A's storage (`--root`, `--runroot`).
pub struct RootlessPodman {
    image_tar: PathBuf,
    imported: bool,
}

impl RootlessPodman {
    pub fn new(image_tar: &Path) -> RootlessPodman {
        RootlessPodman {
            image_tar: image_tar.to_path_buf(),
            imported: false,
        }
    }
}

impl Setup for RootlessPodman {
    fn id(&self) -> String {
        "podman-rootless".into()
    }
    fn params(&self) -> BTreeMap<String, String> {
        params(
            PER_USER,
            "podman",
            "rootless",
            "rootless podman of each user with its own storage (~/.local/share/containers, $XDG_RUNTIME_DIR/containers); B points --root and --runroot at A's",
        )
    }
    fn has_exec(&self) -> bool {
        true
    }
    fn prepare(&mut self, users: &TestUsers, dir: &Path, stop: &dyn Interrupt) -> Result<()> {
        crate::env::column::Engine::Podman
            .locate()
            .ok_or_else(|| anyhow!("podman not installed (apt-get install podman)"))?;
        crate::locate::which("newuidmap")
            .ok_or_else(|| anyhow!("newuidmap not installed (apt-get install uidmap)"))?;
        let mut imp = users.a.command("podman");
        imp.args(PODMAN_GLOBAL)
            .arg("import")
            .arg(&self.image_tar)
            .arg(IMAGE);
        self.imported = true;
        need(
            users::run(imp, dir, Duration::from_secs(60), stop)?,
            "podman import as A",
        )?;
        Ok(())
    }
    fn commands(
        &self,
        users: &TestUsers,
        who: Who,
        op: &Op,
        cid: &str,
        marker: &str,
    ) -> Vec<Command> {
        let u = user(users, who);
        let a = &users.a;
        podman_op(
            || {
                let mut c = u.command("podman");
                c.args(PODMAN_GLOBAL);
                if who == Who::Other {
                    c.arg("--root")
                        .arg(a.home.join(".local/share/containers/storage"))
                        .arg("--runroot")
                        .arg(a.runtime_dir.join("containers"));
                }
                c
            },
            op,
            cid,
            marker,
        )
    }
    fn teardown(&mut self, users: &TestUsers, dir: &Path) -> Result<()> {
        if std::mem::take(&mut self.imported) {
            let mut rm = users.a.command("podman");
            rm.args(PODMAN_GLOBAL).args(["rm", "--all", "--force"]);
            let _ = users::run_always(rm, dir, Duration::from_secs(30));
            // Its pause process and conmon go when the user's processes are
            // killed, before the user is deleted.
            users::kill_uid(users.a.uid);
        }
        Ok(())
    }
}
