//! isorun: a minimal OCI container runtime (OCI runtime spec v1.0+):
//! namespaces, cgroups v1/v2, pivot_root, capabilities, no_new_privs, and
//! overlayfs-mounted images from a content-addressed layer store.
//!
//! # Layers
//!
//! Modules import only from their own layer or the ones below, and never
//! in a cycle (`scripts/modmap.py runtime/src`):
//!
//! 1. `error`; the config types and their checks: `config` (with the hook
//!    types), `caps`, `seccomp`, `sysctl`, `userns`, `nsjoin`, `safepath`,
//!    `mountfd`;
//! 2. `bundle`, `spec`, `cgroup`, `state`, `hooks`, `image`, `propagation`,
//!    `cgroupfs`, `rootless`, `features`, `peer`;
//! 3. `rootfs`, `terminal`, `init` (the container process);
//! 4. `lifecycle` and `exec` (the verbs), and `main`.
//!
//! # Where the system calls are
//!
//! **Pure** (no system call, no file access): `error`, `config` (a
//! config.json's text parsed and validated into a [`config::Plan`]),
//! `spec` (the default config; its `write_config` is `bundle`'s),
//! `features`. Pure except the named functions, which apply what the pure
//! part computed:
//! - `caps`: names, numbers and masks; `drop_bounding` and `apply` call
//!   prctl(2) and capset(2);
//! - `seccomp`: the profile checked and compiled (libseccomp, in memory);
//!   `load` installs it;
//! - `sysctl`: `check`, `path`, `refuse_host_net`; `ns_id` stats a file,
//!   `apply` writes /proc/sys;
//! - `propagation`: `before_pivot`, `mount_point_of`; `prepare` (which
//!   also reads /proc/self/mountinfo) and `finish` call mount(2);
//! - `userns`: parsing and checking id maps (`subordinate`, `from_linux`,
//!   `validate`, `map_text`, `maps_id`, `writer`, `default_maps`); the rest
//!   (`apply`, `become_root`, `wait_for_maps`, `is_rootless`, the caller's
//!   defaults) reads files or makes system calls;
//! - `rootless`: `limits`, `skip_line`; the rest reads the euid or the file
//!   system;
//! - `cgroupfs`: `binds`; `mount_view` mounts;
//! - `peer`: the argument and path helpers; `Peer` runs other runtimes.
//!
//! **Files only** (open, read, write, mkdir, rename; no other system
//! call): `bundle` (config.json), `state` (the state directory and
//! /proc/PID/stat), `cgroup` (cgroupfs files; on cgroup v2 the device
//! policy also calls bpf(2), `cgroup::devices`), `image` (the layer store;
//! unpacking a layer also calls mknod(2) and setxattr(2), and
//! `mount_overlay`/`unmount` mount).
//!
//! **System calls** that change processes, namespaces or mounts: `init`
//! (the container process from clone to execve), `rootfs` (mounts,
//! pivot_root), `mountfd` (the fd-based mount API), `safepath` (openat2
//! and the *at calls inside the root), `nsjoin` (setns), `terminal`
//! (ptys, SCM_RIGHTS), `hooks` (runs hook programs; memfd, pidfd),
//! `lifecycle` (clone, signals, fifos, wait) and `exec` (fork, setns,
//! the process's privileges).

pub mod bundle;
pub mod caps;
pub mod cgroup;
pub mod cgroupfs;
pub mod config;
pub mod error;
pub mod exec;
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
pub mod terminal;
pub mod userns;

pub use error::{Error, Result};
