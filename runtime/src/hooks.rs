//! OCI hooks (runtime spec config.md "POSIX-platform Hooks", runtime.md
//! "Lifecycle"): programs the runtime calls at fixed points of a
//! container's life, each with the container's state JSON on stdin.
//!
//! | kind            | where it runs                  | when                                  | if it fails          |
//! |-----------------|--------------------------------|---------------------------------------|----------------------|
//! | prestart        | runtime namespace (`create`)   | after the environment is made, before pivot_root | create fails, container destroyed |
//! | createRuntime   | runtime namespace (`create`)   | right after prestart                  | create fails, container destroyed |
//! | createContainer | container namespaces (init)    | after createRuntime, before pivot_root | create fails, container destroyed |
//! | startContainer  | container (init, after pivot)  | after `start`, before the process execs | start fails, container stopped |
//! | poststart       | runtime namespace (`start`)    | after the process exec'd, before start returns | a warning; the rest goes on |
//! | poststop        | runtime namespace (`delete`)   | after the container is destroyed      | a warning; the rest goes on |
//!
//! A hook fails when it cannot be started, exits non-zero, is killed, or
//! outlives its `timeout` (it is then killed). The hooks a container runs
//! are those of the config read at `create`, kept in its state directory
//! ([`save`], [`load`]): a later change of the bundle's file has no effect.

use crate::error::{Error, Result};
use std::io::{Read, Seek, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};

pub use crate::config::hooks::{from_spec, Hook, Hooks, Kind};

/// Name of the file in a container's state directory holding its hooks.
pub const FILE: &str = "hooks.json";

/// Name of the fifo in a container's state directory on which its process
/// reports a failing startContainer hook (EOF alone: it exec'd).
pub const START_FIFO: &str = "start.fifo";

/// Keep a container's hooks in its state directory (nothing when none).
pub fn save(dir: &Path, hooks: &Hooks) -> Result<()> {
    if hooks.is_empty() {
        return Ok(());
    }
    let p = dir.join(FILE);
    let text = serde_json::to_vec(hooks).expect("hooks serialize");
    std::fs::write(&p, text).map_err(crate::error::io("write", &p))
}

/// The hooks kept by [`save`] (none if there is no file).
pub fn load(dir: &Path) -> Result<Hooks> {
    let p = dir.join(FILE);
    match std::fs::read(&p) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| Error::MalformedConfig {
            path: p,
            msg: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Hooks::default()),
        Err(e) => Err(crate::error::io("read", &p)(e)),
    }
}

/// Run the hooks of `kind` in order, `state` (the state JSON) on each
/// one's stdin; the first failure stops them and is the error.
pub fn run(kind: Kind, hooks: &[Hook], state: &[u8]) -> Result<()> {
    for (i, h) in hooks.iter().enumerate() {
        run_one(h, state).map_err(|why| Error::Hook {
            kind: kind.name(),
            index: i,
            path: h.path.clone(),
            why,
        })?;
    }
    Ok(())
}

/// Run every hook of `kind`; a failure is a warning on stderr and the
/// next hook runs all the same (poststart, poststop).
pub fn run_warn(kind: Kind, hooks: &[Hook], state: &[u8]) {
    for (i, h) in hooks.iter().enumerate() {
        if let Err(why) = run_one(h, state) {
            let e = Error::Hook {
                kind: kind.name(),
                index: i,
                path: h.path.clone(),
                why,
            };
            eprintln!("isorun: warning: {e}");
        }
    }
}

/// An anonymous in-memory file for a hook's output: it works wherever
/// the hook runs (also inside a container whose /tmp is read-only).
fn memfd() -> std::io::Result<std::fs::File> {
    // SAFETY: memfd_create with a static NUL-terminated name and flags.
    let fd = unsafe { libc::memfd_create(c"isorun-hook".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a new descriptor we own.
    Ok(std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// The last lines of what a hook printed, for the error.
fn tail(out: &mut std::fs::File) -> String {
    let mut s = String::new();
    let _ = out.rewind();
    let _ = out.take(64 * 1024).read_to_string(&mut s);
    let s = s.trim();
    let cut = s.len().saturating_sub(512);
    let cut = (cut..s.len())
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(s.len());
    if s.is_empty() {
        String::new()
    } else {
        format!(": {}", &s[cut..])
    }
}

fn run_one(h: &Hook, state: &[u8]) -> std::result::Result<(), String> {
    let mut out = memfd().map_err(|e| format!("memfd_create: {e}"))?;
    let mut cmd = Command::new(&h.path);
    if let Some((a0, rest)) = h.args.split_first() {
        cmd.arg0(a0).args(rest);
    }
    cmd.env_clear();
    for kv in &h.env {
        match kv.split_once('=') {
            Some((k, v)) => cmd.env(k, v),
            None => cmd.env(kv, ""),
        };
    }
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let so = out.try_clone().map_err(|e| e.to_string())?;
    cmd.stdin(Stdio::piped()).stdout(so).stderr(err);
    // Why: a hook that exits without reading its stdin must not kill the
    // caller with SIGPIPE (the container's init restores the default
    // disposition for its workload), so it is ignored around the write.
    // SAFETY: signal(2) swaps a disposition; the previous one is restored.
    let old = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let res = spawn_and_wait(&mut cmd, state, h.timeout);
    // SAFETY: as above.
    unsafe { libc::signal(libc::SIGPIPE, old) };
    res.map_err(|e| format!("{e}{}", tail(&mut out)))
}

fn spawn_and_wait(
    cmd: &mut Command,
    state: &[u8],
    timeout: Option<u32>,
) -> std::result::Result<(), String> {
    let mut child = cmd.spawn().map_err(|e| format!("cannot run: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook may ignore its stdin and exit: EPIPE is no failure.
        let _ = stdin.write_all(state);
    }
    if let Some(secs) = timeout {
        if !exits_within(child.id() as i32, secs) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {secs} s (killed)"));
        }
    }
    let st = child.wait().map_err(|e| format!("wait: {e}"))?;
    match (st.code(), st.signal()) {
        (Some(0), _) => Ok(()),
        (Some(c), _) => Err(format!("exited with status {c}")),
        (None, Some(s)) => Err(format!("killed by signal {s}")),
        (None, None) => Err(format!("ended with {st}")),
    }
}

/// Whether `pid` (our child) exits within `secs`: pidfd_open(2) + poll(2),
/// no polling loop. If pidfds are unavailable, the hook is waited for
/// without a timeout, which the caller then sees as an ordinary wait.
fn exits_within(pid: i32, secs: u32) -> bool {
    // SAFETY: pidfd_open takes a pid and flags; returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return true;
    }
    // SAFETY: fd is a new descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(u64::from(secs));
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one pollfd we own, count 1.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r > 0 {
            return true;
        }
        if r == 0 {
            return false;
        }
        if nix::errno::Errno::last() != nix::errno::Errno::EINTR {
            return true;
        }
    }
}

/// In the container process, just before pivot_root: ask the runtime to run
/// its prestart and createRuntime hooks (`H` on `to_parent`), read the
/// state it sends back on `from_parent` (to EOF), then run the
/// createContainer hooks. Returns the state for startContainer hooks.
pub fn before_pivot(to_parent: &OwnedFd, from_parent: &OwnedFd, hooks: &Hooks) -> Result<Vec<u8>> {
    use std::os::fd::AsFd;
    nix::unistd::write(to_parent.as_fd(), b"H")
        .map_err(crate::error::sys("asking the runtime to run hooks"))?;
    let mut state = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match nix::unistd::read(from_parent.as_fd(), &mut buf) {
            Ok(0) => break,
            Ok(n) => state.extend_from_slice(&buf[..n]),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(crate::error::sys("reading the state for hooks")(e)),
        }
    }
    if state.is_empty() {
        return Err(Error::Init(
            "the runtime went away while running hooks".into(),
        ));
    }
    run(Kind::CreateContainer, &hooks.create_container, &state)?;
    Ok(state)
}

/// In the container process after `start`: run the startContainer hooks
/// with `state` (status "created"); a failure is also written to `report`
/// (the start fifo) for `start` to tell.
pub fn start_container(report: Option<&OwnedFd>, hooks: &Hooks, state: &[u8]) -> Result<()> {
    if hooks.start_container.is_empty() {
        return Ok(());
    }
    let state = with_status(state, "created");
    run(Kind::StartContainer, &hooks.start_container, &state).inspect_err(|e| {
        if let Some(fd) = report {
            use std::os::fd::AsFd;
            let _ = nix::unistd::write(fd.as_fd(), format!("E{e}").as_bytes());
        }
    })
}

/// `state` JSON with its status replaced.
fn with_status(state: &[u8], status: &str) -> Vec<u8> {
    match serde_json::from_slice::<serde_json::Value>(state) {
        Ok(mut v) => {
            v["status"] = status.into();
            serde_json::to_vec(&v).expect("state serializes")
        }
        Err(_) => state.to_vec(),
    }
}

/// The state JSON a hook gets: the container's state with the status of
/// the moment, and its pid unless stopped (the process may already have
/// ended when poststart hooks run: they still get the pid it had).
pub fn state_json(st: &crate::state::State, root: &Path, status: crate::state::Status) -> Vec<u8> {
    let mut oci = st.oci(root);
    oci.status = status;
    oci.pid = if status == crate::state::Status::Stopped {
        0
    } else {
        st.pid
    };
    serde_json::to_vec(&oci).expect("state serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Hook {
        Hook {
            path: "/bin/sh".into(),
            args: vec!["sh".into(), "-c".into(), script.into()],
            env: vec!["X=1".into()],
            timeout: None,
        }
    }

    #[test]
    fn a_hook_gets_the_state_args_and_only_its_env() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("out");
        let h = sh(&format!(
            "read s; echo \"$s|$0|$X|${{HOME:-unset}}\" > {}",
            f.display()
        ));
        run(Kind::Poststart, &[h], b"{\"id\":\"c\"}\n").unwrap();
        let got = std::fs::read_to_string(&f).unwrap();
        assert_eq!(got.trim(), "{\"id\":\"c\"}|sh|1|unset");
    }

    #[test]
    fn failures_name_the_hook_and_carry_its_output() {
        let e = run(
            Kind::Prestart,
            &[sh("true"), sh("echo boom >&2; exit 3")],
            b"{}",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("prestart hook 1"), "{e}");
        assert!(e.contains("status 3") && e.contains("boom"), "{e}");
        let mut missing = sh("true");
        missing.path = "/nonexistent/hook".into();
        let e = run(Kind::Poststop, &[missing], b"{}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot run"), "{e}");
    }

    #[test]
    fn a_hook_over_its_timeout_is_killed_and_fails() {
        let mut h = sh("exec sleep 30");
        h.timeout = Some(1);
        let e = run(Kind::CreateRuntime, &[h], b"{}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("timed out after 1 s"), "{e}");
    }

    #[test]
    fn hooks_come_from_the_spec_checked() {
        let spec: oci_spec::runtime::Hooks = serde_json::from_value(serde_json::json!({
            "prestart": [{"path": "/bin/true"}],
            "poststop": [{"path": "/bin/true", "args": ["true", "x"], "timeout": 5}]
        }))
        .unwrap();
        let h = from_spec(Some(&spec)).unwrap();
        assert_eq!(h.prestart.len(), 1);
        assert_eq!(h.poststop[0].timeout, Some(5));
        assert!(h.at_create() && !h.is_empty());
        let bad: oci_spec::runtime::Hooks =
            serde_json::from_value(serde_json::json!({"poststart": [{"path": "rel/hook"}]}))
                .unwrap();
        let e = from_spec(Some(&bad)).unwrap_err().to_string();
        assert!(e.contains("hooks.poststart[0].path"), "{e}");
        let bad: oci_spec::runtime::Hooks = serde_json::from_value(
            serde_json::json!({"poststart": [{"path": "/bin/true", "timeout": 0}]}),
        )
        .unwrap();
        assert!(from_spec(Some(&bad)).is_err());
    }

    #[test]
    fn hooks_round_trip_through_the_state_dir() {
        let d = tempfile::tempdir().unwrap();
        assert!(load(d.path()).unwrap().is_empty());
        let h = Hooks {
            poststop: vec![sh("true")],
            ..Default::default()
        };
        save(d.path(), &h).unwrap();
        assert_eq!(load(d.path()).unwrap(), h);
    }
}
