//! `isobench run --dry-run`: the plan a run would measure (columns,
//! workloads with their arguments, repetitions, experiments) and an
//! estimate of its time ([`crate::estimate`]), on standard output. It
//! validates the flags as the run would (bad input: exit 2) but sweeps
//! nothing, prepares no environment, boots nothing and creates no run
//! directory.

use super::run::plan_from_args;
use super::{all, density, neighbours, permissions};
use crate::cli::{Experiment, RunArgs};
use crate::env::column::Column;
use crate::estimate::{self, column_text, duration_text, Work};
use crate::locate;
use crate::plan::{usage, Plan};
use anyhow::Result;
use isobench_workloads::{Preset, Workload};
use std::fmt::Write as _;

/// Print the plan of `a` and its estimate; exit status 0.
pub fn run(a: &RunArgs) -> Result<i32> {
    print!("{}", text(a)?);
    Ok(0)
}

/// The dry run's text (what [`run`] prints).
pub fn text(a: &RunArgs) -> Result<String> {
    let experiment = a.experiment;
    if experiment == Some(Experiment::Permissions) {
        return Ok(permissions_text());
    }
    let bin =
        locate::workload_bin(a.workload_bin.as_deref()).map_err(|e| usage(format!("{e:#}")))?;
    let mut args = a.clone();
    match experiment {
        Some(Experiment::Density) => args.workload = vec!["startup".into()],
        Some(Experiment::Neighbours) if args.workload.is_empty() => {
            args.workload = vec!["cpu".into(), "membw".into()]
        }
        _ => {}
    }
    let plan = plan_from_args(&args, bin)?;
    let emulated = plan.envs.iter().any(estimate::assumed_emulated);
    let specs = crate::runner::specs(&plan, emulated);
    let quick = plan.preset == Preset::Quick;
    let suite = matches!(experiment, None | Some(Experiment::All));
    let density_cols = density_columns(a, &plan, quick);
    let (nb_cols, victims) = neighbour_columns(experiment, &plan);
    let nb = if nb_cols.is_empty() || victims.is_empty() {
        None
    } else {
        Some(neighbours::setup(
            &plan,
            &victims,
            &a.antagonists,
            emulated,
        )?)
    };
    let permissions = experiment == Some(Experiment::All) && permissions::needs_root().is_none();

    let mut s = String::new();
    let _ = writeln!(
        s,
        "plan: {} (preset {}), run id {}, into {} (not created by a dry run)",
        title(experiment),
        plan.preset.name(),
        plan.run_id,
        plan.out.display()
    );
    let _ = writeln!(s, "columns:");
    for c in &plan.envs {
        let _ = writeln!(s, "  {}", column_text(c));
    }
    if suite {
        let _ = writeln!(
            s,
            "workloads ({} measured repetitions, {} warm-up, {} threads, order shuffled per repetition with seed {:#x}):",
            plan.reps, plan.warmup, plan.threads, plan.seed
        );
        for spec in specs.values() {
            let _ = writeln!(s, "  {}", spec.to_args().join(" "));
        }
    }
    for (c, n) in &density_cols {
        let _ = writeln!(
            s,
            "density: up to {n} idle instances in {}, launched one at a time (memory floor {} MiB)",
            column_text(c),
            density::mem_floor_flag(a)
        );
    }
    if let Some(setup) = &nb {
        write_neighbours(&mut s, &nb_cols, setup);
    }
    match experiment {
        Some(Experiment::All) if !permissions => {
            let why = permissions::needs_root().unwrap_or_default();
            let _ = writeln!(s, "permissions: not measured ({why})");
        }
        Some(Experiment::All) => {
            let _ = writeln!(s, "permissions: the permission check (claim C6), as root");
        }
        _ => {}
    }
    for n in &plan.notes {
        let _ = writeln!(s, "note: {n}");
    }
    let work = Work {
        suite,
        density: density_cols.clone(),
        neighbours: nb
            .as_ref()
            .map(|setup| (nb_cols.clone(), &setup.cfg, &setup.specs)),
        permissions,
    };
    let e = estimate::estimate(&plan, &specs, &work);
    write_estimate(&mut s, &e);
    Ok(s)
}

/// The permission check alone: what it does, and its estimate.
fn permissions_text() -> String {
    let mut s = String::from("plan: the permission check (claim C6): two test users and a group, each setup (podman service, shared and per-user runtime state roots, rootless engines) tried once\n");
    if let Some(why) = permissions::needs_root() {
        let _ = writeln!(s, "note: {why}; this run would stop with that error");
    }
    write_estimate(&mut s, &estimate::permissions_only());
    s
}

/// What the first line says the run is.
fn title(experiment: Option<Experiment>) -> &'static str {
    match experiment {
        None => "the suite",
        Some(Experiment::All) => {
            "the main job: the suite, then density, neighbours and permissions"
        }
        Some(Experiment::Density) => "the density experiment (claim C4)",
        Some(Experiment::Neighbours) => "the noisy-neighbour experiment (claim C5)",
        Some(Experiment::Permissions) => unreachable!("handled before"),
    }
}

/// The density experiment's columns and instance counts, if it runs.
fn density_columns<'p>(a: &RunArgs, plan: &'p Plan, quick: bool) -> Vec<(&'p Column, usize)> {
    if !matches!(a.experiment, Some(Experiment::Density | Experiment::All)) {
        return Vec::new();
    }
    plan.envs
        .iter()
        .map(|c| {
            let n = a
                .instances
                .unwrap_or_else(|| crate::experiment::density::default_instances(c.kind(), quick));
            (c, n)
        })
        .collect()
}

/// The neighbour experiment's columns and victims, if it runs.
fn neighbour_columns(experiment: Option<Experiment>, plan: &Plan) -> (Vec<&Column>, Vec<Workload>) {
    match experiment {
        Some(Experiment::Neighbours) => (plan.envs.iter().collect(), plan.workloads.clone()),
        Some(Experiment::All) => (
            plan.envs
                .iter()
                .filter(|c| all::neighbour_column(c))
                .collect(),
            all::VICTIMS
                .into_iter()
                .filter(|w| plan.workloads.contains(w))
                .collect(),
        ),
        _ => (Vec::new(), Vec::new()),
    }
}

/// The neighbour experiment's lines.
fn write_neighbours(
    s: &mut String,
    nb_cols: &[&Column],
    setup: &crate::experiment::neighbours::Setup,
) {
    let cfg = &setup.cfg;
    let _ = writeln!(
        s,
        "neighbours in {}: victims {} beside {}{}, placements {}, {} repetitions",
        nb_cols
            .iter()
            .map(|c| column_text(c))
            .collect::<Vec<_>>()
            .join(", "),
        cfg.victims
            .iter()
            .map(|w| w.name())
            .collect::<Vec<_>>()
            .join(", "),
        cfg.antagonists.join(", "),
        if cfg.matched_only {
            " (each victim beside the antagonist of its own resource only)"
        } else {
            ""
        },
        cfg.placements
            .iter()
            .map(|p| p.name())
            .collect::<Vec<_>>()
            .join(", "),
        cfg.reps
    );
    for spec in setup.specs.values() {
        let _ = writeln!(s, "  victim: {}", spec.to_args().join(" "));
    }
}

fn write_estimate(s: &mut String, e: &estimate::Estimate) {
    let _ = writeln!(
        s,
        "estimated time: about {} (an estimate, not a measurement)",
        duration_text(e.total_s())
    );
    for p in &e.phases {
        let _ = writeln!(s, "  {:>10}  {}", duration_text(p.seconds), p.what);
    }
    let _ = writeln!(s, "it assumes:");
    for a in &e.assumptions {
        let _ = writeln!(s, "  - {a}");
    }
    let _ = writeln!(s, "nothing was run; drop --dry-run to measure");
}
