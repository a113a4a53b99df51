//! Runtime spec config "Linux: Control groups" (`linux.resources`),
//! `linux.sysctl` and the device cgroup (runtime-tools:
//! linux_cgroups_memory, linux_cgroups_pids, linux_cgroups_cpus,
//! linux_cgroups_devices, linux_cgroups_blkio, linux_cgroups_relative_*, linux_sysctl).
//! Values are read from the host side, in the cgroup the container's
//! process is in.

use crate::conformance;
use crate::harness::Ct;
use anyhow::{bail, ensure, Context, Result};
use serde_json::json;
use std::path::PathBuf;

/// The file `v1` (under controller `ctl`) or `v2` of the cgroup `pid` is in.
fn cgroup_file(pid: i32, ctl: &str, v1: &str, v2: &str) -> Result<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
    for l in text.lines() {
        let mut f = l.splitn(3, ':');
        let (_, ctls, path) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or(""));
        let path = path.trim_start_matches('/');
        let p: PathBuf = if ctls.is_empty() {
            // The unified hierarchy (also the only one when v1 is absent).
            let p = PathBuf::from("/sys/fs/cgroup").join(path).join(v2);
            if !p.exists() {
                continue;
            }
            p
        } else if ctls.split(',').any(|c| c == ctl) {
            PathBuf::from("/sys/fs/cgroup")
                .join(ctl)
                .join(path)
                .join(v1)
        } else {
            continue;
        };
        return Ok(std::fs::read_to_string(&p)
            .with_context(|| format!("read {}", p.display()))?
            .trim()
            .to_string());
    }
    bail!("no {ctl} cgroup for {pid}: {text}")
}

fn created_with(rt: &crate::harness::Runtime, name: &str, res: serde_json::Value) -> Result<Ct> {
    let mut ct = Ct::new(rt, name, "sleep 30");
    ct.edit(|v| v["linux"]["resources"] = res);
    ct.create()?;
    Ok(ct)
}

conformance!(memory_limit_and_reservation_are_set, |rt| {
    let ct = created_with(
        rt,
        "memory",
        json!({"memory": {"limit": 64 << 20, "reservation": 32 << 20}}),
    )?;
    let pid = ct.pid()?;
    let limit = cgroup_file(pid, "memory", "memory.limit_in_bytes", "memory.max")?;
    ensure!(limit == (64u64 << 20).to_string(), "memory limit {limit}");
    let low = cgroup_file(pid, "memory", "memory.soft_limit_in_bytes", "memory.low")?;
    ensure!(low == (32u64 << 20).to_string(), "memory reservation {low}");
    Ok(())
});

conformance!(pids_limit_is_set, |rt| {
    let ct = created_with(rt, "pids", json!({"pids": {"limit": 42}}))?;
    let v = cgroup_file(ct.pid()?, "pids", "pids.max", "pids.max")?;
    ensure!(v == "42", "pids.max {v}");
    Ok(())
});

conformance!(cpu_quota_and_period_are_set, |rt| {
    let ct = created_with(
        rt,
        "cpuquota",
        json!({"cpu": {"quota": 50000, "period": 100000}}),
    )?;
    let pid = ct.pid()?;
    if let Ok(v) = cgroup_file(pid, "cpu", "cpu.cfs_quota_us", "cpu.max") {
        let ok = v == "50000" || v == "50000 100000";
        ensure!(ok, "cpu quota {v}");
        if v == "50000" {
            let p = cgroup_file(pid, "cpu", "cpu.cfs_period_us", "cpu.max")?;
            ensure!(p == "100000", "cpu period {p}");
        }
        return Ok(());
    }
    bail!("no cpu cgroup file")
});

conformance!(cpu_shares_are_set, |rt| {
    let ct = created_with(rt, "cpushares", json!({"cpu": {"shares": 512}}))?;
    let v = cgroup_file(ct.pid()?, "cpu", "cpu.shares", "cpu.weight")?;
    // v2: the weight runc and crun derive from 512 shares.
    ensure!(v == "512" || v == "20" || v == "59", "cpu shares {v}");
    Ok(())
});

conformance!(cpuset_is_set, |rt| {
    let ct = created_with(rt, "cpuset", json!({"cpu": {"cpus": "0", "mems": "0"}}))?;
    let pid = ct.pid()?;
    let c = cgroup_file(pid, "cpuset", "cpuset.cpus", "cpuset.cpus")?;
    ensure!(c == "0", "cpuset.cpus {c}");
    let m = cgroup_file(pid, "cpuset", "cpuset.mems", "cpuset.mems")?;
    ensure!(m == "0", "cpuset.mems {m}");
    Ok(())
});

conformance!(relative_cgroups_path_is_used, |rt| {
    let mut ct = Ct::new(rt, "cgpath", "sleep 30");
    let path = format!("h19e-conformance/{}", ct.id);
    let p = path.clone();
    ct.edit(|v| {
        v["linux"]["cgroupsPath"] = p.into();
        v["linux"]["resources"] = json!({"pids": {"limit": 17}});
    });
    ct.create()?;
    let text = std::fs::read_to_string(format!("/proc/{}/cgroup", ct.pid()?))?;
    ensure!(text.contains(&path), "cgroup not under {path}: {text}");
    let v = cgroup_file(ct.pid()?, "pids", "pids.max", "pids.max")?;
    ensure!(v == "17", "pids.max {v}");
    drop(ct);
    // The parent the runtime made is left to whoever made it (as runc):
    // removed here from every hierarchy (v1 controllers, named, unified).
    let mut roots = vec![PathBuf::from("/sys/fs/cgroup")];
    if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
        roots.extend(rd.flatten().map(|e| e.path()));
    }
    for r in roots {
        let _ = std::fs::remove_dir(r.join("h19e-conformance"));
    }
    Ok(())
});

/// Open a block device node (b 7:0, a loop device) made in the bundle's
/// root (not through `linux.devices`, which a runtime may allow as well)
/// in a container with `rules` as `linux.resources.devices`; the shell's
/// error, if any.
fn open_loop(rt: &crate::harness::Runtime, name: &str, rules: serde_json::Value) -> Result<String> {
    let mut ct = Ct::new(rt, name, "(: < /conf-loop) 2>&1; echo end");
    let node = std::ffi::CString::new(ct.rootfs().join("conf-loop").to_str().unwrap())?;
    // SAFETY: mknod(2) on a NUL-terminated path we own.
    let r = unsafe { libc::mknod(node.as_ptr(), libc::S_IFBLK | 0o600, libc::makedev(7, 0)) };
    ensure!(r == 0, "mknod: {}", std::io::Error::last_os_error());
    ct.edit(|v| v["linux"]["resources"] = json!({ "devices": rules }));
    ct.run_ok()
}

conformance!(devices_outside_the_allow_list_are_denied, |rt| {
    let out = open_loop(rt, "devdeny", json!([]))?;
    ensure!(
        out.contains("Operation not permitted"),
        "b 7:0 opened: {out:?}"
    );
    Ok(())
});

conformance!(device_rules_allow_in_order, |rt| {
    let out = open_loop(
        rt,
        "devallow",
        json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "b", "major": 7, "minor": 0, "access": "rw"}
        ]),
    )?;
    ensure!(
        !out.contains("Operation not permitted"),
        "b 7:0 denied: {out:?}"
    );
    let out = open_loop(
        rt,
        "devallowdeny",
        json!([
            {"allow": true, "type": "b", "major": 7, "minor": 0, "access": "rw"},
            {"allow": false, "type": "b", "major": 7, "minor": 0, "access": "rw"}
        ]),
    )?;
    ensure!(
        out.contains("Operation not permitted"),
        "a later deny did not win: {out:?}"
    );
    Ok(())
});

/// major:minor of a whole disk of this host (not a loop or zram device).
fn a_disk() -> Option<(i64, i64)> {
    let mut names: Vec<String> = std::fs::read_dir("/sys/block")
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("loop") && !n.starts_with("zram") && !n.starts_with("ram"))
        .collect();
    names.sort();
    let dev = std::fs::read_to_string(format!("/sys/block/{}/dev", names.first()?)).ok()?;
    let (a, b) = dev.trim().split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

conformance!(block_io_throttle_is_set, |rt| {
    let Some((major, minor)) = a_disk() else {
        bail!("no disk in /sys/block to throttle");
    };
    let ct = created_with(
        rt,
        "blkio",
        json!({"blockIO": {"throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}]}}),
    )?;
    let v = cgroup_file(
        ct.pid()?,
        "blkio",
        "blkio.throttle.read_bps_device",
        "io.max",
    )?;
    let want = format!("{major}:{minor}");
    ensure!(
        v.contains(&want) && (v.contains("1048576") || v.contains("rbps=1048576")),
        "read throttle {v:?}"
    );
    Ok(())
});

conformance!(block_io_throttles_of_every_kind_are_set, |rt| {
    let Some((major, minor)) = a_disk() else {
        bail!("no disk in /sys/block to throttle");
    };
    let rule = |rate: u64| json!([{"major": major, "minor": minor, "rate": rate}]);
    let ct = created_with(
        rt,
        "blkio4",
        json!({"blockIO": {
            "throttleReadBpsDevice": rule(2097152),
            "throttleWriteBpsDevice": rule(1048576),
            "throttleReadIOPSDevice": rule(300),
            "throttleWriteIOPSDevice": rule(200)
        }}),
    )?;
    let pid = ct.pid()?;
    let dev = format!("{major}:{minor}");
    for (v1, key, rate) in [
        ("blkio.throttle.read_bps_device", "rbps", 2097152),
        ("blkio.throttle.write_bps_device", "wbps", 1048576),
        ("blkio.throttle.read_iops_device", "riops", 300),
        ("blkio.throttle.write_iops_device", "wiops", 200),
    ] {
        let v = cgroup_file(pid, "blkio", v1, "io.max")?;
        let ok = v.lines().any(|l| l == format!("{dev} {rate}"))
            || v.lines()
                .any(|l| l.starts_with(&format!("{dev} ")) && l.contains(&format!("{key}={rate}")));
        ensure!(ok, "{v1}/{key}: {v:?}");
    }
    Ok(())
});

/// The first of `files` that exists in the cgroup of `pid` (controller
/// `blkio` on v1, the unified hierarchy on v2), with its text.
fn first_cgroup_file(pid: i32, files: &[&str]) -> Result<(String, String)> {
    for f in files {
        let v2 = if f.starts_with("io.") { *f } else { "-" };
        if let Ok(v) = cgroup_file(pid, "blkio", f, v2) {
            return Ok((f.to_string(), v));
        }
    }
    bail!("none of {files:?} in the cgroup of {pid}")
}

/// Whether a new cgroup of this host gets a blkio/io weight file: on v1 a
/// probe cgroup is made in the blkio hierarchy, looked at and removed; on
/// v2 the io controller must be available (io.weight or io.bfq.weight
/// come with it).
fn host_has_weight_files() -> bool {
    let v1 = PathBuf::from("/sys/fs/cgroup/blkio");
    if v1.is_dir() {
        let probe = v1.join(format!("h7-weight-probe-{}", std::process::id()));
        if std::fs::create_dir(&probe).is_err() {
            return false;
        }
        let has = ["blkio.weight", "blkio.bfq.weight"]
            .iter()
            .any(|f| probe.join(f).exists());
        let _ = std::fs::remove_dir(&probe);
        return has;
    }
    std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
        .is_ok_and(|c| c.split_whitespace().any(|c| c == "io"))
}

conformance!(block_io_weight_is_set, |rt| {
    if !host_has_weight_files() {
        isobench_testkit::not_on_this_host(
            "no blkio/io weight file in a new cgroup (neither CFQ, BFQ nor iocost)",
        );
        return Ok(());
    }
    let ct = created_with(rt, "blkiow", json!({"blockIO": {"weight": 500}}))?;
    let (file, v) = first_cgroup_file(
        ct.pid()?,
        &[
            "blkio.weight",
            "blkio.bfq.weight",
            "io.bfq.weight",
            "io.weight",
        ],
    )?;
    // io.weight holds the v2 value runc and crun convert 500 to.
    let want = if file == "io.weight" { "4950" } else { "500" };
    let ok = v
        .lines()
        .any(|l| l == want || l == format!("default {want}"));
    ensure!(ok, "{file}: {v:?}");
    Ok(())
});

/// A whole disk whose I/O scheduler is BFQ (per-device weights need it on
/// this kernel): one that has it, or else an unattached loop device
/// switched to bfq for the test and switched back when dropped.
struct BfqDisk {
    dev: (i64, i64),
    restore: Option<(PathBuf, String)>,
}

impl Drop for BfqDisk {
    fn drop(&mut self) {
        if let Some((p, old)) = &self.restore {
            let _ = std::fs::write(p, old);
        }
    }
}

fn bfq_disk() -> Option<BfqDisk> {
    let current = |p: &PathBuf| -> Option<String> {
        let t = std::fs::read_to_string(p).ok()?;
        let (_, rest) = t.split_once('[')?;
        Some(rest.split_once(']')?.0.to_string())
    };
    let dev_of = |name: &str| -> Option<(i64, i64)> {
        let d = std::fs::read_to_string(format!("/sys/block/{name}/dev")).ok()?;
        let (a, b) = d.trim().split_once(':')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    };
    let mut names: Vec<String> = std::fs::read_dir("/sys/block")
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for n in &names {
        let p = PathBuf::from(format!("/sys/block/{n}/queue/scheduler"));
        if current(&p).as_deref() == Some("bfq") {
            return Some(BfqDisk {
                dev: dev_of(n)?,
                restore: None,
            });
        }
    }
    for n in names.iter().filter(|n| n.starts_with("loop")) {
        let base = PathBuf::from(format!("/sys/block/{n}"));
        let unattached = !base.join("loop").exists()
            && std::fs::read_to_string(base.join("size")).is_ok_and(|s| s.trim() == "0");
        let p = base.join("queue/scheduler");
        let (Some(old), true) = (current(&p), unattached) else {
            continue;
        };
        if std::fs::write(&p, "bfq").is_ok() && current(&p).as_deref() == Some("bfq") {
            return Some(BfqDisk {
                dev: dev_of(n)?,
                restore: Some((p, old)),
            });
        }
        let _ = std::fs::write(&p, &old);
    }
    None
}

conformance!(block_io_weight_device_is_set, |rt| {
    let Some(disk) = bfq_disk() else {
        // Say which: a kernel without BFQ lists it in no scheduler file.
        let offered = std::fs::read_dir("/sys/block").is_ok_and(|d| {
            d.flatten().any(|e| {
                std::fs::read_to_string(e.path().join("queue/scheduler")).is_ok_and(|s| {
                    s.split_whitespace()
                        .any(|w| w.trim_matches(['[', ']']) == "bfq")
                })
            })
        });
        isobench_testkit::not_on_this_host(if offered {
            "no disk with the bfq scheduler, and no free loop device to switch to it"
        } else {
            "the kernel offers no bfq I/O scheduler (no /sys/block/*/queue/scheduler lists it)"
        });
        return Ok(());
    };
    let (major, minor) = disk.dev;
    let ct = created_with(
        rt,
        "blkiowd",
        json!({"blockIO": {"weightDevice": [{"major": major, "minor": minor, "weight": 200}]}}),
    )?;
    let (file, v) = first_cgroup_file(
        ct.pid()?,
        &[
            "blkio.weight_device",
            "blkio.bfq.weight_device",
            "io.bfq.weight",
            "io.weight",
        ],
    )?;
    let want = if file == "io.weight" { "1920" } else { "200" };
    ensure!(
        v.lines().any(|l| l == format!("{major}:{minor} {want}")),
        "{file}: {v:?}"
    );
    drop(ct);
    drop(disk);
    Ok(())
});

conformance!(sysctl_is_set_in_the_container, |rt| {
    let mut ct = Ct::new(
        rt,
        "sysctl",
        "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax",
    );
    ct.edit(|v| {
        v["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.msgmax": "12345"});
    });
    let out = ct.run_ok()?;
    ensure!(
        out.split_whitespace().collect::<Vec<_>>() == ["1", "12345"],
        "{out:?}"
    );
    Ok(())
});
