//! The setups of the permission check (claim C6), from the most shared to
//! the least:
//! - [`PodmanService`]: the daemon model. Rootful podman's API service
//!   (`podman system service`) on a socket owned by the users' group, mode
//!   0660 — what membership of the `docker` group gives. Both users drive it
//!   with `podman --url unix://...`.
//! - [`RuntimeSetup`] with [`Sharing::Sudo`]: a rootful OCI runtime CLI
//!   (runc, crun, isorun) on one state root, which the group may run as root
//!   through a sudo rule naming only a wrapper that fixes `--root`.
//! - [`RuntimeSetup`] with [`Sharing::Group`]: each user runs the runtime
//!   itself (rootless: a user namespace) on one group-writable state root.
//! - [`RuntimeSetup`] with [`Sharing::PerUser`] and [`RootlessPodman`]: per-user
//!   rootless engines, each with its own state; B points the engine at A's
//!   state (`--root`, podman's `--root`/`--runroot`).
//!
//! Every setup works in its own directory under the check's work directory
//! and undoes what it made in `teardown` (service stopped, sudo rule removed,
//! containers deleted, mounts under the work directory detached).

use super::users::{self, set_mode, Output, TestUsers};
use super::{user, Action, Op, Setup, Who};
use anyhow::{anyhow, bail, Context, Result};
use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Where sudo reads drop-in rules.
pub const SUDOERS_DIR: &str = "/etc/sudoers.d";
/// Image name of the podman setups.
const IMAGE: &str = "localhost/isobench-perm:latest";
/// The container's process: long enough for the check, short enough that a
/// container a killed check left ends by itself.
const SLEEP: [&str; 3] = ["/bin/busybox", "sleep", "120"];
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

fn params(model: &str, engine: &str, privilege: &str, how: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("model".to_string(), model.to_string()),
        ("engine".to_string(), engine.to_string()),
        ("privilege".to_string(), privilege.to_string()),
        ("how".to_string(), how.to_string()),
    ])
}

/// Model keys, also read by the report.
pub const SHARED_DAEMON: &str = "shared daemon";
pub const SHARED_ROOT_ROOTFUL: &str = "shared state root, rootful";
pub const SHARED_ROOT_ROOTLESS: &str = "shared state root, rootless";
pub const PER_USER: &str = "per-user rootless";

fn mkdir(p: &Path, mode: u32, owner: Option<(u32, u32)>) -> Result<()> {
    std::fs::create_dir_all(p).with_context(|| format!("cannot create {}", p.display()))?;
    if let Some((u, g)) = owner {
        std::os::unix::fs::chown(p, Some(u), Some(g))
            .with_context(|| format!("cannot chown {}", p.display()))?;
    }
    set_mode(p, mode)
}

fn need(o: Output, what: &str) -> Result<Output> {
    if o.ok {
        Ok(o)
    } else {
        bail!("{what}: {}", o.why())
    }
}

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
        Op::Act(Action::Exec) => c.args(["exec", cid, "/bin/busybox", "echo", marker]),
        Op::Act(Action::Kill) => c.args(["kill", "--signal", "KILL", cid]),
        Op::Act(Action::Delete) => c.args(["rm", "--force", cid]),
    };
    vec![c]
}

/// Detach every mount under `dir` (deepest first): overlays an engine left.
pub fn umount_under(dir: &Path) {
    let Ok(mi) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut points: Vec<PathBuf> = crate::sweep::scan::mount_points(&mi)
        .into_iter()
        .filter(|p| p.starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for p in points {
        let _ = nix::mount::umount2(&p, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// SIGKILL every process whose command line names `dir` (each by its pid):
/// podman's `exec` leaves a conmon behind for minutes (`--exit-delay`).
pub fn kill_naming(dir: &Path) {
    let needle = dir.as_os_str().as_encoded_bytes();
    if needle.len() < 8 {
        return;
    }
    let me = std::process::id() as i32;
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        if cmd.windows(needle.len()).any(|w| w == needle) {
            // SAFETY: kill(2) on a pid; no memory is shared.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
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
    fn prepare(&mut self, users: &TestUsers, dir: &Path) -> Result<()> {
        crate::locate::which("podman")
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
            users::run(imp, dir, Duration::from_secs(60))?,
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
        // SAFETY: prctl(2) in the forked child before exec, async-signal-safe.
        unsafe {
            svc.pre_exec(|| {
                // Why: the service dies with isobench, even after kill -9.
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
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
        std::os::unix::fs::chown(&self.sock, Some(0), Some(users.gid))
            .context("cannot chown the podman socket")?;
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
            // SAFETY: kill(2) on our own child's pid.
            unsafe {
                libc::kill(c.id() as i32, libc::SIGTERM);
            }
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

/// How a runtime's state root is shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// One root-owned state root; the group runs the runtime as root through
    /// a sudo rule.
    Sudo,
    /// One group-writable state root; each user runs the runtime rootless.
    Group,
    /// Each user's own state root (mode 0700), rootless.
    PerUser,
}

/// An OCI runtime CLI (runc, crun, isorun) shared per [`Sharing`].
pub struct RuntimeSetup {
    rt: String,
    bin: Option<PathBuf>,
    sharing: Sharing,
    rootfs: PathBuf,
    dir: PathBuf,
    state: PathBuf,
    bundle: PathBuf,
    wrapper: PathBuf,
    sudoers: Option<PathBuf>,
}

impl RuntimeSetup {
    /// `bin`: the runtime's binary, `None` when it is not installed.
    pub fn new(rt: &str, bin: Option<PathBuf>, sharing: Sharing, rootfs: &Path) -> RuntimeSetup {
        RuntimeSetup {
            rt: rt.into(),
            bin,
            sharing,
            rootfs: rootfs.to_path_buf(),
            dir: PathBuf::new(),
            state: PathBuf::new(),
            bundle: PathBuf::new(),
            wrapper: PathBuf::new(),
            sudoers: None,
        }
    }

    fn bin(&self) -> Result<&PathBuf> {
        self.bin
            .as_ref()
            .ok_or_else(|| anyhow!("{} not installed", self.rt))
    }

    /// Write the bundle's config.json: the runtime's own `spec` (`--rootless`
    /// run as A, so that it maps A's ids), with the sleeping busybox and the
    /// shared read-only rootfs.
    fn write_bundle(&self, users: &TestUsers, dir: &Path) -> Result<()> {
        let bin = self.bin()?;
        let rootless = self.sharing != Sharing::Sudo;
        let mut spec = if rootless {
            mkdir(&self.bundle, 0o755, Some((users.a.uid, users.a.gid)))?;
            users.a.command(bin)
        } else {
            mkdir(&self.bundle, 0o755, None)?;
            Command::new(bin)
        };
        spec.arg("spec");
        if rootless {
            spec.arg("--rootless");
        }
        spec.current_dir(&self.bundle);
        need(
            users::run(spec, dir, Duration::from_secs(30))?,
            &format!(
                "{} spec{}",
                self.rt,
                if rootless { " --rootless" } else { "" }
            ),
        )?;
        let p = self.bundle.join("config.json");
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
        let mut c: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("{} is not JSON", p.display()))?;
        c["process"]["args"] = serde_json::json!(SLEEP);
        c["process"]["terminal"] = serde_json::json!(false);
        c["root"] = serde_json::json!({"path": self.rootfs, "readonly": true});
        std::fs::write(&p, serde_json::to_vec_pretty(&c)?)
            .with_context(|| format!("cannot write {}", p.display()))
    }

    /// The sudo rule and the wrapper it names: the runtime as root on the
    /// shared state root, nothing else (crun: in a private mount namespace
    /// without the hybrid cgroup2 mount, as isobench runs it).
    fn install_sudo(&mut self, users: &TestUsers, dir: &Path) -> Result<()> {
        let sudo = crate::locate::which("sudo")
            .ok_or_else(|| anyhow!("sudo not installed (apt-get install sudo)"))?;
        let visudo = crate::locate::which("visudo").unwrap_or_else(|| "/usr/sbin/visudo".into());
        let bin = self.bin()?.clone();
        let peer = isorun::peer::Peer::probe(&bin)
            .with_context(|| format!("cannot run {} --version", bin.display()))?;
        let q = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', r"'\''"));
        let exec = match &peer.hide_cgroup2 {
            Some(cg2) => format!(
                "exec /usr/bin/unshare --mount --propagation private /bin/sh -c 'umount -l \"$0\" && exec \"$@\"' {} {} --root {} \"$@\"",
                q(cg2),
                q(&bin),
                q(&self.state)
            ),
            None => format!("exec {} --root {} \"$@\"", q(&bin), q(&self.state)),
        };
        self.wrapper = self.dir.join("runtime");
        std::fs::write(
            &self.wrapper,
            format!(
                "#!/bin/sh\n# isobench permission check: {} on a shared state root\n{exec}\n",
                self.rt
            ),
        )
        .with_context(|| format!("cannot write {}", self.wrapper.display()))?;
        set_mode(&self.wrapper, 0o755)?;
        let rule = format!(
            "%{} ALL=(root) NOPASSWD: {}\n",
            users.group,
            self.wrapper.display()
        );
        let draft = self.dir.join("sudoers");
        std::fs::write(&draft, &rule)
            .with_context(|| format!("cannot write {}", draft.display()))?;
        set_mode(&draft, 0o440)?;
        let mut check = Command::new(visudo);
        check.arg("-cf").arg(&draft);
        need(
            users::run(check, dir, Duration::from_secs(30))?,
            "visudo -c",
        )?;
        mkdir(Path::new(SUDOERS_DIR), 0o755, None)?;
        let target = Path::new(SUDOERS_DIR).join(format!(
            "isobench-perm-{}-{}",
            std::process::id(),
            self.rt
        ));
        self.sudoers = Some(target.clone());
        std::fs::copy(&draft, &target)
            .with_context(|| format!("cannot write {}", target.display()))?;
        set_mode(&target, 0o440)?;
        let _ = sudo;
        Ok(())
    }
}

impl Setup for RuntimeSetup {
    fn id(&self) -> String {
        match self.sharing {
            Sharing::Sudo => format!("sudo-shared-root-{}", self.rt),
            Sharing::Group => format!("group-shared-root-{}", self.rt),
            Sharing::PerUser => format!("rootless-{}", self.rt),
        }
    }
    fn params(&self) -> BTreeMap<String, String> {
        let rt = self.rt.as_str();
        match self.sharing {
            Sharing::Sudo => params(
                SHARED_ROOT_ROOTFUL,
                rt,
                "rootful",
                &format!("{rt} run as root by both users through a sudo rule for their group, naming only a wrapper that fixes --root to one state root (root:group, mode 2770)"),
            ),
            Sharing::Group => params(
                SHARED_ROOT_ROOTLESS,
                rt,
                "rootless",
                &format!("{rt} run by each user itself (rootless, user namespace) with --root on one group-writable state root (root:group, mode 0770)"),
            ),
            Sharing::PerUser => params(
                PER_USER,
                rt,
                "rootless",
                &format!("{rt} run by each user itself (rootless) with its own state root in its runtime directory (mode 0700); B points --root at A's"),
            ),
        }
    }
    fn has_exec(&self) -> bool {
        self.rt != "isorun"
    }
    fn prepare(&mut self, users: &TestUsers, dir: &Path) -> Result<()> {
        self.bin()?;
        self.dir = dir.join(self.id());
        mkdir(&self.dir, 0o755, None)?;
        self.bundle = self.dir.join("bundle");
        self.state = match self.sharing {
            Sharing::Sudo => {
                let s = self.dir.join("state");
                mkdir(&s, 0o2770, Some((0, users.gid)))?;
                s
            }
            // No setgid bit: runc chowns files it makes there to the
            // caller's mapped ids, which a setgid group would break.
            Sharing::Group => {
                let s = self.dir.join("state");
                mkdir(&s, 0o770, Some((0, users.gid)))?;
                s
            }
            Sharing::PerUser => {
                let s = users.a.runtime_dir.join(&self.rt);
                mkdir(&s, 0o700, Some((users.a.uid, users.a.gid)))?;
                s
            }
        };
        self.write_bundle(users, dir)?;
        if self.sharing == Sharing::Sudo {
            self.install_sudo(users, dir)?;
        }
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
        let Ok(bin) = self.bin() else {
            return Vec::new();
        };
        let base = || match self.sharing {
            Sharing::Sudo => {
                let mut c = u.command("sudo");
                c.arg("-n").arg(&self.wrapper);
                c
            }
            Sharing::Group | Sharing::PerUser => {
                let mut c = u.command(bin);
                c.arg("--root").arg(&self.state);
                c
            }
        };
        let one = |args: &[&str]| {
            let mut c = base();
            c.args(args);
            c
        };
        match op {
            Op::Create => {
                let mut c = base();
                c.arg("create").arg("--bundle").arg(&self.bundle).arg(cid);
                vec![c, one(&["start", cid])]
            }
            Op::Act(Action::State) => vec![one(&["state", cid])],
            Op::Act(Action::Exec) => vec![one(&["exec", cid, "/bin/busybox", "echo", marker])],
            Op::Act(Action::Kill) => vec![one(&["kill", cid, "KILL"])],
            Op::Act(Action::Delete) => vec![one(&["delete", "--force", cid])],
        }
    }
    fn teardown(&mut self, _users: &TestUsers, dir: &Path) -> Result<()> {
        let mut first: Option<anyhow::Error> = None;
        // The privilege goes first.
        if let Some(p) = self.sudoers.take() {
            if let Err(e) = std::fs::remove_file(&p) {
                first.get_or_insert(anyhow!("cannot remove {}: {e}", p.display()));
            }
        }
        // Rootful containers the owner could not delete: root deletes them.
        if self.sharing == Sharing::Sudo && self.wrapper.is_file() {
            for e in std::fs::read_dir(&self.state)
                .into_iter()
                .flatten()
                .flatten()
            {
                let mut c = Command::new(&self.wrapper);
                c.args(["delete", "--force"]).arg(e.file_name());
                let _ = users::run_always(c, dir, Duration::from_secs(30));
            }
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
    fn prepare(&mut self, users: &TestUsers, dir: &Path) -> Result<()> {
        crate::locate::which("podman")
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
            users::run(imp, dir, Duration::from_secs(60))?,
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

/// Every setup, most shared first.
pub fn all(rootfs: &Path, image_tar: &Path, isorun_bin: &Path) -> Vec<Box<dyn Setup>> {
    let bin = |rt: &str| -> Option<PathBuf> {
        if rt == "isorun" {
            Some(isorun_bin.to_path_buf()).filter(|p| p.is_file())
        } else {
            crate::locate::which(rt)
        }
    };
    let mut v: Vec<Box<dyn Setup>> = vec![Box::new(PodmanService::new(image_tar))];
    for sharing in [Sharing::Sudo, Sharing::Group] {
        for rt in ["runc", "crun", "isorun"] {
            v.push(Box::new(RuntimeSetup::new(rt, bin(rt), sharing, rootfs)));
        }
    }
    for rt in ["isorun", "runc"] {
        v.push(Box::new(RuntimeSetup::new(
            rt,
            bin(rt),
            Sharing::PerUser,
            rootfs,
        )));
    }
    v.push(Box::new(RootlessPodman::new(image_tar)));
    v
}
