//! Rootless columns in a root run: the container runtime run as a
//! dedicated unprivileged user, `isobench-rootless`, so `isorun` and
//! `isorun-rootless` are measured side by side in one run.
//!
//! The user is made with useradd(8) as any Debian user is (a uid of the
//! normal range and, as useradd grants one when /etc/subuid exists, a
//! subordinate id range in /etc/subuid and /etc/subgid); its GECOS field
//! marks it as isobench's. Every run using it holds a shared flock(2) on
//! [`LOCK`]; whoever can take the lock exclusively (the last run to
//! finish, a later run's crash sweep, `isobench clean`) removes the user
//! with userdel(8), which also drops its subordinate ranges. A user of that
//! name made by someone else is used and never removed.
//!
//! The runtime is spawned with setgroups(2), setgid(2) and setuid(2) in
//! the child before exec (after any mount namespace a peer quirk makes
//! while still root), HOME and XDG_RUNTIME_DIR in a per-run directory the
//! user owns, and a minimal environment, as a login of that user would
//! have. Its files live under [`BASE`] (root's, mode 0711), which the user
//! can reach wherever the run directory is.

use anyhow::{anyhow, bail, Context, Result};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The dedicated user.
pub const USER: &str = "isobench-rootless";
/// Its GECOS field: the user is isobench's to remove.
pub const MARKER: &str = "isobench rootless columns (removed by isobench)";
/// Root of the per-run directories of rootless columns in a root run.
pub const BASE: &str = "/run/isobench/rootless";
/// Held shared by every run using the user; exclusively to remove it.
pub const LOCK: &str = "/run/isobench/rootless.lock";

/// A user as /etc/passwd lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub gecos: String,
}

impl Account {
    /// Whether isobench made this user (and may remove it).
    pub fn ours(&self) -> bool {
        self.gecos == MARKER
    }

    /// Make `cmd` run as the user: minimal environment with HOME and
    /// XDG_RUNTIME_DIR set to `home`, no supplementary groups, gid, uid.
    pub fn apply(&self, cmd: &mut Command, home: &Path) {
        let (uid, gid) = (self.uid, self.gid);
        cmd.env_clear()
            .env(
                "PATH",
                "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
            )
            .env("HOME", home)
            .env("XDG_RUNTIME_DIR", home)
            .env("USER", &self.name)
            .env("LOGNAME", &self.name)
            .current_dir(home);
        // SAFETY: runs in the child between fork and exec; setgroups,
        // setgid and setuid are async-signal-safe system calls on values
        // copied before the fork. Registered after the peer's own pre-exec
        // steps (which may need root), so those run first.
        unsafe {
            cmd.pre_exec(move || {
                // Why: drop root for good, groups first (they need root).
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(gid) != 0
                    || libc::setuid(uid) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
}

/// The entry of `name` in passwd(5) text.
pub fn parse_passwd(text: &str, name: &str) -> Option<Account> {
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 7 && f[0] == name).then(|| {
            Some(Account {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                gecos: f[4].to_string(),
            })
        })?
    })
}

/// The dedicated user, if it exists.
pub fn lookup() -> Option<Account> {
    parse_passwd(&std::fs::read_to_string("/etc/passwd").ok()?, USER)
}

/// The per-run directory of this process's rootless columns.
pub fn run_dir(pid: u32) -> PathBuf {
    Path::new(BASE).join(pid.to_string())
}

/// Run a shadow tool, retrying while another process holds the passwd or
/// group lock ([`isobench_shadow::check`]); an error names the tool, its
/// arguments and its stderr.
fn shadow(tool: &str, args: &[&str]) -> Result<()> {
    isobench_shadow::check(tool, args)?;
    Ok(())
}

/// A flock(2) on [`LOCK`], released on drop (and when the process dies).
pub struct Lock(#[allow(dead_code)] std::fs::File);

fn lock(exclusive: bool) -> Result<Option<Lock>> {
    std::fs::create_dir_all(Path::new(LOCK).parent().unwrap_or(Path::new("/")))?;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(LOCK)
        .with_context(|| format!("opening {LOCK}"))?;
    use std::os::fd::AsRawFd;
    let op = if exclusive {
        libc::LOCK_EX | libc::LOCK_NB
    } else {
        libc::LOCK_SH
    };
    // SAFETY: flock(2) on a file descriptor we own.
    if unsafe { libc::flock(f.as_raw_fd(), op) } != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            return Ok(None);
        }
        return Err(e).with_context(|| format!("locking {LOCK}"));
    }
    Ok(Some(Lock(f)))
}

/// The dedicated user, in use while the value lives.
pub struct RunAs {
    pub account: Account,
    _lock: Lock,
}

impl RunAs {
    /// Take the shared lock, then make the user unless it exists.
    pub fn ensure() -> Result<RunAs> {
        let l = lock(false)?.ok_or_else(|| anyhow!("cannot lock {LOCK}"))?;
        if lookup().is_none() {
            // Why: a user of the normal range, as a person running rootless
            // containers is, with the subordinate range useradd grants.
            let made = shadow(
                "useradd",
                &[
                    "--no-create-home",
                    "--home-dir",
                    "/nonexistent",
                    "--user-group",
                    "--shell",
                    "/usr/sbin/nologin",
                    "--comment",
                    MARKER,
                    USER,
                ],
            );
            // Another run may have made it at the same moment.
            if let Err(e) = made {
                if lookup().is_none() {
                    return Err(e.context(format!("creating the user {USER}")));
                }
            }
        }
        let account = lookup().ok_or_else(|| anyhow!("user {USER} vanished"))?;
        if account.uid == 0 || account.gid == 0 {
            bail!("user {USER} has uid or gid 0: rootless columns need an unprivileged user");
        }
        Ok(RunAs { account, _lock: l })
    }

    /// The user's default rootless maps (its ids as 0, plus its
    /// subordinate ranges when newuidmap/newgidmap are installed).
    pub fn maps(&self) -> isorun::userns::Mappings {
        let helpers = isorun::userns::helper("newuidmap").is_some()
            && isorun::userns::helper("newgidmap").is_some();
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let a = &self.account;
        let sub = |p: &str, id: u32| {
            helpers
                .then(|| isorun::userns::subordinate(&read(p), Some(&a.name), id))
                .flatten()
        };
        isorun::userns::default_maps(
            a.uid,
            a.gid,
            sub("/etc/subuid", a.uid),
            sub("/etc/subgid", a.gid),
        )
    }

    /// chown -R `path` (no symlink followed) to the user.
    pub fn give(&self, path: &Path) -> Result<()> {
        give(path, self.account.uid, self.account.gid)
    }
}

fn give(path: &Path, uid: u32, gid: u32) -> Result<()> {
    let md = std::fs::symlink_metadata(path).with_context(|| format!("{}", path.display()))?;
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
        .with_context(|| format!("chown {}", path.display()))?;
    if md.is_dir() {
        for e in std::fs::read_dir(path)? {
            give(&e?.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// Make `d` and its missing parents (root's, mode 0711: the user may pass
/// through but not list or write); existing ones are left as they are.
pub fn make_passable(d: &Path) -> Result<()> {
    for a in d.ancestors().collect::<Vec<_>>().into_iter().rev() {
        if !a.exists() {
            std::fs::create_dir(a).with_context(|| format!("creating {}", a.display()))?;
            std::fs::set_permissions(a, std::fs::Permissions::from_mode(0o711))?;
        }
    }
    Ok(())
}

/// Whether a process of `uid`/`gid` without supplementary groups may
/// create entries in `dir` (write and search), by its owner and mode.
pub fn writable_by(dir: &Path, uid: u32, gid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(m) = std::fs::metadata(dir) else {
        return false;
    };
    let mode = m.mode();
    let need = |shift: u32| (mode >> shift) & 0o3 == 0o3;
    if m.uid() == uid {
        need(6)
    } else if m.gid() == gid {
        need(3)
    } else {
        need(0)
    }
}

/// Whether `uid`/`gid` (no supplementary groups) may execute `file`:
/// every directory on the way searchable, the file executable.
pub fn reachable_by(file: &Path, uid: u32, gid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    let ok = |p: &Path, bit: u32| {
        std::fs::metadata(p).is_ok_and(|m| {
            let shift = if m.uid() == uid {
                6
            } else if m.gid() == gid {
                3
            } else {
                0
            };
            (m.mode() >> shift) & bit != 0
        })
    };
    ok(file, 0o1) && file.ancestors().skip(1).all(|d| ok(d, 0o1))
}

/// The first cgroup directory the user could not create a container's
/// cgroup in (the nearest existing ancestor of each), if any.
pub fn undelegated_for(dirs: &[PathBuf], uid: u32, gid: u32) -> Option<PathBuf> {
    dirs.iter().find_map(|d| {
        let existing = d.ancestors().find(|a| a.exists())?;
        (!writable_by(existing, uid, gid)).then(|| existing.to_path_buf())
    })
}

/// Remove the user if isobench made it and no run uses it (the exclusive
/// lock is free). `dry_run` only says whether it would. Returns what was
/// (or would be) done; None when there is nothing to do.
pub fn remove_if_idle(dry_run: bool) -> Result<Option<String>> {
    let Some(a) = lookup().filter(Account::ours) else {
        if !dry_run && Path::new(BASE).is_dir() && lock(true)?.is_some() {
            let _ = std::fs::remove_dir(BASE);
        }
        return Ok(None);
    };
    let Some(_l) = lock(true)? else {
        return Ok(None);
    };
    let what = format!(
        "remove user {} (uid {}, isobench's rootless columns)",
        a.name, a.uid
    );
    if dry_run {
        return Ok(Some(what));
    }
    // userdel(8) overlooks processes under another root (containers).
    let sub = isorun::userns::subordinate(
        &std::fs::read_to_string("/etc/subuid").unwrap_or_default(),
        Some(&a.name),
        a.uid,
    );
    // Processes just killed (a sweep's delete --force) take a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while busy(Path::new("/proc"), a.uid, sub).is_some() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    if let Some(pid) = busy(Path::new("/proc"), a.uid, sub) {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        bail!(
            "user {} still runs process {pid} ({}; a container of a dead run?): not removed",
            a.name,
            comm.replace('\0', " ").trim()
        );
    }
    // The lock is held, so no run can start using the user meanwhile.
    if lookup().is_some_and(|a| a.ours()) {
        shadow("userdel", &[USER])?;
    }
    let _ = std::fs::remove_dir(BASE);
    Ok(Some(format!("removed user {} (uid {})", a.name, a.uid)))
}

/// A process (in `proc`) running as `uid` or as one of its subordinate
/// ids `sub` (`Uid:` of /proc/PID/status: real, effective, saved, fs).
pub fn busy(proc: &Path, uid: u32, sub: Option<(u32, u32)>) -> Option<i32> {
    let ours = |u: u32| u == uid || sub.is_some_and(|(s, n)| u >= s && u - s < n);
    std::fs::read_dir(proc).ok()?.flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let st = std::fs::read_to_string(e.path().join("status")).ok()?;
        // A zombie holds nothing; its parent (or init) reaps it.
        let state = st.lines().find_map(|l| l.strip_prefix("State:"))?;
        if state.trim_start().starts_with(['Z', 'X']) {
            return None;
        }
        let line = st.lines().find_map(|l| l.strip_prefix("Uid:"))?;
        line.split_whitespace()
            .filter_map(|u| u.parse().ok())
            .any(ours)
            .then_some(pid)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_entries_and_modes() {
        let t = "root:x:0:0:root:/root:/bin/bash\n\
                 isobench-rootless:x:1003:1004:isobench rootless columns (removed by isobench):/nonexistent:/usr/sbin/nologin\n\
                 bad:line\n";
        let a = parse_passwd(t, USER).unwrap();
        assert_eq!((a.uid, a.gid), (1003, 1004));
        assert!(a.ours());
        assert!(!parse_passwd(t, "root").unwrap().ours());
        assert_eq!(parse_passwd(t, "bad"), None);
        assert_eq!(parse_passwd(t, "nobody"), None);

        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::create_dir_all(p.join("proc/42")).unwrap();
        std::fs::write(
            p.join("proc/42/status"),
            "Name:\tx\nState:\tS (sleeping)\nUid:\t100005\t100005\t100005\t100005\n",
        )
        .unwrap();
        assert_eq!(busy(&p.join("proc"), 1003, Some((100000, 65536))), Some(42));
        assert_eq!(busy(&p.join("proc"), 1003, None), None);
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(p).unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(writable_by(p, m.uid(), m.gid()));
        assert!(!writable_by(p, m.uid() + 4242, m.gid() + 4242));
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(writable_by(p, m.uid() + 4242, m.gid() + 4242));
        assert_eq!(
            undelegated_for(&[p.join("a/b")], m.uid() + 4242, 4242),
            None
        );
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            undelegated_for(&[p.join("a/b")], m.uid() + 4242, 4242),
            Some(p.to_path_buf())
        );
    }
}
