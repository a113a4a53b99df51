//! The suite ([`crate::experiment::suite`]): every workload of the plan in
//! every column, into a run directory.

use super::run::plan_from_args;
use crate::cli::RunArgs;
use crate::experiment::suite::Suite;
use crate::experiment::{Outcome, Signals};
use crate::locate;
use crate::plan::usage;
use crate::session::{Session, EXIT_INTERRUPTED};
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
    let mut x = Suite {
        scratch: s.scratch.clone(),
    };
    let (measured, invalid) = match s.drive(&mut x, &Signals, !a.no_history, a.db.as_deref())? {
        Outcome::Interrupted => return Ok(EXIT_INTERRUPTED),
        Outcome::Done { measured, invalid } => (measured, invalid),
    };
    let out_path = s.out.clone();
    super::run::print_end(&out_path);
    if invalid > 0 {
        eprintln!(
            "{} of {} runs were invalid or failed; see the error fields in {}",
            invalid,
            measured,
            out_path.join("results.jsonl").display()
        );
        return Ok(1);
    }
    eprintln!("done: {} runs measured in {}", measured, out_path.display());
    Ok(0)
}
