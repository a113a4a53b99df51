//! isobench workload kernels and the protocol their binary speaks.
//!
//! The kernels live in their own modules; the `isobench-workload` binary
//! (src/main.rs) parses its arguments, prints `ISOBENCH-READY`, runs one kernel
//! and prints one `ISOBENCH-RESULT {json}` line.

pub mod presets;
pub mod protocol;
pub mod spec;

pub use protocol::{WorkloadResult, READY_MARKER, RESULT_MARKER};
pub use spec::{Preset, Sizing, Workload, WorkloadSpec};
