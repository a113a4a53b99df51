//! Joining existing namespaces named by `linux.namespaces[].path` (OCI
//! runtime spec, "Namespaces"; setns(2)). Podman hands every container a
//! network namespace it prepared (`/run/netns/netns-...`).
//!
//! isorun joins network, ipc, uts and cgroup namespaces by path, in the
//! container process right after clone(2). Joining a pid namespace would
//! need setns before the clone, and a mount namespace by path would bypass
//! the root file system set-up: both are refused with the field named.

use crate::error::{Error, Result};
use oci_spec::runtime::LinuxNamespaceType;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One namespace to join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Join {
    /// "net", "ipc", "uts" or "cgroup".
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

/// setns(2) into each namespace (the caller is the single-threaded
/// container process, not yet in its root file system).
pub fn join(all: &[Join]) -> Result<()> {
    for j in all {
        let f = std::fs::File::open(&j.path).map_err(crate::error::io("open", &j.path))?;
        nix::sched::setns(&f, j.flag()).map_err(|e| Error::Sys {
            op: format!("setns {} namespace {}", j.kind, j.path.display()),
            err: e,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_joins_pid_and_mount_are_refused() {
        let j = plan(1, LinuxNamespaceType::Network, "/run/netns/x".into()).unwrap();
        assert_eq!(j.kind, "net");
        let e = plan(0, LinuxNamespaceType::Pid, "/proc/1/ns/pid".into()).unwrap_err();
        assert!(e.to_string().contains("linux.namespaces[0].path"), "{e}");
        assert!(plan(0, LinuxNamespaceType::Mount, "/proc/1/ns/mnt".into()).is_err());
        assert!(plan(0, LinuxNamespaceType::Ipc, "relative".into()).is_err());
    }
}
