//! The two unprivileged test users of the permission check (claim C6) and
//! their group, made with shadow's `groupadd`/`useradd` (which also give each
//! user a subordinate id range in /etc/subuid and /etc/subgid, as rootless
//! engines need) and removed with `userdel -r`/`groupdel` on every path:
//! [`TestUsers`] removes them on drop, after killing every process they own.
//! Commands run as a user through util-linux `setpriv --init-groups`, so the
//! user's supplementary groups (the shared group) apply as after a login.
//!
//! Names carry the pid of the isobench that made them (`isobp<pid>a`,
//! `isobp<pid>b`, group `isobp<pid>g`), so that [`super::sweep::sweep_dead`]
//! removes what a killed run left.

use crate::env::process::Interrupted;
use crate::experiment::{Interrupt, Never};
use anyhow::{bail, Context, Result};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Prefix of every user and group the check makes.
pub const PREFIX: &str = "isobp";

/// The search path commands run with.
const PATH: &str = isobench_shadow::PATH;

/// A command's outcome: exit status, standard output and error.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    pub ok: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The first non-empty line of stderr (else stdout), for a record.
    pub fn why(&self) -> String {
        let line = |s: &str| {
            s.lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(str::to_string)
        };
        let text = line(&self.stderr)
            .or_else(|| line(&self.stdout))
            .unwrap_or_default();
        // runc's logfmt lines: keep the message.
        let msg = text.split_once("msg=\"").map(|(_, m)| {
            m.rsplit_once('"')
                .map_or(m, |(m, _)| m)
                .replace("\\\"", "\"")
        });
        let text = msg.unwrap_or(text);
        let code = self
            .code
            .map_or("killed".to_string(), |c| format!("exit {c}"));
        if text.is_empty() {
            code
        } else {
            format!("{code}: {}", truncate(&text, 200))
        }
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

/// Run `cmd` to completion (stdin null; stdout and stderr into files under
/// `dir`, not pipes: a runtime's `create` or podman's `run -d` leaves
/// processes holding them), at most `timeout`; on timeout or when `stop`
/// says the user interrupted, its process group is killed, and an
/// interrupt returns [`Interrupted`].
pub fn run(cmd: Command, dir: &Path, timeout: Duration, stop: &dyn Interrupt) -> Result<Output> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let out_p = dir.join(format!(".out-{stamp}"));
    let err_p = dir.join(format!(".err-{stamp}"));
    let status = wait_for(cmd, &program, (&out_p, &err_p), timeout, stop)?;
    let read = |p: &Path| {
        let s = std::fs::read_to_string(p).unwrap_or_default();
        let _ = std::fs::remove_file(p);
        s
    };
    let (stdout, stderr) = (read(&out_p), read(&err_p));
    if stop.interrupted() {
        return Err(Interrupted.into());
    }
    let Some(status) = status else {
        bail!(
            "{program} did not finish within {} s: {}",
            timeout.as_secs(),
            stderr.trim()
        );
    };
    Ok(Output {
        ok: status.success(),
        code: status.code(),
        stdout,
        stderr,
    })
}

/// [`run`] for cleaning up: it runs to its end (or timeout) after Ctrl-C too.
pub fn run_always(cmd: Command, dir: &Path, timeout: Duration) -> Result<Output> {
    run(cmd, dir, timeout, &Never)
}

/// Spawn `cmd` with its output into the files `out_p` and `err_p` and wait
/// for it:
/// `None` when it was killed (timeout or `stop`).
fn wait_for(
    mut cmd: Command,
    program: &str,
    (out_p, err_p): (&Path, &Path),
    timeout: Duration,
    stop: &dyn Interrupt,
) -> Result<Option<std::process::ExitStatus>> {
    let out_f =
        File::create(out_p).with_context(|| format!("cannot create {}", out_p.display()))?;
    let err_f =
        File::create(err_p).with_context(|| format!("cannot create {}", err_p.display()))?;
    let mut child =
        crate::sys::own_process_group(cmd.stdin(Stdio::null()).stdout(out_f).stderr(err_f))
            .spawn()
            .with_context(|| format!("cannot run {program}"))?;
    let t0 = Instant::now();
    loop {
        if let Some(s) = child.try_wait().context("waiting for a child")? {
            return Ok(Some(s));
        }
        if stop.interrupted() || t0.elapsed() > timeout {
            crate::env::process::kill_group(child.id() as i32);
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A test user.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    /// Its own runtime directory (mode 0700), as `/run/user/<uid>` would be.
    pub runtime_dir: PathBuf,
}

impl User {
    /// `prog args` as this user: its uid, primary gid and supplementary
    /// groups, a clean environment with its HOME and XDG_RUNTIME_DIR.
    pub fn command(&self, prog: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("setpriv");
        c.arg("--reuid")
            .arg(self.uid.to_string())
            .arg("--regid")
            .arg(self.gid.to_string())
            .arg("--init-groups")
            .arg("--")
            .arg(prog);
        c.env_clear()
            .env("PATH", PATH)
            .env("HOME", &self.home)
            .env("USER", &self.name)
            .env("LOGNAME", &self.name)
            .env("XDG_RUNTIME_DIR", &self.runtime_dir)
            .current_dir(&self.home);
        c
    }
}

/// Users A and B, both members of one group; removed on drop.
pub struct TestUsers {
    pub a: User,
    pub b: User,
    pub group: String,
    pub gid: u32,
    made_users: Vec<String>,
    made_group: bool,
}

/// True when a shadow tool (useradd, userdel, usermod, groupadd, groupdel)
/// gave up because another process held the passwd, group or shadow lock:
/// they do not wait but print "cannot lock /etc/group; try again later"
/// ([`isobench_shadow::lock_held`]).
fn lost_lock(o: &Output) -> bool {
    !o.ok && isobench_shadow::lock_held(&o.stderr)
}

/// Run `prog args` to its end, retrying for up to
/// [`isobench_shadow::LOCK_WAIT`] while it fails on a held shadow lock
/// ([`isobench_shadow::retry`]): two checks in parallel (the test command
/// runs tests side by side) or a rootless column's useradd take those
/// locks too. Another failure is returned as it is; `stop` ends the
/// waiting.
pub(crate) fn shadow(
    prog: &str,
    args: &[&str],
    dir: &Path,
    stop: &dyn Interrupt,
) -> Result<Output> {
    isobench_shadow::retry(
        isobench_shadow::LOCK_WAIT,
        &|| stop.interrupted(),
        || {
            let mut c = Command::new(prog);
            c.args(args).env("PATH", PATH);
            run(c, dir, Duration::from_secs(30), stop)
        },
        lost_lock,
    )
}

pub(crate) fn tool(prog: &str, args: &[&str], dir: &Path) -> Result<Output> {
    let o = shadow(prog, args, dir, &Never)?;
    if !o.ok {
        bail!("{prog} {} failed: {}", args.join(" "), o.why());
    }
    Ok(o)
}

/// `getent DB NAME` field `i` as a number.
fn getent_id(db: &str, name: &str, field: usize, dir: &Path) -> Result<u32> {
    let o = tool("getent", &[db, name], dir)?;
    o.stdout
        .trim()
        .split(':')
        .nth(field)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("getent {db} {name}: unexpected {}", o.stdout.trim()))
}

impl TestUsers {
    /// Create group `isobp<pid>g` and users `isobp<pid>a`, `isobp<pid>b` in
    /// it, each with a home and a runtime directory under `dir`.
    pub fn create(dir: &Path) -> Result<TestUsers> {
        let pid = std::process::id();
        let group = format!("{PREFIX}{pid}g");
        let mut u = TestUsers {
            a: User {
                name: String::new(),
                uid: 0,
                gid: 0,
                home: PathBuf::new(),
                runtime_dir: PathBuf::new(),
            },
            b: User {
                name: String::new(),
                uid: 0,
                gid: 0,
                home: PathBuf::new(),
                runtime_dir: PathBuf::new(),
            },
            group: group.clone(),
            gid: 0,
            made_users: Vec::new(),
            made_group: false,
        };
        tool("groupadd", &[&group], dir)?;
        u.made_group = true;
        u.gid = getent_id("group", &group, 2, dir)?;
        for role in ["a", "b"] {
            let name = format!("{PREFIX}{pid}{role}");
            let comment = format!("isobench permission check (pid {pid})");
            tool(
                "useradd",
                &[
                    "--create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    "--groups",
                    &group,
                    "--comment",
                    &comment,
                    &name,
                ],
                dir,
            )?;
            u.made_users.push(name.clone());
            let uid = getent_id("passwd", &name, 2, dir)?;
            let gid = getent_id("passwd", &name, 3, dir)?;
            let home = tool("getent", &["passwd", &name], dir)?
                .stdout
                .trim()
                .split(':')
                .nth(5)
                .map(PathBuf::from)
                .context("no home directory")?;
            let runtime_dir = dir.join(format!("run-{role}"));
            std::fs::create_dir_all(&runtime_dir)
                .with_context(|| format!("cannot create {}", runtime_dir.display()))?;
            crate::sys::chown(&runtime_dir, uid, gid)
                .with_context(|| format!("cannot chown {}", runtime_dir.display()))?;
            set_mode(&runtime_dir, 0o700)?;
            let user = User {
                name,
                uid,
                gid,
                home,
                runtime_dir,
            };
            if role == "a" {
                u.a = user;
            } else {
                u.b = user;
            }
        }
        Ok(u)
    }

    /// Kill their processes, delete the users (with their homes) and the group.
    pub fn remove(&mut self, dir: &Path) -> Result<()> {
        let mut first = None;
        for name in std::mem::take(&mut self.made_users) {
            if let Err(e) = remove_user(&name, dir) {
                first.get_or_insert(e);
            }
        }
        if std::mem::take(&mut self.made_group) {
            if let Err(e) = tool("groupdel", &[&self.group], dir) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

impl Drop for TestUsers {
    fn drop(&mut self) {
        let dir = std::env::temp_dir();
        if let Err(e) = self.remove(&dir) {
            eprintln!("warning: removing the test users: {e:#}");
        }
    }
}

pub fn set_mode(p: &Path, mode: u32) -> Result<()> {
    crate::sys::set_mode(p, mode).with_context(|| format!("cannot chmod {}", p.display()))
}

/// Pids of the processes whose real uid is `uid` (read from /proc).
pub fn pids_of_uid(uid: u32) -> Vec<i32> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find(|l| l.starts_with("Uid:"))
                        .and_then(|l| l.split_whitespace().nth(1))
                        .and_then(|u| u.parse::<u32>().ok())
                })
                == Some(uid)
        })
        .collect()
}

/// SIGKILL every process of `uid` (each by its pid) until none is left,
/// at most 5 s. Zombies go when their parent reaps them.
pub fn kill_uid(uid: u32) {
    let t0 = Instant::now();
    loop {
        let pids: Vec<i32> = pids_of_uid(uid)
            .into_iter()
            .filter(|p| !crate::experiment::permissions::dead(*p))
            .collect();
        if pids.is_empty() || t0.elapsed() > Duration::from_secs(5) {
            return;
        }
        for p in pids {
            crate::sys::sigkill(p);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub(crate) fn remove_user(name: &str, dir: &Path) -> Result<()> {
    if let Ok(uid) = getent_id("passwd", name, 2, dir) {
        kill_uid(uid);
    }
    // userdel refuses while a process of the user lives: retry briefly
    // (a killed process may take a moment to be reaped).
    let mut last = None;
    for _ in 0..20 {
        let o = shadow("userdel", &["--remove", name], dir, &Never)?;
        // 12: the home could not be removed (mail spool missing is only a
        // warning with status 0 or 12 depending on the version).
        if o.ok || getent_id("passwd", name, 2, dir).is_err() {
            return Ok(());
        }
        last = Some(o.why());
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!(
        "userdel {name} failed: {}",
        last.unwrap_or_else(|| "unknown".into())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_held_shadow_lock_is_retried() {
        let out = |ok, stderr: &str| Output {
            ok,
            code: Some(if ok { 0 } else { 1 }),
            stdout: String::new(),
            stderr: stderr.into(),
        };
        assert!(lost_lock(&out(
            false,
            "usermod: cannot lock /etc/group; try again later.\n"
        )));
        assert!(!lost_lock(&out(
            false,
            "usermod: user 'x' does not exist\n"
        )));
        assert!(!lost_lock(&out(true, "cannot lock")));
        assert!(!lost_lock(&out(
            false,
            "usermod: failed to unlock /etc/group\n"
        )));
    }

    #[test]
    fn why_is_one_line_with_the_status() {
        let o = Output {
            ok: false,
            code: Some(1),
            stdout: String::new(),
            stderr: "\n  open state.json: permission denied\nmore\n".into(),
        };
        assert_eq!(o.why(), "exit 1: open state.json: permission denied");
        assert_eq!(Output::default().why(), "killed");
        let runc = Output {
            ok: false,
            code: Some(1),
            stdout: String::new(),
            stderr: "time=\"2026\" level=error msg=\"open /x/state.json: permission denied\"\n"
                .into(),
        };
        assert_eq!(runc.why(), "exit 1: open /x/state.json: permission denied");
    }
}
