//! The runtime operations of the OCI runtime spec ("Operations": create,
//! start, state, kill, delete) plus runc's `run`, on a state root directory.
//!
//! create: validate config → claim the id → clone(2) the container process
//! into its new namespaces → record state → create the cgroup and move the
//! process in → wait for it to report ready. It then blocks on the exec fifo
//! until `start`. No sleeps and no polling: every wait is a blocking read.

use crate::cgroup::{self, Cgroup};
use crate::config::Plan;
use crate::error::{io, Error, Result};
use crate::hooks::{self, Kind};
use crate::image;
use crate::init::{self, Child};
use crate::state::{self, State, Status, EXEC_FIFO};
use nix::fcntl::OFlag;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

pub use crate::state::{write_pid_file, DEFAULT_ROOT};

/// Removes a half-made container when create fails.
struct Undo<'a> {
    root: &'a Path,
    id: &'a str,
    pid: i32,
    cgroup: Option<Cgroup>,
    armed: bool,
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if self.pid > 0 {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.pid),
                nix::sys::signal::SIGKILL,
            );
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(self.pid), None);
        }
        if let Some(cg) = &self.cgroup {
            let _ = cg.remove();
        }
        let _ = std::fs::remove_dir_all(state::dir(self.root, self.id));
    }
}

/// A created container whose process is our child.
pub struct Created {
    pub state: State,
    /// The hooks of the config read at create.
    pub plan_hooks: hooks::Hooks,
    /// For `run`: the sync pipe, readable until the process has exec'd.
    sync: OwnedFd,
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(crate::error::sys("pipe2"))
}

/// The overlay root of an image-based bundle: the image's layers (top
/// first) and an empty directory in the state dir on which the container
/// mounts a tmpfs holding its upper and work dirs.
fn overlay_for(plan: &Plan, dir: &Path) -> Result<Option<crate::rootfs::OverlayRoot>> {
    let Some(img) = &plan.image else {
        return Ok(None);
    };
    let store = image::Store::at(&img.store);
    let lowers = store.lowerdirs(&img.name)?;
    let rw = dir.join("rw");
    std::fs::create_dir(&rw).map_err(io("mkdir", &rw))?;
    Ok(Some(crate::rootfs::OverlayRoot { lowers, rw }))
}

/// Create a container. With `detached`, the process waits on the exec fifo
/// for `start`; otherwise (for `run`) it execs as soon as it is ready.
pub fn create(root: &Path, id: &str, bundle: &Path, detached: bool) -> Result<Created> {
    create_with_console(root, id, bundle, detached, None)
}

/// `create` with `--console-socket`, which `process.terminal` needs.
pub fn create_with_console(
    root: &Path,
    id: &str,
    bundle: &Path,
    detached: bool,
    console_socket: Option<&Path>,
) -> Result<Created> {
    let bundle = std::path::absolute(bundle).map_err(io("resolve", bundle))?;
    let mut plan = crate::bundle::load(&bundle, id)?;
    let console =
        crate::terminal::for_create(plan.process.terminal, console_socket, "process.terminal")?;
    let rootless = crate::rootless::is_rootless();
    crate::rootless::prepare_userns(&mut plan, rootless)?;
    if !plan.rootfs.is_dir() {
        return Err(Error::MissingRootfs {
            path: plan.rootfs.clone(),
        });
    }
    let hier = cgroup::detect()?;
    let dir = state::claim(root, id)?;
    let mut undo = Undo {
        root,
        id,
        pid: 0,
        cgroup: None,
        armed: true,
    };
    let overlay = overlay_for(&plan, &dir)?;
    // Why: the hooks of the config read now are the ones `start` and
    // `delete` run, whatever becomes of the bundle's file.
    hooks::save(&dir, &plan.hooks)?;
    state::save_plan(&dir, &plan)?;
    let fifo = if detached {
        let flags = OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
        Some(make_fifo(&dir.join(EXEC_FIFO), flags)?)
    } else {
        None
    };
    // Opened read-write (no blocking on a fifo): the container process
    // holds it until exec, so `start` sees EOF then or a failure before.
    let start_report = if detached && plan.hooks.at_start() {
        let flags = OFlag::O_RDWR | OFlag::O_CLOEXEC;
        Some(make_fifo(&dir.join(hooks::START_FIFO), flags)?)
    } else {
        None
    };
    let hooks_sync = if plan.hooks.at_create() {
        Some(pipe()?)
    } else {
        None
    };
    let mut st = State::empty(id, &bundle);
    st.cgroup = Some(Cgroup::planned(&hier, &plan.cgroups_path, &plan.resources));
    st.scratch = overlay.iter().map(|o| o.rw.clone()).collect();
    st.created = state::now_rfc3339();
    st.annotations = plan.annotations.clone();
    st.memory_limit = plan.resources.memory_limit;
    // Recorded before the cgroup exists, so `delete --force` after a crash
    // from here on knows what to remove.
    st.save(root)?;
    let cg = crate::rootless::cgroup(&hier, &plan.cgroups_path, &plan.resources, rootless)?;
    undo.cgroup = Some(cg.clone());
    st.cgroup = Some(cg.clone());
    let (from_child, to_parent) = pipe()?;
    // With a user namespace the child waits on this pipe until its id maps
    // are written (it can do nothing as "root" before).
    let userns_sync = match &plan.userns {
        Some(_) => Some(pipe()?),
        None => None,
    };
    let (userns_sync, userns_to_child) = split(userns_sync);
    let (hooks_sync, hooks_to_child) = split(hooks_sync);
    // Why: with nothing for the runtime to do between the clone and the
    // container's exec (no user namespace to map, no hooks, no `start` to
    // wait for), the child may borrow the runtime's memory until its exec
    // (CLONE_VM | CLONE_VFORK, as posix_spawn): no copy of the address
    // space, no copy-on-write fault in either process.
    let shared = !detached
        && plan.userns.is_none()
        && userns_sync.is_none()
        && hooks_sync.is_none()
        && start_report.is_none()
        && crate::nsjoin::user_join(&plan.join).is_none();
    let child = Child {
        plan: &plan,
        overlay: overlay.as_ref(),
        cgroup: &cg,
        to_parent,
        fifo,
        userns_sync,
        hooks_sync,
        start_report,
        console,
    };
    let pid = if shared {
        clone_shared(child, &mut undo)?
    } else {
        let pid = clone_container(&plan, &mut undo)?;
        if pid == 0 {
            drop(from_child);
            std::mem::forget(undo);
            init::child_main(child);
        }
        // The runtime's copies of the child's ends.
        drop(child);
        pid as i32
    };
    undo.pid = pid;
    if let (Some(maps), Some(w)) = (&plan.userns, userns_to_child) {
        // Why: the maps of a new user namespace are written from outside
        // (by us, or newuidmap/newgidmap for subordinate ranges); then the
        // child may act as root inside it.
        crate::userns::apply(pid, maps)?;
        nix::unistd::write(w.as_fd(), b"M")
            .map_err(crate::error::sys("releasing the container process"))?;
    }
    st.pid = pid;
    st.start_time = state::start_time(pid).unwrap_or(0);
    st.save(root)?;
    await_ready(undo, &plan, &st, root, &from_child, hooks_to_child)?;
    Ok(Created {
        plan_hooks: plan.hooks.clone(),
        state: st,
        sync: from_child,
    })
}

/// A pipe's read end for the container process and its write end for
/// the runtime.
fn split(p: Option<(OwnedFd, OwnedFd)>) -> (Option<OwnedFd>, Option<OwnedFd>) {
    p.map_or((None, None), |(r, w)| (Some(r), Some(w)))
}

/// Stack of a child that shares the runtime's memory (`clone_shared`).
const SHARED_STACK: usize = 1 << 20;

/// An anonymous mapping for a child's stack, with a guard page below it;
/// unmapped on drop.
struct Stack {
    base: *mut libc::c_void,
    len: usize,
}

impl Stack {
    fn new(size: usize) -> Result<Stack> {
        let len = size + 4096;
        // SAFETY: a new private anonymous mapping; nothing else refers to it.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(Error::Sys {
                op: "mmap of the container process's stack".into(),
                err: nix::errno::Errno::last(),
            });
        }
        let s = Stack { base, len };
        // SAFETY: the lowest page of the mapping just made.
        if unsafe { libc::mprotect(base, 4096, libc::PROT_NONE) } != 0 {
            return Err(Error::Sys {
                op: "mprotect of the stack's guard page".into(),
                err: nix::errno::Errno::last(),
            });
        }
        Ok(s)
    }

    /// The stack's top (stacks grow down), 16-byte aligned.
    fn top(&self) -> *mut libc::c_void {
        // SAFETY: one past the end of the mapping: in bounds for `add`.
        unsafe { self.base.cast::<u8>().add(self.len).cast() }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, no longer used (the child that
        // ran on it has exec'd or exited).
        unsafe { libc::munmap(self.base, self.len) };
    }
}

/// The container process's start when it shares the runtime's memory:
/// `arg` is the runtime's `Child`, which it takes over. Never returns.
extern "C" fn shared_child(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` points to the `Child` that `clone_shared` keeps alive
    // (the runtime is suspended until this process execs or exits) and
    // never drops itself: this copy owns the fds (in this process's own fd
    // table) and borrows what the runtime's stack frame holds.
    let c: Child<'static> = unsafe { std::ptr::read(arg.cast::<Child<'static>>()) };
    // A panic must not unwind out of clone's entry function.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| init::child_main(c)));
    // SAFETY: ends this process without running the runtime's exit code.
    unsafe { libc::_exit(127) }
}

/// clone(2) the container process with CLONE_VM | CLONE_VFORK: it runs on
/// its own stack in the runtime's memory, and the runtime is suspended
/// until it execs (or exits), then drops its copies of `child`'s fds.
/// Only for a config whose container process needs nothing from the
/// runtime before its exec (`create`'s check). Returns the pid.
fn clone_shared(child: Child<'_>, undo: &mut Undo<'_>) -> Result<i32> {
    let plan = child.plan;
    let flags = plan.namespaces.clone_flags() | libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD;
    let stack = Stack::new(SHARED_STACK)?;
    let own_pid_ns = crate::nsjoin::enter_pid(&plan.join)?;
    let mut child = std::mem::ManuallyDrop::new(child);
    // SAFETY: the entry function takes `child` over (see there) and never
    // returns; the stack is ours and outlives the child's use of it
    // (CLONE_VFORK: clone returns once the child has exec'd or exited). The
    // runtime is single-threaded, so the memory the child borrows (the
    // allocator's state included) is consistent and nobody else runs in it.
    let pid = unsafe {
        libc::clone(
            shared_child,
            stack.top(),
            flags,
            (&mut *child as *mut Child<'_>).cast(),
        )
    };
    let err = nix::errno::Errno::last();
    drop(stack);
    // The runtime's copies of the child's ends.
    drop(std::mem::ManuallyDrop::into_inner(child));
    if pid < 0 {
        let _ = crate::nsjoin::leave_pid(own_pid_ns);
        return Err(Error::Sys {
            op: format!("clone(flags {flags:#x})"),
            err,
        });
    }
    undo.pid = pid;
    crate::nsjoin::leave_pid(own_pid_ns)?;
    Ok(pid)
}

/// clone(2) the container process into its new namespaces (and those it
/// joins): 0 in the child, its pid in the runtime (also set in `undo`).
fn clone_container(plan: &Plan, undo: &mut Undo<'_>) -> Result<i64> {
    let flags = plan.namespaces.clone_flags() | libc::SIGCHLD;
    // A pid namespace to join is entered for the child only.
    let own_pid_ns = crate::nsjoin::enter_pid(&plan.join)?;
    // Why: clone(2) with the namespace flags makes the child PID 1 of a new
    // pid namespace with its own mount, uts, ipc and net namespaces at
    // once, without an intermediate process. The null stack makes it
    // fork-like (isorun is single-threaded, so the copy is consistent).
    let pid = match crate::nsjoin::user_join(&plan.join) {
        None => raw_clone(flags),
        Some(j) => match crate::nsjoin::clone_in_user_ns(j, flags, raw_clone) {
            Ok(pid) => pid,
            Err(e) => {
                let _ = crate::nsjoin::leave_pid(own_pid_ns);
                return Err(e);
            }
        },
    };
    if pid < 0 {
        let err = nix::errno::Errno::last();
        let _ = crate::nsjoin::leave_pid(own_pid_ns);
        return Err(Error::Sys {
            op: format!("clone(flags {flags:#x})"),
            err,
        });
    }
    if pid > 0 {
        undo.pid = pid as i32;
        crate::nsjoin::leave_pid(own_pid_ns)?;
    }
    Ok(pid)
}

/// Wait for the container process to report ready; with hooks at create,
/// run prestart and createRuntime when it asks and hand it the state.
/// Disarms `undo` on success.
fn await_ready(
    mut undo: Undo<'_>,
    plan: &Plan,
    st: &State,
    root: &Path,
    from_child: &OwnedFd,
    hooks_to_child: Option<OwnedFd>,
) -> Result<()> {
    let mut msg = read_msg(from_child)?;
    let mut hooks_ran = false;
    if let (Some(b'H'), Some(w)) = (msg.first(), hooks_to_child) {
        // Prestart and createRuntime hooks, in the runtime's namespaces,
        // with the container's namespaces made and pivot_root not yet done.
        hooks_ran = true;
        let state = hooks::state_json(st, root, Status::Creating);
        let ran = hooks::run(Kind::Prestart, &plan.hooks.prestart, &state)
            .and_then(|()| hooks::run(Kind::CreateRuntime, &plan.hooks.create_runtime, &state));
        if let Err(e) = ran {
            return Err(destroyed(undo, &plan.hooks, st, root, e));
        }
        // The state for the container's own hooks, then EOF.
        let sent = nix::unistd::write(w.as_fd(), &state);
        drop(w);
        sent.map_err(crate::error::sys(
            "sending the state to the container process",
        ))?;
        msg = read_msg(from_child)?;
    }
    let failed = match msg.first() {
        Some(b'R') => None,
        Some(b'E') => Some(Error::Init(String::from_utf8_lossy(&msg[1..]).into_owned())),
        _ => Some(Error::Init(
            "the container process exited during setup".into(),
        )),
    };
    if let Some(e) = failed {
        return Err(if hooks_ran {
            destroyed(undo, &plan.hooks, st, root, e)
        } else {
            e
        });
    }
    undo.armed = false;
    Ok(())
}

/// mkfifo(3) `p` (owner-only) and open it with `flags`.
fn make_fifo(p: &Path, flags: OFlag) -> Result<OwnedFd> {
    nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o600))
        .map_err(crate::error::sys(format!("mkfifo {}", p.display())))?;
    nix::fcntl::open(p, flags, nix::sys::stat::Mode::empty())
        .map_err(crate::error::sys(format!("open {}", p.display())))
}

/// clone(2) with `flags` and no new stack: fork-like (isorun is
/// single-threaded, so the copy is consistent); 0 in the child, the
/// child's pid or -1 (errno set) in the caller.
fn raw_clone(flags: libc::c_int) -> i64 {
    // SAFETY: raw clone without CLONE_VM: the child gets a private copy of
    // the address space, as with fork(2); both sides continue after it.
    unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    }
}

/// A create whose hooks started failed: the container is destroyed (the
/// undo) and the poststop hooks run (runtime spec: "continue the lifecycle
/// at step 12"); returns `e`.
fn destroyed(undo: Undo<'_>, h: &hooks::Hooks, st: &State, root: &Path, e: Error) -> Error {
    let state = hooks::state_json(st, root, Status::Stopped);
    drop(undo);
    hooks::run_warn(Kind::Poststop, &h.poststop, &state);
    e
}

/// Read one message: `R` or `H` alone, or `E` and everything up to EOF.
fn read_msg(fd: &OwnedFd) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match nix::unistd::read(fd.as_fd(), &mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out[0] == b'R' || out[0] == b'H' {
                    break;
                }
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                return Err(Error::Sys {
                    op: "reading from the container process".into(),
                    err: e,
                })
            }
        }
    }
    if out.len() > 1 && out[0] == b'R' {
        // "R" then an exec error in the same read (run mode).
        out.remove(0);
    }
    Ok(out)
}

/// `start`: release a created container's process.
pub fn start(root: &Path, id: &str) -> Result<()> {
    let st = State::load(root, id)?;
    let status = st.status(root);
    if status != Status::Created {
        return Err(Error::BadState {
            id: id.into(),
            status: status.to_string(),
            why: "only a created container can be started".into(),
        });
    }
    let dir = state::dir(root, id);
    let hooks = hooks::load(&dir)?;
    let report = if hooks.at_start() {
        let p = dir.join(hooks::START_FIFO);
        Some(
            nix::fcntl::open(
                &p,
                OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .map_err(crate::error::sys(format!("open {}", p.display())))?,
        )
    } else {
        None
    };
    let p = dir.join(EXEC_FIFO);
    // Non-blocking open for writing fails (ENXIO) if the process is gone
    // instead of hanging.
    let fd = nix::fcntl::open(
        &p,
        OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| Error::BadState {
        id: id.into(),
        status: "stopped".into(),
        why: format!("its process no longer waits on {} ({e})", p.display()),
    })?;
    nix::unistd::write(fd.as_fd(), b"0")
        .map_err(crate::error::sys(format!("write {}", p.display())))?;
    drop(fd);
    std::fs::remove_file(&p).map_err(io("remove", &p))?;
    if let Some(r) = report {
        let failure = wait_exec(&r);
        let _ = std::fs::remove_file(dir.join(hooks::START_FIFO));
        if let Some(why) = failure {
            // Runtime spec: a failing startContainer hook stops the
            // container and the lifecycle goes on at its destruction.
            let _ = delete(root, id, true);
            return Err(Error::Init(why));
        }
        let state = hooks::state_json(&st, root, Status::Running);
        hooks::run_warn(Kind::Poststart, &hooks.poststart, &state);
    }
    Ok(())
}

/// Wait on the start fifo until the container process exec'd (EOF: every
/// writer closed) or reported a failure (`E<text>`), which is returned.
fn wait_exec(r: &OwnedFd) -> Option<String> {
    use std::os::fd::AsRawFd;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let mut pfd = libc::pollfd {
            fd: r.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd we own, count 1, no timeout.
        let n = unsafe { libc::poll(&mut pfd, 1, -1) };
        if n < 0 {
            if nix::errno::Errno::last() == nix::errno::Errno::EINTR {
                continue;
            }
            break;
        }
        match nix::unistd::read(r.as_fd(), &mut buf) {
            Ok(0) => break,
            Ok(k) => out.extend_from_slice(&buf[..k]),
            Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => {
                if pfd.revents & libc::POLLHUP != 0 {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    match out.split_first() {
        Some((b'E', rest)) => Some(String::from_utf8_lossy(rest).into_owned()),
        _ => None,
    }
}

/// `kill`: send a signal to the container process.
pub fn kill(root: &Path, id: &str, sig: nix::sys::signal::Signal) -> Result<()> {
    let st = State::load(root, id)?;
    let status = st.status(root);
    if !matches!(status, Status::Created | Status::Running) {
        return Err(Error::BadState {
            id: id.into(),
            status: status.to_string(),
            why: "no process to signal".into(),
        });
    }
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(st.pid), sig)
        .map_err(crate::error::sys(format!("kill {} {sig}", st.pid)))
}

/// Wait for a process that may not be our child to exit (pidfd_open(2) +
/// poll: no polling loop), at most `ms`.
fn wait_gone(pid: i32, ms: i32) {
    if let Ok(nix::sys::wait::WaitStatus::Exited(..) | nix::sys::wait::WaitStatus::Signaled(..)) =
        nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None)
    {
        return;
    }
    // SAFETY: pidfd_open takes a pid and flags; returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return;
    }
    let mut pfd = libc::pollfd {
        fd: fd as i32,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd we own; then close the fd we opened.
    unsafe {
        libc::poll(&mut pfd, 1, ms);
        libc::close(fd as i32);
    }
}

/// What `delete` found out about the container's end.
#[derive(Debug, Default)]
pub struct Deleted {
    /// OOM kills counted by the memory cgroup.
    pub oom_kills: u64,
    pub memory_limit: Option<i64>,
}

/// `delete`: remove a stopped container (with `force`, kill it first).
pub fn delete(root: &Path, id: &str, force: bool) -> Result<Deleted> {
    let st = State::load(root, id)?;
    let status = st.status(root);
    if matches!(status, Status::Created | Status::Running | Status::Creating)
        && !force
        && st.pid > 0
    {
        return Err(Error::BadState {
            id: id.into(),
            status: status.to_string(),
            why: "stop it first or use delete --force".into(),
        });
    }
    if status == Status::Creating && !force {
        return Err(Error::BadState {
            id: id.into(),
            status: status.to_string(),
            why: "use delete --force to remove a half-created container".into(),
        });
    }
    if state::exists(st.pid, st.start_time) {
        // Running (with --force) or already exiting: make sure it is gone
        // before its cgroup is removed.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(st.pid),
            nix::sys::signal::SIGKILL,
        );
        wait_gone(st.pid, 10_000);
    }
    remove(root, &st)
}

/// The rest of `delete` once the container's process is gone: whatever
/// else is in its cgroup killed, the cgroup and the state dir removed,
/// the poststop hooks run.
fn remove(root: &Path, st: &State) -> Result<Deleted> {
    let mut out = Deleted {
        memory_limit: st.memory_limit,
        ..Default::default()
    };
    if let Some(cg) = &st.cgroup {
        // Anything left in the cgroup (no pid namespace) goes too.
        for p in cg.pids() {
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), nix::sys::signal::SIGKILL);
            wait_gone(p, 10_000);
        }
        out.oom_kills = cg.oom_kills().unwrap_or(0);
        cg.remove()?;
    }
    let d = state::dir(root, &st.id);
    let hooks = hooks::load(&d).unwrap_or_else(|e| {
        eprintln!("isorun: warning: poststop hooks not run: {e}");
        hooks::Hooks::default()
    });
    let stopped =
        (!hooks.poststop.is_empty()).then(|| hooks::state_json(st, root, Status::Stopped));
    std::fs::remove_dir_all(&d).map_err(io("remove", &d))?;
    if let Some(state) = stopped {
        hooks::run_warn(Kind::Poststop, &hooks.poststop, &state);
    }
    Ok(out)
}

static RUN_PID: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = RUN_PID.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

/// The end of a `run`.
#[derive(Debug)]
pub struct RunEnd {
    /// Shell-style exit code: the status, or 128 + signal.
    pub code: i32,
    pub signal: Option<i32>,
    pub deleted: Deleted,
}

/// `run`: create, start, wait, delete; returns how the process ended.
pub fn run(root: &Path, id: &str, bundle: &Path, pid_file: Option<&Path>) -> Result<RunEnd> {
    run_with_console(root, id, bundle, pid_file, None)
}

/// `run` with `--console-socket`, which `process.terminal` needs: the pty
/// master goes to the socket as at `create`, and `run` waits as always.
pub fn run_with_console(
    root: &Path,
    id: &str,
    bundle: &Path,
    pid_file: Option<&Path>,
    console_socket: Option<&Path>,
) -> Result<RunEnd> {
    let created = create_with_console(root, id, bundle, false, console_socket)?;
    let pid = created.state.pid;
    if let Some(p) = pid_file {
        if let Err(e) = write_pid_file(p, pid) {
            let _ = delete(root, id, true);
            return Err(e);
        }
    }
    // Until EOF on the sync pipe the process has not exec'd yet: an `E`
    // message means exec failed.
    let rest = read_msg(&created.sync)?;
    if rest.first() == Some(&b'E') {
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        let _ = delete(root, id, true);
        return Err(Error::Init(
            String::from_utf8_lossy(&rest[1..]).into_owned(),
        ));
    }
    let poststart = &created.plan_hooks.poststart;
    if !poststart.is_empty() {
        let state = hooks::state_json(&created.state, root, Status::Running);
        hooks::run_warn(Kind::Poststart, poststart, &state);
    }
    RUN_PID.store(pid, Ordering::Relaxed);
    for s in [
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
    ] {
        // SAFETY: installs an async-signal-safe handler that only calls kill.
        unsafe { libc::signal(s, forward as *const () as libc::sighandler_t) };
    }
    let (code, signal) = loop {
        match nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, c)) => break (c, None),
            Ok(nix::sys::wait::WaitStatus::Signaled(_, s, _)) => {
                break (128 + s as i32, Some(s as i32))
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                return Err(Error::Sys {
                    op: format!("waitpid {pid}"),
                    err: e,
                })
            }
        }
    };
    RUN_PID.store(0, Ordering::Relaxed);
    // Why not `delete`: the process is reaped and the state is the one in
    // hand, so nothing needs reading back (state file, /proc/<pid>/stat).
    // A container deleted meanwhile by someone else fails here as well
    // (its state dir is gone).
    let deleted = remove(root, &created.state)?;
    Ok(RunEnd {
        code,
        signal,
        deleted,
    })
}

/// One line per container for `list`.
pub fn list(root: &Path) -> Result<Vec<state::OciState>> {
    let mut out = Vec::new();
    for id in state::list(root)? {
        if let Ok(st) = State::load(root, &id) {
            out.push(st.oci(root));
        }
    }
    Ok(out)
}
