//! `--resume DIR` for the experiments (density, neighbours): reopen the run
//! directory, read back its plan and what it measured, so that the run
//! measures only what is missing. Works the same after Ctrl-C and after a
//! kill -9 (a line cut short by the crash is dropped).

use crate::plan::{usage, Plan};
use crate::store::{self, RunDir};
use anyhow::Result;
use isobench_reports::schema::{ResultRecord, RunInfo};
use std::path::Path;

/// A reopened experiment run.
pub(crate) struct Resumed {
    pub dir: RunDir,
    pub info: RunInfo,
    pub plan: Plan,
    pub records: Vec<ResultRecord>,
    pub warnings: Vec<String>,
}

/// Reopen the `experiment` run in `path`; bad input (no run, another kind
/// of run, a plan this version cannot read) is a usage error naming it.
pub(crate) fn open(path: &Path, experiment: &str) -> Result<Resumed> {
    let bad = |why: String| usage(format!("cannot resume {}: {why}", path.display()));
    let info = store::read_run_info(path).map_err(|e| bad(format!("{e:#}")))?;
    match store::experiment_of(&info) {
        Some(e) if e == experiment => {}
        Some(e) => {
            return Err(bad(format!(
                "it holds a {e} experiment, not {experiment} (leave out --experiment)"
            )))
        }
        None => {
            return Err(bad(format!(
                "it holds a suite run, not a {experiment} experiment (leave out --experiment)"
            )))
        }
    }
    let (dir, info, _, warnings) = RunDir::resume(path).map_err(|e| bad(format!("{e:#}")))?;
    let plan: Plan = serde_json::from_value(info.config.clone()).map_err(|e| {
        bad(format!(
            "its run.json holds no plan this version understands: {e}"
        ))
    })?;
    let records = store::read_results(path).map_err(|e| bad(format!("{e:#}")))?;
    Ok(Resumed {
        dir,
        info,
        plan,
        records,
        warnings,
    })
}
