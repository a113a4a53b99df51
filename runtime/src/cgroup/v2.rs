//! cgroup v2: the unified hierarchy (Documentation/admin-guide/cgroup-v2.rst):
//! controllers enabled top-down through `cgroup.subtree_control`, limits in
//! memory.max, memory.swap.max, cpu.weight, cpu.max, cpuset.*, pids.max,
//! io.max and io.weight / io.bfq.weight.

use super::{join, mkdirs, write, Cgroup};
use crate::config::{BlockIo, Resources, ThrottleKind};
use crate::error::{Error, Result};
use std::path::Path;

/// cgroup v1 cpu.shares (2..262144) to v2 cpu.weight (1..10000), the
/// conversion runc and crun use.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + ((shares.saturating_sub(2)) * 9999) / 262142
}

/// Create the cgroup under `root`, write the limits and attach the device
/// policy.
pub fn create(root: &Path, rel: &str, res: &Resources) -> Result<Cgroup> {
    create_with(root, rel, res, true)
}

/// `create`, the device program left out when `device_policy` is false
/// (only for tests on a fake cgroupfs, where no program can attach).
fn create_with(root: &Path, rel: &str, res: &Resources, device_policy: bool) -> Result<Cgroup> {
    let leaf = join(root, rel);
    let made = mkdirs(root, rel)?;
    let cg = Cgroup {
        version: 2,
        dirs: vec![leaf.clone()],
    };
    if !made.contains(&leaf) {
        return Err(Error::Cgroup {
            path: leaf,
            msg: "already exists (is another container using linux.cgroupsPath?)".into(),
        });
    }
    let r = (|| {
        // Enable the controllers we need on every ancestor of the leaf.
        let wanted = wanted(res);
        let available =
            std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
        let enable: Vec<String> = wanted
            .iter()
            .filter(|c| available.split_whitespace().any(|a| a == **c))
            .map(|c| format!("+{c}"))
            .collect();
        if let Some(missing) = wanted.iter().find(|c| {
            **c != "memory" && **c != "pids" && !available.split_whitespace().any(|a| a == **c)
        }) {
            return Err(Error::Cgroup {
                path: root.join("cgroup.controllers"),
                msg: format!("controller {missing} is not available"),
            });
        }
        let mut dir = root.to_path_buf();
        for c in rel.split('/').filter(|c| !c.is_empty()) {
            if !enable.is_empty() {
                write(&dir, "cgroup.subtree_control", &enable.join(" "))?;
            }
            dir.push(c);
        }
        apply(&leaf, res)?;
        // The device policy (super::devices). Rootless: loading an eBPF
        // program needs CAP_BPF or CAP_SYS_ADMIN in the initial user
        // namespace, which a rootless caller lacks; its container cannot
        // mknod a node either (CAP_MKNOD of a user namespace does not
        // cover devices), and the nodes it gets are bind mounts of the
        // host's, opened under the host's own permissions.
        if device_policy && !crate::userns::is_rootless() {
            super::devices::bpf::attach(&leaf, &super::devices::effective(&res.devices))?;
        }
        Ok(())
    })();
    if let Err(e) = r {
        let _ = cg.remove();
        return Err(e);
    }
    Ok(cg)
}

fn wanted(res: &Resources) -> Vec<&'static str> {
    let mut w = vec!["memory", "pids"];
    if res.cpu_shares.is_some() || res.cpu_quota.is_some() || res.cpu_period.is_some() {
        w.push("cpu");
    }
    if res.cpuset_cpus.is_some() || res.cpuset_mems.is_some() {
        w.push("cpuset");
    }
    if res.block_io.is_some() {
        w.push("io");
    }
    w
}

/// v1 blkio weight (10..1000) to v2 io.weight (1..10000), the conversion
/// runc and crun use when there is no io.bfq.weight.
pub fn blkio_to_io_weight(w: u16) -> u64 {
    1 + (u64::from(w).saturating_sub(10)) * 9999 / 990
}

/// The io controller (cgroup-v2.rst, "IO"): weights to `io.bfq.weight`
/// when BFQ's file exists (same range as v1), else converted to
/// `io.weight` (blk-iocost); throttles to `io.max` (`MAJ:MIN rbps=N`, a
/// rate of 0 meaning no limit as in v1: "max"). v2 has no leaf weights:
/// asking for one is an error naming the field.
fn io(dir: &Path, b: &BlockIo) -> Result<()> {
    const F: &str = "linux.resources.blockIO";
    let no_leaf = |field: String| -> Result<()> {
        Err(Error::Unsupported {
            field,
            why: "cgroup v2 has no leaf weights (a CFQ feature of cgroup v1)".into(),
        })
    };
    if b.leaf_weight.is_some() {
        return no_leaf(format!("{F}.leafWeight"));
    }
    if let Some(i) = b.weight_device.iter().position(|d| d.leaf_weight.is_some()) {
        return no_leaf(format!("{F}.weightDevice[{i}].leafWeight"));
    }
    let bfq = dir.join("io.bfq.weight").exists();
    let (file, conv): (&str, fn(u16) -> u64) = if bfq {
        ("io.bfq.weight", u64::from)
    } else {
        ("io.weight", blkio_to_io_weight)
    };
    let wants_weight = b.weight.is_some() || b.weight_device.iter().any(|d| d.weight.is_some());
    if wants_weight && !dir.join(file).exists() {
        return Err(Error::Unsupported {
            field: format!("{F}.weight"),
            why: "this kernel's io cgroup has neither io.bfq.weight nor io.weight".into(),
        });
    }
    if let Some(w) = b.weight {
        write(dir, file, &conv(w).to_string())?;
    }
    for (i, d) in b.weight_device.iter().enumerate() {
        if let Some(w) = d.weight {
            let field = format!("{F}.weightDevice[{i}]");
            super::v1::device_write(dir, file, &format!("{} {}", d.dev, conv(w)), &field)?;
        }
    }
    for t in &b.throttle {
        let key = match t.kind {
            ThrottleKind::ReadBps => "rbps",
            ThrottleKind::WriteBps => "wbps",
            ThrottleKind::ReadIops => "riops",
            ThrottleKind::WriteIops => "wiops",
        };
        let rate = if t.rate == 0 {
            "max".to_string()
        } else {
            t.rate.to_string()
        };
        let field = format!("{F}.{}", t.kind.field());
        super::v1::device_write(dir, "io.max", &format!("{} {key}={rate}", t.dev), &field)?;
    }
    Ok(())
}

/// Write the limits into the leaf.
pub fn apply(dir: &Path, res: &Resources) -> Result<()> {
    let max = |v: i64| {
        if v < 0 {
            "max".to_string()
        } else {
            v.to_string()
        }
    };
    if let Some(l) = res.memory_limit {
        write(dir, "memory.max", &max(l))?;
    }
    if let Some(r) = res.memory_reservation {
        write(dir, "memory.low", &max(r))?;
    }
    if let Some(s) = res.memory_swap {
        // v1 counts memory+swap; v2's swap.max counts swap alone.
        let v = match (s, res.memory_limit) {
            (-1, _) => "max".to_string(),
            (s, Some(l)) if l >= 0 => (s - l).max(0).to_string(),
            (s, _) => s.to_string(),
        };
        write(dir, "memory.swap.max", &v)?;
    }
    if res.disable_oom_killer == Some(true) {
        return Err(Error::Unsupported {
            field: "linux.resources.memory.disableOOMKiller".into(),
            why: "cgroup v2 has no switch to disable the OOM killer".into(),
        });
    }
    if let Some(s) = res.cpu_shares {
        write(dir, "cpu.weight", &shares_to_weight(s).to_string())?;
    }
    if res.cpu_quota.is_some() || res.cpu_period.is_some() {
        let q = res.cpu_quota.map_or("max".to_string(), max);
        let p = res.cpu_period.unwrap_or(100_000);
        write(dir, "cpu.max", &format!("{q} {p}"))?;
    }
    if let Some(c) = &res.cpuset_cpus {
        write(dir, "cpuset.cpus", c)?;
    }
    if let Some(m) = &res.cpuset_mems {
        write(dir, "cpuset.mems", m)?;
    }
    if let Some(l) = res.pids_limit {
        write(dir, "pids.max", &max(l))?;
    }
    if let Some(b) = &res.block_io {
        io(dir, b)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rd(p: impl AsRef<Path>) -> String {
        std::fs::read_to_string(p).unwrap()
    }

    #[test]
    fn fake_cgroupfs_gets_limits_and_subtree_control() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(
            t.path().join("cgroup.controllers"),
            "cpuset cpu io memory hugetlb pids\n",
        )
        .unwrap();
        let res = Resources {
            memory_limit: Some(100 << 20),
            memory_swap: Some(150 << 20),
            cpu_shares: Some(1024),
            cpu_quota: Some(50000),
            pids_limit: Some(32),
            cpuset_cpus: Some("0".into()),
            ..Default::default()
        };
        let cg = create_with(t.path(), "/isorun/c2", &res, false).unwrap();
        let leaf = t.path().join("isorun/c2");
        assert_eq!(cg.dirs, vec![leaf.clone()]);
        assert_eq!(
            rd(t.path().join("cgroup.subtree_control")),
            "+memory +pids +cpu +cpuset"
        );
        assert_eq!(
            rd(t.path().join("isorun/cgroup.subtree_control")),
            "+memory +pids +cpu +cpuset"
        );
        assert_eq!(rd(leaf.join("memory.max")), "104857600");
        assert_eq!(rd(leaf.join("memory.swap.max")), "52428800");
        assert_eq!(rd(leaf.join("cpu.weight")), "39");
        assert_eq!(rd(leaf.join("cpu.max")), "50000 100000");
        assert_eq!(rd(leaf.join("pids.max")), "32");
        cg.add(1234).unwrap();
        assert_eq!(rd(leaf.join("cgroup.procs")), "1234");
        std::fs::write(
            leaf.join("memory.events"),
            "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n",
        )
        .unwrap();
        assert_eq!(cg.oom_kills(), Some(1));
    }

    #[test]
    fn missing_controller_is_an_error() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("cgroup.controllers"), "memory pids\n").unwrap();
        let res = Resources {
            cpu_shares: Some(100),
            ..Default::default()
        };
        let e = create_with(t.path(), "/isorun/c3", &res, false).unwrap_err();
        assert!(e.to_string().contains("controller cpu"), "{e}");
        assert!(!t.path().join("isorun/c3").exists());
    }

    #[test]
    fn block_io_goes_to_io_max_and_a_weight_file() {
        use crate::config::{DevNum, Throttle, WeightDevice};
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("cgroup.controllers"), "memory pids io\n").unwrap();
        let dev = DevNum { major: 8, minor: 0 };
        let b = BlockIo {
            weight: Some(500),
            weight_device: vec![WeightDevice {
                dev,
                weight: Some(1000),
                leaf_weight: None,
            }],
            throttle: vec![
                Throttle {
                    kind: ThrottleKind::WriteBps,
                    dev,
                    rate: 4096,
                },
                Throttle {
                    kind: ThrottleKind::ReadIops,
                    dev,
                    rate: 0,
                },
            ],
            ..Default::default()
        };
        let res = Resources {
            block_io: Some(b.clone()),
            ..Default::default()
        };
        // Without a weight file (no BFQ, no iocost): an error, nothing left.
        let e = create_with(t.path(), "/isorun/io0", &res, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("blockIO.weight"), "{e}");
        assert!(!t.path().join("isorun/io0").exists());
        // With io.weight (a fake leaf is made first so the file exists).
        let leaf = t.path().join("leaf");
        std::fs::create_dir(&leaf).unwrap();
        std::fs::write(leaf.join("io.weight"), "").unwrap();
        apply(&leaf, &res).unwrap();
        // The fake keeps each file's last write.
        assert_eq!(rd(leaf.join("io.weight")), "8:0 10000");
        assert_eq!(rd(leaf.join("io.max")), "8:0 riops=max");
        // io.bfq.weight is preferred, in v1's range.
        std::fs::write(leaf.join("io.bfq.weight"), "").unwrap();
        let only_weight = Resources {
            block_io: Some(BlockIo {
                weight: Some(500),
                ..Default::default()
            }),
            ..Default::default()
        };
        apply(&leaf, &only_weight).unwrap();
        assert_eq!(rd(leaf.join("io.bfq.weight")), "500");
        // A throttle alone enables io top-down and needs no weight file.
        let throttle = Resources {
            block_io: Some(BlockIo {
                throttle: b.throttle[..1].to_vec(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let cg = create_with(t.path(), "/isorun/io1", &throttle, false).unwrap();
        assert_eq!(
            rd(t.path().join("cgroup.subtree_control")),
            "+memory +pids +io"
        );
        assert_eq!(rd(cg.dirs[0].join("io.max")), "8:0 wbps=4096");
        // Leaf weights do not exist in v2.
        let leafw = Resources {
            block_io: Some(BlockIo {
                leaf_weight: Some(100),
                ..Default::default()
            }),
            ..Default::default()
        };
        let e = apply(&leaf, &leafw).unwrap_err().to_string();
        assert!(e.contains("blockIO.leafWeight"), "{e}");
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(500), 4950);
        assert_eq!(blkio_to_io_weight(1000), 10000);
    }

    #[test]
    fn weight_conversion_matches_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262144), 10000);
    }
}
