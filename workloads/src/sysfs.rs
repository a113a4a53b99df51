//! Facts read from sysfs and procfs: the last-level cache size (STREAM sizes
//! its arrays from it), the transparent huge page mode (it changes what the
//! pointer chase measures at large working sets) and the memory available
//! (a kernel that overcommits would otherwise let a too-large run die in the
//! OOM killer, or panic a guest whose init it is).
//!
//! Reading files is kept apart from parsing their text; the directory is a
//! parameter so tests use a fake tree.

use crate::error::{memory, Error};
use std::fs;
use std::path::Path;

/// Where cpu0's caches are described.
pub const CPU0_CACHE_DIR: &str = "/sys/devices/system/cpu/cpu0/cache";
/// The transparent huge page mode.
pub const THP_ENABLED: &str = "/sys/kernel/mm/transparent_hugepage/enabled";

/// Parse a sysfs cache size such as `32768K`, `512K`, `8M` into bytes.
pub fn parse_cache_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.as_bytes().last()? {
        b'K' | b'k' => (&s[..s.len() - 1], 1u64 << 10),
        b'M' | b'm' => (&s[..s.len() - 1], 1 << 20),
        b'G' | b'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.trim().parse::<u64>().ok()?.checked_mul(mult)
}

/// One cache as sysfs describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheInfo {
    pub level: u32,
    pub kind: String,
    pub size: u64,
}

/// All data/unified caches under `dir` (`.../cpu0/cache`), in index order.
pub fn read_caches(dir: &Path) -> Vec<CacheInfo> {
    let mut out = Vec::new();
    for i in 0..16 {
        let d = dir.join(format!("index{i}"));
        let read = |f: &str| fs::read_to_string(d.join(f)).ok();
        let (Some(level), Some(kind), Some(size)) = (read("level"), read("type"), read("size"))
        else {
            continue;
        };
        let (Ok(level), Some(size)) = (level.trim().parse::<u32>(), parse_cache_size(&size)) else {
            continue;
        };
        let kind = kind.trim().to_string();
        if kind == "Instruction" {
            continue;
        }
        out.push(CacheInfo { level, kind, size });
    }
    out
}

/// The size of the highest-level data or unified cache under `dir`.
pub fn last_level_cache(dir: &Path) -> Option<CacheInfo> {
    read_caches(dir)
        .into_iter()
        .max_by_key(|c| (c.level, c.size))
}

/// The selected mode in `always [madvise] never` form.
pub fn parse_thp(s: &str) -> Option<String> {
    let start = s.find('[')?;
    let end = s[start..].find(']')? + start;
    Some(s[start + 1..end].to_string())
}

/// The transparent huge page mode of this host, or `unknown`.
pub fn thp_mode() -> String {
    fs::read_to_string(THP_ENABLED)
        .ok()
        .and_then(|s| parse_thp(&s))
        .unwrap_or_else(|| "unknown".into())
}

/// Where the kernel reports memory.
pub const MEMINFO: &str = "/proc/meminfo";

/// `MemAvailable` in bytes from the text of /proc/meminfo.
pub fn parse_mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let mut it = line.split_whitespace().skip(1);
    let n: u64 = it.next()?.parse().ok()?;
    match it.next() {
        Some("kB") => n.checked_mul(1024),
        None => Some(n),
        Some(_) => None,
    }
}

/// Fail with a clear message when `need` bytes exceed what `meminfo`
/// (the text of /proc/meminfo) says is available. Unknown = no check.
pub fn check_memory(need: u64, meminfo: Option<&str>) -> Result<(), Error> {
    let Some(avail) = meminfo.and_then(parse_mem_available) else {
        return Ok(());
    };
    if need > avail {
        return Err(memory!(
            "needs {} MiB of memory but only {} MiB is available (use a smaller size, or give a VM more memory)",
            need >> 20,
            avail >> 20
        ));
    }
    Ok(())
}

/// [`check_memory`] against this system's /proc/meminfo.
pub fn check_memory_here(need: u64) -> Result<(), Error> {
    check_memory(need, fs::read_to_string(MEMINFO).ok().as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_sizes_parse() {
        assert_eq!(parse_cache_size("32768K\n"), Some(32 << 20));
        assert_eq!(parse_cache_size("8M"), Some(8 << 20));
        assert_eq!(parse_cache_size("4096"), Some(4096));
        assert_eq!(parse_cache_size("K"), None);
        assert_eq!(parse_cache_size(""), None);
    }

    #[test]
    fn llc_is_highest_non_instruction_level() {
        let dir = std::env::temp_dir().join(format!("isobench-sysfs-test-{}", std::process::id()));
        let entries = [
            ("index0", "1", "Data", "32K"),
            ("index1", "1", "Instruction", "32K"),
            ("index2", "2", "Unified", "512K"),
            ("index3", "3", "Unified", "32768K"),
        ];
        for (idx, level, kind, size) in entries {
            let d = dir.join(idx);
            fs::create_dir_all(&d).unwrap();
            fs::write(d.join("level"), format!("{level}\n")).unwrap();
            fs::write(d.join("type"), format!("{kind}\n")).unwrap();
            fs::write(d.join("size"), format!("{size}\n")).unwrap();
        }
        let llc = last_level_cache(&dir).unwrap();
        assert_eq!((llc.level, llc.size), (3, 32 << 20));
        assert_eq!(read_caches(&dir).len(), 3);
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(last_level_cache(&dir), None);
    }

    #[test]
    fn memory_check() {
        let mi = "MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:    1048576 kB\n";
        assert_eq!(parse_mem_available(mi), Some(1 << 30));
        assert_eq!(parse_mem_available("MemTotal: 5 kB\n"), None);
        assert!(check_memory(512 << 20, Some(mi)).is_ok());
        let e = check_memory(2 << 30, Some(mi)).unwrap_err().to_string();
        assert!(
            e.contains("needs 2048 MiB") && e.contains("only 1024 MiB"),
            "{e}"
        );
        assert!(check_memory(u64::MAX, None).is_ok());
    }

    #[test]
    fn thp_mode_parses() {
        assert_eq!(
            parse_thp("always [madvise] never\n").as_deref(),
            Some("madvise")
        );
        assert_eq!(parse_thp("garbage"), None);
    }
}
