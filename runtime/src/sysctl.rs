//! Namespaced sysctls from `linux.sysctl` (OCI runtime spec, "Sysctl";
//! sysctl(8), proc(5) /proc/sys). Podman sets `net.ipv4.ping_group_range`
//! by default.
//!
//! As runc, only sysctls that belong to a namespace the container owns
//! are accepted (a write would otherwise change the host): IPC ones
//! (`kernel.msg*`, `kernel.sem`, `kernel.shm*`, `fs.mqueue.*`) need an ipc
//! namespace, `net.*` a network namespace, `kernel.hostname` and
//! `kernel.domainname` a uts namespace. [`check`] is pure; [`apply`] writes
//! `/proc/sys/<name with dots as slashes>` from inside the container's
//! namespaces, before /proc/sys is made read-only.

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Which namespaces the container has of its own (new or joined by path).
#[derive(Debug, Clone, Copy, Default)]
pub struct Owned {
    pub ipc: bool,
    pub net: bool,
    pub uts: bool,
}

const IPC: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// Refuse a sysctl that is not namespaced or whose namespace the container
/// does not have; also names that could leave /proc/sys.
pub fn check(sysctls: &BTreeMap<String, String>, owned: Owned) -> Result<()> {
    for (name, value) in sysctls {
        let field = format!("linux.sysctl.{name}");
        let bad = |why: String| {
            Err(Error::Invalid {
                field: field.clone(),
                why,
            })
        };
        if name.is_empty()
            || name.split(['.', '/']).any(|c| c.is_empty() || c == "..")
            || name.contains('\0')
        {
            return bad(format!("{name:?} is not a sysctl name"));
        }
        if value.contains('\0') {
            return bad("value contains a NUL byte".into());
        }
        let ns = if IPC.contains(&name.as_str()) || name.starts_with("fs.mqueue.") {
            ("ipc", owned.ipc)
        } else if name.starts_with("net.") {
            ("network", owned.net)
        } else if name == "kernel.hostname" || name == "kernel.domainname" {
            ("uts", owned.uts)
        } else {
            return Err(Error::Unsupported {
                field,
                why: "not a namespaced sysctl: setting it would change the host".into(),
            });
        };
        if !ns.1 {
            return bad(format!("needs a {} namespace of the container's own", ns.0));
        }
    }
    Ok(())
}

/// The identity (device, inode) of a namespace file such as
/// /proc/self/ns/net; None when it cannot be read (another user's
/// process).
pub fn ns_id(p: &Path) -> Option<(u64, u64)> {
    nix::sys::stat::stat(p).ok().map(|s| (s.st_dev, s.st_ino))
}

/// runc's isHostNetNS: a container that joined a network namespace by
/// path may not set `net.*` sysctls when that namespace is the runtime's
/// own (`before`, read before joining) or host init's (`host`): the write
/// would change the host. `now` is the namespace joined; `path` is the
/// config's path, for the message.
pub fn refuse_host_net(
    sysctls: &BTreeMap<String, String>,
    path: &Path,
    now: Option<(u64, u64)>,
    before: Option<(u64, u64)>,
    host: Option<(u64, u64)>,
) -> Result<()> {
    let Some(name) = sysctls.keys().find(|k| k.starts_with("net.")) else {
        return Ok(());
    };
    let Some(now) = now else {
        // Fail closed: an unknown namespace may be the host's.
        return Err(Error::Init(format!(
            "linux.sysctl.{name}: cannot identify the network namespace joined from {}",
            path.display()
        )));
    };
    if Some(now) == before || Some(now) == host {
        return Err(Error::Invalid {
            field: format!("linux.sysctl.{name}"),
            why: format!(
                "the container joined the host's network namespace ({}): setting it would change the host",
                path.display()
            ),
        });
    }
    Ok(())
}

/// The /proc/sys file of a sysctl name (dots become slashes, as sysctl(8)).
pub fn path(proc_sys: &Path, name: &str) -> PathBuf {
    proc_sys.join(name.replace('.', "/"))
}

/// Write each value; the caller is in the container's namespaces.
pub fn apply(proc_sys: &Path, sysctls: &BTreeMap<String, String>) -> Result<()> {
    for (name, value) in sysctls {
        let p = path(proc_sys, name);
        std::fs::write(&p, value).map_err(|e| {
            Error::Init(format!(
                "sysctl {name}={value:?}: writing {}: {e}",
                p.display()
            ))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(k: &str, v: &str) -> BTreeMap<String, String> {
        [(k.to_string(), v.to_string())].into()
    }

    #[test]
    fn namespaced_sysctls_need_their_namespace() {
        let all = Owned {
            ipc: true,
            net: true,
            uts: true,
        };
        check(&one("net.ipv4.ping_group_range", "0 0"), all).unwrap();
        check(&one("kernel.shmmax", "1"), all).unwrap();
        check(&one("fs.mqueue.msg_max", "10"), all).unwrap();
        let e = check(&one("net.ipv4.ip_forward", "1"), Owned::default()).unwrap_err();
        assert!(e.to_string().contains("network namespace"), "{e}");
        let e = check(&one("kernel.sem", "1"), Owned::default()).unwrap_err();
        assert!(e.to_string().contains("ipc namespace"), "{e}");
    }

    #[test]
    fn host_wide_and_malformed_names_are_refused() {
        let all = Owned {
            ipc: true,
            net: true,
            uts: true,
        };
        let e = check(&one("vm.swappiness", "1"), all).unwrap_err();
        assert!(e.to_string().contains("linux.sysctl.vm.swappiness"), "{e}");
        assert!(check(&one("net..x", "1"), all).is_err());
        assert!(check(&one("net/../../etc", "1"), all).is_err());
        assert_eq!(
            path(Path::new("/proc/sys"), "net.ipv4.ping_group_range"),
            Path::new("/proc/sys/net/ipv4/ping_group_range")
        );
    }

    #[test]
    fn net_sysctls_are_refused_in_the_hosts_network_namespace() {
        let net = one("net.ipv4.ping_group_range", "0 0");
        let p = Path::new("/run/netns/x");
        let (own, host, other) = (Some((4, 1)), Some((4, 2)), Some((4, 3)));
        let e = refuse_host_net(&net, p, own, own, host)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("linux.sysctl.net.ipv4.ping_group_range") && e.contains("host"),
            "{e}"
        );
        assert!(refuse_host_net(&net, p, host, own, host).is_err());
        assert!(
            refuse_host_net(&net, p, None, own, host).is_err(),
            "fails closed"
        );
        refuse_host_net(&net, p, other, own, host).unwrap();
        refuse_host_net(&net, p, other, own, None).unwrap();
        // Only net.* sysctls are about the network namespace.
        refuse_host_net(&one("kernel.shmmax", "1"), p, own, own, host).unwrap();
        let me = ns_id(Path::new("/proc/self/ns/net"));
        assert!(me.is_some());
        assert_eq!(me, ns_id(Path::new("/proc/thread-self/ns/net")));
    }

    #[test]
    fn apply_writes_the_files() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("net/ipv4")).unwrap();
        apply(d.path(), &one("net.ipv4.ping_group_range", "0 0")).unwrap();
        let got = std::fs::read_to_string(d.path().join("net/ipv4/ping_group_range")).unwrap();
        assert_eq!(got, "0 0");
    }
}
