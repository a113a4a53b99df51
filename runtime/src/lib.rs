//! isorun: a minimal OCI container runtime (OCI runtime spec v1.0+):
//! namespaces, cgroups v1/v2, pivot_root, capabilities, no_new_privs, and
//! overlayfs-mounted images from a content-addressed layer store.
//!
//! Pure logic (config validation, cgroup file writes against a given root,
//! whiteout handling, state files) is kept apart from the code that makes
//! system calls (`init`, `rootfs`, `lifecycle`).

pub mod caps;
pub mod cgroup;
pub mod cgroupfs;
pub mod config;
pub mod error;
pub mod features;
pub mod hooks;
pub mod image;
pub mod init;
pub mod lifecycle;
pub mod mountfd;
pub mod nsjoin;
pub mod peer;
pub mod propagation;
pub mod rootfs;
pub mod rootless;
pub mod safepath;
pub mod seccomp;
pub mod spec;
pub mod state;
pub mod sysctl;
pub mod userns;

pub use error::{Error, Result};
