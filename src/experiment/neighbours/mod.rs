//! Noisy neighbours (claim C5): a victim workload measured alone and beside
//! a sibling instance of the same environment running an antagonist
//! (`isobench-workload antagonist`), in two placements: `shared` (no limits)
//! and `partitioned` (victim and antagonist on disjoint CPUs; containers
//! also get a CPU quota, memory and pids limits).
//!
//! One trial: launch the antagonist, bounded by `--duration-ms`, wait for
//! its first progress line (its pressure has started: buffers built,
//! workers running), let it ramp up ([`Config::settle`]), run the victim to
//! completion, then stop the antagonist at once and read its last progress
//! line: its `rate` over the time it ran is the pressure it achieved. Trials
//! of one repetition run in a seeded shuffled order, like the suite
//! runner's; a resumed run skips the trials already recorded. The records
//! have the format the reports crate reads (`isobench_reports::neighbours`).
//!
//! The loop takes the environment as a parameter, so it is tested without
//! root against a fake environment.

use super::density::Fleet;
mod setup;

pub use setup::{check, measure, setup, victim_args, Neighbours, Settings, Setup, EXPERIMENT};

use super::Interrupt;
use crate::env::process::{tail_lines, Interrupted};
use crate::env::{EnvKind, Environment, Limits, RunOutcome};
use anyhow::{anyhow, Context, Result};
use isobench_reports::neighbours::{ALL_CORES, ALONE, ANTAGONIST_RATE, ONE_CORE, SOLO, WORKLOAD};
use isobench_reports::schema::ResultRecord;
use isobench_workloads::antagonist::{last_progress, Progress, PROGRESS_MARKER};
use isobench_workloads::{Workload, WorkloadSpec};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime};

/// Workloads that can be victims.
pub const VICTIMS: [Workload; 4] = [
    Workload::Cpu,
    Workload::Membw,
    Workload::Randacc,
    Workload::Latency,
];
/// Every antagonist kind.
pub const ANTAGONISTS: [&str; 4] = isobench_workloads::antagonist::Kind::NAMES;
/// The quick preset's antagonists.
pub const QUICK_ANTAGONISTS: [&str; 2] = ["cpu", "membw"];
/// Children the fork antagonist may hold at once (its own bound).
pub const FORK_MAX_PROCS: u64 = 64;
/// pids limit of every antagonist container (the environment's bound on
/// the fork storm, on top of `--max-procs`).
pub const ANTAGONIST_PIDS: u64 = 128;
/// pids limit of a partitioned victim container.
pub const VICTIM_PIDS: u64 = 256;

/// Where victim and antagonist run relative to each other.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Placement {
    Shared,
    Partitioned,
}

impl Placement {
    pub fn name(self) -> &'static str {
        match self {
            Placement::Shared => "shared",
            Placement::Partitioned => "partitioned",
        }
    }
}

/// What one environment's neighbour run does (kept in run.json, and read
/// back from it by `--resume`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Config {
    pub victims: Vec<Workload>,
    /// Antagonist kinds (the victim alone is always measured too).
    pub antagonists: Vec<String>,
    pub placements: Vec<Placement>,
    pub reps: u32,
    pub seed: u64,
    /// Threads of the antagonist (the victim's come with its spec).
    pub threads: usize,
    /// Host CPUs, split between victim and antagonist when partitioned.
    pub host_cpus: usize,
    /// Host last-level cache size: sizes the membw and llc antagonists.
    pub llc_bytes: Option<u64>,
    /// Memory limit of a partitioned container (MiB).
    pub container_memory_mib: Option<u64>,
    /// Longest one launch or victim run may take.
    pub timeout: Duration,
    /// Between the antagonist's READY and the victim's launch.
    pub settle: Duration,
    /// Antagonist duration when no victim time is known yet (ms).
    pub default_duration_ms: u64,
    /// Each victim beside the antagonist of its own resource only
    /// ([`matched`]; the quick variant), not beside every antagonist.
    #[serde(default)]
    pub matched_only: bool,
    /// Run each (placement, victim) alone once, unrecorded, first.
    #[serde(default = "yes")]
    pub warmup: bool,
    /// Bound a native antagonist by a pids cgroup of its own (needs the
    /// right to create cgroups: root); else only by `--max-procs`.
    #[serde(default = "yes")]
    pub native_pids: bool,
    /// How long each antagonist runs alone to measure its solo rate (ms).
    #[serde(default = "solo_ms")]
    pub solo_ms: u64,
}

fn solo_ms() -> u64 {
    1000
}

fn yes() -> bool {
    true
}

/// The antagonist that presses on the resource `victim` measures: the CPU
/// hog for cpu, the streamer for membw, the LLC thrasher for randacc and
/// latency.
pub fn matched(victim: Workload) -> &'static str {
    match victim {
        Workload::Membw => "membw",
        Workload::Randacc | Workload::Latency => "llc",
        _ => "cpu",
    }
}

/// One measurement: a victim alone (`antagonist` None) or beside one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trial {
    pub placement: Placement,
    pub victim: Workload,
    pub antagonist: Option<String>,
}

/// A trial of a repetition as its record names it: (rep, placement,
/// victim, antagonist or [`ALONE`]). What `--resume` skips.
pub type TrialKey = (u32, String, String, String);

impl Trial {
    pub fn key(&self, rep: u32) -> TrialKey {
        (
            rep,
            self.placement.name().to_string(),
            self.victim.name().to_string(),
            self.antagonist.clone().unwrap_or_else(|| ALONE.to_string()),
        )
    }
}

/// The trials `records` of environment `env_id` hold (any validity: a
/// failed trial was measured too, as the suite runner counts it).
pub fn done_trials(records: &[ResultRecord], env_id: &str) -> BTreeSet<TrialKey> {
    let p =
        |r: &ResultRecord, k: &str| r.params.get(k).and_then(|v| v.as_str()).map(str::to_string);
    records
        .iter()
        .filter(|r| r.env_id == env_id && r.workload == WORKLOAD)
        .filter_map(|r| {
            Some((
                r.rep,
                p(r, "placement")?,
                p(r, "victim")?,
                p(r, "antagonist")?,
            ))
        })
        .collect()
}

/// The trials of repetition `rep` in their (seeded, shuffled) order.
pub fn order(cfg: &Config, env_index: usize, rep: u32) -> Vec<Trial> {
    let mut v = Vec::new();
    for &placement in &cfg.placements {
        for &victim in &cfg.victims {
            let beside = cfg
                .antagonists
                .iter()
                .filter(|a| !cfg.matched_only || a.as_str() == matched(victim))
                .cloned()
                .map(Some);
            for antagonist in std::iter::once(None).chain(beside) {
                v.push(Trial {
                    placement,
                    victim,
                    antagonist,
                });
            }
        }
    }
    let mix = (rep as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (env_index as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.seed ^ mix);
    v.shuffle(&mut rng);
    v
}

/// Which instance of a trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Victim,
    Antagonist,
}

/// The limits of `role` in `placement` for an environment of `kind`. A
/// container or native antagonist always gets a pids limit (the fork
/// storm's bound: the container's cgroup, or a pids cgroup of the native
/// process's own); a VM's guest bounds its own processes.
pub fn limits(cfg: &Config, kind: EnvKind, placement: Placement, role: Role) -> Limits {
    let container = kind == EnvKind::Container;
    let mut l = Limits::default();
    let pids_bound = container || (kind == EnvKind::Native && cfg.native_pids);
    if pids_bound && role == Role::Antagonist {
        l.pids = Some(ANTAGONIST_PIDS);
    }
    if placement == Placement::Partitioned && cfg.host_cpus >= 2 {
        let half = cfg.host_cpus / 2;
        let cpus: Vec<usize> = match role {
            Role::Victim => (0..half).collect(),
            Role::Antagonist => (half..cfg.host_cpus).collect(),
        };
        if container {
            l.cpu_quota_pct = Some(100 * cpus.len() as u32);
            l.memory_mib = cfg.container_memory_mib;
            if role == Role::Victim {
                l.pids = Some(VICTIM_PIDS);
            }
        }
        l.cpus = Some(cpus);
    }
    l
}

/// The working set per thread of a `membw` or `llc` antagonist and how it
/// was chosen, by the workloads crate's rule
/// ([`isobench_workloads::antagonist::choose_size`]): the host's last-level
/// cache (`llc_bytes`) capped at
/// [`isobench_workloads::antagonist::LLC_CAP_BYTES`] (a guest has reported
/// 480 MiB), membw's arrays 4x it shared among the threads, llc's chase 1x
/// it. `None` for the other kinds.
pub fn antagonist_size(
    kind: &str,
    threads: usize,
    llc_bytes: Option<u64>,
) -> Option<(u64, String)> {
    use isobench_workloads::antagonist::{choose_size, Kind};
    let k = match kind {
        "membw" => Kind::Membw,
        "llc" => Kind::Llc,
        _ => return None,
    };
    Some(choose_size(k, None, llc_bytes, threads))
}

/// The antagonist's command line. Sizes follow the host's last-level cache
/// ([`antagonist_size`]); given explicitly so that the memory it needs is
/// known before launch.
///
/// # Panics
/// If `kind` is not one of [`ANTAGONISTS`] (checked when planned).
pub fn antagonist_spec(
    kind: &str,
    threads: usize,
    duration_ms: u64,
    llc_bytes: Option<u64>,
) -> WorkloadSpec {
    use isobench_workloads::antagonist::{AntagonistConfig, Kind};
    let k: Kind = kind
        .parse()
        .expect("antagonist kinds are checked when planned");
    // Not a suite workload: its spec's `Idle` only tells the environments
    // not to measure a startup footprint.
    WorkloadSpec::new(isobench_workloads::args::Command::Antagonist(
        AntagonistConfig {
            kind: k,
            threads,
            size_bytes: antagonist_size(kind, threads, llc_bytes).map(|(b, _)| b),
            max_procs: FORK_MAX_PROCS as usize,
            duration: Some(Duration::from_millis(duration_ms)),
        },
    ))
}

/// What one trial measured.
#[derive(Debug)]
pub struct Measured {
    pub victim: RunOutcome,
    /// Victim launch to its end, as the host saw it.
    pub victim_wall: Duration,
    /// The antagonist's last progress when it was stopped (its `rate`), and
    /// how long it was allowed to run.
    pub antagonist: Option<(Result<Progress>, u64)>,
    /// The antagonist's first progress line to the victim's end: it must
    /// be below its duration, or the victim ran partly alone.
    pub exposed: Option<Duration>,
}

/// The antagonist's last progress in `out`, the output of an antagonist
/// stopped when its victim ended. An error when it finished on its own
/// first (a result line: the victim ran partly alone) or printed no
/// progress.
pub fn antagonist_progress(out: &str) -> Result<Progress> {
    if isobench_workloads::protocol::find_result(out).is_ok() {
        anyhow::bail!(
            "the antagonist ended on its own before the victim did: the victim ran partly alone"
        );
    }
    last_progress(out).ok_or_else(|| {
        anyhow!(
            "the antagonist printed no progress line:\n{}",
            tail_lines(out, 5)
        )
    })
}

/// Antagonist duration for a victim whose longest run so far took `longest`:
/// only a bound (the antagonist is stopped when its victim ends), so a
/// generous one: room for a victim slowed to a fifth of its speed on a
/// busy host, plus launch.
pub fn duration_for(longest: Option<Duration>, default_ms: u64) -> u64 {
    longest.map_or(default_ms, |d| {
        (5.0 * d.as_secs_f64() * 1e3) as u64 + 10_000
    })
}

/// Run one trial; every instance is stopped on every path.
pub fn trial(
    env: &dyn Environment,
    cfg: &Config,
    t: &Trial,
    spec: &WorkloadSpec,
    duration_ms: u64,
    stop: &dyn Interrupt,
) -> Result<Measured> {
    let kind = env.kind();
    let mut fleet = Fleet::default();
    let mut ready_at = None;
    if let Some(a) = &t.antagonist {
        let l = limits(cfg, kind, t.placement, Role::Antagonist);
        let mut inst = env
            .launch_with(
                &antagonist_spec(a, cfg.threads, duration_ms, cfg.llc_bytes),
                cfg.timeout,
                &l,
            )
            .with_context(|| format!("launching the {a} antagonist"))?;
        let ready = inst
            .wait_ready(cfg.timeout)
            .and_then(|_| inst.wait_line(PROGRESS_MARKER, cfg.timeout));
        fleet.0.push(inst);
        ready.with_context(|| format!("the {a} antagonist never started its pressure"))?;
        ready_at = Some(Instant::now());
        std::thread::sleep(cfg.settle);
        if stop.interrupted() {
            return Err(Interrupted.into());
        }
    }
    let l = limits(cfg, kind, t.placement, Role::Victim);
    let t0 = Instant::now();
    let victim = env
        .launch_with(spec, cfg.timeout, &l)
        .with_context(|| format!("launching the {} victim", t.victim))?
        .wait(cfg.timeout)
        .with_context(|| format!("the {} victim", t.victim))?;
    let victim_wall = t0.elapsed();
    let exposed = ready_at.map(|r| r.elapsed());
    let antagonist = match fleet.0.pop() {
        None => None,
        Some(inst) => {
            // Stopped at once: its progress so far is its pressure. Its
            // failure (e.g. OOM-killed at a limit) invalidates the record,
            // which keeps the victim's figures.
            let a = inst
                .stop_output()
                .context("stopping the antagonist")
                .and_then(|out| antagonist_progress(&out));
            Some((a, duration_ms))
        }
    };
    Ok(Measured {
        victim,
        victim_wall,
        antagonist,
        exposed,
    })
}

/// The `results.jsonl` record of one trial.
pub fn to_record(
    run_id: &str,
    env: &dyn Environment,
    rep: u32,
    t: &Trial,
    limits: &Limits,
    started: SystemTime,
    m: &Result<Measured>,
) -> ResultRecord {
    let mut rec = crate::runner::blank_record(run_id, env, WORKLOAD, rep, started);
    match m {
        Err(e) => rec.error = Some(format!("{e:#}")),
        Ok(m) => {
            let r = &m.victim.result;
            rec.params = r.params.clone();
            rec.metrics = r.metrics.clone();
            rec.units = r.units.clone();
            rec.directions = r.directions.clone();
            rec.aliases = r.aliases.clone();
            rec.info = r.info.clone();
            rec.valid = r.valid && !r.metrics.is_empty();
            rec.error = r.error.clone();
            if rec.valid && r.metrics.is_empty() {
                rec.error = Some("the victim reported no metrics".into());
            }
            rec.timings.wall_ms = m.victim_wall.as_secs_f64() * 1e3;
            rec.timings.first_instruction_ms =
                m.victim.first_instruction.map(|d| d.as_secs_f64() * 1e3);
            if let Some((Err(e), _)) = &m.antagonist {
                rec.valid = false;
                rec.error = Some(format!("{e:#}"));
            }
            if let Some((Ok(a), duration_ms)) = &m.antagonist {
                rec.info
                    .insert("antagonist_duration_ms".into(), duration_ms.to_string());
                rec.info
                    .insert("antagonist_elapsed_s".into(), format!("{:.3}", a.elapsed_s));
                rec.info.insert("antagonist_ops".into(), a.ops.to_string());
                if a.failures > 0 {
                    rec.info
                        .insert("antagonist_fork_failures".into(), a.failures.to_string());
                }
                if a.ops > 0 && a.rate.is_finite() {
                    rec.metrics.insert(ANTAGONIST_RATE.into(), a.rate);
                    rec.units
                        .insert(ANTAGONIST_RATE.into(), a.kind.unit().to_string());
                } else {
                    rec.valid = false;
                    rec.error.get_or_insert_with(|| {
                        "the antagonist did no work (no operations in its progress)".into()
                    });
                }
                if let Some(exp) = m.exposed {
                    let ms = exp.as_secs_f64() * 1e3;
                    rec.info.insert(
                        "antagonist_ready_to_victim_end_ms".into(),
                        format!("{ms:.0}"),
                    );
                    if ms > *duration_ms as f64 {
                        rec.valid = false;
                        rec.error.get_or_insert_with(|| format!(
                            "the antagonist ended ({duration_ms} ms) before the victim did ({ms:.0} ms after its READY): the victim ran partly alone"
                        ));
                    }
                }
            }
        }
    }
    rec.params
        .insert("victim".into(), serde_json::json!(t.victim.name()));
    rec.params.insert(
        "antagonist".into(),
        serde_json::json!(t.antagonist.as_deref().unwrap_or(ALONE)),
    );
    rec.params
        .insert("placement".into(), serde_json::json!(t.placement.name()));
    if !limits.is_empty() {
        rec.info.insert(
            "victim_limits".into(),
            serde_json::to_string(limits).unwrap_or_default(),
        );
    }
    rec
}

/// One solo measurement: an antagonist running with no victim, recorded as
/// `params.victim` [`SOLO`], under `placement` (a trial placement, or
/// [`ONE_CORE`] / [`ALL_CORES`] for the host's memory-bandwidth scaling).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Solo {
    /// Repetition (the scaling pair is measured twice, interleaved).
    pub rep: u32,
    pub placement: String,
    pub kind: String,
    pub threads: usize,
    pub limits: Limits,
}

/// The solo measurements of `cfg` in an environment of `kind`: each
/// antagonist alone in each placement, with the limits it has beside a
/// victim (the rate its cells are judged against); and, when STREAM is a
/// victim on a host of 2 CPUs or more, the memory streamer with one thread
/// and with one per CPU (the host's bandwidth scaling, from which C5's
/// expectation for a partitioned STREAM victim follows).
pub fn solos(cfg: &Config, kind: EnvKind) -> Vec<Solo> {
    let mut v = Vec::new();
    // Only the antagonists some trial runs beside a victim.
    let used = cfg
        .antagonists
        .iter()
        .filter(|a| !cfg.matched_only || cfg.victims.iter().any(|&w| matched(w) == a.as_str()));
    let used: Vec<&String> = used.collect();
    for &p in &cfg.placements {
        for &a in &used {
            v.push(Solo {
                rep: 0,
                placement: p.name().into(),
                kind: a.clone(),
                threads: cfg.threads,
                limits: limits(cfg, kind, p, Role::Antagonist),
            });
        }
    }
    if cfg.victims.contains(&Workload::Membw) && cfg.host_cpus >= 2 {
        // Interleaved twice, so that a burst of outside load does not land
        // on one side only; the report keeps the best of each (as STREAM
        // reports its best pass).
        let pairs = [(ONE_CORE, 1), (ALL_CORES, cfg.host_cpus)];
        for (rep, (placement, threads)) in (0..2u32).flat_map(|r| pairs.map(|p| (r, p))) {
            v.push(Solo {
                rep,
                placement: placement.into(),
                kind: "membw".into(),
                threads,
                limits: limits(cfg, kind, Placement::Shared, Role::Antagonist),
            });
        }
    }
    v
}

/// Run one antagonist alone for [`Config::solo_ms`] (after its first
/// progress line and the settle time, as in a trial) and read its rate.
pub fn solo(
    env: &dyn Environment,
    cfg: &Config,
    s: &Solo,
    stop: &dyn Interrupt,
) -> Result<Progress> {
    let duration_ms = cfg.settle.as_millis() as u64 + cfg.solo_ms + 10_000;
    let spec = antagonist_spec(&s.kind, s.threads, duration_ms, cfg.llc_bytes);
    let mut inst = env
        .launch_with(&spec, cfg.timeout, &s.limits)
        .with_context(|| format!("launching the {} antagonist alone", s.kind))?;
    let ready = inst
        .wait_ready(cfg.timeout)
        .and_then(|_| inst.wait_line(PROGRESS_MARKER, cfg.timeout));
    if let Err(e) = ready {
        let _ = inst.stop();
        return Err(e.context(format!(
            "the {} antagonist never started its pressure",
            s.kind
        )));
    }
    std::thread::sleep(cfg.settle + Duration::from_millis(cfg.solo_ms));
    if stop.interrupted() {
        let _ = inst.stop();
        return Err(Interrupted.into());
    }
    let p = inst
        .stop_output()
        .context("stopping the antagonist")
        .and_then(|out| antagonist_progress(&out))?;
    if p.ops == 0 || !p.rate.is_finite() || p.rate <= 0.0 {
        anyhow::bail!("the {} antagonist did no work alone", s.kind);
    }
    Ok(p)
}

/// The `results.jsonl` record of one solo measurement.
pub fn solo_record(
    run_id: &str,
    env: &dyn Environment,
    s: &Solo,
    started: SystemTime,
    m: &Result<Progress>,
) -> ResultRecord {
    let mut rec = crate::runner::blank_record(run_id, env, WORKLOAD, s.rep, started);
    rec.params.insert("victim".into(), serde_json::json!(SOLO));
    rec.params
        .insert("antagonist".into(), serde_json::json!(s.kind));
    rec.params
        .insert("placement".into(), serde_json::json!(s.placement));
    rec.params
        .insert("threads".into(), serde_json::json!(s.threads));
    if !s.limits.is_empty() {
        rec.info.insert(
            "antagonist_limits".into(),
            serde_json::to_string(&s.limits).unwrap_or_default(),
        );
    }
    match m {
        Err(e) => rec.error = Some(format!("{e:#}")),
        Ok(p) => {
            rec.valid = true;
            rec.metrics.insert(ANTAGONIST_RATE.into(), p.rate);
            rec.units
                .insert(ANTAGONIST_RATE.into(), p.kind.unit().to_string());
            rec.info
                .insert("antagonist_elapsed_s".into(), format!("{:.3}", p.elapsed_s));
            rec.info.insert("antagonist_ops".into(), p.ops.to_string());
        }
    }
    rec
}

/// Solo rates of environment `env_id` in `records`: (placement, kind) ->
/// rate (valid records only; the last one wins).
pub fn solo_rates(records: &[ResultRecord], env_id: &str) -> BTreeMap<(String, String), f64> {
    let p = |r: &ResultRecord, k: &str| {
        r.params
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    records
        .iter()
        .filter(|r| r.env_id == env_id && r.workload == WORKLOAD && r.valid)
        .filter(|r| p(r, "victim") == SOLO)
        .filter_map(|r| {
            let rate = *r.metrics.get(ANTAGONIST_RATE)?;
            Some(((p(r, "placement"), p(r, "antagonist")), rate))
        })
        .collect()
}

/// The share of its solo rate an antagonist can keep beside a victim in
/// `placement`: all of it on CPUs of its own (partitioned); shared, its
/// fair share of the CPUs when it and the victim (as many threads each)
/// want more than the host has.
pub fn expected_share(cfg: &Config, placement: Placement) -> f64 {
    match placement {
        Placement::Partitioned => 1.0,
        Placement::Shared => (cfg.host_cpus as f64 / (2 * cfg.threads.max(1)) as f64).min(1.0),
    }
}

/// Below this fraction of what it could apply (its solo rate times its
/// [`expected_share`]), an antagonist did not apply the pressure its cell
/// claims, and the trial is invalid.
pub const MIN_PRESSURE: f64 = 0.5;

/// Check the antagonist's achieved `rate` against its `solo` rate: the
/// info to record, or why the trial is invalid (no solo rate is a failure:
/// the pressure applied would be unknown).
pub fn judge_pressure(
    kind: &str,
    rate: f64,
    solo: Option<f64>,
    share: f64,
) -> (BTreeMap<String, String>, Option<String>) {
    let mut info = BTreeMap::new();
    let Some(solo) = solo.filter(|s| s.is_finite() && *s > 0.0) else {
        return (
            info,
            Some(format!(
                "no solo rate of the {kind} antagonist was measured in this placement: the pressure it applied is unknown"
            )),
        );
    };
    let frac = rate / solo;
    info.insert("antagonist_solo_rate".into(), format!("{solo:.3}"));
    info.insert("antagonist_fraction_of_solo".into(), format!("{frac:.3}"));
    info.insert("antagonist_expected_share".into(), format!("{share:.3}"));
    let floor = MIN_PRESSURE * share;
    let why = (frac < floor).then(|| {
        format!(
            "the {kind} antagonist reached {:.0}% of its solo rate ({rate:.1} against {solo:.1}), less than half of the {:.0}% it can keep here: it did not apply the pressure this cell claims",
            100.0 * frac,
            100.0 * share
        )
    });
    (info, why)
}

/// Judge a trial record's antagonist against its `solo` rate
/// ([`judge_pressure`]): records the fraction, and invalidates the record
/// (keeping an earlier error) when the pressure fell short or is unknown.
pub fn apply_pressure(rec: &mut ResultRecord, t: &Trial, solo: Option<f64>, share: f64) {
    let (Some(kind), Some(&rate)) = (&t.antagonist, rec.metrics.get(ANTAGONIST_RATE)) else {
        return;
    };
    let (info, why) = judge_pressure(kind, rate, solo, share);
    rec.info.extend(info);
    if let Some(why) = why {
        rec.valid = false;
        rec.error.get_or_insert(why);
    }
}

/// Counts of one environment's run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub measured: usize,
    pub invalid: usize,
}

/// The trials of every repetition in `env` (`env_index` seeds its order)
/// but those in `done`.
fn left_trials(cfg: &Config, env_index: usize, done: &BTreeSet<TrialKey>) -> Vec<(u32, Trial)> {
    (0..cfg.reps)
        .flat_map(|rep| {
            order(cfg, env_index, rep)
                .into_iter()
                .map(move |t| (rep, t))
        })
        .filter(|(rep, t)| !done.contains(&t.key(*rep)))
        .collect()
}

/// One environment's pass: what every phase of [`run`] shares.
struct Pass<'a> {
    env: &'a dyn Environment,
    cfg: &'a Config,
    specs: &'a BTreeMap<Workload, WorkloadSpec>,
    run_id: &'a str,
    stop: &'a dyn Interrupt,
}

impl Pass<'_> {
    fn spec_of(&self, w: Workload) -> Result<&WorkloadSpec> {
        self.specs
            .get(&w)
            .ok_or_else(|| anyhow!("no spec for victim {w}"))
    }

    /// Each (placement, victim) with trials `left` runs alone once,
    /// unrecorded: the longest victim run seen per (placement, victim).
    fn warm_up(&self, left: &[(u32, Trial)]) -> Result<BTreeMap<(Placement, Workload), Duration>> {
        let (env, cfg) = (self.env, self.cfg);
        let mut longest = BTreeMap::new();
        for &placement in &cfg.placements {
            for &victim in &cfg.victims {
                if self.stop.interrupted() {
                    return Err(Interrupted.into());
                }
                if !cfg.warmup
                    || !left
                        .iter()
                        .any(|(_, t)| t.placement == placement && t.victim == victim)
                {
                    continue;
                }
                let t = Trial {
                    placement,
                    victim,
                    antagonist: None,
                };
                match trial(env, cfg, &t, self.spec_of(victim)?, 0, self.stop) {
                    Ok(m) => {
                        longest.insert((placement, victim), m.victim_wall);
                    }
                    Err(e) if e.downcast_ref::<Interrupted>().is_some() => return Err(e),
                    Err(e) => eprintln!(
                        "warning: {} warm-up of {victim} ({}) failed: {e:#}",
                        env.id(),
                        placement.name()
                    ),
                }
            }
        }
        Ok(longest)
    }

    /// Each antagonist alone (and the host's bandwidth scaling) but those
    /// in `done`, its rate into `solo_rate`.
    fn solos(
        &self,
        done: &BTreeSet<TrialKey>,
        solo_rate: &mut BTreeMap<(String, String), f64>,
        s: &mut Summary,
        record: &mut dyn FnMut(&ResultRecord) -> Result<()>,
    ) -> Result<()> {
        let env = self.env;
        for so in solos(self.cfg, env.kind()) {
            if done.contains(&(
                so.rep,
                so.placement.clone(),
                SOLO.to_string(),
                so.kind.clone(),
            )) {
                continue;
            }
            if self.stop.interrupted() {
                return Err(Interrupted.into());
            }
            let started = SystemTime::now();
            let m = solo(env, self.cfg, &so, self.stop);
            if let Err(e) = &m {
                if e.downcast_ref::<Interrupted>().is_some() || self.stop.interrupted() {
                    return Err(Interrupted.into());
                }
            }
            let rec = solo_record(self.run_id, env, &so, started, &m);
            if let Ok(p) = &m {
                solo_rate.insert((so.placement.clone(), so.kind.clone()), p.rate);
            }
            s.measured += 1;
            if !rec.valid {
                s.invalid += 1;
            }
            record(&rec)?;
        }
        Ok(())
    }

    /// One recorded trial; `longest` learns its victim's run.
    fn one_trial(
        &self,
        rep: u32,
        t: &Trial,
        longest: &mut BTreeMap<(Placement, Workload), Duration>,
        solo_rate: &BTreeMap<(String, String), f64>,
    ) -> Result<ResultRecord> {
        let (env, cfg) = (self.env, self.cfg);
        let key = (t.placement, t.victim);
        let duration_ms = duration_for(longest.get(&key).copied(), cfg.default_duration_ms);
        let started = SystemTime::now();
        let m = trial(env, cfg, t, self.spec_of(t.victim)?, duration_ms, self.stop);
        if let Err(e) = &m {
            if e.downcast_ref::<Interrupted>().is_some() || self.stop.interrupted() {
                return Err(Interrupted.into());
            }
        }
        if let Ok(m) = &m {
            let l = longest.entry(key).or_default();
            *l = (*l).max(m.victim_wall);
        }
        let l = limits(cfg, env.kind(), t.placement, Role::Victim);
        let solo = t.antagonist.as_ref().and_then(|a| {
            solo_rate
                .get(&(t.placement.name().to_string(), a.clone()))
                .copied()
        });
        let share = expected_share(cfg, t.placement);
        let mut rec = to_record(self.run_id, env, rep, t, &l, started, &m);
        apply_pressure(&mut rec, t, solo, share);
        Ok(rec)
    }
}

/// Measure every trial of every repetition in `env` (`env_index` seeds its
/// order) but those in `done` (recorded by an earlier, interrupted run),
/// handing each record to `record` before the next trial starts. First,
/// each (placement, victim) with trials left runs alone once, unrecorded: a
/// warm-up that also sizes the antagonists' durations. A failed trial is
/// recorded (invalid) and the run goes on; an interrupt (`stop`) or a
/// failing `record` ends it. Every instance is stopped on every path.
#[allow(clippy::too_many_arguments)]
pub fn run(
    env: &dyn Environment,
    env_index: usize,
    cfg: &Config,
    specs: &BTreeMap<Workload, WorkloadSpec>,
    run_id: &str,
    before: &[ResultRecord],
    stop: &dyn Interrupt,
    mut record: impl FnMut(&ResultRecord) -> Result<()>,
) -> Result<Summary> {
    let pass = Pass {
        env,
        cfg,
        specs,
        run_id,
        stop,
    };
    let done = &done_trials(before, &env.id());
    let left = left_trials(cfg, env_index, done);
    // Longest victim run seen per (placement, victim), alone or beside.
    let mut longest = pass.warm_up(&left)?;
    let mut s = Summary::default();
    // Each antagonist alone (and the host's bandwidth scaling), once per
    // environment, before the trials it judges.
    let mut solo_rate = solo_rates(before, &env.id());
    pass.solos(done, &mut solo_rate, &mut s, &mut record)?;
    for (rep, t) in left {
        if stop.interrupted() {
            return Err(Interrupted.into());
        }
        let rec = pass.one_trial(rep, &t, &mut longest, &solo_rate)?;
        s.measured += 1;
        if !rec.valid {
            s.invalid += 1;
        }
        record(&rec)?;
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::fake::FakeEnv;
    use std::sync::atomic::Ordering;

    fn cfg() -> Config {
        Config {
            victims: vec![Workload::Cpu, Workload::Membw],
            antagonists: vec!["cpu".into(), "fork".into()],
            placements: vec![Placement::Shared, Placement::Partitioned],
            reps: 3,
            seed: 7,
            threads: 2,
            host_cpus: 2,
            llc_bytes: Some(1 << 20),
            container_memory_mib: Some(512),
            timeout: Duration::from_secs(1),
            settle: Duration::ZERO,
            default_duration_ms: 1000,
            matched_only: false,
            warmup: true,
            native_pids: true,
            solo_ms: 0,
        }
    }

    fn specs() -> BTreeMap<Workload, WorkloadSpec> {
        [Workload::Cpu, Workload::Membw]
            .into_iter()
            .map(|w| (w, WorkloadSpec::parse(w, &[w.name().to_string()]).unwrap()))
            .collect()
    }

    #[test]
    fn order_is_seeded_shuffled_and_complete() {
        let c = cfg();
        let a = order(&c, 0, 0);
        assert_eq!(a.len(), 2 * 2 * 3);
        assert_eq!(a, order(&c, 0, 0), "same seed, same order");
        assert_ne!(a, order(&c, 0, 1), "each repetition reshuffles");
        let mut b = order(&c, 0, 1);
        let key = |t: &Trial| (t.placement, t.victim, t.antagonist.clone());
        let mut a2 = a.clone();
        a2.sort_by_key(key);
        b.sort_by_key(key);
        assert_eq!(a2, b, "every repetition runs the same trials");
    }

    #[test]
    fn limits_partition_cpus_and_bound_the_fork_storm() {
        let c = cfg();
        let v = limits(&c, EnvKind::Container, Placement::Partitioned, Role::Victim);
        assert_eq!(v.cpus, Some(vec![0]));
        assert_eq!(v.cpu_quota_pct, Some(100));
        assert_eq!(v.memory_mib, Some(512));
        let a = limits(
            &c,
            EnvKind::Container,
            Placement::Partitioned,
            Role::Antagonist,
        );
        assert_eq!(a.cpus, Some(vec![1]));
        assert_eq!(a.pids, Some(ANTAGONIST_PIDS));
        // Shared: nothing but the antagonist container's pids bound.
        assert!(limits(&c, EnvKind::Container, Placement::Shared, Role::Victim).is_empty());
        let s = limits(&c, EnvKind::Container, Placement::Shared, Role::Antagonist);
        assert_eq!(s.pids, Some(ANTAGONIST_PIDS));
        assert_eq!(s.cpus, None);
        // Native: affinity, and the antagonist's pids bound; VMs: affinity only.
        let n = limits(
            &c,
            EnvKind::Native,
            Placement::Partitioned,
            Role::Antagonist,
        );
        assert_eq!(
            n,
            Limits {
                cpus: Some(vec![1]),
                pids: Some(ANTAGONIST_PIDS),
                ..Limits::default()
            }
        );
        assert!(limits(&c, EnvKind::Native, Placement::Shared, Role::Victim).is_empty());
        assert_eq!(
            limits(&c, EnvKind::Vm, Placement::Partitioned, Role::Antagonist),
            Limits {
                cpus: Some(vec![1]),
                ..Limits::default()
            }
        );
        assert!(limits(&c, EnvKind::Vm, Placement::Shared, Role::Antagonist).is_empty());
        // Without the right to make cgroups, native relies on --max-procs.
        let no_cg = Config {
            native_pids: false,
            ..cfg()
        };
        assert_eq!(
            limits(&no_cg, EnvKind::Native, Placement::Shared, Role::Antagonist).pids,
            None
        );
        // 1 CPU: nothing to partition.
        let one = Config {
            host_cpus: 1,
            ..cfg()
        };
        assert_eq!(
            limits(&one, EnvKind::Native, Placement::Partitioned, Role::Victim).cpus,
            None
        );
        let f = antagonist_spec("fork", 2, 500, None);
        assert!(matches!(&f.command,
            isobench_workloads::args::Command::Antagonist(c) if c.max_procs == 64));
        assert!(f
            .to_args()
            .windows(2)
            .any(|w| w == ["--duration-ms", "500"]));
        // 4x a 4 MiB cache, shared between 2 threads: 8 MiB arrays each.
        let m = antagonist_spec("membw", 2, 500, Some(4 << 20));
        assert!(
            m.to_args().windows(2).any(|w| w == ["--size", "8388608"]),
            "{m:?}"
        );
        // A guest reporting a 480 MiB L3 gets the capped cache, not 1.9
        // GiB per thread: 4 x 128 MiB / 2 threads; llc thrashes 128 MiB.
        let m = antagonist_spec("membw", 2, 500, Some(480 << 20));
        let want = (4 * isobench_workloads::antagonist::LLC_CAP_BYTES / 2).to_string();
        assert!(
            m.to_args()
                .windows(2)
                .any(|w| w[0] == "--size" && w[1] == want),
            "{m:?}"
        );
        let l = antagonist_spec("llc", 2, 500, Some(480 << 20));
        let want = isobench_workloads::antagonist::LLC_CAP_BYTES.to_string();
        assert!(
            l.to_args()
                .windows(2)
                .any(|w| w[0] == "--size" && w[1] == want),
            "{l:?}"
        );
        let (_, how) = antagonist_size("membw", 2, Some(480 << 20)).unwrap();
        assert!(how.contains("capped") && how.contains("480 MiB"), "{how}");
        assert_eq!(antagonist_size("cpu", 2, Some(480 << 20)), None);
    }

    #[test]
    fn records_pair_alone_and_beside_in_the_report_format() {
        let env = FakeEnv::default();
        let mut recs = Vec::new();
        let s = run(
            &env,
            0,
            &cfg(),
            &specs(),
            "r1",
            &[],
            &crate::experiment::Never,
            |r| {
                recs.push(r.clone());
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(
            s,
            Summary {
                measured: 36 + 8,
                invalid: 0
            }
        );
        assert_eq!(recs.len(), 36 + 8);
        // The solos: each antagonist alone per placement, and the streamer
        // with 1 thread and with one per CPU, twice.
        let solo: Vec<_> = recs.iter().filter(|r| r.params["victim"] == SOLO).collect();
        assert_eq!(solo.len(), 8);
        assert!(solo
            .iter()
            .all(|r| r.valid && r.metrics[ANTAGONIST_RATE] == 500.0));
        let threads = |p: &str| {
            solo.iter()
                .find(|r| r.params["placement"] == p)
                .map(|r| r.params["threads"].clone())
        };
        assert_eq!(threads(ONE_CORE), Some(serde_json::json!(1)));
        assert_eq!(threads(ALL_CORES), Some(serde_json::json!(2)));
        assert_eq!(env.live.load(Ordering::SeqCst), 0);
        let r = recs
            .iter()
            .find(|r| {
                r.params["antagonist"] == "cpu"
                    && r.params["placement"] == "shared"
                    && r.params["victim"] != SOLO
            })
            .unwrap();
        assert_eq!(r.info["antagonist_fraction_of_solo"], "1.000");
        assert_eq!(r.workload, WORKLOAD);
        assert_eq!(r.params["threads"], 2, "the victim's own params are kept");
        assert_eq!(r.metrics[ANTAGONIST_RATE], 500.0);
        assert_eq!(r.units[ANTAGONIST_RATE], "Mops/s");
        assert!(r.valid, "{:?}", r.error);
        let alone = recs
            .iter()
            .find(|r| r.params["antagonist"] == ALONE)
            .unwrap();
        assert!(!alone.metrics.contains_key(ANTAGONIST_RATE));
        // Launches: 4 warm-ups, then per trial antagonist + victim.
        assert_eq!(env.launches.lock().unwrap().len(), 4 + 8 + 3 * (4 + 8 * 2));
        // The reports crate reads them: alone/beside paired by rep.
        let sd = isobench_reports::neighbours::slowdowns(&recs);
        let cell = |place: &str| {
            sd.iter()
                .find(|s| {
                    s.victim == "cpu"
                        && s.metric == "gflops"
                        && s.antagonist == "cpu"
                        && s.placement == place
                })
                .unwrap()
                .speed
                .point
        };
        assert!((cell("shared") - 1.0).abs() < 1e-9);
        assert!((cell("partitioned") - 1.0).abs() < 1e-9);
    }

    #[test]
    fn failures_are_recorded_and_every_instance_stopped() {
        // Launch 5 is the first trial's antagonist (after 4 warm-ups) or
        // its victim; either way that trial fails and the rest go on.
        for n in [5, 6, 7] {
            let env = FakeEnv {
                fail_ready_at: Some(n),
                fail_wait_at: Some(n + 1),
                ..FakeEnv::default()
            };
            let mut recs = Vec::new();
            let s = run(
                &env,
                0,
                &cfg(),
                &specs(),
                "r1",
                &[],
                &crate::experiment::Never,
                |r| {
                    recs.push(r.clone());
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!(s.measured, 36 + 8);
            assert!(s.invalid >= 1, "{s:?}");
            assert!(recs.iter().any(|r| !r.valid && r.error.is_some()));
            assert_eq!(env.live.load(Ordering::SeqCst), 0, "launch {n}");
        }
        // A failing recorder ends the run, with nothing left running.
        let env = FakeEnv::default();
        let mut k = 0;
        let e = run(
            &env,
            0,
            &cfg(),
            &specs(),
            "r1",
            &[],
            &crate::experiment::Never,
            |_| {
                k += 1;
                if k == 3 {
                    anyhow::bail!("disk full")
                }
                Ok(())
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("disk full"));
        assert_eq!(env.live.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_resumed_run_measures_only_the_trials_left() {
        let env = FakeEnv::default();
        let mut first = Vec::new();
        // Interrupted after 10 records (the recorder fails: as a crash).
        let e = run(
            &env,
            0,
            &cfg(),
            &specs(),
            "r1",
            &[],
            &crate::experiment::Never,
            |r| {
                if first.len() == 10 {
                    anyhow::bail!("killed")
                }
                first.push(r.clone());
                Ok(())
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("killed"));
        let done = done_trials(&first, "container-fake");
        assert_eq!(done.len(), 10);
        let mut rest = Vec::new();
        run(
            &env,
            0,
            &cfg(),
            &specs(),
            "r1",
            &first,
            &crate::experiment::Never,
            |r| {
                rest.push(r.clone());
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(rest.len(), 36 + 8 - 10);
        let mut all = done_trials(&first, "container-fake");
        for r in &rest {
            assert!(all.insert((
                r.rep,
                r.params["placement"].as_str().unwrap().to_string(),
                r.params["victim"].as_str().unwrap().to_string(),
                r.params["antagonist"].as_str().unwrap().to_string(),
            )));
        }
        assert_eq!(all.len(), 36 + 8, "every trial once");
        assert_eq!(env.live.load(Ordering::SeqCst), 0);
        // Another environment's records do not count.
        assert!(done_trials(&first, "native").is_empty());
    }

    #[test]
    fn quick_pairs_each_victim_with_its_own_resource() {
        let c = Config {
            matched_only: true,
            antagonists: vec!["cpu".into(), "membw".into()],
            ..cfg()
        };
        let o = order(&c, 0, 0);
        // 2 placements x 2 victims x (alone + its own antagonist).
        assert_eq!(o.len(), 8);
        // Solos: the 2 antagonists per placement, and the scaling pair twice.
        assert_eq!(solos(&c, EnvKind::Native).len(), 2 * 2 + 2 * 2);
        // A CPU victim only: the CPU hog alone per placement, no streamer.
        let cpu_only = Config {
            victims: vec![Workload::Cpu],
            ..c
        };
        let so = solos(&cpu_only, EnvKind::Native);
        assert_eq!(so.len(), 2);
        assert!(so.iter().all(|s| s.kind == "cpu"));
        for t in &o {
            if let Some(a) = &t.antagonist {
                assert_eq!(a, matched(t.victim));
            }
        }
        assert_eq!(matched(Workload::Latency), "llc");
    }

    #[test]
    fn an_antagonist_that_ends_first_invalidates_the_record() {
        let env = FakeEnv::default();
        let t = Trial {
            placement: Placement::Shared,
            victim: Workload::Cpu,
            antagonist: Some("cpu".into()),
        };
        let mut m = trial(
            &env,
            &cfg(),
            &t,
            &specs()[&Workload::Cpu],
            10,
            &crate::experiment::Never,
        )
        .unwrap();
        m.exposed = Some(Duration::from_millis(50));
        let r = to_record(
            "r",
            &env,
            0,
            &t,
            &Limits::default(),
            SystemTime::now(),
            &Ok(m),
        );
        assert!(!r.valid);
        assert!(r.error.unwrap().contains("ran partly alone"));
        assert_eq!(env.live.load(Ordering::SeqCst), 0);
        // Its output: a result line means it ended on its own.
        let e = antagonist_progress("ISOBENCH-PROGRESS {}\nISOBENCH-RESULT {\"workload\":\"antagonist\",\"params\":{},\"valid\":true,\"metrics\":{},\"units\":{},\"elapsed_s\":1.0}\n");
        assert!(format!("{:#}", e.unwrap_err()).contains("partly alone"));
        let e = antagonist_progress("ISOBENCH-READY\nsegfault\n").unwrap_err();
        assert!(format!("{e:#}").contains("no progress line"), "{e:#}");
    }

    #[test]
    fn an_antagonist_below_half_its_solo_rate_invalidates_its_trial() {
        // The 8 solos reach 500; every antagonist beside a victim only 100.
        let env = FakeEnv {
            weak_from: Some(8),
            ..FakeEnv::default()
        };
        let mut recs = Vec::new();
        let s = run(
            &env,
            0,
            &cfg(),
            &specs(),
            "r1",
            &[],
            &crate::experiment::Never,
            |r| {
                recs.push(r.clone());
                Ok(())
            },
        )
        .unwrap();
        let beside: Vec<_> = recs
            .iter()
            .filter(|r| r.params["victim"] != SOLO && r.params["antagonist"] != ALONE)
            .collect();
        assert_eq!(beside.len(), 24);
        assert_eq!(s.invalid, 24, "every trial beside a weak antagonist");
        for r in beside {
            assert!(!r.valid);
            let e = r.error.as_deref().unwrap();
            assert!(e.contains("reached 20% of its solo rate"), "{e}");
            assert_eq!(r.info["antagonist_fraction_of_solo"], "0.200");
        }
        assert!(recs
            .iter()
            .filter(|r| r.params["antagonist"] == ALONE)
            .all(|r| r.valid));
        assert_eq!(env.live.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn pressure_is_judged_against_the_share_the_placement_allows() {
        let c = cfg();
        // 2 CPUs, 2 victim and 2 antagonist threads: shared, half each.
        assert_eq!(expected_share(&c, Placement::Shared), 0.5);
        assert_eq!(expected_share(&c, Placement::Partitioned), 1.0);
        let wide = Config {
            host_cpus: 8,
            ..cfg()
        };
        assert_eq!(expected_share(&wide, Placement::Shared), 1.0);
        let (info, why) = judge_pressure("cpu", 300.0, Some(1000.0), 0.5);
        assert!(why.is_none(), "30% of solo where 50% is the fair share");
        assert_eq!(info["antagonist_fraction_of_solo"], "0.300");
        let (_, why) = judge_pressure("cpu", 200.0, Some(1000.0), 0.5);
        assert!(why.unwrap().contains("less than half of the 50%"));
        let (_, why) = judge_pressure("membw", 400.0, Some(1000.0), 1.0);
        assert!(why.is_some());
        // No solo rate: the pressure is unknown, so the trial fails.
        let (info, why) = judge_pressure("llc", 400.0, None, 1.0);
        assert!(info.is_empty());
        assert!(why.unwrap().contains("no solo rate"));
        // A host of 1 CPU: no partition, no scaling pair.
        let one = Config {
            host_cpus: 1,
            placements: vec![Placement::Shared],
            ..cfg()
        };
        let so = solos(&one, EnvKind::Native);
        assert_eq!(so.len(), 2);
        assert!(so.iter().all(|s| s.placement == "shared"));
    }

    #[test]
    fn durations_leave_room_for_a_slowed_victim() {
        assert_eq!(duration_for(None, 1234), 1234);
        assert_eq!(duration_for(Some(Duration::from_secs(2)), 0), 20_000);
    }
}
