//! How much memory a guest needs for a plan: what the workloads allocate plus
//! what the guest kernel and its initramfs keep for themselves, measured by a
//! test boot rather than guessed (issue "Numbers people can trust": advice
//! the tool prints must work when followed).
//!
//! Model: a guest given `M` MiB reports `MemAvailable ≈ M·(1 − 1/64) − a`.
//! The `1/64` is the kernel's `struct page` array (64 bytes per 4 KiB page),
//! which grows with `M`; `a` is the fixed rest (kernel image, initramfs held
//! in the rootfs, reserved memory), measured from one test boot at a known
//! `M`. The workload itself refuses to start when its allocation exceeds
//! MemAvailable, so the guest is sized for `need` plus a margin.

/// Guest memory of the test boot that measures the overhead, MiB.
pub const PROBE_MIB: u64 = 256;
/// A guest never gets less than this, MiB.
pub const MIN_GUEST_MIB: u64 = 256;

/// The guest's own memory, measured by a test boot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GuestOverhead {
    /// Fixed part `a`, MiB.
    pub fixed_mib: f64,
}

impl GuestOverhead {
    /// From a test boot with `memory_mib` that reported `available_kib`.
    pub fn from_probe(memory_mib: u64, available_kib: u64) -> GuestOverhead {
        let m = memory_mib as f64;
        GuestOverhead {
            fixed_mib: (m * 63.0 / 64.0 - available_kib as f64 / 1024.0).max(0.0),
        }
    }

    /// MemAvailable a guest of `memory_mib` will report, MiB (the model).
    pub fn available_mib(&self, memory_mib: u64) -> f64 {
        memory_mib as f64 * 63.0 / 64.0 - self.fixed_mib
    }

    /// Guest memory for workloads allocating `need_bytes`: the need plus 5%
    /// and 32 MiB of margin (page tables, the workload's own image and
    /// stacks, the model's error), rounded up to 16 MiB.
    pub fn memory_for(&self, need_bytes: u64) -> u64 {
        let want_avail = need_bytes as f64 / (1u64 << 20) as f64 * 1.05 + 32.0;
        let m = ((want_avail + self.fixed_mib) * 64.0 / 63.0).ceil() as u64;
        m.div_ceil(16).max(1) * 16
    }
}

/// MemAvailable (KiB) reported in a workload result's info.
pub const MEM_AVAILABLE_KEY: &str = "mem_available_kib";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_advice_leaves_the_need_available_under_the_model() {
        // A guest that kept 40 MiB of a 256 MiB probe for itself.
        let o = GuestOverhead::from_probe(256, ((256.0 * 63.0 / 64.0 - 40.0) * 1024.0) as u64);
        assert!((o.fixed_mib - 40.0).abs() < 0.01, "{o:?}");
        for need_mib in [0u64, 100, 768, 3120, 12_000] {
            let m = o.memory_for(need_mib << 20);
            assert_eq!(m % 16, 0);
            let avail = o.available_mib(m);
            assert!(
                avail >= need_mib as f64 * 1.05 + 32.0,
                "{need_mib} MiB need, {m} MiB guest, {avail} MiB available"
            );
            // ... and not wastefully more (within 16 MiB of rounding + 2%).
            assert!(avail <= need_mib as f64 * 1.07 + 32.0 + 17.0, "{avail}");
        }
    }

    #[test]
    fn a_probe_reporting_more_than_the_model_gives_no_negative_overhead() {
        let o = GuestOverhead::from_probe(256, 300 * 1024);
        assert_eq!(o.fixed_mib, 0.0);
    }
}
