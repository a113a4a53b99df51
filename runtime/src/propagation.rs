//! `linux.rootfsPropagation` (runtime spec config-linux.md "Rootfs Mount
//! Propagation"; mount_namespaces(7)), in two steps around pivot_root:
//!
//! 1. [`prepare`], in the new mount namespace before anything is mounted:
//!    "/" recursively gets the configured type, except that `shared` and
//!    `unbindable` become slave for now: a shared copy would carry the
//!    container's mounts back to the host, and pivot_root(2) refuses a new
//!    root whose parent mount is shared, while an unbindable root could not
//!    be bound onto itself. The mount holding the root is then made
//!    private (a non-recursive type on "/" leaves it as the host has it).
//! 2. [`finish`], after pivot_root: the container's "/" gets the configured
//!    type when step 1 held it back, so it is shared (with a peer group of
//!    its own) or unbindable as asked.

use crate::error::Result;
use nix::mount::MsFlags;
use std::path::{Path, PathBuf};

const HELD_BACK: u64 = libc::MS_SHARED | libc::MS_UNBINDABLE;

/// The propagation flags "/" gets before the root is bound.
pub fn before_pivot(configured: u64) -> u64 {
    if configured & HELD_BACK != 0 {
        libc::MS_SLAVE | libc::MS_REC
    } else {
        configured
    }
}

/// Step 1 (see the module doc), for a container whose root is `rootfs`.
pub fn prepare(configured: u64, rootfs: &Path) -> Result<()> {
    let first = before_pivot(configured);
    set(Path::new("/"), first)?;
    if first & (libc::MS_PRIVATE | libc::MS_REC) == libc::MS_PRIVATE | libc::MS_REC {
        // Every mount is private already (the default): no lookup needed.
        return Ok(());
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(crate::error::io("read", "/proc/self/mountinfo"))?;
    let real = std::fs::canonicalize(rootfs).map_err(crate::error::io("resolve", rootfs))?;
    if let Some(parent) = mount_point_of(&mountinfo, &real) {
        set(&parent, libc::MS_PRIVATE)?;
    }
    Ok(())
}

/// Step 2 (see the module doc), on the container's "/".
pub fn finish(configured: u64) -> Result<()> {
    if configured & HELD_BACK != 0 {
        set(Path::new("/"), configured)?;
    }
    Ok(())
}

fn set(target: &Path, bits: u64) -> Result<()> {
    crate::mountfd::do_mount(
        None,
        target,
        None,
        MsFlags::from_bits_truncate(bits as libc::c_ulong),
        None,
    )
}

/// The mount point (field 5 of mountinfo, octal escapes undone) that
/// holds `path`: the longest one that is a prefix of it, component-wise.
pub fn mount_point_of(mountinfo: &str, path: &Path) -> Option<PathBuf> {
    mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(unescape))
        .filter(|m| path.starts_with(m))
        .max_by_key(|m| m.components().count())
}

/// Undo mountinfo's octal escapes (`\040` for a space, proc_pid_mountinfo(5)).
fn unescape(s: &str) -> PathBuf {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_and_unbindable_wait_until_after_pivot() {
        let rshared = libc::MS_SHARED | libc::MS_REC;
        assert_eq!(before_pivot(rshared), libc::MS_SLAVE | libc::MS_REC);
        assert_eq!(
            before_pivot(libc::MS_UNBINDABLE),
            libc::MS_SLAVE | libc::MS_REC
        );
        let rprivate = libc::MS_PRIVATE | libc::MS_REC;
        assert_eq!(before_pivot(rprivate), rprivate);
        assert_eq!(before_pivot(libc::MS_SLAVE), libc::MS_SLAVE);
    }

    #[test]
    fn the_mount_holding_a_path_is_the_longest_prefix() {
        let mi = "22 1 0:21 / / rw - ext4 /dev/sda1 rw\n\
                  23 22 0:22 / /tmp rw - tmpfs tmpfs rw\n\
                  24 22 0:23 / /tmpx rw - tmpfs tmpfs rw\n\
                  25 23 0:24 / /tmp/a\\040b rw - tmpfs tmpfs rw\n";
        let p = |s: &str| mount_point_of(mi, Path::new(s)).unwrap();
        assert_eq!(p("/tmp/bundle/rootfs"), Path::new("/tmp"));
        assert_eq!(p("/tmpx/r"), Path::new("/tmpx"));
        assert_eq!(p("/tmp/a b/rootfs"), Path::new("/tmp/a b"));
        assert_eq!(p("/var/lib"), Path::new("/"));
    }
}
