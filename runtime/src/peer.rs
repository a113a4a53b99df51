//! Peer OCI runtimes (runc, crun, any runc-compatible CLI) and the host
//! quirks they need, in one place: isobench's container environment and the
//! lifecycle benchmark both start peers through [`Peer::command`].
//!
//! Known quirk: crun 1.8 refuses a "hybrid" cgroup host (v1 controllers plus
//! a cgroup2 mount listing a controller, e.g. hugetlb) with "cgroups in
//! hybrid mode not supported". It runs fine in a private mount namespace in
//! which the cgroup2 mount is unmounted; that is done in the spawned child
//! before exec (unshare(2) + umount2(2)), with no extra process.
//!
//! gVisor's runsc takes global flags on every call (`--platform`,
//! `--network=none`) and keeps its state as files, not a directory per
//! container: `<root>/<id>_sandbox:<id>.state` (and `.lock`).

use crate::cgroup;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A runtime CLI and what it needs on this host.
#[derive(Debug, Clone)]
pub struct Peer {
    pub bin: PathBuf,
    /// `isorun`, `runc`, `crun` or the binary's file name.
    pub name: String,
    /// First line of `--version`.
    pub version: String,
    /// cgroup2 mount to hide from the peer (crun on a hybrid host).
    pub hide_cgroup2: Option<PathBuf>,
    /// Global flags before every command (runsc's platform and network).
    pub global: Vec<String>,
    /// Why these global flags (for env_detail).
    pub global_why: Option<String>,
}

/// The runsc platform used, and why: ptrace works everywhere runsc does.
/// systrap (faster, no KVM) came to runsc after the 2022 releases Debian
/// 12 ships, and the kvm platform needs a usable /dev/kvm, which a probe
/// cannot tell from a hang (on a nested host `runsc --platform=kvm run`
/// never returned). So ptrace, unless ISOBENCH_RUNSC_PLATFORM names one.
pub fn runsc_platform() -> Result<(String, String), String> {
    runsc_platform_from(std::env::var("ISOBENCH_RUNSC_PLATFORM").ok().as_deref())
}

/// [`runsc_platform`] for a given ISOBENCH_RUNSC_PLATFORM value.
pub fn runsc_platform_from(var: Option<&str>) -> Result<(String, String), String> {
    match var.map(str::trim) {
        Some(p) if ["ptrace", "systrap", "kvm"].contains(&p) => {
            Ok((p.to_string(), "chosen by ISOBENCH_RUNSC_PLATFORM".into()))
        }
        Some(p) if !p.is_empty() => Err(format!(
            "ISOBENCH_RUNSC_PLATFORM={p}: not a runsc platform (ptrace, systrap or kvm)"
        )),
        _ => Ok((
            "ptrace".into(),
            "default: works without KVM; systrap needs a newer runsc, kvm a usable /dev/kvm (set ISOBENCH_RUNSC_PLATFORM=kvm|systrap to use them)".into(),
        )),
    }
}

/// The container id an entry of a state root stands for: the entry itself
/// (a directory, as runc, crun and isorun keep it) or, for runsc, the id of
/// `<id>_sandbox:<id>.state`. `None` for runsc's `.lock` files.
pub fn state_entry_id(name: &str) -> Option<&str> {
    if name.ends_with(".lock") {
        return None;
    }
    match name.strip_suffix(".state") {
        Some(stem) => stem.split_once("_sandbox:").map(|(_, id)| id),
        None => Some(name),
    }
}

/// The files and directories of container `id` in state root `root`, for
/// removal by hand once its processes are gone (any runtime's layout).
pub fn state_paths(root: &Path, id: &str) -> Vec<PathBuf> {
    let mut v = vec![root.join(id)];
    if let Ok(rd) = std::fs::read_dir(root) {
        let prefix = format!("{id}_sandbox:");
        v.extend(
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                .map(|e| e.path()),
        );
    }
    v
}

/// On a hybrid host: the cgroup2 mount point next to the v1 hierarchies.
pub fn hybrid_cgroup2_mount(mountinfo: &str) -> Option<PathBuf> {
    let v1 = matches!(
        cgroup::detect_from_mountinfo(mountinfo),
        Some(cgroup::Hierarchy::V1(_))
    );
    if !v1 {
        return None;
    }
    mountinfo.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        if right.starts_with("cgroup2 ") {
            left.split(' ').nth(4).map(PathBuf::from)
        } else {
            None
        }
    })
}

impl Peer {
    /// Probe `bin --version` and work out the quirks it needs here.
    pub fn probe(bin: &Path) -> std::io::Result<Peer> {
        let out = Command::new(bin).arg("--version").output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let version = text.lines().next().unwrap_or("").trim().to_string();
        let first = version
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_lowercase();
        let name = if ["runc", "crun", "isorun", "runsc"].contains(&first.as_str()) {
            first
        } else {
            bin.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let hide_cgroup2 = if name == "crun" {
            std::fs::read_to_string("/proc/self/mountinfo")
                .ok()
                .and_then(|m| hybrid_cgroup2_mount(&m))
        } else {
            None
        };
        let (global, global_why) = if name == "runsc" {
            let (platform, why) = runsc_platform()
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
            (
                vec![format!("--platform={platform}"), "--network=none".into()],
                Some(format!("platform {platform} ({why}); --network=none")),
            )
        } else {
            (Vec::new(), None)
        };
        Ok(Peer {
            bin: bin.to_path_buf(),
            name,
            version,
            hide_cgroup2,
            global,
            global_why,
        })
    }

    /// The runsc platform this peer runs with (`--platform=`), if any.
    pub fn platform(&self) -> Option<&str> {
        self.global
            .iter()
            .find_map(|a| a.strip_prefix("--platform="))
    }

    /// Human-readable quirks applied (for env_detail).
    pub fn quirks(&self) -> Vec<String> {
        let mut q: Vec<String> = self.global_why.iter().cloned().collect();
        if let Some(p) = &self.hide_cgroup2 {
            q.push(format!(
                "runs in a private mount namespace with the hybrid cgroup2 mount {} unmounted (crun refuses hybrid cgroup hosts)",
                p.display()
            ));
        }
        q
    }

    /// A command running the peer with `args`, quirks applied.
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut c = Command::new(&self.bin);
        c.args(&self.global).args(args);
        if let Some(p) = &self.hide_cgroup2 {
            let target = CString::new(p.as_os_str().as_bytes()).expect("mount point has no NUL");
            // SAFETY: the closure runs in the forked child before exec and
            // only makes async-signal-safe system calls on a CString
            // prepared beforehand.
            unsafe {
                c.pre_exec(move || {
                    // Why: a private mount namespace in which crun does not
                    // see the cgroup2 mount that makes this host "hybrid";
                    // made private first so the umount stays in it.
                    if libc::unshare(libc::CLONE_NEWNS) != 0
                        || libc::mount(
                            std::ptr::null(),
                            target.as_ptr(),
                            std::ptr::null(),
                            libc::MS_PRIVATE,
                            std::ptr::null(),
                        ) != 0
                        || libc::umount2(target.as_ptr(), libc::MNT_DETACH) != 0
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hybrid_host_is_recognised() {
        let hybrid = "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
                      41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            hybrid_cgroup2_mount(hybrid),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        let v2 = "30 23 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        assert_eq!(hybrid_cgroup2_mount(v2), None);
    }

    #[test]
    fn the_runsc_platform_is_ptrace_unless_a_known_one_is_asked_for() {
        assert_eq!(runsc_platform_from(None).unwrap().0, "ptrace");
        assert_eq!(runsc_platform_from(Some("")).unwrap().0, "ptrace");
        assert_eq!(runsc_platform_from(Some("kvm")).unwrap().0, "kvm");
        let e = runsc_platform_from(Some("kvmm")).unwrap_err();
        assert!(e.contains("ISOBENCH_RUNSC_PLATFORM=kvmm"), "{e}");
    }

    #[test]
    fn runsc_state_files_name_their_container() {
        assert_eq!(state_entry_id("isobench-9-1"), Some("isobench-9-1"));
        assert_eq!(
            state_entry_id("isobench-9-1_sandbox:isobench-9-1.state"),
            Some("isobench-9-1")
        );
        assert_eq!(
            state_entry_id("isobench-9-1_sandbox:isobench-9-1.lock"),
            None
        );
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("c1_sandbox:c1.state"), "").unwrap();
        std::fs::write(t.path().join("c1_sandbox:c1.lock"), "").unwrap();
        std::fs::write(t.path().join("c10_sandbox:c10.state"), "").unwrap();
        let mut got = state_paths(t.path(), "c1");
        got.sort();
        assert_eq!(
            got,
            ["c1", "c1_sandbox:c1.lock", "c1_sandbox:c1.state"].map(|n| t.path().join(n))
        );
    }
}
