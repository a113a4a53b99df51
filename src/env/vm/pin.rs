//! Pinning a guest's vCPU threads to host CPUs, as libvirt's `vcpupin`
//! does: the hypervisor names each vCPU thread (QEMU: `CPU <n>/KVM` or
//! `CPU <n>/TCG`, one `ALL CPUs/TCG` thread under single-threaded TCG, when
//! started with `-name ...,debug-threads=on`; [`Vmm::vcpu_thread`] reads
//! them); the thread ids are read from
//! `/proc/<pid>/task/<tid>/comm` (proc(5)) and each is pinned with
//! sched_setaffinity(2). vCPU `n` goes to `cpus[n % cpus.len()]`. The rest
//! of the hypervisor (main loop, I/O threads) keeps the affinity it was spawned with
//! (the whole partition, libvirt's `emulatorpin`).
//!
//! Which thread goes where is decided by [`plan`], a pure function; only
//! [`pin_vcpus`] reads `/proc` and makes the system call.

use super::vmm::{VcpuThread, Vmm};
use anyhow::{anyhow, bail, Result};
use std::path::Path;
use std::time::{Duration, Instant};

/// One thread to pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub tid: i32,
    pub name: String,
    pub cpus: Vec<usize>,
}

/// The pins for `threads` (tid, comm) of a guest with `vcpus` vCPUs on host
/// `cpus`; `None` until every vCPU thread exists (QEMU is still starting).
pub fn plan(
    vmm: &dyn Vmm,
    threads: &[(i32, String)],
    vcpus: usize,
    cpus: &[usize],
) -> Option<Vec<Pin>> {
    if cpus.is_empty() {
        return None;
    }
    if let Some((tid, name)) = threads
        .iter()
        .find(|(_, c)| vmm.vcpu_thread(c) == Some(VcpuThread::All))
    {
        return Some(vec![Pin {
            tid: *tid,
            name: name.trim().to_string(),
            cpus: cpus.to_vec(),
        }]);
    }
    let mut pins: Vec<Pin> = threads
        .iter()
        .filter_map(|(tid, c)| match vmm.vcpu_thread(c) {
            Some(VcpuThread::One(n)) if n < vcpus => Some(Pin {
                tid: *tid,
                name: c.trim().to_string(),
                cpus: vec![cpus[n % cpus.len()]],
            }),
            _ => None,
        })
        .collect();
    pins.sort_by_key(|p| p.name.clone());
    pins.dedup_by_key(|p| p.name.clone());
    (pins.len() == vcpus).then_some(pins)
}

/// The threads (tid, comm) of process `pid` under `proc_root`.
pub fn threads(proc_root: &Path, pid: i32) -> Vec<(i32, String)> {
    let Ok(rd) = std::fs::read_dir(proc_root.join(pid.to_string()).join("task")) else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let tid = e.file_name().to_str()?.parse().ok()?;
            let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
            Some((tid, comm.trim().to_string()))
        })
        .collect()
}

/// Wait (until `deadline`) for hypervisor `pid`'s vCPU threads to exist
/// and pin each as [`plan`] says. Returns the pins made, for the record.
pub fn pin_vcpus(
    vmm: &dyn Vmm,
    pid: i32,
    vcpus: usize,
    cpus: &[usize],
    deadline: Instant,
) -> Result<Vec<Pin>> {
    let proc_root = Path::new("/proc");
    let name = vmm.name();
    let pins = loop {
        let t = threads(proc_root, pid);
        if t.is_empty() {
            bail!("{name} (pid {pid}) ended before its vCPU threads could be pinned");
        }
        if let Some(p) = plan(vmm, &t, vcpus, cpus) {
            break p;
        }
        if Instant::now() > deadline {
            let names: Vec<&str> = t.iter().map(|(_, c)| c.as_str()).collect();
            bail!(
                "{name} (pid {pid}) has no thread for each of its {vcpus} vCPUs to pin (threads: {}); {}",
                names.join(", "),
                vmm.thread_names_hint()
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    for p in &pins {
        let mut set = nix::sched::CpuSet::new();
        for &c in &p.cpus {
            set.set(c)
                .map_err(|e| anyhow!("CPU {c} cannot be in an affinity mask: {e}"))?;
        }
        nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(p.tid), &set)
            .map_err(|e| anyhow!("pinning {name} thread {} ({}): {e}", p.tid, p.name))?;
    }
    Ok(pins)
}

/// The pins as one line for a record: `CPU 0/TCG→0, CPU 1/TCG→0`.
pub fn describe(pins: &[Pin]) -> String {
    pins.iter()
        .map(|p| {
            format!(
                "{}→{}",
                p.name,
                p.cpus
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::vm::qemu::QEMU;

    fn vcpu_of(comm: &str) -> Option<VcpuThread> {
        QEMU.vcpu_thread(comm)
    }

    fn t(v: &[(i32, &str)]) -> Vec<(i32, String)> {
        v.iter().map(|(a, b)| (*a, b.to_string())).collect()
    }

    #[test]
    fn thread_names_are_read_as_qemu_writes_them() {
        assert_eq!(vcpu_of("CPU 0/TCG\n"), Some(VcpuThread::One(0)));
        assert_eq!(vcpu_of("CPU 12/KVM"), Some(VcpuThread::One(12)));
        assert_eq!(vcpu_of("qemu-system-x86"), None);
        assert_eq!(vcpu_of("CPU x/TCG"), None);
        assert_eq!(vcpu_of("CPU 1/"), None);
        assert_eq!(vcpu_of("worker"), None);
        assert_eq!(vcpu_of("ALL CPUs/TCG"), Some(VcpuThread::All));
    }

    #[test]
    fn vcpus_go_round_the_partition_once_all_exist() {
        let threads = t(&[
            (10, "qemu-system-x86"),
            (11, "CPU 1/TCG"),
            (12, "CPU 0/TCG"),
            (13, "worker"),
        ]);
        let p = plan(&QEMU, &threads, 2, &[1]).unwrap();
        assert_eq!(
            p.iter()
                .map(|p| (p.tid, p.cpus.clone()))
                .collect::<Vec<_>>(),
            vec![(12, vec![1]), (11, vec![1])]
        );
        let p = plan(&QEMU, &threads, 2, &[2, 3]).unwrap();
        assert_eq!(p[0].cpus, vec![2]);
        assert_eq!(p[1].cpus, vec![3]);
        assert_eq!(describe(&p), "CPU 0/TCG→2, CPU 1/TCG→3");
        // QEMU still starting: not every vCPU thread is there yet.
        assert_eq!(plan(&QEMU, &threads[..2], 2, &[0]), None);
        assert_eq!(plan(&QEMU, &threads, 2, &[]), None);
        // Single-threaded TCG: its one thread gets the whole partition.
        let st = t(&[(5, "qemu-system-x86"), (6, "ALL CPUs/TCG")]);
        let p = plan(&QEMU, &st, 2, &[0, 1]).unwrap();
        assert_eq!((p[0].tid, p[0].cpus.clone()), (6, vec![0, 1]));
    }

    #[test]
    fn own_threads_are_listed() {
        let me = std::process::id() as i32;
        let ts = threads(Path::new("/proc"), me);
        assert!(ts.iter().any(|(tid, _)| *tid == me), "{ts:?}");
    }
}
