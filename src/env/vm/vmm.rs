//! What the VM column, the vCPU pinning and the crash sweep need to know
//! about a hypervisor's processes, behind one trait: the column finds the
//! program and starts it, pinning reads the names of its threads, and the
//! sweep recognises a hypervisor a dead run left behind. QEMU implements it
//! ([`super::qemu::QEMU`]); another VMM is a second implementation and an
//! entry in [`KNOWN`].

/// What a hypervisor thread's name says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VcpuThread {
    /// The thread of vCPU `n`.
    One(usize),
    /// The one thread running every vCPU (e.g. single-threaded TCG).
    All,
}

/// A hypervisor, as its processes look from the host.
pub trait Vmm: Send + Sync {
    /// Its name in messages (`QEMU`).
    fn name(&self) -> &'static str;
    /// The program looked up in `PATH` when no binary is given.
    fn program(&self) -> &'static str;
    /// How to get the program when it is missing.
    fn install_hint(&self) -> &'static str;
    /// Whether a process whose program file is named `file_name` (the last
    /// component of its `argv[0]`) is one of this hypervisor's.
    fn is_program(&self, file_name: &str) -> bool;
    /// The vCPU a thread named `comm` runs, if it is a vCPU thread.
    fn vcpu_thread(&self, comm: &str) -> Option<VcpuThread>;
    /// What to check when the vCPU threads cannot be told apart by name.
    fn thread_names_hint(&self) -> &'static str;
}

/// Every hypervisor a VM column can run: what the sweep looks for.
pub static KNOWN: [&dyn Vmm; 1] = [&super::qemu::QEMU];

/// The hypervisor a process with command line `cmdline` runs, if any.
pub fn of_process(cmdline: &[String]) -> Option<&'static dyn Vmm> {
    let prog = cmdline.first()?;
    let base = prog.rsplit('/').next().unwrap_or(prog);
    KNOWN.iter().copied().find(|v| v.is_program(base))
}

/// The hypervisor a process runs and the run scratch directory whose
/// initramfs it boots, when it is one booting a run's guest.
pub fn booting_a_run(cmdline: &[String]) -> Option<(&'static dyn Vmm, &str)> {
    let vmm = of_process(cmdline)?;
    Some((vmm, crate::env::naming::initrd_scratch(cmdline)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_processes_are_recognised_by_their_program() {
        let c = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let q = of_process(&c(&["/usr/bin/qemu-system-x86_64", "-m", "256"])).unwrap();
        assert_eq!(q.name(), "QEMU");
        assert!(of_process(&c(&["qemu-system-aarch64"])).is_some());
        assert!(of_process(&c(&["cat", "qemu-system-x86_64"])).is_none());
        assert!(of_process(&[]).is_none());
    }

    #[test]
    fn qemu_of_a_run_is_recognised() {
        let c = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let q = c(&[
            "/usr/bin/qemu-system-x86_64",
            "-kernel",
            "/k",
            "-initrd",
            "/runs/r1/.scratch/vm-initramfs.cpio",
        ]);
        let scratch = |c: &[String]| booting_a_run(c).map(|(v, s)| (v.name(), s.to_string()));
        assert_eq!(scratch(&q), Some(("QEMU", "/runs/r1/.scratch".to_string())));
        let other = c(&["qemu-system-x86_64", "-initrd", "/boot/initrd.img"]);
        assert_eq!(scratch(&other), None);
        let not_qemu = c(&["cat", "/runs/r1/.scratch/vm-initramfs.cpio"]);
        assert_eq!(scratch(&not_qemu), None);
    }
}
