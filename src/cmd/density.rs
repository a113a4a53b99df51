//! `isobench run --experiment density`: the density experiment
//! ([`crate::experiment::density`]) for every environment of the plan, one
//! after the other, into a run directory (`results.jsonl` lines with
//! workload `density`, one per launch; KSM state in each environment's
//! detail in `run.json`).

use super::run::plan_from_args;
use crate::cli::RunArgs;
use crate::env::process::Interrupted;
use crate::env::Environment;
use crate::experiment::density::{self, DensityConfig, Ended, Point, Reading, StopReading};
use crate::locate;
use crate::plan::usage;
use crate::session::{self, host_mem_available, ExperimentConfig, Session, EXIT_INTERRUPTED};
use anyhow::{Context, Result};
use isobench_reports::schema::{ResultRecord, Timings, SCHEMA_VERSION};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
    let (soft, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .context("reading RLIMIT_NOFILE")?;
    if soft < hard {
        nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard)
            .with_context(|| format!("raising RLIMIT_NOFILE's soft limit to {hard}"))?;
    }
    Ok(hard)
}

fn record(
    plan_run_id: &str,
    e: &dyn Environment,
    cfg: &DensityConfig,
    p: &Point,
    ksm_now: &BTreeMap<String, String>,
) -> ResultRecord {
    let mut metrics = BTreeMap::new();
    let mut units = BTreeMap::new();
    let mut put = |k: &str, v: Option<f64>, unit: &str| {
        if let Some(v) = v {
            metrics.insert(k.to_string(), v);
            units.insert(k.to_string(), unit.to_string());
        }
    };
    put("launch_ms", Some(p.launch_ms), "ms");
    put("instance_pss_mib", p.pss_mib, "MiB");
    put("instance_uss_mib", p.uss_mib, "MiB");
    put("host_mem_available_mib", p.host_mem_available_mib, "MiB");
    put("host_mem_used_delta_mib", p.host_mem_used_delta_mib, "MiB");
    put("reading_unix_s", Some(p.t_unix_s), "s");
    let mut info = ksm_now.clone();
    info.insert("instance_pids".into(), p.pids.to_string());
    info.insert("method".into(), crate::env::footprint::METHOD.into());
    ResultRecord {
        schema: SCHEMA_VERSION,
        run_id: plan_run_id.to_string(),
        env: e.kind().name().to_string(),
        env_id: e.id(),
        env_detail: e.detail(),
        workload: "density".into(),
        params: BTreeMap::from([
            ("instance".to_string(), serde_json::json!(p.instance)),
            (
                "instances_planned".to_string(),
                serde_json::json!(cfg.instances),
            ),
            (
                "mem_floor_mib".to_string(),
                serde_json::json!(cfg.mem_floor_mib),
            ),
        ]),
        rep: 0,
        valid: p.pss_mib.is_some(),
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
            wall_ms: p.launch_ms,
            first_instruction_ms: Some(p.launch_ms),
        },
        error: None,
    }
}

/// The record of one teardown reading: `params.phase = "stop"`,
/// `params.instance` = the instances still live, MemAvailable and its time.
fn stop_record(
    plan_run_id: &str,
    e: &dyn Environment,
    cfg: &DensityConfig,
    r: &StopReading,
) -> ResultRecord {
    let mut metrics = BTreeMap::new();
    let mut units = BTreeMap::new();
    for (k, v, unit) in [
        ("host_mem_available_mib", r.host_mem_available_mib, "MiB"),
        ("host_mem_used_delta_mib", r.host_mem_used_delta_mib, "MiB"),
        ("reading_unix_s", Some(r.t_unix_s), "s"),
    ] {
        if let Some(v) = v {
            metrics.insert(k.to_string(), v);
            units.insert(k.to_string(), unit.to_string());
        }
    }
    ResultRecord {
        schema: SCHEMA_VERSION,
        run_id: plan_run_id.to_string(),
        env: e.kind().name().to_string(),
        env_id: e.id(),
        env_detail: e.detail(),
        workload: "density".into(),
        params: BTreeMap::from([
            ("instance".to_string(), serde_json::json!(r.live)),
            ("phase".to_string(), serde_json::json!("stop")),
            (
                "instances_planned".to_string(),
                serde_json::json!(cfg.instances),
            ),
        ]),
        rep: 0,
        valid: r.host_mem_available_mib.is_some(),
        metrics,
        units,
        directions: Default::default(),
        aliases: Default::default(),
        info: BTreeMap::from([(
            "method".to_string(),
            "host MemAvailable (/proc/meminfo) after stopping one instance, newest first"
                .to_string(),
        )]),
        timings: Timings {
            started_unix_ms: (r.t_unix_s * 1e3) as u64,
            wall_ms: 0.0,
            first_instruction_ms: None,
        },
        error: None,
    }
}

/// `--mem-floor`, or its default.
pub fn mem_floor_flag(a: &RunArgs) -> u64 {
    a.mem_floor.unwrap_or(density::DEFAULT_MEM_FLOOR_MIB)
}

/// The experiment's name in run.json (`config.experiment`).
pub const EXPERIMENT: &str = "density";

pub fn run(a: &RunArgs, private_mounts: bool) -> Result<i32> {
    let nofile = raise_nofile()?;
    let mut s = Session::open(
        a.resume.as_deref(),
        Some(EXPERIMENT),
        || {
            let bin = locate::workload_bin(a.workload_bin.as_deref())
                .map_err(|e| usage(format!("{e:#}")))?;
            let mut args = a.clone();
            args.workload = vec!["startup".into()];
            plan_from_args(&args, bin)
        },
        private_mounts,
    )?;
    // What a resumed run asked for when it started.
    let (instances, mem_floor) = match session::config_before(&s)? {
        Some(ExperimentConfig::Density {
            density_instances,
            mem_floor_mib,
        }) => (density_instances, mem_floor_mib),
        Some(x) => {
            return Err(usage(format!(
                "cannot resume a {} run as density",
                x.name()
            )))
        }
        None => (a.instances, mem_floor_flag(a)),
    };
    let Some(envs) = s.prepare()? else {
        return Ok(EXIT_INTERRUPTED);
    };
    let (warnings, ksm_before) = preamble(nofile, mem_floor);
    // Environments a resumed run finished keep their record of it.
    let environments = envs
        .0
        .iter()
        .map(|e| match finished(&s, &e.id()) {
            Some(done) => done,
            None => {
                let mut extra = ksm_before.clone();
                extra.insert("experiment".into(), EXPERIMENT.into());
                session::env_info(e.as_ref(), extra)
            }
        })
        .collect();
    let x = ExperimentConfig::Density {
        density_instances: instances,
        mem_floor_mib: mem_floor,
    };
    s.start(Some(&x), environments, warnings)?;
    if !measure(&mut s, &envs.0, instances, mem_floor)? {
        return Ok(EXIT_INTERRUPTED);
    }
    drop(envs);
    s.finish(false, None)?;
    super::run::print_end(&s.out);
    Ok(0)
}

/// The run.json entry of an environment a resumed run measured to its end.
pub fn finished(s: &Session, id: &str) -> Option<isobench_reports::schema::EnvInfo> {
    s.before.as_ref().and_then(|b| {
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

/// Launch idle instances one at a time in each of `envs` (after the
/// session started), appending a record per launch and the outcome to each
/// environment's run.json detail; an environment a resumed run finished is
/// kept. `Ok(false)` when interrupted (every instance stopped).
pub fn measure(
    s: &mut Session,
    envs: &[Box<dyn Environment>],
    instances: Option<usize>,
    mem_floor: u64,
) -> Result<bool> {
    let root = Path::new("/");
    let plan = s.plan.clone();
    let quick = plan.preset == isobench_workloads::Preset::Quick;
    let records = s.records_before().to_vec();
    let mem = || host_mem_available().map(|b| b / 1024);
    let timeout = Duration::from_secs(plan.timeout_s.max(30));
    for e in envs.iter() {
        if finished(s, &e.id()).is_some() {
            eprintln!("density: {}: measured already, kept", e.id());
            continue;
        }
        // VMs by default: as many as the memory floor allows, up to a bound.
        let vm_plan = (instances.is_none() && e.kind() == crate::env::EnvKind::Vm).then(|| {
            density::vm_instances(
                density::vm_bound(e.emulated(), quick),
                host_mem_available().map(|b| b >> 20),
                mem_floor,
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
            instances: instances.unwrap_or_else(|| match &vm_plan {
                Some((n, _)) => *n,
                None => density::default_instances(e.kind(), quick),
            }),
            mem_floor_mib: mem_floor,
            ready_timeout: timeout,
        };
        // Launches an interrupted run recorded, 1..=k without a gap.
        let mut had: Vec<usize> = records
            .iter()
            .filter(|r| r.env_id == e.id() && r.workload == "density")
            .filter(|r| r.params.get("phase").and_then(|v| v.as_str()) != Some("stop"))
            .filter_map(|r| r.params.get("instance").and_then(|v| v.as_u64()))
            .map(|n| n as usize)
            .collect();
        had.sort_unstable();
        let measured = had
            .iter()
            .enumerate()
            .take_while(|(i, n)| **n == i + 1)
            .count();
        if measured > 0 {
            eprintln!(
                "density: {}: {measured} instances measured already, kept; launching them again unrecorded",
                e.id()
            );
        }
        eprintln!("density: {} up to {} instances ...", e.id(), cfg.instances);
        let res = density::run(
            e.as_ref(),
            &cfg,
            measured,
            &mem,
            &density::unix_now,
            |r| match r {
                Reading::Launch(p) => {
                    let ksm_now = ksm(root);
                    s.append(&record(&plan.run_id, e.as_ref(), &cfg, p, &ksm_now))
                }
                Reading::Stop(r) => s.append(&stop_record(&plan.run_id, e.as_ref(), &cfg, r)),
            },
        );
        let o = match res {
            Ok(o) => o,
            Err(err) if err.downcast_ref::<Interrupted>().is_some() => {
                eprintln!(
                    "interrupted; every instance was stopped; {}",
                    s.interrupted_note()
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
        if let Some(env_info) = s
            .info_mut()
            .environments
            .iter_mut()
            .find(|i| i.env_id == e.id())
        {
            let d = &mut env_info.detail;
            d.insert("density_instances".into(), o.points.len().to_string());
            d.insert(
                "density_instances_planned".into(),
                cfg.instances.to_string(),
            );
            if let Some((_, why)) = &vm_plan {
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
        s.write_info()?;
    }
    Ok(true)
}
