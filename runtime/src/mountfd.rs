//! Mounts made and changed on file descriptors, never on paths: Linux's
//! mount API (open_tree(2), fsopen(2)/fsconfig(2)/fsmount(2),
//! move_mount(2), mount_setattr(2)), through rustix where it has a wrapper.
//!
//! A mount is first made detached (a clone of a tree, or a configured new
//! file system), its flags are set on that detached mount, and it is then
//! attached onto the destination's fd from the one safe lookup
//! ([`crate::safepath::Root`]). Later changes (propagation) act on the
//! same mount fd. No step looks the destination up by path again, so a
//! component swapped in between cannot redirect a remount
//! (CVE-2021-30465 class). mount_setattr changes only the bits it is
//! given: a read-only remount keeps nosuid, nodev and noexec.

use crate::error::{Error, Result};
use rustix::mount as rm;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

/// Linux release that has every call used here (mount_setattr came last).
pub const NEEDS_LINUX: &str = "5.12";

fn sys(op: String) -> impl FnOnce(rustix::io::Errno) -> Error {
    move |e| errno(op, nix::errno::Errno::from_raw(e.raw_os_error()))
}

/// The error of a failed call; ENOSYS names the kernel release needed.
fn errno(op: String, err: nix::errno::Errno) -> Error {
    if err == nix::errno::Errno::ENOSYS {
        return Error::Init(format!(
            "{op}: the kernel lacks the mount API isorun mounts with (Linux {NEEDS_LINUX} or later)"
        ));
    }
    Error::Sys { op, err }
}

/// The mount attributes (MOUNT_ATTR_*) of MS_* flags: ro, nosuid, nodev,
/// noexec and the atime mode. Returns (set, clear).
pub fn attrs(ms: u64) -> (u64, u64) {
    let mut set = 0;
    let mut clr = 0;
    for (ms_bit, attr) in [
        (libc::MS_RDONLY, libc::MOUNT_ATTR_RDONLY),
        (libc::MS_NOSUID, libc::MOUNT_ATTR_NOSUID),
        (libc::MS_NODEV, libc::MOUNT_ATTR_NODEV),
        (libc::MS_NOEXEC, libc::MOUNT_ATTR_NOEXEC),
        (libc::MS_NODIRATIME, libc::MOUNT_ATTR_NODIRATIME),
    ] {
        if ms & ms_bit != 0 {
            set |= attr;
        }
    }
    // The atime mode is one value in a field: setting it clears the field.
    let atime = if ms & libc::MS_NOATIME != 0 {
        Some(libc::MOUNT_ATTR_NOATIME)
    } else if ms & libc::MS_STRICTATIME != 0 {
        Some(libc::MOUNT_ATTR_STRICTATIME)
    } else if ms & libc::MS_RELATIME != 0 {
        Some(libc::MOUNT_ATTR_RELATIME)
    } else {
        None
    };
    if let Some(a) = atime {
        set |= a;
        clr |= libc::MOUNT_ATTR__ATIME;
    }
    (set, clr)
}

/// A detached clone of the tree at `src` (a host path named by the
/// config): open_tree(OPEN_TREE_CLONE), with submounts when `recursive`.
pub fn clone_path(src: &Path, recursive: bool) -> Result<OwnedFd> {
    let mut f = rm::OpenTreeFlags::OPEN_TREE_CLONE | rm::OpenTreeFlags::OPEN_TREE_CLOEXEC;
    if recursive {
        f |= rm::OpenTreeFlags::AT_RECURSIVE;
    }
    rm::open_tree(rustix::fs::CWD, src, f).map_err(sys(format!("open_tree {}", src.display())))
}

/// A detached clone of the file or tree behind `fd` (AT_EMPTY_PATH).
pub fn clone_fd(fd: &OwnedFd, recursive: bool, shown: &Path) -> Result<OwnedFd> {
    let mut f = rm::OpenTreeFlags::OPEN_TREE_CLONE
        | rm::OpenTreeFlags::OPEN_TREE_CLOEXEC
        | rm::OpenTreeFlags::AT_EMPTY_PATH;
    if recursive {
        f |= rm::OpenTreeFlags::AT_RECURSIVE;
    }
    rm::open_tree(fd.as_fd(), "", f).map_err(sys(format!("open_tree {}", shown.display())))
}

/// A new file system of `fstype`, configured with `source` and the
/// comma-separated `data` options (key=value or flag), mounted detached
/// with the MS_* flags `ms` as mount attributes (sync/dirsync/lazytime go
/// to the superblock, as mount(2) does).
pub fn new_fs(fstype: &str, source: &str, data: &str, ms: u64, shown: &Path) -> Result<OwnedFd> {
    let fs = rm::fsopen(fstype, rm::FsOpenFlags::FSOPEN_CLOEXEC)
        .map_err(sys(format!("fsopen {fstype} for {}", shown.display())))?;
    // Why: the kernel explains a refused option in the context's log
    // ("e tmpfs: Bad value for 'size'"); the error line carries it.
    let what = |op: &str| {
        let mut s = format!("{op} {fstype} for {}", shown.display());
        if let Some(m) = log_message(&fs) {
            s.push_str(&format!(" ({m})"));
        }
        s
    };
    rm::fsconfig_set_string(&fs, "source", source).map_err(|e| sys(what("fsconfig source"))(e))?;
    for (bit, flag) in [
        (libc::MS_SYNCHRONOUS, "sync"),
        (libc::MS_DIRSYNC, "dirsync"),
        (libc::MS_LAZYTIME, "lazytime"),
    ] {
        if ms & bit != 0 {
            rm::fsconfig_set_flag(&fs, flag)
                .map_err(|e| sys(what(&format!("fsconfig {flag}")))(e))?;
        }
    }
    for o in data.split(',').filter(|o| !o.is_empty()) {
        let r = match o.split_once('=') {
            Some((k, v)) => rm::fsconfig_set_string(&fs, k, v),
            None => rm::fsconfig_set_flag(&fs, o),
        };
        r.map_err(|e| sys(what(&format!("fsconfig {o}")))(e))?;
    }
    rm::fsconfig_create(&fs).map_err(|e| sys(what("creating"))(e))?;
    let (set, _) = attrs(ms);
    rm::fsmount(
        &fs,
        rm::FsMountFlags::FSMOUNT_CLOEXEC,
        rm::MountAttrFlags::from_bits_retain(set as u32),
    )
    .map_err(|e| sys(what("fsmount"))(e))
}

/// The last message the kernel logged on a file system context fd (read
/// until ENODATA), without its "e "/"w " prefix.
fn log_message(fs: &OwnedFd) -> Option<String> {
    let mut last = None;
    let mut buf = [0u8; 512];
    for _ in 0..8 {
        match rustix::io::read(fs, &mut buf) {
            Ok(n) if n > 0 => {
                let m = String::from_utf8_lossy(&buf[..n]);
                let m = m.trim_end();
                last = Some(m.split_once(' ').map_or(m, |(_, r)| r).to_string());
            }
            _ => break,
        }
    }
    last
}

/// mount_setattr(2) on the mount behind `mnt`: set and clear MOUNT_ATTR_*
/// bits and/or change propagation (MS_PRIVATE, MS_SLAVE, MS_SHARED,
/// MS_UNBINDABLE; MS_REC means the whole tree). Bits not named stay as
/// they are.
pub fn set_attr(mnt: &OwnedFd, set: u64, clr: u64, propagation: u64, shown: &Path) -> Result<()> {
    let recursive = propagation & libc::MS_REC != 0;
    let mut attr = libc::mount_attr {
        attr_set: set,
        attr_clr: clr,
        propagation: propagation & !libc::MS_REC,
        userns_fd: 0,
    };
    let mut at = libc::AT_EMPTY_PATH;
    if recursive {
        at |= libc::AT_RECURSIVE;
    }
    // Why by hand: rustix 1.1 wraps the rest of the mount API but not
    // mount_setattr(2); the struct and constants come from libc.
    // SAFETY: mnt is an open fd, the path is an empty NUL-terminated
    // string, and `attr` lives across the call with its size passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            mnt.as_raw_fd(),
            c"".as_ptr(),
            at as libc::c_uint,
            &mut attr as *mut libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    if r != 0 {
        return Err(errno(
            format!(
                "mount_setattr {} (set {set:#x}, clear {clr:#x}, propagation {propagation:#x})",
                shown.display()
            ),
            nix::errno::Errno::last(),
        ));
    }
    Ok(())
}

/// Attach the detached mount `mnt` onto the file behind `target`
/// (move_mount(2) with both paths empty: fd to fd).
pub fn attach(mnt: &OwnedFd, target: &OwnedFd, shown: &Path) -> Result<()> {
    rm::move_mount(
        mnt,
        "",
        target,
        "",
        rm::MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | rm::MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
    )
    .map_err(sys(format!("move_mount onto {}", shown.display())))
}

/// mount(2) on a path, the error naming every argument (for the steps that
/// act on the namespace's own mounts, not on a container destination).
pub(crate) fn do_mount(
    src: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    f: nix::mount::MsFlags,
    data: Option<&str>,
) -> Result<()> {
    nix::mount::mount(src, target, fstype, f, data).map_err(|e| Error::Sys {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ms_flags_map_to_mount_attributes() {
        assert_eq!(attrs(0), (0, 0));
        let (set, clr) =
            attrs(libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC);
        assert_eq!(
            set,
            libc::MOUNT_ATTR_RDONLY
                | libc::MOUNT_ATTR_NOSUID
                | libc::MOUNT_ATTR_NODEV
                | libc::MOUNT_ATTR_NOEXEC
        );
        assert_eq!(clr, 0);
        assert_eq!(
            attrs(libc::MS_STRICTATIME),
            (libc::MOUNT_ATTR_STRICTATIME, libc::MOUNT_ATTR__ATIME)
        );
        assert_eq!(attrs(libc::MS_RELATIME), (0, libc::MOUNT_ATTR__ATIME));
        // Flags that are not mount attributes (bind, rec) are left out.
        assert_eq!(attrs(libc::MS_BIND | libc::MS_REC), (0, 0));
    }

    #[test]
    fn a_refused_option_is_explained_by_the_kernels_message() {
        if !isobench_testkit::require_root("fsopen needs CAP_SYS_ADMIN") {
            return;
        }
        // Nothing is mounted: the option is refused at fsconfig.
        let e = new_fs("tmpfs", "tmpfs", "size=lots", 0, Path::new("/dev"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("fsconfig size=lots tmpfs for /dev"), "{e}");
        // The kernel's own explanation names the parameter ("tmpfs: Bad
        // value for 'size'" on Linux 6).
        assert!(e.contains("(tmpfs: ") && e.contains("'size'"), "{e}");
        assert!(e.contains("EINVAL"), "{e}");
    }

    #[test]
    fn a_kernel_without_the_mount_api_is_named() {
        let e = errno("fsopen tmpfs for /dev".into(), nix::errno::Errno::ENOSYS).to_string();
        assert!(
            e.contains("fsopen tmpfs for /dev") && e.contains("Linux 5.12"),
            "{e}"
        );
        let e = errno("x".into(), nix::errno::Errno::EINVAL);
        assert!(matches!(
            e,
            Error::Sys {
                err: nix::errno::Errno::EINVAL,
                ..
            }
        ));
    }
}
