//! `isobench run --experiment neighbours`: the noisy-neighbour experiment
//! ([`crate::experiment::neighbours`]) for every environment of the plan,
//! one after the other, into a run directory.

use super::run::plan_from_args;
use crate::cli::RunArgs;
use crate::experiment::neighbours::{self as nb, Neighbours};
pub use crate::experiment::neighbours::{setup, Setup};
use crate::experiment::{Outcome, Signals};
use crate::locate;
use crate::plan::usage;
use crate::session::{Session, EXIT_INTERRUPTED};
use anyhow::Result;

/// The experiment's name in run.json (`config.experiment`).
pub const EXPERIMENT: &str = nb::EXPERIMENT;

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
    nb::check(&s.plan.workloads, &a.antagonists)?;
    let mut x = Neighbours::new(a.antagonists.clone());
    let invalid = match s.drive(&mut x, &Signals, false, None)? {
        Outcome::Interrupted => return Ok(EXIT_INTERRUPTED),
        Outcome::Done { invalid, .. } => invalid,
    };
    if !a.no_history {
        eprintln!("history: the neighbour experiment is not recorded in the history database");
    }
    eprintln!("neighbours: done in {:.0} s", x.elapsed().as_secs_f64());
    super::run::print_end(&s.out);
    Ok(if invalid > 0 { 1 } else { 0 })
}
