//! `isobench run --experiment permissions`: who may act on whose containers
//! (claim C6, [`check`](fn@crate::experiment::permissions::check)), in a run directory
//! of its own, driven by the run session like every experiment. Needs root
//! (it makes two test users and a group, and removes them on every path).

use crate::cli::RunArgs;
pub use crate::experiment::permissions::check::needs_root;
use crate::experiment::permissions::check::Permissions;
pub use crate::experiment::permissions::check::EXPERIMENT;
use crate::experiment::{Outcome, Signals};
use crate::plan::{usage, Plan};
use crate::session::{new_run_id, Session, EXIT_INTERRUPTED};
use anyhow::Result;
use std::path::PathBuf;

pub fn run(a: &RunArgs, private_mounts: bool) -> Result<i32> {
    if a.resume.is_some() {
        return Err(usage(
            "--resume does not apply to --experiment permissions; start a new run",
        ));
    }
    if let Some(why) = needs_root() {
        return Err(usage(why));
    }
    let plan = || {
        let run_id = new_run_id();
        let out = a
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("runs").join(&run_id));
        Ok(Plan::without_workloads(run_id, out))
    };
    let mut s = Session::open(None, Some(EXPERIMENT), plan, private_mounts)?;
    if s.drive(&mut Permissions::default(), &Signals, false, None)? == Outcome::Interrupted {
        return Ok(EXIT_INTERRUPTED);
    }
    super::run::print_end(&s.out);
    Ok(0)
}
