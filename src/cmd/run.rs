//! `isobench run`: validate the plan, create the run directory, prepare the
//! environments, measure, record history.

use crate::cli::RunArgs;
use crate::env::{self, process::install_signal_handlers, Environment};
use crate::plan::{self, usage, Plan, PlanInput};
use crate::progress::Progress;
use crate::session::{self, host_mem_available, new_run_id, Session};
use crate::{host, locate, runner};
use anyhow::Result;
use std::path::Path;

pub use crate::session::EXIT_INTERRUPTED;

pub fn plan_from_args(a: &RunArgs, workload_bin: std::path::PathBuf) -> Result<Plan> {
    Ok(plan::build(&plan_input(a, workload_bin))?)
}

/// The plan input of `isobench run` flags, with this host's facts.
pub fn plan_input(a: &RunArgs, workload_bin: std::path::PathBuf) -> PlanInput {
    PlanInput {
        envs: a.env.clone(),
        workloads: a.workload.clone(),
        preset: a.preset.clone(),
        threads: a.threads,
        reps: a.reps,
        warmup: a.warmup,
        runtimes: a.runtime.clone(),
        accel: a.accel.clone(),
        machine: a.machine.clone(),
        kernel: a.kernel.clone(),
        vm_memory_mib: a.vm_memory,
        seed: a.seed,
        timeout_s: a.timeout,
        out: a.out.clone(),
        workload_bin,
        host_cores: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        host_llc_bytes: host::llc_bytes(Path::new("/")),
        host_mem_available_bytes: host_mem_available(),
        stream: a.stream.clone(),
        pages: a.pages.clone(),
        run_id: new_run_id(),
        euid: nix::unistd::geteuid().as_raw(),
    }
}

/// Measurement hazards worth a warning in run.json, each with advice.
fn hazards(cores: usize) -> Vec<String> {
    let mut w = Vec::new();
    if let Ok(l) = std::fs::read_to_string("/proc/loadavg") {
        if let Some(load) = l
            .split_whitespace()
            .next()
            .and_then(|x| x.parse::<f64>().ok())
        {
            if load > 0.5 * cores as f64 {
                w.push(format!(
                    "busy host: 1-minute load average {load:.2} on {cores} cores; stop other work or add --reps, results will be noisier"
                ));
            }
        }
    }
    if let Ok(g) = std::fs::read_to_string("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
    {
        if g.trim() != "performance" {
            w.push(format!(
                "CPU frequency governor is '{}': frequency scaling adds noise; set 'performance' for stable figures",
                g.trim()
            ));
        }
    }
    w
}

pub fn run(a: &RunArgs) -> Result<i32> {
    // First, while single-threaded: sweep dead runs' leftovers, then enter
    // a private mount namespace (crash safety, crate::sweep).
    let private_mounts = crate::sweep::at_run_start();
    install_signal_handlers()?;
    // `--resume DIR` continues whatever DIR holds: an experiment resumes
    // as one (its run.json says which).
    let experiment = match (&a.resume, a.experiment) {
        (Some(path), None) => crate::store::read_run_info(path)
            .ok()
            .and_then(|i| crate::store::experiment_of(&i)),
        (_, Some(e)) => Some(e.name().to_string()),
        (None, None) => None,
    };
    match experiment.as_deref() {
        Some(super::density::EXPERIMENT) => return super::density::run(a, private_mounts),
        Some(super::all::EXPERIMENT) => return super::all::run(a, private_mounts),
        Some(super::neighbours::EXPERIMENT) => return super::neighbours::run(a, private_mounts),
        Some("permissions") => return super::permissions::run(a),
        _ => {}
    }
    let mut s = Session::open(
        a.resume.as_deref(),
        None,
        || {
            let bin = locate::workload_bin(a.workload_bin.as_deref())
                .map_err(|e| usage(format!("{e:#}")))?;
            plan_from_args(a, bin)
        },
        private_mounts,
    )?;
    for w in s.before.iter().flat_map(|b| &b.warnings) {
        eprintln!("warning: {w}");
    }
    let Some(mut envs) = s.prepare()? else {
        return Ok(EXIT_INTERRUPTED);
    };
    let plan = s.plan.clone();
    // Every environment runs the same work; size what must hold it.
    let specs = runner::specs(&plan, envs.0.iter().any(|e| e.emulated()));
    let need = runner::memory_need_bytes(&specs, plan.threads);
    if !s.fit(&mut envs.0, need, "the workloads")? {
        return Ok(EXIT_INTERRUPTED);
    }
    let bin_bytes = std::fs::read(&plan.workload_bin).unwrap_or_default();
    if locate::is_static_elf(&bin_bytes) == Some(false)
        && plan.envs.iter().any(|e| e != &env::column::Column::Native)
    {
        eprintln!("warning: {} is not statically linked; containers and VMs need the static build of scripts/build-workload.sh", plan.workload_bin.display());
    }
    let run_warnings = suite_warnings(&s, &envs.0);
    for w in &run_warnings {
        eprintln!("warning: {w}");
    }
    let environments = envs
        .0
        .iter()
        .map(|e| session::env_info(e.as_ref(), not_run(&plan, e.as_ref())))
        .collect();
    s.start(None, environments, run_warnings)?;

    let Some(summary) = suite(&mut s, &mut envs.0)? else {
        return Ok(EXIT_INTERRUPTED);
    };
    drop(envs);
    s.finish(!a.no_history, a.db.as_deref())?;
    let out_path = s.out.clone();
    println!("{}", out_path.display());
    if summary.invalid > 0 {
        eprintln!(
            "{} of {} runs were invalid or failed; see the error fields in {}",
            summary.invalid,
            summary.measured,
            out_path.join("results.jsonl").display()
        );
        return Ok(1);
    }
    eprintln!(
        "done: {} runs measured in {}",
        summary.measured,
        out_path.display()
    );
    Ok(0)
}

/// The suite's warnings: host hazards, the plan's notes, emulation.
pub fn suite_warnings(s: &Session, envs: &[Box<dyn Environment>]) -> Vec<String> {
    let mut w = hazards(s.host().cores_logical);
    w.extend(s.plan.notes.iter().cloned());
    if envs.iter().any(|e| e.emulated()) {
        w.push(
            "a VM runs under emulation (QEMU TCG): every environment runs the emulated (smaller) sizes so that ratios compare the same work, and VM figures measure the emulator, not virtualisation"
                .to_string(),
        );
    }
    w
}

/// What an environment skips of the plan's workloads, and why (claim C7's
/// workloads: no lower layer in a VM, no mount in a container), for its
/// run.json detail.
pub fn not_run(plan: &Plan, e: &dyn Environment) -> std::collections::BTreeMap<String, String> {
    plan.workloads
        .iter()
        .filter_map(|w| Some((format!("not_run_{w}"), e.cannot_run(*w)?)))
        .collect()
}

/// Run the plan's workloads in `envs` (after the session started),
/// repetitions a resumed run measured excepted. `None` when interrupted.
pub fn suite(
    s: &mut Session,
    envs: &mut [Box<dyn Environment>],
) -> Result<Option<runner::Summary>> {
    let plan = s.plan.clone();
    let runnable = envs
        .iter()
        .map(|e| {
            plan.workloads
                .iter()
                .filter(|w| e.cannot_run(**w).is_none())
                .count()
        })
        .sum::<usize>();
    let total = runnable as u64 * plan.reps as u64;
    let done = s
        .before
        .as_ref()
        .map(|b| b.done.clone())
        .unwrap_or_default();
    let mut progress = Progress::new(total.saturating_sub(done.len() as u64));
    let summary = runner::execute(&plan, envs, &mut s.dir, &done, &mut progress);
    progress.finish();
    let summary = summary?;
    if summary.interrupted {
        eprintln!(
            "interrupted after {} measured runs; {}",
            summary.measured,
            s.interrupted_note()
        );
        return Ok(None);
    }
    Ok(Some(summary))
}
