//! The crate's errors: a command line that cannot be run ([`ArgError`]), a
//! workload that could not run ([`Error`]) and a kernel's answer that failed
//! its own check ([`Invalid`]). Every message is what the binary prints (and
//! the result's `error` carries), so the variants keep the wording the
//! kernels wrote before they were typed.

use std::path::PathBuf;

/// A command line that cannot be run; the message names the bad argument.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    /// A flag or value the grammar rejects; the message says which and why.
    #[error("{0}")]
    Invalid(String),
    /// A workload name the binary does not carry; `known` lists those it does.
    #[error("unknown workload '{name}' (known: {known})")]
    UnknownWorkload { name: String, known: String },
    /// A preset name that is not one of quick, standard, full, gate.
    #[error("unknown preset '{0}' (known: quick, standard, full, gate)")]
    UnknownPreset(String),
}

impl ArgError {
    /// A rejected flag or value, `message` naming it.
    pub fn invalid(message: impl Into<String>) -> ArgError {
        ArgError::Invalid(message.into())
    }
}

/// Why a workload could not run (its result is then invalid, with this
/// message as its `error`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The arguments do not describe a run.
    #[error(transparent)]
    Arg(#[from] ArgError),
    /// A file operation failed: `what` was done to `path` (the message reads
    /// `what path: cause`, or `path: cause` when `what` is empty).
    #[error("{}{}: {source}", prefix(.what), .path.display())]
    Io {
        what: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A system call on no file of ours failed (mount, unshare, chdir, ...).
    #[error("{0}")]
    Os(String),
    /// Not enough memory for the kernel's data.
    #[error("{0}")]
    Memory(String),
    /// The run went wrong in a way the kernel noticed (a file of the wrong
    /// size, files missing from a listing, a thread that panicked).
    #[error("{0}")]
    Failed(String),
    /// The kernel command line a guest's PID 1 reads carries no usable
    /// workload arguments (the host's side of the protocol).
    #[error("{0}")]
    Protocol(String),
    /// The user's program could not be started or measured (`command`).
    #[error("{0}")]
    Command(String),
}

fn prefix(what: &str) -> String {
    if what.is_empty() {
        String::new()
    } else {
        format!("{what} ")
    }
}

impl Error {
    /// `what` failed on `path` with `source`.
    pub fn io(what: impl Into<String>, path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            what: what.into(),
            path: path.into(),
            source,
        }
    }
}

/// A kernel's check of its own answer failed; the message says how.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// A kernel's verdict on its answer: how it was checked, or why it is wrong.
pub type Verdict<T = String> = Result<T, Invalid>;

/// `ArgError::Invalid(format!(...))`.
macro_rules! arg_err {
    ($($t:tt)*) => { $crate::error::ArgError::Invalid(format!($($t)*)) };
}
/// `Error::Failed(format!(...))`.
macro_rules! failed {
    ($($t:tt)*) => { $crate::error::Error::Failed(format!($($t)*)) };
}
/// `Error::Os(format!(...))`.
macro_rules! os_failed {
    ($($t:tt)*) => { $crate::error::Error::Os(format!($($t)*)) };
}
/// `Error::Memory(format!(...))`.
macro_rules! memory {
    ($($t:tt)*) => { $crate::error::Error::Memory(format!($($t)*)) };
}
/// `Invalid(format!(...))`: a failed check.
macro_rules! invalid {
    ($($t:tt)*) => { $crate::error::Invalid(format!($($t)*)) };
}
pub(crate) use {arg_err, failed, invalid, memory, os_failed};
