//! The permission check over its setups (claim C6): a work directory, a
//! root file system for the containers, two test users made and removed
//! here, and one `results.jsonl` line per setup: workload `permissions`,
//! metrics `foreign_actions` (B's actions on A's container that had their
//! effect) and `attempts`, and in `info` the outcome of each action
//! (`action_<verb>`: allowed, denied or inconclusive; `why_<verb>`: B's
//! command's status and first output line). A setup that could not be made
//! here is an invalid line whose error says why ("not available: ...").

use super::{self as perm, setups, users, SetupResult};
use crate::env::process::Interrupted;
use crate::env::Environment;
use crate::experiment::{Experiment, ExperimentConfig, Interrupt, Outcome, Run, Sink, Start};
use crate::locate;
use crate::plan::{usage, Plan};
use anyhow::{Context, Result};
use isobench_reports::schema::{EnvInfo, ResultRecord, Timings, SCHEMA_VERSION};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The check's work directory (`$TMPDIR/isobench-perm-<pid>`, mode 0755 so
/// that the test users reach bundles and sockets in it), removed on drop
/// after detaching any mount an engine left under it.
struct WorkDir(PathBuf);

impl WorkDir {
    fn create() -> Result<WorkDir> {
        let p = std::env::temp_dir().join(format!("isobench-perm-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).with_context(|| format!("cannot create {}", p.display()))?;
        users::set_mode(&p, 0o755)?;
        Ok(WorkDir(p))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        setups::umount_under(&self.0);
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            eprintln!("warning: cannot remove {}: {e}", self.0.display());
        }
    }
}

/// A root file system holding a static busybox (with the mount points a
/// runtime needs), and the same as a tar for `podman import`.
fn build_rootfs(work: &Path) -> Result<(PathBuf, PathBuf)> {
    let busybox = locate::which("busybox")
        .ok_or_else(|| usage("busybox not found (apt-get install busybox-static)"))?;
    let bytes =
        std::fs::read(&busybox).with_context(|| format!("cannot read {}", busybox.display()))?;
    if locate::is_static_elf(&bytes) != Some(true) {
        return Err(usage(format!(
            "{} is not statically linked (apt-get install busybox-static)",
            busybox.display()
        )));
    }
    let rootfs = work.join("rootfs");
    for d in ["bin", "proc", "dev", "sys", "tmp", "etc"] {
        std::fs::create_dir_all(rootfs.join(d))
            .with_context(|| format!("cannot create {}", rootfs.join(d).display()))?;
    }
    let target = rootfs.join("bin/busybox");
    std::fs::write(&target, &bytes)
        .with_context(|| format!("cannot write {}", target.display()))?;
    users::set_mode(&target, 0o755)?;
    let tar = work.join("image.tar");
    let mut c = std::process::Command::new("tar");
    c.arg("-C").arg(&rootfs).arg("-cf").arg(&tar).arg(".");
    // A moment's work, not cut short: an interrupt is seen right after.
    let o = users::run_always(c, work, std::time::Duration::from_secs(30))?;
    if !o.ok {
        anyhow::bail!("tar of the image failed: {}", o.why());
    }
    users::set_mode(&tar, 0o644)?;
    Ok((rootfs, tar))
}

fn record(run_id: &str, r: &SetupResult) -> ResultRecord {
    let mut info = BTreeMap::new();
    for a in &r.attempts {
        info.insert(
            format!("action_{}", a.action.name()),
            a.outcome.name().to_string(),
        );
        info.insert(format!("why_{}", a.action.name()), a.detail.clone());
    }
    let allowed: Vec<&str> = r
        .attempts
        .iter()
        .filter(|a| a.outcome == perm::Outcome::Allowed)
        .map(|a| a.action.name())
        .collect();
    info.insert("allowed".into(), allowed.join(","));
    info.insert("method".into(), "user B tries each verb on user A's container; judged by its effect (state prints the pid, exec prints a marker from inside, kill ends the process, delete makes the container vanish for A); a failed attempt is repeated by A as a control".into());
    let (mut metrics, mut units) = (BTreeMap::new(), BTreeMap::new());
    if r.available.is_ok() {
        metrics.insert("foreign_actions".to_string(), r.foreign_actions() as f64);
        metrics.insert("attempts".to_string(), r.attempts.len() as f64);
        units.insert("foreign_actions".to_string(), "actions".to_string());
        units.insert("attempts".to_string(), "actions".to_string());
    }
    let mut params: BTreeMap<String, serde_json::Value> = r
        .params
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::json!(v)))
        .collect();
    params.insert("setup".into(), serde_json::json!(r.id));
    ResultRecord {
        schema: SCHEMA_VERSION,
        run_id: run_id.to_string(),
        env: "container".into(),
        env_id: r.id.clone(),
        env_detail: r.params.clone(),
        workload: perm::WORKLOAD.into(),
        params,
        rep: 0,
        valid: r.available.is_ok(),
        metrics,
        units,
        directions: Default::default(),
        aliases: Default::default(),
        info,
        timings: Timings {
            started_unix_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
            wall_ms: r.wall_ms,
            first_instruction_ms: None,
        },
        error: r
            .available
            .as_ref()
            .err()
            .map(|e| format!("not available: {e}")),
    }
}

/// One line per setup for the terminal.
fn line(r: &SetupResult) -> String {
    match &r.available {
        Err(e) => format!("{}: not available ({e})", r.id),
        Ok(()) => format!(
            "{}: {} of {} foreign actions allowed ({})",
            r.id,
            r.foreign_actions(),
            r.attempts.len(),
            r.attempts
                .iter()
                .map(|a| format!("{} {}", a.action.name(), a.outcome.name()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Why the check cannot run here, if it cannot.
pub fn needs_root() -> Option<String> {
    (!crate::sys::is_root()).then(|| {
        "--experiment permissions needs root: it creates two test users and a group (removed afterwards)".to_string()
    })
}

/// The check, its setups made ready to try (work directory, root file
/// system); nothing is made for the test users yet.
pub struct Check {
    // Declared first: the setups go before the work directory they use.
    all: Vec<Box<dyn perm::Setup>>,
    isorun: PathBuf,
    work: WorkDir,
}

impl Check {
    pub fn prepare() -> Result<Check> {
        for w in perm::sweep::sweep_dead() {
            eprintln!("removed what a dead permission check left: {w}");
        }
        let work = WorkDir::create()?;
        let (rootfs, tar) = build_rootfs(&work.0)?;
        let isorun = locate::isorun_bin();
        let all = setups::all(&rootfs, &tar, &isorun);
        Ok(Check { all, isorun, work })
    }

    /// The run.json entry of each setup.
    pub fn environments(&self) -> Vec<EnvInfo> {
        self.all
            .iter()
            .map(|s| EnvInfo {
                env: "container".into(),
                env_id: s.id(),
                detail: s.params(),
            })
            .collect()
    }

    /// What the check is, for run.json's config.
    pub fn settings(&self) -> Settings {
        Settings {
            setups: self.all.iter().map(|s| s.id()).collect(),
            isorun: self.isorun.display().to_string(),
        }
    }

    /// Try every setup with two test users (made and removed here),
    /// appending each result to `sink`: one record per setup, invalid for
    /// a setup not available here. `stop`: the user interrupted.
    pub fn measure(
        mut self,
        run_id: &str,
        stop: &dyn Interrupt,
        sink: &mut dyn Sink,
    ) -> Result<Outcome> {
        let work = self.work.0.clone();
        let mut test_users = users::TestUsers::create(&work).context("creating the test users")?;
        eprintln!(
            "permissions: users {} (A, creates) and {} (B, tries), both in group {}",
            test_users.a.name, test_users.b.name, test_users.group
        );
        let (mut measured, mut invalid) = (0, 0);
        for s in self.all.iter_mut() {
            if stop.interrupted() {
                break;
            }
            match perm::check(s.as_mut(), &test_users, &work, stop) {
                Ok(r) => {
                    eprintln!("permissions: {}", line(&r));
                    sink.append(&record(run_id, &r))?;
                    measured += 1;
                    invalid += usize::from(r.available.is_err());
                }
                Err(e) if e.downcast_ref::<Interrupted>().is_some() => break,
                Err(e) => return Err(e.context(format!("permission check in {}", s.id()))),
            }
        }
        test_users
            .remove(&work)
            .context("removing the test users")?;
        drop(test_users);
        drop(self);
        if stop.interrupted() {
            eprintln!("interrupted; the test users, services and containers were removed");
            return Ok(Outcome::Interrupted);
        }
        Ok(Outcome::Done { measured, invalid })
    }
}

/// What the permission check tried, in `run.json`'s `config` (tagged
/// `experiment: permissions`): its setups and the isorun binary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub setups: Vec<String>,
    pub isorun: String,
}

/// The experiment's name in run.json (`config.experiment`).
pub const EXPERIMENT: &str = "permissions";

/// The permission check as an experiment (`isobench run --experiment
/// permissions`), driven by the run session over a plan without workloads
/// ([`crate::plan::Plan::without_workloads`]): no environment to prepare;
/// its setups are its subjects, made ready when the run starts. It cannot
/// be resumed (each setup is tried once, in seconds).
pub struct Permissions {
    /// Makes the check ready ([`Check::prepare`]; a test substitutes a
    /// fake, the real one needs root).
    pub prepare: fn() -> Result<Box<dyn Ready>>,
    check: Option<Box<dyn Ready>>,
}

impl Default for Permissions {
    fn default() -> Permissions {
        Permissions {
            prepare: || Ok(Box::new(Check::prepare()?)),
            check: None,
        }
    }
}

/// The check made ready, as the experiment sees it: [`Check`], or a fake.
pub trait Ready {
    /// What it will try, for run.json's `config`.
    fn settings(&self) -> Settings;
    /// The run.json entry of each setup.
    fn environments(&self) -> Vec<EnvInfo>;
    /// Try every setup, appending a record per setup to `sink`.
    fn measure(
        self: Box<Self>,
        run_id: &str,
        stop: &dyn Interrupt,
        sink: &mut dyn Sink,
    ) -> Result<Outcome>;
}

impl Ready for Check {
    fn settings(&self) -> Settings {
        Check::settings(self)
    }
    fn environments(&self) -> Vec<EnvInfo> {
        Check::environments(self)
    }
    fn measure(
        self: Box<Self>,
        run_id: &str,
        stop: &dyn Interrupt,
        sink: &mut dyn Sink,
    ) -> Result<Outcome> {
        Check::measure(*self, run_id, stop, sink)
    }
}

impl Experiment for Permissions {
    type Config = Settings;
    const NAME: Option<&'static str> = Some(EXPERIMENT);
    const TITLE: &'static str = "the permission check";

    fn tag(config: &Settings) -> Option<ExperimentConfig> {
        Some(ExperimentConfig::Permissions(config.clone()))
    }

    fn untag(x: ExperimentConfig) -> Option<Settings> {
        match x {
            ExperimentConfig::Permissions(s) => Some(s),
            _ => None,
        }
    }

    fn start(
        &mut self,
        _run: &Run,
        _envs: &[Box<dyn Environment>],
        _before: Option<Settings>,
    ) -> Result<Start<Settings>> {
        let check = (self.prepare)()?;
        let start = Start {
            config: check.settings(),
            warnings: vec![WARNING.into()],
            environments: check.environments(),
        };
        self.check = Some(check);
        Ok(start)
    }

    fn run(
        &mut self,
        plan: &Plan,
        _envs: &mut [Box<dyn Environment>],
        sink: &mut dyn Sink,
        stop: &dyn Interrupt,
    ) -> Result<Outcome> {
        let check = self.check.take().expect("started");
        check.measure(&plan.run_id, stop, sink)
    }
}

/// The warning of a check that is not a benchmark.
pub const WARNING: &str = "permissions: a permission check, not a benchmark; each setup is tried once (the outcome is deterministic: no interval applies)";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::permissions::{Action, Attempt, Outcome};

    fn result(available: std::result::Result<(), String>) -> SetupResult {
        let attempt = |action, outcome| Attempt {
            action,
            outcome,
            detail: "exit 0".into(),
        };
        SetupResult {
            id: "podman-service".into(),
            params: BTreeMap::from([("engine".to_string(), "podman".to_string())]),
            available,
            attempts: vec![
                attempt(Action::State, Outcome::Allowed),
                attempt(Action::Exec, Outcome::Denied),
                attempt(Action::Kill, Outcome::Allowed),
            ],
            wall_ms: 12.0,
        }
    }

    /// A setup's record: its foreign actions among its attempts, each
    /// action's outcome in `info`, the setup in `params`.
    #[test]
    fn a_setup_is_one_record_of_its_foreign_actions() {
        let r = record("run-1", &result(Ok(())));
        assert!(r.valid && r.error.is_none());
        assert_eq!(r.workload, perm::WORKLOAD);
        assert_eq!(r.env_id, "podman-service");
        assert_eq!(r.metrics["foreign_actions"], 2.0);
        assert_eq!(r.metrics["attempts"], 3.0);
        assert_eq!(r.units["foreign_actions"], "actions");
        assert_eq!(r.info["action_exec"], "denied");
        assert_eq!(r.info["allowed"], "state,kill");
        assert_eq!(r.params["setup"], "podman-service");
        assert_eq!(r.timings.wall_ms, 12.0);
        assert_eq!(
            line(&result(Ok(()))),
            "podman-service: 2 of 3 foreign actions allowed (state allowed, exec denied, kill allowed)"
        );
    }

    /// A setup that could not be made is an invalid record saying why.
    #[test]
    fn an_unavailable_setup_is_an_invalid_record_saying_why() {
        let r = record("run-1", &result(Err("no podman".into())));
        assert!(!r.valid && r.metrics.is_empty());
        assert_eq!(r.error.as_deref(), Some("not available: no podman"));
        assert_eq!(
            line(&result(Err("no podman".into()))),
            "podman-service: not available (no podman)"
        );
    }
}
