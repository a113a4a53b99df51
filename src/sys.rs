//! The system calls of the modules above the environments, each behind a
//! small named function: who we are, signals by pid, resource limits,
//! owners and modes of files, detached unmounts, and what a command's child
//! does between fork and exec.
//!
//! A bottom module: it imports nothing of this crate, so every module may
//! use it. Together with the `env` module (processes, cgroups, affinity,
//! namespaces) and the `sweep` module (what a crashed run left), it is
//! where this crate makes system calls directly (see the crate
//! documentation).

use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

/// The effective user id (geteuid(2)).
pub fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// Whether this process runs as root (effective uid 0).
pub fn is_root() -> bool {
    euid() == 0
}

/// Send SIGKILL to the process `pid` (kill(2); errors ignored: the
/// process may be gone).
pub fn sigkill(pid: i32) {
    // SAFETY: kill(2) on a pid; no memory is shared.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
}

/// Send SIGTERM to the process `pid` (kill(2); errors ignored).
pub fn sigterm(pid: i32) {
    // SAFETY: kill(2) on a pid; no memory is shared.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
}

/// RLIMIT_NOFILE's soft and hard limits (getrlimit(2)).
pub fn nofile_limits() -> io::Result<(u64, u64)> {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map_err(io::Error::from)
}

/// Set RLIMIT_NOFILE's soft and hard limits (setrlimit(2)).
pub fn set_nofile_limits(soft: u64, hard: u64) -> io::Result<()> {
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, soft, hard)
        .map_err(io::Error::from)
}

/// Detach the mount at `p` (umount2(2) with MNT_DETACH).
pub fn detach_mount(p: &Path) -> io::Result<()> {
    nix::mount::umount2(p, nix::mount::MntFlags::MNT_DETACH).map_err(io::Error::from)
}

/// Give `p` the owner `uid` and group `gid` (chown(2)).
pub fn chown(p: &Path, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::chown(p, Some(uid), Some(gid))
}

/// Set `p`'s permission bits to `mode` (chmod(2)).
pub fn set_mode(p: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
}

/// Whether `p` is a regular file with an execute bit (stat(2)).
pub fn is_executable_file(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Start the child of `cmd` in a process group of its own (setpgid(2)),
/// so that the whole group can be killed.
pub fn own_process_group(cmd: &mut Command) -> &mut Command {
    cmd.process_group(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_limits_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("prog");
        std::fs::write(&f, b"").unwrap();
        set_mode(&f, 0o644).unwrap();
        assert!(!is_executable_file(&f));
        set_mode(&f, 0o755).unwrap();
        assert!(is_executable_file(&f));
        assert!(!is_executable_file(dir.path()));
        let (soft, hard) = nofile_limits().unwrap();
        assert!(soft <= hard);
        assert_eq!(is_root(), euid() == 0);
    }
}
