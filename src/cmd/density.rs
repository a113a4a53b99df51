//! `isobench run --experiment density`: the density experiment
//! ([`crate::experiment::density`]) for every environment of the plan, one
//! after the other, into a run directory.

use super::run::plan_from_args;
use crate::cli::RunArgs;
use crate::experiment::density::{self, raise_nofile, Density, Settings};
use crate::experiment::{Outcome, Signals};
use crate::locate;
use crate::plan::usage;
use crate::session::{Session, EXIT_INTERRUPTED};
use anyhow::Result;

/// `--mem-floor`, or its default.
pub fn mem_floor_flag(a: &RunArgs) -> u64 {
    a.mem_floor.unwrap_or(density::DEFAULT_MEM_FLOOR_MIB)
}

/// The experiment's name in run.json (`config.experiment`).
pub const EXPERIMENT: &str = density::EXPERIMENT;

pub fn run(a: &RunArgs, private_mounts: bool) -> Result<i32> {
    let nofile = raise_nofile()?;
    let mut s = Session::open(
        a.resume.as_deref(),
        Some(EXPERIMENT),
        || {
            let bin = locate::workload_bin(a.workload_bin.as_deref())
                .map_err(|e| usage(format!("{e:#}")))?;
            let mut args = a.clone();
            args.workload = vec!["startup".into()];
            plan_from_args(&args, bin)
        },
        private_mounts,
    )?;
    let mut x = Density::new(
        Settings {
            density_instances: a.instances,
            mem_floor_mib: mem_floor_flag(a),
        },
        nofile,
    );
    if s.drive(&mut x, &Signals, false, None)? == Outcome::Interrupted {
        return Ok(EXIT_INTERRUPTED);
    }
    super::run::print_end(&s.out);
    Ok(0)
}
