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
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
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
    let reader = std::thread::spawn(move || {
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
    });
    (rx, reader)
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
    mut cmd: Command,
    timeout: Duration,
    mut on_ready: impl FnMut(i32),
) -> Result<Watched> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let program = cmd.get_program().to_string_lossy().into_owned();
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {program}"))?;
    let pgid = child.id() as i32;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr_pipe = child.stderr.take().expect("stderr is piped");

    let (rx, reader) = read_stdout(stdout);
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr_pipe.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });

    let mut ready_at = None;
    let mut out = String::new();
    let mut eof = false;
    let mut status = None;
    let mut max_rss_kib = None;
    let mut failure: Option<anyhow::Error> = None;
    loop {
        // Drain what arrived.
        loop {
            match rx.recv_timeout(if eof {
                Duration::ZERO
            } else {
                Duration::from_millis(5)
            }) {
                Ok(Event::Ready(t)) => {
                    if ready_at.is_none() {
                        ready_at = Some(t);
                        // Not after the child was reaped: its pid may be reused.
                        if status.is_none() {
                            on_ready(child.id() as i32);
                        }
                    }
                }
                Ok(Event::Line(l)) => out.push_str(&l),
                Ok(Event::Eof(_)) => eof = true,
                Err(_) => break,
            }
        }
        if status.is_none() {
            if let Some((st, rss)) = try_wait4(child.id() as i32)? {
                status = Some(st);
                max_rss_kib = rss;
            }
        }
        if let Some(st) = status {
            if eof {
                let exited_after = start.elapsed();
                let _ = reader.join();
                let stderr = err_reader.join().unwrap_or_default();
                let _ = st;
                return Ok(Watched {
                    ready_after: ready_at.map(|t| t.duration_since(start)),
                    exited_after,
                    status: st,
                    max_rss_kib,
                    stdout: out,
                    stderr,
                });
            }
            // Exited, but a grandchild may still hold the pipe: give it a moment.
            if start.elapsed() > timeout {
                kill_group(pgid);
            }
        }
        if interrupted() {
            failure = Some(Interrupted.into());
        } else if start.elapsed() > timeout {
            failure = Some(anyhow::anyhow!(
                "{program} did not finish within {:.0} s; killed it",
                timeout.as_secs_f64()
            ));
        }
        if let Some(err) = failure.take() {
            kill_group(pgid);
            let _ = child.wait();
            // Collect what the readers have (they end once the group is dead).
            let _ = reader.join();
            while let Ok(ev) = rx.try_recv() {
                if let Event::Line(l) = ev {
                    out.push_str(&l);
                }
            }
            let stderr = err_reader.join().unwrap_or_default();
            let tail = tail_lines(&format!("{out}\n{stderr}"), 15);
            if tail.is_empty() {
                return Err(err);
            }
            return Err(err.context(format!("last output:\n{tail}")))
                .map_err(|e| e.context("run aborted"));
        }
    }
}

/// Reap `pid` if it has exited, with its peak RSS. std's `Child::try_wait`
/// does not return the rusage, so this calls wait4(2) itself; the child must
/// not be waited for through std afterwards.
fn try_wait4(pid: i32) -> Result<Option<(ExitStatus, Option<u64>)>> {
    use std::os::unix::process::ExitStatusExt;
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
