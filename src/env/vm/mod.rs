//! The `vm` environment: QEMU with a guest kernel and an initramfs whose
//! `/init` is the static workload binary (docs/design.md, "Environments").
//!
//! `prepare` finds the kernel and QEMU, writes the initramfs once into the
//! scratch directory and chooses the accelerator (`--accel auto` test-boots
//! KVM unless `/dev/kvm` is kvm_pvm); `run` boots one guest per workload run
//! with the workload's arguments in `isobench.args=` on the kernel command line
//! and reads its result off the serial console. Time to first instruction ends
//! when `ISOBENCH-READY` arrives from inside the guest; the lifecycle ends when
//! QEMU has exited (the guest's reboot(2) ends QEMU under `-no-reboot`).
//! QEMU runs under the one supervisor ([`Supervised`]), in its own process
//! group, so it is killed and reaped on timeout, on Ctrl-C and when its
//! instance handle is dropped.
//!
//! The pure decisions live in the submodules: initramfs (cpio newc)
//! writing, guest kernel lookup, QEMU command lines, serial console parsing,
//! accelerator choice, vCPU pinning (a pure plan and the one call that
//! applies it).

pub mod accel;
pub mod console;
pub mod cpio;
pub mod disk;
pub mod initramfs;
pub mod kernel;
pub mod memory;
pub mod pin;
pub mod qemu;
pub mod vmm;

use self::accel::{AccelPlan, AccelRequest};
use self::initramfs::workload_initramfs;
use self::kernel::{kernel_version, GuestKernel, KernelSearch};
use self::qemu::{Accel, Machine, QemuConfig, QBOOT_ROM};
use self::vmm::Vmm;
use super::footprint;
use super::process::{Spawner, Supervised, Watched};
use super::{EnvContext, EnvKind, Environment, Instance, Limits, RunOutcome};
use anyhow::{anyhow, bail, Context, Result};
use isobench_workloads::WorkloadSpec;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

/// The QEMU binary looked up in `PATH` when none is given.
pub const QEMU_BIN: &str = "qemu-system-x86_64";
/// How to get QEMU when it is missing.
pub const QEMU_HINT: &str = "install it with 'apt-get install qemu-system-x86' (Debian/Ubuntu)";

/// How the VM environment is configured (recorded in `run.json` with the plan).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VmOptions {
    /// `--accel auto|kvm|tcg`.
    pub accel: AccelRequest,
    /// `--machine microvm|q35`.
    pub machine: Machine,
    /// `--kernel PATH`; else ISOBENCH_KERNEL, host /boot, fetch-kernel cache.
    pub kernel: Option<PathBuf>,
    /// QEMU binary; `None` = `qemu-system-x86_64` from `PATH`.
    pub qemu: Option<PathBuf>,
    /// vCPUs; `None` = the plan's thread count.
    pub vcpus: Option<usize>,
    /// Guest memory in MiB.
    pub memory_mib: u64,
    /// Size the guest memory from the workloads (`fit_memory`) instead of
    /// keeping `memory_mib` (which `--vm-memory` set).
    pub memory_auto: bool,
    /// Pass `tsc_early_khz=<host TSC kHz>` (microvm under TCG can hang
    /// calibrating the TSC without it).
    pub tsc_early_khz: bool,
    /// `-cpu` model instead of `host` (KVM) or `max` (TCG).
    pub cpu_model: Option<String>,
}

impl Default for VmOptions {
    fn default() -> Self {
        VmOptions {
            accel: AccelRequest::Auto,
            machine: Machine::Microvm,
            kernel: None,
            qemu: None,
            vcpus: None,
            memory_mib: 1024,
            memory_auto: false,
            tsc_early_khz: true,
            cpu_model: None,
        }
    }
}

/// Everything `prepare` found out.
#[derive(Debug, Clone)]
struct Prepared {
    config: QemuConfig,
    accel_reason: String,
    kernel: GuestKernel,
    kernel_version: Option<String>,
    qemu_version: String,
    /// How the guest memory was chosen (after `fit_memory`).
    memory_source: Option<String>,
}

/// The `vm` environment.
pub struct VmEnv {
    opts: VmOptions,
    prepared: Option<Prepared>,
    /// The initramfs written by `prepare` (removed by `cleanup`).
    initrd: Option<PathBuf>,
    /// For a plan with fileio: where each repetition's disk image goes
    /// (the scratch directory), or why the guest cannot have a disk.
    disk: Option<Result<PathBuf, String>>,
    /// The door QEMU is started through (`--version`, test boots and
    /// guests): the host's unless [`VmEnv::with_spawner`].
    spawner: Arc<dyn Spawner>,
}

impl VmEnv {
    /// Validate the options (no side effects: nothing is probed before `prepare`).
    pub fn new(opts: VmOptions) -> Result<VmEnv> {
        if opts.vcpus == Some(0) {
            bail!("a VM needs at least one vCPU (--threads)");
        }
        if opts.memory_mib < 64 {
            bail!(
                "--vm-memory {} MiB is too small for a guest (at least 64 MiB)",
                opts.memory_mib
            );
        }
        if let Some(k) = &opts.kernel {
            if k.as_os_str().is_empty() {
                bail!("--kernel needs a path");
            }
        }
        Ok(VmEnv {
            opts,
            prepared: None,
            initrd: None,
            disk: None,
            spawner: super::process::host(),
        })
    }

    /// The same column, its QEMU processes started through `spawner`.
    pub fn with_spawner(mut self, spawner: Arc<dyn Spawner>) -> VmEnv {
        self.spawner = spawner;
        self
    }

    pub fn options(&self) -> &VmOptions {
        &self.opts
    }

    /// The accelerator in use (after `prepare`).
    pub fn accel(&self) -> Option<Accel> {
        self.prepared.as_ref().map(|p| p.config.accel)
    }

    /// Why that accelerator was chosen (after `prepare`).
    pub fn accel_reason(&self) -> Option<&str> {
        self.prepared.as_ref().map(|p| p.accel_reason.as_str())
    }

    /// The QEMU configuration in use (after `prepare`).
    pub fn qemu_config(&self) -> Option<&QemuConfig> {
        self.prepared.as_ref().map(|p| &p.config)
    }

    fn label(accel: Accel) -> String {
        format!("vm-{}", accel.name())
    }
}

/// Boot one guest with `args` for the workload and return what QEMU did
/// (QEMU is killed and reaped on timeout and Ctrl-C).
pub fn spawn_guest(config: &QemuConfig, args: &[String], timeout: Duration) -> Result<Watched> {
    spawn_guest_with(&super::process::Host, config, args, timeout)
}

/// [`spawn_guest`], QEMU started through `spawner`.
pub fn spawn_guest_with(
    spawner: &dyn Spawner,
    config: &QemuConfig,
    args: &[String],
    timeout: Duration,
) -> Result<Watched> {
    let mut cmd = Command::new(&config.qemu);
    cmd.args(config.args(args)?);
    // Test boots too: no guest outlives a killed isobench.
    super::process::die_with_parent(&mut cmd);
    spawner.spawn_logged(cmd, None)?.finish(timeout, |_| {})
}

/// A guest that booted, ran and produced a result.
#[derive(Debug, Clone)]
pub struct Boot {
    pub console: console::Console,
    /// Spawn of QEMU to `ISOBENCH-READY`.
    pub ready_after: Option<Duration>,
    /// Spawn of QEMU to its exit.
    pub exited_after: Duration,
    /// QEMU's peak RSS (KiB): the memory one VM instance costs the host.
    pub qemu_max_rss_kib: Option<u64>,
}

/// Boot one guest and judge its console: a panic, a failed QEMU, a missing
/// or malformed result, or a timeout is an error quoting the last lines.
pub fn boot_guest(config: &QemuConfig, args: &[String], timeout: Duration) -> Result<Boot> {
    boot_guest_with(&super::process::Host, config, args, timeout)
}

/// [`boot_guest`], QEMU started through `spawner`.
pub fn boot_guest_with(
    spawner: &dyn Spawner,
    config: &QemuConfig,
    args: &[String],
    timeout: Duration,
) -> Result<Boot> {
    let w = spawn_guest_with(spawner, config, args, timeout)?;
    let c = console::judge(
        &w.stdout,
        &w.stderr,
        w.status.success(),
        &w.status.to_string(),
    )?;
    Ok(Boot {
        console: c,
        ready_after: w.ready_after,
        exited_after: w.exited_after,
        qemu_max_rss_kib: w.max_rss_kib,
    })
}

/// The QEMU configuration for `opts` on this host: QEMU from the options or
/// `PATH`, qboot for microvm where installed, the host TSC frequency.
pub fn host_config(
    opts: &VmOptions,
    kernel: &Path,
    initrd: &Path,
    accel: Accel,
    vcpus: usize,
) -> Result<QemuConfig> {
    let bios = (opts.machine == Machine::Microvm && Path::new(QBOOT_ROM).is_file())
        .then(|| QBOOT_ROM.into());
    Ok(QemuConfig {
        qemu: find_vmm(&qemu::QEMU, opts.qemu.as_deref())?,
        accel,
        machine: opts.machine,
        vcpus: opts.vcpus.unwrap_or(vcpus).max(1),
        memory_mib: opts.memory_mib,
        kernel: kernel.to_path_buf(),
        initrd: initrd.to_path_buf(),
        bios,
        tsc_khz: if opts.tsc_early_khz {
            host_tsc_khz()
        } else {
            None
        },
        cpu: opts.cpu_model.clone(),
        disk: None,
    })
}

pub use crate::locate::find_in_path;

/// The hypervisor's binary: `opt` when given, else its program in `PATH`.
fn find_vmm(vmm: &dyn Vmm, opt: Option<&Path>) -> Result<PathBuf> {
    let hint = vmm.install_hint();
    match opt {
        Some(p) if p.is_file() => Ok(p.to_path_buf()),
        Some(p) => bail!("{} binary {} not found; {hint}", vmm.name(), p.display()),
        None => find_in_path(vmm.program(), std::env::var_os("PATH").as_deref())
            .ok_or_else(|| anyhow!("{} not found in PATH; {hint}", vmm.program())),
    }
}

/// The host TSC frequency, kHz: `/proc/cpuinfo` checked against a 50 ms
/// measurement (see [`qemu::choose_tsc_khz`]), measured once per process.
pub fn host_tsc_khz() -> Option<u64> {
    static KHZ: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    *KHZ.get_or_init(|| {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| qemu::tsc_khz_from_cpuinfo(&t));
        qemu::choose_tsc_khz(measure_tsc_khz(), cpuinfo)
    })
}

/// Count TSC ticks across a short sleep.
#[cfg(target_arch = "x86_64")]
fn measure_tsc_khz() -> Option<u64> {
    use std::arch::x86_64::_rdtsc;
    use std::time::Instant;
    let t0 = Instant::now();
    // SAFETY: RDTSC reads a counter; it touches no memory and exists on
    // every x86-64 CPU.
    let c0 = unsafe { _rdtsc() };
    std::thread::sleep(Duration::from_millis(50));
    // SAFETY: as above.
    let c1 = unsafe { _rdtsc() };
    let elapsed = t0.elapsed();
    qemu::tsc_khz_from_counts(c1.wrapping_sub(c0), elapsed)
}

#[cfg(not(target_arch = "x86_64"))]
fn measure_tsc_khz() -> Option<u64> {
    None
}

impl Environment for VmEnv {
    fn kind(&self) -> EnvKind {
        EnvKind::Vm
    }

    fn id(&self) -> String {
        match self.accel() {
            Some(a) => Self::label(a),
            None => "vm".into(),
        }
    }

    fn detail(&self) -> BTreeMap<String, String> {
        let mut d = BTreeMap::new();
        d.insert("machine".into(), self.opts.machine.name().into());
        d.insert("accel_requested".into(), self.opts.accel.name().into());
        d.insert("memory_mib".into(), self.opts.memory_mib.to_string());
        let Some(p) = &self.prepared else {
            return d;
        };
        let c = &p.config;
        if let Some(m) = &p.memory_source {
            d.insert("memory_source".into(), m.clone());
        }
        d.insert("accel".into(), c.accel.name().into());
        d.insert("accel_reason".into(), p.accel_reason.clone());
        d.insert("cpu".into(), c.cpu_model().into());
        d.insert("vcpus".into(), c.vcpus.to_string());
        d.insert("kernel".into(), p.kernel.path.display().to_string());
        d.insert("kernel_source".into(), p.kernel.source.name().into());
        d.insert("kernel_reason".into(), p.kernel.reason.clone());
        d.insert(
            "kernel_version".into(),
            p.kernel_version.clone().unwrap_or_else(|| "unknown".into()),
        );
        d.insert("qemu".into(), c.qemu.display().to_string());
        d.insert("qemu_version".into(), p.qemu_version.clone());
        d.insert(
            "firmware".into(),
            c.bios
                .as_ref()
                .map_or("default".into(), |b| b.display().to_string()),
        );
        if let Some(khz) = c.tsc_khz {
            d.insert("tsc_early_khz".into(), khz.to_string());
        }
        d
    }

    /// The guest's root is the initramfs unpacked into the kernel's
    /// rootfs (tmpfs when the kernel has CONFIG_TMPFS, else ramfs; the
    /// `fsmeta` result names it): no lower layer to copy up from, and
    /// Debian's cloud kernel builds overlayfs as a module the initramfs
    /// does not carry.
    ///
    /// fileio needs the virtio-blk disk, which `prepare` sets up for a plan
    /// that has fileio (the guest kernel's modules and mkfs.ext4).
    fn cannot_run(&self, workload: isobench_workloads::Workload) -> Option<String> {
        match (&self.disk, workload) {
            (Some(Err(why)), isobench_workloads::Workload::Fileio) => Some(why.clone()),
            _ => vm_cannot_run(workload),
        }
    }

    fn emulated(&self) -> bool {
        // Before prepare, only a forced KVM is known not to be emulated.
        match self.accel() {
            Some(a) => a == Accel::Tcg,
            None => self.opts.accel != AccelRequest::Kvm,
        }
    }

    fn prepare(&mut self, ctx: &EnvContext) -> Result<()> {
        let kernel = KernelSearch::from_host(self.opts.kernel.clone()).find()?;
        let mut config = host_config(
            &self.opts,
            &kernel.path,
            Path::new(""),
            Accel::Tcg,
            ctx.threads,
        )?;
        let mut vcmd = Command::new(&config.qemu);
        vcmd.arg("--version");
        let qemu_version = qemu::parse_qemu_version(&self.spawner.output_of(vcmd)?)
            .unwrap_or_else(|| "unknown".into());

        let init = std::fs::read(&ctx.workload_bin).with_context(|| {
            format!("reading the workload binary {}", ctx.workload_bin.display())
        })?;
        let mut image = workload_initramfs(init).with_context(|| {
            format!("building the initramfs from {}", ctx.workload_bin.display())
        })?;
        if ctx.fileio {
            // Only a plan with fileio carries the modules: every other
            // workload boots the same image as before.
            let disk = if !disk::mkfs_available() {
                Err("fileio in the VM formats its disk image with mkfs.ext4, which is not in PATH: install it with 'apt-get install e2fsprogs'".to_string())
            } else {
                disk::find_modules(&kernel.path).and_then(|mods| {
                    disk::add_modules(&mut image, &mods)
                        .map(|()| ctx.scratch.join(disk::DISK_IMAGE_NAME))
                })
            };
            self.disk = Some(disk);
        }
        if let Some(root) = &ctx.command_root {
            // The user's command's files go into the guest with it (in
            // RAM: the test boots that size the guest count them).
            initramfs::add_tree(&mut image, root).with_context(|| {
                format!(
                    "adding the command's files {} to the initramfs",
                    root.display()
                )
            })?;
        }
        let image = image.to_bytes();
        std::fs::create_dir_all(&ctx.scratch)
            .with_context(|| format!("creating {}", ctx.scratch.display()))?;
        let initrd = ctx.scratch.join(crate::env::naming::INITRD_NAME);
        std::fs::write(&initrd, image).with_context(|| format!("writing {}", initrd.display()))?;
        self.initrd = Some(initrd.clone());

        config.initrd = initrd;

        let host = accel::probe_host(
            Path::new("/dev/kvm"),
            Path::new("/sys/module"),
            Path::new("/proc/modules"),
        );
        let (accel, accel_reason) = match accel::plan(self.opts.accel, &host)? {
            AccelPlan::Use { accel, reason } => (accel, reason),
            AccelPlan::TestBootKvm => {
                // Why a test boot: /dev/kvm may open on hosts where guests
                // still cannot run (nested setups, broken MSR emulation).
                let mut probe = config.clone();
                probe.accel = Accel::Kvm;
                let outcome = match spawn_guest_with(
                    &*self.spawner,
                    &probe,
                    &["startup".to_string()],
                    accel::TEST_BOOT_TIMEOUT,
                ) {
                    Ok(w) => w.ready_after.ok_or_else(|| {
                        format!(
                            "no ISOBENCH-READY; QEMU {}: {}",
                            w.status,
                            console::tail(&w.stdout, &w.stderr, 3)
                        )
                    }),
                    Err(e) if e.downcast_ref::<super::process::Interrupted>().is_some() => {
                        return Err(e)
                    }
                    Err(e) => Err(format!("{e:#}")
                        .lines()
                        .take(4)
                        .collect::<Vec<_>>()
                        .join(" ")),
                };
                accel::after_test_boot(outcome)
            }
        };
        config.accel = accel;
        self.prepared = Some(Prepared {
            kernel_version: kernel_version(&kernel.path),
            config,
            accel_reason,
            kernel,
            qemu_version,
            memory_source: None,
        });
        Ok(())
    }

    fn fit_memory(&mut self, need_bytes: u64, host_available_bytes: Option<u64>) -> Result<()> {
        let p = self
            .prepared
            .as_mut()
            .ok_or_else(|| anyhow!("vm environment not prepared"))?;
        // Why test boots: the guest kernel's own share of memory depends on
        // the kernel build, its command line and the memory size itself;
        // guessing it is how advice came to fail when followed.
        let base = p.config.clone();
        let spawner = &*self.spawner;
        let boot = |m: u64| -> Result<f64> {
            let mut probe = base.clone();
            probe.memory_mib = m;
            let b = boot_guest_with(
                spawner,
                &probe,
                &["startup".to_string()],
                memory::PROBE_TIMEOUT,
            )
            .with_context(|| format!("test boot with {m} MiB measuring the guest's own memory"))?;
            b.console
                .result
                .info
                .get(memory::MEM_AVAILABLE_KEY)
                .and_then(|v| v.parse::<f64>().ok())
                .map(|kib| kib / 1024.0)
                .ok_or_else(|| {
                    anyhow!(
                        "the test boot's workload reported no {} (an older workload binary? rebuild it with scripts/build-workload.sh)",
                        memory::MEM_AVAILABLE_KEY
                    )
                })
        };
        let need_mib = need_bytes.div_ceil(1 << 20);
        let start = if self.opts.memory_auto {
            memory::initial_guess(need_bytes)
        } else {
            self.opts.memory_mib
        };
        let (found, avail) = match memory::find_size(need_bytes, start, boot)? {
            Ok(ok) => ok,
            Err(last) => {
                return Err(crate::usage::usage(format!(
                    "could not find a guest memory size that leaves the workloads' {need_mib} MiB available in {} test boots (last tried {last} MiB); pass --vm-memory with a larger size",
                    memory::MAX_PROBES
                )))
            }
        };
        if !self.opts.memory_auto && found > self.opts.memory_mib {
            return Err(crate::usage::usage(format!(
                "--vm-memory {} MiB cannot hold the workloads' {need_mib} MiB next to the guest kernel; a test boot with {found} MiB left {avail:.0} MiB available: use --vm-memory {found} or more, or leave it out",
                self.opts.memory_mib
            )));
        }
        let memory_mib = found;
        if let Some(host) = host_available_bytes {
            if memory_mib << 20 > host {
                return Err(crate::usage::usage(format!(
                    "the VM needs {memory_mib} MiB for the workloads' {need_mib} MiB but the host has only {} MiB available; free memory or run smaller work (--preset quick)",
                    host >> 20
                )));
            }
        }
        p.memory_source = Some(format!(
            "{}: workloads allocate up to {need_mib} MiB; a test boot at {memory_mib} MiB left {avail:.0} MiB available",
            if self.opts.memory_auto {
                "sized from the plan by test boots"
            } else {
                "--vm-memory"
            }
        ));
        p.config.memory_mib = memory_mib;
        self.opts.memory_mib = memory_mib;
        Ok(())
    }

    /// Only CPU placement: the whole QEMU process is spawned with the
    /// partition as its affinity (its main loop and I/O threads stay there,
    /// as libvirt's emulatorpin), then each vCPU thread, found by its name
    /// (`CPU n/TCG`, [`pin`]), is pinned to one CPU of it (as
    /// vcpupin). The pins are recorded in the result's `info.vcpu_pins`.
    fn launch_with(
        &self,
        spec: &WorkloadSpec,
        timeout: Duration,
        limits: &Limits,
    ) -> Result<Box<dyn Instance>> {
        limits.only_cpus("vm")?;
        let p = self
            .prepared
            .as_ref()
            .ok_or_else(|| anyhow!("vm environment not prepared"))?;
        let what = format!(
            "{} ({}, {} vCPU, {} MiB, kernel {}): {}",
            Self::label(p.config.accel),
            p.config.machine,
            p.config.vcpus,
            p.config.memory_mib,
            p.kernel_version.as_deref().unwrap_or("?"),
            spec.to_args().join(" ")
        );
        let mut config = p.config.clone();
        let mut spec = spec.clone();
        let disk = if let isobench_workloads::args::Command::Fileio(c) = &mut spec.command {
            let (image, detail) = self.fileio_disk(c.file_size, c.block, &config)?;
            c.places = vec![isobench_workloads::fileio::Place {
                name: isobench_workloads::fileio::PLACE_DISK.into(),
                dir: isobench_workloads::pid1::GUEST_DISK_MOUNT.into(),
            }];
            config.disk = Some(image.path().to_path_buf());
            Some((image, detail))
        } else {
            None
        };
        let mut cmd = Command::new(&config.qemu);
        cmd.args(config.args(&spec.to_args()).with_context(|| what.clone())?);
        super::process::die_with_parent(&mut cmd);
        if let Some(cpus) = &limits.cpus {
            super::set_affinity(&mut cmd, cpus)?;
        }
        let sup = self
            .spawner
            .spawn_logged(cmd, None)
            .with_context(|| what.clone())?;
        let mut inst = VmInstance {
            sup,
            workload: spec.workload,
            what,
            pins: None,
            disk,
        };
        if let Some(cpus) = &limits.cpus {
            let deadline = std::time::Instant::now() + timeout.min(Duration::from_secs(30));
            let pins = pin::pin_vcpus(&qemu::QEMU, inst.sup.pid(), p.config.vcpus, cpus, deadline)
                .with_context(|| inst.what.clone())?;
            inst.pins = Some(pin::describe(&pins));
        }
        Ok(Box::new(inst))
    }

    fn cleanup(&mut self) -> Result<()> {
        if let Some(Ok(image)) = &self.disk {
            // Each instance removes its own; this is for one that was lost.
            let _ = std::fs::remove_file(image);
        }
        if let Some(initrd) = self.initrd.take() {
            match std::fs::remove_file(&initrd) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("removing {}", initrd.display())),
            }
        }
        Ok(())
    }
}

/// One guest: QEMU (and any helper it forks) in a process group of its own,
/// its serial console on the supervised stdout.
pub struct VmInstance {
    sup: Supervised,
    workload: isobench_workloads::Workload,
    /// The guest's configuration and arguments, for error messages.
    what: String,
    /// The vCPU pins made at launch (`CPU 0/TCG→0, ...`).
    pins: Option<String>,
    /// fileio's disk image (removed when the instance ends) and how it was
    /// attached, for the result's `info`.
    disk: Option<(disk::DiskImage, String)>,
}

impl Instance for VmInstance {
    fn wait_ready(&mut self, timeout: Duration) -> Result<Duration> {
        self.sup
            .wait_ready(timeout)
            .with_context(|| self.what.clone())
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

    fn wait_line(&mut self, marker: &str, timeout: Duration) -> Result<()> {
        self.sup
            .wait_line(marker, timeout)
            .map(|_| ())
            .with_context(|| self.what.clone())
    }

    fn stop_output(mut self: Box<Self>) -> Result<String> {
        Ok(self.sup.kill_output(Duration::from_secs(2)))
    }

    fn wait(self: Box<Self>, timeout: Duration) -> Result<RunOutcome> {
        let VmInstance {
            sup,
            workload,
            what,
            pins,
            disk,
        } = *self;
        // As boot_guest, but measuring QEMU (and any helper it forked) at
        // READY, while the guest idles in the startup workload's hold.
        let measure = workload == isobench_workloads::Workload::Startup;
        let mut fp = None;
        let w = sup
            .finish(timeout, |pid| {
                if measure {
                    fp = pid.and_then(footprint::measure_tree);
                }
            })
            .with_context(|| what.clone())?;
        let mut c = console::judge(
            &w.stdout,
            &w.stderr,
            w.status.success(),
            &w.status.to_string(),
        )
        .with_context(|| what.clone())?;
        if let Some(kib) = w.max_rss_kib.filter(|_| measure) {
            // Not the footprint (a peak, counted differently from the other
            // environments); kept for the record.
            c.result.info.insert(
                "qemu_max_rss_mib".into(),
                format!("{:.1}", kib as f64 / 1024.0),
            );
        }
        if let Some(p) = pins {
            c.result.info.insert("vcpu_pins".into(), p);
        }
        if let Some((image, detail)) = disk {
            c.result.info.insert("vm_disk".into(), detail);
            drop(image);
        }
        if let Err(why) = console::check_clocksource(&c.result) {
            // Keep the run (its figures are recorded) but never as valid.
            c.result.valid = false;
            c.result.error = Some(match c.result.error.take() {
                Some(e) => format!("{e}; {why}"),
                None => why,
            });
        }
        let mut extra_ms = BTreeMap::new();
        if let Some(up) = c.guest_uptime_ms {
            extra_ms.insert("guest_uptime_ms".to_string(), up);
        }
        Ok(RunOutcome {
            result: c.result,
            first_instruction: w.ready_after,
            lifecycle: w.exited_after,
            extra_ms,
            footprint: fp,
        })
    }
}

impl VmEnv {
    /// A fresh ext4 image for one fileio repetition (sized from its file
    /// and block sizes) and how it is attached.
    fn fileio_disk(
        &self,
        file: u64,
        block: u64,
        config: &QemuConfig,
    ) -> Result<(disk::DiskImage, String)> {
        let path = match &self.disk {
            Some(Ok(p)) => p.clone(),
            Some(Err(why)) => bail!("{why}"),
            None => {
                bail!("fileio in the VM: the environment was prepared for a plan without fileio")
            }
        };
        let bytes = disk::image_bytes(file, block);
        let image =
            disk::DiskImage::create(&*self.spawner, &path, bytes).map_err(|e| anyhow!(e))?;
        let transport = match config.machine {
            Machine::Microvm => "virtio-mmio",
            Machine::Q35 => "virtio-pci",
        };
        let detail = format!(
            "virtio-blk on {transport}: a fresh sparse raw image of {} MiB (ext4 made by the host's mkfs.ext4) in the run's scratch directory, cache=none aio=threads",
            bytes >> 20
        );
        Ok((image, detail))
    }
}

impl Drop for VmEnv {
    fn drop(&mut self) {
        let _ = self.cleanup();
    }
}

/// What a VM column cannot run, and why (see [`VmEnv`]'s `cannot_run`):
/// known from the column alone.
pub(super) fn vm_cannot_run(workload: isobench_workloads::Workload) -> Option<String> {
    use isobench_workloads::Workload as W;
    match workload {
        W::Copyup => Some("the guest's root file system is the initramfs unpacked into rootfs (tmpfs or ramfs): there is no lower layer to copy up from".into()),
        W::Ovlmount => Some("the guest has no overlayfs: Debian's cloud kernel builds it as a module (CONFIG_OVERLAY_FS=m) and the initramfs holds only the workload binary".into()),
        W::Layers => Some("layers is a host measurement of isorun's layer store, recorded in the native column".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without root, QEMU or a kernel: a guest boot starts QEMU through
    /// the door, with the workload's arguments on its command line, and
    /// its console is judged (a stand-in prints it).
    #[test]
    fn a_guest_boot_goes_through_the_door() {
        let line = isobench_workloads::protocol::WorkloadResult::empty("startup").to_line();
        let spawner = crate::env::fake::FakeSpawner::printing(format!("ISOBENCH-READY\n{line}"));
        let opts = VmOptions {
            qemu: Some("/bin/sh".into()),
            tsc_early_khz: false,
            ..VmOptions::default()
        };
        let config = host_config(&opts, Path::new("/k"), Path::new("/i"), Accel::Tcg, 1).unwrap();
        let b = boot_guest_with(
            &spawner,
            &config,
            &["startup".to_string()],
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(b.console.result.workload, "startup");
        assert!(b.ready_after.is_some());
        assert_eq!(spawner.methods(), ["spawn_logged"]);
        let cmd = &spawner.commands()[0];
        assert_eq!(cmd[0], "/bin/sh");
        assert!(
            cmd.iter().any(|a| a.contains("isobench.args=startup")),
            "{cmd:?}"
        );
    }

    #[test]
    fn options_are_validated_without_side_effects() {
        assert!(VmEnv::new(VmOptions::default()).is_ok());
        let e = VmEnv::new(VmOptions {
            vcpus: Some(0),
            ..Default::default()
        })
        .err()
        .unwrap();
        assert!(e.to_string().contains("--threads"), "{e}");
        let e = VmEnv::new(VmOptions {
            memory_mib: 16,
            ..Default::default()
        })
        .err()
        .unwrap();
        assert!(e.to_string().contains("16 MiB"), "{e}");
    }

    #[test]
    fn identity_before_prepare() {
        let env = VmEnv::new(VmOptions {
            accel: AccelRequest::Tcg,
            machine: Machine::Q35,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(env.id(), "vm");
        assert!(env.emulated());
        assert_eq!(env.detail()["machine"], "q35");
        let kvm = VmEnv::new(VmOptions {
            accel: AccelRequest::Kvm,
            ..Default::default()
        })
        .unwrap();
        assert!(!kvm.emulated());
    }

    #[test]
    fn options_serialise_for_run_json() {
        let o = VmOptions {
            kernel: Some("/k".into()),
            vcpus: Some(2),
            ..Default::default()
        };
        let j = serde_json::to_value(&o).unwrap();
        assert_eq!(j["accel"], "auto");
        assert_eq!(j["machine"], "microvm");
        assert_eq!(j["kernel"], "/k");
        assert_eq!(serde_json::from_value::<VmOptions>(j).unwrap(), o);
        // Missing fields take their defaults.
        let o: VmOptions = serde_json::from_str(r#"{"accel":"tcg"}"#).unwrap();
        assert_eq!((o.accel, o.memory_mib), (AccelRequest::Tcg, 1024));
    }

    #[test]
    fn qemu_lookup_in_path() {
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join(QEMU_BIN);
        std::fs::write(&bin, "#!/bin/sh\n").unwrap();
        let path =
            std::env::join_paths([tmp.path().join("none"), tmp.path().to_path_buf()]).unwrap();
        assert_eq!(
            find_in_path(QEMU_BIN, Some(&path)),
            None,
            "not executable yet"
        );
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find_in_path(QEMU_BIN, Some(&path)), Some(bin));
        let e = find_vmm(&qemu::QEMU, Some(&tmp.path().join("nope")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("apt-get install qemu-system-x86"), "{e}");
    }
}
