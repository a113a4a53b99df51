//! shadow's account tools (useradd(8), usermod(8), userdel(8),
//! groupadd(8), groupdel(8), gpasswd(1)), run to their end and retried
//! while another process holds the lock they need.
//!
//! Each tool locks the files it changes (`/etc/passwd`, `/etc/group`,
//! `/etc/shadow`, `/etc/gshadow`) with a `FILE.lock` file naming its pid.
//! It does not wait for a lock another live process holds: it prints
//! "cannot lock /etc/group; try again later." and exits, with status 10 for
//! the group files and 1 for the passwd files (shadow 4.13, Debian 12;
//! `tests::a_held_lock_is_waited_out` holds each). Several isobench runs
//! and tests make and remove users side by side (rootless columns, the
//! permission check, test users), so they meet each other's locks. A held
//! lock is recognised by that message ([`lock_held`]), not by the status:
//! 10 also means "cannot update the group file" for another reason, and 1
//! is the passwd lock's status as well as other failures'.
//!
//! [`retry`] is the one policy: try again every 50 ms while the lock is
//! held, for at most [`LOCK_WAIT`]; any other outcome (success or another
//! failure) is returned at once. [`run`] and [`check`] apply it to a plain
//! spawn; a caller with its own way of running a process (a timeout, an
//! interrupt) passes that to [`retry`].

use std::fmt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a tool is retried while another process holds its lock.
pub const LOCK_WAIT: Duration = Duration::from_secs(15);

/// The pause between two tries.
const PAUSE: Duration = Duration::from_millis(50);

/// The search path the tools are found and run with: they live in
/// `/usr/sbin`, which an ordinary user's PATH may lack.
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Whether a tool's standard error says it gave up because another process
/// holds the lock it needs ("cannot lock /etc/group; try again later.").
pub fn lock_held(stderr: &str) -> bool {
    stderr.contains("cannot lock")
}

/// Run `attempt` until it returns an outcome on which `held` (the lock was
/// held by another process) is false, an error, or `wait` has passed or
/// `stop` says to give up (then the last outcome), pausing 50 ms between
/// tries.
pub fn retry<T, E>(
    wait: Duration,
    stop: &dyn Fn() -> bool,
    mut attempt: impl FnMut() -> Result<T, E>,
    held: impl Fn(&T) -> bool,
) -> Result<T, E> {
    let start = Instant::now();
    loop {
        let o = attempt()?;
        if !held(&o) || start.elapsed() >= wait || stop() {
            return Ok(o);
        }
        std::thread::sleep(PAUSE.min(wait.saturating_sub(start.elapsed())));
    }
}

/// What a tool did: its exit status (`None`: killed by a signal) and output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// It failed on a lock another process holds ([`lock_held`]).
    pub fn lock_held(&self) -> bool {
        !self.success() && lock_held(&self.stderr)
    }
}

/// A tool that could not be run, or that failed.
#[derive(Debug)]
pub enum Error {
    /// The tool could not be started (not installed: package passwd).
    Spawn {
        tool: String,
        source: std::io::Error,
    },
    /// It failed: its command line, status and standard error.
    Failed {
        tool: String,
        args: Vec<String>,
        outcome: Outcome,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Spawn { tool, source } => {
                write!(f, "cannot run {tool} (package passwd): {source}")
            }
            Error::Failed {
                tool,
                args,
                outcome,
            } => {
                write!(f, "{tool}")?;
                for a in args {
                    write!(f, " {a}")?;
                }
                let stderr = outcome.stderr.trim();
                match outcome.code {
                    Some(c) if stderr.is_empty() => write!(f, ": exit {c}")?,
                    None if stderr.is_empty() => write!(f, ": killed by a signal")?,
                    _ => write!(f, ": {stderr}")?,
                }
                if outcome.lock_held() {
                    write!(
                        f,
                        " (another process held the lock for {} s)",
                        LOCK_WAIT.as_secs()
                    )?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Spawn { source, .. } => Some(source),
            Error::Failed { .. } => None,
        }
    }
}

/// Run `tool args` once to its end (stdin null, output captured, [`PATH`]).
fn once(tool: &str, args: &[&str]) -> Result<Outcome, Error> {
    let o = Command::new(tool)
        .args(args)
        .env("PATH", PATH)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| Error::Spawn {
            tool: tool.to_string(),
            source,
        })?;
    Ok(Outcome {
        code: o.status.code(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    })
}

/// Run `tool args` to its end, retried while another process holds the
/// lock, for at most `wait`. A failure is returned as an [`Outcome`].
pub fn run_within(tool: &str, args: &[&str], wait: Duration) -> Result<Outcome, Error> {
    retry(wait, &|| false, || once(tool, args), Outcome::lock_held)
}

/// [`run_within`] [`LOCK_WAIT`].
pub fn run(tool: &str, args: &[&str]) -> Result<Outcome, Error> {
    run_within(tool, args, LOCK_WAIT)
}

/// [`run`], a failure being an error that names the tool, its arguments
/// and its standard error.
pub fn check(tool: &str, args: &[&str]) -> Result<Outcome, Error> {
    check_within(tool, args, LOCK_WAIT)
}

/// [`run_within`], a failure being an error as [`check`]'s.
pub fn check_within(tool: &str, args: &[&str], wait: Duration) -> Result<Outcome, Error> {
    let o = run_within(tool, args, wait)?;
    if o.success() {
        Ok(o)
    } else {
        Err(Error::Failed {
            tool: tool.to_string(),
            args: args.iter().map(|a| a.to_string()).collect(),
            outcome: o,
        })
    }
}

#[cfg(test)]
mod tests;
