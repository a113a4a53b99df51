//! Noisy neighbours (claim C5): a victim workload measured alone and beside
//! a sibling instance of the same environment running an antagonist
//! (`isobench-workload antagonist`), in two placements: `shared` (no limits)
//! and `partitioned` (victim and antagonist on disjoint CPUs; containers
//! also get a CPU quota, memory and pids limits).
//!
//! One trial: launch the antagonist, bounded by `--duration-ms`, wait for
//! its READY, let it ramp up ([`Config::settle`]), run the victim to
//! completion, then wait for the antagonist's own result: its `rate` is the
//! pressure it achieved. Trials of one repetition run in a seeded shuffled
//! order, like the suite runner's. The records have the format the reports
//! crate reads (`isobench_reports::neighbours`).
//!
//! The loop takes the environment as a parameter, so it is tested without
//! root against a fake environment.

use super::density::Fleet;
use crate::env::process::{interrupted, Interrupted};
use crate::env::{EnvKind, Environment, Limits, RunOutcome};
use anyhow::{anyhow, Context, Result};
use isobench_reports::neighbours::{ALONE, ANTAGONIST_RATE, WORKLOAD};
use isobench_reports::schema::ResultRecord;
use isobench_workloads::{Workload, WorkloadSpec};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

/// Workloads that can be victims.
pub const VICTIMS: [Workload; 4] = [
    Workload::Cpu,
    Workload::Membw,
    Workload::Randacc,
    Workload::Latency,
];
/// Every antagonist kind.
pub const ANTAGONISTS: [&str; 4] = ["cpu", "membw", "llc", "fork"];
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

/// What one environment's neighbour run does.
#[derive(Debug, Clone, serde::Serialize)]
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
}

/// One measurement: a victim alone (`antagonist` None) or beside one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trial {
    pub placement: Placement,
    pub victim: Workload,
    pub antagonist: Option<String>,
}

/// The trials of repetition `rep` in their (seeded, shuffled) order.
pub fn order(cfg: &Config, env_index: usize, rep: u32) -> Vec<Trial> {
    let mut v = Vec::new();
    for &placement in &cfg.placements {
        for &victim in &cfg.victims {
            for antagonist in std::iter::once(None).chain(cfg.antagonists.iter().cloned().map(Some))
            {
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
/// container antagonist always gets a pids limit (the fork storm's bound).
pub fn limits(cfg: &Config, kind: EnvKind, placement: Placement, role: Role) -> Limits {
    let container = kind == EnvKind::Container;
    let mut l = Limits::default();
    if container && role == Role::Antagonist {
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

/// The antagonist's command line. Sizes follow the host's last-level cache
/// (`llc_bytes`): membw streams arrays of 4x it, llc thrashes 1x it; given
/// explicitly so that the memory it needs is known before launch.
pub fn antagonist_spec(
    kind: &str,
    threads: usize,
    duration_ms: u64,
    llc_bytes: Option<u64>,
) -> WorkloadSpec {
    let mut args: Vec<String> = vec![
        "antagonist".into(),
        "--kind".into(),
        kind.into(),
        "--threads".into(),
        threads.to_string(),
        "--duration-ms".into(),
        duration_ms.to_string(),
    ];
    let size = match kind {
        "membw" => llc_bytes.map(|l| 4 * l),
        "llc" => llc_bytes,
        _ => None,
    };
    if let Some(b) = size {
        args.extend(["--size".to_string(), b.to_string()]);
    }
    if kind == "fork" {
        args.extend(["--max-procs".to_string(), FORK_MAX_PROCS.to_string()]);
    }
    // Not a suite workload: `Idle` only tells the environments not to
    // measure a startup footprint.
    WorkloadSpec {
        workload: Workload::Idle,
        args,
    }
}

/// What one trial measured.
#[derive(Debug)]
pub struct Measured {
    pub victim: RunOutcome,
    /// Victim launch to its end, as the host saw it.
    pub victim_wall: Duration,
    /// The antagonist's own result (`rate`), and how long it was asked to run.
    pub antagonist: Option<(Result<RunOutcome>, u64)>,
    /// The antagonist's READY to the victim's end: it must be below its
    /// duration, or the victim ran partly alone.
    pub exposed: Option<Duration>,
}

/// Antagonist duration for a victim whose longest run so far took `longest`:
/// room for a victim slowed to less than half its speed, plus launch.
pub fn duration_for(longest: Option<Duration>, default_ms: u64) -> u64 {
    longest.map_or(default_ms, |d| (2.5 * d.as_secs_f64() * 1e3) as u64 + 2000)
}

/// Run one trial; every instance is stopped on every path.
pub fn trial(
    env: &dyn Environment,
    cfg: &Config,
    t: &Trial,
    spec: &WorkloadSpec,
    duration_ms: u64,
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
        let ready = inst.wait_ready(cfg.timeout);
        fleet.0.push(inst);
        ready.with_context(|| format!("the {a} antagonist never got ready"))?;
        ready_at = Some(Instant::now());
        std::thread::sleep(cfg.settle);
        if interrupted() {
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
            // Its failure (e.g. OOM-killed at a limit) invalidates the
            // record, which keeps the victim's figures.
            let a = inst
                .wait(cfg.timeout + Duration::from_millis(duration_ms))
                .context("the antagonist's result");
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
                let ar = &a.result;
                rec.info
                    .insert("antagonist_duration_ms".into(), duration_ms.to_string());
                for (k, v) in &ar.params {
                    rec.info.insert(format!("antagonist_{k}"), v.to_string());
                }
                match ar.metrics.get("rate") {
                    Some(&rate) if ar.valid => {
                        rec.metrics.insert(ANTAGONIST_RATE.into(), rate);
                        if let Some(u) = ar.units.get("rate") {
                            rec.units.insert(ANTAGONIST_RATE.into(), u.clone());
                        }
                    }
                    _ => {
                        rec.valid = false;
                        rec.error.get_or_insert_with(|| {
                            format!(
                                "the antagonist reported no valid rate{}",
                                ar.error
                                    .as_deref()
                                    .map(|e| format!(": {e}"))
                                    .unwrap_or_default()
                            )
                        });
                    }
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

/// Counts of one environment's run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub measured: usize,
    pub invalid: usize,
}

/// Measure every trial of every repetition in `env` (`env_index` seeds its
/// order), handing each record to `record` before the next trial starts.
/// First, each (placement, victim) runs alone once, unrecorded: a warm-up
/// that also sizes the antagonists' durations. A failed trial is recorded
/// (invalid) and the run goes on; an interrupt or a failing `record` ends
/// it. Every instance is stopped on every path.
pub fn run(
    env: &dyn Environment,
    env_index: usize,
    cfg: &Config,
    specs: &BTreeMap<Workload, WorkloadSpec>,
    run_id: &str,
    mut record: impl FnMut(&ResultRecord) -> Result<()>,
) -> Result<Summary> {
    let spec_of = |w: Workload| {
        specs
            .get(&w)
            .ok_or_else(|| anyhow!("no spec for victim {w}"))
    };
    // Longest victim run seen per (placement, victim), alone or beside.
    let mut longest: BTreeMap<(Placement, Workload), Duration> = BTreeMap::new();
    for &placement in &cfg.placements {
        for &victim in &cfg.victims {
            if interrupted() {
                return Err(Interrupted.into());
            }
            let t = Trial {
                placement,
                victim,
                antagonist: None,
            };
            match trial(env, cfg, &t, spec_of(victim)?, 0) {
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
    let mut s = Summary::default();
    for rep in 0..cfg.reps {
        for t in order(cfg, env_index, rep) {
            if interrupted() {
                return Err(Interrupted.into());
            }
            let key = (t.placement, t.victim);
            let duration_ms = duration_for(longest.get(&key).copied(), cfg.default_duration_ms);
            let started = SystemTime::now();
            let m = trial(env, cfg, &t, spec_of(t.victim)?, duration_ms);
            if let Err(e) = &m {
                if e.downcast_ref::<Interrupted>().is_some() || interrupted() {
                    return Err(Interrupted.into());
                }
            }
            if let Ok(m) = &m {
                let l = longest.entry(key).or_default();
                *l = (*l).max(m.victim_wall);
            }
            let l = limits(cfg, env.kind(), t.placement, Role::Victim);
            let rec = to_record(run_id, env, rep, &t, &l, started, &m);
            s.measured += 1;
            if !rec.valid {
                s.invalid += 1;
            }
            record(&rec)?;
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::{EnvContext, Instance};
    use isobench_workloads::WorkloadResult;
    use std::collections::BTreeSet;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    /// Launches recorded as (args, limits); instances count themselves live.
    #[derive(Default)]
    struct FakeEnv {
        live: Arc<AtomicUsize>,
        launches: Mutex<Vec<(Vec<String>, Limits)>>,
        /// Launch number (1-based) whose READY never comes.
        fail_ready_at: Option<usize>,
        /// Launch number whose `wait` fails.
        fail_wait_at: Option<usize>,
    }

    struct FakeInstance {
        live: Arc<AtomicUsize>,
        stopped: bool,
        ready: bool,
        wait_ok: bool,
        args: Vec<String>,
        pinned: bool,
    }

    impl FakeInstance {
        fn stop_once(&mut self) {
            if !self.stopped {
                self.stopped = true;
                self.live.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }

    impl Instance for FakeInstance {
        fn wait_ready(&mut self, _t: Duration) -> Result<Duration> {
            if self.ready {
                Ok(Duration::from_millis(1))
            } else {
                anyhow::bail!("no READY")
            }
        }
        fn pids(&self) -> BTreeSet<i32> {
            BTreeSet::new()
        }
        fn stop(&mut self) -> Result<()> {
            self.stop_once();
            Ok(())
        }
        fn wait(mut self: Box<Self>, _t: Duration) -> Result<RunOutcome> {
            self.stop_once();
            if !self.wait_ok {
                anyhow::bail!("the workload crashed");
            }
            let antagonist = self.args[0] == "antagonist";
            let (metric, unit, value) = if antagonist {
                ("rate", "Mops/s", 500.0)
            } else if self.pinned {
                ("gflops", "GFLOP/s", 10.0)
            } else {
                ("gflops", "GFLOP/s", 20.0)
            };
            Ok(RunOutcome {
                result: WorkloadResult {
                    workload: self.args[0].clone(),
                    params: BTreeMap::from([("threads".to_string(), serde_json::json!(2))]),
                    valid: true,
                    metrics: BTreeMap::from([(metric.to_string(), value)]),
                    units: BTreeMap::from([(metric.to_string(), unit.to_string())]),
                    info: BTreeMap::new(),
                    error: None,
                    elapsed_s: 0.001,
                },
                first_instruction: Some(Duration::from_millis(1)),
                lifecycle: Duration::from_millis(2),
                extra_ms: BTreeMap::new(),
                footprint: None,
            })
        }
    }

    impl Drop for FakeInstance {
        fn drop(&mut self) {
            self.stop_once();
        }
    }

    impl Environment for FakeEnv {
        fn kind(&self) -> EnvKind {
            EnvKind::Container
        }
        fn id(&self) -> String {
            "container-fake".into()
        }
        fn detail(&self) -> BTreeMap<String, String> {
            BTreeMap::new()
        }
        fn prepare(&mut self, _c: &EnvContext) -> Result<()> {
            Ok(())
        }
        fn launch(&self, spec: &WorkloadSpec, t: Duration) -> Result<Box<dyn Instance>> {
            self.launch_with(spec, t, &Limits::default())
        }
        fn launch_with(
            &self,
            spec: &WorkloadSpec,
            _t: Duration,
            limits: &Limits,
        ) -> Result<Box<dyn Instance>> {
            let mut l = self.launches.lock().unwrap();
            l.push((spec.args.clone(), limits.clone()));
            let n = l.len();
            self.live.fetch_add(1, Ordering::SeqCst);
            Ok(Box::new(FakeInstance {
                live: Arc::clone(&self.live),
                stopped: false,
                ready: self.fail_ready_at != Some(n),
                wait_ok: self.fail_wait_at != Some(n),
                args: spec.args.clone(),
                pinned: limits.cpus.is_some(),
            }))
        }
        fn cleanup(&mut self) -> Result<()> {
            Ok(())
        }
    }

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
        }
    }

    fn specs() -> BTreeMap<Workload, WorkloadSpec> {
        [Workload::Cpu, Workload::Membw]
            .into_iter()
            .map(|w| {
                (
                    w,
                    WorkloadSpec {
                        workload: w,
                        args: vec![w.name().to_string()],
                    },
                )
            })
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
        // Native and VMs: affinity only.
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
                ..Limits::default()
            }
        );
        assert!(limits(&c, EnvKind::Vm, Placement::Shared, Role::Antagonist).is_empty());
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
        assert!(f.args.windows(2).any(|w| w == ["--max-procs", "64"]));
        assert!(f.args.windows(2).any(|w| w == ["--duration-ms", "500"]));
        let m = antagonist_spec("membw", 2, 500, Some(1 << 20));
        assert!(m.args.windows(2).any(|w| w == ["--size", "4194304"]));
    }

    #[test]
    fn records_pair_alone_and_beside_in_the_report_format() {
        let env = FakeEnv::default();
        let mut recs = Vec::new();
        let s = run(&env, 0, &cfg(), &specs(), "r1", |r| {
            recs.push(r.clone());
            Ok(())
        })
        .unwrap();
        assert_eq!(
            s,
            Summary {
                measured: 36,
                invalid: 0
            }
        );
        assert_eq!(recs.len(), 36);
        assert_eq!(env.live.load(Ordering::SeqCst), 0);
        let r = recs
            .iter()
            .find(|r| r.params["antagonist"] == "cpu" && r.params["placement"] == "shared")
            .unwrap();
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
        assert_eq!(env.launches.lock().unwrap().len(), 4 + 3 * (4 + 8 * 2));
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
            let s = run(&env, 0, &cfg(), &specs(), "r1", |r| {
                recs.push(r.clone());
                Ok(())
            })
            .unwrap();
            assert_eq!(s.measured, 36);
            assert!(s.invalid >= 1, "{s:?}");
            assert!(recs.iter().any(|r| !r.valid && r.error.is_some()));
            assert_eq!(env.live.load(Ordering::SeqCst), 0, "launch {n}");
        }
        // A failing recorder ends the run, with nothing left running.
        let env = FakeEnv::default();
        let mut k = 0;
        let e = run(&env, 0, &cfg(), &specs(), "r1", |_| {
            k += 1;
            if k == 3 {
                anyhow::bail!("disk full")
            }
            Ok(())
        })
        .unwrap_err();
        assert!(e.to_string().contains("disk full"));
        assert_eq!(env.live.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn an_antagonist_that_ends_first_invalidates_the_record() {
        let env = FakeEnv::default();
        let t = Trial {
            placement: Placement::Shared,
            victim: Workload::Cpu,
            antagonist: Some("cpu".into()),
        };
        let mut m = trial(&env, &cfg(), &t, &specs()[&Workload::Cpu], 10).unwrap();
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
    }

    #[test]
    fn durations_leave_room_for_a_slowed_victim() {
        assert_eq!(duration_for(None, 1234), 1234);
        assert_eq!(duration_for(Some(Duration::from_secs(2)), 0), 7000);
    }
}
