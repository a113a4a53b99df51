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
use crate::error::Result;
use nix::mount::MsFlags;
use std::path::{Path, PathBuf};

// Why: one mount wrapper for the runtime, whose error names source,
// target, type, flags and data.
use crate::rootfs::do_mount as m;

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

/// Mount the container's cgroup view at `target` (already inside the new
/// root).
pub fn mount_view(target: &Path, plan: &MountPlan, cgroups_path: &str) -> Result<()> {
    let h = cgroup::detect()?;
    let ro = plan.flags & libc::MS_RDONLY != 0;
    let base = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    std::fs::create_dir_all(target).map_err(crate::error::io("mkdir", target))?;
    let bind_ro = |src: &Path, dst: &Path| -> Result<()> {
        m(Some(src), dst, None, MsFlags::MS_BIND, None)?;
        let mut f = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | base;
        if ro {
            f |= MsFlags::MS_RDONLY;
        }
        m(None, dst, None, f, None)
    };
    if matches!(h, Hierarchy::V1(_)) {
        // Why: a tmpfs of this mount namespace holds the per-hierarchy
        // binds, so no host cgroup directory is reachable above them.
        m(
            Some(Path::new("tmpfs")),
            target,
            Some("tmpfs"),
            base,
            Some("mode=755"),
        )?;
        for (src, name) in binds(&h, cgroups_path) {
            if !src.is_dir() {
                continue; // isorun made no cgroup in this hierarchy
            }
            let dst = target.join(&name);
            std::fs::create_dir_all(&dst).map_err(crate::error::io("mkdir", &dst))?;
            bind_ro(&src, &dst)?;
        }
        if ro {
            m(
                None,
                target,
                None,
                base | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                None,
            )?;
        }
    } else {
        for (src, _) in binds(&h, cgroups_path) {
            bind_ro(&src, target)?;
        }
    }
    Ok(())
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
