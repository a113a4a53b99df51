//! `isorun exec`: run one more process in a running container, as runc's
//! verb. The process is described by `--process FILE` (an OCI `process`
//! object) or by a command line whose defaults are the container's own
//! process (runc's `getProcess`): `--env` entries replace or add, `--cwd`,
//! `--user` and `--cap` override or add.
//!
//! Three processes, as runc's nsexec: isorun forks a *joiner* that joins
//! the container's cgroup (through the host's cgroupfs, so before any
//! setns), then every namespace of the container process that differs from
//! its own in one setns(2) on a pidfd (the user namespace first, as the
//! kernel orders it; a pidfd also pins the process, so a recycled pid is
//! never joined). setns with CLONE_NEWPID changes the namespace of the next
//! child only, so the joiner clones the process to run with CLONE_PARENT:
//! it becomes isorun's own child, which isorun waits for (the exit status
//! is isorun's) and the joiner exits. The process then drops privileges as
//! `init` does (rlimits, user, capabilities, no_new_privs, seccomp of the
//! container's config), closes inherited fds, checks that its cwd lies
//! inside the container and execs.
//!
//! Messages to isorun: the joiner writes the process's host pid (4 bytes,
//! native order) on one pipe; both write `E<text>` on the error pipe, which
//! is close-on-exec, so EOF without a message means "exec'd".

use crate::config::ProcessPlan;
use crate::error::{io, Error, Result};
use crate::state::{self, load_plan, State, Status};
pub use crate::state::{save_plan, PLAN_FILE};
use nix::fcntl::OFlag;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};

/// What `isorun exec` was asked for.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// `--process`: a JSON file holding an OCI `process` object.
    pub process: Option<PathBuf>,
    /// The command line (without `--process`).
    pub args: Vec<String>,
    /// `--env KEY=VALUE`, replacing the container's KEY or added.
    pub env: Vec<String>,
    pub cwd: Option<PathBuf>,
    /// `--user uid[:gid]`.
    pub user: Option<String>,
    /// `--additional-gids`.
    pub additional_gids: Vec<u32>,
    /// `--cap NAME`: added to the bounding, effective and permitted sets.
    pub caps: Vec<String>,
    /// `--no-new-privs`.
    pub no_new_privs: bool,
    /// `--tty`: a pty for the process (also `terminal` of `--process`).
    pub tty: bool,
    /// `--console-socket`: where the pty master goes.
    pub console_socket: Option<PathBuf>,
    /// `--detach`: return once the process has exec'd.
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
}

fn bad(field: &str, why: impl Into<String>) -> Error {
    Error::Invalid {
        field: field.into(),
        why: why.into(),
    }
}

/// `uid[:gid]` of `--user`.
pub fn parse_user(s: &str) -> Result<(u32, Option<u32>)> {
    let num = |t: &str| {
        t.parse::<u32>()
            .ok()
            .filter(|n| *n != u32::MAX)
            .ok_or_else(|| {
                bad(
                    "--user",
                    format!("{s:?}: give uid[:gid] as numbers below 4294967295"),
                )
            })
    };
    match s.split_once(':') {
        Some((u, g)) => Ok((num(u)?, Some(num(g)?))),
        None => Ok((num(s)?, None)),
    }
}

/// The process to run: from `--process`, or the container's process with
/// the command line's changes.
pub fn process(opts: &Options, base: &ProcessPlan) -> Result<ProcessPlan> {
    if let Some(path) = &opts.process {
        if !opts.args.is_empty() {
            return Err(bad(
                "--process",
                "give either --process or a command line, not both",
            ));
        }
        let text = std::fs::read(path).map_err(io("read", path))?;
        let p: oci_spec::runtime::Process =
            serde_json::from_slice(&text).map_err(|e| Error::MalformedConfig {
                path: path.clone(),
                msg: e.to_string(),
            })?;
        let mut p = crate::config::process_plan(Some(&p))?;
        p.terminal |= opts.tty;
        return Ok(p);
    }
    if opts.args.is_empty() || opts.args[0].is_empty() {
        return Err(bad("exec", "give a command to run (or --process FILE)"));
    }
    let mut p = base.clone();
    p.args = opts.args.clone();
    // The container's own terminal is not the exec's: only --tty asks.
    p.terminal = opts.tty;
    p.console_size = None;
    for e in &opts.env {
        let Some((key, _)) = e.split_once('=') else {
            return Err(bad("--env", format!("{e:?} is not KEY=VALUE")));
        };
        p.env
            .retain(|x| x.split_once('=').map_or(x.as_str(), |(k, _)| k) != key);
        p.env.push(e.clone());
    }
    if let Some(c) = &opts.cwd {
        if !c.is_absolute() {
            return Err(bad("--cwd", format!("{} is not absolute", c.display())));
        }
        p.cwd = c.clone();
    }
    if let Some(u) = &opts.user {
        let (uid, gid) = parse_user(u)?;
        p.uid = uid;
        p.gid = gid.unwrap_or(0);
        p.additional_gids = opts.additional_gids.clone();
    } else if !opts.additional_gids.is_empty() {
        p.additional_gids = opts.additional_gids.clone();
    }
    if !opts.caps.is_empty() {
        let mut add = 0u64;
        for c in &opts.caps {
            let name = if c.to_uppercase().starts_with("CAP_") {
                c.to_uppercase()
            } else {
                format!("CAP_{}", c.to_uppercase())
            };
            let cap: oci_spec::runtime::Capability =
                serde_json::from_value(serde_json::Value::String(name.clone()))
                    .map_err(|_| bad("--cap", format!("{c:?} is not a capability")))?;
            let n = crate::caps::number(&cap)
                .ok_or_else(|| bad("--cap", format!("{c:?} is unknown to isorun")))?;
            add |= 1 << n;
        }
        let mut sets = p.caps.unwrap_or_default();
        sets.bounding |= add;
        sets.effective |= add;
        sets.permitted |= add;
        p.caps = Some(sets);
    }
    if opts.no_new_privs {
        p.no_new_privs = true;
    }
    Ok(p)
}

/// The namespaces (setns flags) of `pid` that differ from the caller's,
/// compared by /proc/*/ns links (device and inode).
fn differing_namespaces(pid: i32) -> Result<libc::c_int> {
    use std::os::unix::fs::MetadataExt;
    const KINDS: &[(&str, libc::c_int)] = &[
        ("user", libc::CLONE_NEWUSER),
        ("mnt", libc::CLONE_NEWNS),
        ("pid", libc::CLONE_NEWPID),
        ("net", libc::CLONE_NEWNET),
        ("ipc", libc::CLONE_NEWIPC),
        ("uts", libc::CLONE_NEWUTS),
        ("cgroup", libc::CLONE_NEWCGROUP),
    ];
    let mut flags = 0;
    for (kind, flag) in KINDS {
        let theirs = Path::new("/proc")
            .join(pid.to_string())
            .join("ns")
            .join(kind);
        let ours = Path::new("/proc/self/ns").join(kind);
        let (Ok(t), Ok(o)) = (std::fs::metadata(&theirs), std::fs::metadata(&ours)) else {
            // A kernel without this namespace type: nothing to join.
            if std::fs::metadata(&ours).is_err() {
                continue;
            }
            return Err(io("stat", &theirs)(std::io::Error::last_os_error()));
        };
        if (t.dev(), t.ino()) != (o.dev(), o.ino()) {
            flags |= flag;
        }
    }
    Ok(flags)
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(crate::error::sys("pipe2"))
}

static EXEC_PID: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = EXEC_PID.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Everything the joiner and the process need, made before the fork.
struct Prepared {
    process: ProcessPlan,
    seccomp: Option<libseccomp::ScmpFilterContext>,
    cgroup: Option<crate::cgroup::Cgroup>,
    rootless: bool,
    pidfd: OwnedFd,
    ns_flags: libc::c_int,
    /// With a terminal: the connected console socket.
    console: Option<OwnedFd>,
}

/// `exec`: run a process in container `id`; returns its shell-style exit
/// code (0 at once with `detach`).
pub fn exec(root: &Path, id: &str, opts: &Options) -> Result<i32> {
    let st = State::load(root, id)?;
    let status = st.status(root);
    if !matches!(status, Status::Created | Status::Running) || st.pid <= 0 {
        return Err(Error::BadState {
            id: id.into(),
            status: status.to_string(),
            why: "exec needs a created or running container".into(),
        });
    }
    let plan = load_plan(root, &st)?;
    let process = process(opts, &plan.process)?;
    let seccomp = plan
        .seccomp
        .as_ref()
        .map(crate::seccomp::compile)
        .transpose()?;
    // SAFETY: pidfd_open takes a pid and flags; returns a new fd or -1.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, st.pid, 0) };
    if raw < 0 {
        return Err(Error::BadState {
            id: id.into(),
            status: "stopped".into(),
            why: format!(
                "its process {} is gone ({})",
                st.pid,
                nix::errno::Errno::last()
            ),
        });
    }
    // SAFETY: pidfd_open returned a new fd that nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(raw as i32) };
    // Checked after the pidfd pins the process: the pid was not recycled.
    if !state::exists(st.pid, st.start_time) {
        return Err(Error::BadState {
            id: id.into(),
            status: "stopped".into(),
            why: format!("its process {} is gone", st.pid),
        });
    }
    let prep = Prepared {
        seccomp,
        cgroup: st.cgroup.clone(),
        rootless: crate::rootless::is_rootless(),
        ns_flags: differing_namespaces(st.pid)?,
        pidfd,
        console: crate::terminal::for_create(
            process.terminal,
            opts.console_socket.as_deref(),
            "--tty",
        )?,
        process,
    };
    let (err_r, err_w) = pipe()?;
    let (pid_r, pid_w) = pipe()?;
    // SAFETY: isorun is single-threaded here; the child only makes system
    // calls and then execs or _exits.
    let joiner = match unsafe { nix::unistd::fork() }.map_err(crate::error::sys("fork"))? {
        nix::unistd::ForkResult::Child => {
            drop(err_r);
            drop(pid_r);
            joiner_main(&prep, err_w, pid_w)
        }
        nix::unistd::ForkResult::Parent { child } => child,
    };
    drop(err_w);
    drop(pid_w);
    let _ = nix::sys::wait::waitpid(joiner, None);
    let mut b = [0u8; 4];
    let pid = match nix::unistd::read(pid_r.as_fd(), &mut b) {
        Ok(4) => i32::from_ne_bytes(b),
        _ => 0,
    };
    let msg = read_all(&err_r);
    if let Some(rest) = msg.strip_prefix(b"E") {
        if pid > 0 {
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        }
        return Err(Error::Init(String::from_utf8_lossy(rest).into_owned()));
    }
    if pid <= 0 {
        return Err(Error::Init(
            "the exec process ended before it could run".into(),
        ));
    }
    if let Some(p) = &opts.pid_file {
        state::write_pid_file(p, pid)?;
    }
    if opts.detach {
        return Ok(0);
    }
    EXEC_PID.store(pid, Ordering::Relaxed);
    for s in [
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGWINCH,
    ] {
        // SAFETY: installs an async-signal-safe handler that only calls kill.
        unsafe { libc::signal(s, forward as *const () as libc::sighandler_t) };
    }
    let code = loop {
        match nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, c)) => break c,
            Ok(nix::sys::wait::WaitStatus::Signaled(_, s, _)) => break 128 + s as i32,
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                return Err(Error::Sys {
                    op: format!("waitpid {pid}"),
                    err: e,
                })
            }
        }
    };
    EXEC_PID.store(0, Ordering::Relaxed);
    Ok(code)
}

/// Everything readable from `fd` until EOF.
fn read_all(fd: &OwnedFd) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match nix::unistd::read(fd.as_fd(), &mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break,
        }
    }
    out
}

/// Report `E<err>` on the error pipe and end the process.
fn fail(err_w: &OwnedFd, e: &Error) -> ! {
    let msg = match e {
        Error::Init(m) => format!("E{m}"),
        e => format!("E{e}"),
    };
    let _ = nix::unistd::write(err_w.as_fd(), msg.as_bytes());
    // SAFETY: _exit ends the process without running the parent's atexit
    // handlers or flushing its copied stdio buffers.
    unsafe { libc::_exit(127) }
}

/// The joiner: cgroup, namespaces, then the process as isorun's child.
fn joiner_main(p: &Prepared, err_w: OwnedFd, pid_w: OwnedFd) -> ! {
    if let Err(e) = join(p) {
        fail(&err_w, &e);
    }
    // Why: CLONE_PARENT makes the process isorun's child, so isorun waits
    // for it and gets its status; the clone is the first child since the
    // setns, so it is in the container's pid namespace. Fork-like (null
    // stack, no CLONE_VM): the child has its own copy of the memory.
    // SAFETY: raw clone without CLONE_VM behaves as fork(2).
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (libc::CLONE_PARENT | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid < 0 {
        fail(
            &err_w,
            &Error::Sys {
                op: "clone(CLONE_PARENT)".into(),
                err: nix::errno::Errno::last(),
            },
        );
    }
    if pid == 0 {
        drop(pid_w);
        let e = match run_process(p, &err_w) {
            Ok(never) => match never {},
            Err(e) => e,
        };
        fail(&err_w, &e);
    }
    let _ = nix::unistd::write(pid_w.as_fd(), &(pid as i32).to_ne_bytes());
    // SAFETY: as in `fail`.
    unsafe { libc::_exit(0) }
}

fn join(p: &Prepared) -> Result<()> {
    // Die with isorun while setting up.
    // SAFETY: prctl with integer arguments only.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    if let Some(cg) = &p.cgroup {
        // Why: through the host's cgroupfs, before the mount namespace
        // changes; the process cloned next inherits the cgroup. A rootless
        // container may have no cgroup it can write (as runc, not fatal).
        match cg.join_self() {
            Err(e) if !p.rootless => return Err(e),
            _ => {}
        }
    }
    if p.ns_flags != 0 {
        let flags = nix::sched::CloneFlags::from_bits_retain(p.ns_flags);
        nix::sched::setns(p.pidfd.as_fd(), flags).map_err(|e| Error::Sys {
            op: format!(
                "setns into the container's namespaces (flags {:#x})",
                p.ns_flags
            ),
            err: e,
        })?;
    }
    if p.ns_flags & libc::CLONE_NEWUSER != 0 {
        crate::userns::become_root()?;
    }
    Ok(())
}

fn cstring(b: &[u8]) -> Result<CString> {
    CString::new(b).map_err(|_| Error::Init("NUL byte in process args or env".into()))
}

/// In the container's namespaces: drop privileges as init does and exec.
fn run_process(p: &Prepared, err_w: &OwnedFd) -> Result<std::convert::Infallible> {
    // Why: only stdio and the error pipe may reach the process; a leaked
    // directory fd would open the host's tree (CVE-2024-21626).
    let keep: Vec<i32> = [Some(err_w), p.console.as_ref()]
        .into_iter()
        .flatten()
        .map(|f| f.as_raw_fd())
        .collect();
    crate::init::close_inherited(&keep);
    // SAFETY: plain signal-disposition and mask changes for this process.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
    }
    let pr = &p.process;
    if let Some(sock) = &p.console {
        // In the container's mount namespace: its devpts makes the pty.
        crate::terminal::setup(sock, pr.console_size, pr.uid, pr.gid)?;
    }
    for r in &pr.rlimits {
        let lim = libc::rlimit {
            rlim_cur: r.soft,
            rlim_max: r.hard,
        };
        // SAFETY: setrlimit reads one rlimit struct that lives across the call.
        if unsafe { libc::setrlimit(r.resource as _, &lim) } != 0 {
            return Err(Error::Sys {
                op: format!("rlimit {} soft {} hard {}", r.name, r.soft, r.hard),
                err: nix::errno::Errno::last(),
            });
        }
    }
    if let (Some(f), false) = (&p.seccomp, pr.no_new_privs) {
        // As init: without no_new_privs the filter needs CAP_SYS_ADMIN.
        crate::seccomp::load(f)?;
    }
    crate::init::become_process(pr)?;
    if pr.no_new_privs {
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(Error::Sys {
                op: "prctl(PR_SET_NO_NEW_PRIVS)".into(),
                err: nix::errno::Errno::last(),
            });
        }
    }
    let path = crate::init::find_executable(&pr.args[0], &pr.env)?;
    let cpath = cstring(path.as_os_str().as_bytes())?;
    let args: Vec<CString> = pr
        .args
        .iter()
        .map(|a| cstring(a.as_bytes()))
        .collect::<Result<_>>()?;
    let env: Vec<CString> = pr
        .env
        .iter()
        .map(|a| cstring(a.as_bytes()))
        .collect::<Result<_>>()?;
    if let (Some(f), true) = (&p.seccomp, pr.no_new_privs) {
        crate::seccomp::load(f)?;
    }
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0, 0, 0, 0) };
    let e = nix::unistd::execve(&cpath, &args, &env).unwrap_err();
    Err(Error::Sys {
        op: format!("exec {}", path.display()),
        err: e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> ProcessPlan {
        ProcessPlan {
            args: vec!["sh".into()],
            env: vec!["PATH=/bin".into(), "A=1".into()],
            cwd: "/".into(),
            uid: 0,
            gid: 0,
            additional_gids: vec![5],
            umask: None,
            caps: Some(crate::caps::CapSets::default()),
            rlimits: vec![],
            no_new_privs: false,
            oom_score_adj: None,
            terminal: false,
            console_size: None,
        }
    }

    #[test]
    fn command_line_overrides_the_containers_process() {
        let o = Options {
            args: vec!["id".into()],
            env: vec!["A=2".into(), "B=3".into()],
            cwd: Some("/tmp".into()),
            user: Some("1000:1001".into()),
            caps: vec!["net_raw".into(), "CAP_CHOWN".into()],
            ..Default::default()
        };
        let p = process(&o, &base()).unwrap();
        assert_eq!(p.args, ["id"]);
        assert_eq!(p.env, ["PATH=/bin", "A=2", "B=3"]);
        assert_eq!(p.cwd, Path::new("/tmp"));
        assert_eq!((p.uid, p.gid), (1000, 1001));
        assert!(
            p.additional_gids.is_empty(),
            "--user drops the config's groups"
        );
        let c = p.caps.unwrap();
        assert_eq!(c.bounding, (1 << 13) | 1);
        assert_eq!(c.effective, c.permitted);
    }

    #[test]
    fn bad_command_lines_are_refused_naming_the_flag() {
        let b = base();
        let with = |f: fn(&mut Options)| {
            let mut o = Options {
                args: vec!["id".into()],
                ..Default::default()
            };
            f(&mut o);
            process(&o, &b).unwrap_err().to_string()
        };
        assert!(with(|o| o.args.clear()).contains("command"));
        assert!(with(|o| o.env = vec!["NOEQ".into()]).contains("--env"));
        assert!(with(|o| o.cwd = Some("rel".into())).contains("--cwd"));
        assert!(with(|o| o.user = Some("4294967295".into())).contains("--user"));
        assert!(with(|o| o.user = Some("root".into())).contains("--user"));
        assert!(with(|o| o.caps = vec!["CAP_NOPE".into()]).contains("--cap"));
        assert!(with(|o| o.process = Some("/x.json".into())).contains("not both"));
    }
}
