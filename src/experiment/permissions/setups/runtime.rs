//! An OCI runtime CLI (runc, crun, isorun) shared three ways: one rootful
//! state root the group reaches through sudo, one group-writable state root
//! each user uses rootless, or each user's own state root.

use super::{
    mkdir, need, params, PER_USER, SHARED_ROOT_ROOTFUL, SHARED_ROOT_ROOTLESS, SLEEP, SUDOERS_DIR,
};
use crate::experiment::permissions::users::{self, set_mode, TestUsers};
use crate::experiment::permissions::{exec_argv, user, Action, Op, Setup, Who};
use crate::experiment::Interrupt;
use anyhow::{anyhow, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

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
    fn write_bundle(&self, users: &TestUsers, dir: &Path, stop: &dyn Interrupt) -> Result<()> {
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
            users::run(spec, dir, Duration::from_secs(30), stop)?,
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
    fn install_sudo(&mut self, users: &TestUsers, dir: &Path, stop: &dyn Interrupt) -> Result<()> {
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
            users::run(check, dir, Duration::from_secs(30), stop)?,
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
        // runc, crun and isorun all have runc's `exec` verb.
        true
    }
    fn prepare(&mut self, users: &TestUsers, dir: &Path, stop: &dyn Interrupt) -> Result<()> {
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
        self.write_bundle(users, dir, stop)?;
        if self.sharing == Sharing::Sudo {
            self.install_sudo(users, dir, stop)?;
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
            Op::Act(Action::Exec) => {
                let mut c = base();
                c.args(["exec", cid]).args(exec_argv(marker));
                vec![c]
            }
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
