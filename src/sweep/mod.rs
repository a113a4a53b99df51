//! Crash safety: what a run that died (kill -9, OOM killer, power cut of the
//! orchestrator alone) left on the host is removed by the next `isobench
//! run` or by `isobench clean`.
//!
//! Three parts:
//! - [`mountns`]: `isobench run` mounts only inside a private mount
//!   namespace, so its mounts die with it;
//! - [`registry`]: each live run records itself (pid + start time, run and
//!   scratch directories, container id prefix, runtimes);
//! - the sweep: [`scan`] reads processes, cgroups (every v1 hierarchy and
//!   v2), runtime state roots and the mount table; [`decide`] picks, without
//!   a system call, what belongs to runs whose owner is dead; [`act`]
//!   removes it (kill, `delete --force`, umount, rmdir, rm -r) and reports;
//!   [`docker`] reads isobench's labelled Docker containers and images and
//!   the daemon.json saved by a `docker:isorun` run.

pub mod act;
pub mod decide;
pub mod docker;
pub mod mountns;
/// The naming scheme lives with the environments that name things; the sweep
/// reads owners back from it.
pub use crate::env::naming;
pub mod registry;
pub mod scan;

use crate::sys::is_root;
use scan::{Roots, StateRoot};
use std::path::{Path, PathBuf};

/// The roots of this host: `/proc`, `/sys/fs/cgroup`, the registry and the
/// default state roots of runc, crun, runsc and isorun.
pub fn host_roots() -> Roots {
    use crate::env::column::Runtime;
    let isorun_bin = crate::locate::isorun_bin();
    let state = |r: Runtime, root: &Path| StateRoot {
        runtime: r.name(),
        bin: r.locate(&isorun_bin),
        root: root.into(),
    };
    if !is_root() {
        // Without root: the user's own registry and isorun state root only
        // (a user's runs make no mounts and, undelegated, no cgroups).
        let own = isorun::rootless::default_state_root().unwrap_or_default();
        return Roots {
            proc: "/proc".into(),
            cgroup: "/sys/fs/cgroup".into(),
            registry: registry_dir(),
            shared_state: vec![state(Runtime::Isorun, &own)],
            user_scratch: None,
            docker_bin: None,
            docker_backups: None,
        };
    }
    // Every named runtime, isorun's last, as it always was.
    let mut named = Runtime::NAMED.to_vec();
    named.sort_by_key(|r| *r == Runtime::Isorun);
    Roots {
        proc: "/proc".into(),
        cgroup: "/sys/fs/cgroup".into(),
        registry: registry::REGISTRY_DIR.into(),
        shared_state: named
            .into_iter()
            .filter_map(|r| {
                let root = r.default_state_root()?;
                Some(state(r, root))
            })
            .collect(),
        user_scratch: Some(crate::env::rootless::user::BASE.into()),
        docker_bin: crate::env::column::Engine::Docker.locate(),
        docker_backups: Some(crate::env::docker::BACKUP_DIR.into()),
    }
}

/// Decide, then (unless `dry_run`) act.
pub fn sweep(roots: &Roots, dry_run: bool) -> (decide::SweepPlan, Option<act::Outcome>) {
    let snap = scan::snapshot(roots, std::process::id() as i32);
    let mut plan = decide::decide(&snap);
    let mut outcome = (!dry_run).then(|| act::act(&plan, roots));
    // The rootless columns' user, once no run uses it (root only).
    if is_root() && roots.registry == Path::new(registry::REGISTRY_DIR) {
        match (
            crate::env::rootless::user::remove_if_idle(dry_run),
            outcome.as_mut(),
        ) {
            (Ok(Some(d)), Some(o)) => o.done.push(d),
            (Ok(Some(d)), None) => plan.kept.push(format!("would {d}")),
            (Err(e), Some(o)) => o.failed.push(format!("remove the rootless user: {e:#}")),
            _ => {}
        }
    }
    (plan, outcome)
}

/// The run registry: /run/isobench/runs for root; for a user
/// $XDG_RUNTIME_DIR/isobench/runs (when the user's own) or
/// /tmp/isobench-UID/runs (a 0700 directory checked to be the user's).
pub fn registry_dir() -> PathBuf {
    if is_root() {
        return registry::REGISTRY_DIR.into();
    }
    let uid = nix::unistd::geteuid().as_raw();
    if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        use std::os::unix::fs::MetadataExt;
        if x.is_absolute() && std::fs::metadata(&x).is_ok_and(|m| m.is_dir() && m.uid() == uid) {
            return x.join("isobench/runs");
        }
    }
    let base = PathBuf::from(format!("/tmp/isobench-{uid}"));
    match isorun::rootless::private_dir(&base, uid) {
        Ok(()) => base.join("runs"),
        // Not ours: a path that cannot be written, so nothing is recorded.
        Err(_) => PathBuf::from("/nonexistent/isobench/runs"),
    }
}

/// The start of every `isobench run`, before any thread: sweep what dead
/// runs left (in the host's mount namespace), then enter a private mount
/// namespace. Returns whether the run's mounts are private. Problems are
/// warnings: they must not stop a measurement.
pub fn at_run_start() -> bool {
    // Without root the roots are the user's own (see `host_roots`).
    let (_, outcome) = sweep(&host_roots(), false);
    if let Some(o) = outcome {
        if !o.done.is_empty() {
            eprintln!(
                "swept what dead isobench runs left: {} item(s) removed",
                o.done.len()
            );
        }
        for f in &o.failed {
            eprintln!("warning: leftover of a dead run not removed: {f}; see isobench clean");
        }
    }
    match mountns::enter_private(Path::new("/proc")) {
        Ok(()) => true,
        Err(e) => {
            if is_root() {
                eprintln!(
                    "warning: no private mount namespace ({e:#}): this run's mounts would outlive a kill -9 (isobench clean removes them)"
                );
            }
            false
        }
    }
}

/// Record this run in the registry; removed when the returned guard drops.
/// `None` (with a warning, as root) when the registry cannot be written.
pub fn register_run(
    plan: &crate::plan::Plan,
    run_dir: &Path,
    scratch: &Path,
    private_mounts: bool,
) -> Option<registry::Registration> {
    let me = std::process::id();
    let start_ticks = scan::read_proc(Path::new("/proc"), me as i32)?.start_ticks;
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let ocis: Vec<&crate::env::column::Oci> = plan.envs.iter().filter_map(|c| c.oci()).collect();
    let isorun = crate::locate::isorun_bin();
    let runtimes: Vec<registry::RuntimeUse> = ocis
        .iter()
        .map(|o| registry::RuntimeUse {
            name: o.to_string(),
            bin: o
                .runtime
                .locate(&isorun)
                .unwrap_or_else(|| abs(Path::new(&o.runtime.name()))),
        })
        .collect();
    // Rootless columns of a root run keep their files apart (env/rootless/user.rs).
    let user_scratch = (is_root() && ocis.iter().any(|o| o.rootless))
        .then(|| crate::env::rootless::user::run_dir(me));
    let rec = registry::Record {
        pid: me as i32,
        start_ticks,
        started_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        run_dir: abs(run_dir),
        scratch: abs(scratch),
        container_prefix: naming::container_prefix(me),
        cgroup_parent: naming::CGROUP_PARENT.into(),
        runtimes,
        private_mounts,
        user_scratch,
    };
    match registry::register(&registry_dir(), &rec) {
        Ok(g) => Some(g),
        Err(e) => {
            eprintln!("warning: this run is not registered ({e:#}): after a crash, isobench clean cannot tell its leftovers");
            None
        }
    }
}
