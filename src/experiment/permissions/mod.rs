//! Who may act on whose containers (claim C6): a permission check, not a
//! benchmark. Two unprivileged test users, A and B ([`users`]); A creates a
//! container in one setup ([`setups`]); B then tries, in this order, the
//! OCI runtime verbs `state`, `exec` (where the engine has it), `kill` and
//! `delete` on it. Each attempt is judged by its effect, not by its exit
//! status alone (`runc delete --force` of a container it cannot see exits
//! 0): `state` must print the container's pid, `exec` must print a fresh
//! marker from inside the container, `kill` must end the container's
//! process, `delete` must make the container vanish for its owner. An
//! attempt of B that fails is repeated by A as a control: a denial counts
//! only when the owner could do it (otherwise the action is inconclusive).
//!
//! A setup that cannot be made here (a package missing, a runtime that does
//! not run rootless on this host) is reported as not available, with the
//! reason, never left out.

pub mod check;
pub mod setups;
pub mod sweep;
pub mod users;

use anyhow::Result;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use users::{Output, TestUsers, User};

/// Workload name of the experiment's records.
pub const WORKLOAD: &str = "permissions";

/// A foreign action, in the order B tries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    State,
    Exec,
    Kill,
    Delete,
}

impl Action {
    pub const ALL: [Action; 4] = [Action::State, Action::Exec, Action::Kill, Action::Delete];

    pub fn name(self) -> &'static str {
        match self {
            Action::State => "state",
            Action::Exec => "exec",
            Action::Kill => "kill",
            Action::Delete => "delete",
        }
    }
}

/// What a setup's command does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Create and start the container (one or more commands).
    Create,
    Act(Action),
}

/// Who runs a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// The creator.
    Owner,
    /// The other user.
    Other,
}

/// The outcome of one foreign attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// B's attempt had its effect.
    Allowed,
    /// B's attempt had no effect, and A's did.
    Denied,
    /// Neither B's nor A's attempt had an effect: says nothing.
    Inconclusive,
}

impl Outcome {
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Denied => "denied",
            Outcome::Inconclusive => "inconclusive",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub action: Action,
    pub outcome: Outcome,
    /// B's command's status and first line of output.
    pub detail: String,
}

/// One setup's check.
#[derive(Debug, Clone, PartialEq)]
pub struct SetupResult {
    pub id: String,
    pub params: BTreeMap<String, String>,
    /// `Err(reason)` when the setup could not be made or A could not create.
    pub available: std::result::Result<(), String>,
    pub attempts: Vec<Attempt>,
    pub wall_ms: f64,
}

impl SetupResult {
    pub fn foreign_actions(&self) -> usize {
        self.attempts
            .iter()
            .filter(|a| a.outcome == Outcome::Allowed)
            .count()
    }
}

/// A way of sharing (or not) a container engine between A and B.
pub trait Setup {
    /// Column label, e.g. `podman-service`, `sudo-shared-root-runc`.
    fn id(&self) -> String;
    /// `model`, `engine`, `privilege`, `how`: what the setup is.
    fn params(&self) -> BTreeMap<String, String>;
    /// Whether the engine has `exec`.
    fn has_exec(&self) -> bool;
    /// Make the setup (service, directories, sudo rule, image, bundles).
    /// An error means "not available here", with the reason.
    fn prepare(&mut self, users: &TestUsers, dir: &std::path::Path) -> Result<()>;
    /// The commands of `op` run by `who` on container `cid` (`marker`: what
    /// `exec` prints).
    fn commands(
        &self,
        users: &TestUsers,
        who: Who,
        op: &Op,
        cid: &str,
        marker: &str,
    ) -> Vec<std::process::Command>;
    /// Undo [`Setup::prepare`]; also called after a failed prepare.
    fn teardown(&mut self, users: &TestUsers, dir: &std::path::Path) -> Result<()>;
}

/// The process `exec` runs in the container: busybox printing `marker`
/// assembled from two halves, so that no command line or error message
/// quoting the arguments contains the marker itself.
pub fn exec_argv(marker: &str) -> Vec<String> {
    let (a, b) = marker.split_at(marker.len() / 2);
    ["/bin/busybox", "printf", "%s%s\\n", a, b]
        .map(String::from)
        .to_vec()
}

/// Whether `pid` is gone (or a zombie): its container's process ended.
pub fn dead(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => matches!(
            s.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next()),
            Some("Z" | "X")
        ),
    }
}

/// The container's pid in the output of `state` (OCI state JSON's `pid`,
/// or the last number of podman's `inspect --format '{{.State.Status}}
/// {{.State.Pid}}'`). `None` for 0 (a stopped container).
pub fn pid_of_state(stdout: &str) -> Option<i32> {
    let from_json = serde_json::from_str::<serde_json::Value>(stdout.trim())
        .ok()
        .and_then(|v| v.get("pid").and_then(|p| p.as_i64()));
    let pid = from_json.or_else(|| {
        stdout
            .split_whitespace()
            .last()
            .and_then(|t| t.parse::<i64>().ok())
    })?;
    i32::try_from(pid).ok().filter(|p| *p > 0)
}

/// Wait up to `t` for `pid` to end.
fn ends_within(pid: i32, t: Duration) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < t {
        if dead(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    dead(pid)
}

const STEP_TIMEOUT: Duration = Duration::from_secs(30);

struct Ctx<'a> {
    s: &'a dyn Setup,
    users: &'a TestUsers,
    dir: &'a std::path::Path,
    cid: String,
    marker: String,
}

impl Ctx<'_> {
    /// Run `op` as `who`; the last command's output (stopping at the first
    /// failure).
    fn run(&self, who: Who, op: &Op) -> Result<Output> {
        self.run_with(who, op, users::run)
    }

    fn run_with(
        &self,
        who: Who,
        op: &Op,
        run: fn(std::process::Command, &std::path::Path, Duration) -> Result<Output>,
    ) -> Result<Output> {
        let mut last = Output::default();
        for c in self
            .s
            .commands(self.users, who, op, &self.cid, &self.marker)
        {
            last = run(c, self.dir, STEP_TIMEOUT)?;
            if !last.ok {
                break;
            }
        }
        Ok(last)
    }

    /// The owner's view: the container's pid while it runs.
    fn owner_state(&self) -> Result<(Output, Option<i32>)> {
        let o = self.run(Who::Owner, &Op::Act(Action::State))?;
        let pid = if o.ok { pid_of_state(&o.stdout) } else { None };
        Ok((o, pid))
    }

    /// Whether `who`'s attempt at `a` had its effect on the container whose
    /// process is `pid`.
    fn effective(&self, who: Who, a: Action, pid: i32) -> Result<(bool, Output)> {
        let o = self.run(who, &Op::Act(a))?;
        let ok = match a {
            Action::State => o.ok && pid_of_state(&o.stdout) == Some(pid),
            Action::Exec => o.stdout.contains(&self.marker),
            Action::Kill => o.ok && ends_within(pid, Duration::from_secs(3)),
            Action::Delete => o.ok && !self.owner_state()?.0.ok,
        };
        Ok((ok, o))
    }
}

/// Run the whole check in one setup. Never leaves the setup or a container
/// behind; an interrupt is returned as an error after cleaning up.
pub fn check(s: &mut dyn Setup, users: &TestUsers, dir: &std::path::Path) -> Result<SetupResult> {
    let t0 = Instant::now();
    let mut r = SetupResult {
        id: s.id(),
        params: s.params(),
        available: Ok(()),
        attempts: Vec::new(),
        wall_ms: 0.0,
    };
    let prepared = s.prepare(users, dir);
    let body = match prepared {
        Err(e) => {
            if e.downcast_ref::<crate::env::process::Interrupted>()
                .is_some()
            {
                Err(e)
            } else {
                r.available = Err(format!("{e:#}"));
                Ok(())
            }
        }
        Ok(()) => attempts(&*s, users, dir, &mut r),
    };
    let down = s.teardown(users, dir);
    body?;
    down?;
    r.wall_ms = t0.elapsed().as_secs_f64() * 1e3;
    Ok(r)
}

fn attempts(
    s: &dyn Setup,
    users: &TestUsers,
    dir: &std::path::Path,
    r: &mut SetupResult,
) -> Result<()> {
    let n = std::process::id();
    let cx = Ctx {
        s,
        users,
        dir,
        cid: format!("isobench-perm-{n}-{}", r.id),
        marker: format!("isobench-c6-{n}-{:x}", rand::random::<u32>()),
    };
    let result = (|| -> Result<()> {
        let created = cx.run(Who::Owner, &Op::Create)?;
        if !created.ok {
            r.available = Err(format!("A could not create a container: {}", created.why()));
            return Ok(());
        }
        let (st, pid) = cx.owner_state()?;
        let Some(pid) = pid else {
            r.available = Err(format!(
                "A could not read its own container's state: {}",
                st.why()
            ));
            return Ok(());
        };
        for a in Action::ALL {
            if a == Action::Exec && !s.has_exec() {
                continue;
            }
            let (ok, o) = cx.effective(Who::Other, a, pid)?;
            let outcome = if ok {
                Outcome::Allowed
            } else if cx.effective(Who::Owner, a, pid)?.0 {
                Outcome::Denied
            } else {
                Outcome::Inconclusive
            };
            r.attempts.push(Attempt {
                action: a,
                outcome,
                detail: if ok && o.stderr.trim().is_empty() {
                    "exit 0".into()
                } else {
                    o.why()
                },
            });
        }
        Ok(())
    })();
    // Whatever happened: the owner deletes what is left.
    let _ = cx.run_with(Who::Owner, &Op::Act(Action::Delete), users::run_always);
    result
}

/// The owner and the other user, by role.
pub fn user(users: &TestUsers, who: Who) -> &User {
    match who {
        Who::Owner => &users.a,
        Who::Other => &users.b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_come_from_either_state_format() {
        assert_eq!(
            pid_of_state(r#"{"id":"x","pid":4242,"status":"running"}"#),
            Some(4242)
        );
        assert_eq!(pid_of_state("running 777\n"), Some(777));
        assert_eq!(
            pid_of_state(r#"{"id":"x","pid":0,"status":"stopped"}"#),
            None
        );
        assert_eq!(pid_of_state("exited 0"), None);
        assert_eq!(pid_of_state(""), None);
    }

    #[test]
    fn the_exec_command_line_never_holds_the_marker() {
        let m = "isobench-c6-42-deadbeef";
        let argv = exec_argv(m);
        assert!(argv.iter().all(|a| !a.contains(m)), "{argv:?}");
        let out = std::process::Command::new("printf")
            .args(&argv[2..])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{m}\n"));
    }

    #[test]
    fn this_process_is_alive_and_a_reaped_one_is_dead() {
        assert!(!dead(std::process::id() as i32));
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let pid = c.id() as i32;
        c.wait().unwrap();
        assert!(dead(pid));
    }

    #[test]
    fn foreign_actions_count_only_allowed_attempts() {
        let at = |action, outcome| Attempt {
            action,
            outcome,
            detail: String::new(),
        };
        let r = SetupResult {
            id: "x".into(),
            params: BTreeMap::new(),
            available: Ok(()),
            attempts: vec![
                at(Action::State, Outcome::Allowed),
                at(Action::Exec, Outcome::Inconclusive),
                at(Action::Kill, Outcome::Denied),
                at(Action::Delete, Outcome::Allowed),
            ],
            wall_ms: 0.0,
        };
        assert_eq!(r.foreign_actions(), 2);
    }
}
