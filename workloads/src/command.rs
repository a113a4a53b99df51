//! The `command` workload: the user's own program, run once per invocation
//! the way hyperfine times a command (spawn, wait, monotonic clock), inside
//! whatever environment the workload binary itself runs in.
//!
//! ```text
//! isobench-workload command [--timeout-ms MS] [--metric SPEC]... [--chroot-cwd] -- PROG [ARG]...
//! ```
//!
//! The program runs as a child in a process group of its own, with standard
//! input from /dev/null and standard output and error captured (never
//! forwarded: the workload's own stdout carries the protocol lines). Its wall
//! time runs on CLOCK_MONOTONIC ([`std::time::Instant`]) from just before
//! fork/exec to the return of wait4(2); user and system CPU time and the peak
//! resident set come from wait4's rusage (getrusage(2): the child and the
//! descendants it waited for). On timeout the whole process group is killed
//! with SIGKILL; after the child exits, anything left in its group is killed
//! too (and recorded). A non-zero exit, a signal, a timeout or a metric
//! pattern that matches nothing makes the result invalid with the reason.
//!
//! Named metrics come from the program's standard output: `--metric
//! NAME:UNIT:higher|lower=REGEX` takes the last match of REGEX (the syntax of
//! the `regex` crate without Unicode classes: `regex-lite`, whose `\d`, `\w`
//! and `\s` are ASCII); its first capture group (or the whole match when it
//! has none) is the number.
//!
//! Every value after `--` and every SPEC is percent-encoded (bytes outside
//! `A-Za-z0-9-._~/:@+` as `%XX`; the empty string as `%%`): a VM guest reads
//! its arguments from the kernel command line, which splits at whitespace and
//! where `isobench.args=` is split at commas ([`encode`], [`decode`]).
//!
//! `--chroot-cwd`: chroot(2) into the working directory before exec when it
//! is not `/` already: natively isobench starts the workload in the user's
//! root file system, which containers and guests already have as `/`.

use crate::error::{arg_err, invalid, ArgError, Error, Invalid};
use crate::metricdef::{Direction, MetricDef};
use crate::protocol::WorkloadResult;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What every run of a command measures.
pub const METRICS: &[MetricDef] = &[
    MetricDef::lower("wall_s", "s"),
    MetricDef::lower("user_s", "s"),
    MetricDef::lower("sys_s", "s"),
    MetricDef::lower("max_rss_mib", "MiB"),
];

/// `PATH` given to the program when the workload has none (a VM's init).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Default timeout of one run of the program.
pub const DEFAULT_TIMEOUT_MS: u64 = 600_000;

/// Standard output kept for the metric patterns; the rest is drained and
/// counted (`stdout_dropped_bytes`).
pub const STDOUT_KEEP: usize = 8 << 20;
/// Tail of standard error kept for the error message of a failed run.
const STDERR_KEEP: usize = 64 << 10;

/// One named metric taken from the program's standard output.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSpec {
    pub name: String,
    pub unit: String,
    pub direction: Direction,
    /// The regular expression, as given (checked to compile).
    pub pattern: String,
}

impl MetricSpec {
    /// Parse `NAME:UNIT:higher|lower=REGEX` (the first `=` ends the head).
    pub fn parse(s: &str) -> Result<MetricSpec, ArgError> {
        let form = "NAME:UNIT:higher|lower=REGEX";
        let (head, pattern) = s
            .split_once('=')
            .ok_or_else(|| arg_err!("--metric '{s}' has no '=REGEX' (use {form})"))?;
        let parts: Vec<&str> = head.split(':').collect();
        let &[name, unit, dir] = parts.as_slice() else {
            return Err(arg_err!(
                "--metric '{s}': '{head}' is not NAME:UNIT:higher|lower (use {form}, e.g. 'rate:ops/s:higher=([0-9.]+) ops/s')"
            ));
        };
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !name_ok {
            return Err(arg_err!(
                "--metric '{s}': the name '{name}' must be 1-64 of a-z, 0-9 and _, starting with a letter"
            ));
        }
        if METRICS.iter().any(|d| d.stem() == name) {
            return Err(arg_err!(
                "--metric '{s}': '{name}' is measured for every command already; choose another name"
            ));
        }
        if unit.trim().is_empty() {
            return Err(arg_err!(
                "--metric '{s}': the unit is empty (e.g. ops/s, ms, MB/s)"
            ));
        }
        let direction = match dir {
            "higher" => Direction::HigherIsBetter,
            "lower" => Direction::LowerIsBetter,
            d => {
                return Err(arg_err!(
                    "--metric '{s}': direction '{d}' is not 'higher' or 'lower'"
                ))
            }
        };
        if pattern.is_empty() {
            return Err(arg_err!("--metric '{s}': the pattern is empty"));
        }
        regex_lite::Regex::new(pattern)
            .map_err(|e| arg_err!("--metric '{s}': bad pattern: {}", one_line(&e.to_string())))?;
        Ok(MetricSpec {
            name: name.to_string(),
            unit: unit.trim().to_string(),
            direction,
            pattern: pattern.to_string(),
        })
    }

    /// The `--metric` value this was parsed from.
    pub fn to_arg(&self) -> String {
        format!(
            "{}:{}:{}={}",
            self.name,
            self.unit,
            self.direction.name(),
            self.pattern
        )
    }

    /// The number of the last match of the pattern in `text`.
    pub fn extract(&self, text: &str) -> Result<f64, Invalid> {
        let re = regex_lite::Regex::new(&self.pattern).map_err(|e| Invalid(e.to_string()))?;
        let caps = re.captures_iter(text).last().ok_or_else(|| {
            invalid!(
                "metric {}: pattern '{}' matched nothing in the command's standard output",
                self.name,
                self.pattern
            )
        })?;
        let m = caps.get(1).or_else(|| caps.get(0)).expect("group 0 exists");
        let s = m.as_str().trim();
        match s.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(invalid!(
                "metric {}: pattern '{}' matched '{s}', which is not a finite number",
                self.name,
                self.pattern
            )),
        }
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What the `command` workload runs.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandConfig {
    /// The program and its arguments (decoded).
    pub argv: Vec<String>,
    pub timeout_ms: u64,
    pub metrics: Vec<MetricSpec>,
    /// chroot(2) into the working directory first (unless it is `/`).
    pub chroot_cwd: bool,
}

impl CommandConfig {
    /// The arguments of `isobench-workload` for this config, workload name
    /// first, every user-supplied value percent-encoded.
    pub fn to_args(&self) -> Vec<String> {
        let mut a = vec![
            "command".to_string(),
            "--timeout-ms".to_string(),
            self.timeout_ms.to_string(),
        ];
        for m in &self.metrics {
            a.push("--metric".into());
            a.push(encode(&m.to_arg()));
        }
        if self.chroot_cwd {
            a.push("--chroot-cwd".into());
        }
        a.push("--".into());
        a.extend(self.argv.iter().map(|s| encode(s)));
        a
    }

    /// Parse the arguments after `command` (encoded as [`Self::to_args`]
    /// writes them).
    pub fn parse(rest: &[String]) -> Result<CommandConfig, ArgError> {
        let mut c = CommandConfig {
            argv: Vec::new(),
            timeout_ms: DEFAULT_TIMEOUT_MS,
            metrics: Vec::new(),
            chroot_cwd: false,
        };
        let mut timeout_seen = false;
        let mut it = rest.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--" => {
                    c.argv = it.by_ref().map(|s| decode(s)).collect::<Result<_, _>>()?;
                    break;
                }
                "--timeout-ms" => {
                    if timeout_seen {
                        return Err(ArgError::invalid("--timeout-ms given twice"));
                    }
                    timeout_seen = true;
                    let v = it
                        .next()
                        .ok_or_else(|| ArgError::invalid("--timeout-ms needs a value"))?;
                    c.timeout_ms = match v.parse::<u64>() {
                        Ok(n) if (1..=86_400_000).contains(&n) => n,
                        _ => {
                            return Err(arg_err!(
                                "--timeout-ms '{v}' is not a whole number in 1..=86400000"
                            ))
                        }
                    };
                }
                "--metric" => {
                    let v = it
                        .next()
                        .ok_or_else(|| ArgError::invalid("--metric needs a value"))?;
                    let m = MetricSpec::parse(&decode(v)?)?;
                    if c.metrics.iter().any(|x| x.name == m.name) {
                        return Err(arg_err!("--metric {} given twice", m.name));
                    }
                    c.metrics.push(m);
                }
                "--chroot-cwd" => c.chroot_cwd = true,
                other => {
                    return Err(arg_err!(
                        "command: unexpected argument '{other}' (the program goes after --)"
                    ))
                }
            }
        }
        match c.argv.first() {
            None => Err(ArgError::invalid("command: no program given after --")),
            Some(p) if p.is_empty() => Err(ArgError::invalid("command: the program name is empty")),
            Some(_) => Ok(c),
        }
    }
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~/:@+".contains(&b)
}

/// Percent-encode `s` so that it holds no whitespace, comma, quote or
/// control character; the empty string becomes `%%`.
pub fn encode(s: &str) -> String {
    if s.is_empty() {
        return "%%".into();
    }
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if unreserved(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The inverse of [`encode`].
pub fn decode(s: &str) -> Result<String, ArgError> {
    if s == "%%" {
        return Ok(String::new());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| arg_err!("'{s}' has a bad %-escape at byte {i}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| arg_err!("'{s}' does not decode to UTF-8"))
}

/// How one run of the program ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub wall: Duration,
    pub user_s: f64,
    pub sys_s: f64,
    pub max_rss_kib: u64,
    /// Exit status, or the signal that ended it.
    pub end: End,
    pub timed_out: bool,
    /// Processes of its group were still alive after it exited (killed).
    pub leftovers: bool,
    pub stdout: String,
    pub stdout_dropped: u64,
    pub stderr_tail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Exited(i32),
    Signalled(i32),
}

/// Read a pipe to its end in a thread, keeping at most `keep` bytes (the
/// first ones, or with `tail` the last ones) and counting the rest.
fn drain(
    mut r: impl Read + Send + 'static,
    keep: usize,
    tail: bool,
) -> mpsc::Receiver<(Vec<u8>, u64)> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut dropped = 0u64;
        let mut buf = [0u8; 16 << 10];
        loop {
            match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    kept.extend_from_slice(&buf[..n]);
                    if kept.len() > keep {
                        let over = kept.len() - keep;
                        dropped += over as u64;
                        if tail {
                            kept.drain(..over);
                        } else {
                            kept.truncate(keep);
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = tx.send((kept, dropped));
    });
    rx
}

/// True when the working directory is the root already.
fn cwd_is_root() -> bool {
    std::env::current_dir()
        .ok()
        .and_then(|d| d.canonicalize().ok())
        .is_some_and(|d| d == std::path::Path::new("/"))
}

/// Spawn the program once, wait for it (at most `c.timeout_ms`) and
/// measure it. `Err` when it could not be started at all.
pub fn run_once(c: &CommandConfig) -> Result<Run, Error> {
    let prog = &c.argv[0];
    let mut cmd = Command::new(prog);
    cmd.args(&c.argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so that a timeout kills all it started.
        .process_group(0);
    if std::env::var_os("PATH").is_none() {
        cmd.env("PATH", DEFAULT_PATH);
    }
    if c.chroot_cwd && !cwd_is_root() {
        // SAFETY: runs in the child between fork and exec; chroot(2) and
        // chdir(2) are async-signal-safe and take static NUL-terminated
        // strings (no allocation, no lock).
        unsafe {
            cmd.pre_exec(|| {
                // Why: natively the program must see the user's root file
                // system as `/`, as it does in a container or a guest.
                if libc::chroot(c".".as_ptr()) != 0 || libc::chdir(c"/".as_ptr()) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let t0 = Instant::now();
    let mut child = cmd.spawn().map_err(|e| {
        let what = if c.chroot_cwd && !cwd_is_root() {
            format!("'{prog}' in the root file system")
        } else {
            format!("'{prog}'")
        };
        match e.kind() {
            std::io::ErrorKind::NotFound => {
                Error::Command(format!("command not found: {what} ({e})"))
            }
            _ => Error::Command(format!("cannot run {what}: {e}")),
        }
    })?;
    let pid = child.id() as i32;
    let out = drain(child.stdout.take().expect("piped"), STDOUT_KEEP, false);
    let err = drain(child.stderr.take().expect("piped"), STDERR_KEEP, true);
    // The watchdog: SIGKILL to the group when the timeout passes first.
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let timeout = Duration::from_millis(c.timeout_ms);
    let watchdog = std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(timeout) {
            // SAFETY: kill(2) with a negative pid signals that process
            // group; the group is the child's (it cannot be reaped and its
            // id reused before wait4 below returns).
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            return true;
        }
        false
    });
    let mut status = 0;
    // SAFETY: rusage is plain old data; zeroed is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = loop {
        // SAFETY: waits for our own child by pid, with valid out-pointers.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        break r;
    };
    let wall = t0.elapsed();
    let _ = done_tx.send(());
    let timed_out = watchdog.join().unwrap_or(false);
    if r != pid {
        return Err(Error::Command(format!(
            "wait4 for '{prog}' failed: {}",
            std::io::Error::last_os_error()
        )));
    }
    // The child is reaped, but its group id stays in use as long as a
    // member lives: whatever it left running is killed now.
    // SAFETY: signal 0 only checks; then SIGKILL to the same group.
    let leftovers = unsafe { libc::kill(-pid, 0) } == 0;
    if leftovers {
        // SAFETY: as above.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
    }
    // A process that left the group (setsid) may hold the pipes open.
    let grace = Duration::from_secs(2);
    let (stdout, stdout_dropped) = out.recv_timeout(grace).unwrap_or_default();
    let (stderr, _) = err.recv_timeout(grace).unwrap_or_default();
    let end = if libc::WIFEXITED(status) {
        End::Exited(libc::WEXITSTATUS(status))
    } else {
        End::Signalled(libc::WTERMSIG(status))
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    Ok(Run {
        wall,
        user_s: secs(ru.ru_utime),
        sys_s: secs(ru.ru_stime),
        max_rss_kib: ru.ru_maxrss.max(0) as u64,
        end,
        timed_out,
        leftovers,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stdout_dropped,
        stderr_tail: String::from_utf8_lossy(&stderr).into_owned(),
    })
}

/// The last `n` non-empty lines of `s`, joined with ` | `, at most 300 chars.
fn last_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut t = lines[lines.len().saturating_sub(n)..].join(" | ");
    if t.len() > 300 {
        let mut cut = t.len() - 300;
        while !t.is_char_boundary(cut) {
            cut += 1;
        }
        t = format!("...{}", &t[cut..]);
    }
    t
}

/// Why a finished run is invalid (`None`: it is valid so far).
pub fn verdict(r: &Run, timeout_ms: u64) -> Option<String> {
    let stderr = last_lines(&r.stderr_tail, 3);
    let with_stderr = |m: String| {
        if stderr.is_empty() {
            m
        } else {
            format!("{m}; stderr: {stderr}")
        }
    };
    if r.timed_out {
        return Some(format!(
            "timed out after {:.3} s (limit {} ms): its process group was killed",
            r.wall.as_secs_f64(),
            timeout_ms
        ));
    }
    match r.end {
        End::Exited(0) => None,
        End::Exited(c) => Some(with_stderr(format!("the command exited with status {c}"))),
        End::Signalled(s) => Some(with_stderr(format!("the command was killed by signal {s}"))),
    }
}

/// Run the command once and fill `r`: metrics, parameters, how it was
/// measured, validity and the reason when invalid.
pub fn record(r: &mut WorkloadResult, c: &CommandConfig) {
    r.params.insert("argv".into(), serde_json::json!(c.argv));
    r.params
        .insert("timeout_ms".into(), serde_json::json!(c.timeout_ms));
    if !c.metrics.is_empty() {
        let specs: Vec<String> = c.metrics.iter().map(MetricSpec::to_arg).collect();
        r.params.insert("metrics".into(), serde_json::json!(specs));
    }
    r.info.insert(
        "timing".into(),
        "wall: CLOCK_MONOTONIC from before fork/exec to the return of wait4(2); user_s, sys_s and max_rss_mib from wait4's rusage (the command and the children it waited for); one run per repetition".into(),
    );
    if c.chroot_cwd {
        r.info.insert(
            "root".into(),
            if cwd_is_root() {
                "/ of the environment".into()
            } else {
                "chroot(2) into the root file system".into()
            },
        );
    }
    let run = match run_once(c) {
        Ok(run) => run,
        Err(e) => {
            r.valid = false;
            r.error = Some(e.to_string());
            return;
        }
    };
    let [wall, user, sys, rss] = METRICS else {
        unreachable!("four command metrics")
    };
    r.put(wall, wall.stem(), run.wall.as_secs_f64(), None);
    r.put(user, user.stem(), run.user_s, None);
    r.put(sys, sys.stem(), run.sys_s, None);
    r.put(rss, rss.stem(), run.max_rss_kib as f64 / 1024.0, None);
    r.info.insert(
        "exit".into(),
        match run.end {
            End::Exited(c) => format!("status {c}"),
            End::Signalled(s) => format!("signal {s}"),
        },
    );
    r.info
        .insert("stdout_bytes".into(), (run.stdout.len() as u64).to_string());
    if run.stdout_dropped > 0 {
        r.info.insert(
            "stdout_dropped_bytes".into(),
            format!(
                "{} (only the first {STDOUT_KEEP} bytes are searched by --metric)",
                run.stdout_dropped
            ),
        );
    }
    if run.leftovers {
        r.info.insert(
            "leftover_processes".into(),
            "the command's process group still had members after it exited; they were killed"
                .into(),
        );
    }
    if let Some(why) = verdict(&run, c.timeout_ms) {
        r.valid = false;
        r.error = Some(why);
        return;
    }
    let mut problems = Vec::new();
    for m in &c.metrics {
        match m.extract(&run.stdout) {
            Ok(v) => {
                r.metrics.insert(m.name.clone(), v);
                r.units.insert(m.name.clone(), m.unit.clone());
                r.directions.insert(m.name.clone(), m.direction);
            }
            Err(e) => problems.push(e.0),
        }
    }
    if problems.is_empty() {
        r.valid = true;
        r.info.insert(
            "validation".into(),
            "the command exited with status 0 within its timeout; every --metric pattern matched"
                .into(),
        );
    } else {
        r.valid = false;
        r.error = Some(problems.join("; "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(argv: &[&str]) -> CommandConfig {
        CommandConfig {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            timeout_ms: 20_000,
            metrics: Vec::new(),
            chroot_cwd: false,
        }
    }

    #[test]
    fn encoding_round_trips_and_leaves_no_separator() {
        for s in [
            "",
            "plain",
            "/bin/busybox",
            "i=0; while [ $i -lt 10 ]; do i=$((i+1)); done",
            "a,b \"c\"\t\n%",
            "ünïcødé ✓",
            "%%",
        ] {
            let e = encode(s);
            assert!(
                !e.contains([',', ' ', '"', '\t', '\n']) && !e.is_empty(),
                "{e}"
            );
            assert_eq!(decode(&e).unwrap(), s, "{e}");
        }
        assert_eq!(encode("/bin/busybox"), "/bin/busybox");
        assert!(decode("%4").is_err());
        assert!(decode("%zz").is_err());
        assert!(decode("%FF").is_err(), "not UTF-8");
    }

    #[test]
    fn args_round_trip() {
        let mut c = cfg(&["/bin/sh", "-c", "echo 'x, y'", ""]);
        c.metrics
            .push(MetricSpec::parse("rate:ops/s:higher=rate: ([0-9.]+), ok").unwrap());
        c.chroot_cwd = true;
        let args = c.to_args();
        assert_eq!(args[0], "command");
        assert_eq!(CommandConfig::parse(&args[1..]).unwrap(), c);
    }

    #[test]
    fn bad_arguments_are_refused_with_a_reason() {
        let p = |s: &[&str]| {
            CommandConfig::parse(&s.iter().map(|x| x.to_string()).collect::<Vec<_>>())
                .unwrap_err()
                .to_string()
        };
        assert!(p(&[]).contains("no program"));
        assert!(p(&["--"]).contains("no program"));
        assert!(p(&["--", "%%"]).contains("empty"));
        assert!(p(&["sh"]).contains("after --"));
        assert!(p(&["--timeout-ms", "0", "--", "x"]).contains("1..="));
        assert!(p(&["--timeout-ms"]).contains("needs a value"));
        assert!(p(&["--metric", "x", "--", "y"]).contains("no '=REGEX'"));
    }

    #[test]
    fn metric_specs_are_checked() {
        let m = MetricSpec::parse("ops:ops/s:higher=done ([0-9.e+]+) ops/s").unwrap();
        assert_eq!(m.direction, Direction::HigherIsBetter);
        assert_eq!(m.unit, "ops/s");
        assert_eq!(MetricSpec::parse(&m.to_arg()).unwrap(), m);
        let e = |s: &str| MetricSpec::parse(s).unwrap_err().to_string();
        assert!(e("ops:ops/s=x").contains("NAME:UNIT:higher|lower"));
        assert!(e("Ops:x:higher=1").contains("a-z"));
        assert!(e("wall_s:s:lower=1").contains("already"));
        assert!(e("x::lower=1").contains("unit is empty"));
        assert!(e("x:s:up=1").contains("not 'higher' or 'lower'"));
        assert!(e("x:s:lower=").contains("pattern is empty"));
        assert!(e("x:s:lower=([0-9]").contains("bad pattern"));
    }

    #[test]
    fn the_last_match_and_its_first_group_are_the_value() {
        let m = MetricSpec::parse("t:ms:lower=took ([0-9.]+) ms").unwrap();
        let out = "took 3.5 ms\nwarm\ntook 2.25 ms\n";
        assert_eq!(m.extract(out), Ok(2.25));
        let whole = MetricSpec::parse("n:items:higher=[0-9]+").unwrap();
        assert_eq!(whole.extract("a 12 b 40"), Ok(40.0));
        assert!(m
            .extract("nothing")
            .unwrap_err()
            .0
            .contains("matched nothing"));
        let bad = MetricSpec::parse("v:x:higher=v=(\\S+)").unwrap();
        assert!(bad.extract("v=abc").unwrap_err().0.contains("not a finite"));
    }

    #[test]
    fn a_successful_command_is_measured() {
        let mut c = cfg(&["/bin/sh", "-c", "echo 'result 42 units'; echo warn >&2"]);
        c.metrics
            .push(MetricSpec::parse("res:units:higher=result ([0-9]+)").unwrap());
        let mut r = WorkloadResult::empty("command");
        record(&mut r, &c);
        assert!(r.valid, "{r:?}");
        assert_eq!(r.metrics["res"], 42.0);
        assert_eq!(r.units["res"], "units");
        assert!(r.metrics["wall_s"] > 0.0);
        assert!(r.metrics["max_rss_mib"] > 0.0);
        assert!(r.metrics["user_s"] >= 0.0 && r.metrics["sys_s"] >= 0.0);
        assert_eq!(r.directions["wall_s"], Direction::LowerIsBetter);
        assert_eq!(r.info["exit"], "status 0");
    }

    #[test]
    fn failures_are_invalid_with_the_reason() {
        let mut r = WorkloadResult::empty("command");
        record(
            &mut r,
            &cfg(&["/bin/sh", "-c", "echo 'bad input' >&2; exit 3"]),
        );
        assert!(!r.valid);
        let e = r.error.clone().unwrap();
        assert!(e.contains("status 3") && e.contains("bad input"), "{e}");
        assert!(r.metrics.contains_key("wall_s"), "measured all the same");

        let mut r = WorkloadResult::empty("command");
        record(&mut r, &cfg(&["/no/such/program-isobench"]));
        assert!(!r.valid);
        assert!(r.error.unwrap().contains("command not found"));

        let mut c = cfg(&["/bin/sh", "-c", "sleep 30 & sleep 30"]);
        c.timeout_ms = 300;
        let mut r = WorkloadResult::empty("command");
        record(&mut r, &c);
        assert!(!r.valid);
        assert!(r.error.clone().unwrap().contains("timed out"), "{r:?}");

        let mut c = cfg(&["/bin/sh", "-c", "echo nothing"]);
        c.metrics
            .push(MetricSpec::parse("x:s:lower=took ([0-9]+)").unwrap());
        let mut r = WorkloadResult::empty("command");
        record(&mut r, &c);
        assert!(!r.valid);
        assert!(r.error.unwrap().contains("matched nothing"));
    }

    #[test]
    fn leftover_processes_are_killed_and_recorded() {
        let mut r = WorkloadResult::empty("command");
        // The background sleep keeps the group (and stdout) alive.
        record(
            &mut r,
            &cfg(&["/bin/sh", "-c", "sleep 30 >/dev/null 2>&1 & exit 0"]),
        );
        assert!(r.valid, "{r:?}");
        assert!(r.info.contains_key("leftover_processes"), "{r:?}");
    }
}
