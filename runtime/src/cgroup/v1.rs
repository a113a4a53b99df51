//! cgroup v1: one hierarchy per controller (Documentation/admin-guide/
//! cgroup-v1/{memory,pids,cpusets,devices}.rst, sched-bwc for cpu quota).

use super::{join, mkdirs, write, Cgroup};
use crate::config::Resources;
use crate::error::{io, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The controllers a container with `res` joins: memory and pids always
/// (OOM reporting, process accounting), devices always (the default
/// device policy, [`super::devices`]), the others when limits need them.
pub fn controllers(
    mounts: &BTreeMap<String, PathBuf>,
    res: &Resources,
) -> Vec<(&'static str, PathBuf)> {
    let mut want = vec!["memory", "pids", "devices"];
    if res.cpu_shares.is_some() || res.cpu_quota.is_some() || res.cpu_period.is_some() {
        want.push("cpu");
    }
    if res.cpuset_cpus.is_some() || res.cpuset_mems.is_some() {
        want.push("cpuset");
    }
    want.into_iter()
        .filter_map(|c| mounts.get(c).map(|p| (c, p.clone())))
        .collect()
}

/// Create the cgroup in every controller it needs and write the limits.
pub fn create(mounts: &BTreeMap<String, PathBuf>, rel: &str, res: &Resources) -> Result<Cgroup> {
    let mut cg = Cgroup {
        version: 1,
        dirs: Vec::new(),
    };
    let r = (|| {
        for (ctl, root) in controllers(mounts, res) {
            let made = mkdirs(&root, rel)?;
            let leaf = join(&root, rel);
            if !made.contains(&leaf) {
                // Existing leaf: another container uses this cgroup path.
                return Err(crate::error::Error::Cgroup {
                    path: leaf,
                    msg: "already exists (is another container using linux.cgroupsPath?)".into(),
                });
            }
            cg.dirs.push(leaf.clone());
            if ctl == "cpuset" {
                inherit_cpuset(&root, &made)?;
            }
            apply(ctl, &leaf, res)?;
        }
        Ok(())
    })();
    if let Err(e) = r {
        let _ = cg.remove();
        return Err(e);
    }
    Ok(cg)
}

/// A new v1 cpuset starts with empty cpus and mems, and no task may join
/// it until both are set: copy them down from the parent.
fn inherit_cpuset(root: &Path, made: &[PathBuf]) -> Result<()> {
    for dir in made {
        let parent = dir.parent().unwrap_or(root);
        for f in ["cpuset.cpus", "cpuset.mems"] {
            let v = std::fs::read_to_string(parent.join(f)).map_err(io("read", parent.join(f)))?;
            write(dir, f, v.trim())?;
        }
    }
    Ok(())
}

/// Write the limits of one controller.
pub fn apply(ctl: &str, dir: &Path, res: &Resources) -> Result<()> {
    match ctl {
        "memory" => {
            if let Some(l) = res.memory_limit {
                write(dir, "memory.limit_in_bytes", &l.to_string())?;
            }
            if let Some(s) = res.memory_swap {
                write(dir, "memory.memsw.limit_in_bytes", &s.to_string())?;
            }
            if let Some(r) = res.memory_reservation {
                write(dir, "memory.soft_limit_in_bytes", &r.to_string())?;
            }
            if let Some(s) = res.memory_swappiness {
                write(dir, "memory.swappiness", &s.to_string())?;
            }
            if res.disable_oom_killer == Some(true) {
                write(dir, "memory.oom_control", "1")?;
            }
        }
        "pids" => {
            if let Some(l) = res.pids_limit {
                let v = if l < 0 {
                    "max".to_string()
                } else {
                    l.to_string()
                };
                write(dir, "pids.max", &v)?;
            }
        }
        "cpu" => {
            if let Some(s) = res.cpu_shares {
                write(dir, "cpu.shares", &s.to_string())?;
            }
            if let Some(p) = res.cpu_period {
                write(dir, "cpu.cfs_period_us", &p.to_string())?;
            }
            if let Some(q) = res.cpu_quota {
                write(dir, "cpu.cfs_quota_us", &q.to_string())?;
            }
        }
        "cpuset" => {
            if let Some(c) = &res.cpuset_cpus {
                write(dir, "cpuset.cpus", c)?;
            }
            if let Some(m) = &res.cpuset_mems {
                write(dir, "cpuset.mems", m)?;
            }
        }
        "devices" => {
            for rule in &super::devices::effective(&res.devices) {
                let f = if rule.allow {
                    "devices.allow"
                } else {
                    "devices.deny"
                };
                write(dir, f, &rule.line())?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(root: &Path) -> BTreeMap<String, PathBuf> {
        let mut m = BTreeMap::new();
        for c in ["memory", "pids", "cpu", "cpuset", "devices"] {
            std::fs::create_dir_all(root.join(c)).unwrap();
            m.insert(c.to_string(), root.join(c));
        }
        std::fs::write(root.join("cpuset/cpuset.cpus"), "0-1\n").unwrap();
        std::fs::write(root.join("cpuset/cpuset.mems"), "0\n").unwrap();
        m
    }

    #[test]
    fn writes_limits_per_controller() {
        let t = tempfile::tempdir().unwrap();
        let m = fake(t.path());
        let res = Resources {
            memory_limit: Some(64 << 20),
            pids_limit: Some(-1),
            cpu_shares: Some(512),
            cpu_quota: Some(50000),
            cpu_period: Some(100000),
            cpuset_mems: Some("0".into()),
            ..Default::default()
        };
        let cg = create(&m, "/isorun/c1", &res).unwrap();
        assert_eq!(cg.dirs.len(), 5);
        let rd = |p: &str| std::fs::read_to_string(t.path().join(p)).unwrap();
        assert_eq!(rd("memory/isorun/c1/memory.limit_in_bytes"), "67108864");
        assert_eq!(rd("pids/isorun/c1/pids.max"), "max");
        assert_eq!(rd("cpu/isorun/c1/cpu.cfs_quota_us"), "50000");
        // cpus inherited down the new path, mems set by the config.
        assert_eq!(rd("cpuset/isorun/cpuset.cpus"), "0-1");
        assert_eq!(rd("cpuset/isorun/c1/cpuset.cpus"), "0-1");
        assert_eq!(rd("cpuset/isorun/c1/cpuset.mems"), "0");
        // The default device policy (the fake keeps each file's last write).
        assert_eq!(rd("devices/isorun/c1/devices.deny"), "a *:* rwm");
        assert_eq!(rd("devices/isorun/c1/devices.allow"), "c 10:200 rwm");
    }

    #[test]
    fn only_needed_controllers_are_joined() {
        let t = tempfile::tempdir().unwrap();
        let m = fake(t.path());
        let names: Vec<_> = controllers(&m, &Resources::default())
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        assert_eq!(names, ["memory", "pids", "devices"]);
    }

    #[test]
    fn existing_leaf_is_an_error_and_nothing_new_is_left() {
        let t = tempfile::tempdir().unwrap();
        let m = fake(t.path());
        std::fs::create_dir_all(t.path().join("pids/isorun/dup")).unwrap();
        let e = create(&m, "/isorun/dup", &Resources::default()).unwrap_err();
        assert!(e.to_string().contains("already exists"), "{e}");
        assert!(!t.path().join("memory/isorun/dup").exists());
    }
}
