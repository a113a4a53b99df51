//! Experiments (docs/design.md, "Experiments beyond one instance"): the
//! suite and those that hold several live [`crate::env::Instance`]s at
//! once. Each implements [`Experiment`]; the run session
//! (`Session::drive` in the session module) opens the run, prepares and sizes the
//! environments, writes `run.json` with the experiment's tagged
//! configuration ([`ExperimentConfig`]) and hands the experiment a record
//! [`Sink`] and an [`Interrupt`] source: nothing here reaches the run
//! directory or the signal flag itself, so every experiment runs against
//! fakes without root.
//!
//! The suite ([`suite::Suite`]), density, neighbours, the main job
//! ([`all::All`]) and the permission check
//! ([`permissions::check::Permissions`]) implement [`Experiment`]. The
//! permission check has no environments and no workloads: the session
//! drives it over a plan without workloads
//! ([`crate::plan::Plan::without_workloads`]), preparing nothing, and its
//! run.json's `config` is its tagged configuration alone.
//!
//! Layer reuse (claim C7, [`layers`]) is not an experiment but a workload
//! of the suite, and rightly so: it is `Workload::Layers` of the workloads
//! crate, with its preset sizes, its metrics' units and directions defined
//! there; it is measured once per repetition in the suite's shuffled
//! schedule, resumed by the suite's done keys, and its records are analysed
//! like any workload's (medians and intervals over repetitions). What sets
//! it apart is only where it runs: on the host, against isorun's layer
//! store, recorded in the native column (the suite's `run_one` hands it to
//! [`layers::measure_in`] instead of the environment). As an experiment it
//! would duplicate the suite's repetitions, resume and analysis for one
//! workload.

pub mod all;
pub mod density;
#[cfg(test)]
pub mod fake;
pub mod layers;
pub mod neighbours;
pub mod permissions;
pub mod suite;

use crate::env::Environment;
use crate::plan::Plan;
use crate::store::DoneKey;
use anyhow::Result;
use isobench_reports::schema::{EnvInfo, HostInfo, ResultRecord, RunInfo};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// Whether the user asked the run to stop (SIGINT, SIGTERM, SIGHUP).
pub trait Interrupt {
    fn interrupted(&self) -> bool;
}

/// The process's signal flag (`crate::env::process::interrupted`).
pub struct Signals;

impl Interrupt for Signals {
    fn interrupted(&self) -> bool {
        crate::env::process::interrupted()
    }
}

/// Never interrupted (tests, and phases nothing may cut short).
pub struct Never;

impl Interrupt for Never {
    fn interrupted(&self) -> bool {
        false
    }
}

/// Where an experiment's records go: `results.jsonl` of the run through
/// the session, a vector in tests.
pub trait Sink {
    fn append(&mut self, r: &ResultRecord) -> Result<()>;
    /// What a resumed run measured before (`None` for a fresh run).
    fn before(&self) -> Option<&Before>;
    /// The `run.json` detail of environment `env_id`, to amend (then
    /// [`Sink::save_info`]).
    fn env_detail(&mut self, env_id: &str) -> Option<&mut BTreeMap<String, String>>;
    /// Add entries to `run.json`'s environments (then [`Sink::save_info`]).
    fn add_environments(&mut self, e: Vec<EnvInfo>);
    /// Write `run.json` as amended.
    fn save_info(&mut self) -> Result<()>;
    /// How to continue the run after an interruption.
    fn interrupted_note(&self) -> String;
}

/// Records a resumed run holds through `sink` (none for a fresh run).
pub fn records_before(sink: &dyn Sink) -> Vec<ResultRecord> {
    sink.before().map_or_else(Vec::new, |b| b.records.clone())
}

/// What a resumed run measured before.
pub struct Before {
    pub info: RunInfo,
    pub records: Vec<ResultRecord>,
    pub done: HashSet<DoneKey>,
    /// What reading it back found (a line cut short by a crash...).
    pub warnings: Vec<String>,
}

/// What an experiment sees of its run before it starts.
pub struct Run<'a> {
    pub plan: &'a Plan,
    pub host: &'a HostInfo,
    pub before: Option<&'a Before>,
}

/// Memory every environment must hold at once, and what names it in the
/// error when the host cannot.
pub struct Need {
    pub bytes: u64,
    pub what: &'static str,
}

/// What `run.json` starts with: the configuration (a resumed run's, else a
/// fresh one), the warnings and each environment's entry.
pub struct Start<C> {
    pub config: C,
    pub warnings: Vec<String>,
    pub environments: Vec<EnvInfo>,
}

/// How an experiment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It measured all it planned: `measured` records (runs, trials...),
    /// `invalid` of them invalid or failed.
    Done { measured: usize, invalid: usize },
    /// The user interrupted it; what was measured is kept for `--resume`.
    Interrupted,
}

/// One experiment, driven by the run session: after the environments are
/// prepared it says what memory they must hold, then what `run.json`
/// starts with, then it runs.
pub trait Experiment {
    /// What the experiment asked for when it started: kept in `run.json`
    /// (through [`Experiment::tag`]) so that `--resume` continues it.
    type Config;
    /// Its name in `run.json` (`config.experiment`); `None`: the suite.
    const NAME: Option<&'static str>;
    /// How a resume error names it ("cannot resume a X run as TITLE").
    const TITLE: &'static str;
    /// The configuration in `run.json`'s tagged form (`None`: untagged).
    fn tag(config: &Self::Config) -> Option<ExperimentConfig>;
    /// A resumed run's configuration, if it is this experiment's.
    fn untag(x: ExperimentConfig) -> Option<Self::Config>;
    /// Memory each prepared environment must hold (`None`, the default:
    /// no check).
    fn memory_need(
        &mut self,
        _run: &Run,
        _envs: &[Box<dyn Environment>],
        _before: Option<&Self::Config>,
    ) -> Result<Option<Need>> {
        Ok(None)
    }
    /// `run.json`'s start: `before` is a resumed run's configuration.
    fn start(
        &mut self,
        run: &Run,
        envs: &[Box<dyn Environment>],
        before: Option<Self::Config>,
    ) -> Result<Start<Self::Config>>;
    /// Measure, appending each record to `sink` as it is taken.
    fn run(
        &mut self,
        plan: &Plan,
        envs: &mut [Box<dyn Environment>],
        sink: &mut dyn Sink,
        stop: &dyn Interrupt,
    ) -> Result<Outcome>;
    /// After the environments were cleaned up (the main job's permission
    /// check runs here); `outcome` is what [`Experiment::run`] returned.
    fn after_cleanup(
        &mut self,
        _plan: &Plan,
        _sink: &mut dyn Sink,
        _stop: &dyn Interrupt,
        outcome: Outcome,
    ) -> Result<Outcome> {
        Ok(outcome)
    }
}

/// What an experiment asked for when it started, kept in `run.json`'s
/// `config` beside the plan (tagged by `experiment`; a suite run has no
/// tag), so that `--resume` continues the same experiment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "experiment", rename_all = "lowercase")]
pub enum ExperimentConfig {
    Density(density::Settings),
    Neighbours(neighbours::Settings),
    /// The main job: the suite, density, neighbours (when the plan has a
    /// victim and a column for it) and the permission check.
    All(all::Settings),
    Permissions(permissions::check::Settings),
}

impl ExperimentConfig {
    pub fn name(&self) -> &'static str {
        match self {
            ExperimentConfig::Density(_) => "density",
            ExperimentConfig::Neighbours(_) => "neighbours",
            ExperimentConfig::All(_) => "all",
            ExperimentConfig::Permissions(_) => "permissions",
        }
    }
}

/// The host must hold `need` bytes at all (`avail`: its MemAvailable);
/// `what` names the allocation in the usage error.
pub fn host_holds(need: u64, avail: Option<u64>, what: &str) -> Result<()> {
    if let Some(avail) = avail {
        if need > avail {
            return Err(crate::plan::usage(format!(
                "{what} allocate up to {} MiB but the host has only {} MiB available; free memory or use --preset quick",
                need >> 20,
                avail >> 20
            )));
        }
    }
    Ok(())
}

/// Host MemAvailable in bytes.
pub fn host_mem_available() -> Option<u64> {
    crate::host::mem_available_bytes(std::path::Path::new("/"))
}

/// The `run.json` entry of an environment, with `extra` detail.
pub fn env_info(e: &dyn Environment, extra: BTreeMap<String, String>) -> EnvInfo {
    let mut detail = e.detail();
    detail.extend(extra);
    EnvInfo {
        env: e.kind().name().to_string(),
        env_id: e.id(),
        detail,
    }
}

/// A [`Sink`] in memory, for tests: the records appended and `run.json`'s
/// environments as amended.
#[cfg(test)]
#[derive(Default)]
pub struct MemorySink {
    pub records: Vec<ResultRecord>,
    pub before: Option<Before>,
    pub environments: Vec<EnvInfo>,
    pub saved: usize,
}

#[cfg(test)]
impl Sink for MemorySink {
    fn append(&mut self, r: &ResultRecord) -> Result<()> {
        self.records.push(r.clone());
        Ok(())
    }
    fn before(&self) -> Option<&Before> {
        self.before.as_ref()
    }
    fn env_detail(&mut self, env_id: &str) -> Option<&mut BTreeMap<String, String>> {
        self.environments
            .iter_mut()
            .find(|e| e.env_id == env_id)
            .map(|e| &mut e.detail)
    }
    fn add_environments(&mut self, e: Vec<EnvInfo>) {
        self.environments.extend(e);
    }
    fn save_info(&mut self) -> Result<()> {
        self.saved += 1;
        Ok(())
    }
    fn interrupted_note(&self) -> String {
        "continue with: --resume".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `run.json`'s tagged form is what it was before the configurations
    /// were typed per experiment: a resume of an old run reads it.
    #[test]
    fn tagged_configurations_keep_their_wire_form() {
        let all = serde_json::json!({
            "experiment": "all", "reps": 3, "density_instances": null,
            "mem_floor_mib": 2048, "neighbours": null, "victim_args": {"cpu": "cpu --x 1"}
        });
        let x: ExperimentConfig = serde_json::from_value(all).unwrap();
        let ExperimentConfig::All(s) = &x else {
            panic!("{x:?}")
        };
        assert_eq!((s.density_instances, s.mem_floor_mib), (None, 2048));
        assert_eq!(s.victim_args["cpu"], "cpu --x 1");
        assert_eq!(
            serde_json::to_value(&x).unwrap(),
            serde_json::json!({
                "experiment": "all", "density_instances": null, "mem_floor_mib": 2048,
                "neighbours": null, "victim_args": {"cpu": "cpu --x 1"}
            })
        );
        let nb = serde_json::json!({"experiment": "neighbours", "victim_args": {}});
        assert!(
            serde_json::from_value::<ExperimentConfig>(nb).is_err(),
            "neighbours needs its configuration"
        );
        assert_eq!(x.name(), "all");
    }

    /// The memory check names the allocation and the host's room.
    #[test]
    fn the_host_must_hold_the_need() {
        assert!(host_holds(10 << 20, Some(20 << 20), "x").is_ok());
        assert!(host_holds(10 << 20, None, "x").is_ok());
        let e = host_holds(30 << 20, Some(20 << 20), "the workloads").unwrap_err();
        assert!(
            e.to_string()
                .contains("the workloads allocate up to 30 MiB"),
            "{e}"
        );
        assert!(e.is::<crate::plan::UsageError>() || e.to_string().contains("only 20 MiB"));
    }
}
