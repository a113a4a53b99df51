//! Host facts recorded in `run.json` (docs/design.md, "Data flow" step 1):
//! CPU, cores, caches, memory, kernel, cgroup layout and KVM.
//!
//! sysinfo supplies the portable facts; caches, the cgroup layout and the KVM
//! module come from sysfs and procfs, read under a root given as a parameter
//! so that tests can point the probe at a fake tree.

use isobench_reports::schema::{CacheInfo, HostInfo, KvmInfo};
use std::fs;
use std::path::Path;

/// Probe the real host.
pub fn probe() -> HostInfo {
    // sysinfo 0.40 returns an error where /proc cannot be read; the probe
    // then records what sysfs and procfs gave directly.
    let sys = sysinfo::System::new().ok().map(|mut s| {
        s.refresh_memory();
        s.refresh_cpu_all();
        s
    });
    let cpus = sys.as_ref().map(|s| s.cpus()).unwrap_or_default();
    let cpu_model = cpus
        .first()
        .map(|c| c.brand().trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into());
    let root = Path::new("/");
    HostInfo {
        hostname: sysinfo::System::host_name().unwrap_or_default(),
        cpu_model,
        cpu_mhz: cpu_mhz(root)
            .unwrap_or_else(|| cpus.first().map(|c| c.frequency() as f64).unwrap_or(0.0)),
        cores_logical: cpus.len().max(1),
        cores_physical: sysinfo::System::physical_core_count().ok(),
        caches: caches(root),
        memory_bytes: sys.as_ref().map(|s| s.total_memory()).unwrap_or(0),
        kernel: sysinfo::System::kernel_version().unwrap_or_default(),
        os: sysinfo::System::long_os_version().unwrap_or_default(),
        cgroup: cgroup_layout(&fs::read_to_string("/proc/self/mounts").unwrap_or_default())
            .to_string(),
        kvm: kvm(root),
    }
}

/// "cpu MHz" of the first CPU in `<root>/proc/cpuinfo` (the TSC rate the
/// guest kernel is told via `tsc_early_khz` comes from here too).
pub fn cpu_mhz(root: &Path) -> Option<f64> {
    let text = fs::read_to_string(root.join("proc/cpuinfo")).ok()?;
    parse_cpu_mhz(&text)
}

pub fn parse_cpu_mhz(cpuinfo: &str) -> Option<f64> {
    cpuinfo.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == "cpu MHz")
            .then(|| v.trim().parse().ok())
            .flatten()
    })
}

/// The last-level cache of cpu0 (highest level that is not an instruction
/// cache), bytes, under `root`.
pub fn llc_bytes(root: &Path) -> Option<u64> {
    caches(root)
        .iter()
        .filter(|c| c.kind != "Instruction")
        .max_by_key(|c| c.level)
        .map(|c| c.size_bytes)
}

/// MemAvailable of `<root>/proc/meminfo`, bytes.
pub fn mem_available_bytes(root: &Path) -> Option<u64> {
    let text = fs::read_to_string(root.join("proc/meminfo")).ok()?;
    isobench_workloads::sysfs::parse_mem_available(&text)
}

/// CPU caches of cpu0 from `<root>/sys/devices/system/cpu/cpu0/cache/index*`.
pub fn caches(root: &Path) -> Vec<CacheInfo> {
    let dir = root.join("sys/devices/system/cpu/cpu0/cache");
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(&dir) else {
        return out;
    };
    for e in entries.flatten() {
        if !e.file_name().to_string_lossy().starts_with("index") {
            continue;
        }
        let read = |f: &str| fs::read_to_string(e.path().join(f)).map(|s| s.trim().to_string());
        let (Ok(level), Ok(kind), Ok(size)) = (read("level"), read("type"), read("size")) else {
            continue;
        };
        if let (Ok(level), Some(size_bytes)) = (level.parse(), parse_cache_size(&size)) {
            out.push(CacheInfo {
                level,
                kind,
                size_bytes,
            });
        }
    }
    out.sort_by(|a, b| (a.level, &a.kind).cmp(&(b.level, &b.kind)));
    out
}

/// sysfs cache sizes look like `32K`, `512K`, `32768K`, sometimes `8M`.
pub fn parse_cache_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mul) = match s.chars().last()? {
        'K' => (&s[..s.len() - 1], 1024),
        'M' => (&s[..s.len() - 1], 1024 * 1024),
        'G' => (&s[..s.len() - 1], 1024 * 1024 * 1024),
        _ => (s, 1),
    };
    num.parse::<u64>().ok().map(|n| n * mul)
}

/// The cgroup layout from the text of /proc/self/mounts: `v1` (only v1
/// hierarchies), `v2` (only the unified hierarchy), `hybrid` (both) or `none`.
pub fn cgroup_layout(mounts: &str) -> &'static str {
    let mut v1 = false;
    let mut v2 = false;
    for l in mounts.lines() {
        match l.split_whitespace().nth(2) {
            Some("cgroup") => v1 = true,
            Some("cgroup2") => v2 = true,
            _ => {}
        }
    }
    match (v1, v2) {
        (true, true) => "hybrid",
        (true, false) => "v1",
        (false, true) => "v2",
        (false, false) => "none",
    }
}

/// Whether `/dev/kvm` exists and which module provides it.
pub fn kvm(root: &Path) -> KvmInfo {
    let module = ["kvm_pvm", "kvm_intel", "kvm_amd"]
        .into_iter()
        .find(|m| root.join("sys/module").join(m).exists())
        .map(str::to_string);
    KvmInfo {
        device: root.join("dev/kvm").exists(),
        module,
    }
}

/// One line describing the host, for plot titles and progress output.
pub fn one_line(h: &HostInfo) -> String {
    format!(
        "{} ({} cores, {:.0} GiB, Linux {})",
        h.cpu_model,
        h.cores_logical,
        h.memory_bytes as f64 / (1u64 << 30) as f64,
        h.kernel
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_layouts() {
        let v1 = "cgroup /sys/fs/cgroup/cpu cgroup rw 0 0\n";
        let v2 = "cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n";
        assert_eq!(cgroup_layout(v1), "v1");
        assert_eq!(cgroup_layout(v2), "v2");
        assert_eq!(cgroup_layout(&format!("{v1}{v2}")), "hybrid");
        assert_eq!(cgroup_layout("proc /proc proc rw 0 0\n"), "none");
    }

    #[test]
    fn cache_sizes() {
        assert_eq!(parse_cache_size("32K"), Some(32 * 1024));
        assert_eq!(parse_cache_size("32768K"), Some(32 << 20));
        assert_eq!(parse_cache_size("8M"), Some(8 << 20));
        assert_eq!(parse_cache_size("x"), None);
    }

    #[test]
    fn probes_a_fake_sysfs() {
        let t = tempfile::tempdir().unwrap();
        let idx = t.path().join("sys/devices/system/cpu/cpu0/cache/index3");
        fs::create_dir_all(&idx).unwrap();
        fs::write(idx.join("level"), "3\n").unwrap();
        fs::write(idx.join("type"), "Unified\n").unwrap();
        fs::write(idx.join("size"), "32768K\n").unwrap();
        fs::create_dir_all(t.path().join("sys/module/kvm_pvm")).unwrap();
        fs::create_dir_all(t.path().join("proc")).unwrap();
        fs::write(
            t.path().join("proc/cpuinfo"),
            "processor\t: 0\ncpu MHz\t\t: 2445.404\n",
        )
        .unwrap();
        let c = caches(t.path());
        assert_eq!(
            c,
            vec![CacheInfo {
                level: 3,
                kind: "Unified".into(),
                size_bytes: 32 << 20
            }]
        );
        let k = kvm(t.path());
        assert_eq!(k.module.as_deref(), Some("kvm_pvm"));
        assert!(!k.device);
        assert_eq!(cpu_mhz(t.path()), Some(2445.404));
    }
}
