//! Runtime spec config "Linux: Control groups" (`linux.resources`),
//! `linux.sysctl` and the device cgroup (runtime-tools:
//! linux_cgroups_memory, linux_cgroups_pids, linux_cgroups_cpus,
//! linux_cgroups_devices, linux_cgroups_relative_*, linux_sysctl).
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
    // The parent the runtime made is left to whoever made it (as runc).
    for d in [
        "pids", "memory", "cpu", "cpuset", "devices", "freezer", "blkio", "",
    ] {
        let _ = std::fs::remove_dir(
            PathBuf::from("/sys/fs/cgroup")
                .join(d)
                .join("h19e-conformance"),
        );
    }
    Ok(())
});

/// Open a block device node (b 7:0, a loop device) in a container with
/// `rules` as `linux.resources.devices`; the shell's error, if any.
fn open_loop(rt: &crate::harness::Runtime, name: &str, rules: serde_json::Value) -> Result<String> {
    let mut ct = Ct::new(rt, name, "(: < /dev/conf-loop) 2>&1; echo end");
    ct.edit(|v| {
        v["linux"]["devices"] =
            json!([{"path": "/dev/conf-loop", "type": "b", "major": 7, "minor": 0, "fileMode": 0o600}]);
        v["linux"]["resources"] = json!({ "devices": rules });
    });
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
