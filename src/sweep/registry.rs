//! The registry of live runs: one JSON record per running `isobench run`
//! (`/run/isobench/runs/<pid>.json`, on a tmpfs, so a reboot empties it).
//!
//! A record names what its run may leave behind (run and scratch
//! directories, the container id prefix, the runtimes and their state roots)
//! and identifies its owner by pid *and* start time (field 22 of
//! `/proc/<pid>/stat`, clock ticks since boot), so a pid reused by another
//! process does not keep a dead run's leftovers alive. The record is removed
//! at every exit isobench sees; after a kill -9 it stays, and the next sweep
//! ([`super`]) finds its owner dead and removes what it names.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where records live.
pub const REGISTRY_DIR: &str = "/run/isobench/runs";

/// A container runtime a run uses, as given on the command line, and the
/// binary it resolved to (used to `delete --force` what the run left).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeUse {
    pub name: String,
    pub bin: PathBuf,
}

/// One live (or dead, if its owner is gone) run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub pid: i32,
    /// Start time of `pid` in clock ticks since boot (`/proc/<pid>/stat`).
    pub start_ticks: u64,
    pub started_at: String,
    pub run_dir: PathBuf,
    pub scratch: PathBuf,
    /// Every container id of the run starts with this.
    pub container_prefix: String,
    /// Container cgroups are `<hierarchy>/<cgroup_parent>/<id>`.
    pub cgroup_parent: String,
    #[serde(default)]
    pub runtimes: Vec<RuntimeUse>,
    /// Whether the run's mounts live in a private mount namespace (they
    /// vanish with it).
    #[serde(default)]
    pub private_mounts: bool,
    /// The directory of the run's rootless columns when run by root
    /// (`/run/isobench/rootless/<pid>`, outside the run directory so the
    /// unprivileged user reaches it); removed with the scratch directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_scratch: Option<PathBuf>,
}

impl Record {
    /// The scratch directory and, if any, the rootless columns' one.
    pub fn scratch_dirs(&self) -> impl Iterator<Item = &PathBuf> {
        std::iter::once(&self.scratch).chain(self.user_scratch.iter())
    }
}

/// The file holding `pid`'s record.
pub fn record_path(registry: &Path, pid: i32) -> PathBuf {
    registry.join(format!("{pid}.json"))
}

/// Every record in `registry` (a missing registry holds none), with its
/// file; files that do not parse are returned apart.
pub fn read_all(registry: &Path) -> (Vec<(PathBuf, Record)>, Vec<PathBuf>) {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    let Ok(rd) = std::fs::read_dir(registry) else {
        return (good, bad);
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        match std::fs::read(&p)
            .ok()
            .and_then(|b| serde_json::from_slice::<Record>(&b).ok())
        {
            Some(r) => good.push((p, r)),
            None => bad.push(p),
        }
    }
    good.sort_by_key(|(_, r)| r.pid);
    (good, bad)
}

/// A written record, removed again on drop (every exit but a kill).
#[derive(Debug)]
pub struct Registration {
    path: PathBuf,
}

impl Registration {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Write `rec` into `registry` atomically (temporary file, rename).
pub fn register(registry: &Path, rec: &Record) -> Result<Registration> {
    std::fs::create_dir_all(registry)
        .with_context(|| format!("cannot create {}", registry.display()))?;
    let path = record_path(registry, rec.pid);
    let tmp = registry.join(format!(".{}.json.tmp", rec.pid));
    let json = serde_json::to_vec_pretty(rec).context("serialising the run record")?;
    std::fs::write(&tmp, json).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(Registration { path })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(pid: i32) -> Record {
        Record {
            pid,
            start_ticks: 1234,
            started_at: "2026-01-01T00:00:00Z".into(),
            run_dir: "/runs/r".into(),
            scratch: "/runs/r/.scratch".into(),
            container_prefix: format!("isobench-{pid}-"),
            cgroup_parent: "isobench".into(),
            runtimes: vec![RuntimeUse {
                name: "runc".into(),
                bin: "/usr/sbin/runc".into(),
            }],
            private_mounts: true,
            user_scratch: None,
        }
    }

    #[test]
    fn records_round_trip_and_vanish_on_drop() {
        let d = tempfile::tempdir().unwrap();
        let reg = d.path().join("runs");
        let g = register(&reg, &rec(7)).unwrap();
        std::fs::write(reg.join("junk.json"), "{").unwrap();
        let (good, bad) = read_all(&reg);
        assert_eq!(good, vec![(record_path(&reg, 7), rec(7))]);
        assert_eq!(bad, vec![reg.join("junk.json")]);
        drop(g);
        assert!(!record_path(&reg, 7).exists());
        assert!(read_all(&d.path().join("none")).0.is_empty());
    }
}
