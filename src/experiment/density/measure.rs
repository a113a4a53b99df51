//! The density experiment over a run's environments, one after the other
//! (`results.jsonl` lines with workload `density`, one per launch and one
//! per teardown reading; KSM state and the outcome in each environment's
//! detail in `run.json`).

use super::{DensityConfig, Ended, Point, Reading, StopReading};
use crate::env::process::Interrupted;
use crate::env::Environment;
use crate::experiment::{
    env_info, host_mem_available, records_before, Before, Experiment, ExperimentConfig, Interrupt,
    Outcome, Run, Sink, Start,
};
use crate::plan::Plan;
use anyhow::{Context, Result};
use isobench_reports::schema::{EnvInfo, ResultRecord, Timings, SCHEMA_VERSION};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The experiment's name in run.json (`config.experiment`).
pub const EXPERIMENT: &str = "density";

/// What density asked for, in `run.json` (`config`, beside the plan).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// `--instances`; `None`: each column's default.
    pub density_instances: Option<usize>,
    pub mem_floor_mib: u64,
}

/// KSM state (`/sys/kernel/mm/ksm`): whether it runs and how many pages it
/// shares now. Identical pages of idle instances merge when it runs.
fn ksm(root: &Path) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for f in ["run", "pages_sharing", "pages_shared"] {
        if let Ok(v) = std::fs::read_to_string(root.join("sys/kernel/mm/ksm").join(f)) {
            m.insert(format!("ksm_{f}"), v.trim().to_string());
        }
    }
    m
}

/// Raise RLIMIT_NOFILE's soft limit to its hard limit: each live instance
/// holds a pipe. Returns the limit in force.
pub fn raise_nofile() -> Result<u64> {
    let (soft, hard) = crate::sys::nofile_limits().context("reading RLIMIT_NOFILE")?;
    if soft < hard {
        crate::sys::set_nofile_limits(hard, hard)
            .with_context(|| format!("raising RLIMIT_NOFILE's soft limit to {hard}"))?;
    }
    Ok(hard)
}

fn started_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A density record of `e` with `metrics` (name, value, unit; a `None`
/// value is left out).
fn base_record(
    run_id: &str,
    e: &dyn Environment,
    metrics: &[(&str, Option<f64>, &str)],
) -> ResultRecord {
    let mut rec = ResultRecord {
        schema: SCHEMA_VERSION,
        run_id: run_id.to_string(),
        env: e.kind().name().to_string(),
        env_id: e.id(),
        env_detail: e.detail(),
        workload: "density".into(),
        params: BTreeMap::new(),
        rep: 0,
        valid: false,
        metrics: BTreeMap::new(),
        units: BTreeMap::new(),
        directions: Default::default(),
        aliases: Default::default(),
        info: BTreeMap::new(),
        timings: Timings::default(),
        error: None,
    };
    for (k, v, unit) in metrics {
        if let Some(v) = v {
            rec.metrics.insert(k.to_string(), *v);
            rec.units.insert(k.to_string(), unit.to_string());
        }
    }
    rec
}

fn record(
    run_id: &str,
    e: &dyn Environment,
    cfg: &DensityConfig,
    p: &Point,
    ksm_now: &BTreeMap<String, String>,
) -> ResultRecord {
    let mut rec = base_record(
        run_id,
        e,
        &[
            ("launch_ms", Some(p.launch_ms), "ms"),
            ("instance_pss_mib", p.pss_mib, "MiB"),
            ("instance_uss_mib", p.uss_mib, "MiB"),
            ("host_mem_available_mib", p.host_mem_available_mib, "MiB"),
            ("host_mem_used_delta_mib", p.host_mem_used_delta_mib, "MiB"),
            ("reading_unix_s", Some(p.t_unix_s), "s"),
        ],
    );
    rec.info = ksm_now.clone();
    rec.info.insert("instance_pids".into(), p.pids.to_string());
    rec.info
        .insert("method".into(), crate::env::footprint::METHOD.into());
    rec.params = BTreeMap::from([
        ("instance".to_string(), serde_json::json!(p.instance)),
        (
            "instances_planned".to_string(),
            serde_json::json!(cfg.instances),
        ),
        (
            "mem_floor_mib".to_string(),
            serde_json::json!(cfg.mem_floor_mib),
        ),
    ]);
    rec.valid = p.pss_mib.is_some();
    rec.timings = Timings {
        started_unix_ms: started_now(),
        wall_ms: p.launch_ms,
        first_instruction_ms: Some(p.launch_ms),
    };
    rec
}

/// The record of one teardown reading: `params.phase = "stop"`,
/// `params.instance` = the instances still live, MemAvailable and its time.
fn stop_record(
    run_id: &str,
    e: &dyn Environment,
    cfg: &DensityConfig,
    r: &StopReading,
) -> ResultRecord {
    let mut rec = base_record(
        run_id,
        e,
        &[
            ("host_mem_available_mib", r.host_mem_available_mib, "MiB"),
            ("host_mem_used_delta_mib", r.host_mem_used_delta_mib, "MiB"),
            ("reading_unix_s", Some(r.t_unix_s), "s"),
        ],
    );
    rec.params = BTreeMap::from([
        ("instance".to_string(), serde_json::json!(r.live)),
        ("phase".to_string(), serde_json::json!("stop")),
        (
            "instances_planned".to_string(),
            serde_json::json!(cfg.instances),
        ),
    ]);
    rec.valid = r.host_mem_available_mib.is_some();
    rec.info = BTreeMap::from([(
        "method".to_string(),
        "host MemAvailable (/proc/meminfo) after stopping one instance, newest first".to_string(),
    )]);
    rec.timings = Timings {
        started_unix_ms: (r.t_unix_s * 1e3) as u64,
        wall_ms: 0.0,
        first_instruction_ms: None,
    };
    rec
}

/// The run.json entry of an environment a resumed run measured to its end.
pub fn finished(before: Option<&Before>, id: &str) -> Option<EnvInfo> {
    before.and_then(|b| {
        b.info
            .environments
            .iter()
            .find(|e| e.env_id == id && e.detail.contains_key("density_instances"))
            .cloned()
    })
}

/// Density's warnings (`nofile`: RLIMIT_NOFILE in force) and the KSM state
/// before it, for each environment's detail.
pub fn preamble(nofile: u64, mem_floor: u64) -> (Vec<String>, BTreeMap<String, String>) {
    let ksm_before = ksm(Path::new("/"));
    let mut warnings = vec![format!(
        "density: RLIMIT_NOFILE {nofile}; instances are idle (isobench-workload idle); memory floor {mem_floor} MiB"
    )];
    if ksm_before.get("ksm_run").map(String::as_str) == Some("1") {
        warnings.push("KSM is running: identical pages of idle instances merge over time, so later instances look cheaper".into());
    }
    (warnings, ksm_before)
}

/// How far to go in `e`: the instance count (`--instances`, else VMs as
/// many as the memory floor allows up to a bound, else the column's
/// default), and for a VM by default why that many.
fn plan_for(
    e: &dyn Environment,
    plan: &Plan,
    s: &Settings,
) -> (DensityConfig, Option<(usize, String)>) {
    let quick = plan.preset == isobench_workloads::Preset::Quick;
    let vm_plan =
        (s.density_instances.is_none() && e.kind() == crate::env::EnvKind::Vm).then(|| {
            super::vm_instances(
                super::vm_bound(e.emulated(), quick),
                host_mem_available().map(|b| b >> 20),
                s.mem_floor_mib,
                e.detail().get("memory_mib").and_then(|m| m.parse().ok()),
            )
        });
    if let Some((n, why)) = &vm_plan {
        eprintln!("density: {}: {why}", e.id());
        if *n < 3 {
            eprintln!(
                "warning: density: {}: {n} VMs give no slope of host memory per instance (3 needed); the report says so",
                e.id()
            );
        }
    }
    let cfg = DensityConfig {
        instances: s.density_instances.unwrap_or_else(|| match &vm_plan {
            Some((n, _)) => *n,
            None => super::default_instances(e.kind(), quick),
        }),
        mem_floor_mib: s.mem_floor_mib,
        ready_timeout: Duration::from_secs(plan.timeout_s.max(30)),
    };
    (cfg, vm_plan)
}

/// Launches of `env_id` an interrupted run recorded, 1..=k without a gap.
fn measured_before(records: &[ResultRecord], env_id: &str) -> usize {
    let mut had: Vec<usize> = records
        .iter()
        .filter(|r| r.env_id == env_id && r.workload == "density")
        .filter(|r| r.params.get("phase").and_then(|v| v.as_str()) != Some("stop"))
        .filter_map(|r| r.params.get("instance").and_then(|v| v.as_u64()))
        .map(|n| n as usize)
        .collect();
    had.sort_unstable();
    had.iter()
        .enumerate()
        .take_while(|(i, n)| **n == i + 1)
        .count()
}

/// The outcome in `e`'s run.json detail.
fn note_outcome(
    d: &mut BTreeMap<String, String>,
    o: &super::Outcome,
    cfg: &DensityConfig,
    vm_plan: &Option<(usize, String)>,
) {
    d.insert("density_instances".into(), o.points.len().to_string());
    d.insert(
        "density_instances_planned".into(),
        cfg.instances.to_string(),
    );
    if let Some((_, why)) = vm_plan {
        d.insert("density_plan".into(), why.clone());
    }
    d.insert(
        "density_ended".into(),
        match o.ended {
            Ended::Count => "count",
            Ended::MemFloor => "memory floor",
        }
        .into(),
    );
    d.insert(
        "density_launch_wall_s".into(),
        format!("{:.1}", o.launch_wall_s),
    );
    d.insert(
        "density_stop_wall_s".into(),
        format!("{:.1}", o.stop_wall_s),
    );
}

/// Launch idle instances one at a time in each of `envs` (after the run
/// started), appending a record per launch and the outcome to each
/// environment's run.json detail; an environment a resumed run finished is
/// kept. `Ok(false)` when interrupted (every instance stopped).
pub fn measure(
    plan: &Plan,
    envs: &[Box<dyn Environment>],
    s: &Settings,
    sink: &mut dyn Sink,
    stop: &dyn Interrupt,
) -> Result<bool> {
    let root = Path::new("/");
    let records = records_before(sink);
    let mem = || host_mem_available().map(|b| b / 1024);
    for e in envs.iter() {
        if finished(sink.before(), &e.id()).is_some() {
            eprintln!("density: {}: measured already, kept", e.id());
            continue;
        }
        let (cfg, vm_plan) = plan_for(e.as_ref(), plan, s);
        let measured = measured_before(&records, &e.id());
        if measured > 0 {
            eprintln!(
                "density: {}: {measured} instances measured already, kept; launching them again unrecorded",
                e.id()
            );
        }
        eprintln!("density: {} up to {} instances ...", e.id(), cfg.instances);
        let res = super::run(
            e.as_ref(),
            &cfg,
            measured,
            &mem,
            &super::unix_now,
            stop,
            |r| match r {
                Reading::Launch(p) => {
                    let ksm_now = ksm(root);
                    sink.append(&record(&plan.run_id, e.as_ref(), &cfg, p, &ksm_now))
                }
                Reading::Stop(r) => sink.append(&stop_record(&plan.run_id, e.as_ref(), &cfg, r)),
            },
        );
        let o = match res {
            Ok(o) => o,
            Err(err) if err.downcast_ref::<Interrupted>().is_some() => {
                eprintln!(
                    "interrupted; every instance was stopped; {}",
                    sink.interrupted_note()
                );
                return Ok(false);
            }
            Err(err) => return Err(err.context(format!("density in {}", e.id()))),
        };
        let last = o.points.last();
        eprintln!(
            "density: {}: {} instances{} in {:.1} s, stopped one at a time ({} readings) in {:.1} s; last launch {:.0} ms, PSS {:.2} MiB, host used +{:.0} MiB",
            e.id(),
            o.points.len(),
            if o.ended == Ended::MemFloor { " (memory floor reached)" } else { "" },
            o.launch_wall_s,
            o.stops.len(),
            o.stop_wall_s,
            last.map_or(f64::NAN, |p| p.launch_ms),
            last.and_then(|p| p.pss_mib).unwrap_or(f64::NAN),
            last.and_then(|p| p.host_mem_used_delta_mib).unwrap_or(f64::NAN),
        );
        if let Some(d) = sink.env_detail(&e.id()) {
            note_outcome(d, &o, &cfg, &vm_plan);
        }
        sink.save_info()?;
    }
    Ok(true)
}

/// `isobench run --experiment density`: [`measure`] in every environment
/// of the plan.
pub struct Density {
    /// What the flags asked for (a resumed run keeps its own).
    pub fresh: Settings,
    /// RLIMIT_NOFILE in force ([`raise_nofile`]).
    pub nofile: u64,
    settings: Option<Settings>,
}

impl Density {
    pub fn new(fresh: Settings, nofile: u64) -> Density {
        Density {
            fresh,
            nofile,
            settings: None,
        }
    }
}

impl Experiment for Density {
    type Config = Settings;
    const NAME: Option<&'static str> = Some(EXPERIMENT);
    const TITLE: &'static str = "density";

    fn tag(config: &Settings) -> Option<ExperimentConfig> {
        Some(ExperimentConfig::Density(config.clone()))
    }

    fn untag(x: ExperimentConfig) -> Option<Settings> {
        match x {
            ExperimentConfig::Density(s) => Some(s),
            _ => None,
        }
    }

    fn start(
        &mut self,
        run: &Run,
        envs: &[Box<dyn Environment>],
        before: Option<Settings>,
    ) -> Result<Start<Settings>> {
        let config = before.unwrap_or_else(|| self.fresh.clone());
        let (warnings, ksm_before) = preamble(self.nofile, config.mem_floor_mib);
        // Environments a resumed run finished keep their record of it.
        let environments = envs
            .iter()
            .map(|e| match finished(run.before, &e.id()) {
                Some(done) => done,
                None => {
                    let mut extra = ksm_before.clone();
                    extra.insert("experiment".into(), EXPERIMENT.into());
                    env_info(e.as_ref(), extra)
                }
            })
            .collect();
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
        let s = self.settings.clone().unwrap_or_else(|| self.fresh.clone());
        Ok(if measure(plan, envs, &s, sink, stop)? {
            Outcome::Done {
                measured: 0,
                invalid: 0,
            }
        } else {
            Outcome::Interrupted
        })
    }
}
