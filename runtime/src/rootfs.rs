//! The container's root file system, set up inside its new mount namespace
//! (mount_namespaces(7), pivot_root(2); OCI runtime spec "Root", "Mounts",
//! "Default Filesystems", "Default Devices", maskedPaths, readonlyPaths).
//!
//! Order: propagation made private (no mount leaks to the host), root bound
//! (or overlay of image layers mounted) onto itself, config mounts, device
//! nodes, pivot_root, masked and read-only paths, read-only root.
//!
//! Inside the root, each destination is looked up once (safepath) and
//! every mount is made detached and attached onto that fd (mountfd);
//! mounts on or under /proc other than proc itself and lxcfs's files are
//! refused, and masking uses only a /dev/null verified to be 1:3.

use crate::config::{DeviceNode, MountPlan, Plan};
use crate::error::{Error, Result};
use crate::mountfd::{self, do_mount};
use crate::safepath::{fd_path, Parents, Root};
use nix::mount::{umount2, MntFlags, MsFlags};
use nix::sys::stat::SFlag;
use std::path::{Path, PathBuf};

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
    // openat2(RESOLVE_IN_ROOT) once; the mount is made detached and
    // attached onto that fd (crate::mountfd), so a symlink in the rootfs
    // cannot aim a mount at a host path and nothing is looked up again.
    let r = Root::open(root)?;
    for m in &plan.mounts {
        mount_one(&r, m, &plan.cgroups_path)?;
    }
    if r.kind(Path::new("/dev"))? == Some(SFlag::S_IFDIR) {
        let in_userns = plan.userns.is_some() || crate::nsjoin::user_join(&plan.join).is_some();
        make_devices(&r, &plan.devices, in_userns)?;
    }
    drop(r);
    before_pivot()?;
    pivot(root)?;
    crate::propagation::finish(plan.rootfs_propagation)?;
    // After pivot_root "/" is the container's root; the paths below are
    // resolved in it all the same (a rootfs symlink such as /proc/sys →
    // /etc must not make a read-only bind land elsewhere).
    let r = Root::open(Path::new("/"))?;
    let mut masks = Masks::default();
    for p in &plan.masked_paths {
        mask(&r, p, &mut masks)?;
    }
    drop(masks);
    for p in &plan.readonly_paths {
        readonly(&r, p)?;
    }
    if plan.root_readonly {
        // Why: root.readonly asks for a read-only root; only this mount's
        // read-only bit changes (mount_setattr on the root's fd): its
        // nosuid/nodev/noexec and the submounts stay as they are.
        let fd = r.resolve(Path::new("/"))?;
        mountfd::set_attr(&fd, libc::MOUNT_ATTR_RDONLY, 0, 0, Path::new("/"))?;
    }
    Ok(())
}

/// Paths under /proc that a mount may cover: the files lxcfs emulates
/// (runc's checkProcMount list).
const PROC_MOUNTS_ALLOWED: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
    "/proc/sys/crypto/fips_enabled",
];

/// runc's checkProcMount: `dest` (resolved in the container, symlinks
/// followed) may be /proc itself only for a new proc or a bind of a procfs
/// (`source_is_proc`), and below /proc only one of the lxcfs files; a
/// tmpfs over /proc/sys or a bind over /proc would undo the masking and
/// read-only paths, or fake the kernel's view.
pub fn check_proc_mount(
    dest: &Path,
    m: &MountPlan,
    source_is_proc: impl FnOnce() -> bool,
) -> Result<()> {
    let Ok(rel) = dest.strip_prefix("/proc") else {
        return Ok(());
    };
    let refuse = |why: String| {
        Err(Error::Invalid {
            field: format!("mounts ({})", m.destination.display()),
            why,
        })
    };
    if rel.as_os_str().is_empty() {
        if (!m.bind && m.fstype == "proc") || (m.bind && source_is_proc()) {
            return Ok(());
        }
        return refuse(format!(
            "{} cannot be mounted on /proc: only a proc file system may be",
            m.fstype
        ));
    }
    if PROC_MOUNTS_ALLOWED.iter().any(|a| Path::new(a) == dest) {
        return Ok(());
    }
    refuse(format!(
        "{} is inside /proc, where only {} may be mounted over",
        dest.display(),
        PROC_MOUNTS_ALLOWED.join(", ")
    ))
}

/// statfs(2): is `p` on a procfs?
fn is_procfs(p: &Path) -> bool {
    nix::sys::statfs::statfs(p)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC)
}

fn mount_one(r: &Root, m: &MountPlan, cgroups_path: &str) -> Result<()> {
    let src_is_file = m.bind && m.source.as_ref().is_some_and(|s| s.is_file());
    // The one lookup of the destination; every step below acts on this fd
    // or on the new mount's fd.
    let t = if src_is_file {
        r.ensure_file(&m.destination)?
    } else {
        r.mkdir_all(&m.destination)?
    };
    let dest = r.path_of(&t, &m.destination)?;
    check_proc_mount(&dest, m, || m.source.as_deref().is_some_and(is_procfs))?;
    if m.fstype == "cgroup" || m.fstype == "cgroup2" {
        return crate::cgroupfs::mount_view(&t, &m.destination, m, cgroups_path);
    }
    let mnt = if m.bind {
        let src = m.source.as_deref().ok_or_else(|| Error::Invalid {
            field: format!("mounts ({})", m.destination.display()),
            why: "a bind mount needs a source".into(),
        })?;
        let mnt = mountfd::clone_path(src, m.flags & libc::MS_REC != 0)?;
        // Why: set on the detached clone before it is attached, so the
        // container never sees it writable; the clone keeps the source
        // mount's own flags (nosuid...), and only these are added.
        let (set, clr) = mountfd::attrs(m.flags);
        if set != 0 || clr != 0 {
            mountfd::set_attr(&mnt, set, clr, 0, &m.destination)?;
        }
        mnt
    } else {
        let src = m
            .source
            .as_ref()
            .map(|s| s.display().to_string())
            .unwrap_or_else(|| m.fstype.clone());
        match mountfd::new_fs(&m.fstype, &src, &m.data, m.flags, &m.destination) {
            // Why: in a user namespace without gid 5 mapped (rootless, no
            // /etc/subgid range) devpts refuses `gid=5`; crun retries
            // without the gid, and so do we: the ptys get the caller's gid.
            Err(Error::Sys {
                err: nix::errno::Errno::EINVAL,
                ..
            }) if m.fstype == "devpts" && m.data.contains("gid=") => {
                let rest: Vec<&str> = m
                    .data
                    .split(',')
                    .filter(|o| !o.starts_with("gid="))
                    .collect();
                mountfd::new_fs(&m.fstype, &src, &rest.join(","), m.flags, &m.destination)?
            }
            r => r?,
        }
    };
    mountfd::attach(&mnt, &t, &m.destination)?;
    if m.propagation != 0 {
        mountfd::set_attr(&mnt, 0, 0, m.propagation, &m.destination)?;
    }
    Ok(())
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
        // Why: /dev (and any other parent of a node) is looked up once for
        // all its nodes and links; nothing is mounted over it from here on.
        let mut parents = Parents::new(r);
        for d in devices {
            if bind {
                if r.try_resolve(&d.path)?.is_some() {
                    continue;
                }
                let host = &d.path;
                if !host.exists() {
                    return Err(Error::Init(format!(
                        "device {} cannot be created in a user namespace and the host has none to bind",
                        d.path.display()
                    )));
                }
                let t = r.ensure_file(&d.path)?;
                let mnt = mountfd::clone_path(host, false)?;
                mountfd::attach(&mnt, &t, &d.path)?;
                continue;
            }
            let kind = match d.kind {
                'b' => SFlag::S_IFBLK,
                'p' => SFlag::S_IFIFO,
                _ => SFlag::S_IFCHR,
            };
            // Why: the container gets its own device nodes in its /dev
            // tmpfs, never the host's; mknod needs CAP_MKNOD.
            let made = parents.mknod(
                &d.path,
                kind.bits() | (d.mode & 0o7777),
                makedev(d.major, d.minor),
            );
            match made {
                Ok(()) => {}
                // A node the rootfs already has is left as it is (an
                // existing name that resolves to nothing, a dangling
                // symlink, stays an error).
                Err(Error::Sys {
                    err: nix::errno::Errno::EEXIST,
                    ..
                }) if r.try_resolve(&d.path)?.is_some() => continue,
                Err(e) => return Err(e),
            }
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
            parents.symlink(to, Path::new(link))?;
        }
        if r.kind(Path::new("/dev/pts"))? == Some(SFlag::S_IFDIR) {
            parents.symlink("pts/ptmx", Path::new("/dev/ptmx"))?;
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

/// The container's /dev/null, opened once and verified to be the null
/// device (character 1:3): an image's /dev/null may be a symlink to a
/// writable file (a host sysctl through /proc), which masking would
/// otherwise bind over the masked paths (CVE-2025-31133).
fn verified_null(r: &Root) -> Result<std::os::fd::OwnedFd> {
    let p = Path::new("/dev/null");
    let fd = r.resolve(p)?;
    let st = nix::sys::stat::fstat(&fd).map_err(crate::error::sys("fstat /dev/null"))?;
    let is_char = st.st_mode & libc::S_IFMT == libc::S_IFCHR;
    let rdev = st.st_rdev;
    if !is_char || rdev != nix::sys::stat::makedev(1, 3) {
        let real = std::fs::read_link(fd_path(&fd)).unwrap_or_else(|_| p.to_path_buf());
        return Err(Error::Init(format!(
            "maskedPaths: /dev/null in the container ({}) is not the null device (character 1:3); refusing to mask from it",
            real.display()
        )));
    }
    Ok(fd)
}

/// What masking mounts from, made once per container: the verified
/// /dev/null and the first masked directory's empty read-only tmpfs.
#[derive(Default)]
struct Masks {
    null: Option<std::os::fd::OwnedFd>,
    empty: Option<std::os::fd::OwnedFd>,
}

/// Hide a path: /dev/null over files, an empty read-only tmpfs over dirs.
/// Every masked directory gets a clone of one such tmpfs (one file
/// system made per container instead of one per directory; it is
/// read-only and stays empty, so sharing it shares nothing).
fn mask(r: &Root, p: &Path, m: &mut Masks) -> Result<()> {
    let Some(t) = r.try_resolve(p)? else {
        return Ok(());
    };
    let st =
        nix::sys::stat::fstat(&t).map_err(crate::error::sys(format!("fstat {}", p.display())))?;
    // Why: maskedPaths hide kernel interfaces (/proc/kcore, /sys/firmware)
    // that leak host information or allow host changes.
    let mnt = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        if let Some(first) = &m.empty {
            // A clone of the first mask, attached (open_tree clones only
            // mounts of this namespace): read-only as it is.
            mountfd::clone_fd(first, false, p)?
        } else {
            let fs = mountfd::new_fs("tmpfs", "tmpfs", "", libc::MS_RDONLY, p)?;
            mountfd::attach(&fs, &t, p)?;
            m.empty = Some(fs);
            return Ok(());
        }
    } else {
        if m.null.is_none() {
            m.null = Some(verified_null(r)?);
        }
        let n = m.null.as_ref().expect("set above");
        mountfd::clone_fd(n, false, Path::new("/dev/null"))?
    };
    mountfd::attach(&mnt, &t, p)
}

/// Bind a path onto itself read-only: a clone of its tree made read-only
/// (only that bit: nosuid, nodev and noexec of the mount stay) before it
/// is attached over the path, all on the fd of the one lookup.
fn readonly(r: &Root, p: &Path) -> Result<()> {
    let Some(t) = r.try_resolve(p)? else {
        return Ok(());
    };
    // Why: readonlyPaths (/proc/sys, /proc/sysrq-trigger ...) stay visible
    // but must not be writable from the container.
    let mnt = mountfd::clone_fd(&t, true, p)?;
    mountfd::set_attr(&mnt, libc::MOUNT_ATTR_RDONLY, 0, libc::MS_REC, p)?;
    mountfd::attach(&mnt, &t, p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(dest: &str, fstype: &str, bind: bool) -> MountPlan {
        MountPlan {
            destination: dest.into(),
            fstype: fstype.into(),
            source: Some(fstype.into()),
            flags: 0,
            propagation: 0,
            data: String::new(),
            bind,
        }
    }

    #[test]
    fn only_proc_goes_on_proc_and_only_lxcfs_files_below_it() {
        let ok =
            |d: &str, m: &MountPlan, procfs: bool| check_proc_mount(Path::new(d), m, || procfs);
        ok("/proc", &plan("/proc", "proc", false), false).unwrap();
        ok("/proc", &plan("/proc", "bind", true), true).unwrap();
        let e = ok("/proc", &plan("/proc", "bind", true), false).unwrap_err();
        assert!(e.to_string().contains("mounts (/proc)"), "{e}");
        assert!(ok("/proc", &plan("/x", "tmpfs", false), false).is_err());
        let e = ok("/proc/sys", &plan("/proc/sys", "tmpfs", false), false).unwrap_err();
        assert!(e.to_string().contains("inside /proc"), "{e}");
        assert!(ok("/proc/self/x", &plan("/proc/self/x", "proc", false), true).is_err());
        ok("/proc/cpuinfo", &plan("/proc/cpuinfo", "bind", true), false).unwrap();
        ok("/procfoo", &plan("/procfoo", "tmpfs", false), false).unwrap();
        ok("/etc/proc", &plan("/etc/proc", "tmpfs", false), false).unwrap();
    }
}
