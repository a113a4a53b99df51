//! Control groups: cgroup v1 (one hierarchy per controller, Documentation/
//! admin-guide/cgroup-v1) and v2 (one unified hierarchy, Documentation/
//! admin-guide/cgroup-v2.rst) behind one interface.
//!
//! Which one is used follows what the host mounts, read from
//! /proc/self/mountinfo: a "hybrid" host (v1 controllers plus a cgroup2 mount
//! at /sys/fs/cgroup/unified that holds no controller isorun needs) uses v1.
//! Every path is a parameter, so the logic is tested against a fake cgroupfs
//! in a temporary directory.

pub mod devices;
pub mod v1;
pub mod v2;

use crate::config::Resources;
use crate::error::{io, Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The cgroup layout of a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Hierarchy {
    /// controller name → mount point of its hierarchy.
    V1(BTreeMap<String, PathBuf>),
    /// mount point of the unified hierarchy.
    V2(PathBuf),
}

/// v1 controllers isorun may use.
const V1_CONTROLLERS: &[&str] = &[
    "memory", "pids", "cpu", "cpuacct", "cpuset", "devices", "blkio",
];

/// Work out the layout from the text of /proc/self/mountinfo (proc(5)).
pub fn detect_from_mountinfo(text: &str) -> Option<Hierarchy> {
    let mut v1 = BTreeMap::new();
    let mut v2 = None;
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let fields: Vec<&str> = left.split(' ').collect();
        let rfields: Vec<&str> = right.split(' ').collect();
        if fields.len() < 5 || rfields.len() < 3 {
            continue;
        }
        let mountpoint = PathBuf::from(unescape(fields[4]));
        match rfields[0] {
            "cgroup" => {
                for opt in rfields[2].split(',') {
                    if V1_CONTROLLERS.contains(&opt) {
                        v1.entry(opt.to_string())
                            .or_insert_with(|| mountpoint.clone());
                    }
                }
            }
            "cgroup2" if v2.is_none() => v2 = Some(mountpoint),
            _ => {}
        }
    }
    if v1.contains_key("memory") {
        Some(Hierarchy::V1(v1))
    } else {
        v2.map(Hierarchy::V2)
    }
}

fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Detect the host's layout.
pub fn detect() -> Result<Hierarchy> {
    let path = Path::new("/proc/self/mountinfo");
    let text = read_proc(path).map_err(io("read", path))?;
    detect_from_mountinfo(&text).ok_or_else(|| Error::Cgroup {
        path: "/sys/fs/cgroup".into(),
        msg: "no cgroup v1 memory hierarchy and no cgroup2 mount found".into(),
    })
}

/// A container's cgroup: the directories it made, one per v1 controller
/// or one in v2. Kept in the state file so `delete` needs no detection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cgroup {
    pub version: u8,
    /// Leaf directories (v1: one per controller used).
    pub dirs: Vec<PathBuf>,
}

impl Cgroup {
    /// Create the cgroup at `rel` (e.g. "/isorun/c1") and write its limits.
    /// On error nothing is left behind.
    pub fn create(h: &Hierarchy, rel: &str, res: &Resources) -> Result<Cgroup> {
        match h {
            Hierarchy::V1(m) => v1::create(m, rel, res),
            Hierarchy::V2(root) => v2::create(root, rel, res),
        }
    }

    /// The directories `create` would use (for cleanup after a crash).
    pub fn planned(h: &Hierarchy, rel: &str, res: &Resources) -> Cgroup {
        match h {
            Hierarchy::V1(m) => Cgroup {
                version: 1,
                dirs: v1::controllers(m, rel, res)
                    .into_iter()
                    .map(|(_, p)| join(&p, rel))
                    .collect(),
            },
            Hierarchy::V2(root) => Cgroup {
                version: 2,
                dirs: vec![join(root, rel)],
            },
        }
    }

    /// Move `pid` into the cgroup.
    pub fn add(&self, pid: i32) -> Result<()> {
        let s = pid.to_string();
        for d in &self.dirs {
            write(d, "cgroup.procs", &s)?;
        }
        Ok(())
    }

    /// Move the calling process (single-threaded) into the cgroup: v1
    /// `tasks` with "0" moves just the caller without the global
    /// threadgroup lock; v2 `cgroup.procs` with "0".
    pub fn join_self(&self) -> Result<()> {
        let file = if self.version == 1 {
            "tasks"
        } else {
            "cgroup.procs"
        };
        for d in &self.dirs {
            write(d, file, "0")?;
        }
        Ok(())
    }

    /// Processes in the cgroup.
    pub fn pids(&self) -> Vec<i32> {
        let mut out = Vec::new();
        for d in &self.dirs {
            if let Ok(t) = read_proc(&d.join("cgroup.procs")) {
                out.extend(t.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// How many times the kernel's OOM killer killed a process of this
    /// cgroup (v1 memory.oom_control `oom_kill`, v2 memory.events).
    pub fn oom_kills(&self) -> Option<u64> {
        let (file, key) = if self.version == 1 {
            ("memory.oom_control", "oom_kill")
        } else {
            ("memory.events", "oom_kill")
        };
        self.dirs.iter().find_map(|d| {
            let t = read_proc(&d.join(file)).ok()?;
            parse_keyed(&t, key)
        })
    }

    /// Remove the directories. A cgroup whose last task just died may stay
    /// busy for a moment while the kernel releases it: retry briefly.
    pub fn remove(&self) -> Result<()> {
        for d in &self.dirs {
            let mut tries = 0;
            loop {
                match std::fs::remove_dir(d) {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 200 => {
                        tries += 1;
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                    Err(e) => return Err(io("rmdir", d)(e)),
                }
            }
            // isorun's own default parent goes with its last container, so
            // nothing is left behind. Another container may be using it or
            // creating its leaf right now: then rmdir fails (ENOTEMPTY) or
            // the creator retries (see `mkdirs`). Parents named by a
            // config's cgroupsPath belong to whoever chose them: left alone.
            if let Some(parent) = d.parent() {
                if parent.file_name().is_some_and(|n| n == DEFAULT_PARENT) {
                    let _ = std::fs::remove_dir(parent);
                }
            }
        }
        Ok(())
    }
}

/// Read a procfs or cgroupfs file whole. These report a size of 0, so
/// `read_to_string` starts with a 32-byte read and grows from there (eight
/// read calls for a short /proc/self/mountinfo): one 16 KiB buffer takes
/// them in one or two.
pub fn read_proc(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut s = String::with_capacity(16 << 10);
    std::fs::File::open(path)?.read_to_string(&mut s)?;
    Ok(s)
}

/// `key N` lines (memory.events, memory.oom_control).
pub fn parse_keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// `root` joined with an absolute cgroup path.
pub fn join(root: &Path, rel: &str) -> PathBuf {
    root.join(rel.trim_start_matches('/'))
}

/// Write one cgroup interface file; the error names file and value.
pub fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    let p = dir.join(file);
    std::fs::write(&p, value).map_err(|e| Error::Cgroup {
        path: p,
        msg: format!("writing {value:?}: {e}"),
    })
}

pub use crate::config::DEFAULT_PARENT;

/// mkdir -p, returning the directories that were newly made (deepest last).
/// A parent removed under our feet by the delete of its last other
/// container (ENOENT on the next level) is made again.
pub fn mkdirs(root: &Path, rel: &str) -> Result<Vec<PathBuf>> {
    let mut attempts = 0;
    'again: loop {
        let mut made = Vec::new();
        let mut p = root.to_path_buf();
        for c in rel.split('/').filter(|c| !c.is_empty()) {
            p.push(c);
            match std::fs::create_dir(&p) {
                Ok(()) => made.push(p.clone()),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempts < 10 => {
                    attempts += 1;
                    continue 'again;
                }
                Err(e) => return Err(io("mkdir", &p)(e)),
            }
        }
        return Ok(made);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_container_takes_the_isorun_parent_with_it_but_no_other() {
        let t = tempfile::tempdir().unwrap();
        let leaf = |p: &str| t.path().join("memory").join(p);
        for p in ["isorun/a", "isorun/b", "mine/c"] {
            std::fs::create_dir_all(leaf(p)).unwrap();
        }
        let cg = |p: &str| Cgroup {
            version: 1,
            dirs: vec![leaf(p)],
        };
        cg("isorun/a").remove().unwrap();
        assert!(leaf("isorun").is_dir(), "b still lives in it");
        cg("isorun/b").remove().unwrap();
        assert!(!leaf("isorun").exists());
        cg("mine/c").remove().unwrap();
        assert!(leaf("mine").is_dir(), "a parent named by a config stays");
        // A parent that vanished between levels is made again.
        assert_eq!(
            mkdirs(&t.path().join("memory"), "/isorun/d").unwrap().len(),
            2
        );
    }

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn hybrid_host_uses_v1() {
        match detect_from_mountinfo(HYBRID).unwrap() {
            Hierarchy::V1(m) => {
                assert_eq!(m["memory"], Path::new("/sys/fs/cgroup/memory"));
                assert_eq!(m["pids"], Path::new("/sys/fs/cgroup/pids"));
                assert!(!m.contains_key("name=systemd"));
            }
            h => panic!("{h:?}"),
        }
    }

    #[test]
    fn unified_host_uses_v2() {
        let t = "30 23 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            detect_from_mountinfo(t),
            Some(Hierarchy::V2(PathBuf::from("/sys/fs/cgroup")))
        );
        assert_eq!(
            detect_from_mountinfo("1 0 8:1 / / rw - ext4 /dev/sda rw\n"),
            None
        );
    }

    #[test]
    fn keyed_files_parse() {
        assert_eq!(
            parse_keyed("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "oom_kill"),
            Some(3)
        );
        assert_eq!(parse_keyed("low 0\noom 1\n", "oom_kill"), None);
    }
}
