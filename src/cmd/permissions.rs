//! `isobench run --experiment permissions`: who may act on whose containers
//! (claim C6, [`crate::experiment::permissions::check`]), in a run directory
//! of its own. Needs root (it makes two test users and a group, and removes
//! them on every path).

use crate::cli::RunArgs;
pub use crate::experiment::permissions::check::needs_root;
use crate::experiment::permissions::check::{Check, WARNING};
use crate::experiment::Signals;
use crate::host;
use crate::plan::usage;
use crate::session::{new_run_id, now_rfc3339, RemoveDirGuard, EXIT_INTERRUPTED};
use crate::store::RunDir;
use anyhow::Result;
use isobench_reports::schema::{RunInfo, ToolInfo, SCHEMA_VERSION};
use std::path::PathBuf;

pub fn run(a: &RunArgs) -> Result<i32> {
    if a.resume.is_some() {
        return Err(usage(
            "--resume does not apply to --experiment permissions; start a new run",
        ));
    }
    if let Some(why) = needs_root() {
        return Err(usage(why));
    }
    let run_id = new_run_id();
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(&run_id));
    let mut dir = RunDir::create(&out).map_err(|e| usage(format!("{e:#}")))?;
    let out_path = dir.path().to_path_buf();
    let mut guard = RemoveDirGuard {
        path: out_path.clone(),
        armed: true,
    };
    let check = Check::prepare()?;
    let host = host::probe();
    eprintln!("host: {}", host::one_line(&host));
    let mut info = RunInfo {
        schema: SCHEMA_VERSION,
        run_id: run_id.clone(),
        started_at: now_rfc3339(),
        finished_at: None,
        host,
        tool: ToolInfo {
            isobench_version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: option_env!("ISOBENCH_GIT_COMMIT").map(str::to_string),
            workload_binary: String::new(),
            workload_sha256: None,
        },
        config: check.config(),
        environments: check.environments(),
        warnings: vec![WARNING.into()],
    };
    dir.write_run_info(&info)?;
    guard.armed = false;
    if !check.measure(&run_id, &Signals, |r| dir.append(r))? {
        return Ok(EXIT_INTERRUPTED);
    }
    info.finished_at = Some(now_rfc3339());
    dir.write_run_info(&info)?;
    super::run::print_end(&out_path);
    Ok(0)
}
