//! Which workload to run and with which parameters: a [`WorkloadSpec`] is the
//! resolved invocation of `isobench-workload` the host passes for a
//! (workload, preset, threads) triple (built by the `presets` module).
//!
//! The host keeps the typed [`Command`]; it becomes arguments
//! ([`WorkloadSpec::to_args`]) only where a process is spawned or a guest's
//! kernel command line is written. Serialised, a spec keeps its old form
//! (`{"workload": .., "args": [..]}`).
//!
//! This is pure logic shared by the host (`isobench run`) and the binary.

use crate::alloc::PagePolicy;
use crate::args::{self, ArgError, Command};
use crate::membw::Stores;
pub use crate::workload::{Preset, Sizing, Workload};
use serde::{Deserialize, Serialize};

/// A fully resolved invocation of the workload binary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "WireSpec", try_from = "WireSpec")]
pub struct WorkloadSpec {
    /// The workload, as the environments treat it (an antagonist is
    /// [`Workload::Idle`] to them: no startup footprint is measured).
    pub workload: Workload,
    /// What the binary is asked to do.
    pub command: Command,
}

impl WorkloadSpec {
    /// The spec of `command`, its workload taken from it (an antagonist's
    /// is [`Workload::Idle`]).
    pub fn new(command: Command) -> WorkloadSpec {
        WorkloadSpec {
            workload: command.workload().unwrap_or(Workload::Idle),
            command,
        }
    }

    /// The spec of `workload` from the binary's arguments (workload name
    /// first); a missing `--threads` means one thread.
    pub fn parse(workload: Workload, args: &[impl AsRef<str>]) -> Result<WorkloadSpec, ArgError> {
        let args: Vec<String> = args.iter().map(|a| a.as_ref().to_string()).collect();
        Ok(WorkloadSpec {
            workload,
            command: args::parse(&args, 1)?,
        })
    }

    /// The arguments after the program name, starting with the workload
    /// name ([`Command::to_args`]).
    pub fn to_args(&self) -> Vec<String> {
        self.command.to_args()
    }

    /// Bytes the kernel allocates, when known beforehand
    /// ([`Command::memory_need_bytes`]).
    pub fn memory_need_bytes(&self) -> Option<u64> {
        self.command.memory_need_bytes()
    }

    /// membw: the size of each array (no effect on other workloads).
    pub fn set_array_bytes(&mut self, bytes: u64) {
        if let Command::Membw(c) = &mut self.command {
            c.size_bytes = Some(bytes);
        }
    }

    /// membw: plain or non-temporal stores (no effect on other workloads).
    pub fn set_stores(&mut self, stores: Stores) {
        if let Command::Membw(c) = &mut self.command {
            c.stores = stores;
        }
    }

    /// membw, randacc and latency: the page policy of the large arrays (no
    /// effect on other workloads).
    pub fn set_pages(&mut self, pages: PagePolicy) {
        match &mut self.command {
            Command::Membw(c) => c.pages = pages,
            Command::Randacc(c) => c.pages = pages,
            Command::Latency(c) => c.pages = pages,
            _ => {}
        }
    }

    /// fileio: the file size, lowered to at most `cap` bytes (no effect on
    /// other workloads).
    pub fn cap_file_size(&mut self, cap: u64) {
        if let Command::Fileio(c) = &mut self.command {
            c.file_size = c.file_size.min(cap);
        }
    }

    /// membw: the number of passes (no effect on other workloads).
    pub fn set_passes(&mut self, passes: usize) {
        if let Command::Membw(c) = &mut self.command {
            c.passes = passes;
        }
    }

    /// cpu: the minimum timed duration, ms (no effect on other workloads).
    pub fn set_min_time_ms(&mut self, ms: u64) {
        if let Command::Cpu(c) = &mut self.command {
            c.min_time_ms = ms;
        }
    }
}

/// How a spec is serialised: the workload and the binary's arguments.
#[derive(Serialize, Deserialize)]
struct WireSpec {
    workload: Workload,
    args: Vec<String>,
}

impl From<WorkloadSpec> for WireSpec {
    fn from(s: WorkloadSpec) -> WireSpec {
        WireSpec {
            args: s.to_args(),
            workload: s.workload,
        }
    }
}

impl TryFrom<WireSpec> for WorkloadSpec {
    type Error = ArgError;
    fn try_from(w: WireSpec) -> Result<WorkloadSpec, ArgError> {
        WorkloadSpec::parse(w.workload, &w.args)
    }
}
