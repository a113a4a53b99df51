//! Carrying out a [`SweepPlan`]: the system calls of the sweep (kill via
//! pidfd, `<runtime> delete --force`, umount2(2), rmdir(2) of cgroups,
//! removal of scratch directories and records). Each step reports what it
//! removed or why it could not; a run's record goes last, and only when
//! everything else of that run went, so a later sweep tries again.

use super::decide::{Action, Owner, SweepPlan};
use super::scan::{mount_points, read_proc, Roots};
use isorun::peer::Peer;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a runtime's `delete --force` may take.
const DELETE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long killed processes get to leave their cgroups.
const EXIT_WAIT: Duration = Duration::from_secs(5);

/// What a sweep did.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    pub done: Vec<String>,
    pub failed: Vec<String>,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.failed.is_empty()
    }
}

/// SIGKILL `pid` through a pidfd opened while it still has `start_ticks`
/// (so a pid reused in between is not hit). Ok(false): already gone.
fn kill(proc: &Path, pid: i32, start_ticks: u64) -> std::io::Result<bool> {
    // SAFETY: pidfd_open takes a pid and flags; returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Ok(false);
    }
    let fd = fd as i32;
    let same = read_proc(proc, pid).is_some_and(|p| p.start_ticks == start_ticks);
    let r = if same {
        // SAFETY: fd is a pidfd we own; a null siginfo is allowed.
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                fd,
                libc::SIGKILL,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        }
    } else {
        0
    };
    let err = std::io::Error::last_os_error();
    // SAFETY: closing the fd we opened above.
    unsafe { libc::close(fd) };
    if r != 0 && err.raw_os_error() != Some(libc::ESRCH) {
        return Err(err);
    }
    Ok(same)
}

/// Whether `pid` (with `start_ticks`) is gone or a zombie.
fn gone(proc: &Path, pid: i32, start_ticks: u64) -> bool {
    let Ok(stat) = std::fs::read_to_string(proc.join(pid.to_string()).join("stat")) else {
        return true;
    };
    let zombie = stat
        .rfind(')')
        .map(|i| stat[i + 1..].trim_start().starts_with(['Z', 'X']))
        .unwrap_or(false);
    zombie || super::scan::parse_stat(&stat).is_none_or(|(_, t)| t != start_ticks)
}

/// Run `cmd`, killing it after `timeout`; its status and stderr.
fn run_with_timeout(mut cmd: Command, timeout: Duration) -> Result<(), String> {
    let err = tempfile_path();
    let f = std::fs::File::create(&err).map_err(|e| e.to_string())?;
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(f);
    let mut child = cmd.spawn().map_err(|e| format!("cannot start: {e}"))?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Ok(st),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!(
                    "did not finish in {} s; killed it",
                    timeout.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => break Err(e.to_string()),
        }
    };
    let text = std::fs::read_to_string(&err).unwrap_or_default();
    let _ = std::fs::remove_file(&err);
    match status {
        Ok(st) if st.success() => Ok(()),
        Ok(st) => Err(format!(
            "{st}: {}",
            text.lines().last().unwrap_or("").trim()
        )),
        Err(e) => Err(e),
    }
}

fn tempfile_path() -> PathBuf {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("isobench-sweep-{}-{n}.err", std::process::id()))
}

fn delete_container(
    peers: &mut BTreeMap<PathBuf, Option<Peer>>,
    runtime: &str,
    bin: Option<&Path>,
    root: &Path,
    id: &str,
) -> Result<String, String> {
    let gone = || {
        !isorun::peer::state_paths(root, id)
            .iter()
            .any(|p| p.exists())
    };
    let said = match bin {
        None => format!("no {runtime} binary found"),
        Some(b) => {
            let peer = peers
                .entry(b.to_path_buf())
                .or_insert_with(|| Peer::probe(b).ok());
            match peer {
                None => format!("cannot run {}", b.display()),
                Some(p) => {
                    let mut c = p.command(["--root".as_ref(), root.as_os_str()]);
                    c.args(["delete", "--force", id]);
                    as_owner(&mut c, b, root);
                    match run_with_timeout(c, DELETE_TIMEOUT) {
                        Ok(()) => return Ok(String::new()),
                        Err(e) if gone() => return Ok(format!(" ({runtime}: {e})")),
                        Err(e) => format!("{runtime} delete --force: {e}"),
                    }
                }
            }
        }
    };
    // Its processes were killed above: what is left is state on disk (a
    // directory, or runsc's files).
    for path in isorun::peer::state_paths(root, id) {
        let r = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        match r {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(format!("{said}; removing {}: {e}", path.display()))
            }
            _ => {}
        }
    }
    Ok(format!(" (state removed by hand: {said})"))
}

/// A state root of another user (a rootless column of a root run): its
/// runtime acts as that user, who owns the container's state.
fn as_owner(c: &mut Command, bin: &Path, root: &Path) {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return;
    }
    let Ok(m) = std::fs::metadata(root) else {
        return;
    };
    // A binary the owner cannot reach: root deletes (and kills) it.
    if m.uid() != 0 && crate::env::rootless::user::reachable_by(bin, m.uid(), m.gid()) {
        let a = crate::env::rootless::user::Account {
            name: format!("uid{}", m.uid()),
            uid: m.uid(),
            gid: m.gid(),
            gecos: String::new(),
        };
        a.apply(c, root);
    }
}

fn unmount(path: &Path) -> Result<(), String> {
    use nix::errno::Errno;
    use nix::mount::{umount2, MntFlags};
    // Why: a dead run's mount in the host's mount table; detached lazily
    // when something still holds it open.
    match umount2(path, MntFlags::empty()) {
        Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => Ok(()),
        Err(Errno::EBUSY) => umount2(path, MntFlags::MNT_DETACH).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

fn remove_cgroup(path: &Path) -> Result<(), String> {
    let deadline = Instant::now() + EXIT_WAIT;
    loop {
        match std::fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => {
                let members = std::fs::read_to_string(path.join("cgroup.procs"))
                    .unwrap_or_default()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                return Err(format!("{e} (members: [{members}])"));
            }
        }
    }
}

fn remove_dir(proc: &Path, path: &Path) -> Result<(), String> {
    // Never recurse into a mount (an overlay or a bind of host files).
    let mi = std::fs::read_to_string(proc.join("self/mountinfo")).unwrap_or_default();
    if let Some(m) = mount_points(&mi).into_iter().find(|m| m.starts_with(path)) {
        return Err(format!("{} is still mounted", m.display()));
    }
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// `docker rm -f` or `docker rmi -f`; gone already is done.
fn remove_docker(bin: &Path, kind: super::docker::DockerKind, id: &str) -> Result<String, String> {
    let verb = match kind {
        super::docker::DockerKind::Container => "rm",
        super::docker::DockerKind::Image => "rmi",
    };
    let o = Command::new(bin)
        .args([verb, "-f", id])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let err = String::from_utf8_lossy(&o.stderr);
    if o.status.success() {
        Ok(String::new())
    } else if err.contains("No such") {
        Ok(" (already gone)".into())
    } else {
        Err(format!(
            "docker {verb} -f failed ({}): {}",
            o.status,
            err.trim()
        ))
    }
}

/// Carry out `plan`.
pub fn act(plan: &SweepPlan, roots: &Roots) -> Outcome {
    let mut out = Outcome::default();
    let mut failed_owners: BTreeSet<Owner> = BTreeSet::new();
    let mut killed = Vec::new();
    let mut peers = BTreeMap::new();
    for item in &plan.items {
        let a = &item.action;
        let result: Result<String, String> = match a {
            Action::Kill {
                pid, start_ticks, ..
            } => match kill(&roots.proc, *pid, *start_ticks) {
                Ok(true) => {
                    killed.push((*pid, *start_ticks));
                    Ok(String::new())
                }
                Ok(false) => Ok(" (already gone)".into()),
                Err(e) => Err(e.to_string()),
            },
            Action::DeleteContainer {
                runtime,
                bin,
                root,
                id,
            } => {
                wait_killed(&roots.proc, &mut killed);
                delete_container(&mut peers, runtime, bin.as_deref(), root, id)
            }
            Action::RemoveDocker { kind, id } => match &roots.docker_bin {
                Some(bin) => remove_docker(bin, *kind, id),
                None => Err("no docker CLI".into()),
            },
            Action::RestoreDaemonJson { entry } => crate::env::docker::restore_backup(entry)
                .map(|what| format!(" ({what})"))
                .map_err(|e| format!("{e:#}")),
            Action::Unmount { path } => unmount(path).map(|_| String::new()),
            Action::RemoveCgroup { path } => {
                wait_killed(&roots.proc, &mut killed);
                remove_cgroup(path).map(|_| String::new())
            }
            Action::RemoveDir { path } => remove_dir(&roots.proc, path).map(|_| String::new()),
            Action::RemoveRecord { path } => {
                if failed_owners.contains(&item.owner) {
                    Err("kept: something of this run could not be removed".into())
                } else {
                    std::fs::remove_file(path)
                        .map(|_| String::new())
                        .map_err(|e| e.to_string())
                }
            }
        };
        match result {
            Ok(note) => out.done.push(format!("{a}{note}")),
            Err(e) => {
                failed_owners.insert(item.owner);
                out.failed.push(format!("{a}: {e}"));
            }
        }
    }
    for p in &plan.parents {
        if std::fs::remove_dir(p).is_ok() {
            out.done
                .push(format!("remove empty cgroup {}", p.display()));
        }
    }
    out
}

/// Wait (a bounded time) for the processes killed so far to exit.
fn wait_killed(proc: &Path, killed: &mut Vec<(i32, u64)>) {
    let deadline = Instant::now() + EXIT_WAIT;
    while !killed.is_empty() && Instant::now() < deadline {
        killed.retain(|(p, t)| !gone(proc, *p, *t));
        if !killed.is_empty() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    killed.clear();
}
