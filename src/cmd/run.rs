//! `isobench run`: refuse flags that would do nothing, map the flags to a
//! plan input, and hand the run to its experiment (the suite by default).

use crate::cli::RunArgs;
use crate::env::{process::install_signal_handlers, EnvKind};
use crate::host;
use crate::plan::{self, usage, Plan, PlanInput};
use crate::session::{host_mem_available, new_run_id};
use anyhow::Result;
use std::path::Path;

pub use crate::session::EXIT_INTERRUPTED;

pub fn plan_from_args(a: &RunArgs, workload_bin: std::path::PathBuf) -> Result<Plan> {
    Ok(plan::build(&plan_input(a, workload_bin))?)
}

/// The plan input of `isobench run` flags, with this host's facts.
pub fn plan_input(a: &RunArgs, workload_bin: std::path::PathBuf) -> PlanInput {
    PlanInput {
        envs: if a.env.is_empty() {
            vec![EnvKind::Native.name().to_string()]
        } else {
            a.env.clone()
        },
        workloads: a.workload.clone(),
        preset: a.preset.clone(),
        threads: a.threads,
        reps: a.reps,
        warmup: a.warmup,
        runtimes: a.runtime.clone(),
        accel: a.accel.clone().unwrap_or_else(|| "auto".into()),
        machine: a.machine.clone().unwrap_or_else(|| "microvm".into()),
        kernel: a.kernel.clone(),
        vm_memory_mib: a.vm_memory,
        vm_cpu: a.vm_cpu.clone(),
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
        euid: crate::sys::euid(),
        path: std::env::var_os("PATH"),
        command: crate::user_command::CommandInput {
            argv: a.command.clone(),
            rootfs: a.rootfs.clone(),
            name: a.name.clone(),
            metrics: a.metrics.clone(),
            timeout_s: a.command_timeout,
        },
    }
}

/// `Err(usage)` when `given`: `flag` does nothing `why`.
fn refuse(given: bool, flag: &str, why: &str) -> Result<()> {
    if given {
        return Err(usage(format!("{flag} does nothing {why}")));
    }
    Ok(())
}

/// Each flag of `isobench run` and whether it was given, by group.
struct Given<'a> {
    /// The plan's flags; `[3..7]` are the VM's.
    plan: [(bool, &'a str); 13],
    /// `[..2]` density's, `[2..]` neighbours'.
    experiment: [(bool, &'a str); 3],
    /// `[0]` the command itself.
    command: [(bool, &'a str); 5],
}

fn given(a: &RunArgs) -> Given<'static> {
    Given {
        plan: [
            (!a.env.is_empty(), "--env"),
            (!a.workload.is_empty(), "--workload"),
            (!a.runtime.is_empty(), "--runtime"),
            (a.accel.is_some(), "--accel"),
            (a.machine.is_some(), "--machine"),
            (a.kernel.is_some(), "--kernel"),
            (a.vm_memory.is_some(), "--vm-memory"),
            (a.vm_cpu.is_some(), "--vm-cpu"),
            (a.threads.is_some(), "--threads"),
            (a.reps.is_some(), "--reps"),
            (a.warmup.is_some(), "--warmup"),
            (a.seed.is_some(), "--seed"),
            (a.timeout.is_some(), "--timeout"),
        ],
        experiment: [
            (a.instances.is_some(), "--instances"),
            (a.mem_floor.is_some(), "--mem-floor"),
            (!a.antagonists.is_empty(), "--antagonists"),
        ],
        command: [
            (!a.command.is_empty(), "a command after --"),
            (a.rootfs.is_some(), "--rootfs"),
            (a.name.is_some(), "--name"),
            (!a.metrics.is_empty(), "--metric"),
            (a.command_timeout.is_some(), "--command-timeout"),
        ],
    }
}

/// Flags that would do nothing in this run are refused (exit 2) before
/// anything is probed or swept.
pub fn check_flags(a: &RunArgs) -> Result<()> {
    let g = given(a);
    if a.command.is_empty() {
        for (given, flag) in &g.command[1..] {
            refuse(
                *given,
                flag,
                "without a command after -- (isobench run [FLAGS] -- PROG ARGS...)",
            )?;
        }
    } else if a.experiment.is_some() {
        return Err(usage(
            "--experiment and a command after -- do not go together: experiments run their own workloads",
        ));
    }
    if a.resume.is_some() {
        for (given, flag) in g.command.iter().chain(&g.plan).chain(&g.experiment) {
            refuse(
                *given,
                flag,
                "with --resume: the run continues the plan it started with",
            )?;
        }
    }
    check_columns(a)?;
    check_experiment(a, &g)?;
    if a.experiment != Some(crate::cli::Experiment::Permissions) && a.resume.is_none() {
        let has = |k: EnvKind| a.env.iter().any(|e| e == k.name());
        if !has(EnvKind::Container) {
            refuse(
                !a.runtime.is_empty(),
                "--runtime",
                "without --env container",
            )?;
        }
        if !has(EnvKind::Vm) {
            for (given, flag) in &g.plan[3..7] {
                refuse(*given, flag, "without --env vm")?;
            }
        }
    }
    Ok(())
}

/// `--vm-cpu` and every `--runtime` are parsed (and an unknown one
/// refused) up front.
fn check_columns(a: &RunArgs) -> Result<()> {
    if let Some(m) = &a.vm_cpu {
        refuse(
            a.experiment.is_none() && !a.env.iter().any(|e| e.trim() == "vm"),
            "--vm-cpu",
            "without --env vm",
        )?;
        crate::env::vm::qemu::check_cpu_model_here(
            &crate::env::process::Host,
            m,
            a.accel.as_deref().unwrap_or("auto"),
        )
        .map_err(usage)?;
    }
    for r in &a.runtime {
        let o = crate::env::column::Oci::parse(r).map_err(usage)?;
        if let Some(why) = o.unsupported() {
            return Err(usage(why));
        }
        // Before anything is probed: a docker column needs a daemon.
        if o.engine == crate::env::column::Engine::Docker {
            if let Some(why) = crate::env::docker::daemon_unavailable() {
                return Err(usage(format!("--runtime {o}: {why}")));
            }
        }
    }
    Ok(())
}

/// The experiment's own flags go with it only.
fn check_experiment(a: &RunArgs, g: &Given) -> Result<()> {
    use crate::cli::Experiment;
    let density_flags = &g.experiment[..2];
    let neighbours_flags = &g.experiment[2..];
    match a.experiment {
        None => {
            for (given, flag) in &g.experiment {
                refuse(
                    *given,
                    flag,
                    "without --experiment density, neighbours or all",
                )?;
            }
        }
        Some(Experiment::Density) => {
            refuse(
                !a.workload.is_empty(),
                "--workload",
                "with --experiment density: it launches idle instances",
            )?;
            for (given, flag) in neighbours_flags {
                refuse(*given, flag, "with --experiment density")?;
            }
        }
        Some(Experiment::Neighbours) => {
            for (given, flag) in density_flags {
                refuse(*given, flag, "with --experiment neighbours")?;
            }
        }
        Some(Experiment::Permissions) => {
            for (given, flag) in g.plan.iter().chain(&g.experiment) {
                refuse(
                    *given,
                    flag,
                    "with --experiment permissions: it tries its own setups",
                )?;
            }
        }
        Some(Experiment::All) => {}
    }
    Ok(())
}

/// What a finished run prints on standard output: its directory, then the
/// results table, the claims it decided and the next command to type
/// (`isobench_reports::export::terminal`). A directory that cannot be read
/// back is reported on standard error; the run itself stands.
pub fn print_end(out: &Path) {
    println!("{}", out.display());
    match isobench_reports::digest::digest_run_dir(out) {
        Ok(d) => print!(
            "{}",
            isobench_reports::export::terminal::end_summary(&d, &out.display().to_string())
        ),
        Err(e) => eprintln!("warning: no results table: {e}"),
    }
}

pub fn run(a: &RunArgs) -> Result<i32> {
    check_flags(a)?;
    if a.dry_run {
        return super::dry_run::run(a);
    }
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
        Some(super::density::EXPERIMENT) => super::density::run(a, private_mounts),
        Some(super::all::EXPERIMENT) => super::all::run(a, private_mounts),
        Some(super::neighbours::EXPERIMENT) => super::neighbours::run(a, private_mounts),
        Some(super::permissions::EXPERIMENT) => super::permissions::run(a, private_mounts),
        _ => super::suite::run(a, private_mounts),
    }
}
