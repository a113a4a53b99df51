//! The names isobench gives what it leaves on a host while it runs, and how
//! to read an owner back from them: container ids `isobench-<pid>-<n>` (also
//! the last component of their cgroup under [`CGROUP_PARENT`]), the scratch
//! directory `<run dir>/.scratch`, and the VM initramfs in it, which every
//! QEMU of a run names on its command line.

/// Parent cgroup (in every hierarchy) of every container cgroup isobench
/// asks a runtime for.
pub const CGROUP_PARENT: &str = "isobench";
/// First part of every container id.
pub const CONTAINER_PREFIX: &str = "isobench-";
/// The scratch directory inside a run directory.
pub const SCRATCH_DIR: &str = ".scratch";
/// The initramfs the VM environment writes into the scratch directory.
pub const INITRD_NAME: &str = "vm-initramfs.cpio";
/// Path fragment of the container environment's mounts (bundle rootfs,
/// tmpfs of upper layers): `<scratch>/container-<runtime>/...`.
pub const CONTAINER_SCRATCH_FRAGMENT: &str = "/.scratch/container-";

/// The prefix of the ids of containers started by process `pid`.
pub fn container_prefix(pid: u32) -> String {
    format!("{CONTAINER_PREFIX}{pid}-")
}

/// A fresh id `isobench-<pid>-<n>` for a container, or for the cgroup of
/// a native instance: unique on the host (the last component of its cgroup
/// path under [`CGROUP_PARENT`]), and read back by a sweep after a crash.
pub fn next_instance_id() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}{n}", container_prefix(std::process::id()))
}

/// The pid of the isobench that named a container (or its cgroup) `id`:
/// `isobench-<pid>-<n>` → `pid`.
pub fn owner_of_container_id(id: &str) -> Option<i32> {
    let rest = id.strip_prefix(CONTAINER_PREFIX)?;
    let (pid, n) = rest.split_once('-')?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse::<i32>().ok().filter(|p| *p > 0)
}

/// The scratch directory named by the run's initramfs on a command line
/// (a hypervisor booting a run's guest names it), if one does.
pub fn initrd_scratch(cmdline: &[String]) -> Option<&str> {
    let suffix = format!("/{SCRATCH_DIR}/{INITRD_NAME}");
    cmdline.iter().find_map(|a| {
        a.strip_suffix(&suffix)
            .map(|run| &a[..run.len() + 1 + SCRATCH_DIR.len()])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_ids_name_their_owner() {
        assert_eq!(container_prefix(42), "isobench-42-");
        assert_eq!(owner_of_container_id("isobench-42-7"), Some(42));
        assert_eq!(owner_of_container_id("isobench-42-"), None);
        assert_eq!(owner_of_container_id("isobench-x-1"), None);
        assert_eq!(owner_of_container_id("isobench"), None);
        assert_eq!(owner_of_container_id("other-42-7"), None);
        assert_eq!(owner_of_container_id("isobench-0-1"), None);
    }
}
