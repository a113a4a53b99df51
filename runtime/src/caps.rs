//! Linux capabilities (capabilities(7)): the names of the OCI runtime spec
//! (`process.capabilities`, "Linux process" section) mapped to kernel numbers,
//! and the calls that drop the bounding set (`PR_CAPBSET_DROP`), set the
//! effective/permitted/inheritable sets (`capset(2)`) and raise ambient ones
//! (`PR_CAP_AMBIENT`).

use crate::error::{Error, Result};
use oci_spec::runtime::{Capabilities, Capability};

/// Kernel capability numbers (include/uapi/linux/capability.h).
const TABLE: &[(&str, u32)] = &[
    ("CAP_CHOWN", 0),
    ("CAP_DAC_OVERRIDE", 1),
    ("CAP_DAC_READ_SEARCH", 2),
    ("CAP_FOWNER", 3),
    ("CAP_FSETID", 4),
    ("CAP_KILL", 5),
    ("CAP_SETGID", 6),
    ("CAP_SETUID", 7),
    ("CAP_SETPCAP", 8),
    ("CAP_LINUX_IMMUTABLE", 9),
    ("CAP_NET_BIND_SERVICE", 10),
    ("CAP_NET_BROADCAST", 11),
    ("CAP_NET_ADMIN", 12),
    ("CAP_NET_RAW", 13),
    ("CAP_IPC_LOCK", 14),
    ("CAP_IPC_OWNER", 15),
    ("CAP_SYS_MODULE", 16),
    ("CAP_SYS_RAWIO", 17),
    ("CAP_SYS_CHROOT", 18),
    ("CAP_SYS_PTRACE", 19),
    ("CAP_SYS_PACCT", 20),
    ("CAP_SYS_ADMIN", 21),
    ("CAP_SYS_BOOT", 22),
    ("CAP_SYS_NICE", 23),
    ("CAP_SYS_RESOURCE", 24),
    ("CAP_SYS_TIME", 25),
    ("CAP_SYS_TTY_CONFIG", 26),
    ("CAP_MKNOD", 27),
    ("CAP_LEASE", 28),
    ("CAP_AUDIT_WRITE", 29),
    ("CAP_AUDIT_CONTROL", 30),
    ("CAP_SETFCAP", 31),
    ("CAP_MAC_OVERRIDE", 32),
    ("CAP_MAC_ADMIN", 33),
    ("CAP_SYSLOG", 34),
    ("CAP_WAKE_ALARM", 35),
    ("CAP_BLOCK_SUSPEND", 36),
    ("CAP_AUDIT_READ", 37),
    ("CAP_PERFMON", 38),
    ("CAP_BPF", 39),
    ("CAP_CHECKPOINT_RESTORE", 40),
];

/// The kernel number of a capability named as in the OCI spec.
pub fn number(cap: &Capability) -> Option<u32> {
    let name = serde_json::to_value(cap).ok()?;
    let name = name.as_str()?;
    TABLE.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// The kernel name of capability number `n`.
pub fn name(n: u32) -> Option<&'static str> {
    TABLE.iter().find(|(_, v)| *v == n).map(|(name, _)| *name)
}

/// A set of capabilities as a 64-bit mask (bit n = capability n).
pub fn mask(set: Option<&Capabilities>, field: &str) -> Result<u64> {
    let mut m = 0u64;
    for cap in set.into_iter().flatten() {
        let n = number(cap).ok_or_else(|| Error::Unsupported {
            field: field.to_string(),
            why: format!("capability {cap:?} is unknown to isorun"),
        })?;
        m |= 1 << n;
    }
    Ok(m)
}

/// The five capability sets of the container process, as masks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CapSets {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

/// Drop every capability outside `bounding` from the bounding set. Caps the
/// kernel does not know (EINVAL) end the loop.
pub fn drop_bounding(bounding: u64) -> Result<()> {
    for cap in 0..64u32 {
        if bounding & (1 << cap) != 0 {
            continue;
        }
        // Why: the bounding set limits what the container (and anything it
        // execs) can ever gain; PR_CAPBSET_DROP needs CAP_SETPCAP, held here.
        // SAFETY: prctl with integer arguments only.
        let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        if r != 0 {
            let e = nix::errno::Errno::last();
            if e == nix::errno::Errno::EINVAL {
                break;
            }
            return Err(Error::Sys {
                op: format!("prctl(PR_CAPBSET_DROP, {})", name(cap).unwrap_or("?")),
                err: e,
            });
        }
    }
    Ok(())
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Set effective, permitted and inheritable sets with capset(2), then raise
/// the ambient ones.
pub fn apply(sets: &CapSets) -> Result<()> {
    let hdr = CapHeader {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let lo = |m: u64| (m & 0xffff_ffff) as u32;
    let hi = |m: u64| (m >> 32) as u32;
    let data = [
        CapData {
            effective: lo(sets.effective),
            permitted: lo(sets.permitted),
            inheritable: lo(sets.inheritable),
        },
        CapData {
            effective: hi(sets.effective),
            permitted: hi(sets.permitted),
            inheritable: hi(sets.inheritable),
        },
    ];
    // Why: the container process must hold exactly the capabilities the
    // config grants, not root's full set.
    // SAFETY: capset reads one header and two data structs of the V3 layout,
    // both alive for the duration of the call.
    let r = unsafe { libc::syscall(libc::SYS_capset, &hdr as *const CapHeader, data.as_ptr()) };
    if r != 0 {
        return Err(Error::Sys {
            op: format!(
                "capset(effective={:#x}, permitted={:#x})",
                sets.effective, sets.permitted
            ),
            err: nix::errno::Errno::last(),
        });
    }
    for cap in 0..64u32 {
        if sets.ambient & (1 << cap) == 0 {
            continue;
        }
        // SAFETY: prctl with integer arguments only.
        let r = unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                cap as libc::c_ulong,
                0,
                0,
            )
        };
        if r != 0 {
            return Err(Error::Sys {
                op: format!(
                    "raising ambient capability {} (it must also be permitted and inheritable)",
                    name(cap).unwrap_or("?")
                ),
                err: nix::errno::Errno::last(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_kernel_numbers() {
        assert_eq!(number(&Capability::Chown), Some(0));
        assert_eq!(number(&Capability::SysAdmin), Some(21));
        assert_eq!(number(&Capability::CheckpointRestore), Some(40));
        assert_eq!(name(13), Some("CAP_NET_RAW"));
    }

    #[test]
    fn mask_sets_one_bit_per_capability() {
        let set: Capabilities = [Capability::Kill, Capability::NetBindService]
            .into_iter()
            .collect();
        assert_eq!(mask(Some(&set), "x").unwrap(), (1 << 5) | (1 << 10));
        assert_eq!(mask(None, "x").unwrap(), 0);
    }
}
