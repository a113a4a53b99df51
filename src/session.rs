//! One run's lifecycle, written once for the suite and every experiment:
//! open (a fresh run directory or `--resume`), the guards a crash sweep and
//! a failed start rely on, the host probe, preparing and sizing the
//! environments, `run.json` with a tagged experiment configuration,
//! appending records, finishing and recording history.
//!
//! A command maps its arguments to a [`Plan`] and an [`ExperimentConfig`],
//! opens a [`Session`] and drives its experiment through it.

pub use crate::experiment::{host_mem_available, ExperimentConfig};

use crate::env::{self, EnvContext, Environment};
use crate::experiment::{Before, Experiment, Interrupt, Outcome, Run, Sink};
use crate::plan::{self, usage, Plan};
use crate::store::{self, RunDir};
use anyhow::{Context, Result};
use isobench_reports::schema::{
    EnvInfo, HostInfo, ResultRecord, RunInfo, ToolInfo, SCHEMA_VERSION,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Exit status when the user interrupted the run (as a shell reports SIGINT).
pub const EXIT_INTERRUPTED: i32 = 130;

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

pub fn new_run_id() -> String {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .replace([':', '-'], "")
        .trim_end_matches('Z')
        .to_string();
    format!(
        "{stamp}-{:04x}",
        (t.subsec_nanos() ^ std::process::id()) & 0xffff
    )
}

/// Removes a directory on drop unless disarmed: a fresh run directory when
/// the run fails before measuring anything, and the scratch directory on
/// every path out of the run.
pub struct RemoveDirGuard {
    pub path: PathBuf,
    pub armed: bool,
}

impl Drop for RemoveDirGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Prepared environments, cleaned up on every path out of the run.
pub struct Prepared(pub Vec<Box<dyn Environment>>);

impl Drop for Prepared {
    fn drop(&mut self) {
        for e in self.0.iter_mut() {
            if let Err(err) = e.cleanup() {
                eprintln!("warning: cleaning up {}: {err:#}", e.id());
            }
        }
    }
}

/// One run: its plan, its directory and what guards them.
///
/// Fields drop in declaration order: the scratch directory, then the run
/// directory (removed if the run fails before [`Session::start`], unless
/// it was resumed), then the record of the run for the crash sweep; the
/// environments a caller prepared are dropped (cleaned up) before the
/// session, being declared after it.
pub struct Session {
    scratch_guard: Option<RemoveDirGuard>,
    run_dir_guard: RemoveDirGuard,
    _registration: Option<crate::sweep::registry::Registration>,
    pub plan: Plan,
    pub dir: RunDir,
    pub out: PathBuf,
    pub scratch: PathBuf,
    pub before: Option<Before>,
    host: Option<HostInfo>,
    info: Option<RunInfo>,
}

impl Session {
    /// Open the run: resume `resume` (which must hold `experiment`, `None`
    /// for a suite run) or create the directory of the plan `fresh` builds.
    /// Registers the run, probes the host and makes the scratch directory.
    pub fn open(
        resume: Option<&Path>,
        experiment: Option<&str>,
        fresh: impl FnOnce() -> Result<Plan>,
        private_mounts: bool,
    ) -> Result<Session> {
        let (plan, dir, before) = match resume {
            Some(path) => {
                let (plan, dir, before) = reopen(path, experiment)?;
                (plan, dir, Some(before))
            }
            None => {
                let plan = fresh()?;
                let dir = RunDir::create(&plan.out).map_err(|e| usage(format!("{e:#}")))?;
                (plan, dir, None)
            }
        };
        let out = dir.path().to_path_buf();
        let scratch = out.join(crate::sweep::naming::SCRATCH_DIR);
        let registration = crate::sweep::register_run(&plan, &out, &scratch, private_mounts);
        let mut s = Session {
            scratch_guard: None,
            run_dir_guard: RemoveDirGuard {
                path: out.clone(),
                armed: before.is_none(),
            },
            _registration: registration,
            plan,
            dir,
            out,
            scratch,
            before,
            host: None,
            info: None,
        };
        if s.plan.runs_workloads() && !s.plan.workload_bin.is_file() {
            return Err(usage(format!(
                "workload binary {} not found; build it with scripts/build-workload.sh",
                s.plan.workload_bin.display()
            )));
        }
        let host = crate::host::probe();
        eprintln!("host: {}", crate::host::one_line(&host));
        s.host = Some(host);
        std::fs::create_dir_all(&s.scratch)
            .with_context(|| format!("cannot create {}", s.scratch.display()))?;
        s.scratch_guard = Some(RemoveDirGuard {
            path: s.scratch.clone(),
            armed: true,
        });
        Ok(s)
    }

    /// The probed host.
    pub fn host(&self) -> &HostInfo {
        self.host.as_ref().expect("probed when opened")
    }

    /// Build and prepare every environment of the plan (images, initramfs,
    /// accelerator probe). `None` when the user interrupted; what was
    /// prepared is cleaned up by the returned guard or, on error, by its
    /// drop. `stop`: the user interrupted.
    pub fn prepare(&self, stop: &dyn Interrupt) -> Result<Option<Prepared>> {
        let plan = &self.plan;
        if plan.envs.is_empty() {
            return Ok(Some(Prepared(Vec::new())));
        }
        let ctx = EnvContext {
            workload_bin: plan.workload_bin.clone(),
            scratch: self.scratch.clone(),
            threads: plan.threads,
            data_dir: crate::runner::write_workload_data(plan, &self.scratch)?,
            command_root: match &plan.command {
                Some(c) => Some(
                    crate::user_command::materialize(c, &self.scratch)
                        .context("preparing the command's files")?,
                ),
                None => None,
            },
            fileio: plan
                .workloads
                .contains(&isobench_workloads::Workload::Fileio),
        };
        if let Some(n) = crate::env::rootless::notice_for(&plan.envs) {
            eprintln!("{n}");
        }
        let mut envs = Prepared(Vec::new());
        for p in &plan.envs {
            let mut e = env::make(p)?;
            eprintln!("preparing {} ...", e.id());
            let prepared = e.prepare(&ctx);
            // Kept before anything can return: the guard cleans up what a
            // failed or interrupted preparation left.
            let id = e.id();
            envs.0.push(e);
            prepared.with_context(|| format!("preparing the {id} environment"))?;
            if stop.interrupted() {
                return Ok(None);
            }
        }
        Ok(Some(envs))
    }

    /// Make every environment hold `need` bytes of workload memory (a VM
    /// sizes its guest by test boots), after checking the host can hold it
    /// at all. `what` names the allocation in the error. `Ok(false)` when
    /// interrupted.
    pub fn fit(
        &self,
        envs: &mut [Box<dyn Environment>],
        need: u64,
        what: &str,
        stop: &dyn Interrupt,
    ) -> Result<bool> {
        let host_avail = host_mem_available();
        crate::experiment::host_holds(need, host_avail, what)?;
        for e in envs.iter_mut() {
            e.fit_memory(need, host_avail).map_err(|err| {
                match err.downcast::<plan::UsageError>() {
                    Ok(u) => u.into(),
                    Err(other) => other.context(format!("sizing the {} environment", e.id())),
                }
            })?;
            if stop.interrupted() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Write `run.json` (the plan and `experiment`, the environments, the
    /// warnings merged with those of a resumed start) and keep the run
    /// directory from now on, whatever follows.
    pub fn start(
        &mut self,
        experiment: Option<&ExperimentConfig>,
        environments: Vec<EnvInfo>,
        mut warnings: Vec<String>,
    ) -> Result<()> {
        // A plan without workloads says nothing: the experiment's
        // configuration is the whole of `config`.
        let mut config = if self.plan.runs_workloads() {
            serde_json::to_value(&self.plan).context("serialising the plan")?
        } else {
            serde_json::json!({})
        };
        if let Some(x) = experiment {
            let tagged = serde_json::to_value(x).context("serialising the experiment")?;
            if let (Some(c), Some(t)) = (config.as_object_mut(), tagged.as_object()) {
                c.extend(t.clone());
            }
        }
        let started_at = match &self.before {
            Some(b) => {
                let mut merged = b.info.warnings.clone();
                for w in b.warnings.iter().cloned().chain(warnings) {
                    if !merged.contains(&w) {
                        merged.push(w);
                    }
                }
                warnings = merged;
                b.info.started_at.clone()
            }
            None => now_rfc3339(),
        };
        let bin_bytes = std::fs::read(&self.plan.workload_bin).unwrap_or_default();
        let info = RunInfo {
            schema: SCHEMA_VERSION,
            run_id: self.plan.run_id.clone(),
            started_at,
            finished_at: None,
            host: self.host().clone(),
            tool: tool_info(&self.plan, &bin_bytes),
            config,
            environments,
            warnings,
        };
        self.dir.write_run_info(&info)?;
        self.info = Some(info);
        self.run_dir_guard.armed = false;
        Ok(())
    }

    /// `run.json` as started, to amend (then [`Session::write_info`]).
    pub fn info_mut(&mut self) -> &mut RunInfo {
        self.info.as_mut().expect("the session was started")
    }

    pub fn write_info(&self) -> Result<()> {
        self.dir
            .write_run_info(self.info.as_ref().expect("the session was started"))
    }

    /// The run measured all it planned: `run.json` says when it finished,
    /// and the history database (`db`, else the default) records it when
    /// `history` is set.
    pub fn finish(&mut self, history: bool, db: Option<&Path>) -> Result<()> {
        self.info_mut().finished_at = Some(now_rfc3339());
        self.write_info()?;
        if history {
            record_history(db, &self.out);
        }
        Ok(())
    }

    /// The message for an interrupted run.
    pub fn interrupted_note(&self) -> String {
        format!(
            "continue with: isobench run --resume {}",
            self.out.display()
        )
    }
}

impl Session {
    /// Drive experiment `x` through the rest of the run: its resumed
    /// configuration, preparing and sizing the environments, `run.json`,
    /// the measurements (records appended through the session), cleaning
    /// the environments up, and finishing (recorded in the history
    /// database `db` when `history`). `Outcome::Interrupted` leaves the run
    /// to `--resume`.
    pub fn drive<E: Experiment>(
        &mut self,
        x: &mut E,
        stop: &dyn Interrupt,
        history: bool,
        db: Option<&Path>,
    ) -> Result<Outcome> {
        // A resumed run of another configuration is refused before
        // anything is prepared.
        self.resumed::<E>()?;
        let Some(envs) = self.prepare(stop)? else {
            return Ok(Outcome::Interrupted);
        };
        self.drive_prepared(x, envs, stop, history, db)
    }

    /// [`Session::drive`] over environments prepared already (`envs`,
    /// cleaned up before the run finishes, and on every path).
    pub fn drive_prepared<E: Experiment>(
        &mut self,
        x: &mut E,
        mut envs: Prepared,
        stop: &dyn Interrupt,
        history: bool,
        db: Option<&Path>,
    ) -> Result<Outcome> {
        let before = self.resumed::<E>()?;
        let need = x.memory_need(&self.run(), &envs.0, before.as_ref())?;
        if let Some(need) = need {
            if !self.fit(&mut envs.0, need.bytes, need.what, stop)? {
                return Ok(Outcome::Interrupted);
            }
        }
        let start = x.start(&self.run(), &envs.0, before)?;
        self.start(
            E::tag(&start.config).as_ref(),
            start.environments,
            start.warnings,
        )?;
        let plan = self.plan.clone();
        let outcome = x.run(&plan, &mut envs.0, self, stop)?;
        if outcome == Outcome::Interrupted {
            return Ok(outcome);
        }
        // The environments are done: cleaned up before what follows.
        drop(envs);
        let outcome = x.after_cleanup(&plan, self, stop, outcome)?;
        if outcome == Outcome::Interrupted {
            return Ok(outcome);
        }
        self.finish(history, db)?;
        Ok(outcome)
    }

    /// The configuration a resumed run of `E` started with (`None` for a
    /// fresh run or the suite); another experiment's is a usage error.
    fn resumed<E: Experiment>(&self) -> Result<Option<E::Config>> {
        if E::NAME.is_none() {
            return Ok(None);
        }
        match config_before(self)? {
            None => Ok(None),
            Some(c) => {
                let name = c.name();
                E::untag(c)
                    .map(Some)
                    .ok_or_else(|| usage(format!("cannot resume a {name} run as {}", E::TITLE)))
            }
        }
    }

    /// What an experiment sees of the run before it starts.
    pub fn run(&self) -> Run<'_> {
        Run {
            plan: &self.plan,
            host: self.host(),
            before: self.before.as_ref(),
        }
    }
}

impl Sink for Session {
    fn append(&mut self, r: &ResultRecord) -> Result<()> {
        self.dir.append(r)
    }
    fn before(&self) -> Option<&Before> {
        self.before.as_ref()
    }
    fn env_detail(&mut self, env_id: &str) -> Option<&mut BTreeMap<String, String>> {
        self.info_mut()
            .environments
            .iter_mut()
            .find(|i| i.env_id == env_id)
            .map(|i| &mut i.detail)
    }
    fn add_environments(&mut self, e: Vec<EnvInfo>) {
        self.info_mut().environments.extend(e);
    }
    fn save_info(&mut self) -> Result<()> {
        self.write_info()
    }
    fn interrupted_note(&self) -> String {
        Session::interrupted_note(self)
    }
}

/// Reopen a run directory for `--resume`; bad input (no run, another kind
/// of run, a plan this version cannot read) is a usage error naming it.
fn reopen(path: &Path, experiment: Option<&str>) -> Result<(Plan, RunDir, Before)> {
    let bad = |why: String| usage(format!("cannot resume {}: {why}", path.display()));
    let info = store::read_run_info(path).map_err(|e| bad(format!("{e:#}")))?;
    match (store::experiment_of(&info), experiment) {
        (Some(e), Some(x)) if e == x => {}
        (None, None) => {}
        (Some(e), Some(x)) => {
            return Err(bad(format!(
                "it holds a {e} experiment, not {x} (leave out --experiment)"
            )))
        }
        (None, Some(x)) => {
            return Err(bad(format!(
                "it holds a suite run, not a {x} experiment (leave out --experiment)"
            )))
        }
        (Some(e), None) => return Err(bad(format!("it holds a {e} experiment"))),
    }
    let (dir, info, done, warnings) = RunDir::resume(path).map_err(|e| bad(format!("{e:#}")))?;
    let plan: Plan = serde_json::from_value(info.config.clone()).map_err(|e| {
        bad(format!(
            "its run.json holds no plan this version understands: {e}"
        ))
    })?;
    let records = store::read_results(path).map_err(|e| bad(format!("{e:#}")))?;
    Ok((
        plan,
        dir,
        Before {
            info,
            records,
            done,
            warnings,
        },
    ))
}

/// The experiment configuration a resumed run started with, `None` for a
/// fresh run; a configuration this version cannot read is a usage error.
pub fn config_before(s: &Session) -> Result<Option<ExperimentConfig>> {
    let Some(b) = &s.before else {
        return Ok(None);
    };
    serde_json::from_value(b.info.config.clone())
        .map(Some)
        .map_err(|e| {
            usage(format!(
                "cannot resume {}: its run.json holds no experiment configuration this version understands: {e}",
                s.out.display()
            ))
        })
}

/// The tool facts of run.json: version, commit, and the workload binary with
/// its sha256 (from `bin_bytes`, its content).
pub fn tool_info(plan: &Plan, bin_bytes: &[u8]) -> ToolInfo {
    ToolInfo {
        isobench_version: env!("CARGO_PKG_VERSION").to_string(),
        git_commit: option_env!("ISOBENCH_GIT_COMMIT").map(str::to_string),
        workload_binary: plan.workload_bin.display().to_string(),
        workload_sha256: (!bin_bytes.is_empty())
            .then(|| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bin_bytes))),
    }
}

/// Record the finished run in the history database. A failure here is a
/// warning: the run directory already holds every result.
fn record_history(db: Option<&Path>, run_dir: &Path) {
    let db = db
        .map(Path::to_path_buf)
        .unwrap_or_else(isobench_reports::history::default_db_path);
    match isobench_reports::history::record_run_dir(&db, run_dir) {
        Ok(n) => eprintln!("history: {n} results recorded in {}", db.display()),
        Err(e) => eprintln!(
            "warning: could not record the run in {}: {e} (import it later with: isobench history --import {})",
            db.display(),
            run_dir.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::density::Settings;

    fn plan_in(dir: &Path, workload_bin: &Path) -> Plan {
        crate::plan::build(&crate::plan::PlanInput {
            envs: vec!["native".into()],
            workloads: vec!["startup".into()],
            preset: "quick".into(),
            accel: "auto".into(),
            machine: "microvm".into(),
            host_cores: 1,
            run_id: "h16-session-test".into(),
            out: Some(dir.join("run")),
            workload_bin: workload_bin.to_path_buf(),
            ..Default::default()
        })
        .unwrap()
    }

    fn record(run_id: &str) -> ResultRecord {
        serde_json::from_value(serde_json::json!({
            "schema": SCHEMA_VERSION, "run_id": run_id, "env": "native", "env_id": "native",
            "env_detail": {}, "workload": "density", "params": {"instance": 1}, "rep": 0,
            "valid": true, "metrics": {"launch_ms": 1.0}, "units": {"launch_ms": "ms"},
            "timings": {"started_unix_ms": 0, "wall_ms": 1.0}
        }))
        .unwrap()
    }

    /// A session opens a run, writes run.json with its tagged experiment,
    /// appends and finishes; a resume reopens only the same experiment and
    /// reads back what it measured and how it was configured.
    #[test]
    fn a_session_runs_resumes_and_refuses_another_experiment() {
        let t = tempfile::tempdir().unwrap();
        let bin = t.path().join("isobench-workload");
        std::fs::write(&bin, "").unwrap();
        let x = ExperimentConfig::Density(Settings {
            density_instances: Some(3),
            mem_floor_mib: 100,
        });
        let out = {
            let mut s = Session::open(None, Some("density"), || Ok(plan_in(t.path(), &bin)), false)
                .unwrap();
            assert!(s.scratch.is_dir());
            s.start(Some(&x), vec![], vec!["w".into()]).unwrap();
            s.append(&record("h16-session-test")).unwrap();
            s.finish(false, None).unwrap();
            s.out.clone()
        };
        assert!(out.is_dir() && !out.join(crate::sweep::naming::SCRATCH_DIR).exists());
        let info = store::read_run_info(&out).unwrap();
        assert_eq!(info.config["experiment"], "density");
        assert_eq!(info.config["density_instances"], 3);
        assert!(info.finished_at.is_some());
        let e = Session::open(Some(&out), Some("neighbours"), || unreachable!(), false)
            .err()
            .unwrap();
        assert!(e.to_string().contains("holds a density experiment"), "{e}");
        let e = Session::open(Some(&out), None, || unreachable!(), false)
            .err()
            .unwrap();
        assert!(e.to_string().contains("holds a density experiment"), "{e}");
        let s = Session::open(Some(&out), Some("density"), || unreachable!(), false).unwrap();
        assert_eq!(s.before.as_ref().unwrap().records.len(), 1);
        assert_eq!(s.plan.run_id, "h16-session-test");
        assert!(matches!(
            config_before(&s).unwrap(),
            Some(ExperimentConfig::Density(Settings {
                density_instances: Some(3),
                mem_floor_mib: 100
            }))
        ));
    }

    /// A fresh run that fails before it starts leaves no directory.
    #[test]
    fn a_fresh_run_failing_before_start_leaves_nothing() {
        let t = tempfile::tempdir().unwrap();
        let missing = t.path().join("no-such-workload");
        let e = Session::open(None, None, || Ok(plan_in(t.path(), &missing)), false)
            .err()
            .unwrap();
        assert!(e.to_string().contains("workload binary"), "{e}");
        assert!(!t.path().join("run").exists());
        let bin = t.path().join("isobench-workload");
        std::fs::write(&bin, "").unwrap();
        drop(Session::open(None, None, || Ok(plan_in(t.path(), &bin)), false).unwrap());
        assert!(!t.path().join("run").exists(), "not started: removed");
    }

    /// The tagged configuration is what `run.json` held before it was
    /// typed: the experiment's name and its keys beside the plan's.
    #[test]
    fn density_config_keeps_its_wire_form() {
        let x = ExperimentConfig::Density(Settings {
            density_instances: Some(10),
            mem_floor_mib: 512,
        });
        let v = serde_json::to_value(&x).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"experiment": "density", "density_instances": 10, "mem_floor_mib": 512})
        );
        let mut with_plan = v.clone();
        with_plan["reps"] = serde_json::json!(3);
        assert!(matches!(
            serde_json::from_value::<ExperimentConfig>(with_plan).unwrap(),
            ExperimentConfig::Density(Settings {
                density_instances: Some(10),
                mem_floor_mib: 512
            })
        ));
        assert!(
            serde_json::from_value::<ExperimentConfig>(serde_json::json!({"reps": 3})).is_err()
        );
    }

    mod driven {
        //! The run session driving each experiment over the fake
        //! environment (`isobench_testkit::fake_env`): no root needed.

        use super::super::*;
        use crate::experiment::density::{Density, Settings};
        use crate::experiment::fake::FakeEnv;
        use crate::experiment::neighbours::Neighbours;
        use crate::experiment::suite::Suite;
        use crate::experiment::Never;
        use std::cell::Cell;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;

        /// A fresh session in `dir` for `workloads` (quick, one rep).
        fn open(dir: &Path, workloads: &[&str], experiment: Option<&str>) -> Session {
            let bin = dir.join("isobench-workload");
            std::fs::write(&bin, "").unwrap();
            let plan = || {
                let mut p = crate::plan::build(&crate::plan::PlanInput {
                    envs: vec!["native".into()],
                    workloads: workloads.iter().map(|w| w.to_string()).collect(),
                    preset: "quick".into(),
                    accel: "auto".into(),
                    machine: "microvm".into(),
                    host_cores: 2,
                    reps: Some(1),
                    warmup: Some(0),
                    run_id: "h16-driven".into(),
                    out: Some(dir.join("run")),
                    workload_bin: bin.clone(),
                    ..Default::default()
                })?;
                p.timeout_s = 1;
                Ok(p)
            };
            Session::open(None, experiment, plan, false).unwrap()
        }

        /// One fake environment, and its count of cleanups.
        fn fake() -> (Prepared, Arc<AtomicUsize>) {
            let env = FakeEnv::default();
            let cleaned = Arc::clone(&env.cleaned);
            (Prepared(vec![Box::new(env)]), cleaned)
        }

        /// Interrupted from the `n`-th question on.
        struct After(Cell<usize>);

        impl Interrupt for After {
            fn interrupted(&self) -> bool {
                let left = self.0.get();
                self.0.set(left.saturating_sub(1));
                left == 0
            }
        }

        /// The suite: run.json untagged with the environment's entry,
        /// every run appended, the environment cleaned up, the run
        /// finished.
        #[test]
        fn the_session_drives_the_suite_to_its_end() {
            let t = tempfile::tempdir().unwrap();
            let mut s = open(t.path(), &["cpu", "membw"], None);
            let mut x = Suite {
                scratch: s.scratch.clone(),
            };
            let (envs, cleaned) = fake();
            let o = s.drive_prepared(&mut x, envs, &Never, false, None).unwrap();
            assert_eq!(
                o,
                Outcome::Done {
                    measured: 2,
                    invalid: 0
                }
            );
            assert_eq!(cleaned.load(Ordering::SeqCst), 1);
            let out = s.out.clone();
            drop(s);
            let info = store::read_run_info(&out).unwrap();
            assert!(info.finished_at.is_some());
            assert!(info.config.get("experiment").is_none());
            assert_eq!(info.environments[0].env_id, "container-fake");
            let records = store::read_results(&out).unwrap();
            assert_eq!(records.len(), 2);
            assert!(records.iter().all(|r| r.valid && r.run_id == "h16-driven"));
            assert!(!out.join(crate::sweep::naming::SCRATCH_DIR).exists());
        }

        /// An interrupt after the start keeps the run for `--resume`
        /// (unfinished); one before it leaves no directory.
        #[test]
        fn an_interrupted_run_is_kept_only_once_started() {
            let t = tempfile::tempdir().unwrap();
            let mut s = open(t.path(), &["cpu"], None);
            let mut x = Suite {
                scratch: s.scratch.clone(),
            };
            let (envs, cleaned) = fake();
            // The fit asks once; the suite's first question stops it.
            let o = s
                .drive_prepared(&mut x, envs, &After(Cell::new(1)), false, None)
                .unwrap();
            assert_eq!(o, Outcome::Interrupted);
            assert_eq!(cleaned.load(Ordering::SeqCst), 1);
            let out = s.out.clone();
            drop(s);
            let info = store::read_run_info(&out).unwrap();
            assert!(info.finished_at.is_none());
            assert!(store::read_results(&out).unwrap().is_empty());

            let t = tempfile::tempdir().unwrap();
            let mut s = open(t.path(), &["cpu"], None);
            let (envs, _) = fake();
            let o = s
                .drive_prepared(&mut x, envs, &After(Cell::new(0)), false, None)
                .unwrap();
            assert_eq!(o, Outcome::Interrupted);
            drop(s);
            assert!(!t.path().join("run").exists());
        }

        /// Density: run.json tagged with its settings, a record per launch
        /// and per teardown reading, the outcome in the environment's
        /// detail; a resume keeps a finished environment.
        #[test]
        fn the_session_drives_density_and_resumes_it() {
            let t = tempfile::tempdir().unwrap();
            let mut s = open(t.path(), &["startup"], Some("density"));
            let settings = Settings {
                density_instances: Some(3),
                mem_floor_mib: 0,
            };
            let mut x = Density::new(settings.clone(), 1024);
            let (envs, _) = fake();
            s.drive_prepared(&mut x, envs, &Never, false, None).unwrap();
            let out = s.out.clone();
            drop(s);
            let info = store::read_run_info(&out).unwrap();
            assert_eq!(info.config["experiment"], "density");
            assert_eq!(info.config["density_instances"], 3);
            assert_eq!(info.environments[0].detail["density_instances"], "3");
            assert_eq!(info.environments[0].detail["experiment"], "density");
            let records = store::read_results(&out).unwrap();
            assert_eq!(records.len(), 6, "3 launches, 3 stops");
            assert!(records.iter().all(|r| r.workload == "density"));

            let mut s =
                Session::open(Some(&out), Some("density"), || unreachable!(), false).unwrap();
            let (envs, _) = fake();
            let mut again = Density::new(
                Settings {
                    density_instances: Some(9),
                    mem_floor_mib: 7,
                },
                1024,
            );
            s.drive_prepared(&mut again, envs, &Never, false, None)
                .unwrap();
            drop(s);
            assert_eq!(store::read_results(&out).unwrap().len(), 6, "kept");
            let info = store::read_run_info(&out).unwrap();
            assert_eq!(
                info.config["density_instances"], 3,
                "the run's own settings"
            );
        }

        /// Neighbours: run.json tagged with its configuration and the
        /// victims' arguments, a record per solo and trial.
        #[test]
        fn the_session_drives_neighbours() {
            let t = tempfile::tempdir().unwrap();
            let mut s = open(t.path(), &["cpu"], Some("neighbours"));
            let mut x = Neighbours::new(vec!["cpu".into()]);
            let (envs, cleaned) = fake();
            let o = s.drive_prepared(&mut x, envs, &Never, false, None).unwrap();
            assert_eq!(
                o,
                Outcome::Done {
                    measured: 0,
                    invalid: 0
                }
            );
            assert_eq!(cleaned.load(Ordering::SeqCst), 1);
            let out = s.out.clone();
            drop(s);
            let info = store::read_run_info(&out).unwrap();
            assert_eq!(info.config["experiment"], "neighbours");
            assert_eq!(info.config["neighbours"]["antagonists"][0], "cpu");
            assert!(info.config["victim_args"]["cpu"].as_str().is_some());
            let records = store::read_results(&out).unwrap();
            assert!(records
                .iter()
                .any(|r| r.workload == isobench_reports::neighbours::WORKLOAD
                    && r.params["victim"] == "cpu"));
        }

        /// The main job: the suite, density and neighbours in one run over
        /// the same environment, run.json tagged `all`; a resume measures
        /// nothing again.
        #[test]
        fn the_session_drives_the_main_job_and_resumes_it() {
            use crate::experiment::all::All;
            let t = tempfile::tempdir().unwrap();
            let mut s = open(t.path(), &["cpu"], Some("all"));
            let new = |s: &Session| {
                let mut x = All::new(
                    Settings {
                        density_instances: Some(2),
                        mem_floor_mib: 0,
                    },
                    vec!["cpu".into()],
                    1024,
                    s.scratch.clone(),
                );
                x.permissions_blocked = || Some("not in a unit test".into());
                x
            };
            let mut x = new(&s);
            let (envs, cleaned) = fake();
            let o = s.drive_prepared(&mut x, envs, &Never, false, None).unwrap();
            assert!(matches!(o, Outcome::Done { measured: 1, .. }), "{o:?}");
            assert_eq!(cleaned.load(Ordering::SeqCst), 1);
            let out = s.out.clone();
            drop(s);
            let info = store::read_run_info(&out).unwrap();
            assert_eq!(info.config["experiment"], "all");
            assert_eq!(info.config["density_instances"], 2);
            assert!(info.config["neighbours"].is_object());
            assert!(info.finished_at.is_some());
            assert!(info
                .warnings
                .iter()
                .any(|w| w.contains("permissions (claim C6): not measured: not in a unit test")));
            let records = store::read_results(&out).unwrap();
            let count = |w: &str| records.iter().filter(|r| r.workload == w).count();
            assert_eq!((count("cpu"), count("density")), (1, 4));
            assert!(count(isobench_reports::neighbours::WORKLOAD) >= 2);

            let mut s = Session::open(Some(&out), Some("all"), || unreachable!(), false).unwrap();
            let mut x = new(&s);
            s.drive_prepared(&mut x, fake().0, &Never, false, None)
                .unwrap();
            drop(s);
            assert_eq!(store::read_results(&out).unwrap().len(), records.len());
        }

        /// A resumed run of another experiment's configuration is refused
        /// before anything is prepared.
        #[test]
        fn a_resume_as_another_experiment_is_refused() {
            let t = tempfile::tempdir().unwrap();
            let mut s = open(t.path(), &["startup"], Some("density"));
            let x = ExperimentConfig::Density(Settings {
                density_instances: Some(1),
                mem_floor_mib: 0,
            });
            s.start(Some(&x), vec![], vec![]).unwrap();
            let out = s.out.clone();
            drop(s);
            // run.json says density; a neighbours experiment cannot take it.
            let mut s =
                Session::open(Some(&out), Some("density"), || unreachable!(), false).unwrap();
            let e = s
                .drive_prepared(&mut Neighbours::new(vec![]), fake().0, &Never, false, None)
                .err()
                .unwrap();
            assert!(
                e.to_string()
                    .contains("cannot resume a density run as neighbours"),
                "{e}"
            );
        }
    }
    mod permissions {
        //! The run session driving the permission check over a fake
        //! check (the real one makes users: root): no root needed.

        use super::super::*;
        use super::record;
        use crate::experiment::permissions::check::{
            Permissions, Ready, Settings, EXPERIMENT, WARNING,
        };
        use crate::experiment::Never;

        /// Two setups: one tried (B may state), one not available here.
        struct Fake {
            interrupt: bool,
        }

        impl Ready for Fake {
            fn settings(&self) -> Settings {
                Settings {
                    setups: vec!["fake-shared".into(), "fake-missing".into()],
                    isorun: "/opt/isorun".into(),
                }
            }
            fn environments(&self) -> Vec<EnvInfo> {
                self.settings()
                    .setups
                    .into_iter()
                    .map(|id| EnvInfo {
                        env: "container".into(),
                        env_id: id,
                        detail: BTreeMap::new(),
                    })
                    .collect()
            }
            fn measure(
                self: Box<Self>,
                run_id: &str,
                stop: &dyn Interrupt,
                sink: &mut dyn Sink,
            ) -> Result<Outcome> {
                let mut tried = record(run_id);
                tried.env_id = "fake-shared".into();
                sink.append(&tried)?;
                if self.interrupt || stop.interrupted() {
                    return Ok(Outcome::Interrupted);
                }
                let mut missing = record(run_id);
                missing.env_id = "fake-missing".into();
                missing.valid = false;
                sink.append(&missing)?;
                Ok(Outcome::Done {
                    measured: 2,
                    invalid: 1,
                })
            }
        }

        fn open(dir: &Path) -> Session {
            let plan = || Ok(Plan::without_workloads("h16-perm".into(), dir.join("run")));
            Session::open(None, Some(EXPERIMENT), plan, false).unwrap()
        }

        /// A plan without workloads needs no workload binary and prepares
        /// nothing; run.json's config is the check's tagged configuration
        /// alone (its wire form before the session drove it), the setups
        /// its environments; a record per setup; the run finished.
        #[test]
        fn the_session_drives_the_permission_check() {
            let t = tempfile::tempdir().unwrap();
            let mut s = open(t.path());
            let mut x = Permissions::default();
            x.prepare = || Ok(Box::new(Fake { interrupt: false }));
            let o = s.drive(&mut x, &Never, false, None).unwrap();
            assert_eq!(
                o,
                Outcome::Done {
                    measured: 2,
                    invalid: 1
                }
            );
            let out = s.out.clone();
            drop(s);
            let info = store::read_run_info(&out).unwrap();
            assert_eq!(
                info.config,
                serde_json::json!({
                    "experiment": "permissions",
                    "setups": ["fake-shared", "fake-missing"],
                    "isorun": "/opt/isorun"
                })
            );
            assert_eq!(store::experiment_of(&info).as_deref(), Some("permissions"));
            assert_eq!(info.environments.len(), 2);
            assert_eq!(info.warnings, vec![WARNING.to_string()]);
            assert_eq!(info.tool.workload_binary, "");
            assert!(info.finished_at.is_some());
            let records = store::read_results(&out).unwrap();
            assert_eq!(records.len(), 2);
            assert!(records.iter().all(|r| r.run_id == "h16-perm"));
            assert_eq!(records.iter().filter(|r| r.valid).count(), 1);
            assert!(!out.join(crate::sweep::naming::SCRATCH_DIR).exists());
        }

        /// An interrupted check keeps what it measured, unfinished; a
        /// check that cannot be made ready leaves no run directory.
        #[test]
        fn an_interrupted_or_failed_check() {
            let t = tempfile::tempdir().unwrap();
            let mut s = open(t.path());
            let mut x = Permissions::default();
            x.prepare = || Ok(Box::new(Fake { interrupt: true }));
            assert_eq!(
                s.drive(&mut x, &Never, false, None).unwrap(),
                Outcome::Interrupted
            );
            let out = s.out.clone();
            drop(s);
            let info = store::read_run_info(&out).unwrap();
            assert!(info.finished_at.is_none());
            assert_eq!(store::read_results(&out).unwrap().len(), 1);

            let t = tempfile::tempdir().unwrap();
            let mut s = open(t.path());
            let mut x = Permissions::default();
            x.prepare = || Err(usage("busybox not found"));
            let e = s.drive(&mut x, &Never, false, None).unwrap_err();
            assert!(e.to_string().contains("busybox"), "{e}");
            drop(s);
            assert!(!t.path().join("run").exists());
        }
    }
}
