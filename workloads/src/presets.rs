//! Preset sizes for every workload (see [`crate::workload::Preset`]).
//!
//! The quick preset must keep `isobench run --preset quick` under two minutes
//! natively on 2 cores; the emulated (TCG) variant keeps the VM column to a few
//! minutes.

use crate::spec::WorkloadSpec;
use crate::workload::{Preset, Sizing, Workload};

impl WorkloadSpec {
    /// The arguments `isobench-workload` takes for this workload at this size.
    pub fn for_sizing(workload: Workload, sizing: &Sizing) -> WorkloadSpec {
        WorkloadSpec {
            workload,
            args: preset_args(workload, sizing),
        }
    }
}

/// Arguments for `isobench-workload` (workload name first).
pub fn preset_args(workload: Workload, sizing: &Sizing) -> Vec<String> {
    let t = sizing.threads.max(1).to_string();
    let mut a: Vec<String> = vec![workload.name().to_string()];
    let mut push = |k: &str, v: String| {
        a.push(format!("--{k}"));
        a.push(v);
    };
    // The gating preset measures quick's work, many times.
    let preset = match sizing.preset {
        Preset::Gate => Preset::Quick,
        p => p,
    };
    match workload {
        Workload::Idle => {}
        // Its arguments come from the user's command (`command::CommandConfig::to_args`).
        Workload::Command => {}
        Workload::Startup => {
            // Idle this long at READY: the host measures the instance's
            // memory (PSS/USS) then, and subtracts the hold from lifecycle_ms.
            push("hold-ms", "250".to_string());
        }
        Workload::Cpu => {
            let (primes, n) = match (preset, sizing.emulated) {
                (Preset::Quick, false) => (200_000, 256),
                (Preset::Quick, true) => (50_000, 128),
                (Preset::Standard, _) => (1_000_000, 512),
                (Preset::Full, _) => (5_000_000, 1024),
                (Preset::Gate, _) => unreachable!("gate uses quick sizes"),
            };
            push("threads", t);
            push("primes-max", primes.to_string());
            push("matrix-n", n.to_string());
        }
        Workload::Membw => {
            // The array size comes from the host (`isobench run` passes
            // --size: 4x the host's LLC, the same in every environment).
            // Under TCG a pass of the 4x-LLC arrays takes about a second.
            let passes = match (preset, sizing.emulated) {
                (Preset::Quick, true) => 3,
                (Preset::Quick, false) => 5,
                (Preset::Standard, _) => 10,
                (Preset::Full, _) => 20,
                (Preset::Gate, _) => unreachable!("gate uses quick sizes"),
            };
            push("threads", t);
            push("passes", passes.to_string());
        }
        Workload::Randacc => {
            let log2 = match (preset, sizing.emulated) {
                (Preset::Quick, false) => 24,
                // 2^22 took ~18 s per guest run under TCG; 2^20 takes ~6 s.
                (Preset::Quick, true) => 20,
                (Preset::Standard, _) => 26,
                (Preset::Full, _) => 28,
                (Preset::Gate, _) => unreachable!("gate uses quick sizes"),
            };
            push("threads", t);
            push("log2-table", log2.to_string());
        }
        Workload::Latency => {
            let max = match (preset, sizing.emulated) {
                (Preset::Quick, false) => "256MiB",
                (Preset::Quick, true) => "64MiB",
                (Preset::Standard, _) => "512MiB",
                (Preset::Full, _) => "1GiB",
                (Preset::Gate, _) => unreachable!("gate uses quick sizes"),
            };
            push("max-size", max.to_string());
            if preset == Preset::Quick {
                // Half the default 2^20 timed loads per size keeps quick short.
                push("loads", (1u64 << 19).to_string());
            }
        }
        Workload::Copyup | Workload::Ovlmount | Workload::Fsmeta | Workload::Layers => {
            filesystem_args(workload, preset, sizing.emulated, &mut push)
        }
        Workload::Fileio => {
            // The file size is the preset's, capped by the plan against the
            // host's memory (`isobench run` passes --file-size); the places
            // come from each environment. Quick keeps the main job short:
            // fsync per random write costs a device round trip each.
            let (size, ops) = match (preset, sizing.emulated) {
                (Preset::Quick, false) => ("32MiB", 300),
                (Preset::Quick, true) => ("16MiB", 200),
                (Preset::Standard, _) => ("256MiB", 2000),
                (Preset::Full, _) => ("1GiB", 10_000),
                (Preset::Gate, _) => unreachable!("gate uses quick sizes"),
            };
            push("file-size", size.to_string());
            push("block", "1MiB".to_string());
            push("rand-ops", ops.to_string());
        }
    }
    a
}

/// The sizes of the copy-on-write and layer workloads (claim C7).
fn filesystem_args(
    workload: Workload,
    preset: Preset,
    emulated: bool,
    push: &mut impl FnMut(&str, String),
) {
    match workload {
        Workload::Copyup => {
            let sizes = match preset {
                Preset::Quick => "4KiB,64KiB,1MiB,16MiB",
                _ => "4KiB,16KiB,64KiB,256KiB,1MiB,4MiB,16MiB,64MiB,256MiB",
            };
            push("sizes", sizes.to_string());
        }
        Workload::Ovlmount => {
            let (layers, tries) = match preset {
                Preset::Quick => ("1,2,4,8,16,32,64", 5),
                Preset::Standard => ("1,2,4,8,16,32,64,128,256,500", 10),
                _ => ("1,2,4,8,16,32,64,128,256,500", 20),
            };
            push("layers", layers.to_string());
            push("tries", tries.to_string());
        }
        Workload::Fsmeta => {
            let files = match (preset, emulated) {
                (Preset::Quick, true) => 1000,
                (Preset::Quick, false) => 2000,
                (Preset::Standard, _) => 10_000,
                _ => 50_000,
            };
            push("files", files.to_string());
        }
        Workload::Layers => {
            let size = match preset {
                Preset::Quick => "4MiB",
                _ => "64MiB",
            };
            push("layers", "4".to_string());
            push("layer-size", size.to_string());
        }
        // The others are sized in `preset_args`.
        _ => {}
    }
}
