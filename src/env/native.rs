//! The `native` environment: the workload binary spawned directly on the host.

use super::footprint;
use super::process::{Spawner, Supervised};
use super::{EnvContext, EnvKind, Environment, Instance, Limits, RunOutcome};
use anyhow::{anyhow, bail, Context, Result};
use isobench_workloads::protocol::find_result;
use isobench_workloads::{Workload, WorkloadSpec};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

pub struct Native {
    bin: Option<PathBuf>,
    /// Working directory of the workload: the user's command's files, the
    /// data directory (copy-up files) or the run's scratch directory.
    cwd: Option<PathBuf>,
    /// The door the workload processes are started through (the host's
    /// unless [`Native::with_spawner`]).
    spawner: Arc<dyn Spawner>,
}

impl Default for Native {
    fn default() -> Self {
        Native {
            bin: None,
            cwd: None,
            spawner: super::process::host(),
        }
    }
}

impl Native {
    pub fn new() -> Self {
        Self::default()
    }

    /// The same column, its workload processes started through `spawner`.
    pub fn with_spawner(mut self, spawner: Arc<dyn Spawner>) -> Native {
        self.spawner = spawner;
        self
    }
}

/// One workload process (and anything it forks), in a process group of its
/// own; with a pids limit, also in a cgroup of its own (removed on stop).
pub struct NativeInstance {
    /// Declared first, so dropped (killed, reaped) before the cgroup goes.
    sup: Supervised,
    workload: Workload,
    cgroup: CgroupGuard,
}

/// A native instance's cgroup, removed on drop (its processes are gone by
/// then: the supervisor is dropped first).
struct CgroupGuard(Option<isorun::cgroup::Cgroup>);

impl CgroupGuard {
    fn remove(&mut self) {
        if let Some(cg) = self.0.take() {
            if let Err(e) = cg.remove() {
                eprintln!("warning: removing a native instance's cgroup: {e}");
            }
        }
    }
}

impl Drop for CgroupGuard {
    fn drop(&mut self) {
        self.remove();
    }
}

/// A pids cgroup (`isobench/isobench-<pid>-<n>`, the naming a sweep
/// recognises after a crash) that the child of `cmd` joins before exec:
/// the native bound of a fork storm. RLIMIT_NPROC cannot bound it for
/// root (CAP_SYS_ADMIN bypasses it) and counts every process of the user.
fn pids_cgroup(cmd: &mut Command, max: u64) -> Result<isorun::cgroup::Cgroup> {
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;
    let h = isorun::cgroup::detect().context("finding the cgroup hierarchies")?;
    let rel = format!(
        "/{}/{}",
        crate::env::naming::CGROUP_PARENT,
        crate::env::naming::next_instance_id()
    );
    let res = isorun::config::Resources {
        pids_limit: Some(max as i64),
        ..Default::default()
    };
    let cg = isorun::cgroup::Cgroup::create(&h, &rel, &res)
        .with_context(|| format!("creating the pids cgroup {rel}"))?;
    // Opened here, written in the child: "0" moves the writer itself.
    let mut fds: Vec<OwnedFd> = Vec::new();
    for d in &cg.dirs {
        let p = d.join("cgroup.procs");
        match std::fs::OpenOptions::new().write(true).open(&p) {
            Ok(f) => fds.push(f.into()),
            Err(e) => {
                let _ = cg.remove();
                return Err(e).with_context(|| format!("opening {}", p.display()));
            }
        }
    }
    // SAFETY: the closure runs in the child between fork and exec and only
    // calls write(2) on descriptors opened before the fork (close-on-exec,
    // so they end with the exec); no allocation, no lock.
    unsafe {
        cmd.pre_exec(move || {
            for fd in &fds {
                if libc::write(fd.as_raw_fd(), b"0".as_ptr().cast(), 1) != 1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    Ok(cg)
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
        self.cgroup.remove();
        Ok(())
    }
    fn wait_line(&mut self, marker: &str, timeout: Duration) -> Result<()> {
        self.sup.wait_line(marker, timeout).map(|_| ())
    }
    fn stop_output(mut self: Box<Self>) -> Result<String> {
        let out = self.sup.kill_output(Duration::from_secs(2));
        self.cgroup.remove();
        Ok(out)
    }
    fn wait(self: Box<Self>, timeout: Duration) -> Result<RunOutcome> {
        let NativeInstance {
            sup,
            workload,
            cgroup,
        } = *self;
        // The workload and anything it forked, measured at READY (startup
        // only: the other workloads are not disturbed).
        let mut fp = None;
        let w = sup.finish(timeout, |pid| {
            if workload == Workload::Startup {
                fp = pid.and_then(footprint::measure_tree);
            }
        });
        drop(cgroup);
        let w = w?;
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

/// The places of `fileio` natively: a directory on the run directory's
/// file system, and /dev/shm when it is a tmpfs (the kernel makes its own
/// subdirectory there and removes it).
pub fn native_fileio_places(cwd: &Path) -> Vec<isobench_workloads::fileio::Place> {
    use isobench_workloads::fileio::{Place, PLACE_DISK, PLACE_TMPFS};
    let mut places = vec![Place {
        name: PLACE_DISK.into(),
        dir: cwd.join("fileio").display().to_string(),
    }];
    let shm = Path::new("/dev/shm");
    if isobench_workloads::cow::fs_name(shm) == "tmpfs" {
        places.push(Place {
            name: PLACE_TMPFS.into(),
            dir: shm
                .join(format!("isobench-fileio-{}", std::process::id()))
                .display()
                .to_string(),
        });
    }
    places
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
        // The user's command starts in its files: chrooted into its rootfs
        // from there by the workload (`--chroot-cwd`).
        let cwd = ctx
            .command_root
            .clone()
            .or_else(|| ctx.data_dir.clone())
            .unwrap_or_else(|| ctx.scratch.join("native"));
        std::fs::create_dir_all(&cwd).with_context(|| format!("creating {}", cwd.display()))?;
        self.cwd = Some(std::path::absolute(&cwd)?);
        Ok(())
    }
    /// CPU affinity, and a pids limit in a cgroup of the instance's own
    /// (the bound of a fork storm); no CPU quota or memory limit. The child
    /// dies with isobench (PR_SET_PDEATHSIG), even after a kill -9.
    fn launch_with(
        &self,
        spec: &WorkloadSpec,
        _timeout: Duration,
        limits: &Limits,
    ) -> Result<Box<dyn Instance>> {
        Limits {
            pids: None,
            ..limits.clone()
        }
        .only_cpus("native")?;
        let bin = self
            .bin
            .as_ref()
            .ok_or_else(|| anyhow!("native environment not prepared"))?;
        let mut cmd = Command::new(bin);
        cmd.args(spec.to_args());
        if spec.workload == Workload::Fileio {
            let cwd = self
                .cwd
                .as_ref()
                .ok_or_else(|| anyhow!("native environment not prepared"))?;
            let mut places = Vec::new();
            isobench_workloads::fileio::add_places(&mut places, &native_fileio_places(cwd));
            cmd.args(places);
        }
        super::process::die_with_parent(&mut cmd);
        if let Some(d) = &self.cwd {
            cmd.current_dir(d);
        }
        if let Some(cpus) = &limits.cpus {
            super::set_affinity(&mut cmd, cpus)?;
        }
        let cgroup = CgroupGuard(match limits.pids {
            Some(max) => Some(pids_cgroup(&mut cmd, max)?),
            None => None,
        });
        Ok(Box::new(NativeInstance {
            sup: self.spawner.spawn_logged(cmd, None)?,
            workload: spec.workload,
            cgroup,
        }))
    }
    fn cleanup(&mut self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::fake::FakeSpawner;
    use isobench_workloads::protocol::WorkloadResult;

    /// Without root or the workload binary: the native column starts its
    /// workload through the door it holds (a stand-in prints the result),
    /// in the working directory it prepared, with the spec's arguments.
    #[test]
    fn a_native_run_goes_through_the_door() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("isobench-workload");
        std::fs::write(&bin, b"not run").unwrap();
        let ctx = EnvContext {
            workload_bin: bin.clone(),
            scratch: dir.path().join("scratch"),
            threads: 1,
            data_dir: None,
            command_root: None,
            fileio: false,
        };
        let line = WorkloadResult::empty("cpu").to_line();
        let spawner = Arc::new(FakeSpawner::printing(format!("ISOBENCH-READY\n{line}")));
        let mut env = Native::new().with_spawner(spawner.clone());
        env.prepare(&ctx).unwrap();
        assert!(dir.path().join("scratch/native").is_dir());
        let spec = WorkloadSpec::parse(Workload::Cpu, &["cpu".to_string()]).unwrap();
        let limits = Limits {
            cpus: Some(vec![0]),
            ..Limits::default()
        };
        let mut inst = env
            .launch_with(&spec, Duration::from_secs(10), &limits)
            .unwrap();
        assert!(inst.wait_ready(Duration::from_secs(10)).is_ok());
        let out = inst.wait(Duration::from_secs(10)).unwrap();
        assert_eq!(out.result.workload, "cpu");
        assert!(out.first_instruction.is_some());
        let mut expected = vec![std::path::absolute(&bin).unwrap().display().to_string()];
        expected.extend(spec.to_args());
        assert_eq!(spawner.commands(), [expected]);
        assert_eq!(spawner.methods(), ["spawn_logged"]);
    }

    /// A native column built by `env::make_with` holds the spawner passed.
    #[test]
    fn make_with_hands_the_native_column_its_spawner() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("isobench-workload");
        std::fs::write(&bin, b"not run").unwrap();
        let line = WorkloadResult::empty("cpu").to_line();
        let spawner = Arc::new(FakeSpawner::printing(format!("ISOBENCH-READY\n{line}")));
        let mut env =
            crate::env::make_with(&crate::env::column::Column::Native, spawner.clone()).unwrap();
        env.prepare(&EnvContext {
            workload_bin: bin,
            scratch: dir.path().to_path_buf(),
            threads: 1,
            data_dir: None,
            command_root: None,
            fileio: false,
        })
        .unwrap();
        let spec = WorkloadSpec::parse(Workload::Cpu, &["cpu".to_string()]).unwrap();
        let out = env.run(&spec, Duration::from_secs(10)).unwrap();
        assert_eq!(out.result.workload, "cpu");
        assert_eq!(spawner.methods(), ["spawn_logged"]);
    }
}
