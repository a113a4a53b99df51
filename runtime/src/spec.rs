//! A default OCI runtime config (as `runc spec` writes, without a terminal
//! and without a cgroup mount) that isorun, runc and crun all run: the
//! bundle isobench and the tests hand to every runtime.

use oci_spec::runtime::Spec;

/// Paths masked in every container (runc's defaults).
pub const MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
];

/// Paths made read-only in every container (runc's defaults).
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The default config as JSON, for tests that tweak fields.
pub fn default_json(args: &[String]) -> serde_json::Value {
    let caps = serde_json::json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    serde_json::json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": false},
        "hostname": "isobench",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]}
        ],
        "linux": {
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}
            ],
            // runc spec's rule: the config denies every device; the runtime
            // appends its standard allow list (cgroup::devices).
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "maskedPaths": MASKED_PATHS,
            "readonlyPaths": READONLY_PATHS
        }
    })
}

/// The config of `isorun spec --rootless` (as `runc spec --rootless`): the
/// default plus a user namespace with `maps`; devpts without `gid=5`
/// unless gid 5 is mapped; /sys bound from the host instead of a new sysfs
/// (which needs a network namespace of the user's own, as runc notes).
pub fn rootless_json(args: &[String], maps: &crate::userns::Mappings) -> serde_json::Value {
    let mut v = default_json(args);
    let conv = |m: &[crate::userns::IdMap]| -> serde_json::Value {
        m.iter()
            .map(|l| serde_json::json!({"containerID": l.container, "hostID": l.host, "size": l.size}))
            .collect()
    };
    v["linux"]["uidMappings"] = conv(&maps.uid);
    v["linux"]["gidMappings"] = conv(&maps.gid);
    if let Some(ns) = v["linux"]["namespaces"].as_array_mut() {
        ns.push(serde_json::json!({"type": "user"}));
    }
    // runc spec --rootless has no resources: an unprivileged caller has no
    // device cgroup to set (see cgroup::devices).
    if let Some(linux) = v["linux"].as_object_mut() {
        linux.remove("resources");
    }
    let gid5 = crate::userns::maps_id(&maps.gid, 5);
    if let Some(mounts) = v["mounts"].as_array_mut() {
        for m in mounts.iter_mut() {
            if m["type"] == "devpts" && !gid5 {
                if let Some(o) = m["options"].as_array_mut() {
                    o.retain(|x| x != "gid=5");
                }
            }
            if m["type"] == "sysfs" {
                *m = serde_json::json!({"destination": "/sys", "type": "none", "source": "/sys",
                    "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
            }
        }
    }
    v
}

/// The default config for a process running `args`.
pub fn default_spec(args: &[String]) -> Spec {
    serde_json::from_value(default_json(args)).expect("the default config is a valid spec")
}

pub use crate::bundle::write_config;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_validates() {
        let v = default_json(&["/bin/true".to_string()]);
        let plan = crate::config::parse(
            serde_json::to_string(&v).unwrap().as_bytes(),
            std::path::Path::new("/b/config.json"),
            std::path::Path::new("/b"),
            "x",
        )
        .unwrap();
        assert!(plan.namespaces.net && plan.namespaces.cgroup);
        assert_eq!(plan.masked_paths.len(), MASKED_PATHS.len());
        // Deny all first; config.rs adds its allow rules for the nodes.
        assert_eq!(plan.resources.devices[0].line(), "a *:* rwm");
        assert!(!plan.resources.devices[0].allow);
        let _ = default_spec(&["/bin/true".to_string()]);
    }

    #[test]
    fn rootless_config_has_a_user_namespace_and_validates() {
        let maps = crate::userns::default_maps(1000, 1000, None, None);
        let v = rootless_json(&["/bin/true".to_string()], &maps);
        let plan = crate::config::parse(
            serde_json::to_string(&v).unwrap().as_bytes(),
            std::path::Path::new("/b/config.json"),
            std::path::Path::new("/b"),
            "x",
        )
        .unwrap();
        assert!(plan.namespaces.user);
        assert!(plan.resources.devices.is_empty());
        assert_eq!(plan.userns, Some(maps));
        let devpts = plan.mounts.iter().find(|m| m.fstype == "devpts").unwrap();
        assert!(!devpts.data.contains("gid="), "{}", devpts.data);
        assert!(plan.mounts.iter().all(|m| m.fstype != "sysfs"));
    }
}
