//! The Docker daemon setup: the seed's exact scenario. Users A and B are
//! added to the `docker` group, whose members may use the daemon's socket
//! (`/var/run/docker.sock`, root:docker 0660); A starts a container, B acts
//! on it. The image is imported from the check's tar (no registry); image
//! and containers carry `org.isobench.owner=<pid>` so that the crash sweep
//! removes them after kill -9, and the users leave the group at teardown
//! (after kill -9 the users themselves are removed by the permission sweep,
//! and their group membership with them).

use super::{need, params, SHARED_DAEMON, SLEEP};
use crate::env::docker::OWNER_LABEL;
use crate::experiment::permissions::users::{self, TestUsers};
use crate::experiment::permissions::{exec_argv, user, Action, Op, Setup, Who};
use crate::experiment::{Interrupt, Never};
use anyhow::{anyhow, bail, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The group whose members may use the daemon.
pub const DOCKER_GROUP: &str = "docker";

/// The host's Docker daemon, shared through the `docker` group.
pub struct DockerDaemon {
    image_tar: PathBuf,
    image: String,
    /// Users added to the group (removed at teardown).
    added: Vec<String>,
    imported: bool,
}

impl DockerDaemon {
    pub fn new(image_tar: &Path) -> DockerDaemon {
        DockerDaemon {
            image_tar: image_tar.to_path_buf(),
            image: format!("isobench-perm-{}:latest", std::process::id()),
            added: Vec::new(),
            imported: false,
        }
    }

    fn label(&self) -> String {
        format!("{OWNER_LABEL}={}", std::process::id())
    }
}

/// Whether `user` is listed in `group`'s line of /etc/group.
fn in_group(group: &str, user: &str) -> bool {
    std::fs::read_to_string("/etc/group")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() == 4 && f[0] == group).then(|| f[3].to_string())
        })
        .any(|members| members.split(',').any(|m| m == user))
}

impl Setup for DockerDaemon {
    fn id(&self) -> String {
        "docker-daemon".into()
    }
    fn params(&self) -> BTreeMap<String, String> {
        params(
            SHARED_DAEMON,
            "docker",
            "rootful",
            "the host's Docker daemon; A and B in the docker group, which may use its socket (root:docker 0660); both run the docker CLI",
        )
    }
    fn has_exec(&self) -> bool {
        true
    }
    fn prepare(&mut self, users: &TestUsers, dir: &Path, stop: &dyn Interrupt) -> Result<()> {
        if let Some(why) = crate::env::docker::daemon_unavailable() {
            bail!("{why}");
        }
        if !std::fs::read_to_string("/etc/group")
            .unwrap_or_default()
            .lines()
            .any(|l| l.starts_with(&format!("{DOCKER_GROUP}:")))
        {
            bail!("no {DOCKER_GROUP} group on this host (the Docker package makes it)");
        }
        for u in [&users.a, &users.b] {
            self.added.push(u.name.clone());
            // usermod, not gpasswd: gpasswd reads the group's line before it
            // takes the lock and writes that copy back, so two checks
            // changing the docker group at once lose one's change (seen:
            // 9 lost updates in 120 concurrent add/remove pairs; usermod
            // none), leaving a user in the group or not added.
            need(
                users::shadow("usermod", &["-a", "-G", DOCKER_GROUP, &u.name], dir, stop)?,
                &format!("usermod -a -G {DOCKER_GROUP} {}", u.name),
            )?;
        }
        let mut imp = Command::new("docker");
        imp.arg("import")
            .arg("--change")
            .arg(format!("LABEL {}", self.label()))
            .arg(&self.image_tar)
            .arg(&self.image);
        self.imported = true;
        need(
            users::run(imp, dir, Duration::from_secs(60), stop)?,
            "docker import",
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
        let mut c = user(users, who).command("docker");
        match op {
            Op::Create => c
                .args(["run", "--detach", "--name", cid, "--network", "none"])
                .args(["--label", &self.label()])
                .args([
                    "--ulimit",
                    "nofile=1024:1024",
                    "--ulimit",
                    "nproc=1024:1024",
                ])
                .arg(&self.image)
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
    fn teardown(&mut self, _users: &TestUsers, dir: &Path) -> Result<()> {
        let mut first: Option<anyhow::Error> = None;
        if std::mem::take(&mut self.imported) {
            let filter = format!("label={}", self.label());
            let ps = Command::new("docker")
                .args(["ps", "-aq", "--filter", &filter])
                .output();
            if let Ok(o) = ps {
                for id in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                    let mut rm = Command::new("docker");
                    rm.args(["rm", "--force", id]);
                    let _ = users::run_always(rm, dir, Duration::from_secs(30));
                }
            }
            let mut rmi = Command::new("docker");
            rmi.args(["rmi", "--force", &self.image]);
            if let Err(e) = users::run_always(rmi, dir, Duration::from_secs(30)) {
                first.get_or_insert(e);
            }
        }
        for name in std::mem::take(&mut self.added) {
            if !in_group(DOCKER_GROUP, &name) {
                continue;
            }
            // One try: `shadow` already waits out a held lock, and usermod
            // loses no concurrent update (see prepare).
            let why =
                match users::shadow("usermod", &["-r", "-G", DOCKER_GROUP, &name], dir, &Never) {
                    Ok(o) => o.why(),
                    Err(e) => format!("{e:#}"),
                };
            if in_group(DOCKER_GROUP, &name) {
                first.get_or_insert(anyhow!(
                    "{name} is still in the {DOCKER_GROUP} group (usermod -r: {why})"
                ));
            }
        }
        first.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_docker_setup_is_a_shared_daemon_with_exec() {
        let s = DockerDaemon::new(Path::new("/x/image.tar"));
        assert_eq!(s.id(), "docker-daemon");
        assert_eq!(s.params()["model"], SHARED_DAEMON);
        assert_eq!(s.params()["engine"], "docker");
        assert!(s.has_exec());
        assert_eq!(s.label(), format!("{OWNER_LABEL}={}", std::process::id()));
    }
}
