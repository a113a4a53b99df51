//! A private mount namespace for `isobench run` (mount_namespaces(7)).
//!
//! The mounts isobench makes for peer runtimes (the image overlay on a
//! bundle's rootfs, a tmpfs for upper layers) are made inside a mount
//! namespace of the isobench process alone, with propagation set to
//! private, so none reaches the host's table. When the last process in the
//! namespace dies (isobench and its children, even after a kill -9), the
//! kernel unmounts them all. Runtimes run as children and inherit the
//! namespace, so they see the bundle's rootfs as before.

use anyhow::{bail, Context, Result};
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use std::path::Path;

/// Threads of this process (the namespace applies to the calling thread and
/// what it starts later, so it must be the only one).
fn threads(proc: &Path) -> usize {
    std::fs::read_dir(proc.join("self/task"))
        .map(|d| d.count())
        .unwrap_or(1)
}

/// Move this (single-threaded) process into a new mount namespace whose
/// mounts are all private.
pub fn enter_private(proc: &Path) -> Result<()> {
    let n = threads(proc);
    if n != 1 {
        bail!("cannot enter a private mount namespace with {n} threads running");
    }
    // Why: mounts of this run must vanish with it, even after a kill -9.
    unshare(CloneFlags::CLONE_NEWNS).context("unshare(CLONE_NEWNS)")?;
    // Why: the copy inherits shared propagation from the host ("/" is
    // shared under systemd); private, so no mount of ours leaks out.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .context("making mounts private (mount --make-rprivate /)")?;
    Ok(())
}
