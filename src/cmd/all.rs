//! `isobench run --experiment all`: the main job in one run directory with
//! one run id: the suite (every workload of the plan, claim C7's among
//! them), then density (claim C4), then neighbours (claim C5: in the
//! native column and the isorun column, victims cpu and membw), then the
//! permission check (claim C6, as root). One `isobench report` of the
//! directory decides every claim from it.
//!
//! The environments are prepared once and serve the suite, density and
//! neighbours; `--resume` continues each phase where it stopped.

use super::density::{self, mem_floor_flag};
use super::run::plan_from_args;
use super::suite::{not_run, suite, suite_warnings};
use super::{neighbours, permissions};
use crate::cli::RunArgs;
use crate::env::column::{Column, Engine, Runtime};
use crate::env::Environment;
use crate::locate;
use crate::plan::usage;
use crate::session::{self, ExperimentConfig, Session, EXIT_INTERRUPTED};
use anyhow::Result;
use isobench_workloads::Workload;

/// The experiment's name in run.json (`config.experiment`).
pub const EXPERIMENT: &str = "all";

/// The neighbour experiment's victims in the main job (those the plan runs).
pub const VICTIMS: [Workload; 2] = [Workload::Cpu, Workload::Membw];

/// Whether the neighbour experiment runs in a column of the main job: the
/// native column and isorun's bare one (the quick suite's choice: the
/// peers and the VM add minutes and no claim).
pub fn neighbour_column(c: &Column) -> bool {
    match c {
        Column::Native => true,
        Column::Oci(o) => o.runtime == Runtime::Isorun && o.engine == Engine::None && !o.rootless,
        Column::Vm { .. } => false,
    }
}

pub fn run(a: &RunArgs, private_mounts: bool) -> Result<i32> {
    let nofile = density::raise_nofile()?;
    neighbours::check(&VICTIMS, &a.antagonists)?;
    let mut s = Session::open(
        a.resume.as_deref(),
        Some(EXPERIMENT),
        || {
            let bin = locate::workload_bin(a.workload_bin.as_deref())
                .map_err(|e| usage(format!("{e:#}")))?;
            plan_from_args(a, bin)
        },
        private_mounts,
    )?;
    // What a resumed run asked for when it started.
    let (instances, mem_floor, nb_before) = match session::config_before(&s)? {
        Some(ExperimentConfig::All {
            density_instances,
            mem_floor_mib,
            neighbours,
            ..
        }) => (density_instances, mem_floor_mib, neighbours),
        Some(x) => {
            return Err(usage(format!(
                "cannot resume a {} run as the main job",
                x.name()
            )))
        }
        None => (a.instances, mem_floor_flag(a), None),
    };
    let plan = s.plan.clone();
    let Some(mut envs) = s.prepare()? else {
        return Ok(EXIT_INTERRUPTED);
    };
    let emulated = envs.0.iter().any(|e| e.emulated());
    let specs = crate::runner::specs(&plan, emulated);
    if !s.fit(
        &mut envs.0,
        crate::runner::memory_need_bytes(&specs, plan.threads),
        "the workloads",
    )? {
        return Ok(EXIT_INTERRUPTED);
    }
    let mut warnings = suite_warnings(&s, &envs.0);
    let (density_warnings, ksm_before) = density::preamble(nofile, mem_floor);
    warnings.extend(density_warnings);
    // Neighbours: the victims the plan runs, in the columns it runs in.
    let victims: Vec<Workload> = VICTIMS
        .into_iter()
        .filter(|w| plan.workloads.contains(w))
        .collect();
    let nb_envs: Vec<&dyn Environment> = plan
        .envs
        .iter()
        .zip(envs.0.iter())
        .filter(|(c, _)| neighbour_column(c))
        .map(|(_, e)| e.as_ref())
        .collect();
    let nb = if victims.is_empty() || nb_envs.is_empty() {
        warnings.push("neighbours: not measured (the plan runs neither cpu nor membw, or neither the native nor the isorun column)".into());
        None
    } else {
        let setup = neighbours::setup(&plan, &victims, &a.antagonists, false)?;
        // The host must hold the largest victim beside the largest antagonist.
        if !s.fit(&mut [], setup.need, "victim and antagonist")? {
            return Ok(EXIT_INTERRUPTED);
        }
        warnings.extend(setup.warnings.iter().cloned());
        warnings.push(format!(
            "neighbours: measured in {} only",
            nb_envs
                .iter()
                .map(|e| e.id())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        Some(setup)
    };
    let perm_blocked = permissions::needs_root();
    if let Some(why) = &perm_blocked {
        warnings.push(format!("permissions (claim C6): not measured: {why}"));
    } else {
        warnings.push(permissions::WARNING.into());
    }
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let environments = envs
        .0
        .iter()
        .map(|e| match density::finished(&s, &e.id()) {
            Some(done) => done,
            None => {
                let mut extra = not_run(&plan, e.as_ref());
                extra.extend(ksm_before.clone());
                session::env_info(e.as_ref(), extra)
            }
        })
        .collect::<Vec<_>>();
    // Entries of a resumed run beyond these columns (the permission
    // setups) stay.
    let mut environments = environments;
    if let Some(b) = &s.before {
        for e in &b.info.environments {
            if !environments.iter().any(|x| x.env_id == e.env_id) {
                environments.push(e.clone());
            }
        }
    }
    let nb_cfg = nb_before.or_else(|| nb.as_ref().map(|n| n.cfg.clone()));
    let x = ExperimentConfig::All {
        density_instances: instances,
        mem_floor_mib: mem_floor,
        neighbours: nb_cfg.clone(),
        victim_args: nb
            .as_ref()
            .map(|n| neighbours::victim_args(&n.specs))
            .unwrap_or_default(),
    };
    s.start(Some(&x), environments, warnings)?;

    eprintln!("main job: the suite ...");
    let Some(summary) = suite(&mut s, &mut envs.0)? else {
        return Ok(EXIT_INTERRUPTED);
    };
    eprintln!("main job: density ...");
    if !density::measure(&mut s, &envs.0, instances, mem_floor)? {
        return Ok(EXIT_INTERRUPTED);
    }
    let mut nb_invalid = 0;
    if let (Some(setup), Some(cfg)) = (&nb, &nb_cfg) {
        eprintln!("main job: neighbours ...");
        let nb_envs: Vec<&dyn Environment> = plan
            .envs
            .iter()
            .zip(envs.0.iter())
            .filter(|(c, _)| neighbour_column(c))
            .map(|(_, e)| e.as_ref())
            .collect();
        match neighbours::measure(&mut s, &nb_envs, cfg, &setup.specs)? {
            Some(n) => nb_invalid = n,
            None => return Ok(EXIT_INTERRUPTED),
        }
    }
    // The environments are done: cleaned up before the permission check.
    drop(envs);
    let perm_done = s
        .records_before()
        .iter()
        .any(|r| r.workload == isobench_reports::permissions::WORKLOAD);
    if perm_blocked.is_none() && !perm_done {
        eprintln!("main job: permissions ...");
        let check = permissions::Check::prepare()?;
        s.info_mut().environments.extend(check.environments());
        s.write_info()?;
        let run_id = s.plan.run_id.clone();
        if !check.measure(&run_id, |r| s.append(r))? {
            return Ok(EXIT_INTERRUPTED);
        }
    }
    s.finish(!a.no_history, a.db.as_deref())?;
    super::run::print_end(&s.out);
    let invalid = summary.invalid + nb_invalid;
    if invalid > 0 {
        eprintln!(
            "{invalid} runs or trials were invalid or failed; see the error fields in {}",
            s.out.join("results.jsonl").display()
        );
        return Ok(1);
    }
    eprintln!("done: one run in {}", s.out.display());
    Ok(0)
}
