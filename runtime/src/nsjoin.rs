//! Joining existing namespaces named by `linux.namespaces[].path` (OCI
//! runtime spec, "Namespaces"; setns(2)). Podman hands every container a
//! network namespace it prepared (`/run/netns/netns-...`).
//!
//! isorun joins network, ipc, uts, cgroup and mount namespaces by path in
//! the container process right after clone(2) (a joined mount namespace
//! gets the root file system set up in it, as a new one would). A pid
//! namespace is entered by the runtime before the clone (setns(2) with
//! CLONE_NEWPID changes the namespace of the caller's next child only) and
//! left again right after. User and time namespaces by path are refused
//! with the field named.

use crate::error::{Error, Result};
use oci_spec::runtime::LinuxNamespaceType;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One namespace to join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Join {
    /// "net", "ipc", "uts", "cgroup", "mnt" or "pid".
    pub kind: String,
    pub path: PathBuf,
}

impl Join {
    fn flag(&self) -> nix::sched::CloneFlags {
        use nix::sched::CloneFlags as F;
        match self.kind.as_str() {
            "net" => F::CLONE_NEWNET,
            "ipc" => F::CLONE_NEWIPC,
            "uts" => F::CLONE_NEWUTS,
            "mnt" => F::CLONE_NEWNS,
            "pid" => F::CLONE_NEWPID,
            _ => F::CLONE_NEWCGROUP,
        }
    }
}

/// The join for a namespace entry with a path, or the refusal naming it.
pub fn plan(i: usize, typ: LinuxNamespaceType, path: PathBuf) -> Result<Join> {
    let field = format!("linux.namespaces[{i}].path");
    let kind = match typ {
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Pid => "pid",
        t => {
            return Err(Error::Unsupported {
                field,
                why: format!("joining an existing {t} namespace is not supported"),
            })
        }
    };
    if !path.is_absolute() {
        return Err(Error::Invalid {
            field,
            why: format!("{} is not an absolute path", path.display()),
        });
    }
    Ok(Join {
        kind: kind.into(),
        path,
    })
}

fn setns(j: &Join, f: &std::fs::File) -> Result<()> {
    nix::sched::setns(f, j.flag()).map_err(|e| Error::Sys {
        op: format!("setns {} namespace {}", j.kind, j.path.display()),
        err: e,
    })
}

/// setns(2) into each namespace but pid (the caller is the single-threaded
/// container process, not yet in its root file system). Every path is
/// opened first: once in another mount namespace, a path such as
/// /run/netns/x would name something else.
pub fn join(all: &[Join]) -> Result<()> {
    let mut files = Vec::new();
    for j in all.iter().filter(|j| j.kind != "pid") {
        let f = std::fs::File::open(&j.path).map_err(crate::error::io("open", &j.path))?;
        files.push((j, f));
    }
    for (j, f) in &files {
        setns(j, f)?;
    }
    Ok(())
}

/// In the runtime, before clone(2): enter the pid namespace to join, if
/// any, for the next child only. Returns the runtime's own pid namespace
/// for [`leave_pid`].
pub fn enter_pid(all: &[Join]) -> Result<Option<std::fs::File>> {
    let Some(j) = all.iter().find(|j| j.kind == "pid") else {
        return Ok(None);
    };
    let own = std::path::Path::new("/proc/self/ns/pid");
    let mine = std::fs::File::open(own).map_err(crate::error::io("open", own))?;
    let f = std::fs::File::open(&j.path).map_err(crate::error::io("open", &j.path))?;
    setns(j, &f)?;
    Ok(Some(mine))
}

/// After clone(2): children of the runtime (hooks) are in its own pid
/// namespace again.
pub fn leave_pid(mine: Option<std::fs::File>) -> Result<()> {
    match mine {
        Some(f) => nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWPID).map_err(
            crate::error::sys("setns back to the runtime's pid namespace"),
        ),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_are_planned_user_and_relative_paths_refused() {
        let j = plan(1, LinuxNamespaceType::Network, "/run/netns/x".into()).unwrap();
        assert_eq!(j.kind, "net");
        assert_eq!(
            plan(0, LinuxNamespaceType::Pid, "/proc/1/ns/pid".into())
                .unwrap()
                .kind,
            "pid"
        );
        assert_eq!(
            plan(0, LinuxNamespaceType::Mount, "/proc/1/ns/mnt".into())
                .unwrap()
                .kind,
            "mnt"
        );
        let e = plan(0, LinuxNamespaceType::User, "/proc/1/ns/user".into()).unwrap_err();
        assert!(e.to_string().contains("linux.namespaces[0].path"), "{e}");
        assert!(plan(0, LinuxNamespaceType::Ipc, "relative".into()).is_err());
    }

    #[test]
    fn entering_no_pid_namespace_is_a_no_op() {
        let none = plan(0, LinuxNamespaceType::Uts, "/proc/1/ns/uts".into()).unwrap();
        let mine = enter_pid(&[none]).unwrap();
        assert!(mine.is_none());
        leave_pid(mine).unwrap();
    }
}
