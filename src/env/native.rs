//! The `native` environment: the workload binary spawned directly on the host.

use super::footprint;
use super::process::watch_with;
use super::{EnvContext, EnvKind, Environment, RunOutcome};
use anyhow::{anyhow, bail, Context, Result};
use isobench_workloads::protocol::find_result;
use isobench_workloads::{Workload, WorkloadSpec};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

#[derive(Default)]
pub struct Native {
    bin: Option<PathBuf>,
}

impl Native {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Environment for Native {
    fn kind(&self) -> EnvKind {
        EnvKind::Native
    }
    fn id(&self) -> String {
        "native".into()
    }
    fn detail(&self) -> BTreeMap<String, String> {
        BTreeMap::from([("runner".to_string(), "direct spawn".to_string())])
    }
    fn prepare(&mut self, ctx: &EnvContext) -> Result<()> {
        if !ctx.workload_bin.is_file() {
            bail!("workload binary {} not found", ctx.workload_bin.display());
        }
        self.bin = Some(ctx.workload_bin.clone());
        Ok(())
    }
    fn run(&mut self, spec: &WorkloadSpec, timeout: Duration) -> Result<RunOutcome> {
        let bin = self
            .bin
            .as_ref()
            .ok_or_else(|| anyhow!("native environment not prepared"))?;
        let mut cmd = Command::new(bin);
        cmd.args(&spec.args);
        // The workload and anything it forked, measured at READY (startup
        // only: the other workloads are not disturbed).
        let mut footprint = None;
        let measure = spec.workload == Workload::Startup;
        let w = watch_with(cmd, timeout, |pid| {
            if measure {
                footprint = footprint::measure_tree(pid);
            }
        })?;
        let result = find_result(&w.stdout)
            .map_err(|e| anyhow!("{e} (workload exited with {}):\n{}", w.status, w.tail(10)));
        let result = result.context(format!("native {}", spec.workload))?;
        Ok(RunOutcome {
            result,
            first_instruction: w.ready_after,
            lifecycle: w.exited_after,
            extra_ms: BTreeMap::new(),
            footprint,
        })
    }
    fn cleanup(&mut self) -> Result<()> {
        Ok(())
    }
}
