//! The neighbour experiment over a run's environments, one after the
//! other (`results.jsonl` lines with workload `neighbour`, one per victim
//! run; claim C5): what it will do, set up from the plan, and its passes.

use super::{Config, Placement};
use crate::env::process::Interrupted;
use crate::env::Environment;
use crate::experiment::{
    env_info, records_before, Experiment, ExperimentConfig, Interrupt, Need, Outcome, Run, Sink,
    Start,
};
use crate::plan::{usage, Plan};
use crate::runner;
use anyhow::Result;
use isobench_workloads::{Preset, Workload, WorkloadSpec};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The experiment's name in run.json (`config.experiment`).
pub const EXPERIMENT: &str = "neighbours";

/// What the neighbour experiment asked for, in `run.json` (`config`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    pub neighbours: Config,
    /// Each victim's arguments, as run alone and beside.
    pub victim_args: BTreeMap<String, String>,
}

/// The quick variant's victims: the same arguments alone and beside, short
/// enough for the quick suite (cpu with 100 ms timed blocks, membw with 2
/// passes).
fn shorten_for_quick(specs: &mut BTreeMap<Workload, WorkloadSpec>) -> Vec<String> {
    let mut notes = Vec::new();
    for (w, s) in specs.iter_mut() {
        let (k, v) = match w {
            Workload::Cpu => {
                s.set_min_time_ms(100);
                ("--min-time-ms", "100")
            }
            Workload::Membw => {
                s.set_passes(2);
                ("--passes", "2")
            }
            _ => continue,
        };
        notes.push(format!("{w} {k} {v}"));
    }
    notes
}

/// What the neighbour experiment will do, before it starts.
pub struct Setup {
    pub cfg: Config,
    /// The victims' specs, as run alone and beside.
    pub specs: BTreeMap<Workload, WorkloadSpec>,
    pub warnings: Vec<String>,
    /// Memory the largest victim and the largest antagonist hold at once.
    pub need: u64,
}

/// Bad victims or antagonists are usage errors, found before anything is
/// prepared.
pub fn check(victims: &[Workload], antagonists: &[String]) -> Result<()> {
    if let Some(w) = victims.iter().find(|w| !super::VICTIMS.contains(w)) {
        return Err(usage(format!(
            "{w} cannot be a neighbour victim (victims: cpu, membw, randacc, latency)"
        )));
    }
    if let Some(bad) = antagonists
        .iter()
        .find(|k| !super::ANTAGONISTS.contains(&k.as_str()))
    {
        return Err(usage(format!(
            "--antagonists: '{bad}' is not one of {}",
            super::ANTAGONISTS.join(", ")
        )));
    }
    Ok(())
}

/// The antagonists to run (`given`, else the preset's choice), whether
/// each victim meets only the antagonist of its own resource, and the
/// warnings saying so.
fn choose(
    victims: &[Workload],
    given: &[String],
    quick: bool,
    host_cpus: usize,
    native_pids: bool,
) -> (Vec<String>, bool, Vec<Placement>, Vec<String>) {
    // Chosen antagonists: each victim beside each of them.
    let matched_only = quick && given.is_empty();
    let antagonists: Vec<String> = if !given.is_empty() {
        given.to_vec()
    } else if quick {
        super::QUICK_ANTAGONISTS
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        super::ANTAGONISTS.iter().map(|s| s.to_string()).collect()
    };
    let mut warnings = vec![format!(
        "neighbours: victims {} beside antagonists {}{}; the fork antagonist is bounded by --max-procs {} and a pids limit of {} (containers: theirs; native: {})",
        victims.iter().map(|w| w.name()).collect::<Vec<_>>().join(","),
        antagonists.join(","),
        if matched_only { " (quick: each victim beside the antagonist of its own resource only)" } else { "" },
        super::FORK_MAX_PROCS,
        super::ANTAGONIST_PIDS,
        if native_pids {
            "a pids cgroup of its own"
        } else {
            "none, not being root: --max-procs alone"
        },
    )];
    let mut placements = vec![Placement::Shared];
    if host_cpus >= 2 {
        placements.push(Placement::Partitioned);
    } else {
        warnings.push(
            "neighbours: the host has 1 CPU, so victim and antagonist cannot be partitioned; only the shared placement was measured".into(),
        );
    }
    (antagonists, matched_only, placements, warnings)
}

/// Memory the antagonist of kind `k` allocates with `threads` threads.
fn antagonist_bytes(k: &str, threads: usize, llc_bytes: Option<u64>) -> Option<u64> {
    super::antagonist_spec(k, threads, 1, llc_bytes).memory_need_bytes()
}

/// The experiment for `victims` of `plan` beside `--antagonists` (empty:
/// the preset's choice); `emulated`: a VM column runs under TCG.
pub fn setup(
    plan: &Plan,
    victims: &[Workload],
    antagonists: &[String],
    emulated: bool,
) -> Result<Setup> {
    check(victims, antagonists)?;
    let quick = matches!(plan.preset, Preset::Quick | Preset::Gate);
    let host_cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    // Creating a pids cgroup for a native antagonist needs root.
    let native_pids = crate::sys::is_root();
    let (antagonists, matched_only, placements, mut warnings) =
        choose(victims, antagonists, quick, host_cpus, native_pids);
    if emulated {
        warnings.push("a VM runs under emulation (QEMU TCG): every environment runs the emulated (smaller) victim sizes, and the VM's antagonist applies less pressure".into());
    }
    let mut specs = runner::specs(plan, emulated);
    specs.retain(|w, _| victims.contains(w));
    if quick {
        let notes = shorten_for_quick(&mut specs);
        warnings.push(format!(
            "quick neighbours: victims shortened to fit the quick suite ({}); alone and beside run the same arguments",
            notes.join(", ")
        ));
    }
    // Memory: the largest victim plus the largest antagonist at once.
    let victim_need = runner::memory_need_bytes(&specs);
    let llc_bytes = crate::host::llc_bytes(std::path::Path::new("/"));
    // How the memory antagonists were sized, for run.json and the report.
    let sizes: Vec<String> = antagonists
        .iter()
        .filter_map(|k| {
            super::antagonist_size(k, plan.threads, llc_bytes)
                .map(|(b, how)| format!("{k} {} MiB per thread ({how})", b >> 20))
        })
        .collect();
    if !sizes.is_empty() {
        warnings.push(format!(
            "neighbours: antagonist working sets: {}",
            sizes.join("; ")
        ));
    }
    let antagonist_need = antagonists
        .iter()
        .filter_map(|k| antagonist_bytes(k, plan.threads, llc_bytes))
        .max()
        .unwrap_or(0);
    let cfg = Config {
        victims: victims.to_vec(),
        antagonists,
        placements,
        reps: plan.reps,
        seed: plan.seed,
        threads: plan.threads,
        host_cpus,
        llc_bytes,
        // Room for the larger of the two plus the runtime's own pages.
        container_memory_mib: Some((victim_need.max(antagonist_need) >> 20) + 256),
        timeout: Duration::from_secs(plan.timeout_s.max(30)),
        // The antagonist's first progress line marks its pressure started.
        settle: Duration::from_millis(50),
        default_duration_ms: 30_000,
        matched_only,
        warmup: !quick,
        native_pids,
        // Each antagonist alone, long enough for a few progress lines.
        solo_ms: if quick { 1000 } else { 3000 },
    };
    // The scaling streamer runs alone, with one thread per CPU.
    let scaling_need = antagonist_bytes("membw", host_cpus, llc_bytes)
        .filter(|_| victims.contains(&Workload::Membw))
        .unwrap_or(0);
    Ok(Setup {
        cfg,
        specs,
        warnings,
        need: (victim_need + antagonist_need).max(scaling_need),
    })
}

/// The victims' arguments as run.json keeps them.
pub fn victim_args(specs: &BTreeMap<Workload, WorkloadSpec>) -> BTreeMap<String, String> {
    specs
        .iter()
        .map(|(w, s)| (w.name().to_string(), s.to_args().join(" ")))
        .collect()
}

/// One line of progress for a neighbour record of `env_id`.
fn progress_line(env_id: &str, r: &isobench_reports::schema::ResultRecord) -> String {
    let p = |k: &str| r.params[k].as_str().unwrap_or("?").to_string();
    if p("victim") == isobench_reports::neighbours::SOLO {
        format!(
            "  {} {} antagonist alone ({}, threads={}): {}",
            env_id,
            p("antagonist"),
            p("placement"),
            r.params["threads"],
            runner::describe(r)
        )
    } else {
        format!(
            "  {} rep {} {} {} beside {}: {}",
            env_id,
            r.rep,
            p("placement"),
            p("victim"),
            p("antagonist"),
            runner::describe(r)
        )
    }
}

/// Run every trial of `cfg` in each of `envs` (after the run started),
/// appending a record per victim run; trials a resumed run measured are
/// kept. `Some(invalid trials)`, `None` when interrupted (every instance
/// stopped).
pub fn measure(
    run_id: &str,
    envs: &[&dyn Environment],
    cfg: &Config,
    specs: &BTreeMap<Workload, WorkloadSpec>,
    sink: &mut dyn Sink,
    stop: &dyn Interrupt,
) -> Result<Option<usize>> {
    let records = records_before(sink);
    let mut invalid = 0;
    for (i, e) in envs.iter().enumerate() {
        let done = super::done_trials(&records, &e.id());
        if !done.is_empty() {
            eprintln!(
                "neighbours: {}: {} trials already measured, kept",
                e.id(),
                done.len()
            );
        }
        eprintln!("neighbours: {} ...", e.id());
        let res = super::run(*e, i, cfg, specs, run_id, &records, stop, |r| {
            eprintln!("{}", progress_line(&e.id(), r));
            sink.append(r)
        });
        match res {
            Ok(o) => invalid += o.invalid,
            Err(err) if err.downcast_ref::<Interrupted>().is_some() => {
                eprintln!(
                    "interrupted; every instance was stopped; {}",
                    sink.interrupted_note()
                );
                return Ok(None);
            }
            Err(err) => return Err(err.context(format!("neighbours in {}", e.id()))),
        }
    }
    Ok(Some(invalid))
}

/// `isobench run --experiment neighbours`: [`measure`] in every
/// environment of the plan, victims the plan's workloads.
pub struct Neighbours {
    /// `--antagonists` (empty: the preset's choice).
    pub antagonists: Vec<String>,
    setup: Option<Setup>,
    settings: Option<Settings>,
    started: Option<Instant>,
}

impl Neighbours {
    pub fn new(antagonists: Vec<String>) -> Neighbours {
        Neighbours {
            antagonists,
            setup: None,
            settings: None,
            started: None,
        }
    }

    /// Since the measurements began.
    pub fn elapsed(&self) -> Duration {
        self.started.map_or(Duration::ZERO, |t| t.elapsed())
    }
}

impl Experiment for Neighbours {
    type Config = Settings;
    const NAME: Option<&'static str> = Some(EXPERIMENT);
    const TITLE: &'static str = "neighbours";

    fn tag(config: &Settings) -> Option<ExperimentConfig> {
        Some(ExperimentConfig::Neighbours(config.clone()))
    }

    fn untag(x: ExperimentConfig) -> Option<Settings> {
        match x {
            ExperimentConfig::Neighbours(s) => Some(s),
            _ => None,
        }
    }

    fn memory_need(
        &mut self,
        run: &Run,
        envs: &[Box<dyn Environment>],
        _before: Option<&Settings>,
    ) -> Result<Option<Need>> {
        let emulated = envs.iter().any(|e| e.emulated());
        let plan = run.plan;
        let s = setup(plan, &plan.workloads, &self.antagonists, emulated)?;
        let need = s.need;
        self.setup = Some(s);
        Ok(Some(Need {
            bytes: need,
            what: "victim and antagonist",
        }))
    }

    fn start(
        &mut self,
        _run: &Run,
        envs: &[Box<dyn Environment>],
        before: Option<Settings>,
    ) -> Result<Start<Settings>> {
        let setup = self.setup.as_ref().expect("set up by memory_need");
        // A resumed run keeps the configuration it started with (its trial
        // order follows from it).
        let cfg = before.map_or_else(|| setup.cfg.clone(), |b| b.neighbours);
        for w in &setup.warnings {
            eprintln!("warning: {w}");
        }
        let environments = envs
            .iter()
            .map(|e| {
                env_info(
                    e.as_ref(),
                    BTreeMap::from([("experiment".to_string(), EXPERIMENT.to_string())]),
                )
            })
            .collect();
        let config = Settings {
            neighbours: cfg,
            victim_args: victim_args(&setup.specs),
        };
        self.settings = Some(config.clone());
        Ok(Start {
            config,
            warnings: setup.warnings.clone(),
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
        self.started = Some(Instant::now());
        let setup = self.setup.as_ref().expect("set up by memory_need");
        let cfg = &self.settings.as_ref().expect("started").neighbours;
        let all: Vec<&dyn Environment> = envs.iter().map(|e| e.as_ref()).collect();
        Ok(
            match measure(&plan.run_id, &all, cfg, &setup.specs, sink, stop)? {
                Some(invalid) => Outcome::Done {
                    measured: 0,
                    invalid,
                },
                None => Outcome::Interrupted,
            },
        )
    }
}
