//! isobench run by an ordinary user: which environments work without root
//! on this host and why the others do not (one notice per run), the
//! `-rootless` column labels, and the plain bundle rootfs for peer runtimes
//! (no overlay mount without root).
//!
//! Containers run rootless as runc and crun define it (a user namespace
//! with the caller as root; OCI runtime spec, user namespace mappings);
//! their cgroups exist only where the hierarchy is delegated to the user.

use anyhow::{Context, Result};
use isorun::peer::Peer;
use std::path::{Path, PathBuf};

pub mod user;

/// Whether isobench runs without root.
pub fn is_rootless() -> bool {
    !nix::unistd::geteuid().is_root()
}

/// The column label of a runtime: `isorun` as root, `isorun-rootless`
/// without (a different cost: user namespace, no cgroup).
pub fn label(runtime: &str, rootless: bool) -> String {
    if rootless {
        format!("{runtime}{}", super::column::ROOTLESS_SUFFIX)
    } else {
        runtime.to_string()
    }
}

/// Why a peer runtime cannot run rootless here, if it cannot.
pub fn peer_cannot(peer: &Peer) -> Option<String> {
    peer.hide_cgroup2.as_ref().map(|m| {
        format!(
            "crun refuses hybrid cgroup hosts, and hiding the empty cgroup2 mount {} needs a mount namespace, which only root gets outside a user namespace",
            m.display()
        )
    })
}

/// The cgroup directory a rootless container could not create, if any.
pub fn cgroups_blocked() -> Option<PathBuf> {
    let h = isorun::cgroup::detect().ok()?;
    let planned = isorun::cgroup::Cgroup::planned(
        &h,
        &format!("/{}/probe", crate::env::naming::CGROUP_PARENT),
        &isorun::config::Resources::default(),
    );
    isorun::rootless::undelegated(&planned.dirs)
}

/// The `rootless` detail of a container column run by isobench's own user.
pub fn detail() -> String {
    detail_for(
        nix::unistd::geteuid().as_raw(),
        &isorun::userns::caller_default(),
        cgroups_blocked(),
    )
}

/// The `rootless` detail of a container column: the runtime runs as
/// `uid` with `maps`; `blocked` is the cgroup directory it cannot write.
pub fn detail_for(uid: u32, maps: &isorun::userns::Mappings, blocked: Option<PathBuf>) -> String {
    let sub = if maps.uid.len() > 1 {
        format!(", plus {} subordinate uids (newuidmap)", maps.uid[1].size)
    } else {
        ", no subordinate range (no /etc/subuid entry or no newuidmap)".to_string()
    };
    let cg = match blocked {
        Some(p) => format!(
            "cgroups not delegated ({} not writable): no limits, no cgroup accounting",
            p.display()
        ),
        None => "cgroups delegated to the user".to_string(),
    };
    format!(
        "user namespace: uid {uid} as 0{sub}; uid map {}; gid map {}; {cg}; device nodes bound from the host",
        isorun::userns::map_text(&maps.uid).trim().replace('\n', ", "),
        isorun::userns::map_text(&maps.gid).trim().replace('\n', ", "),
    )
}

/// What needs root, said once at the start of a run without root; None as
/// root. `runtimes` are the container runtimes asked for, `vm` whether VMs
/// are.
pub fn notice(runtimes: &[String], vm: bool) -> Option<String> {
    if !is_rootless() {
        return None;
    }
    let mut parts = vec![format!(
        "running as uid {} without root",
        nix::unistd::geteuid()
    )];
    if !runtimes.is_empty() {
        parts.push(format!(
            "containers run rootless ({}) in a user namespace",
            runtimes
                .iter()
                .map(|r| label(r, true))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(p) = cgroups_blocked().filter(|_| !runtimes.is_empty()) {
        parts.push(format!(
            "cgroup limits and accounting need root here ({} is not writable by you): containers run without them",
            p.display()
        ));
    }
    if vm {
        let kvm = nix::unistd::access(
            "/dev/kvm",
            nix::unistd::AccessFlags::R_OK | nix::unistd::AccessFlags::W_OK,
        );
        if kvm.is_err() {
            parts.push("KVM needs access to /dev/kvm (the kvm group): VMs use TCG".into());
        }
    }
    parts.push("crash cleanup covers only your own runs".into());
    Some(format!("isobench: {}", parts.join("; ")))
}

/// [`notice`] for the columns of a plan.
pub fn notice_for(envs: &[super::column::Column]) -> Option<String> {
    let runtimes: Vec<String> = envs
        .iter()
        .filter_map(|c| Some(c.oci()?.to_string()))
        .collect();
    let vm = envs.iter().any(|c| c.kind() == super::EnvKind::Vm);
    notice(&runtimes, vm)
}

/// Copy image layers (top first, as overlay lowerdirs) into `dest`, bottom
/// first so upper layers win: a plain rootfs for a rootless peer runtime.
pub fn copy_layers(lowers_top_first: &[PathBuf], dest: &Path) -> Result<()> {
    for layer in lowers_top_first.iter().rev() {
        copy_tree(layer, dest).with_context(|| format!("copying layer {}", layer.display()))?;
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    std::fs::set_permissions(to, std::fs::metadata(from)?.permissions())?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let ft = e.file_type()?;
        if ft.is_dir() {
            copy_tree(&src, &dst)?;
        } else if ft.is_symlink() {
            let _ = std::fs::remove_file(&dst);
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
        } else if ft.is_file() {
            std::fs::copy(&src, &dst)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_layer_copies() {
        assert_eq!(label("isorun", true), "isorun-rootless");
        assert_eq!(label("runc", false), "runc");
        let t = tempfile::tempdir().unwrap();
        let (low, up, dest) = (
            t.path().join("low"),
            t.path().join("up"),
            t.path().join("d"),
        );
        std::fs::create_dir_all(low.join("etc")).unwrap();
        std::fs::write(low.join("etc/f"), "low").unwrap();
        std::fs::create_dir_all(up.join("etc")).unwrap();
        std::fs::write(up.join("etc/f"), "up").unwrap();
        std::os::unix::fs::symlink("f", up.join("etc/l")).unwrap();
        copy_layers(&[up, low], &dest).unwrap();
        assert_eq!(std::fs::read_to_string(dest.join("etc/f")).unwrap(), "up");
        assert_eq!(
            std::fs::read_link(dest.join("etc/l")).unwrap(),
            Path::new("f")
        );
    }
}
