//! The container's root file system, set up inside its new mount namespace
//! (mount_namespaces(7), pivot_root(2); OCI runtime spec "Root", "Mounts",
//! "Default Filesystems", "Default Devices", maskedPaths, readonlyPaths).
//!
//! Order: propagation made private (no mount leaks to the host), root bound
//! (or overlay of image layers mounted) onto itself, config mounts, device
//! nodes, pivot_root, masked and read-only paths, read-only root.

use crate::config::{DeviceNode, MountPlan, Plan};
use crate::error::{Error, Result};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::path::{Component, Path, PathBuf};

fn flags(bits: u64) -> MsFlags {
    MsFlags::from_bits_truncate(bits as libc::c_ulong)
}

fn do_mount(
    src: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    f: MsFlags,
    data: Option<&str>,
) -> Result<()> {
    mount(src, target, fstype, f, data).map_err(|e| Error::Sys {
        op: format!(
            "mount {} on {} (type {}, flags {:#x}, data {:?})",
            src.map(|s| s.display().to_string())
                .unwrap_or_else(|| "none".into()),
            target.display(),
            fstype.unwrap_or("none"),
            f.bits(),
            data.unwrap_or("")
        ),
        err: e,
    })
}

/// `root` joined with an absolute in-container path, refusing `..`.
pub fn inside(root: &Path, p: &Path) -> Result<PathBuf> {
    let mut out = root.to_path_buf();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir => {}
            _ => {
                return Err(Error::Invalid {
                    field: "mounts".into(),
                    why: format!("{} leaves the root file system", p.display()),
                })
            }
        }
    }
    Ok(out)
}

/// Set up the root file system; the process ends inside it (cwd "/").
/// An image root: layers (top first) and the directory on which the
/// container's tmpfs with its upper and work dirs is mounted.
#[derive(Debug, Clone)]
pub struct OverlayRoot {
    pub lowers: Vec<PathBuf>,
    pub rw: PathBuf,
}

pub fn setup(plan: &Plan, overlay: Option<&OverlayRoot>) -> Result<()> {
    // Why: a new mount namespace starts as a copy sharing propagation with
    // the host; make it private first so no mount below leaks out.
    do_mount(
        None,
        Path::new("/"),
        None,
        flags(plan.rootfs_propagation),
        None,
    )?;
    let root = &plan.rootfs;
    match overlay {
        // Why: the image layers plus the container's own upper directory
        // become its root; mounted here, the overlay dies with the namespace.
        Some(o) => {
            // Why: the writable layer lives in a tmpfs of this mount
            // namespace: it vanishes with the container, and tearing the
            // overlay down needs no sync of a disk file system.
            do_mount(
                Some(Path::new("tmpfs")),
                &o.rw,
                Some("tmpfs"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                Some("mode=700"),
            )?;
            let (upper, work) = (o.rw.join("upper"), o.rw.join("work"));
            for d in [&upper, &work] {
                std::fs::create_dir(d).map_err(crate::error::io("mkdir", d))?;
            }
            let data = crate::image::overlay_data(&o.lowers, Some((&upper, &work)));
            do_mount(
                Some(Path::new("overlay")),
                root,
                Some("overlay"),
                MsFlags::empty(),
                Some(&data),
            )?
        }
        // Why: pivot_root needs the new root to be a mount point.
        None => do_mount(
            Some(root),
            root,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )?,
    }
    for m in &plan.mounts {
        if m.fstype == "cgroup" || m.fstype == "cgroup2" {
            crate::cgroupfs::mount_view(&inside(root, &m.destination)?, m, &plan.cgroups_path)?;
            continue;
        }
        mount_one(root, m)?;
    }
    if inside(root, Path::new("/dev"))?.is_dir() {
        make_devices(root, &plan.devices)?;
    }
    pivot(root)?;
    for p in &plan.masked_paths {
        mask(p)?;
    }
    for p in &plan.readonly_paths {
        readonly(p)?;
    }
    if plan.root_readonly {
        // Why: root.readonly asks for a read-only root; only this mount's
        // flags change (MS_BIND|MS_REMOUNT), submounts stay as they are.
        do_mount(
            None,
            Path::new("/"),
            None,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
            None,
        )?;
    }
    Ok(())
}

fn mount_one(root: &Path, m: &MountPlan) -> Result<()> {
    let target = inside(root, &m.destination)?;
    let src_is_file = m.bind && m.source.as_ref().is_some_and(|s| s.is_file());
    if src_is_file {
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(crate::error::io("mkdir", parent))?;
        }
        if !target.exists() {
            std::fs::File::create(&target).map_err(crate::error::io("create", &target))?;
        }
    } else {
        std::fs::create_dir_all(&target).map_err(crate::error::io("mkdir", &target))?;
    }
    let f = flags(m.flags);
    let data = (!m.data.is_empty()).then_some(m.data.as_str());
    if m.bind {
        let src = m.source.as_deref();
        // Why: bind mounts ignore most flags on the first call; read-only,
        // nosuid etc. take effect on a remount of the bind.
        do_mount(
            src,
            &target,
            None,
            f & (MsFlags::MS_BIND | MsFlags::MS_REC),
            None,
        )?;
        let extra = f & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
        if !extra.is_empty() {
            do_mount(
                None,
                &target,
                None,
                extra | MsFlags::MS_BIND | MsFlags::MS_REMOUNT,
                None,
            )?;
        }
    } else {
        let src = m.source.clone().unwrap_or_else(|| PathBuf::from(&m.fstype));
        do_mount(Some(&src), &target, Some(&m.fstype), f, data)?;
    }
    if m.propagation != 0 {
        do_mount(None, &target, None, flags(m.propagation), None)?;
    }
    Ok(())
}

/// Create the default device nodes and the /dev symlinks of the spec.
fn make_devices(root: &Path, devices: &[DeviceNode]) -> Result<()> {
    use nix::sys::stat::{makedev, mknod, Mode, SFlag};
    // SAFETY: umask only changes this process's file creation mask.
    let old = unsafe { libc::umask(0) };
    let r = (|| {
        for d in devices {
            let p = inside(root, &d.path)?;
            if p.exists() {
                continue;
            }
            let kind = match d.kind {
                'b' => SFlag::S_IFBLK,
                'p' => SFlag::S_IFIFO,
                _ => SFlag::S_IFCHR,
            };
            // Why: the container gets its own device nodes in its /dev
            // tmpfs, never the host's; mknod needs CAP_MKNOD.
            mknod(
                &p,
                kind,
                Mode::from_bits_truncate(d.mode),
                makedev(d.major, d.minor),
            )
            .map_err(|e| Error::Sys {
                op: format!("mknod {}", p.display()),
                err: e,
            })?;
            if d.uid != 0 || d.gid != 0 {
                std::os::unix::fs::chown(&p, Some(d.uid), Some(d.gid))
                    .map_err(crate::error::io("chown", &p))?;
            }
        }
        for (link, to) in [
            ("/dev/fd", "/proc/self/fd"),
            ("/dev/stdin", "/proc/self/fd/0"),
            ("/dev/stdout", "/proc/self/fd/1"),
            ("/dev/stderr", "/proc/self/fd/2"),
            ("/dev/core", "/proc/kcore"),
        ] {
            let p = inside(root, Path::new(link))?;
            let _ = std::os::unix::fs::symlink(to, &p);
        }
        if inside(root, Path::new("/dev/pts"))?.is_dir() {
            let _ = std::os::unix::fs::symlink("pts/ptmx", inside(root, Path::new("/dev/ptmx"))?);
        }
        Ok(())
    })();
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    r
}

/// Make `root` the process's root and detach the old one.
fn pivot(root: &Path) -> Result<()> {
    std::env::set_current_dir(root).map_err(crate::error::io("chdir", root))?;
    // Why: pivot_root (unlike chroot) moves the old root away so it can be
    // unmounted: nothing of the host's tree stays reachable.
    nix::unistd::pivot_root(".", ".").map_err(|e| Error::Sys {
        op: format!("pivot_root {}", root.display()),
        err: e,
    })?;
    // The old root is now stacked on "."; make it a slave so its unmount
    // does not propagate to the host, then detach it.
    do_mount(
        None,
        Path::new("."),
        None,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None,
    )?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|e| Error::Sys {
        op: "umount old root".into(),
        err: e,
    })?;
    std::env::set_current_dir("/").map_err(crate::error::io("chdir", "/"))
}

/// Hide a path: /dev/null over files, an empty read-only tmpfs over dirs.
fn mask(p: &Path) -> Result<()> {
    let Ok(md) = std::fs::metadata(p) else {
        return Ok(());
    };
    // Why: maskedPaths hide kernel interfaces (/proc/kcore, /sys/firmware)
    // that leak host information or allow host changes.
    if md.is_dir() {
        do_mount(
            Some(Path::new("tmpfs")),
            p,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            None,
        )
    } else {
        do_mount(
            Some(Path::new("/dev/null")),
            p,
            None,
            MsFlags::MS_BIND,
            None,
        )
    }
}

/// Bind a path onto itself read-only.
fn readonly(p: &Path) -> Result<()> {
    if std::fs::symlink_metadata(p).is_err() {
        return Ok(());
    }
    // Why: readonlyPaths (/proc/sys, /proc/sysrq-trigger ...) stay visible
    // but must not be writable from the container.
    do_mount(Some(p), p, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)?;
    do_mount(
        None,
        p,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_REC,
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_joins_and_refuses_escapes() {
        assert_eq!(
            inside(Path::new("/r"), Path::new("/dev/pts")).unwrap(),
            Path::new("/r/dev/pts")
        );
        assert!(inside(Path::new("/r"), Path::new("/../etc")).is_err());
    }
}
