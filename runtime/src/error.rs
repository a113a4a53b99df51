//! Errors of the isorun library. Every variant carries the path, field or
//! value it is about, so that the binary can print one clear line.

use std::path::PathBuf;

/// Everything that can go wrong in isorun.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// config.json could not be read.
    #[error("cannot read {path}: {err}")]
    ReadConfig { path: PathBuf, err: std::io::Error },
    /// config.json is not valid JSON or not a valid OCI runtime spec.
    #[error("malformed {path}: {msg}")]
    MalformedConfig { path: PathBuf, msg: String },
    /// A config field isorun does not implement (never silently ignored).
    #[error("unsupported config field {field}: {why}")]
    Unsupported { field: String, why: String },
    /// A config value that cannot work.
    #[error("invalid config value {field}: {why}")]
    Invalid { field: String, why: String },
    /// The bundle's root filesystem is missing.
    #[error("root filesystem {path} does not exist (root.path in config.json)")]
    MissingRootfs { path: PathBuf },
    /// A container with this id already exists in the state root.
    #[error("container {id} already exists (state in {path}); delete it first")]
    Exists { id: String, path: PathBuf },
    /// No container with this id.
    #[error("container {id} does not exist in {root}")]
    NotFound { id: String, root: PathBuf },
    /// The container is not in a state that allows the operation.
    #[error("container {id} is {status}: {why}")]
    BadState {
        id: String,
        status: String,
        why: String,
    },
    /// A file operation failed.
    #[error("{op} {path}: {err}")]
    Io {
        op: &'static str,
        path: PathBuf,
        err: std::io::Error,
    },
    /// A system call failed.
    #[error("{op}: {err}")]
    Sys { op: String, err: nix::errno::Errno },
    /// Cgroup setup failed.
    #[error("cgroup {path}: {msg}")]
    Cgroup { path: PathBuf, msg: String },
    /// Setting up the container process failed (message from inside).
    #[error("container init: {0}")]
    Init(String),
    /// An OCI hook failed (its kind, index in the list and path).
    #[error("{kind} hook {index} ({}): {why}", path.display())]
    Hook {
        kind: &'static str,
        index: usize,
        path: PathBuf,
        why: String,
    },
    /// Image or layer store problem.
    #[error("image: {0}")]
    Image(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Shorthand for an [`Error::Io`] with the path it is about.
pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |err| Error::Io { op, path, err }
}

/// Shorthand for an [`Error::Sys`] naming the call and its arguments.
pub fn sys(op: impl Into<String>) -> impl FnOnce(nix::errno::Errno) -> Error {
    let op = op.into();
    move |err| Error::Sys { op, err }
}
