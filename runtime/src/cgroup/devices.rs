//! The default device policy, as runc applies it: every container's device
//! cgroup starts from "deny everything", then the config's own
//! `linux.resources.devices` rules (with config.rs's allow rules for the
//! nodes the container is given), then runc's standard allow list
//! (libcontainer/specconv `AllowedDevices`): mknod of any node, and read,
//! write and mknod of null, zero, full, random, urandom, tty, ptmx,
//! /dev/pts/* and tun. So a process that creates a device node outside the
//! list (1:11 /dev/kmsg, 1:1 /dev/mem, a disk) can make it but never open
//! it.
//!
//! cgroup v1 enforces the list through the devices controller
//! (devices.deny / devices.allow, Documentation/admin-guide/cgroup-v1/
//! devices.rst). cgroup v2 has no devices controller: the same list is
//! enforced by an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE attached
//! to the container's cgroup (see `bpf`).

use crate::config::DeviceRule;

/// The rule that opens every list: deny all access to every device.
pub fn deny_all() -> DeviceRule {
    DeviceRule {
        allow: false,
        kind: 'a',
        major: None,
        minor: None,
        access: "rwm".into(),
    }
}

/// runc's `AllowedDevices`, in its order.
pub fn allowed() -> Vec<DeviceRule> {
    let rule = |kind, major: Option<i64>, minor: Option<i64>, access: &str| DeviceRule {
        allow: true,
        kind,
        major,
        minor,
        access: access.into(),
    };
    vec![
        // mknod of any node (opening it is another matter).
        rule('c', None, None, "m"),
        rule('b', None, None, "m"),
        rule('c', Some(1), Some(3), "rwm"),    // /dev/null
        rule('c', Some(1), Some(8), "rwm"),    // /dev/random
        rule('c', Some(1), Some(7), "rwm"),    // /dev/full
        rule('c', Some(5), Some(0), "rwm"),    // /dev/tty
        rule('c', Some(1), Some(5), "rwm"),    // /dev/zero
        rule('c', Some(1), Some(9), "rwm"),    // /dev/urandom
        rule('c', Some(136), None, "rwm"),     // /dev/pts/*
        rule('c', Some(5), Some(2), "rwm"),    // /dev/ptmx
        rule('c', Some(10), Some(200), "rwm"), // /dev/net/tun
    ]
}

/// The rules a container's device cgroup gets, in order: deny all, the
/// config's rules, the standard allow list (appended last, as runc does,
/// so a config cannot take /dev/null away from a container).
pub fn effective(config: &[DeviceRule]) -> Vec<DeviceRule> {
    let mut v = vec![deny_all()];
    v.extend(config.iter().cloned());
    v.extend(allowed());
    v
}

/// Whether `rules` (applied in order, the last matching rule deciding, a
/// rule matching only when it covers every access asked for) let a
/// process have `access` ("r", "w", "m" or a mix) to device
/// `kind major:minor`. This is the decision the eBPF program makes on
/// cgroup v2 and the one the tests check the lists against; nothing
/// matching means denied.
pub fn permits(rules: &[DeviceRule], kind: char, major: i64, minor: i64, access: &str) -> bool {
    rules
        .iter()
        .rev()
        .find(|r| {
            (r.kind == 'a' || r.kind == kind)
                && r.major.is_none_or(|m| m == major)
                && r.minor.is_none_or(|m| m == minor)
                && access.chars().all(|c| r.access.contains(c))
        })
        .is_some_and(|r| r.allow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_list_denies_kmsg_and_mem_but_allows_the_standard_nodes() {
        let rules = effective(&[]);
        assert_eq!(rules[0].line(), "a *:* rwm");
        assert!(!rules[0].allow);
        for (major, minor) in [(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 2)] {
            assert!(permits(&rules, 'c', major, minor, "rw"), "{major}:{minor}");
        }
        assert!(permits(&rules, 'c', 136, 7, "rw"));
        assert!(permits(&rules, 'c', 10, 200, "rwm"));
        assert!(!permits(&rules, 'c', 1, 11, "w"), "kmsg");
        assert!(!permits(&rules, 'c', 1, 1, "r"), "mem");
        assert!(!permits(&rules, 'b', 8, 0, "r"), "a disk");
        // Any node may be made, not opened.
        assert!(permits(&rules, 'c', 1, 11, "m"));
        assert!(permits(&rules, 'b', 8, 0, "m"));
        assert!(!permits(&rules, 'c', 1, 11, "rm"));
    }

    #[test]
    fn config_rules_sit_between_deny_all_and_the_allow_list() {
        let fuse = DeviceRule {
            allow: true,
            kind: 'c',
            major: Some(10),
            minor: Some(229),
            access: "rw".into(),
        };
        let deny_null = DeviceRule {
            allow: false,
            kind: 'c',
            major: Some(1),
            minor: Some(3),
            access: "rwm".into(),
        };
        let rules = effective(&[fuse.clone(), deny_null.clone()]);
        assert_eq!(rules[1], fuse);
        assert_eq!(rules[2], deny_null);
        assert!(permits(&rules, 'c', 10, 229, "rw"));
        assert!(!permits(&rules, 'c', 10, 229, "rwm"), "m was not granted");
        // runc appends its list after the config's rules: /dev/null stays.
        assert!(permits(&rules, 'c', 1, 3, "rw"));
        // An allow-all rule from the config opens everything.
        let all = DeviceRule {
            allow: true,
            ..deny_all()
        };
        assert!(permits(&effective(&[all]), 'b', 8, 0, "rw"));
    }
}

/// cgroup v2: the eBPF device program (runtime/bpf/devices.bpf.c, built by
/// build.rs with clang) loaded through the aya crate, its rule map filled
/// from [`effective`], attached to the container's cgroup directory.
pub mod bpf {
    use crate::config::DeviceRule;
    use crate::error::{Error, Result};
    use std::path::Path;

    /// Slots of the program's RULES map (MAX_RULES in devices.bpf.c).
    pub const MAX_RULES: usize = 128;

    /// One slot of the RULES map, laid out as `struct rule` in the C source.
    #[repr(C)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Rule {
        pub used: u32,
        pub allow: u32,
        pub kind: u32,
        pub access: u32,
        pub major: i64,
        pub minor: i64,
    }

    // Safety: plain old data of fixed layout with no padding (4 u32 then 2 i64).
    #[cfg(not(isorun_no_bpf))]
    unsafe impl aya::Pod for Rule {}

    /// The map slot of one rule (types and access bits of linux/bpf.h:
    /// BPF_DEVCG_DEV_BLOCK 1, _CHAR 2; BPF_DEVCG_ACC_MKNOD 1, _READ 2, _WRITE 4).
    pub fn encode(r: &DeviceRule) -> Rule {
        let kind = match r.kind {
            'b' => 1,
            'c' => 2,
            _ => 0,
        };
        let access = r.access.chars().fold(0, |a, c| {
            a | match c {
                'm' => 1,
                'r' => 2,
                'w' => 4,
                _ => 0,
            }
        });
        Rule {
            used: 1,
            allow: r.allow as u32,
            kind,
            access,
            major: r.major.unwrap_or(-1),
            minor: r.minor.unwrap_or(-1),
        }
    }

    fn err(dir: &Path, msg: String) -> Error {
        Error::Cgroup {
            path: dir.to_path_buf(),
            msg,
        }
    }

    /// Load the program with `rules` and attach it to cgroup v2 directory
    /// `dir`. The attachment is made with BPF_PROG_ATTACH, not a bpf_link:
    /// a link would detach when isorun exits, a program attached the old
    /// way stays with the cgroup until the cgroup is removed (as runc
    /// and crun attach theirs).
    #[cfg(not(isorun_no_bpf))]
    pub fn attach(dir: &Path, rules: &[DeviceRule]) -> Result<()> {
        use aya::maps::Array;
        use aya::programs::CgroupDevice;
        use std::os::fd::{AsFd, AsRawFd};

        // ELF parsing wants the object aligned as the file would be.
        static OBJECT: &[u8] =
            aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/devices.bpf.o"));
        if rules.len() > MAX_RULES {
            return Err(err(
                dir,
                format!(
                    "{} device rules, the eBPF device program holds at most {MAX_RULES}",
                    rules.len()
                ),
            ));
        }
        let mut ebpf = aya::Ebpf::load(OBJECT)
            .map_err(|e| err(dir, format!("loading the eBPF device program: {e}")))?;
        {
            let map = ebpf
                .map_mut("RULES")
                .ok_or_else(|| err(dir, "the eBPF device program has no RULES map".into()))?;
            let mut slots: Array<_, Rule> = Array::try_from(map)
                .map_err(|e| err(dir, format!("the eBPF device rule map: {e}")))?;
            for (i, r) in rules.iter().enumerate() {
                slots
                    .set(i as u32, encode(r), 0)
                    .map_err(|e| err(dir, format!("writing device rule {i}: {e}")))?;
            }
        }
        let prog: &mut CgroupDevice = ebpf
            .program_mut("isorun_devices")
            .ok_or_else(|| err(dir, "the eBPF object has no isorun_devices program".into()))?
            .try_into()
            .map_err(|e| err(dir, format!("the eBPF device program: {e}")))?;
        prog.load().map_err(|e| {
            err(
                dir,
                format!("the kernel refused the eBPF device program: {e}"),
            )
        })?;
        let prog_fd = prog
            .fd()
            .map_err(|e| err(dir, format!("the eBPF device program: {e}")))?;
        let cgroup = std::fs::File::open(dir)
            .map_err(|e| err(dir, format!("opening the cgroup directory: {e}")))?;
        prog_attach(cgroup.as_raw_fd(), prog_fd.as_fd().as_raw_fd())
            .map_err(|e| err(dir, format!("attaching the eBPF device program: {e}")))
    }

    /// Built without clang: no program, and a container on cgroup v2 is
    /// refused rather than run without a device policy (fail closed).
    #[cfg(isorun_no_bpf)]
    pub fn attach(dir: &Path, _rules: &[DeviceRule]) -> Result<()> {
        Err(err(
            dir,
            "isorun was built without clang, so without its eBPF device program; cgroup v2 \
             containers are refused (install clang and rebuild)"
                .into(),
        ))
    }

    /// bpf(BPF_PROG_ATTACH) of a BPF_CGROUP_DEVICE program with
    /// BPF_F_ALLOW_MULTI (so programs of parent cgroups keep running too).
    /// Written by hand because aya attaches cgroup programs through a
    /// bpf_link on kernels >= 5.7 (see `attach`); the attr layout is the
    /// attach part of `union bpf_attr` in linux/bpf.h.
    #[cfg(not(isorun_no_bpf))]
    fn prog_attach(cgroup_fd: i32, prog_fd: i32) -> std::io::Result<()> {
        #[repr(C)]
        struct AttachAttr {
            target_fd: u32,
            attach_bpf_fd: u32,
            attach_type: u32,
            attach_flags: u32,
            replace_bpf_fd: u32,
        }
        const BPF_PROG_ATTACH: libc::c_long = 8;
        const BPF_CGROUP_DEVICE: u32 = 6;
        const BPF_F_ALLOW_MULTI: u32 = 2;
        let attr = AttachAttr {
            target_fd: cgroup_fd as u32,
            attach_bpf_fd: prog_fd as u32,
            attach_type: BPF_CGROUP_DEVICE,
            attach_flags: BPF_F_ALLOW_MULTI,
            replace_bpf_fd: 0,
        };
        // Safety: attr is a valid, fully initialised prefix of union
        // bpf_attr, and its size is passed with it.
        let r = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                BPF_PROG_ATTACH,
                &attr as *const AttachAttr,
                std::mem::size_of::<AttachAttr>(),
            )
        };
        if r < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn rules_encode_as_the_program_reads_them() {
            let rules = super::super::effective(&[]);
            assert_eq!(
                encode(&rules[0]),
                Rule {
                    used: 1,
                    allow: 0,
                    kind: 0,
                    access: 7,
                    major: -1,
                    minor: -1
                }
            );
            // c *:* m
            assert_eq!(
                encode(&rules[1]),
                Rule {
                    used: 1,
                    allow: 1,
                    kind: 2,
                    access: 1,
                    major: -1,
                    minor: -1
                }
            );
            assert_eq!(std::mem::size_of::<Rule>(), 32);
        }
    }
}
