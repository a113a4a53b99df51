//! isobench workload kernels and the protocol their binary speaks.
//!
//! The kernels live in their own modules (`cpu`, `membw`, `randacc`,
//! `latency`); each measures itself and checks its own answer. The
//! `isobench-workload` binary (src/main.rs) parses its arguments ([`args`]),
//! prints `ISOBENCH-READY`, runs one kernel ([`run`]) and prints one
//! `ISOBENCH-RESULT {json}` line. As PID 1 of a VM guest it first mounts what it
//! needs and takes its arguments from the kernel command line ([`pid1`]).
//!
//! The host builds a [`WorkloadSpec`] (the typed [`args::Command`], sized by
//! [`presets`]) and turns it into arguments only to spawn the binary. At the
//! bottom of the module graph sit the vocabulary ([`workload`]), what a
//! metric is ([`metricdef`]) and the errors ([`error`]); the kernels use
//! those, [`metrics`] gathers their definitions, [`args`] parses and [`run`]
//! drives them. The graph has no cycle (`scripts/modmap.py workloads/src`).

pub mod alloc;
pub mod antagonist;
pub mod args;
pub mod command;
pub mod cow;
pub mod cpu;
pub mod error;
pub mod fileio;
pub mod latency;
pub mod membw;
pub mod metricdef;
pub mod metrics;
pub mod pid1;
pub mod presets;
pub mod protocol;
pub mod randacc;
pub mod run;
pub mod spec;
pub mod sysfs;
pub mod workload;

pub use error::{ArgError, Error};
pub use protocol::{WorkloadResult, READY_MARKER, RESULT_MARKER};
pub use spec::{Preset, Sizing, Workload, WorkloadSpec};
