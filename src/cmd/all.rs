//! `isobench run --experiment all`: the main job
//! ([`crate::experiment::all`]) in one run directory.

use super::density::mem_floor_flag;
use super::run::plan_from_args;
use crate::cli::RunArgs;
use crate::experiment::all::All;
pub use crate::experiment::all::{neighbour_column, VICTIMS};
use crate::experiment::{density, neighbours, Outcome, Signals};
use crate::locate;
use crate::plan::usage;
use crate::session::{Session, EXIT_INTERRUPTED};
use anyhow::Result;

/// The experiment's name in run.json (`config.experiment`).
pub const EXPERIMENT: &str = crate::experiment::all::EXPERIMENT;

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
    let mut x = All::new(
        density::Settings {
            density_instances: a.instances,
            mem_floor_mib: mem_floor_flag(a),
        },
        a.antagonists.clone(),
        nofile,
        s.scratch.clone(),
    );
    let invalid = match s.drive(&mut x, &Signals, !a.no_history, a.db.as_deref())? {
        Outcome::Interrupted => return Ok(EXIT_INTERRUPTED),
        Outcome::Done { invalid, .. } => invalid,
    };
    super::run::print_end(&s.out);
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
