//! The setups of the permission check (claim C6), from the most shared to
//! the least:
//! - [`DockerDaemon`]: the seed's scenario. The host's Docker daemon, A
//!   and B in the `docker` group.
//! - [`PodmanService`]: the daemon model. Rootful podman's API service
//!   (`podman system service`) on a socket owned by the users' group, mode
//!   0660 — what membership of the `docker` group gives. Both users drive it
//!   with `podman --url unix://...`.
//! - [`RuntimeSetup`] with [`Sharing::Sudo`]: a rootful OCI runtime CLI
//!   (runc, crun, isorun) on one state root, which the group may run as root
//!   through a sudo rule naming only a wrapper that fixes `--root`.
//! - [`RuntimeSetup`] with [`Sharing::Group`]: each user runs the runtime
//!   itself (rootless: a user namespace) on one group-writable state root.
//! - [`RuntimeSetup`] with [`Sharing::PerUser`] and [`RootlessPodman`]: per-user
//!   rootless engines, each with its own state; B points the engine at A's
//!   state (`--root`, podman's `--root`/`--runroot`).
//!
//! Every setup works in its own directory under the check's work directory
//! and undoes what it made in `teardown` (service stopped, sudo rule removed,
//! containers deleted, mounts under the work directory detached).

mod docker;
mod podman;
mod runtime;

pub use docker::DockerDaemon;
pub use podman::{PodmanService, RootlessPodman};
pub use runtime::{RuntimeSetup, Sharing};

use super::users::{set_mode, Output};
use super::Setup;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where sudo reads drop-in rules.
pub const SUDOERS_DIR: &str = "/etc/sudoers.d";
/// The container's process: long enough for the check, short enough that a
/// container a killed check left ends by itself.
pub(crate) const SLEEP: [&str; 3] = ["/bin/busybox", "sleep", "120"];

/// What a setup is, for its record.
pub(crate) fn params(
    model: &str,
    engine: &str,
    privilege: &str,
    how: &str,
) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("model".to_string(), model.to_string()),
        ("engine".to_string(), engine.to_string()),
        ("privilege".to_string(), privilege.to_string()),
        ("how".to_string(), how.to_string()),
    ])
}

/// Model keys, also read by the report.
pub const SHARED_DAEMON: &str = "shared daemon";
pub const SHARED_ROOT_ROOTFUL: &str = "shared state root, rootful";
pub const SHARED_ROOT_ROOTLESS: &str = "shared state root, rootless";
pub const PER_USER: &str = "per-user rootless";

pub(crate) fn mkdir(p: &Path, mode: u32, owner: Option<(u32, u32)>) -> Result<()> {
    std::fs::create_dir_all(p).with_context(|| format!("cannot create {}", p.display()))?;
    if let Some((u, g)) = owner {
        crate::sys::chown(p, u, g).with_context(|| format!("cannot chown {}", p.display()))?;
    }
    set_mode(p, mode)
}

pub(crate) fn need(o: Output, what: &str) -> Result<Output> {
    if o.ok {
        Ok(o)
    } else {
        bail!("{what}: {}", o.why())
    }
}

/// Detach every mount under `dir` (deepest first): overlays an engine left.
pub fn umount_under(dir: &Path) {
    let Ok(mi) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut points: Vec<PathBuf> = crate::sweep::scan::mount_points(&mi)
        .into_iter()
        .filter(|p| p.starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for p in points {
        let _ = crate::sys::detach_mount(&p);
    }
}

/// SIGKILL every process whose command line names `dir` (each by its pid):
/// podman's `exec` leaves a conmon behind for minutes (`--exit-delay`).
pub fn kill_naming(dir: &Path) {
    let needle = dir.as_os_str().as_encoded_bytes();
    if needle.len() < 8 {
        return;
    }
    let me = std::process::id() as i32;
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        if cmd.windows(needle.len()).any(|w| w == needle) {
            crate::sys::sigkill(pid);
        }
    }
}

/// Every setup, most shared first.
pub fn all(rootfs: &Path, image_tar: &Path, isorun_bin: &Path) -> Vec<Box<dyn Setup>> {
    use crate::env::column::Runtime;
    let setup = |rt: Runtime, sharing| -> Box<dyn Setup> {
        let bin = rt.locate(isorun_bin);
        Box::new(RuntimeSetup::new(&rt.name(), bin, sharing, rootfs))
    };
    let mut v: Vec<Box<dyn Setup>> = vec![
        Box::new(DockerDaemon::new(image_tar)),
        Box::new(PodmanService::new(image_tar)),
    ];
    for sharing in [Sharing::Sudo, Sharing::Group] {
        for rt in [Runtime::Runc, Runtime::Crun, Runtime::Isorun] {
            v.push(setup(rt, sharing));
        }
    }
    for rt in [Runtime::Isorun, Runtime::Runc] {
        v.push(setup(rt, Sharing::PerUser));
    }
    v.push(Box::new(RootlessPodman::new(image_tar)));
    v
}
