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
            "maskedPaths": MASKED_PATHS,
            "readonlyPaths": READONLY_PATHS
        }
    })
}

/// The default config for a process running `args`.
pub fn default_spec(args: &[String]) -> Spec {
    serde_json::from_value(default_json(args)).expect("the default config is a valid spec")
}

/// Write `config.json` into `bundle`.
pub fn write_config(bundle: &std::path::Path, config: &serde_json::Value) -> crate::Result<()> {
    let p = bundle.join("config.json");
    std::fs::write(
        &p,
        serde_json::to_vec_pretty(config).expect("json serializes"),
    )
    .map_err(crate::error::io("write", p))
}

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
        let _ = default_spec(&["/bin/true".to_string()]);
    }
}
