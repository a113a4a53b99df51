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

use crate::experiment::Interrupt;
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
    /// `stop`: the user interrupted.
    fn prepare(
        &mut self,
        users: &TestUsers,
        dir: &std::path::Path,
        stop: &dyn Interrupt,
    ) -> Result<()>;
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

/// How the check acts on the container and watches its process: for real
/// (`Commands`) a setup's commands run as the test users; a test
/// substitutes scripted outcomes, so that the decisions ([`judge`]) are
/// tested without root.
pub trait Actor {
    /// Run `op` as `who`: the last command's output (stopping at the first
    /// failure).
    fn run(&self, who: Who, op: &Op) -> Result<Output>;
    /// Whether process `pid` ends within `t`.
    fn ends_within(&self, pid: i32, t: Duration) -> bool;
}

/// The real [`Actor`]: setup `s`'s commands on container `cid`, run as
/// the test users in `dir`, cut short when `stop` says so.
struct Commands<'a> {
    s: &'a dyn Setup,
    users: &'a TestUsers,
    dir: &'a std::path::Path,
    cid: String,
    marker: String,
    stop: &'a dyn Interrupt,
}

impl Commands<'_> {
    fn run_with(&self, who: Who, op: &Op, stop: &dyn Interrupt) -> Result<Output> {
        let mut last = Output::default();
        for c in self
            .s
            .commands(self.users, who, op, &self.cid, &self.marker)
        {
            last = users::run(c, self.dir, STEP_TIMEOUT, stop)?;
            if !last.ok {
                break;
            }
        }
        Ok(last)
    }
}

impl Actor for Commands<'_> {
    fn run(&self, who: Who, op: &Op) -> Result<Output> {
        self.run_with(who, op, self.stop)
    }
    fn ends_within(&self, pid: i32, t: Duration) -> bool {
        ends_within(pid, t)
    }
}

/// The owner's view: the container's pid while it runs.
fn owner_state(x: &dyn Actor) -> Result<(Output, Option<i32>)> {
    let o = x.run(Who::Owner, &Op::Act(Action::State))?;
    let pid = if o.ok { pid_of_state(&o.stdout) } else { None };
    Ok((o, pid))
}

/// Whether `who`'s attempt at `a` had its effect on the container whose
/// process is `pid` (`marker`: what `exec` prints from inside).
fn effective(x: &dyn Actor, marker: &str, who: Who, a: Action, pid: i32) -> Result<(bool, Output)> {
    let o = x.run(who, &Op::Act(a))?;
    let ok = match a {
        Action::State => o.ok && pid_of_state(&o.stdout) == Some(pid),
        Action::Exec => o.stdout.contains(marker),
        Action::Kill => o.ok && x.ends_within(pid, Duration::from_secs(3)),
        Action::Delete => o.ok && !owner_state(x)?.0.ok,
    };
    Ok((ok, o))
}

/// The check's decisions, acting through `x`: A creates its container and
/// reads its pid (else the setup is not available, `r.available` says
/// why); then B tries each action (`exec` only when `has_exec`), and an
/// attempt without effect is repeated by A as the control. Each outcome
/// goes to `r.attempts`.
pub fn judge(x: &dyn Actor, has_exec: bool, marker: &str, r: &mut SetupResult) -> Result<()> {
    let created = x.run(Who::Owner, &Op::Create)?;
    if !created.ok {
        r.available = Err(format!("A could not create a container: {}", created.why()));
        return Ok(());
    }
    let (st, pid) = owner_state(x)?;
    let Some(pid) = pid else {
        r.available = Err(format!(
            "A could not read its own container's state: {}",
            st.why()
        ));
        return Ok(());
    };
    for a in Action::ALL {
        if a == Action::Exec && !has_exec {
            continue;
        }
        let (ok, o) = effective(x, marker, Who::Other, a, pid)?;
        let outcome = if ok {
            Outcome::Allowed
        } else if effective(x, marker, Who::Owner, a, pid)?.0 {
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
}

/// Run the whole check in one setup. Never leaves the setup or a container
/// behind; an interrupt (`stop`) is returned as an error after cleaning up.
pub fn check(
    s: &mut dyn Setup,
    users: &TestUsers,
    dir: &std::path::Path,
    stop: &dyn Interrupt,
) -> Result<SetupResult> {
    let t0 = Instant::now();
    let mut r = SetupResult {
        id: s.id(),
        params: s.params(),
        available: Ok(()),
        attempts: Vec::new(),
        wall_ms: 0.0,
    };
    let prepared = s.prepare(users, dir, stop);
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
        Ok(()) => attempts(&*s, users, dir, stop, &mut r),
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
    stop: &dyn Interrupt,
    r: &mut SetupResult,
) -> Result<()> {
    let n = std::process::id();
    let cx = Commands {
        s,
        users,
        dir,
        cid: format!("isobench-perm-{n}-{}", r.id),
        marker: format!("isobench-c6-{n}-{:x}", rand::random::<u32>()),
        stop,
    };
    let result = judge(&cx, s.has_exec(), &cx.marker, r);
    // Whatever happened: the owner deletes what is left.
    let _ = cx.run_with(
        Who::Owner,
        &Op::Act(Action::Delete),
        &crate::experiment::Never,
    );
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

    /// A scripted container for [`judge`]: what each user may do to it,
    /// and what became of it.
    struct Scripted {
        /// Whether `who` may do `a` (the effect happens).
        may: fn(Who, Action) -> bool,
        create_ok: bool,
        /// The owner's `state` prints no pid (a container that stopped).
        no_pid: bool,
        /// B's commands exit 0 even without effect (`runc delete --force`
        /// of a container it cannot see).
        other_exits_0: bool,
        killed: std::cell::Cell<bool>,
        deleted: std::cell::Cell<bool>,
        calls: std::cell::RefCell<Vec<(Who, Op)>>,
    }

    const PID: i32 = 4242;
    const MARKER: &str = "isobench-c6-fake";

    fn scripted(may: fn(Who, Action) -> bool) -> Scripted {
        Scripted {
            may,
            create_ok: true,
            no_pid: false,
            other_exits_0: false,
            killed: Default::default(),
            deleted: Default::default(),
            calls: Default::default(),
        }
    }

    fn out(ok: bool, stdout: &str, stderr: &str) -> Output {
        Output {
            ok,
            code: Some(if ok { 0 } else { 1 }),
            stdout: stdout.into(),
            stderr: stderr.into(),
        }
    }

    impl Actor for Scripted {
        fn run(&self, who: Who, op: &Op) -> Result<Output> {
            self.calls.borrow_mut().push((who, op.clone()));
            let a = match op {
                Op::Create => return Ok(out(self.create_ok, "", "no runtime")),
                Op::Act(a) => *a,
            };
            let gone = self.deleted.get();
            if gone || !(self.may)(who, a) {
                let ok = who == Who::Other && self.other_exits_0 && a != Action::State;
                return Ok(out(ok, "", "permission denied"));
            }
            Ok(match a {
                Action::State if self.no_pid => out(true, "stopped 0", ""),
                Action::State => out(true, &format!("running {PID}"), ""),
                Action::Exec => out(true, &format!("{MARKER}\n"), ""),
                Action::Kill => {
                    self.killed.set(true);
                    out(true, "", "")
                }
                Action::Delete => {
                    self.deleted.set(true);
                    out(true, "", "")
                }
            })
        }
        fn ends_within(&self, pid: i32, _t: Duration) -> bool {
            pid == PID && self.killed.get()
        }
    }

    fn judged(x: &Scripted, has_exec: bool) -> SetupResult {
        let mut r = SetupResult {
            id: "fake".into(),
            params: BTreeMap::new(),
            available: Ok(()),
            attempts: Vec::new(),
            wall_ms: 0.0,
        };
        judge(x, has_exec, MARKER, &mut r).unwrap();
        r
    }

    fn outcomes(r: &SetupResult) -> Vec<(&'static str, &'static str)> {
        r.attempts
            .iter()
            .map(|a| (a.action.name(), a.outcome.name()))
            .collect()
    }

    /// B may do nothing and A may do everything: every action is denied,
    /// each after A's control.
    #[test]
    fn a_foreign_attempt_without_effect_is_denied_when_the_owner_can() {
        let x = scripted(|who, _| who == Who::Owner);
        let r = judged(&x, true);
        assert_eq!(r.available, Ok(()));
        assert_eq!(
            outcomes(&r),
            [
                ("state", "denied"),
                ("exec", "denied"),
                ("kill", "denied"),
                ("delete", "denied")
            ]
        );
        assert_eq!(r.foreign_actions(), 0);
        assert_eq!(r.attempts[0].detail, "exit 1: permission denied");
        // The control ran: A's own state, exec, kill and delete.
        let calls = x.calls.borrow();
        assert!(calls.contains(&(Who::Owner, Op::Act(Action::Kill))));
        assert!(calls.contains(&(Who::Owner, Op::Act(Action::Delete))));
    }

    /// B may do everything: every action is allowed, without a control.
    #[test]
    fn a_foreign_attempt_with_its_effect_is_allowed() {
        let x = scripted(|_, _| true);
        let r = judged(&x, true);
        assert_eq!(r.foreign_actions(), 4);
        assert!(r.attempts.iter().all(|a| a.detail == "exit 0"));
        let calls = x.calls.borrow();
        assert!(!calls.contains(&(Who::Owner, Op::Act(Action::Kill))));
    }

    /// Exit status alone decides nothing: B's commands exit 0 without
    /// effect, and are denied.
    #[test]
    fn an_exit_0_without_effect_is_not_allowed() {
        let mut x = scripted(|who, _| who == Who::Owner);
        x.other_exits_0 = true;
        let r = judged(&x, true);
        assert_eq!(r.foreign_actions(), 0);
        assert!(
            r.attempts.iter().all(|a| a.outcome == Outcome::Denied),
            "{:?}",
            outcomes(&r)
        );
    }

    /// An action neither user can do says nothing (inconclusive); an
    /// engine without `exec` is not asked for it.
    #[test]
    fn what_the_owner_cannot_do_either_is_inconclusive() {
        let x = scripted(|who, a| who == Who::Owner && a != Action::Exec);
        let r = judged(&x, true);
        assert_eq!(r.attempts[1].action, Action::Exec);
        assert_eq!(r.attempts[1].outcome, Outcome::Inconclusive);
        let x = scripted(|who, _| who == Who::Owner);
        let r = judged(&x, false);
        assert_eq!(
            outcomes(&r),
            [
                ("state", "denied"),
                ("kill", "denied"),
                ("delete", "denied")
            ]
        );
    }

    /// A setup where A cannot create, or cannot see its own container's
    /// pid, is not available (saying why), with no attempt.
    #[test]
    fn a_setup_the_owner_cannot_use_is_not_available() {
        let mut x = scripted(|_, _| true);
        x.create_ok = false;
        let r = judged(&x, true);
        assert_eq!(
            r.available,
            Err("A could not create a container: exit 1: no runtime".into())
        );
        assert!(r.attempts.is_empty());
        let mut x = scripted(|_, _| true);
        x.no_pid = true;
        let r = judged(&x, true);
        assert!(r
            .available
            .unwrap_err()
            .starts_with("A could not read its own container's state"));
        assert!(r.attempts.is_empty());
    }

    /// An interrupt while acting ends the judgement with the error.
    #[test]
    fn an_interrupt_while_acting_is_returned() {
        struct Stopped;
        impl Actor for Stopped {
            fn run(&self, _: Who, _: &Op) -> Result<Output> {
                Err(crate::env::process::Interrupted.into())
            }
            fn ends_within(&self, _: i32, _: Duration) -> bool {
                false
            }
        }
        let mut r = SetupResult {
            id: "x".into(),
            params: BTreeMap::new(),
            available: Ok(()),
            attempts: Vec::new(),
            wall_ms: 0.0,
        };
        let e = judge(&Stopped, true, MARKER, &mut r).unwrap_err();
        assert!(e.is::<crate::env::process::Interrupted>());
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
