//! The main job (`isobench run --experiment all`) in one run directory with
//! one run id: the suite (every workload of the plan, claim C7's among
//! them), then density (claim C4), then neighbours (claim C5: in the
//! native column and the isorun column, victims cpu and membw), then the
//! permission check (claim C6, as root). One `isobench report` of the
//! directory decides every claim from it.
//!
//! The environments are prepared once and serve the suite, density and
//! neighbours; `--resume` continues each phase where it stopped.

use super::density::{self, preamble};
use super::neighbours::{self as nb, Setup};
use super::permissions::check as perm;
use super::suite::{self, not_run, suite_warnings};
use super::{
    env_info, host_holds, host_mem_available, Experiment, ExperimentConfig, Interrupt, Need,
    Outcome, Run, Sink, Start,
};
use crate::env::column::{Column, Engine, Runtime};
use crate::env::Environment;
use crate::plan::Plan;
use anyhow::Result;
use isobench_reports::schema::EnvInfo;
use isobench_workloads::Workload;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The experiment's name in run.json (`config.experiment`).
pub const EXPERIMENT: &str = "all";

/// The neighbour experiment's victims in the main job (those the plan runs).
pub const VICTIMS: [Workload; 2] = [Workload::Cpu, Workload::Membw];

/// What the main job asked for, in `run.json` (`config`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    pub density_instances: Option<usize>,
    pub mem_floor_mib: u64,
    pub neighbours: Option<nb::Config>,
    pub victim_args: BTreeMap<String, String>,
}

/// Whether the neighbour experiment runs in a column of the main job: the
/// native column and isorun's bare one (the quick suite's choice: the
/// peers and the VM add minutes and no claim).
pub fn neighbour_column(c: &Column) -> bool {
    match c {
        Column::Native => true,
        Column::Oci(o) => o.runtime == Runtime::Isorun && o.engine == Engine::None && !o.rootless,
        Column::Vm { .. } => false,
    }
}

/// The environments of `envs` the neighbour experiment runs in.
fn nb_envs<'a>(plan: &Plan, envs: &'a [Box<dyn Environment>]) -> Vec<&'a dyn Environment> {
    plan.envs
        .iter()
        .zip(envs.iter())
        .filter(|(c, _)| neighbour_column(c))
        .map(|(_, e)| e.as_ref())
        .collect()
}

/// The main job.
pub struct All {
    /// `--instances` and `--mem-floor` (a resumed run keeps its own).
    pub density: density::Settings,
    /// `--antagonists` (empty: the preset's choice).
    pub antagonists: Vec<String>,
    /// RLIMIT_NOFILE in force (`density::raise_nofile`).
    pub nofile: u64,
    /// The run's scratch directory.
    pub scratch: PathBuf,
    /// Why the permission check cannot run here, if it cannot
    /// (`permissions::check::needs_root`; a test says it cannot).
    pub permissions_blocked: fn() -> Option<String>,
    settings: Option<Settings>,
    nb: Option<Setup>,
    perm_blocked: Option<String>,
}

impl All {
    pub fn new(
        density: density::Settings,
        antagonists: Vec<String>,
        nofile: u64,
        scratch: PathBuf,
    ) -> All {
        All {
            density,
            antagonists,
            nofile,
            scratch,
            permissions_blocked: perm::needs_root,
            settings: None,
            nb: None,
            perm_blocked: None,
        }
    }

    /// The neighbour experiment's setup, if the plan has a victim and a
    /// column for it; its warnings go to `warnings`.
    fn neighbours(
        &self,
        plan: &Plan,
        envs: &[Box<dyn Environment>],
        warnings: &mut Vec<String>,
    ) -> Result<Option<Setup>> {
        // Neighbours: the victims the plan runs, in the columns it runs in.
        let victims: Vec<Workload> = VICTIMS
            .into_iter()
            .filter(|w| plan.workloads.contains(w))
            .collect();
        let nb_envs = nb_envs(plan, envs);
        if victims.is_empty() || nb_envs.is_empty() {
            warnings.push("neighbours: not measured (the plan runs neither cpu nor membw, or neither the native nor the isorun column)".into());
            return Ok(None);
        }
        let setup = nb::setup(plan, &victims, &self.antagonists, false)?;
        // The host must hold the largest victim beside the largest antagonist.
        host_holds(setup.need, host_mem_available(), "victim and antagonist")?;
        warnings.extend(setup.warnings.iter().cloned());
        warnings.push(format!(
            "neighbours: measured in {} only",
            nb_envs
                .iter()
                .map(|e| e.id())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        Ok(Some(setup))
    }

    /// run.json's environments: the columns (those density finished in a
    /// resumed run keep their entry) and a resumed run's entries beyond
    /// them (the permission setups).
    fn environments(
        run: &Run,
        envs: &[Box<dyn Environment>],
        ksm_before: &BTreeMap<String, String>,
    ) -> Vec<EnvInfo> {
        let mut environments: Vec<EnvInfo> = envs
            .iter()
            .map(|e| match density::finished(run.before, &e.id()) {
                Some(done) => done,
                None => {
                    let mut extra = not_run(run.plan, e.as_ref());
                    extra.extend(ksm_before.clone());
                    env_info(e.as_ref(), extra)
                }
            })
            .collect();
        if let Some(b) = run.before {
            for e in &b.info.environments {
                if !environments.iter().any(|x| x.env_id == e.env_id) {
                    environments.push(e.clone());
                }
            }
        }
        environments
    }
}

impl Experiment for All {
    type Config = Settings;
    const NAME: Option<&'static str> = Some(EXPERIMENT);
    const TITLE: &'static str = "the main job";

    fn tag(config: &Settings) -> Option<ExperimentConfig> {
        Some(ExperimentConfig::All(config.clone()))
    }

    fn untag(x: ExperimentConfig) -> Option<Settings> {
        match x {
            ExperimentConfig::All(s) => Some(s),
            _ => None,
        }
    }

    fn memory_need(
        &mut self,
        run: &Run,
        envs: &[Box<dyn Environment>],
        _before: Option<&Settings>,
    ) -> Result<Option<Need>> {
        Ok(Some(suite::need(run.plan, envs)))
    }

    fn start(
        &mut self,
        run: &Run,
        envs: &[Box<dyn Environment>],
        before: Option<Settings>,
    ) -> Result<Start<Settings>> {
        let (instances, mem_floor, nb_before) = match before {
            Some(b) => (b.density_instances, b.mem_floor_mib, b.neighbours),
            None => (
                self.density.density_instances,
                self.density.mem_floor_mib,
                None,
            ),
        };
        let mut warnings = suite_warnings(run.host, run.plan, envs);
        let (density_warnings, ksm_before) = preamble(self.nofile, mem_floor);
        warnings.extend(density_warnings);
        let nb = self.neighbours(run.plan, envs, &mut warnings)?;
        self.perm_blocked = (self.permissions_blocked)();
        if let Some(why) = &self.perm_blocked {
            warnings.push(format!("permissions (claim C6): not measured: {why}"));
        } else {
            warnings.push(perm::WARNING.into());
        }
        for w in &warnings {
            eprintln!("warning: {w}");
        }
        let environments = All::environments(run, envs, &ksm_before);
        let config = Settings {
            density_instances: instances,
            mem_floor_mib: mem_floor,
            neighbours: nb_before.or_else(|| nb.as_ref().map(|n| n.cfg.clone())),
            victim_args: nb
                .as_ref()
                .map(|n| nb::victim_args(&n.specs))
                .unwrap_or_default(),
        };
        self.nb = nb;
        self.settings = Some(config.clone());
        Ok(Start {
            config,
            warnings,
            environments,
        })
    }

    fn run(
        &mut self,
        plan: &Plan,
        envs: &mut [Box<dyn Environment>],
        sink: &mut dyn Sink,
        stop: &dyn Interrupt,
    ) -> Result<Outcome> {
        let settings = self.settings.clone().expect("started");
        eprintln!("main job: the suite ...");
        let Some(summary) = suite::suite(plan, envs, sink, &self.scratch, stop)? else {
            return Ok(Outcome::Interrupted);
        };
        eprintln!("main job: density ...");
        let d = density::Settings {
            density_instances: settings.density_instances,
            mem_floor_mib: settings.mem_floor_mib,
        };
        if !density::measure(plan, envs, &d, sink, stop)? {
            return Ok(Outcome::Interrupted);
        }
        let mut nb_invalid = 0;
        if let (Some(setup), Some(cfg)) = (&self.nb, &settings.neighbours) {
            eprintln!("main job: neighbours ...");
            let nb_envs = nb_envs(plan, envs);
            match nb::measure(&plan.run_id, &nb_envs, cfg, &setup.specs, sink, stop)? {
                Some(n) => nb_invalid = n,
                None => return Ok(Outcome::Interrupted),
            }
        }
        Ok(Outcome::Done {
            measured: summary.measured,
            invalid: summary.invalid + nb_invalid,
        })
    }

    /// The permission check, once the environments are cleaned up.
    fn after_cleanup(
        &mut self,
        plan: &Plan,
        sink: &mut dyn Sink,
        stop: &dyn Interrupt,
        outcome: Outcome,
    ) -> Result<Outcome> {
        let perm_done = sink.before().is_some_and(|b| {
            b.records
                .iter()
                .any(|r| r.workload == isobench_reports::permissions::WORKLOAD)
        });
        if self.perm_blocked.is_none() && !perm_done {
            eprintln!("main job: permissions ...");
            let check = perm::Check::prepare()?;
            sink.add_environments(check.environments());
            sink.save_info()?;
            if check.measure(&plan.run_id, stop, sink)? == Outcome::Interrupted {
                return Ok(Outcome::Interrupted);
            }
        }
        Ok(outcome)
    }
}
