//! The run directory format (docs/design.md, "Results"): `run.json` and
//! `results.jsonl`. These types are the contract between `isobench run`
//! (which writes them) and `report`, `compare` and `history` (which read them).
//!
//! Bump [`SCHEMA_VERSION`] on any incompatible change; readers refuse versions
//! they do not know.

pub use isobench_workloads::metrics::Direction;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of `run.json` and of every `results.jsonl` line.
pub const SCHEMA_VERSION: u32 = 1;

pub const RUN_FILE: &str = "run.json";
pub const RESULTS_FILE: &str = "results.jsonl";

/// `workload` of the density experiment's records.
pub const DENSITY_WORKLOAD: &str = "density";
/// `workload` of the noisy-neighbour experiment's records.
pub const NEIGHBOUR_WORKLOAD: &str = "neighbour";
/// Metric of a neighbour record holding the antagonist's achieved rate.
pub const ANTAGONIST_RATE: &str = "antagonist_rate";
/// `workload` of the permission check's records.
pub const PERMISSIONS_WORKLOAD: &str = "permissions";

/// One measured run: one line of `results.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultRecord {
    pub schema: u32,
    pub run_id: String,
    /// Environment class: `native`, `container` or `vm`.
    pub env: String,
    /// Column label that distinguishes peers of one class, e.g. `native`,
    /// `container-isorun`, `container-runc`, `vm-tcg`. Reports group by this.
    pub env_id: String,
    /// Runtime name and version, or accelerator (and why), machine type, kernel.
    pub env_detail: BTreeMap<String, String>,
    pub workload: String,
    /// Parameters the kernel ran with (from the workload's own result).
    pub params: BTreeMap<String, serde_json::Value>,
    /// Repetition number, 0-based. Warm-up runs are not recorded.
    pub rep: u32,
    pub valid: bool,
    pub metrics: BTreeMap<String, f64>,
    pub units: BTreeMap<String, String>,
    /// Metric name -> whether higher or lower is better, as the metric's
    /// definition says (isobench_workloads::metrics). Records written before
    /// directions were recorded have none: [`ResultRecord::direction`] falls
    /// back to the definitions, then to a guess from the name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub directions: BTreeMap<String, Direction>,
    /// Metric name -> the metric it repeats (cpu's `gflops_2t` is `gflops`
    /// in a two-thread run); readers show it once ([`ResultRecord::alias_of`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aliases: BTreeMap<String, String>,
    /// How it was measured: code path / ISA, validation detail, ...
    #[serde(default)]
    pub info: BTreeMap<String, String>,
    pub timings: Timings,
    /// Why the run failed or is invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ResultRecord {
    /// Whether higher or lower is better for `metric`: as recorded, else as
    /// its definition says, else guessed from its unit and name.
    pub fn direction(&self, metric: &str) -> Direction {
        self.directions.get(metric).copied().unwrap_or_else(|| {
            Direction::of(metric, self.units.get(metric).map_or("", String::as_str))
        })
    }

    /// The metric `metric` repeats, if it is an alias: as recorded, else (a
    /// record written before aliases were) when it is `<m>_<threads>t` with
    /// the value of `<m>`.
    pub fn alias_of(&self, metric: &str) -> Option<String> {
        if let Some(a) = self.aliases.get(metric) {
            return Some(a.clone());
        }
        if !self.aliases.is_empty() || !self.directions.is_empty() {
            // A record that says what its aliases are.
            return None;
        }
        let threads = self.params.get("threads").and_then(|v| v.as_u64());
        isobench_workloads::metrics::guess_alias(metric, threads, |m| self.metrics.get(m).copied())
    }

    /// Fill in the direction of every metric that has none, from the
    /// definitions (or the guess): what `isobench run` stores.
    pub fn fill_directions(&mut self) {
        let missing: Vec<String> = self
            .metrics
            .keys()
            .filter(|m| !self.directions.contains_key(*m))
            .cloned()
            .collect();
        for m in missing {
            let d = self.direction(&m);
            self.directions.insert(m, d);
        }
    }
}

/// Host-side timings of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Timings {
    /// Start, milliseconds since the Unix epoch.
    pub started_unix_ms: u64,
    /// From spawning the environment to its end (ms).
    pub wall_ms: f64,
    /// From spawning to the arrival of `ISOBENCH-READY` (ms), when seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_instruction_ms: Option<f64>,
}

/// `run.json`: everything needed to interpret the results of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub schema: u32,
    pub run_id: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    pub host: HostInfo,
    pub tool: ToolInfo,
    /// The validated plan the runner executed (see `isobench::plan::Plan`).
    pub config: serde_json::Value,
    /// One entry per prepared environment.
    pub environments: Vec<EnvInfo>,
    /// Typed measurement hazards noticed during the run, each with advice.
    #[serde(default)]
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvInfo {
    pub env: String,
    pub env_id: String,
    pub detail: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct HostInfo {
    pub hostname: String,
    pub cpu_model: String,
    pub cpu_mhz: f64,
    pub cores_logical: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cores_physical: Option<usize>,
    /// e.g. "L1d 32 KiB", "L2 512 KiB", "L3 32 MiB".
    pub caches: Vec<CacheInfo>,
    pub memory_bytes: u64,
    pub kernel: String,
    pub os: String,
    /// `v1`, `v2` or `hybrid`.
    pub cgroup: String,
    pub kvm: KvmInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheInfo {
    pub level: u32,
    /// `Data`, `Instruction` or `Unified`.
    pub kind: String,
    pub size_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct KvmInfo {
    /// `/dev/kvm` exists.
    pub device: bool,
    /// The module providing it (`kvm_intel`, `kvm_amd`, `kvm_pvm`), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ToolInfo {
    pub isobench_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    /// Path and sha256 of the workload binary that ran.
    pub workload_binary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_sha256: Option<String>,
}
