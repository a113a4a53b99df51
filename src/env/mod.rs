//! Environments: where a workload runs (docs/design.md, "Environments").
//!
//! An [`Environment`] prepares once, launches live [`Instance`]s of a
//! [`WorkloadSpec`] (several at once for the density and neighbour
//! experiments) and cleans up. A single-instance run is launch then wait.
//! Cleanup must also happen when the runner bails out early, so
//! environments clean up in `Drop` and instances stop in `Drop`
//! (idempotently).

pub mod column;
pub mod container;
pub mod docker;
pub mod engine;
pub mod engine_instance;
#[cfg(test)]
pub mod fake;
pub mod footprint;
pub mod naming;
pub mod native;
pub mod process;
pub mod rootless;
pub mod vm;

use anyhow::Result;
use isobench_workloads::{WorkloadResult, WorkloadSpec};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What a column's environment cannot run, and why, as its
/// [`Environment::cannot_run`] says, known before it is built (the plan's
/// estimate counts only what runs).
pub fn column_cannot_run(
    c: &column::Column,
    workload: isobench_workloads::Workload,
) -> Option<String> {
    match c {
        column::Column::Native => None,
        column::Column::Oci(_) => container::container_cannot_run(workload),
        column::Column::Vm { .. } => vm::vm_cannot_run(workload),
    }
}

/// Environment class, as recorded in `results.jsonl` (`env`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum EnvKind {
    Native,
    Container,
    Vm,
}

impl EnvKind {
    pub const ALL: [EnvKind; 3] = [EnvKind::Native, EnvKind::Container, EnvKind::Vm];
    pub fn name(self) -> &'static str {
        match self {
            EnvKind::Native => "native",
            EnvKind::Container => "container",
            EnvKind::Vm => "vm",
        }
    }
}

impl std::str::FromStr for EnvKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EnvKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown environment '{s}' (known: native, container, vm)"))
    }
}

/// What an environment needs to know to prepare itself.
#[derive(Debug, Clone)]
pub struct EnvContext {
    /// The static `isobench-workload` binary.
    pub workload_bin: PathBuf,
    /// A scratch directory owned by this run (bundles, initramfs, state).
    pub scratch: PathBuf,
    /// vCPUs / thread count the plan asks for.
    pub threads: usize,
    /// Files the workloads expect below them (`isobench-data/`, the
    /// copy-up files, claim C7): native runs in this directory, containers
    /// get it as an image layer under the workload binary's. `None`: the
    /// plan needs none.
    pub data_dir: Option<PathBuf>,
    /// The user's command's files (the user command's `materialize`): a
    /// root file system, or the program alone at its host path. Containers
    /// get it as an image layer under the workload binary's, a guest's
    /// initramfs holds it, and natively the workload starts in it (and
    /// chroots into a rootfs). `None`: the plan has no command.
    pub command_root: Option<PathBuf>,
    /// The plan runs fileio: a VM then carries the virtio-blk modules in
    /// its initramfs and attaches a disk to fileio's guests.
    pub fileio: bool,
}

/// The outcome of one run of one workload in one environment.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The workload's own result line (for `startup`, the trivial result of
    /// the startup kernel; the runner fills the host-measured metrics).
    pub result: WorkloadResult,
    /// Spawn of the environment to arrival of `ISOBENCH-READY`.
    pub first_instruction: Option<Duration>,
    /// Spawn of the environment to its end (process reaped, container
    /// deleted, QEMU exited).
    pub lifecycle: Duration,
    /// Further host-side figures worth keeping (ms), e.g. `create_ms`,
    /// `start_ms`, `delete_ms`, `guest_uptime_ms`. They become metrics of the
    /// `startup` workload.
    pub extra_ms: BTreeMap<String, f64>,
    /// The memory the instance holds while idle at `ISOBENCH-READY`: PSS
    /// and USS summed over all its processes, measured the same way in every
    /// environment ([`footprint`]). Becomes `footprint_pss_mib` and
    /// `footprint_uss_mib` of the `startup` workload (claim C4). `None` when
    /// the instance was gone before it could be measured.
    pub footprint: Option<footprint::Footprint>,
}

/// A live instance of a workload in an environment: a process, a container
/// or a guest. Launched by [`Environment::launch`]; stopped (killed, reaped,
/// deleted) by [`Instance::stop`] or on drop.
pub trait Instance: Send {
    /// Wait until the workload inside printed `ISOBENCH-READY`, at most
    /// `timeout` from launch; returns launch to READY. Kills the instance
    /// and errs when it exits first, on timeout and on interrupt.
    fn wait_ready(&mut self, timeout: Duration) -> Result<Duration>;
    /// Every host process that belongs to the instance now (the workload
    /// and its descendants; a container's init, cgroup members and their
    /// descendants; QEMU and its descendants).
    fn pids(&self) -> BTreeSet<i32>;
    /// PSS and USS of [`Instance::pids`] now, measured as for every
    /// environment ([`footprint`]); `None` when no process is left.
    fn memory(&self) -> Option<footprint::Footprint> {
        let pids = self.pids();
        let f = footprint::measure(Path::new(footprint::PROC), &pids);
        (!f.pids.is_empty()).then_some(f)
    }
    /// Kill the instance and remove what it holds (reap, runtime delete,
    /// overlay). Idempotent; also done on drop.
    fn stop(&mut self) -> Result<()>;
    /// Wait for the workload to finish, at most `timeout` from launch, and
    /// return its result. For `startup`, the footprint is measured when
    /// READY arrives during this wait.
    fn wait(self: Box<Self>, timeout: Duration) -> Result<RunOutcome>;
    /// Wait until the workload prints a line containing `marker` (after
    /// READY), at most `timeout` from now: an antagonist's first progress
    /// line, when its pressure has started. Kills the instance and errs
    /// when it ends first, on timeout and on interrupt.
    fn wait_line(&mut self, marker: &str, timeout: Duration) -> Result<()> {
        let _ = (marker, timeout);
        anyhow::bail!("this environment cannot watch an instance's output")
    }
    /// Stop the instance now and return what its workload printed on
    /// standard output until then: the progress lines of an antagonist
    /// stopped when its victim ended.
    fn stop_output(self: Box<Self>) -> Result<String> {
        anyhow::bail!("this environment cannot return the output of a stopped instance")
    }
}

/// Resource placement of one instance at launch (the neighbour experiment's
/// `partitioned` placement). Empty: no limits, as [`Environment::launch`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Limits {
    /// Host CPUs the instance may run on (affinity or cpuset).
    pub cpus: Option<Vec<usize>>,
    /// CPU time quota in percent of one CPU (100 = one CPU's worth).
    pub cpu_quota_pct: Option<u32>,
    /// Memory limit.
    pub memory_mib: Option<u64>,
    /// Largest number of processes (tasks).
    pub pids: Option<u64>,
}

impl Limits {
    pub fn is_empty(&self) -> bool {
        self == &Limits::default()
    }

    /// `cpus` as a cpuset list (`0,1`).
    pub fn cpu_list(&self) -> Option<String> {
        self.cpus.as_ref().map(|c| {
            c.iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(",")
        })
    }

    /// Refuse every limit but `cpus` (environments that can only pin).
    pub fn only_cpus(&self, who: &str) -> Result<()> {
        let rest = Limits {
            cpus: None,
            ..self.clone()
        };
        if !rest.is_empty() {
            anyhow::bail!("{who} applies only CPU affinity, not {rest:?}");
        }
        Ok(())
    }
}

/// Make `cmd`'s process (and every thread and child it makes later, which
/// inherit the mask) run only on `cpus`.
pub fn set_affinity(cmd: &mut std::process::Command, cpus: &[usize]) -> Result<()> {
    use std::os::unix::process::CommandExt;
    let mut set = nix::sched::CpuSet::new();
    for &c in cpus {
        set.set(c)
            .map_err(|e| anyhow::anyhow!("CPU {c} cannot be in an affinity mask: {e}"))?;
    }
    // SAFETY: the closure runs in the child between fork and exec; it only
    // calls sched_setaffinity(2), an async-signal-safe system call, on a
    // CpuSet built before the fork (no allocation, no locks).
    unsafe {
        cmd.pre_exec(move || {
            nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
                .map_err(std::io::Error::from)
        });
    }
    Ok(())
}

/// One place to run workloads.
pub trait Environment {
    fn kind(&self) -> EnvKind;
    /// Column label: `native`, `container-isorun`, `vm-tcg`, ...
    fn id(&self) -> String;
    /// Runtime name and version, accelerator and why, machine type, kernel...
    fn detail(&self) -> BTreeMap<String, String>;
    /// Whether the workloads inside run emulated (sizes may differ: TCG).
    fn emulated(&self) -> bool {
        false
    }
    /// Why this environment cannot run `workload` (`None`: it can). The
    /// runner skips such pairs and says why.
    fn cannot_run(&self, workload: isobench_workloads::Workload) -> Option<String> {
        (workload == isobench_workloads::Workload::Layers).then(|| {
            "layers is a host measurement of isorun's layer store, recorded in the native column"
                .to_string()
        })
    }
    /// Build what every run needs (images, initramfs, accelerator probe).
    fn prepare(&mut self, ctx: &EnvContext) -> Result<()>;
    /// Make room for workloads that allocate `need_bytes` (after `prepare`):
    /// a VM sizes its guest memory here, or refuses with advice that works.
    /// `host_available_bytes` is the host's MemAvailable, when known.
    fn fit_memory(&mut self, need_bytes: u64, host_available_bytes: Option<u64>) -> Result<()> {
        let _ = (need_bytes, host_available_bytes);
        Ok(())
    }
    /// Start one instance of `spec` (after `prepare`) and return its handle
    /// without waiting for READY; `timeout` bounds the launch steps (a
    /// runtime's create and start). Each instance is independent of the
    /// others, so many may live at once.
    fn launch(&self, spec: &WorkloadSpec, timeout: Duration) -> Result<Box<dyn Instance>> {
        self.launch_with(spec, timeout, &Limits::default())
    }
    /// [`Environment::launch`] with a placement (CPU affinity, cgroup
    /// limits, pinned vCPUs: what the environment can apply; it refuses
    /// the rest).
    fn launch_with(
        &self,
        spec: &WorkloadSpec,
        timeout: Duration,
        limits: &Limits,
    ) -> Result<Box<dyn Instance>>;
    /// Run one workload to completion; must not leave anything behind,
    /// also on error.
    fn run(&mut self, spec: &WorkloadSpec, timeout: Duration) -> Result<RunOutcome> {
        self.launch(spec, timeout)?.wait(timeout)
    }
    /// Remove what `prepare` made. Idempotent.
    fn cleanup(&mut self) -> Result<()>;
}

/// Build the environment a plan column asks for (not yet prepared).
pub fn make(c: &column::Column) -> Result<Box<dyn Environment>> {
    make_with(c, process::host())
}

/// [`make`], with every column starting its processes through `spawner`
/// (the host's in [`make`]; a test double's in tests).
pub fn make_with(
    c: &column::Column,
    spawner: std::sync::Arc<dyn process::Spawner>,
) -> Result<Box<dyn Environment>> {
    use column::{Column, Engine, Vmm};
    match c {
        Column::Native => Ok(Box::new(native::Native::new().with_spawner(spawner))),
        Column::Oci(o) => {
            if let Some(why) = o.unsupported() {
                return Err(crate::usage::usage(why));
            }
            let isorun = crate::locate::isorun_bin();
            match o.engine {
                Engine::None => Ok(Box::new(
                    container::ContainerEnv::new(o, isorun)?.with_spawner(spawner),
                )),
                Engine::Podman => Ok(Box::new(
                    engine::PodmanEnv::new(&o.runtime, isorun)?.with_spawner(spawner),
                )),
                Engine::Docker => Ok(Box::new(
                    docker::DockerEnv::new(&o.runtime, isorun)?.with_spawner(spawner),
                )),
            }
        }
        Column::Vm { vmm: Vmm::Qemu(q) } => {
            let opts = vm::VmOptions {
                accel: q.accel,
                machine: q.machine,
                kernel: q.kernel.clone(),
                vcpus: Some(q.vcpus),
                memory_mib: q
                    .memory_mib
                    .unwrap_or(crate::env::vm::memory::MIN_GUEST_MIB),
                memory_auto: q.memory_mib.is_none(),
                cpu_model: q.cpu_model.clone(),
                ..vm::VmOptions::default()
            };
            Ok(Box::new(vm::VmEnv::new(opts)?.with_spawner(spawner)))
        }
    }
}
