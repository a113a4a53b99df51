//! cgroup v1: one hierarchy per controller (Documentation/admin-guide/
//! cgroup-v1/{memory,pids,cpusets,devices}.rst, sched-bwc for cpu quota).

use super::{join, mkdirs, write, Cgroup};
use crate::config::{BlockIo, DeviceRule, Resources, ThrottleKind};
use crate::error::{io, Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The controllers a container with `res` at `rel` joins: devices always
/// as root (the default device policy, [`super::devices`]; its
/// `cgroup.procs` is also what `kill --all`, `ps` and `delete` read), the
/// others when limits need them: memory when a memory resource is set
/// (limits and the OOM kill count, `memory.oom_control`), pids when a
/// pids limit is. Memory and pids are always joined, as before, when
/// there is no device cgroup (rootless, or a host without the devices
/// hierarchy: some hierarchy must hold the container's processes) and
/// when the config names its own cgroupsPath, outside isorun's default
/// parent: engines such as podman read the usage of the container's
/// memory and pids cgroups (`podman stats`).
///
/// Why not always: a v1 memory cgroup is the costliest directory of all
/// to make and remove (its parent and leaf: about 0.4 ms per `run` on
/// the development machine, more than the rest of the cgroup work put
/// together), and a bare bundle sets no limit to enforce. The cgroup view
/// of a `cgroup` mount (crate::cgroupfs) binds only the hierarchies
/// joined, so nothing of the host's tree shows either way.
pub fn controllers(
    mounts: &BTreeMap<String, PathBuf>,
    rel: &str,
    res: &Resources,
) -> Vec<(&'static str, PathBuf)> {
    // Writing devices.allow/deny needs CAP_SYS_ADMIN: an unprivileged
    // caller, even with delegated cgroups, has no device cgroup (see
    // super::devices on why that is safe).
    let devices = !crate::userns::is_rootless() && mounts.contains_key("devices");
    let memory = res.memory_limit.is_some()
        || res.memory_reservation.is_some()
        || res.memory_swap.is_some()
        || res.memory_swappiness.is_some()
        || res.disable_oom_killer.is_some();
    let own_default = rel.trim_start_matches('/').split('/').next() == Some(super::DEFAULT_PARENT);
    let accounting = !devices || !own_default;
    let mut want = Vec::new();
    if memory || accounting {
        want.push("memory");
    }
    if res.pids_limit.is_some() || accounting {
        want.push("pids");
    }
    if devices {
        want.push("devices");
    }
    if res.cpu_shares.is_some() || res.cpu_quota.is_some() || res.cpu_period.is_some() {
        want.push("cpu");
    }
    if res.cpuset_cpus.is_some() || res.cpuset_mems.is_some() {
        want.push("cpuset");
    }
    if res.block_io.is_some() {
        want.push("blkio");
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
        for (ctl, root) in controllers(mounts, rel, res) {
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
        "blkio" => {
            if let Some(b) = &res.block_io {
                blkio(dir, b)?;
            }
        }
        "devices" => write_device_rules(dir, &super::devices::effective(&res.devices))?,
        _ => {}
    }
    Ok(())
}

/// The rules of `rules` that change something when written in order to
/// a v1 devices cgroup: a rule is left out when an identical one came
/// earlier with only rules of the same direction (allow or deny) between,
/// since allow rules only add exceptions and deny rules only take them
/// away (devices.rst), so the earlier one's effect still stands. The
/// default list repeats the config's deny-all and its allow rules for the
/// default nodes: about half its writes.
pub fn needed_device_rules(rules: &[DeviceRule]) -> Vec<&DeviceRule> {
    let mut out: Vec<&DeviceRule> = Vec::new();
    for r in rules {
        let repeat = out
            .iter()
            .rev()
            .take_while(|w| w.allow == r.allow)
            .any(|w| *w == r);
        if !repeat {
            out.push(r);
        }
    }
    out
}

/// Write the device rules through one open fd per file (the kernel takes
/// each write(2) as one rule), not an open and close per rule.
fn write_device_rules(dir: &Path, rules: &[DeviceRule]) -> Result<()> {
    use std::io::Write;
    let mut files: [Option<std::fs::File>; 2] = [None, None];
    for rule in needed_device_rules(rules) {
        let name = if rule.allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        let p = dir.join(name);
        let slot = &mut files[usize::from(rule.allow)];
        if slot.is_none() {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&p)
                .map_err(|e| Error::Cgroup {
                    path: p.clone(),
                    msg: format!("opening: {e}"),
                })?;
            *slot = Some(f);
        }
        let line = rule.line();
        let f = slot.as_mut().expect("opened above");
        f.write_all(line.as_bytes()).map_err(|e| Error::Cgroup {
            path: p,
            msg: format!("writing {line:?}: {e}"),
        })?;
    }
    Ok(())
}

/// The v1 blkio controller (Documentation/admin-guide/cgroup-v1/
/// blkio-controller.rst). Weights go to `blkio.weight` (CFQ, gone since
/// Linux 5.0) or else `blkio.bfq.weight` (BFQ), as runc picks them; leaf
/// weights exist only with CFQ. A weight or leaf weight the kernel has no
/// file for is an error naming the field, not skipped.
fn blkio(dir: &Path, b: &BlockIo) -> Result<()> {
    const F: &str = "linux.resources.blockIO";
    let cfq = dir.join("blkio.weight").exists();
    let (weight, weight_device) = if cfq {
        ("blkio.weight", "blkio.weight_device")
    } else {
        ("blkio.bfq.weight", "blkio.bfq.weight_device")
    };
    let need = |file: &str, field: &str| -> Result<()> {
        if dir.join(file).exists() {
            return Ok(());
        }
        Err(Error::Unsupported {
            field: field.into(),
            why: format!(
                "this kernel's blkio cgroup has no {file} (weights need the CFQ or BFQ I/O scheduler's files)"
            ),
        })
    };
    if let Some(w) = b.weight {
        need(weight, &format!("{F}.weight"))?;
        write(dir, weight, &w.to_string())?;
    }
    if let Some(w) = b.leaf_weight {
        need("blkio.leaf_weight", &format!("{F}.leafWeight"))?;
        write(dir, "blkio.leaf_weight", &w.to_string())?;
    }
    for (i, d) in b.weight_device.iter().enumerate() {
        let field = format!("{F}.weightDevice[{i}]");
        if let Some(w) = d.weight {
            need(weight_device, &format!("{field}.weight"))?;
            device_write(dir, weight_device, &format!("{} {w}", d.dev), &field)?;
        }
        if let Some(w) = d.leaf_weight {
            need("blkio.leaf_weight_device", &format!("{field}.leafWeight"))?;
            device_write(
                dir,
                "blkio.leaf_weight_device",
                &format!("{} {w}", d.dev),
                &field,
            )?;
        }
    }
    for t in &b.throttle {
        let file = match t.kind {
            ThrottleKind::ReadBps => "blkio.throttle.read_bps_device",
            ThrottleKind::WriteBps => "blkio.throttle.write_bps_device",
            ThrottleKind::ReadIops => "blkio.throttle.read_iops_device",
            ThrottleKind::WriteIops => "blkio.throttle.write_iops_device",
        };
        let field = format!("{F}.{}", t.kind.field());
        device_write(dir, file, &format!("{} {}", t.dev, t.rate), &field)?;
    }
    Ok(())
}

/// Write a per-device rule; the kernel's refusals that are about the
/// device get a message saying so (ENODEV: no such whole disk; EOPNOTSUPP:
/// its I/O scheduler does not do this, e.g. a BFQ weight on a disk whose
/// scheduler is not bfq).
pub(super) fn device_write(dir: &Path, file: &str, value: &str, field: &str) -> Result<()> {
    let p = dir.join(file);
    std::fs::write(&p, value).map_err(|e| {
        let hint = match e.raw_os_error() {
            Some(libc::ENODEV) => " (no whole block device with that number)",
            Some(libc::EOPNOTSUPP) => " (the device's I/O scheduler does not support it)",
            _ => "",
        };
        Error::Cgroup {
            path: p.clone(),
            msg: format!("{field}: writing {value:?}: {e}{hint}"),
        }
    })
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
        // The default device policy, each rule one write on one fd (the
        // fake file keeps them all, one after another).
        assert_eq!(rd("devices/isorun/c1/devices.deny"), "a *:* rwm");
        let allow = rd("devices/isorun/c1/devices.allow");
        assert!(
            allow.starts_with("c *:* mb *:* mc 1:3 rwm") && allow.ends_with("c 10:200 rwm"),
            "{allow}"
        );
    }

    #[test]
    fn block_io_goes_to_the_blkio_files_the_kernel_has() {
        use crate::config::{DevNum, Throttle, WeightDevice};
        let t = tempfile::tempdir().unwrap();
        let mut m = fake(t.path());
        std::fs::create_dir_all(t.path().join("blkio")).unwrap();
        m.insert("blkio".into(), t.path().join("blkio"));
        let dev = DevNum {
            major: 254,
            minor: 0,
        };
        let b = BlockIo {
            weight: Some(500),
            weight_device: vec![WeightDevice {
                dev,
                weight: Some(200),
                leaf_weight: None,
            }],
            throttle: vec![
                Throttle {
                    kind: ThrottleKind::ReadBps,
                    dev,
                    rate: 1 << 20,
                },
                Throttle {
                    kind: ThrottleKind::WriteIops,
                    dev,
                    rate: 100,
                },
            ],
            ..Default::default()
        };
        let res = Resources {
            block_io: Some(b.clone()),
            ..Default::default()
        };
        let names: Vec<_> = controllers(&m, "/isorun/c1", &res)
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        assert!(names.contains(&"blkio"), "{names:?}");
        // A leaf with BFQ's files (what Linux 5.0 and later have).
        let leaf = t.path().join("blkio/bfq");
        std::fs::create_dir_all(&leaf).unwrap();
        for f in ["blkio.bfq.weight", "blkio.bfq.weight_device"] {
            std::fs::write(leaf.join(f), "").unwrap();
        }
        apply("blkio", &leaf, &res).unwrap();
        let rd = |p: &Path| std::fs::read_to_string(p).unwrap();
        assert_eq!(rd(&leaf.join("blkio.bfq.weight")), "500");
        assert_eq!(rd(&leaf.join("blkio.bfq.weight_device")), "254:0 200");
        assert_eq!(
            rd(&leaf.join("blkio.throttle.read_bps_device")),
            "254:0 1048576"
        );
        assert_eq!(
            rd(&leaf.join("blkio.throttle.write_iops_device")),
            "254:0 100"
        );
        // CFQ's files are preferred where they exist.
        let cfq = t.path().join("blkio/cfq");
        std::fs::create_dir_all(&cfq).unwrap();
        for f in ["blkio.weight", "blkio.weight_device", "blkio.leaf_weight"] {
            std::fs::write(cfq.join(f), "").unwrap();
        }
        let res = Resources {
            block_io: Some(BlockIo {
                leaf_weight: Some(300),
                ..b.clone()
            }),
            ..Default::default()
        };
        apply("blkio", &cfq, &res).unwrap();
        assert_eq!(rd(&cfq.join("blkio.weight")), "500");
        assert_eq!(rd(&cfq.join("blkio.weight_device")), "254:0 200");
        assert_eq!(rd(&cfq.join("blkio.leaf_weight")), "300");
        // No file for a leaf weight (BFQ): an error naming the field.
        let e = apply("blkio", &leaf, &res).unwrap_err().to_string();
        assert!(
            e.contains("blockIO.leafWeight") && e.contains("blkio.leaf_weight"),
            "{e}"
        );
        // No weight file at all: likewise.
        let none = t.path().join("blkio/none");
        std::fs::create_dir_all(&none).unwrap();
        let e = apply("blkio", &none, &res).unwrap_err().to_string();
        assert!(e.contains("blockIO.weight"), "{e}");
    }

    #[test]
    fn repeated_device_rules_are_written_once_unless_undone_between() {
        let rule = |allow, kind, major: Option<i64>| DeviceRule {
            allow,
            kind,
            major,
            minor: major.map(|_| 3),
            access: "rwm".into(),
        };
        // `isorun spec`'s config: its own deny-all and the default nodes'
        // allow rules, which the standard list repeats.
        let plan = crate::config::parse(
            &serde_json::to_vec(&crate::spec::default_json(&["sh".into()])).unwrap(),
            Path::new("/b/config.json"),
            Path::new("/b"),
            "c1",
        )
        .unwrap();
        let all = super::super::devices::effective(&plan.resources.devices);
        let needed = needed_device_rules(&all);
        assert!(
            needed.len() < all.len(),
            "{} of {}",
            needed.len(),
            all.len()
        );
        // The same decisions for every device and access.
        let kept: Vec<DeviceRule> = needed.iter().map(|r| (*r).clone()).collect();
        use super::super::devices::permits;
        for kind in ['c', 'b'] {
            for (major, minor) in [(1, 3), (1, 5), (1, 11), (5, 0), (136, 4), (8, 0), (10, 200)] {
                for access in ["r", "w", "m", "rw", "rwm"] {
                    assert_eq!(
                        permits(&all, kind, major, minor, access),
                        permits(&kept, kind, major, minor, access),
                        "{kind} {major}:{minor} {access}"
                    );
                }
            }
        }
        // A rule undone in between is written again.
        let x = rule(true, 'c', Some(1));
        let list = [x.clone(), rule(false, 'c', Some(1)), x.clone(), x.clone()];
        assert_eq!(needed_device_rules(&list), [&list[0], &list[1], &list[2]]);
        let deny = rule(false, 'a', None);
        let list = [deny.clone(), rule(false, 'b', Some(8)), deny.clone()];
        assert_eq!(needed_device_rules(&list), [&list[0], &list[1]]);
    }

    #[test]
    fn only_needed_controllers_are_joined() {
        let t = tempfile::tempdir().unwrap();
        let m = fake(t.path());
        let names = |m: &BTreeMap<String, PathBuf>, r: &Resources| -> Vec<&str> {
            controllers(m, "/isorun/c1", r)
                .into_iter()
                .map(|(c, _)| c)
                .collect()
        };
        if crate::userns::is_rootless() {
            assert_eq!(names(&m, &Resources::default()), ["memory", "pids"]);
            return;
        }
        // No limit: the device policy's cgroup alone.
        assert_eq!(names(&m, &Resources::default()), ["devices"]);
        let mem = Resources {
            memory_reservation: Some(1 << 20),
            ..Resources::default()
        };
        assert_eq!(names(&m, &mem), ["memory", "devices"]);
        let pids = Resources {
            pids_limit: Some(5),
            ..Resources::default()
        };
        assert_eq!(names(&m, &pids), ["pids", "devices"]);
        // No devices hierarchy: memory and pids hold the processes.
        let mut no_dev = m.clone();
        no_dev.remove("devices");
        assert_eq!(names(&no_dev, &Resources::default()), ["memory", "pids"]);
        // A cgroupsPath of the caller's (podman's): accounting kept.
        let theirs: Vec<_> = controllers(&m, "/libpod_parent/c1", &Resources::default())
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        assert_eq!(theirs, ["memory", "pids", "devices"]);
    }

    #[test]
    fn existing_leaf_is_an_error_and_nothing_new_is_left() {
        let t = tempfile::tempdir().unwrap();
        let m = fake(t.path());
        // A memory setting that writes no file (the fake is no cgroupfs:
        // a written file would keep its directory from being removed).
        let res = Resources {
            disable_oom_killer: Some(false),
            ..Resources::default()
        };
        let last = if crate::userns::is_rootless() {
            "pids"
        } else {
            "devices"
        };
        std::fs::create_dir_all(t.path().join(last).join("isorun/dup")).unwrap();
        let e = create(&m, "/isorun/dup", &res).unwrap_err();
        assert!(e.to_string().contains("already exists"), "{e}");
        assert!(!t.path().join("memory/isorun/dup").exists());
    }
}
