//! isorun run by an ordinary user (runc's and crun's "rootless" mode; OCI
//! runtime spec, user namespace notes): a per-user state root and layer
//! store, a user namespace added to every container (caller's ids as 0,
//! plus the subordinate ranges of /etc/subuid and /etc/subgid), and
//! cgroups used only where the hierarchy is delegated to the user,
//! otherwise skipped with one line naming the limits that are not applied.

use crate::cgroup::{Cgroup, Hierarchy};
use crate::config::{Plan, Resources};
use crate::error::{Error, Result};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub use crate::userns::is_rootless;

/// The default state root: /run/isorun for root; for a user
/// $XDG_RUNTIME_DIR/isorun when that directory is the user's own, else
/// /tmp/isorun-UID (made 0700 and checked to be the user's).
pub fn default_state_root() -> Result<PathBuf> {
    if !is_rootless() {
        return Ok(PathBuf::from(crate::state::DEFAULT_ROOT));
    }
    let uid = nix::unistd::geteuid().as_raw();
    let xdg = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from);
    state_root_for(uid, xdg.as_deref(), Path::new("/tmp"))
}

/// [`default_state_root`] for `uid` with `xdg` and a fallback base (pure
/// but for the checks of what exists).
pub fn state_root_for(uid: u32, xdg: Option<&Path>, tmp: &Path) -> Result<PathBuf> {
    if let Some(x) = xdg.filter(|x| x.is_absolute()) {
        if std::fs::metadata(x).is_ok_and(|m| m.is_dir() && m.uid() == uid) {
            return Ok(x.join("isorun"));
        }
    }
    let d = tmp.join(format!("isorun-{uid}"));
    private_dir(&d, uid)?;
    Ok(d)
}

/// Make `d` (if absent) mode 0700 and check that it is a real directory
/// owned by `uid` that nobody else may write: a directory in a shared
/// place (/tmp) that someone else made first must not hold our state.
pub fn private_dir(d: &Path, uid: u32) -> Result<()> {
    match std::fs::create_dir(d) {
        Ok(()) => std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700))
            .map_err(crate::error::io("chmod", d))?,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(crate::error::io("mkdir", d)(e)),
    }
    let m = std::fs::symlink_metadata(d).map_err(crate::error::io("stat", d))?;
    let bad = |why: String| Error::Invalid {
        field: "--root".into(),
        why: format!("{}: {why}; remove it or pass --root DIR", d.display()),
    };
    if !m.is_dir() {
        return Err(bad("not a directory (a symlink?)".into()));
    }
    if m.uid() != uid {
        return Err(bad(format!(
            "owned by uid {}, not by you (uid {uid})",
            m.uid()
        )));
    }
    if m.mode() & 0o022 != 0 {
        return Err(bad(format!(
            "mode {:o} lets others write it",
            m.mode() & 0o777
        )));
    }
    Ok(())
}

/// The default layer store: /var/lib/isorun for root, else
/// $XDG_DATA_HOME/isorun or ~/.local/share/isorun.
pub fn default_store() -> PathBuf {
    if !is_rootless() {
        return PathBuf::from(crate::image::DEFAULT_STORE);
    }
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").map(PathBuf::from) {
        if x.is_absolute() {
            return x.join("isorun");
        }
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(format!("/tmp/isorun-{}", nix::unistd::geteuid())));
    home.join(".local/share/isorun")
}

/// Give a rootless container its user namespace: added when the config
/// has none, with the caller's default maps when it names no maps. Root
/// needs maps whenever the config asks for a user namespace.
pub fn prepare_userns(plan: &mut Plan, rootless: bool) -> Result<()> {
    if rootless {
        plan.namespaces.user = true;
        if plan.userns.is_none() {
            plan.userns = Some(crate::userns::caller_default());
        }
    } else if plan.namespaces.user && plan.userns.is_none() {
        return Err(Error::Invalid {
            field: "linux.uidMappings".into(),
            why: "a user namespace needs uidMappings and gidMappings when isorun runs as root"
                .into(),
        });
    }
    Ok(())
}

/// The limits of `res` as `name=value`, for the message when they are not
/// applied.
pub fn limits(res: &Resources) -> Vec<String> {
    let mut out = Vec::new();
    let mut add = |name: &str, v: Option<String>| {
        if let Some(v) = v {
            out.push(format!("{name}={v}"));
        }
    };
    add("memory.limit", res.memory_limit.map(|v| v.to_string()));
    add(
        "memory.reservation",
        res.memory_reservation.map(|v| v.to_string()),
    );
    add("memory.swap", res.memory_swap.map(|v| v.to_string()));
    add(
        "memory.swappiness",
        res.memory_swappiness.map(|v| v.to_string()),
    );
    add(
        "memory.disableOOMKiller",
        res.disable_oom_killer.map(|v| v.to_string()),
    );
    add("cpu.shares", res.cpu_shares.map(|v| v.to_string()));
    add("cpu.quota", res.cpu_quota.map(|v| v.to_string()));
    add("cpu.period", res.cpu_period.map(|v| v.to_string()));
    add("cpu.cpus", res.cpuset_cpus.clone());
    add("cpu.mems", res.cpuset_mems.clone());
    add("pids.limit", res.pids_limit.map(|v| v.to_string()));
    if let Some(b) = &res.block_io {
        out.extend(b.describe());
    }
    if !res.devices.is_empty() {
        out.push(format!("devices ({} rules)", res.devices.len()));
    }
    out
}

/// The first directory of `dirs` the caller cannot create its cgroup in:
/// the nearest existing ancestor must be writable and searchable.
pub fn undelegated(dirs: &[PathBuf]) -> Option<PathBuf> {
    use nix::unistd::{access, AccessFlags};
    dirs.iter().find_map(|d| {
        let existing = d.ancestors().find(|a| a.exists())?;
        access(existing, AccessFlags::W_OK | AccessFlags::X_OK)
            .is_err()
            .then(|| existing.to_path_buf())
    })
}

/// The one line printed when a rootless container runs without cgroups.
pub fn skip_line(uid: u32, blocked: &Path, res: &Resources) -> String {
    let l = limits(res);
    let what = if l.is_empty() {
        "no limits were asked for; the container runs without cgroup accounting (no OOM count)"
            .to_string()
    } else {
        format!("limits NOT applied: {}", l.join(", "))
    };
    format!(
        "isorun: rootless: cgroups are not delegated to uid {uid} ({} is not writable): {what}",
        blocked.display()
    )
}

/// The container's cgroup: as root always created; rootless only where
/// delegated, otherwise an empty one (joined and removed as a no-op) after
/// one line on stderr.
pub fn cgroup(h: &Hierarchy, rel: &str, res: &Resources, rootless: bool) -> Result<Cgroup> {
    if rootless {
        let planned = Cgroup::planned(h, rel, res);
        if let Some(blocked) = undelegated(&planned.dirs) {
            eprintln!(
                "{}",
                skip_line(nix::unistd::geteuid().as_raw(), &blocked, res)
            );
            return Ok(Cgroup {
                version: planned.version,
                dirs: Vec::new(),
            });
        }
    }
    Cgroup::create(h, rel, res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_root_prefers_an_owned_xdg_dir_and_checks_the_fallback() {
        let t = tempfile::tempdir().unwrap();
        let me = nix::unistd::geteuid().as_raw();
        let xdg = t.path().join("xdg");
        std::fs::create_dir(&xdg).unwrap();
        assert_eq!(
            state_root_for(me, Some(&xdg), t.path()).unwrap(),
            xdg.join("isorun")
        );
        // Not ours (another uid): the private fallback is made instead.
        let d = state_root_for(me + 1, Some(&xdg), t.path());
        assert!(d.is_err(), "a fallback made by us is not owned by uid+1");
        let d = state_root_for(me, None, t.path()).unwrap();
        assert_eq!(d, t.path().join(format!("isorun-{me}")));
        assert_eq!(std::fs::metadata(&d).unwrap().mode() & 0o777, 0o700);
        // A fallback others may write is refused.
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = state_root_for(me, None, t.path()).unwrap_err().to_string();
        assert!(e.contains("lets others write"), "{e}");
    }

    #[test]
    fn skip_line_names_the_limits() {
        let res = Resources {
            memory_limit: Some(64 << 20),
            pids_limit: Some(32),
            ..Default::default()
        };
        let l = skip_line(1000, Path::new("/sys/fs/cgroup/memory"), &res);
        assert!(l.contains("memory.limit=67108864, pids.limit=32"), "{l}");
        assert!(!l.contains('\n'));
        let l = skip_line(1000, Path::new("/x"), &Resources::default());
        assert!(l.contains("no limits were asked for"), "{l}");
    }

    #[test]
    fn writable_ancestors_count_as_delegated() {
        let t = tempfile::tempdir().unwrap();
        let leaf = t.path().join("isorun/c1");
        assert_eq!(undelegated(std::slice::from_ref(&leaf)), None);
        let nope = PathBuf::from("/proc/1/isorun/c1");
        if nix::unistd::geteuid().is_root() {
            return;
        }
        assert!(undelegated(&[nope]).is_some());
    }
}
