//! Spawning a child that speaks the workload protocol and watching it.
//!
//! Every environment ends in a process whose standard output carries
//! `ISOBENCH-READY` and `ISOBENCH-RESULT` (the workload itself, an OCI
//! runtime's `run`, or QEMU's serial console). [`watch`] spawns it in its own
//! process group, timestamps the ready marker as it arrives, enforces a
//! timeout, and kills the whole group on timeout or Ctrl-C, so no child
//! outlives the run.

use anyhow::{bail, Context, Result};
use isobench_workloads::protocol::is_ready_line;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::{Duration, Instant};

/// Set by the SIGINT/SIGTERM handler; watchers poll it and kill their child.
pub fn interrupted_flag() -> &'static Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)))
}

/// Route SIGINT, SIGTERM and SIGHUP to [`interrupted_flag`] (instead of dying
/// at once), so that the runner can kill children and clean up before exit.
pub fn install_signal_handlers() -> Result<()> {
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        // A second signal while cleaning up exits at once (130).
        signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(interrupted_flag()))
            .context("installing a signal handler")?;
        signal_hook::flag::register(sig, Arc::clone(interrupted_flag()))
            .context("installing a signal handler")?;
    }
    Ok(())
}

pub fn interrupted() -> bool {
    interrupted_flag().load(Ordering::Relaxed)
}

/// Error returned when the user interrupted the run.
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted;

/// What a watched child did.
#[derive(Debug)]
pub struct Watched {
    /// Spawn to `ISOBENCH-READY` on stdout.
    pub ready_after: Option<Duration>,
    /// Spawn to exit (child reaped).
    pub exited_after: Duration,
    pub status: ExitStatus,
    /// Peak resident set size of the child (largest of it and its reaped
    /// descendants), from wait4(2)'s rusage; KiB.
    pub max_rss_kib: Option<u64>,
    /// All of standard output (lines joined with '\n').
    pub stdout: String,
    /// All of standard error.
    pub stderr: String,
}

impl Watched {
    /// The last `n` lines of stdout and stderr, for error messages.
    pub fn tail(&self, n: usize) -> String {
        tail_lines(&format!("{}\n{}", self.stdout, self.stderr), n)
    }
}

/// The last `n` non-empty lines of `text`, indented for an error message.
pub fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty())
        .collect();
    let start = lines.len().saturating_sub(n);
    lines[start..]
        .iter()
        .map(|l| format!("    | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What a reader thread of [`read_stdout`] saw on a child's stdout.
pub enum Event {
    /// `ISOBENCH-READY` arrived (timestamped as read).
    Ready(Instant),
    /// One line, with its newline.
    Line(String),
    /// End of the stream: every writer closed it.
    Eof(Instant),
}

/// Read `stdout` line by line on a thread of its own, timestamping the ready
/// marker as it arrives (not when the caller gets round to looking).
pub fn read_stdout<R: Read + Send + 'static>(
    stdout: R,
) -> (mpsc::Receiver<Event>, std::thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel::<Event>();
    // A small stack: density experiments hold one reader per live instance.
    let reader = std::thread::Builder::new()
        .stack_size(128 << 10)
        .spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match r.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf).into_owned();
                        if is_ready_line(&line) {
                            let _ = tx.send(Event::Ready(Instant::now()));
                        }
                        let _ = tx.send(Event::Line(line));
                    }
                }
            }
            let _ = tx.send(Event::Eof(Instant::now()));
        })
        .expect("cannot start a reader thread");
    (rx, reader)
}

/// A child that speaks the workload protocol, under supervision: spawned
/// with stdin null, stdout and stderr piped and in a process group of its
/// own; its stdout read on a thread that timestamps `ISOBENCH-READY`. The
/// one supervisor every environment uses ([`watch`] for runs to completion,
/// instance handles for live instances). Dropping it kills the whole group
/// and reaps the child.
pub struct Supervised {
    child: std::process::Child,
    program: String,
    start: Instant,
    rx: mpsc::Receiver<Event>,
    reader: Option<std::thread::JoinHandle<()>>,
    err_reader: Option<std::thread::JoinHandle<String>>,
    ready_at: Option<Instant>,
    out: String,
    eof: bool,
    eof_at: Option<Instant>,
    status: Option<(ExitStatus, Option<u64>)>,
}

impl Supervised {
    /// Spawn `cmd` under supervision. `start` is when the clock of this
    /// instance started (before any work the caller timed, e.g. `create`).
    pub fn spawn(cmd: Command) -> Result<Supervised> {
        Self::spawn_logged(cmd, None)
    }

    /// [`Supervised::spawn`], with stderr to `stderr_log` when given
    /// (instead of a pipe and a reader thread: an OCI runtime's `create`
    /// hands its stdio to the container, and a density experiment holds
    /// 1,000 of them).
    pub fn spawn_logged(mut cmd: Command, stderr_log: Option<std::fs::File>) -> Result<Supervised> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(match stderr_log {
                Some(f) => Stdio::from(f),
                None => Stdio::piped(),
            })
            .process_group(0);
        let program = cmd.get_program().to_string_lossy().into_owned();
        let start = Instant::now();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {program}"))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (rx, reader) = read_stdout(stdout);
        let err_reader = match child.stderr.take() {
            Some(mut pipe) => Some(
                std::thread::Builder::new()
                    .stack_size(64 << 10)
                    .spawn(move || {
                        let mut s = Vec::new();
                        let _ = pipe.read_to_end(&mut s);
                        String::from_utf8_lossy(&s).into_owned()
                    })
                    .context("starting a stderr reader thread")?,
            ),
            None => None,
        };
        Ok(Supervised {
            child,
            program,
            start,
            rx,
            reader: Some(reader),
            err_reader,
            ready_at: None,
            out: String::new(),
            eof: false,
            eof_at: None,
            status: None,
        })
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn program(&self) -> &str {
        &self.program
    }

    /// Spawn to `ISOBENCH-READY`, once it arrived.
    pub fn ready_after(&self) -> Option<Duration> {
        self.ready_at.map(|t| t.duration_since(self.start))
    }

    /// Whether the child has been reaped.
    pub fn exited(&self) -> bool {
        self.status.is_some()
    }

    /// Take in what the reader saw, waiting at most `wait` for the first
    /// event; reap the child if it exited. Returns true when READY arrived
    /// during this call (the child was alive then).
    fn pump(&mut self, wait: Duration) -> Result<bool> {
        let mut newly_ready = false;
        let mut wait = if self.eof { Duration::ZERO } else { wait };
        loop {
            match self.rx.recv_timeout(wait) {
                Ok(Event::Ready(t)) => {
                    if self.ready_at.is_none() {
                        self.ready_at = Some(t);
                        newly_ready = true;
                    }
                }
                Ok(Event::Line(l)) => self.out.push_str(&l),
                Ok(Event::Eof(t)) => {
                    self.eof = true;
                    self.eof_at = Some(t);
                }
                Err(_) => break,
            }
            wait = Duration::ZERO;
        }
        if self.status.is_none() {
            if let Some(st) = try_wait4(self.pid())? {
                self.status = Some(st);
            }
        }
        Ok(newly_ready)
    }

    /// Wait until `ISOBENCH-READY` arrives, at most `timeout` from spawn.
    /// An error (quoting the last output) when the child exits first, on
    /// timeout and on interrupt; the child is killed then.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<Duration> {
        loop {
            self.pump(Duration::from_millis(5))?;
            if let Some(d) = self.ready_after() {
                return Ok(d);
            }
            let failure = if interrupted() {
                Some(Interrupted.into())
            } else if self.status.is_some() && self.eof {
                Some(anyhow::anyhow!(
                    "{} exited ({}) before ISOBENCH-READY",
                    self.program,
                    self.status.map(|s| s.0.to_string()).unwrap_or_default()
                ))
            } else if self.start.elapsed() > timeout {
                Some(anyhow::anyhow!(
                    "{} sent no ISOBENCH-READY within {:.0} s; killed it",
                    self.program,
                    timeout.as_secs_f64()
                ))
            } else {
                None
            };
            if let Some(err) = failure {
                return Err(self.fail(err));
            }
        }
    }

    /// Wait until a line containing `marker` arrives on stdout (after
    /// READY), at most `timeout` from now; returns when it arrived. An
    /// error when the child ends first, on timeout and on interrupt (the
    /// child is killed then).
    pub fn wait_line(&mut self, marker: &str, timeout: Duration) -> Result<Instant> {
        let t0 = Instant::now();
        let mut seen = 0;
        loop {
            self.pump(Duration::from_millis(5))?;
            if self.out[seen..].contains(marker) {
                return Ok(Instant::now());
            }
            seen = self.out.len().saturating_sub(marker.len());
            while !self.out.is_char_boundary(seen) {
                seen -= 1;
            }
            let failure = if interrupted() {
                Some(Interrupted.into())
            } else if self.eof {
                Some(anyhow::anyhow!(
                    "{} ended its output before printing {marker}",
                    self.program
                ))
            } else if t0.elapsed() > timeout {
                Some(anyhow::anyhow!(
                    "{} printed no {marker} within {:.0} s; killed it",
                    self.program,
                    timeout.as_secs_f64()
                ))
            } else {
                None
            };
            if let Some(err) = failure {
                return Err(self.fail(err));
            }
        }
    }

    /// Wait for the spawned child itself to exit (not for its stdout to
    /// end: an OCI runtime's `create` leaves the container holding it), at
    /// most `timeout` from spawn; killed on timeout and interrupt.
    pub fn wait_child(&mut self, timeout: Duration) -> Result<ExitStatus> {
        loop {
            self.pump(Duration::from_millis(2))?;
            if let Some((st, _)) = self.status {
                return Ok(st);
            }
            if interrupted() {
                return Err(self.fail(Interrupted.into()));
            }
            if self.start.elapsed() > timeout {
                let err = anyhow::anyhow!(
                    "{} did not finish within {:.0} s; killed it",
                    self.program,
                    timeout.as_secs_f64()
                );
                return Err(self.fail(err));
            }
        }
    }

    /// When the child was spawned.
    pub fn started(&self) -> Instant {
        self.start
    }

    /// Kill the whole process group with SIGKILL and reap the child.
    /// Idempotent.
    pub fn kill(&mut self) {
        if self.status.is_none() {
            kill_group(self.pid());
            let _ = self.child.wait();
            self.status = Some((ExitStatus::from_raw(libc::SIGKILL), None));
        }
    }

    /// Kill the whole group (if still running) and return everything it
    /// printed on stdout, waiting at most `grace` for the pipe to end (a
    /// holder outside the group, such as a container's init, must be
    /// stopped first). For an instance stopped mid-run, e.g. an antagonist
    /// whose progress lines say what it achieved.
    pub fn kill_output(&mut self, grace: Duration) -> String {
        self.kill();
        let until = Instant::now() + grace;
        while !self.eof && Instant::now() < until {
            if self.pump(Duration::from_millis(5)).is_err() {
                break;
            }
        }
        let _ = self.pump(Duration::ZERO);
        std::mem::take(&mut self.out)
    }

    /// Spawn to the end of stdout (every writer closed it), once it came.
    pub fn eof_after(&self) -> Option<Duration> {
        self.eof_at.map(|t| t.duration_since(self.start))
    }

    /// Kill, collect the output, and return `err` with its last lines.
    fn fail(&mut self, err: anyhow::Error) -> anyhow::Error {
        let was_running = self.status.is_none();
        self.kill();
        // A child reaped earlier may have handed its stdout on (a runtime's
        // `create` to the container): the caller stops that holder; joining
        // the reader here would wait for it.
        let (out, stderr) = self.collect(was_running || self.eof);
        let tail = tail_lines(&format!("{out}\n{stderr}"), 15);
        if tail.is_empty() {
            return err;
        }
        err.context(format!("last output:\n{tail}"))
            .context("run aborted")
    }

    /// Join the readers (they end once every writer of the pipes is gone)
    /// and return stdout and stderr.
    fn collect(&mut self, join: bool) -> (String, String) {
        if join {
            if let Some(r) = self.reader.take() {
                let _ = r.join();
            }
        }
        while let Ok(ev) = self.rx.try_recv() {
            if let Event::Line(l) = ev {
                self.out.push_str(&l);
            }
        }
        let stderr = self
            .err_reader
            .take()
            .and_then(|r| r.join().ok())
            .unwrap_or_default();
        (std::mem::take(&mut self.out), stderr)
    }

    /// Wait for the child to exit and its stdout to end, at most `timeout`
    /// from spawn, calling `on_ready` once when READY arrives during this
    /// call, with the child's pid while it is alive (`None` once reaped:
    /// the pid may be reused). On timeout or interrupt the group is killed.
    pub fn finish(
        mut self,
        timeout: Duration,
        mut on_ready: impl FnMut(Option<i32>),
    ) -> Result<Watched> {
        loop {
            if self.pump(Duration::from_millis(5))? {
                on_ready(self.status.is_none().then(|| self.pid()));
            }
            if let Some((st, rss)) = self.status {
                if self.eof {
                    let exited_after = self.start.elapsed();
                    let ready_after = self.ready_after();
                    let (stdout, stderr) = self.collect(true);
                    return Ok(Watched {
                        ready_after,
                        exited_after,
                        status: st,
                        max_rss_kib: rss,
                        stdout,
                        stderr,
                    });
                }
                // Exited, but a grandchild may still hold the pipe: give it a moment.
                if self.start.elapsed() > timeout {
                    kill_group(self.pid());
                }
            }
            let failure = if interrupted() {
                Some(Interrupted.into())
            } else if self.start.elapsed() > timeout {
                Some(anyhow::anyhow!(
                    "{} did not finish within {:.0} s; killed it",
                    self.program,
                    timeout.as_secs_f64()
                ))
            } else {
                None
            };
            if let Some(err) = failure {
                return Err(self.fail(err));
            }
        }
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Spawn `cmd` (stdin null, stdout/stderr piped, own process group) and wait
/// for it to exit, at most `timeout`. On timeout or interrupt the whole
/// process group is killed with SIGKILL and reaped before this returns an
/// error that quotes the last output lines.
pub fn watch(cmd: Command, timeout: Duration) -> Result<Watched> {
    watch_with(cmd, timeout, |_| {})
}

/// [`watch`], calling `on_ready` with the child's pid once, when
/// `ISOBENCH-READY` arrives (while the child is alive and, for the startup
/// workload, idle: the place to measure its footprint). `on_ready` runs on
/// the watching thread; the timeout keeps counting while it runs.
pub fn watch_with(
    cmd: Command,
    timeout: Duration,
    mut on_ready: impl FnMut(i32),
) -> Result<Watched> {
    Supervised::spawn(cmd)?.finish(timeout, |pid| {
        if let Some(pid) = pid {
            on_ready(pid)
        }
    })
}

/// Reap `pid` if it has exited, with its peak RSS. std's `Child::try_wait`
/// does not return the rusage, so this calls wait4(2) itself; the child must
/// not be waited for through std afterwards.
fn try_wait4(pid: i32) -> Result<Option<(ExitStatus, Option<u64>)>> {
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 writes only into the two out-pointers, which point to
    // live locals of the right types.
    let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut ru) };
    match r {
        0 => Ok(None),
        r if r == pid => {
            let rss = u64::try_from(ru.ru_maxrss).ok().filter(|&k| k > 0);
            Ok(Some((ExitStatus::from_raw(status), rss)))
        }
        _ => Err(std::io::Error::last_os_error()).context("waiting for child"),
    }
}

/// Make the child of `cmd` get SIGKILL when the thread that spawns it
/// ends (prctl(2) PR_SET_PDEATHSIG), so a workload outlives no isobench,
/// even one killed with SIGKILL. Spawn from a thread that lives as long as
/// the child (the main thread does). A parent that died between fork and
/// the prctl is caught by comparing getppid(2) with the spawner's pid.
pub fn die_with_parent(cmd: &mut Command) {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the child between fork and exec and only
    // makes async-signal-safe system calls (prctl, getppid, raise); it
    // allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                libc::raise(libc::SIGKILL);
            }
            Ok(())
        });
    }
}

/// The door through which the container and engine columns start their
/// processes (every runtime and engine verb of a run): the host's
/// ([`Host`]) unless a caller passes another, such as a test double that
/// records the commands or starts a stand-in for them.
pub trait Spawner: Send + Sync {
    /// [`Supervised::spawn_logged`].
    fn spawn_logged(&self, cmd: Command, stderr_log: Option<std::fs::File>) -> Result<Supervised>;
    /// [`run_until`].
    fn run_until(&self, cmd: Command, deadline: Instant) -> Result<(ExitStatus, Instant)>;
    /// [`output_of`].
    fn output_of(&self, cmd: Command) -> Result<String>;
    /// [`Command::output`]: the status and output, whatever they are.
    fn output(&self, cmd: Command) -> std::io::Result<Output>;
}

/// Processes started on this host, as the commands say.
pub struct Host;

impl Spawner for Host {
    fn spawn_logged(&self, cmd: Command, stderr_log: Option<std::fs::File>) -> Result<Supervised> {
        Supervised::spawn_logged(cmd, stderr_log)
    }

    fn run_until(&self, cmd: Command, deadline: Instant) -> Result<(ExitStatus, Instant)> {
        run_until(cmd, deadline)
    }

    fn output_of(&self, cmd: Command) -> Result<String> {
        output_of(cmd)
    }

    fn output(&self, mut cmd: Command) -> std::io::Result<Output> {
        cmd.output()
    }
}

/// The host's spawner, to share.
pub fn host() -> Arc<dyn Spawner> {
    Arc::new(Host)
}

/// Run `cmd` to its end in a process group of its own, killing the group
/// when `deadline` passes (a watchdog thread blocked on a channel: no
/// polling, so short runtime verbs such as `start` and `delete` are timed
/// to the microsecond). Returns its status and when it ended. Its stdio is
/// the caller's choice (not the workload protocol: see [`Supervised`]).
pub fn run_until(mut cmd: Command, deadline: Instant) -> Result<(ExitStatus, Instant)> {
    cmd.process_group(0);
    let program = format!("{:?}", cmd.get_program());
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {program}"))?;
    let pgid = child.id() as i32;
    let (tx, rx) = mpsc::channel::<()>();
    let dog = std::thread::spawn(move || {
        let left = deadline.saturating_duration_since(Instant::now());
        if rx.recv_timeout(left) == Err(mpsc::RecvTimeoutError::Timeout) {
            kill_group(pgid);
        }
    });
    let st = child.wait().context("waiting for the runtime")?;
    let done = Instant::now();
    let _ = tx.send(());
    let _ = dog.join();
    if done >= deadline {
        bail!("{program} did not finish in time; killed it");
    }
    Ok((st, done))
}

/// SIGKILL a whole process group.
pub fn kill_group(pgid: i32) {
    if pgid <= 1 {
        return;
    }
    // SAFETY: kill(2) with a negative pid signals a process group; no memory
    // is shared with the callee.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

/// Run a short helper command to completion and return its stdout, with its
/// stderr in the error when it fails.
pub fn output_of(mut cmd: Command) -> Result<String> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {program}"))?;
    if !out.status.success() {
        bail!(
            "{program} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c").arg(script);
        c
    }

    #[test]
    fn ready_is_timestamped_before_exit() {
        let w = watch(
            sh("echo ISOBENCH-READY; sleep 0.2; echo 'ISOBENCH-RESULT {}'"),
            Duration::from_secs(10),
        )
        .unwrap();
        let ready = w.ready_after.expect("ready seen");
        assert!(ready < w.exited_after);
        assert!(w.exited_after - ready >= Duration::from_millis(150));
        assert!(w.stdout.contains("ISOBENCH-RESULT"));
        assert!(w.status.success());
    }

    #[test]
    fn on_ready_gets_the_live_child_once() {
        let mut seen = Vec::new();
        let w = watch_with(
            sh("echo ISOBENCH-READY; echo ISOBENCH-READY; sleep 0.2; echo 'ISOBENCH-RESULT {}'"),
            Duration::from_secs(10),
            |pid| {
                let alive = std::path::Path::new(&format!("/proc/{pid}")).exists();
                seen.push((pid, alive));
            },
        )
        .unwrap();
        assert!(w.status.success());
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(seen[0].0 > 1 && seen[0].1, "{seen:?}");
    }

    #[test]
    fn timeout_kills_the_whole_group_and_quotes_output() {
        let t0 = Instant::now();
        let err = watch(
            sh("echo starting-up; sleep 30 & sleep 30; echo never"),
            Duration::from_millis(300),
        )
        .unwrap_err();
        assert!(t0.elapsed() < Duration::from_secs(5));
        let msg = format!("{err:#}");
        assert!(msg.contains("did not finish"), "{msg}");
        assert!(msg.contains("starting-up"), "{msg}");
    }

    #[test]
    fn missing_program_is_a_clear_error() {
        let err = watch(Command::new("/nonexistent/prog"), Duration::from_secs(1)).unwrap_err();
        assert!(format!("{err:#}").contains("cannot start /nonexistent/prog"));
    }

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail_lines("a\nb\n\nc\r\n", 2), "    | b\n    | c");
    }
}
