//! The QEMU command line, built from a typed [`QemuConfig`] (pure: no process
//! is started here).
//!
//! What boots fastest here (docs/design.md, "This machine"): the `microvm`
//! machine (virtio-mmio, no PCI, no firmware tables to speak of) with qboot
//! as firmware where it is installed, `-nodefaults -no-user-config -display
//! none`, the guest's first serial port on QEMU's stdout, and `-no-reboot` so
//! that the guest's reboot(2) ends QEMU. `q35` (a full PC with SeaBIOS) is the
//! comparison point. The CPU model is `host` under KVM and `max` under TCG
//! (every feature TCG can emulate); several vCPUs under TCG use one host
//! thread each (`-accel tcg,thread=multi`).
//!
//! The guest kernel command line (kernel-parameters.txt) carries
//! `console=ttyS0` (messages and init's console on the serial port),
//! `reboot=t` (reboot through the triple-fault path, which needs no ACPI),
//! `panic=-1` (reboot at once on a panic, so QEMU exits instead of hanging),
//! `quiet`, `tsc_early_khz=<host TSC kHz>` (microvm has neither HPET nor the
//! ACPI PM timer, so under TCG the kernel's TSC calibration could hang; this
//! gives it the frequency), under TCG `tsc=reliable`, and
//! `isobench.args=a,b,c`, the workload's
//! arguments, which the workload's PID-1 mode reads from `/proc/cmdline`
//! (a parameter with a dot is not passed to init as an argument or variable).
//!
//! Why `tsc=reliable` under TCG: `-cpu max` there is an AMD-vendor CPU without
//! the invariant-TSC flag, so with more than one vCPU the kernel's
//! `unsynchronized_tsc()` marks the TSC unstable ("TSCs unsynchronized") and,
//! microvm having no HPET or PM timer, falls back to the jiffies clocksource:
//! every timing inside the guest then moves in 4 ms steps (measured: 0 ns per
//! load for cache-sized working sets). TCG's guest TSC is the host's, shared
//! by all vCPUs, so telling the kernel it is reliable is true.

use super::vmm::{VcpuThread, Vmm};
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// x86's `COMMAND_LINE_SIZE` (including the terminating NUL).
pub const MAX_KERNEL_CMDLINE: usize = 2048;
/// Where Debian's qemu-system-data puts qboot.
pub const QBOOT_ROM: &str = "/usr/share/qemu/qboot.rom";
/// The kernel parameter carrying the workload's arguments.
pub const ARGS_PARAM: &str = "isobench.args";
/// The kernel parameter naming the fileio disk (the guest's PID 1 reads it).
pub use isobench_workloads::pid1::DISK_PARAM;

/// QEMU's accelerator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    /// Hardware virtualisation through /dev/kvm.
    Kvm,
    /// QEMU's dynamic binary translator: every guest instruction emulated.
    Tcg,
}

impl Accel {
    pub fn name(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

impl fmt::Display for Accel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// QEMU machine type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Machine {
    /// Minimal virtio-mmio machine, made for fast boots.
    #[default]
    Microvm,
    /// A PC (Q35 chipset, PCIe) with SeaBIOS.
    Q35,
}

impl Machine {
    pub fn name(self) -> &'static str {
        match self {
            Machine::Microvm => "microvm",
            Machine::Q35 => "q35",
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Machine {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "microvm" => Ok(Machine::Microvm),
            "q35" => Ok(Machine::Q35),
            _ => Err(format!("unknown machine '{s}' (known: microvm, q35)")),
        }
    }
}

/// Why a command line cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CmdlineError {
    /// The kernel splits its command line at spaces and the workload splits
    /// `isobench.args` at commas; quotes would be interpreted by the kernel.
    #[error("workload argument {0:?} cannot be passed on the kernel command line (no commas, quotes, whitespace or empty arguments)")]
    BadArg(String),
    #[error("kernel command line is {len} bytes; the x86 limit is {} (shorten the workload arguments)", MAX_KERNEL_CMDLINE - 1)]
    TooLong { len: usize },
    #[error(
        "a VM needs at least one vCPU and 64 MiB of memory (got {vcpus} vCPUs, {memory_mib} MiB)"
    )]
    Resources { vcpus: usize, memory_mib: u64 },
}

/// Everything the command line depends on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QemuConfig {
    /// `qemu-system-x86_64`.
    pub qemu: PathBuf,
    pub accel: Accel,
    pub machine: Machine,
    pub vcpus: usize,
    pub memory_mib: u64,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    /// Firmware (`-bios`); qboot for microvm where it is installed.
    pub bios: Option<PathBuf>,
    /// Host TSC frequency for `tsc_early_khz`; `None` leaves the kernel to
    /// calibrate (risky on microvm under TCG).
    pub tsc_khz: Option<u64>,
    /// `-cpu` model instead of `host`/`max` (diagnostics only).
    pub cpu: Option<String>,
    /// A raw disk image attached as the guest's `/dev/vda`, which the
    /// guest's PID 1 mounts for fileio ([`crate::env::vm::disk`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<PathBuf>,
}

impl QemuConfig {
    /// The `-cpu` model: `host` under KVM, `max` under TCG.
    pub fn cpu_model(&self) -> &str {
        match (&self.cpu, self.accel) {
            (Some(c), _) => c,
            (None, Accel::Kvm) => "host",
            (None, Accel::Tcg) => "max",
        }
    }

    /// The `-accel` value.
    pub fn accel_arg(&self) -> String {
        match self.accel {
            Accel::Kvm => "kvm".into(),
            Accel::Tcg if self.vcpus > 1 => "tcg,thread=multi".into(),
            Accel::Tcg => "tcg".into(),
        }
    }

    /// QEMU's arguments (after the program name) to boot the guest with
    /// `workload_args` for the workload.
    pub fn args(&self, workload_args: &[String]) -> Result<Vec<OsString>, CmdlineError> {
        if self.vcpus == 0 || self.memory_mib < 64 {
            return Err(CmdlineError::Resources {
                vcpus: self.vcpus,
                memory_mib: self.memory_mib,
            });
        }
        let mut append = kernel_cmdline(self.accel, self.tsc_khz, workload_args)?;
        if self.disk.is_some() {
            append.push_str(&format!(" {DISK_PARAM}=vda"));
            if append.len() >= MAX_KERNEL_CMDLINE {
                return Err(CmdlineError::TooLong { len: append.len() });
            }
        }
        let mut a: Vec<OsString> = Vec::new();
        let mut push = |xs: &[&str]| a.extend(xs.iter().map(OsString::from));
        push(&["-M", self.machine.name()]);
        push(&["-accel", &self.accel_arg()]);
        push(&["-cpu", self.cpu_model()]);
        push(&["-smp", &self.vcpus.to_string()]);
        push(&["-m", &format!("{}M", self.memory_mib)]);
        // Names QEMU's threads (`CPU 0/TCG`, ...) so that vCPU threads can
        // be pinned (crate::env::vm::pin).
        push(&["-name", "isobench,debug-threads=on"]);
        push(&[
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-serial",
            "stdio",
            "-no-reboot",
        ]);
        if let Some(bios) = &self.bios {
            a.push("-bios".into());
            a.push(bios.into());
        }
        a.push("-kernel".into());
        a.push(self.kernel.clone().into());
        a.push("-initrd".into());
        a.push(self.initrd.clone().into());
        a.push("-append".into());
        a.push(append.into());
        if let Some(img) = &self.disk {
            a.extend(crate::env::vm::disk::qemu_args(self.machine, img));
        }
        Ok(a)
    }

    /// The command as one line, for logs and error messages.
    pub fn display(&self, workload_args: &[String]) -> String {
        match self.args(workload_args) {
            Ok(a) => std::iter::once(self.qemu.as_os_str().to_owned())
                .chain(a)
                .map(|s| {
                    let s = s.to_string_lossy().into_owned();
                    if s.contains(' ') {
                        format!("'{s}'")
                    } else {
                        s
                    }
                })
                .collect::<Vec<_>>()
                .join(" "),
            Err(e) => format!("(invalid: {e})"),
        }
    }
}

/// The guest kernel command line (see the module documentation).
pub fn kernel_cmdline(
    accel: Accel,
    tsc_khz: Option<u64>,
    workload_args: &[String],
) -> Result<String, CmdlineError> {
    for arg in workload_args {
        if arg.is_empty()
            || arg
                .chars()
                .any(|c| c == ',' || c == '"' || c.is_whitespace() || c.is_control())
        {
            return Err(CmdlineError::BadArg(arg.clone()));
        }
    }
    let mut s = String::from("console=ttyS0 reboot=t panic=-1 quiet");
    if let Some(khz) = tsc_khz {
        s.push_str(&format!(" tsc_early_khz={khz}"));
    }
    if accel == Accel::Tcg {
        s.push_str(" tsc=reliable");
    }
    s.push_str(&format!(" {ARGS_PARAM}={}", workload_args.join(",")));
    if s.len() >= MAX_KERNEL_CMDLINE {
        return Err(CmdlineError::TooLong { len: s.len() });
    }
    Ok(s)
}

/// The `cpu MHz` of `/proc/cpuinfo` text × 1000. In a VM (as CI and this
/// host are) that is the TSC rate the kernel found at boot; on bare metal with
/// frequency scaling it is the *current* clock, which is why
/// [`choose_tsc_khz`] checks it against a measurement.
pub fn tsc_khz_from_cpuinfo(cpuinfo: &str) -> Option<u64> {
    cpuinfo.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        if k.trim() != "cpu MHz" {
            return None;
        }
        let mhz: f64 = v.trim().parse().ok()?;
        (mhz.is_finite() && mhz > 0.0).then(|| (mhz * 1000.0).round() as u64)
    })
}

/// The TSC rate from `ticks` counted over `elapsed`, in kHz.
pub fn tsc_khz_from_counts(ticks: u64, elapsed: std::time::Duration) -> Option<u64> {
    let us = elapsed.as_micros();
    (us > 0 && ticks > 0).then(|| (ticks as u128 * 1000 / us) as u64)
}

/// The frequency to pass as `tsc_early_khz`. Under TCG the guest's TSC is the
/// host's, and the guest kernel takes this value as the truth (microvm has no
/// timer to refine it against): an error of x% here makes every time the
/// guest measures x% wrong. `cpuinfo` (the kernel's figure) wins when it is
/// within 0.5% of `measured`; otherwise it was a scaled core clock and the
/// measurement is used.
pub fn choose_tsc_khz(measured: Option<u64>, cpuinfo: Option<u64>) -> Option<u64> {
    match (measured, cpuinfo) {
        (Some(m), Some(c)) if c.abs_diff(m) * 200 <= m => Some(c),
        (Some(m), _) => Some(m),
        (None, c) => c,
    }
}

/// The first line of `qemu-system-x86_64 --version` without the banner:
/// `QEMU emulator version 7.2.22 (Debian ...)` → `7.2.22 (Debian ...)`.
pub fn parse_qemu_version(output: &str) -> Option<String> {
    let line = output.lines().next()?.trim();
    Some(
        line.strip_prefix("QEMU emulator version ")
            .unwrap_or(line)
            .to_string(),
    )
    .filter(|s| !s.is_empty())
}

/// The CPU models and CPUID flags of `qemu-system-x86_64 -cpu help`: model
/// lines read `x86 NAME   description`, flags follow "Recognized CPUID
/// flags:" as space-separated words.
pub fn parse_cpu_help(output: &str) -> (Vec<String>, Vec<String>) {
    let mut models = Vec::new();
    let mut flags = Vec::new();
    let mut in_flags = false;
    for line in output.lines() {
        if line.starts_with("Recognized CPUID flags") {
            in_flags = true;
        } else if in_flags {
            flags.extend(line.split_whitespace().map(String::from));
        } else if let Some(rest) = line.strip_prefix("x86 ") {
            if let Some(name) = rest.split_whitespace().next() {
                models.push(name.to_string());
            }
        }
    }
    (models, flags)
}

/// Check a `--vm-cpu` value (`MODEL` or `MODEL,+flag,-flag`) against what
/// `-cpu help` lists; the error is one line naming the problem, with the
/// closest known name. `host` needs KVM (QEMU refuses it under TCG).
pub fn check_cpu_model(value: &str, help: &str, accel: &str) -> Result<(), String> {
    let (models, flags) = parse_cpu_help(help);
    if models.is_empty() {
        return Err(format!(
            "--vm-cpu {value}: {} -cpu help listed no CPU models",
            super::QEMU_BIN
        ));
    }
    let mut parts = value.split(',');
    let model = parts.next().unwrap_or_default().trim();
    if !models.iter().any(|m| m == model) {
        return Err(format!(
            "unknown VM CPU model '{model}' ({} lists {} models, e.g. host, max, qemu64, Skylake-Client){}",
            super::QEMU_BIN,
            models.len(),
            crate::usage::did_you_mean(model, models.iter().map(String::as_str))
        ));
    }
    if model == "host" && accel == "tcg" {
        return Err(
            "--vm-cpu host needs KVM (QEMU refuses it under --accel tcg); use max or a named model"
                .into(),
        );
    }
    for f in parts {
        let name = f.trim().trim_start_matches(['+', '-']);
        if !(f.starts_with('+') || f.starts_with('-')) || !flags.iter().any(|k| k == name) {
            return Err(format!(
                "--vm-cpu {value}: '{f}' is not +FLAG or -FLAG with a CPUID flag {} knows{}",
                super::QEMU_BIN,
                crate::usage::did_you_mean(name, flags.iter().map(String::as_str))
            ));
        }
    }
    Ok(())
}

/// Run `qemu-system-x86_64 -cpu help` (through `spawner`) and check
/// `value` against it.
pub fn check_cpu_model_here(
    spawner: &dyn crate::env::process::Spawner,
    value: &str,
    accel: &str,
) -> Result<(), String> {
    let mut help = std::process::Command::new(super::QEMU_BIN);
    help.args(["-cpu", "help"]);
    let out = spawner.output(help).map_err(|e| {
        format!(
            "--vm-cpu {value}: cannot list QEMU's CPU models ({} -cpu help: {e})",
            super::QEMU_BIN
        )
    })?;
    check_cpu_model(value, &String::from_utf8_lossy(&out.stdout), accel)
}

/// QEMU's processes, as [`Vmm`] describes a hypervisor's.
pub struct QemuVmm;

/// QEMU, the VMM of every VM column so far.
pub static QEMU: QemuVmm = QemuVmm;

impl Vmm for QemuVmm {
    fn name(&self) -> &'static str {
        "QEMU"
    }

    fn program(&self) -> &'static str {
        super::QEMU_BIN
    }

    fn install_hint(&self) -> &'static str {
        super::QEMU_HINT
    }

    fn is_program(&self, file_name: &str) -> bool {
        file_name.starts_with("qemu-system")
    }

    /// QEMU names each vCPU thread `CPU <n>/KVM` or `CPU <n>/TCG`, and the
    /// one thread of single-threaded TCG `ALL CPUs/TCG`, when started with
    /// `-name ...,debug-threads=on`.
    fn vcpu_thread(&self, comm: &str) -> Option<VcpuThread> {
        if comm.trim().starts_with("ALL CPUs/") {
            return Some(VcpuThread::All);
        }
        let (n, accel) = comm.trim().strip_prefix("CPU ")?.split_once('/')?;
        if accel.is_empty() || n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        n.parse().ok().map(VcpuThread::One)
    }

    fn thread_names_hint(&self) -> &'static str {
        "is -name debug-threads=on set?"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(accel: Accel, machine: Machine, vcpus: usize) -> QemuConfig {
        QemuConfig {
            qemu: "/usr/bin/qemu-system-x86_64".into(),
            accel,
            machine,
            vcpus,
            memory_mib: 512,
            kernel: "/k/vmlinuz".into(),
            initrd: "/s/initramfs.cpio".into(),
            bios: (machine == Machine::Microvm).then(|| QBOOT_ROM.into()),
            tsc_khz: Some(2_445_404),
            cpu: None,
            disk: None,
        }
    }

    #[test]
    fn a_disk_is_attached_and_named_to_the_guest() {
        let mut c = config(Accel::Tcg, Machine::Microvm, 1);
        let plain = strings(&c, &["fileio"]);
        assert!(!plain
            .iter()
            .any(|a| a.contains(DISK_PARAM) || a == "-drive"));
        c.disk = Some("/s/vm-disk.img".into());
        let a = strings(&c, &["fileio"]);
        let append = &a[a.iter().position(|x| x == "-append").unwrap() + 1];
        assert!(append.contains("isobench.disk=vda"), "{append}");
        let drive = &a[a.iter().position(|x| x == "-drive").unwrap() + 1];
        assert!(drive.starts_with("file=/s/vm-disk.img,"), "{drive}");
        assert!(a.contains(&"virtio-blk-device,drive=isobench-disk".to_string()));
    }

    fn strings(c: &QemuConfig, args: &[&str]) -> Vec<String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        c.args(&args)
            .unwrap()
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect()
    }

    /// The value following `flag`.
    fn after<'a>(v: &'a [String], flag: &str) -> &'a str {
        let i = v
            .iter()
            .position(|a| a == flag)
            .unwrap_or_else(|| panic!("{flag} missing in {v:?}"));
        &v[i + 1]
    }

    #[test]
    fn microvm_under_tcg_one_vcpu() {
        let v = strings(&config(Accel::Tcg, Machine::Microvm, 1), &["startup"]);
        assert_eq!(after(&v, "-M"), "microvm");
        assert_eq!(after(&v, "-accel"), "tcg");
        assert_eq!(after(&v, "-cpu"), "max");
        assert_eq!(after(&v, "-smp"), "1");
        assert_eq!(after(&v, "-m"), "512M");
        assert_eq!(after(&v, "-bios"), QBOOT_ROM);
        assert_eq!(after(&v, "-serial"), "stdio");
        assert_eq!(after(&v, "-display"), "none");
        for flag in ["-nodefaults", "-no-user-config", "-no-reboot"] {
            assert!(v.iter().any(|a| a == flag), "{flag}");
        }
        assert_eq!(after(&v, "-kernel"), "/k/vmlinuz");
        assert_eq!(after(&v, "-initrd"), "/s/initramfs.cpio");
        assert_eq!(
            after(&v, "-append"),
            "console=ttyS0 reboot=t panic=-1 quiet tsc_early_khz=2445404 tsc=reliable isobench.args=startup"
        );
    }

    #[test]
    fn several_vcpus_under_tcg_use_multithreaded_tcg() {
        let v = strings(
            &config(Accel::Tcg, Machine::Microvm, 2),
            &["cpu", "--threads", "2"],
        );
        assert_eq!(after(&v, "-accel"), "tcg,thread=multi");
        assert_eq!(after(&v, "-smp"), "2");
        assert!(after(&v, "-append").ends_with(" isobench.args=cpu,--threads,2"));
    }

    #[test]
    fn kvm_uses_the_host_cpu() {
        let v = strings(&config(Accel::Kvm, Machine::Microvm, 2), &["startup"]);
        assert_eq!(after(&v, "-accel"), "kvm");
        assert_eq!(after(&v, "-cpu"), "host");
        // kvm-clock is the guest's clocksource under KVM: no tsc=reliable.
        assert_eq!(
            after(&v, "-append"),
            "console=ttyS0 reboot=t panic=-1 quiet tsc_early_khz=2445404 isobench.args=startup"
        );
        let mut c = config(Accel::Kvm, Machine::Microvm, 1);
        c.cpu = Some("host,-arch-capabilities".into());
        assert_eq!(
            after(&strings(&c, &["startup"]), "-cpu"),
            "host,-arch-capabilities"
        );
    }

    #[test]
    fn q35_has_no_qboot_and_keeps_the_rest() {
        for accel in [Accel::Kvm, Accel::Tcg] {
            let v = strings(&config(accel, Machine::Q35, 1), &["startup"]);
            assert_eq!(after(&v, "-M"), "q35");
            assert!(!v.iter().any(|a| a == "-bios"));
            assert_eq!(after(&v, "-serial"), "stdio");
            assert!(v.iter().any(|a| a == "-no-reboot"));
            assert!(after(&v, "-append").contains("console=ttyS0"));
        }
    }

    #[test]
    fn arguments_that_would_break_the_cmdline_are_refused() {
        let c = config(Accel::Tcg, Machine::Microvm, 1);
        for bad in ["a,b", "two words", "", "q\"", "tab\t"] {
            assert_eq!(
                c.args(&[bad.to_string()]).unwrap_err(),
                CmdlineError::BadArg(bad.into())
            );
        }
        let long = vec!["x".repeat(100); 25];
        assert!(matches!(
            c.args(&long).unwrap_err(),
            CmdlineError::TooLong { .. }
        ));
        let mut c = c;
        c.vcpus = 0;
        assert!(matches!(
            c.args(&[]).unwrap_err(),
            CmdlineError::Resources { .. }
        ));
    }

    #[test]
    fn without_tsc_frequency_the_parameter_is_left_out() {
        let s = kernel_cmdline(Accel::Kvm, None, &["startup".into()]).unwrap();
        assert_eq!(
            s,
            "console=ttyS0 reboot=t panic=-1 quiet isobench.args=startup"
        );
    }

    #[test]
    fn tsc_frequency_from_cpuinfo() {
        let text =
            "processor\t: 0\nmodel name\t: AMD EPYC\ncpu MHz\t\t: 2445.404\ncache size\t: 512 KB\n";
        assert_eq!(tsc_khz_from_cpuinfo(text), Some(2_445_404));
        assert_eq!(tsc_khz_from_cpuinfo("processor : 0\n"), None);
        assert_eq!(tsc_khz_from_cpuinfo("cpu MHz : nan\n"), None);
    }

    #[test]
    fn tsc_frequency_prefers_the_kernel_figure_when_a_measurement_agrees() {
        let d = std::time::Duration::from_millis(50);
        assert_eq!(tsc_khz_from_counts(122_270_200, d), Some(2_445_404));
        assert_eq!(tsc_khz_from_counts(0, d), None);
        assert_eq!(tsc_khz_from_counts(5, std::time::Duration::ZERO), None);
        // Within 0.5%: the kernel's exact figure.
        assert_eq!(
            choose_tsc_khz(Some(2_446_100), Some(2_445_404)),
            Some(2_445_404)
        );
        // cpu MHz was a scaled-down core clock: the measurement.
        assert_eq!(
            choose_tsc_khz(Some(2_445_000), Some(1_200_000)),
            Some(2_445_000)
        );
        assert_eq!(choose_tsc_khz(None, Some(1_200_000)), Some(1_200_000));
        assert_eq!(choose_tsc_khz(None, None), None);
    }

    #[test]
    fn qemu_version_line() {
        assert_eq!(
            parse_qemu_version("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7)\nCopyright")
                .as_deref(),
            Some("7.2.22 (Debian 1:7.2+dfsg-7)")
        );
        assert_eq!(parse_qemu_version(""), None);
    }

    #[test]
    fn display_quotes_the_append_string() {
        let s = config(Accel::Tcg, Machine::Microvm, 1).display(&["startup".into()]);
        assert!(
            s.starts_with("/usr/bin/qemu-system-x86_64 -M microvm"),
            "{s}"
        );
        assert!(s.contains("-append 'console=ttyS0 "), "{s}");
    }

    #[test]
    fn cpu_models_are_checked_against_qemus_list() {
        let help = "Available CPUs:\nx86 486                   (alias configured by machine type)\nx86 qemu64                (alias configured by machine type)\nx86 Skylake-Client        Intel Core Processor (Skylake)\nx86 host                  processor with all supported host features\nx86 max                   Enables all features\n\nRecognized CPUID flags:\n  avx avx2 fma\n  sse2 x2apic\n";
        let (models, flags) = parse_cpu_help(help);
        assert_eq!(models, ["486", "qemu64", "Skylake-Client", "host", "max"]);
        assert_eq!(flags, ["avx", "avx2", "fma", "sse2", "x2apic"]);
        for ok in ["max", "qemu64", "Skylake-Client", "qemu64,+avx2,-fma"] {
            check_cpu_model(ok, help, "tcg").unwrap();
        }
        check_cpu_model("host", help, "kvm").unwrap();
        let e = check_cpu_model("qemu65", help, "auto").unwrap_err();
        assert!(
            e.contains("unknown VM CPU model 'qemu65'") && e.contains("did you mean 'qemu64'?"),
            "{e}"
        );
        assert!(!e.contains('\n'));
        let e = check_cpu_model("host", help, "tcg").unwrap_err();
        assert!(e.contains("needs KVM"), "{e}");
        let e = check_cpu_model("max,+avx3", help, "tcg").unwrap_err();
        assert!(
            e.contains("'+avx3'") && e.contains("did you mean 'avx'?"),
            "{e}"
        );
        let e = check_cpu_model("max,avx2", help, "tcg").unwrap_err();
        assert!(e.contains("'avx2' is not +FLAG"), "{e}");
        assert!(check_cpu_model("max", "", "tcg").is_err());
    }

    /// The `-cpu help` probe is started through the spawner it is given.
    #[test]
    fn the_cpu_model_probe_goes_through_the_spawner() {
        let fake = crate::env::fake::FakeSpawner::printing("");
        // The stand-in lists no models: refused, and said so.
        let e = check_cpu_model_here(&fake, "max", "tcg").unwrap_err();
        assert!(e.contains("listed no CPU models"), "{e}");
        assert_eq!(fake.methods(), ["output"]);
        assert_eq!(fake.commands()[0], [super::super::QEMU_BIN, "-cpu", "help"]);
    }
}
