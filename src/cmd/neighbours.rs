//! `isobench run --experiment neighbours`: the noisy-neighbour experiment
//! ([`crate::experiment::neighbours`]) for every environment of the plan,
//! one after the other, into a run directory (`results.jsonl` lines with
//! workload `neighbour`, one per victim run; claim C5).

use super::run::plan_from_args;
use crate::cli::RunArgs;
use crate::env::process::Interrupted;
use crate::experiment::neighbours::{self as nb, Config, Placement};
use crate::plan::{usage, Plan};
use crate::session::{self, ExperimentConfig, Session, EXIT_INTERRUPTED};
use crate::{host, locate, runner};
use anyhow::Result;
use isobench_workloads::{Preset, Workload, WorkloadSpec};
use std::collections::BTreeMap;
use std::time::Duration;

/// The experiment's name in run.json (`config.experiment`).
pub const EXPERIMENT: &str = "neighbours";

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

pub fn run(a: &RunArgs, private_mounts: bool) -> Result<i32> {
    let mut s = Session::open(
        a.resume.as_deref(),
        Some(EXPERIMENT),
        || {
            let bin = locate::workload_bin(a.workload_bin.as_deref())
                .map_err(|e| usage(format!("{e:#}")))?;
            let mut args = a.clone();
            if args.workload.is_empty() {
                args.workload = vec!["cpu".into(), "membw".into()];
            }
            plan_from_args(&args, bin)
        },
        private_mounts,
    )?;
    let plan = s.plan.clone();
    check(&plan.workloads, &a.antagonists)?;
    let Some(mut envs) = s.prepare()? else {
        return Ok(EXIT_INTERRUPTED);
    };
    let emulated = envs.0.iter().any(|e| e.emulated());
    let Setup {
        cfg: fresh,
        specs,
        warnings,
        need,
    } = setup(&plan, &plan.workloads, &a.antagonists, emulated)?;
    if !s.fit(&mut envs.0, need, "victim and antagonist")? {
        return Ok(EXIT_INTERRUPTED);
    }
    // A resumed run keeps the configuration it started with (its trial
    // order follows from it).
    let cfg: Config = match session::config_before(&s)? {
        Some(ExperimentConfig::Neighbours { neighbours, .. }) => neighbours,
        Some(x) => {
            return Err(usage(format!(
                "cannot resume a {} run as neighbours",
                x.name()
            )))
        }
        None => fresh,
    };
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let victim_args = victim_args(&specs);
    let environments = envs
        .0
        .iter()
        .map(|e| {
            session::env_info(
                e.as_ref(),
                BTreeMap::from([("experiment".to_string(), EXPERIMENT.to_string())]),
            )
        })
        .collect();
    let x = ExperimentConfig::Neighbours {
        neighbours: cfg.clone(),
        victim_args,
    };
    s.start(Some(&x), environments, warnings)?;
    let t_all = std::time::Instant::now();
    let all: Vec<&dyn crate::env::Environment> = envs.0.iter().map(|e| e.as_ref()).collect();
    let Some(invalid) = measure(&mut s, &all, &cfg, &specs)? else {
        return Ok(EXIT_INTERRUPTED);
    };
    drop(envs);
    s.finish(false, None)?;
    if !a.no_history {
        eprintln!("history: the neighbour experiment is not recorded in the history database");
    }
    eprintln!("neighbours: done in {:.0} s", t_all.elapsed().as_secs_f64());
    super::run::print_end(&s.out);
    Ok(if invalid > 0 { 1 } else { 0 })
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
    if let Some(w) = victims.iter().find(|w| !nb::VICTIMS.contains(w)) {
        return Err(usage(format!(
            "{w} cannot be a neighbour victim (victims: cpu, membw, randacc, latency)"
        )));
    }
    if let Some(bad) = antagonists
        .iter()
        .find(|k| !nb::ANTAGONISTS.contains(&k.as_str()))
    {
        return Err(usage(format!(
            "--antagonists: '{bad}' is not one of {}",
            nb::ANTAGONISTS.join(", ")
        )));
    }
    Ok(())
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
    // Chosen antagonists: each victim beside each of them.
    let matched_only = quick && antagonists.is_empty();
    let antagonists: Vec<String> = if !antagonists.is_empty() {
        antagonists.to_vec()
    } else if quick {
        nb::QUICK_ANTAGONISTS
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        nb::ANTAGONISTS.iter().map(|s| s.to_string()).collect()
    };
    // Creating a pids cgroup for a native antagonist needs root.
    let native_pids = nix::unistd::geteuid().is_root();
    let mut warnings = vec![format!(
        "neighbours: victims {} beside antagonists {}{}; the fork antagonist is bounded by --max-procs {} and a pids limit of {} (containers: theirs; native: {})",
        victims.iter().map(|w| w.name()).collect::<Vec<_>>().join(","),
        antagonists.join(","),
        if matched_only { " (quick: each victim beside the antagonist of its own resource only)" } else { "" },
        nb::FORK_MAX_PROCS,
        nb::ANTAGONIST_PIDS,
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
    let victim_need = runner::memory_need_bytes(&specs, plan.threads);
    let llc_bytes = host::llc_bytes(std::path::Path::new("/"));
    // How the memory antagonists were sized, for run.json and the report.
    let sizes: Vec<String> = antagonists
        .iter()
        .filter_map(|k| {
            nb::antagonist_size(k, plan.threads, llc_bytes)
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
        .filter_map(|k| nb::antagonist_spec(k, plan.threads, 1, llc_bytes).memory_need_bytes())
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
    let scaling_need = nb::antagonist_spec("membw", host_cpus, 1, llc_bytes)
        .memory_need_bytes()
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

/// Run every trial of `cfg` in each of `envs` (after the session started),
/// appending a record per victim run; trials a resumed run measured are
/// kept. `Some(invalid trials)`, `None` when interrupted (every instance
/// stopped).
pub fn measure(
    s: &mut Session,
    envs: &[&dyn crate::env::Environment],
    cfg: &Config,
    specs: &BTreeMap<Workload, WorkloadSpec>,
) -> Result<Option<usize>> {
    let records = s.records_before().to_vec();
    let run_id = s.plan.run_id.clone();
    let mut invalid = 0;
    for (i, e) in envs.iter().enumerate() {
        let done = nb::done_trials(&records, &e.id());
        if !done.is_empty() {
            eprintln!(
                "neighbours: {}: {} trials already measured, kept",
                e.id(),
                done.len()
            );
        }
        eprintln!("neighbours: {} ...", e.id());
        let res = nb::run(*e, i, cfg, specs, &run_id, &records, |r| {
            let p = |k: &str| r.params[k].as_str().unwrap_or("?").to_string();
            if p("victim") == isobench_reports::neighbours::SOLO {
                eprintln!(
                    "  {} {} antagonist alone ({}, threads={}): {}",
                    e.id(),
                    p("antagonist"),
                    p("placement"),
                    r.params["threads"],
                    runner::describe(r)
                );
            } else {
                eprintln!(
                    "  {} rep {} {} {} beside {}: {}",
                    e.id(),
                    r.rep,
                    p("placement"),
                    p("victim"),
                    p("antagonist"),
                    runner::describe(r)
                );
            }
            s.append(r)
        });
        match res {
            Ok(o) => invalid += o.invalid,
            Err(err) if err.downcast_ref::<Interrupted>().is_some() => {
                eprintln!(
                    "interrupted; every instance was stopped; {}",
                    s.interrupted_note()
                );
                return Ok(None);
            }
            Err(err) => return Err(err.context(format!("neighbours in {}", e.id()))),
        }
    }
    Ok(Some(invalid))
}
