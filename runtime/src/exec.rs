//! `exec` (runc's verb): run another process in a running container, in
//! every namespace and the cgroup of its init, with the process given by
//! `--process` JSON or by the container's own process with other args and
//! overrides (env, cwd, user, capabilities).
//!
//! The runtime enters the container's pid namespace for its next child only
//! (setns(2) with CLONE_NEWPID), forks, and goes back; the child joins the
//! container's cgroup (from the host's cgroupfs), then its other namespaces
//! (user first), then becomes the process as the container's init does:
//! rlimits, seccomp, capabilities, ids, cwd checked inside the root,
//! no_new_privs, execve. It reports a failure on a close-on-exec pipe, so
//! the runtime knows the exec worked when that pipe closes without a word.

use crate::caps;
use crate::config::{Plan, ProcessPlan};
use crate::error::{Error, Result};
use crate::state::{self, State, Status};
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Name of the container's validated config in its state directory.
pub const PLAN_FILE: &str = "plan.json";

/// Keep the container's validated config (for `exec`'s defaults).
pub fn save_plan(dir: &Path, plan: &Plan) -> Result<()> {
    let p = dir.join(PLAN_FILE);
    let text = serde_json::to_vec(plan).expect("plan serializes");
    std::fs::write(&p, text).map_err(crate::error::io("write", &p))
}

/// The config kept by [`save_plan`].
pub fn load_plan(dir: &Path) -> Result<Plan> {
    let p = dir.join(PLAN_FILE);
    let b = std::fs::read(&p).map_err(crate::error::io("read", &p))?;
    serde_json::from_slice(&b).map_err(|e| Error::MalformedConfig {
        path: p,
        msg: e.to_string(),
    })
}

/// A process for `exec` from an OCI process JSON file (`--process`).
pub fn process_from_file(path: &Path) -> Result<ProcessPlan> {
    let text = std::fs::read(path).map_err(|err| Error::ReadConfig {
        path: path.into(),
        err,
    })?;
    let p: oci_spec::runtime::Process =
        serde_json::from_slice(&text).map_err(|e| Error::MalformedConfig {
            path: path.into(),
            msg: e.to_string(),
        })?;
    crate::config::process_plan(Some(&p))
}

/// Overrides of the container's process for `exec <id> <args...>`.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub args: Vec<String>,
    /// `KEY=VALUE`, replacing a variable of the same name.
    pub env: Vec<String>,
    pub cwd: Option<std::path::PathBuf>,
    /// `uid[:gid]`.
    pub user: Option<String>,
    /// Capabilities added to every set.
    pub caps: Vec<String>,
}

/// The container's process with `o` applied.
pub fn process_with(base: &ProcessPlan, o: &Overrides) -> Result<ProcessPlan> {
    let mut p = base.clone();
    if o.args.is_empty() {
        return Err(Error::Invalid {
            field: "exec".into(),
            why: "give a command (or --process)".into(),
        });
    }
    p.args = o.args.clone();
    for kv in &o.env {
        let key = kv.split('=').next().unwrap_or(kv);
        p.env.retain(|e| e.split('=').next() != Some(key));
        p.env.push(kv.clone());
    }
    if let Some(c) = &o.cwd {
        if !c.is_absolute() {
            return Err(Error::Invalid {
                field: "--cwd".into(),
                why: format!("{} is not absolute", c.display()),
            });
        }
        p.cwd = c.clone();
    }
    if let Some(u) = &o.user {
        let bad = || Error::Invalid {
            field: "--user".into(),
            why: format!("{u}: use uid[:gid] (numbers)"),
        };
        let (uid, gid) = match u.split_once(':') {
            Some((a, b)) => (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?),
            None => (u.parse().map_err(|_| bad())?, 0),
        };
        if uid == u32::MAX || gid == u32::MAX {
            return Err(bad());
        }
        p.uid = uid;
        p.gid = gid;
    }
    for c in &o.caps {
        let name = if c.to_uppercase().starts_with("CAP_") {
            c.to_uppercase()
        } else {
            format!("CAP_{}", c.to_uppercase())
        };
        let n = (0..64)
            .find(|&n| caps::name(n) == Some(name.as_str()))
            .ok_or_else(|| Error::Invalid {
                field: "--cap".into(),
                why: format!("unknown capability {c}"),
            })?;
        let bit = 1u64 << n;
        let sets = p.caps.get_or_insert(caps::CapSets {
            bounding: 0,
            effective: 0,
            permitted: 0,
            inheritable: 0,
            ambient: 0,
        });
        sets.bounding |= bit;
        sets.effective |= bit;
        sets.permitted |= bit;
        sets.inheritable |= bit;
        sets.ambient |= bit;
    }
    Ok(p)
}

/// Namespaces joined, user first (it owns the others).
const NAMESPACES: &[(&str, libc::c_int)] = &[
    ("user", libc::CLONE_NEWUSER),
    ("cgroup", libc::CLONE_NEWCGROUP),
    ("ipc", libc::CLONE_NEWIPC),
    ("uts", libc::CLONE_NEWUTS),
    ("net", libc::CLONE_NEWNET),
    ("mnt", libc::CLONE_NEWNS),
];

fn ns_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Start `p` in container `id`; returns its host pid once it exec'd.
pub fn exec(root: &Path, id: &str, p: &ProcessPlan) -> Result<i32> {
    let st = State::load(root, id)?;
    let status = st.status(root);
    if !matches!(status, Status::Running | Status::Created) {
        return Err(Error::BadState {
            id: id.into(),
            status: status.to_string(),
            why: "exec needs a created or running container".into(),
        });
    }
    let plan = load_plan(&state::dir(root, id))?;
    let cpid = st.pid;
    // Every namespace file is opened now, by pid, before the checks below
    // and the fork: a pid reused meanwhile is caught by the start time.
    let mut joins = Vec::new();
    for (ns, flag) in NAMESPACES {
        let theirs = Path::new("/proc")
            .join(cpid.to_string())
            .join("ns")
            .join(ns);
        let mine = Path::new("/proc/self/ns").join(ns);
        if ns_id(&theirs).is_some() && ns_id(&theirs) != ns_id(&mine) {
            let f = std::fs::File::open(&theirs).map_err(crate::error::io("open", &theirs))?;
            joins.push((*ns, *flag, f));
        }
    }
    let pid_ns = Path::new("/proc").join(cpid.to_string()).join("ns/pid");
    let their_pid = std::fs::File::open(&pid_ns).map_err(crate::error::io("open", &pid_ns))?;
    if !state::alive(cpid, st.start_time) {
        return Err(Error::BadState {
            id: id.into(),
            status: "stopped".into(),
            why: "its process ended".into(),
        });
    }
    let own_pid = Path::new("/proc/self/ns/pid");
    let mine = std::fs::File::open(own_pid).map_err(crate::error::io("open", own_pid))?;
    let same_pid_ns = ns_id(&pid_ns) == ns_id(own_pid);
    let (from_child, to_parent) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(crate::error::sys("pipe2"))?;
    if !same_pid_ns {
        nix::sched::setns(&their_pid, nix::sched::CloneFlags::CLONE_NEWPID)
            .map_err(crate::error::sys(format!("setns pid namespace of {cpid}")))?;
    }
    // SAFETY: isorun is single-threaded here; the child only calls
    // async-signal-safe-enough code of its own copy and ends in execve/_exit.
    let fork = unsafe { nix::unistd::fork() };
    if !same_pid_ns {
        let _ = nix::sched::setns(&mine, nix::sched::CloneFlags::CLONE_NEWPID);
    }
    match fork.map_err(crate::error::sys("fork"))? {
        nix::unistd::ForkResult::Child => {
            drop(from_child);
            let e = match become_process(p, &plan, &st, &joins, &to_parent) {
                Ok(never) => match never {},
                Err(e) => e,
            };
            let _ = nix::unistd::write(to_parent.as_fd(), format!("E{e}").as_bytes());
            // SAFETY: end the child without the parent's atexit handlers.
            unsafe { libc::_exit(127) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(to_parent);
            let mut msg = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                match nix::unistd::read(from_child.as_fd(), &mut buf) {
                    Ok(0) => break,
                    Ok(n) => msg.extend_from_slice(&buf[..n]),
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(_) => break,
                }
            }
            if let Some((b'E', rest)) = msg.split_first() {
                let _ = nix::sys::wait::waitpid(child, None);
                return Err(Error::Init(String::from_utf8_lossy(rest).into_owned()));
            }
            Ok(child.as_raw())
        }
    }
}

/// In the forked child: join the container, then become `p` (the sequence
/// of the container's init, `crate::init`, for a process that was not set
/// up by isorun's clone).
fn become_process(
    p: &ProcessPlan,
    plan: &Plan,
    st: &State,
    joins: &[(&str, libc::c_int, std::fs::File)],
    to_parent: &OwnedFd,
) -> Result<std::convert::Infallible> {
    // Why: a descriptor the caller leaked (a host directory) must not be
    // reachable from the container (CVE-2024-21626): only the report pipe
    // and the namespace files stay open, and those close at exec.
    let mut keep: Vec<i32> = joins.iter().map(|j| j.2.as_raw_fd()).collect();
    keep.push(to_parent.as_raw_fd());
    crate::init::close_inherited(&keep);
    // SAFETY: plain signal-disposition and mask changes for this process.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
    if let Some(cg) = &st.cgroup {
        cg.join_self()?;
    }
    for (ns, flag, f) in joins {
        nix::sched::setns(f, nix::sched::CloneFlags::from_bits_truncate(*flag)).map_err(
            crate::error::sys(format!("setns {ns} namespace of {}", st.pid)),
        )?;
    }
    for r in &p.rlimits {
        let lim = libc::rlimit {
            rlim_cur: r.soft,
            rlim_max: r.hard,
        };
        // SAFETY: setrlimit reads one rlimit struct that lives across the call.
        if unsafe { libc::setrlimit(r.resource as _, &lim) } != 0 {
            return Err(crate::error::sys(format!("rlimit {}", r.name))(
                nix::errno::Errno::last(),
            ));
        }
    }
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
        crate::seccomp::load(f)?;
    }
    if let Some(c) = &p.caps {
        caps::drop_bounding(c.bounding)?;
    }
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) };
    let gids: Vec<nix::unistd::Gid> = p
        .additional_gids
        .iter()
        .map(|g| nix::unistd::Gid::from_raw(*g))
        .collect();
    if !(gids.is_empty() && crate::userns::setgroups_denied()) {
        nix::unistd::setgroups(&gids).map_err(crate::error::sys("setgroups"))?;
    }
    let gid = nix::unistd::Gid::from_raw(p.gid);
    nix::unistd::setresgid(gid, gid, gid)
        .map_err(crate::error::sys(format!("setresgid {}", p.gid)))?;
    let uid = nix::unistd::Uid::from_raw(p.uid);
    nix::unistd::setresuid(uid, uid, uid)
        .map_err(crate::error::sys(format!("setresuid {}", p.uid)))?;
    if let Some(c) = &p.caps {
        caps::apply(c)?;
    }
    if let Some(m) = p.umask {
        // SAFETY: umask only changes this process's creation mask.
        unsafe { libc::umask(m as libc::mode_t) };
    }
    std::env::set_current_dir(&p.cwd).map_err(|e| {
        Error::Init(format!(
            "cwd {}: chdir inside the container: {e}",
            p.cwd.display()
        ))
    })?;
    crate::init::check_cwd_inside(&p.cwd)?;
    if p.no_new_privs {
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(crate::error::sys("prctl(PR_SET_NO_NEW_PRIVS)")(
                nix::errno::Errno::last(),
            ));
        }
    }
    let path = crate::init::find_executable(&p.args[0], &p.env)?;
    let cstr = |b: &[u8]| {
        CString::new(b).map_err(|_| Error::Init("NUL byte in process args or env".into()))
    };
    let cpath = cstr(path.as_os_str().as_bytes())?;
    let args: Vec<CString> = p
        .args
        .iter()
        .map(|a| cstr(a.as_bytes()))
        .collect::<Result<_>>()?;
    let env: Vec<CString> = p
        .env
        .iter()
        .map(|a| cstr(a.as_bytes()))
        .collect::<Result<_>>()?;
    if let (Some(f), true) = (&seccomp, p.no_new_privs) {
        crate::seccomp::load(f)?;
    }
    let e = nix::unistd::execve(&cpath, &args, &env).unwrap_err();
    Err(Error::Sys {
        op: format!("exec {}", path.display()),
        err: e,
    })
}

/// Wait for an exec'd process (our child) and return its shell-style code.
pub fn wait(pid: i32) -> Result<i32> {
    loop {
        match nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, c)) => return Ok(c),
            Ok(nix::sys::wait::WaitStatus::Signaled(_, s, _)) => return Ok(128 + s as i32),
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                return Err(Error::Sys {
                    op: format!("waitpid {pid}"),
                    err: e,
                })
            }
        }
    }
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
            additional_gids: vec![],
            umask: None,
            caps: None,
            rlimits: vec![],
            no_new_privs: true,
            oom_score_adj: None,
        }
    }

    #[test]
    fn overrides_replace_args_env_cwd_user_and_add_caps() {
        let o = Overrides {
            args: vec!["id".into()],
            env: vec!["A=2".into(), "B=3".into()],
            cwd: Some("/tmp".into()),
            user: Some("5:6".into()),
            caps: vec!["net_admin".into()],
        };
        let p = process_with(&base(), &o).unwrap();
        assert_eq!(p.args, ["id"]);
        assert_eq!(p.env, ["PATH=/bin", "A=2", "B=3"]);
        assert_eq!((p.uid, p.gid), (5, 6));
        assert_eq!(p.cwd, Path::new("/tmp"));
        assert_eq!(p.caps.unwrap().effective, 1 << 12);
    }

    #[test]
    fn bad_overrides_are_refused_naming_the_flag() {
        let mut o = Overrides {
            args: vec!["id".into()],
            user: Some("root".into()),
            ..Default::default()
        };
        assert!(process_with(&base(), &o)
            .unwrap_err()
            .to_string()
            .contains("--user"));
        o.user = Some("4294967295".into());
        assert!(process_with(&base(), &o).is_err());
        o.user = None;
        o.caps = vec!["CAP_NOPE".into()];
        assert!(process_with(&base(), &o)
            .unwrap_err()
            .to_string()
            .contains("--cap"));
        o.caps.clear();
        o.cwd = Some("rel".into());
        assert!(process_with(&base(), &o)
            .unwrap_err()
            .to_string()
            .contains("--cwd"));
        assert!(process_with(&base(), &Overrides::default()).is_err());
    }
}
