//! The suite: every workload of the plan in every column, repetitions
//! shuffled per seed (`crate::runner`), into a run directory; the first
//! phase of the main job (`--experiment all`).

use super::run::plan_from_args;
use crate::cli::RunArgs;
use crate::env::{self, Environment};
use crate::plan::{usage, Plan};
use crate::progress::Progress;
use crate::session::{self, Session, EXIT_INTERRUPTED};
use crate::{locate, runner};
use anyhow::Result;

/// `isobench run` without `--experiment`.
pub fn run(a: &RunArgs, private_mounts: bool) -> Result<i32> {
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
    super::run::print_end(&out_path);
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
    // Only the suite's own repetitions count (a main job's directory also
    // holds the records of its experiments).
    let done_here = done
        .iter()
        .filter(|(_, w, _)| plan.workloads.iter().any(|p| plan.workload_name(*p) == *w))
        .count();
    let mut progress = Progress::new(total.saturating_sub(done_here as u64));
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
