//! The container process between clone(2) and execve(2): it sets up its
//! namespaces' contents (root file system, hostname), waits for the runtime
//! to place it in its cgroup, drops privileges (rlimits, user, capabilities,
//! no_new_privs: prctl(2) PR_SET_NO_NEW_PRIVS), reports "ready", waits for
//! `start` on the exec fifo and execs (OCI runtime spec "Lifecycle" 1-6).
//!
//! Messages to the runtime on the sync pipe: `R` = ready, `E<text>` = error.

use crate::caps;
use crate::config::Plan;
use crate::error::{Error, Result};
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What the child gets from the runtime.
pub struct Child<'a> {
    pub plan: &'a Plan,
    pub overlay: Option<&'a crate::rootfs::OverlayRoot>,
    /// The container's cgroup, which the child joins itself first thing.
    pub cgroup: &'a crate::cgroup::Cgroup,
    /// Child → runtime: `R` or `E...`; close-on-exec, so EOF means "exec'd".
    pub to_parent: OwnedFd,
    /// Read end of the exec fifo (create); None for `run`.
    pub fifo: Option<OwnedFd>,
    /// With a user namespace: readable once the runtime wrote the id maps.
    pub userns_sync: Option<OwnedFd>,
    /// With hooks at create: the state JSON from the runtime (see
    /// [`crate::hooks::before_pivot`]).
    pub hooks_sync: Option<OwnedFd>,
    /// With startContainer or poststart hooks: the start fifo (read-write),
    /// closed at exec, on which a failing startContainer hook is reported.
    pub start_report: Option<OwnedFd>,
    /// With `process.terminal`: the connected `--console-socket`.
    pub console: Option<OwnedFd>,
}

/// Entry point of the cloned child; never returns.
pub fn child_main(c: Child<'_>) -> ! {
    let err = match init(&c) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let msg = match &err {
        Error::Init(m) => format!("E{m}"),
        e => format!("E{e}"),
    };
    let _ = nix::unistd::write(c.to_parent.as_fd(), msg.as_bytes());
    if c.fifo.is_some() {
        // After "ready" nobody reads the pipe any more: tell the user.
        eprintln!("isorun: {err}");
    }
    // SAFETY: _exit ends the process without running the parent's atexit
    // handlers or flushing its copied stdio buffers.
    unsafe { libc::_exit(127) }
}

fn init(c: &Child<'_>) -> Result<std::convert::Infallible> {
    let plan = c.plan;
    reset_signals();
    close_unhanded(c);
    enter(c)?;
    let mut hook_state = Vec::new();
    crate::rootfs::setup(plan, c.overlay, &mut || {
        if let Some(sync) = &c.hooks_sync {
            hook_state = crate::hooks::before_pivot(&c.to_parent, sync, &plan.hooks)?;
        }
        Ok(())
    })?;
    set_names(plan)?;
    let p = &plan.process;
    if let Some(sock) = &c.console {
        // After pivot_root: the pty comes from the container's devpts.
        crate::terminal::setup(sock, p.console_size, p.uid, p.gid)?;
    }
    set_rlimits(&p.rlimits)?;
    if let Some(adj) = p.oom_score_adj {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .map_err(crate::error::io("write", "/proc/self/oom_score_adj"))?;
    }
    let seccomp = plan
        .seccomp
        .as_ref()
        .map(crate::seccomp::compile)
        .transpose()?;
    if let (Some(f), false) = (&seccomp, p.no_new_privs) {
        // Why: without no_new_privs, installing a filter needs
        // CAP_SYS_ADMIN, so it goes in before capabilities are dropped
        // (as runc); the calls left before exec are in any sane profile.
        crate::seccomp::load(f)?;
    }
    become_process(p)?;
    if p.no_new_privs {
        set_no_new_privs()?;
    }
    let path = find_executable(&p.args[0], &p.env)?;
    let cpath = cstring(path.as_os_str().as_bytes())?;
    let args: Vec<CString> = p
        .args
        .iter()
        .map(|a| cstring(a.as_bytes()))
        .collect::<Result<_>>()?;
    let env: Vec<CString> = p
        .env
        .iter()
        .map(|a| cstring(a.as_bytes()))
        .collect::<Result<_>>()?;
    if let (Some(f), true) = (&seccomp, p.no_new_privs) {
        // Why: with no_new_privs the filter goes in as late as possible,
        // so that it constrains the workload and not isorun's set-up.
        crate::seccomp::load(f)?;
    }
    // Setup is done: from here on the runtime may exit without us.
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0, 0, 0, 0) };
    nix::unistd::write(c.to_parent.as_fd(), b"R").map_err(crate::error::sys("reporting ready"))?;
    if let Some(fifo) = &c.fifo {
        wait_for_start(fifo)?;
    }
    crate::hooks::start_container(c.start_report.as_ref(), &plan.hooks, &hook_state)?;
    // Only stdio passes into the container (as runc): every other fd the
    // runtime inherited (a build tool's jobserver pipe...) closes at exec.
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags on fds.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    let e = nix::unistd::execve(&cpath, &args, &env).unwrap_err();
    Err(Error::Sys {
        op: format!("exec {}", path.display()),
        err: e,
    })
}

/// Rust ignores SIGPIPE; the workload must get the default back, and no
/// signal blocked. The process also dies with the runtime while it is
/// still being set up.
fn reset_signals() {
    // SAFETY: plain signal-disposition and mask changes for this process.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        // Die with the runtime while it is still setting us up.
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
    }
}

/// Close every fd but those the child was handed.
fn close_unhanded(c: &Child<'_>) {
    // Why: a file descriptor the caller leaked (a directory of the host,
    // without close-on-exec) would let `process.cwd` = /proc/self/fd/N
    // land the container in the host's tree (CVE-2024-21626). The child
    // needs only the fds it was handed; every other one closes now.
    let keep: Vec<i32> = [
        Some(&c.to_parent),
        c.fifo.as_ref(),
        c.userns_sync.as_ref(),
        c.hooks_sync.as_ref(),
        c.start_report.as_ref(),
        c.console.as_ref(),
    ]
    .into_iter()
    .flatten()
    .map(|f| f.as_raw_fd())
    .collect();
    close_inherited(&keep);
}

/// Join the cgroup, the user namespace's maps and the namespaces to join;
/// unshare the cgroup namespace; write the sysctls.
fn enter(c: &Child<'_>) -> Result<()> {
    let plan = c.plan;
    // Why: join the cgroup before doing anything that allocates, so every
    // page and process of the container is accounted and limited. Moving
    // oneself (v1 `tasks` with "0") avoids the global threadgroup lock a
    // move by pid takes, which costs an RCU grace period (milliseconds).
    if let Some(sync) = &c.userns_sync {
        crate::userns::wait_for_maps(sync)?;
    }
    c.cgroup.join_self()?;
    if c.userns_sync.is_some() {
        crate::userns::become_root()?;
    }
    // Why: namespaces prepared by an engine (podman's network namespace)
    // are joined before anything is set up inside them.
    let net_join = plan.join.iter().find(|j| j.kind == "net");
    let own_net = net_join.and_then(|_| crate::sysctl::ns_id(Path::new("/proc/self/ns/net")));
    crate::nsjoin::join(&plan.join)?;
    if let Some(j) = net_join {
        // Why: net.* sysctls written in the host's network namespace
        // would change the host (runc's isHostNetNS check).
        crate::sysctl::refuse_host_net(
            &plan.sysctl,
            &j.path,
            crate::sysctl::ns_id(Path::new("/proc/self/ns/net")),
            own_net,
            crate::sysctl::ns_id(Path::new("/proc/1/ns/net")),
        )?;
    }
    if plan.namespaces.cgroup {
        // Why: unshared only now, so the namespace's root is the
        // container's own cgroup and /proc/self/cgroup shows "/".
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .map_err(crate::error::sys("unshare(CLONE_NEWCGROUP)"))?;
    }
    // Why: written through the host's /proc/sys while it is still
    // reachable and writable; each value lands in this process's own
    // network/ipc/uts namespace.
    crate::sysctl::apply(std::path::Path::new("/proc/sys"), &plan.sysctl)?;
    Ok(())
}

/// Loopback up, host and domain name.
fn set_names(plan: &Plan) -> Result<()> {
    if plan.namespaces.net {
        loopback_up()?;
    }
    if let Some(h) = &plan.hostname {
        // Why: the uts namespace is the container's own; its name is set here.
        nix::unistd::sethostname(h).map_err(crate::error::sys(format!("sethostname {h}")))?;
    }
    if let Some(d) = &plan.domainname {
        let cd = CString::new(d.as_str()).map_err(|_| Error::Init("NUL in domainname".into()))?;
        // SAFETY: pointer and length describe a live NUL-free buffer.
        if unsafe { libc::setdomainname(cd.as_ptr(), d.len()) } != 0 {
            return Err(Error::Sys {
                op: format!("setdomainname {d}"),
                err: nix::errno::Errno::last(),
            });
        }
    }
    Ok(())
}

/// setrlimit(2) of each configured limit.
fn set_rlimits(rlimits: &[crate::config::Rlimit]) -> Result<()> {
    for r in rlimits {
        let lim = libc::rlimit {
            rlim_cur: r.soft,
            rlim_max: r.hard,
        };
        // SAFETY: setrlimit reads one rlimit struct that lives across the call.
        if unsafe { libc::setrlimit(r.resource as _, &lim) } != 0 {
            let e = nix::errno::Errno::last();
            let mut cur = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: getrlimit writes one rlimit struct we own.
            unsafe { libc::getrlimit(r.resource as _, &mut cur) };
            return Err(Error::Init(format!(
                "rlimit {}: cannot set soft {} hard {} (the current hard limit is {}; raising it needs CAP_SYS_RESOURCE): {e}",
                r.name, r.soft, r.hard, cur.rlim_max
            )));
        }
    }
    Ok(())
}

/// prctl(PR_SET_NO_NEW_PRIVS).
fn set_no_new_privs() -> Result<()> {
    // Why: no setuid binary or file capability may raise the
    // container's privileges after exec.
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(Error::Sys {
            op: "prctl(PR_SET_NO_NEW_PRIVS)".into(),
            err: nix::errno::Errno::last(),
        });
    }
    Ok(())
}

/// Close every fd from 3 up except `keep` (close_range(2) over the gaps;
/// on a kernel without it, each fd listed in /proc/self/fd).
pub fn close_inherited(keep: &[i32]) {
    let mut keep: Vec<u32> = keep.iter().map(|&f| f as u32).collect();
    keep.sort_unstable();
    let mut from = 3u32;
    let mut ok = true;
    for &k in keep.iter().filter(|&&k| k >= 3) {
        if k > from {
            ok &= close_range(from, k - 1);
        }
        from = from.max(k + 1);
    }
    ok &= close_range(from, u32::MAX);
    if !ok {
        let open: Vec<u32> = std::fs::read_dir("/proc/self/fd")
            .map(|d| {
                d.flatten()
                    .filter_map(|e| e.file_name().to_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        for fd in open.into_iter().filter(|f| *f >= 3 && !keep.contains(f)) {
            // SAFETY: as close_range below; EBADF (the listing's own fd,
            // already closed) is harmless.
            unsafe { libc::close(fd as i32) };
        }
    }
}

/// close_range(2) of `first..=last`; false if the call failed.
fn close_range(first: u32, last: u32) -> bool {
    // SAFETY: close_range(2) only closes fds; none of those in the range is
    // owned by a live Rust object of this (never returning) child.
    unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) == 0 }
}

/// Become the configured process (init's and exec's last steps before
/// no_new_privs and exec): the bounding set dropped, the ids switched with
/// the permitted capabilities kept across the change, the capability sets
/// applied exactly, the umask set, and the working directory entered and
/// checked to lie inside the root.
pub(crate) fn become_process(p: &crate::config::ProcessPlan) -> Result<()> {
    if let Some(caps) = &p.caps {
        caps::drop_bounding(caps.bounding)?;
    }
    // Why: keep the permitted set across the uid change, then set it
    // exactly with capset.
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) };
    let gids: Vec<nix::unistd::Gid> = p
        .additional_gids
        .iter()
        .map(|g| nix::unistd::Gid::from_raw(*g))
        .collect();
    match nix::unistd::setgroups(&gids) {
        Ok(()) => {}
        // Why: in a user namespace whose setgroups is "deny" (rootless
        // without newgidmap) no list can be set; an empty one is then not
        // asked for but kept. Checked only on failure: reading
        // /proc/self/setgroups first cost every container five syscalls.
        Err(nix::errno::Errno::EPERM) if gids.is_empty() && crate::userns::setgroups_denied() => {}
        Err(e) => return Err(crate::error::sys("setgroups")(e)),
    }
    let gid = nix::unistd::Gid::from_raw(p.gid);
    nix::unistd::setresgid(gid, gid, gid)
        .map_err(crate::error::sys(format!("setresgid {}", p.gid)))?;
    let uid = nix::unistd::Uid::from_raw(p.uid);
    nix::unistd::setresuid(uid, uid, uid)
        .map_err(crate::error::sys(format!("setresuid {}", p.uid)))?;
    if let Some(caps) = &p.caps {
        caps::apply(caps)?;
    }
    if let Some(m) = p.umask {
        // SAFETY: umask only changes this process's creation mask.
        unsafe { libc::umask(m as libc::mode_t) };
    }
    std::env::set_current_dir(&p.cwd).map_err(|e| {
        Error::Init(format!(
            "process.cwd {}: chdir inside the container: {e}",
            p.cwd.display()
        ))
    })?;
    check_cwd_inside(&p.cwd)?;
    Ok(())
}

/// After chdir: the working directory must lie inside the container's
/// root. getcwd(3) fails (the kernel's "(unreachable)" prefix) when it
/// does not, as runc checks since CVE-2024-21626.
pub fn check_cwd_inside(cwd: &Path) -> Result<()> {
    match std::env::current_dir() {
        Ok(d) if d.is_absolute() => Ok(()),
        Ok(d) => Err(Error::Init(format!(
            "process.cwd {}: the working directory {} lies outside the container's root",
            cwd.display(),
            d.display()
        ))),
        Err(e) => Err(Error::Init(format!(
            "process.cwd {}: the working directory lies outside the container's root ({e})",
            cwd.display()
        ))),
    }
}

/// Bring the new network namespace's loopback interface up, as runc and
/// crun do (netdevice(7): SIOCGIFFLAGS/SIOCSIFFLAGS on a datagram socket).
fn loopback_up() -> Result<()> {
    // SAFETY: a plain socket(2) call; the fd is closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(Error::Sys {
            op: "socket for lo".into(),
            err: nix::errno::Errno::last(),
        });
    }
    // SAFETY: ifreq is plain old data; zeroed is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    req.ifr_name[0] = b'l' as libc::c_char;
    req.ifr_name[1] = b'o' as libc::c_char;
    // Why: a new network namespace starts with lo down; programs expect
    // 127.0.0.1 to work.
    // SAFETY: the ioctls read and write the ifreq we own; the union member
    // ifru_flags is the one SIOC[GS]IFFLAGS use.
    let r = unsafe {
        let mut r = libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req);
        if r == 0 {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            r = libc::ioctl(fd, libc::SIOCSIFFLAGS, &req);
        }
        let e = nix::errno::Errno::last();
        libc::close(fd);
        if r == 0 {
            Ok(())
        } else {
            Err(e)
        }
    };
    r.map_err(|e| Error::Sys {
        op: "bringing lo up".into(),
        err: e,
    })
}

fn cstring(b: &[u8]) -> Result<CString> {
    CString::new(b).map_err(|_| Error::Init("NUL byte in process args or env".into()))
}

/// Block until `start` writes a byte into the exec fifo. The fifo was
/// opened non-blocking for reading before pivot_root; poll(2) on such a
/// FIFO waits for data (no hang-up is reported before a writer came).
fn wait_for_start(fifo: &OwnedFd) -> Result<()> {
    let mut pfd = libc::pollfd {
        fd: fifo.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: one pollfd we own, count 1, no timeout.
        let r = unsafe { libc::poll(&mut pfd, 1, -1) };
        if r < 0 && nix::errno::Errno::last() == nix::errno::Errno::EINTR {
            continue;
        }
        break;
    }
    let mut b = [0u8; 1];
    match nix::unistd::read(fifo.as_fd(), &mut b) {
        Ok(1) => Ok(()),
        _ => Err(Error::Init(
            "start went away without releasing the container".into(),
        )),
    }
}

/// Resolve a program name as execvp would, with the container's PATH.
pub fn find_executable(name: &str, env: &[String]) -> Result<PathBuf> {
    if name.contains('/') {
        return Ok(PathBuf::from(name));
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let p = Path::new(dir).join(name);
        if nix::unistd::access(&p, nix::unistd::AccessFlags::X_OK).is_ok() && p.is_file() {
            return Ok(p);
        }
    }
    Err(Error::Init(format!(
        "executable {name:?} not found in PATH {path:?} of the container"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executables_are_found_in_the_given_path() {
        let env = vec!["PATH=/nonexistent:/bin:/usr/bin".to_string()];
        let p = find_executable("sh", &env).unwrap();
        assert!(p.ends_with("sh"));
        assert_eq!(find_executable("/x/y", &env).unwrap(), Path::new("/x/y"));
        assert!(find_executable("no-such-program-xyz", &env).is_err());
    }
}
