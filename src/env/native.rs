//! The `native` environment: the workload binary spawned directly on the host.

use super::footprint;
use super::process::Supervised;
use super::{EnvContext, EnvKind, Environment, Instance, Limits, RunOutcome};
use anyhow::{anyhow, bail, Context, Result};
use isobench_workloads::protocol::find_result;
use isobench_workloads::{Workload, WorkloadSpec};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

#[derive(Default)]
pub struct Native {
    bin: Option<PathBuf>,
    /// Working directory of the workload: the data directory (copy-up
    /// files) or the run's scratch directory, never the user's.
    cwd: Option<PathBuf>,
}

impl Native {
    pub fn new() -> Self {
        Self::default()
    }
}

/// One workload process (and anything it forks), in a process group of its own.
pub struct NativeInstance {
    sup: Supervised,
    workload: Workload,
}

impl Instance for NativeInstance {
    fn wait_ready(&mut self, timeout: Duration) -> Result<Duration> {
        self.sup.wait_ready(timeout)
    }
    fn pids(&self) -> BTreeSet<i32> {
        if self.sup.exited() {
            return BTreeSet::new();
        }
        footprint::tree(Path::new(footprint::PROC), &[self.sup.pid()])
    }
    fn stop(&mut self) -> Result<()> {
        self.sup.kill();
        Ok(())
    }
    fn wait(self: Box<Self>, timeout: Duration) -> Result<RunOutcome> {
        let workload = self.workload;
        // The workload and anything it forked, measured at READY (startup
        // only: the other workloads are not disturbed).
        let mut fp = None;
        let w = self.sup.finish(timeout, |pid| {
            if workload == Workload::Startup {
                fp = pid.and_then(footprint::measure_tree);
            }
        })?;
        let result = find_result(&w.stdout)
            .map_err(|e| anyhow!("{e} (workload exited with {}):\n{}", w.status, w.tail(10)));
        let result = result.context(format!("native {workload}"))?;
        Ok(RunOutcome {
            result,
            first_instruction: w.ready_after,
            lifecycle: w.exited_after,
            extra_ms: BTreeMap::new(),
            footprint: fp,
        })
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
    fn cannot_run(&self, _workload: Workload) -> Option<String> {
        None
    }
    fn prepare(&mut self, ctx: &EnvContext) -> Result<()> {
        if !ctx.workload_bin.is_file() {
            bail!("workload binary {} not found", ctx.workload_bin.display());
        }
        self.bin = Some(std::path::absolute(&ctx.workload_bin)?);
        let cwd = ctx
            .data_dir
            .clone()
            .unwrap_or_else(|| ctx.scratch.join("native"));
        std::fs::create_dir_all(&cwd).with_context(|| format!("creating {}", cwd.display()))?;
        self.cwd = Some(std::path::absolute(&cwd)?);
        Ok(())
    }
    fn launch(&self, spec: &WorkloadSpec, timeout: Duration) -> Result<Box<dyn Instance>> {
        self.launch_with(spec, timeout, &Limits::default())
    }
    /// Only CPU affinity: a native process has no cgroup of its own here.
    fn launch_with(
        &self,
        spec: &WorkloadSpec,
        _timeout: Duration,
        limits: &Limits,
    ) -> Result<Box<dyn Instance>> {
        limits.only_cpus("native")?;
        let bin = self
            .bin
            .as_ref()
            .ok_or_else(|| anyhow!("native environment not prepared"))?;
        let mut cmd = Command::new(bin);
        cmd.args(&spec.args);
        if let Some(d) = &self.cwd {
            cmd.current_dir(d);
        }
        if let Some(cpus) = &limits.cpus {
            super::set_affinity(&mut cmd, cpus)?;
        }
        Ok(Box::new(NativeInstance {
            sup: Supervised::spawn(cmd)?,
            workload: spec.workload,
        }))
    }
    fn cleanup(&mut self) -> Result<()> {
        Ok(())
    }
}
