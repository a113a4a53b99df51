//! Which workload to run and with which parameters: a [`WorkloadSpec`] is the
//! resolved invocation of `isobench-workload` the host passes for a
//! (workload, preset, threads) triple (built by the `presets` module).
//!
//! This is pure logic shared by the host (`isobench run`) and the binary.

pub use crate::workload::{Preset, Sizing, Workload};
use serde::{Deserialize, Serialize};

/// A fully resolved invocation of the workload binary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadSpec {
    pub workload: Workload,
    /// Arguments after the program name, starting with the workload name.
    pub args: Vec<String>,
}
