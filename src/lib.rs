//! isobench: measures what isolation costs. The library behind the `isobench`
//! binary: the typed plan, host probing, environments, the suite runner and
//! the run directory store.
//!
//! # Where system calls are made
//!
//! Direct calls of libc, nix and `std::os::unix` (signals, wait4, prctl,
//! rlimits, mounts, namespaces, owners and modes, pre-exec hooks) are made
//! in three modules only; every other module asks them through named
//! functions (`grep -rlE "(libc|nix)::" src` lists their files):
//! - [`sys`]: the small named calls of the modules above the environments
//!   (who we are, signals by pid, RLIMIT_NOFILE, chown and chmod, detached
//!   unmounts, a child's process group and parent-death signal);
//! - [`env`](mod@env): starting and watching processes
//!   ([`env::process`]: process groups, wait4, kill, PR_SET_PDEATHSIG;
//!   the [`env::process::Spawner`] door every column starts its processes
//!   through), CPU affinity ([`env::set_affinity`]), a native instance's
//!   pids cgroup ([`env::native`]), the container column's mounts, pidfd
//!   waits and file modes ([`env::container`]), docker's daemon signal and
//!   file modes ([`env::docker`]), the rootless user switch, locks and
//!   owners ([`env::rootless`]), and the VM column's vCPU pinning and the
//!   file modes of the initramfs ([`env::vm`]);
//! - [`sweep`]: finding and removing what a crashed run left (mount
//!   namespaces, mounts, processes).
//!
//! The rest reach the system only through `std` (files, spawning commands)
//! and these three.

pub mod cli;
pub mod cmd;
pub mod env;
pub mod estimate;
pub mod experiment;
pub mod fleet;
pub mod host;
pub mod locate;
pub mod plan;
pub mod progress;
pub mod runner;
pub mod session;
pub mod store;
pub mod sweep;
pub mod sys;
pub mod usage;
pub mod user_command;
