//! The names of the workloads, the size presets and what sizing depends on:
//! the vocabulary every other module of the crate (and the host) speaks.
//!
//! Pure data, at the bottom of the crate's module graph.

use crate::error::ArgError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Every workload the binary carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    Cpu,
    Membw,
    Randacc,
    Latency,
    Startup,
    /// First write to a file in a lower (read-only) layer: overlayfs copies
    /// it up (claim C7).
    Copyup,
    /// mount(2) of an overlay against the number of lower layers (C7).
    Ovlmount,
    /// Create, stat and unlink of many small files (C7).
    Fsmeta,
    /// Layer reuse of isorun's layer store, measured by the host (C7).
    Layers,
    /// Prints `ISOBENCH-READY` and sleeps until killed: a live instance for
    /// the density experiment (claim C4). Not in [`Workload::ALL`] (it
    /// measures nothing itself, so it is never a benchmark column).
    Idle,
    /// Sequential and random file I/O on each place the environment offers
    /// (claim C8).
    Fileio,
    /// The user's own program (`isobench run -- PROG ARGS...`), timed as
    /// hyperfine does (see `command`). Not in [`Workload::ALL`]: it needs a
    /// command; results carry the command's label as their workload name.
    Command,
}

impl Workload {
    pub const ALL: [Workload; 10] = [
        Workload::Cpu,
        Workload::Membw,
        Workload::Randacc,
        Workload::Latency,
        Workload::Startup,
        Workload::Copyup,
        Workload::Ovlmount,
        Workload::Fsmeta,
        Workload::Layers,
        Workload::Fileio,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Workload::Cpu => "cpu",
            Workload::Membw => "membw",
            Workload::Randacc => "randacc",
            Workload::Latency => "latency",
            Workload::Startup => "startup",
            Workload::Copyup => "copyup",
            Workload::Ovlmount => "ovlmount",
            Workload::Fsmeta => "fsmeta",
            Workload::Layers => "layers",
            Workload::Idle => "idle",
            Workload::Fileio => "fileio",
            Workload::Command => "command",
        }
    }

    /// One line describing the workload and the public definition it follows.
    pub fn describe(self) -> &'static str {
        match self {
            Workload::Cpu => "prime counting (sysbench cpu) and blocked DGEMM (GFLOP/s)",
            Workload::Membw => "STREAM Copy/Scale/Add/Triad, best of N passes (MB/s)",
            Workload::Randacc => "HPCC RandomAccess, 64-bit LFSR updates (GUPS)",
            Workload::Latency => "pointer chase over a random cyclic permutation (lat_mem_rd)",
            Workload::Startup => {
                "time to first instruction and whole lifecycle, measured by the host"
            }
            Workload::Copyup => {
                "first write to a file in a lower layer (overlayfs copy-up) against file size"
            }
            Workload::Ovlmount => "overlayfs mount time against the number of lower layers",
            Workload::Fsmeta => "create, stat and unlink of many small files",
            Workload::Layers => {
                "image layers reused and bytes added by a one-file change (host, isorun's store)"
            }
            Workload::Idle => "prints ISOBENCH-READY and sleeps until killed (density)",
            Workload::Fileio => {
                "sequential 1 MiB and random 4 KiB read/write with fsync, O_DIRECT where taken (fio's jobs)"
            }
            Workload::Command => {
                "the user's own program: wall time, user and system CPU, peak RSS, metrics from its output"
            }
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Workload {
    type Err = ArgError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Workload::ALL
            .into_iter()
            .chain([Workload::Idle, Workload::Command])
            .find(|w| w.name() == s)
            .ok_or_else(|| ArgError::UnknownWorkload {
                name: s.to_string(),
                known: Workload::ALL.map(|w| w.name()).join(", "),
            })
    }
}

/// Size presets: `quick` for CI and development, `standard` for reports,
/// `full` for publication, `gate` for regression gating in CI (`isobench
/// compare`): quick's sizes, one thread and enough repetitions for the gate
/// to detect a small change (see docs/gating.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    #[default]
    Quick,
    Standard,
    Full,
    Gate,
}

impl Preset {
    pub fn name(self) -> &'static str {
        match self {
            Preset::Quick => "quick",
            Preset::Standard => "standard",
            Preset::Full => "full",
            Preset::Gate => "gate",
        }
    }
}

impl FromStr for Preset {
    type Err = ArgError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "quick" => Ok(Preset::Quick),
            "standard" => Ok(Preset::Standard),
            "full" => Ok(Preset::Full),
            "gate" => Ok(Preset::Gate),
            _ => Err(ArgError::UnknownPreset(s.to_string())),
        }
    }
}

/// Where the workload will run, as far as sizing is concerned: under TCG every
/// instruction is emulated, so sizes may have to shrink to keep a run short.
/// Results record the parameters actually used, so a smaller size is visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sizing {
    pub preset: Preset,
    pub threads: usize,
    /// True when the CPU is emulated (QEMU TCG).
    pub emulated: bool,
}
