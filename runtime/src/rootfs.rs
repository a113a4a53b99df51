//! The container's root file system, set up inside its new mount namespace
//! (mount_namespaces(7), pivot_root(2); OCI runtime spec "Root", "Mounts",
//! "Default Filesystems", "Default Devices", maskedPaths, readonlyPaths).
//!
//! Order: propagation made private (no mount leaks to the host), root bound
//! (or overlay of image layers mounted) onto itself, config mounts, device
//! nodes, pivot_root, masked and read-only paths, read-only root.

use crate::config::{DeviceNode, MountPlan, Plan};
use crate::error::{Error, Result};
use crate::safepath::{fd_path, Root};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::SFlag;
use std::path::{Path, PathBuf};

fn flags(bits: u64) -> MsFlags {
    MsFlags::from_bits_truncate(bits as libc::c_ulong)
}

pub(crate) fn do_mount(
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

/// Set up the root file system; the process ends inside it (cwd "/").
/// An image root: layers (top first) and the directory on which the
/// container's tmpfs with its upper and work dirs is mounted.
#[derive(Debug, Clone)]
pub struct OverlayRoot {
    pub lowers: Vec<PathBuf>,
    pub rw: PathBuf,
}

/// `before_pivot` runs once the mounts are made, just before pivot_root
/// (the OCI createRuntime/createContainer hook point).
pub fn setup(
    plan: &Plan,
    overlay: Option<&OverlayRoot>,
    before_pivot: &mut dyn FnMut() -> Result<()>,
) -> Result<()> {
    // Why: a new mount namespace starts as a copy sharing propagation with
    // the host; no mount below may leak out (linux.rootfsPropagation).
    crate::propagation::prepare(plan.rootfs_propagation, &plan.rootfs)?;
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
    // Why: every destination is resolved inside the new root with
    // openat2(RESOLVE_IN_ROOT) and mounted through /proc/self/fd/N, so a
    // symlink in the rootfs cannot aim a mount at a host path.
    let r = Root::open(root)?;
    for m in &plan.mounts {
        if m.fstype == "cgroup" || m.fstype == "cgroup2" {
            // The destination is resolved inside the root like every other
            // (openat2 RESOLVE_IN_ROOT); its resolved path, with no symlink
            // left in it, is where the view is built. Nothing runs in the
            // container yet, so nothing can swap a component meanwhile.
            let fd = r.mkdir_all(&m.destination)?;
            let target = std::fs::read_link(fd_path(&fd))
                .map_err(crate::error::io("readlink", &m.destination))?;
            drop(fd);
            crate::cgroupfs::mount_view(&target, m, &plan.cgroups_path)?;
            continue;
        }
        mount_one(&r, m)?;
    }
    if r.kind(Path::new("/dev"))? == Some(SFlag::S_IFDIR) {
        make_devices(&r, &plan.devices, plan.userns.is_some())?;
    }
    drop(r);
    before_pivot()?;
    pivot(root)?;
    crate::propagation::finish(plan.rootfs_propagation)?;
    // After pivot_root "/" is the container's root; the paths below are
    // resolved in it all the same (a rootfs symlink such as /proc/sys →
    // /etc must not make a read-only bind land elsewhere).
    let r = Root::open(Path::new("/"))?;
    for p in &plan.masked_paths {
        mask(&r, p)?;
    }
    for p in &plan.readonly_paths {
        readonly(&r, p)?;
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

fn mount_one(r: &Root, m: &MountPlan) -> Result<()> {
    let src_is_file = m.bind && m.source.as_ref().is_some_and(|s| s.is_file());
    // Each step resolves the destination afresh: after a mount the old fd
    // would name the directory underneath, not the new mount.
    let target = || -> Result<std::os::fd::OwnedFd> {
        if src_is_file {
            r.ensure_file(&m.destination)
        } else {
            r.mkdir_all(&m.destination)
        }
    };
    let f = flags(m.flags);
    let data = (!m.data.is_empty()).then_some(m.data.as_str());
    if m.bind {
        let src = m.source.as_deref();
        // Why: bind mounts ignore most flags on the first call; read-only,
        // nosuid etc. take effect on a remount of the bind.
        let t = target()?;
        do_mount_at(
            src,
            &t,
            &m.destination,
            None,
            f & (MsFlags::MS_BIND | MsFlags::MS_REC),
            None,
        )?;
        let extra = f & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
        if !extra.is_empty() {
            let t = target()?;
            do_mount_at(
                None,
                &t,
                &m.destination,
                None,
                extra | MsFlags::MS_BIND | MsFlags::MS_REMOUNT,
                None,
            )?;
        }
    } else {
        let src = m.source.clone().unwrap_or_else(|| PathBuf::from(&m.fstype));
        let t = target()?;
        let r = do_mount_at(Some(&src), &t, &m.destination, Some(&m.fstype), f, data);
        match (r, data) {
            // Why: in a user namespace without gid 5 mapped (rootless, no
            // /etc/subgid range) devpts refuses `gid=5`; crun retries
            // without the gid, and so do we: the ptys get the caller's gid.
            (
                Err(Error::Sys {
                    err: nix::errno::Errno::EINVAL,
                    ..
                }),
                Some(d),
            ) if m.fstype == "devpts" && d.contains("gid=") => {
                let rest: Vec<&str> = d.split(',').filter(|o| !o.starts_with("gid=")).collect();
                let rest = rest.join(",");
                do_mount_at(
                    Some(&src),
                    &t,
                    &m.destination,
                    Some(&m.fstype),
                    f,
                    Some(&rest),
                )?;
            }
            (r, _) => r?,
        }
    }
    if m.propagation != 0 {
        let t = target()?;
        do_mount_at(None, &t, &m.destination, None, flags(m.propagation), None)?;
    }
    Ok(())
}

/// Mount on the file behind `fd` (via /proc/self/fd/N); errors name the
/// in-container path.
fn do_mount_at(
    src: Option<&Path>,
    fd: &std::os::fd::OwnedFd,
    shown: &Path,
    fstype: Option<&str>,
    f: MsFlags,
    data: Option<&str>,
) -> Result<()> {
    do_mount(src, &fd_path(fd), fstype, f, data).map_err(|e| match e {
        Error::Sys { op, err } => Error::Sys {
            op: op.replace(
                &fd_path(fd).display().to_string(),
                &shown.display().to_string(),
            ),
            err,
        },
        e => e,
    })
}

/// Create the default device nodes and the /dev symlinks of the spec. In
/// a user namespace mknod(2) is refused (a device node would bypass the
/// host's device permissions), so each node is a bind of the host's, as
/// runc and crun do for rootless containers.
fn make_devices(r: &Root, devices: &[DeviceNode], bind: bool) -> Result<()> {
    use nix::sys::stat::makedev;
    // SAFETY: umask only changes this process's file creation mask.
    let old = unsafe { libc::umask(0) };
    let res = (|| {
        for d in devices {
            if r.try_resolve(&d.path)?.is_some() {
                continue;
            }
            if bind {
                let host = &d.path;
                if !host.exists() {
                    return Err(Error::Init(format!(
                        "device {} cannot be created in a user namespace and the host has none to bind",
                        d.path.display()
                    )));
                }
                let t = r.ensure_file(&d.path)?;
                do_mount_at(Some(host), &t, &d.path, None, MsFlags::MS_BIND, None)?;
                continue;
            }
            let kind = match d.kind {
                'b' => SFlag::S_IFBLK,
                'p' => SFlag::S_IFIFO,
                _ => SFlag::S_IFCHR,
            };
            // Why: the container gets its own device nodes in its /dev
            // tmpfs, never the host's; mknod needs CAP_MKNOD.
            r.mknod(
                &d.path,
                kind.bits() | (d.mode & 0o7777),
                makedev(d.major, d.minor),
            )?;
            if d.uid != 0 || d.gid != 0 {
                let fd = r.resolve(&d.path)?;
                std::os::unix::fs::chown(fd_path(&fd), Some(d.uid), Some(d.gid))
                    .map_err(crate::error::io("chown", &d.path))?;
            }
        }
        for (link, to) in [
            ("/dev/fd", "/proc/self/fd"),
            ("/dev/stdin", "/proc/self/fd/0"),
            ("/dev/stdout", "/proc/self/fd/1"),
            ("/dev/stderr", "/proc/self/fd/2"),
            ("/dev/core", "/proc/kcore"),
        ] {
            r.symlink(to, Path::new(link))?;
        }
        if r.kind(Path::new("/dev/pts"))? == Some(SFlag::S_IFDIR) {
            r.symlink("pts/ptmx", Path::new("/dev/ptmx"))?;
        }
        Ok(())
    })();
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    res
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
fn mask(r: &Root, p: &Path) -> Result<()> {
    let Some(kind) = r.kind(p)? else {
        return Ok(());
    };
    let t = r.resolve(p)?;
    // Why: maskedPaths hide kernel interfaces (/proc/kcore, /sys/firmware)
    // that leak host information or allow host changes.
    if kind == SFlag::S_IFDIR {
        do_mount_at(
            Some(Path::new("tmpfs")),
            &t,
            p,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            None,
        )
    } else {
        do_mount_at(
            Some(Path::new("/dev/null")),
            &t,
            p,
            None,
            MsFlags::MS_BIND,
            None,
        )
    }
}

/// Bind a path onto itself read-only.
fn readonly(r: &Root, p: &Path) -> Result<()> {
    let Some(t) = r.try_resolve(p)? else {
        return Ok(());
    };
    // Why: readonlyPaths (/proc/sys, /proc/sysrq-trigger ...) stay visible
    // but must not be writable from the container.
    let src = fd_path(&t);
    do_mount_at(
        Some(&src),
        &t,
        p,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )?;
    let t = r.resolve(p)?;
    do_mount_at(
        None,
        &t,
        p,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_REC,
        None,
    )
}
