//! A `cgroup`/`cgroup2` mount in config.json (podman asks for
//! /sys/fs/cgroup, read-only): the container sees its own cgroups, never
//! the host's tree (cgroups(7); runc does the same on cgroup v1).
//!
//! v1: a tmpfs at the destination holding, per hierarchy, a bind mount of
//! the container's cgroup directory under the hierarchy's name
//! (`memory`, `pids`, ...). v2: a bind mount of the container's cgroup
//! directory. Read-only when the mount asks for it. Called inside the
//! container's mount namespace before pivot_root, after the process joined
//! its cgroup.

use crate::cgroup::{self, Hierarchy};
use crate::config::MountPlan;
use crate::error::{Error, Result};
use crate::mountfd;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// (source directory, name under the destination) for each hierarchy that
/// holds the container's cgroup; v2 gives one entry with an empty name.
pub fn binds(h: &Hierarchy, cgroups_path: &str) -> Vec<(PathBuf, String)> {
    match h {
        Hierarchy::V1(map) => {
            let mut mounts: Vec<&PathBuf> = map.values().collect();
            mounts.sort();
            mounts.dedup();
            mounts
                .into_iter()
                .filter_map(|mp| {
                    let name = mp.file_name()?.to_string_lossy().into_owned();
                    Some((cgroup::join(mp, cgroups_path), name))
                })
                .collect()
        }
        Hierarchy::V2(root) => vec![(cgroup::join(root, cgroups_path), String::new())],
    }
}

/// Mount the container's cgroup view on `target`, the destination's fd
/// from the one safe lookup inside the new root (`shown` names it in
/// errors). Every mount is made detached and attached onto an fd: the
/// destination's, or a directory made and opened in the view's own tmpfs.
pub fn mount_view(
    target: &OwnedFd,
    shown: &Path,
    plan: &MountPlan,
    cgroups_path: &str,
) -> Result<()> {
    let h = cgroup::detect()?;
    let ro = plan.flags & libc::MS_RDONLY != 0;
    let base = libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV | libc::MOUNT_ATTR_NOEXEC;
    let bind_attrs = if ro {
        base | libc::MOUNT_ATTR_RDONLY
    } else {
        base
    };
    let bind = |src: &Path, onto: &OwnedFd, dst: &Path| -> Result<()> {
        let mnt = mountfd::clone_path(src, false)?;
        mountfd::set_attr(&mnt, bind_attrs, 0, 0, dst)?;
        mountfd::attach(&mnt, onto, dst)
    };
    if matches!(h, Hierarchy::V1(_)) {
        // Why: a tmpfs of this mount namespace holds the per-hierarchy
        // binds, so no host cgroup directory is reachable above them.
        let tmp = mountfd::new_fs(
            "tmpfs",
            "tmpfs",
            "mode=755",
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            shown,
        )?;
        mountfd::attach(&tmp, target, shown)?;
        for (src, name) in binds(&h, cgroups_path) {
            if !src.is_dir() {
                continue; // isorun made no cgroup in this hierarchy
            }
            let dst = shown.join(&name);
            let sub = subdir(&tmp, &name, &dst)?;
            bind(&src, &sub, &dst)?;
        }
        if ro {
            mountfd::set_attr(&tmp, libc::MOUNT_ATTR_RDONLY, 0, 0, shown)?;
        }
    } else {
        for (src, _) in binds(&h, cgroups_path) {
            bind(&src, target, shown)?;
        }
    }
    Ok(())
}

/// mkdirat + openat(O_PATH|O_NOFOLLOW) of `name` in the directory `dir`
/// (the view's fresh tmpfs, which nothing else can reach yet).
fn subdir(dir: &OwnedFd, name: &str, shown: &Path) -> Result<OwnedFd> {
    let sys = |op: &str| {
        let op = format!("{op} {}", shown.display());
        move |err| Error::Sys { op, err }
    };
    let c = std::ffi::CString::new(name).map_err(|_| Error::Init(format!("NUL in {name:?}")))?;
    // SAFETY: dir is an open directory fd and c is NUL-terminated.
    if unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), 0o755) } != 0 {
        return Err(sys("mkdir")(nix::errno::Errno::last()));
    }
    // SAFETY: as above; a new fd or -1.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            c.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(sys("open")(nix::errno::Errno::last()));
    }
    // SAFETY: a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn v1_binds_one_per_hierarchy_under_its_name() {
        let mut map = BTreeMap::new();
        map.insert("memory".to_string(), PathBuf::from("/sys/fs/cgroup/memory"));
        map.insert(
            "cpu".to_string(),
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"),
        );
        map.insert(
            "cpuacct".to_string(),
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"),
        );
        let b = binds(&Hierarchy::V1(map), "/libpod_parent/c1");
        assert_eq!(
            b,
            vec![
                (
                    PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/libpod_parent/c1"),
                    "cpu,cpuacct".into()
                ),
                (
                    PathBuf::from("/sys/fs/cgroup/memory/libpod_parent/c1"),
                    "memory".into()
                ),
            ]
        );
        let b = binds(&Hierarchy::V2("/sys/fs/cgroup".into()), "/a/b");
        assert_eq!(
            b,
            vec![(PathBuf::from("/sys/fs/cgroup/a/b"), String::new())]
        );
    }
}
