//! The memory one instance costs the host, measured the same way in every
//! environment (claim C4): while the instance is idle at `ISOBENCH-READY`,
//! the PSS and USS of every process that belongs to it, summed, from
//! `/proc/PID/smaps_rollup`.
//!
//! - PSS (proportional set size): each resident page divided by the number
//!   of processes mapping it, so shared libraries and the page cache of a
//!   shared binary are split among their users instead of counted whole.
//! - USS (unique set size): `Private_Clean + Private_Dirty (+
//!   Private_Hugetlb)`, the memory that would be freed if the instance
//!   went away.
//!
//! Which processes belong to an instance is the caller's business (the
//! workload and its descendants natively; the container's init, its
//! descendants, its cgroup's members and any lingering runtime process;
//! QEMU and its descendants). The pure parts here take the proc root as a
//! parameter so that tests can build a fake `/proc` in a temporary directory.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One sentence, the same for every environment, stored as the startup
/// workload's `footprint_method` info.
pub const METHOD: &str = "PSS and USS (Private_Clean + Private_Dirty + Private_Hugetlb) from /proc/PID/smaps_rollup, summed over every process of the instance (workload, container init and cgroup members, lingering runtime processes, QEMU, and their descendants) while it idles after ISOBENCH-READY";

/// The figures of one process's `smaps_rollup`, KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rollup {
    pub rss_kib: u64,
    pub pss_kib: u64,
    pub uss_kib: u64,
}

/// The memory of a set of processes, summed; KiB.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Footprint {
    pub pss_kib: u64,
    pub uss_kib: u64,
    pub rss_kib: u64,
    /// The processes whose `smaps_rollup` was read and summed.
    pub pids: Vec<i32>,
}

impl Footprint {
    pub fn pss_mib(&self) -> f64 {
        self.pss_kib as f64 / 1024.0
    }
    pub fn uss_mib(&self) -> f64 {
        self.uss_kib as f64 / 1024.0
    }
}

/// Parse the text of `/proc/PID/smaps_rollup` (`Pss:  1234 kB` lines).
/// `None` when it carries no `Pss` line (not a rollup, or a kernel thread's
/// empty file).
pub fn parse_rollup(text: &str) -> Option<Rollup> {
    let mut r = Rollup::default();
    let mut saw_pss = false;
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let Some(kib) = rest
            .trim()
            .strip_suffix("kB")
            .and_then(|v| v.trim().parse::<u64>().ok())
        else {
            continue;
        };
        match key.trim() {
            "Rss" => r.rss_kib += kib,
            "Pss" => {
                r.pss_kib += kib;
                saw_pss = true;
            }
            "Private_Clean" | "Private_Dirty" | "Private_Hugetlb" => r.uss_kib += kib,
            _ => {}
        }
    }
    saw_pss.then_some(r)
}

/// The parent pid from the text of `/proc/PID/stat`. The command name (field
/// 2) is in parentheses and may itself hold spaces and parentheses, so the
/// fields are counted from the last `)`.
pub fn parse_stat_ppid(stat: &str) -> Option<i32> {
    stat_fields_after_comm(stat)?.get(1)?.parse().ok()
}

/// The process group id from the text of `/proc/PID/stat`.
pub fn parse_stat_pgid(stat: &str) -> Option<i32> {
    stat_fields_after_comm(stat)?.get(2)?.parse().ok()
}

/// Fields 3.. of a stat line (state, ppid, pgrp, ...).
fn stat_fields_after_comm(stat: &str) -> Option<Vec<&str>> {
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().collect())
}

/// The pids listed under `proc_root` (numeric directory names) with their
/// `stat` text; processes that vanish while being listed are skipped.
fn processes(proc_root: &Path) -> Vec<(i32, String)> {
    let Ok(rd) = std::fs::read_dir(proc_root) else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            Some((pid, stat))
        })
        .collect()
}

/// `roots` (those that exist under `proc_root`) and all their descendants,
/// following the ppid fields of `/proc/*/stat`.
pub fn descendants(proc_root: &Path, roots: &[i32]) -> BTreeSet<i32> {
    let procs = processes(proc_root);
    let mut children: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    let mut alive = BTreeSet::new();
    for (pid, stat) in &procs {
        alive.insert(*pid);
        if let Some(ppid) = parse_stat_ppid(stat) {
            children.entry(ppid).or_default().push(*pid);
        }
    }
    let mut out = BTreeSet::new();
    let mut todo: Vec<i32> = roots
        .iter()
        .copied()
        .filter(|p| alive.contains(p))
        .collect();
    while let Some(p) = todo.pop() {
        if out.insert(p) {
            if let Some(c) = children.get(&p) {
                todo.extend(c);
            }
        }
    }
    out
}

/// `roots` (those alive) and their descendants, following the kernel's
/// `/proc/PID/task/TID/children` lists: proportional to the size of the
/// tree, not to the number of processes on the host (a density experiment
/// measures each of 1,000 instances). Falls back to [`descendants`] when
/// the kernel lacks `CONFIG_PROC_CHILDREN`.
pub fn tree(proc_root: &Path, roots: &[i32]) -> BTreeSet<i32> {
    let mut out = BTreeSet::new();
    let mut todo: Vec<i32> = roots.to_vec();
    while let Some(pid) = todo.pop() {
        let Ok(tasks) = std::fs::read_dir(proc_root.join(pid.to_string()).join("task")) else {
            continue; // gone
        };
        if !out.insert(pid) {
            continue;
        }
        for t in tasks.flatten() {
            match std::fs::read_to_string(t.path().join("children")) {
                Ok(text) => todo.extend(
                    text.split_whitespace()
                        .filter_map(|c| c.parse::<i32>().ok()),
                ),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return descendants(proc_root, roots);
                }
                Err(_) => {}
            }
        }
    }
    out
}

/// Every process under `proc_root` in process group `pgid`.
pub fn group_members(proc_root: &Path, pgid: i32) -> BTreeSet<i32> {
    if pgid <= 1 {
        return BTreeSet::new();
    }
    processes(proc_root)
        .into_iter()
        .filter(|(_, stat)| parse_stat_pgid(stat) == Some(pgid))
        .map(|(pid, _)| pid)
        .collect()
}

/// Every process under `proc_root` whose command line names `needle`: an
/// argument equal to it or holding it between `/`, `=`, `:` or `,` (a
/// container id in `--id=ID` or `.../ID/...`; `id-1` does not match
/// `id-12`), except `except` (the caller itself).
pub fn cmdline_mentions(proc_root: &Path, needle: &str, except: i32) -> BTreeSet<i32> {
    let Ok(rd) = std::fs::read_dir(proc_root) else {
        return BTreeSet::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            if pid == except {
                return None;
            }
            let cl = std::fs::read(e.path().join("cmdline")).ok()?;
            cl.split(|&b| b == 0)
                .any(|arg| {
                    String::from_utf8_lossy(arg)
                        .split(['/', '=', ':', ','])
                        .any(|tok| tok == needle)
                })
                .then_some(pid)
        })
        .collect()
}

/// The pids in `cgroup.procs` of the cgroup at `path` (relative to the
/// hierarchy) under `cgroup_root`: the memory controller's v1 hierarchy,
/// the v2 unified hierarchy mounted at the root, or a hybrid host's
/// `unified`. The first of them that exists and lists a process wins.
pub fn cgroup_procs(cgroup_root: &Path, path: &str) -> BTreeSet<i32> {
    let rel = path.trim_start_matches('/');
    for dir in [
        cgroup_root.join("memory").join(rel),
        cgroup_root.join(rel),
        cgroup_root.join("unified").join(rel),
    ] {
        let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) else {
            continue;
        };
        let pids: BTreeSet<i32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
        if !pids.is_empty() {
            return pids;
        }
    }
    BTreeSet::new()
}

/// Sum the `smaps_rollup` of `pids` under `proc_root`. Processes that are
/// gone (or have no memory map: kernel threads, zombies) are left out of
/// the sum and of `pids`.
pub fn measure(proc_root: &Path, pids: &BTreeSet<i32>) -> Footprint {
    let mut f = Footprint::default();
    for &pid in pids {
        let path = proc_root.join(pid.to_string()).join("smaps_rollup");
        let Some(r) = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| parse_rollup(&t))
        else {
            continue;
        };
        f.pss_kib += r.pss_kib;
        f.uss_kib += r.uss_kib;
        f.rss_kib += r.rss_kib;
        f.pids.push(pid);
    }
    f
}

/// The host's `/proc`.
pub const PROC: &str = "/proc";

/// `root` and its descendants, measured on this host; `None` when `root`
/// itself could not be measured (it already exited).
pub fn measure_tree(root: i32) -> Option<Footprint> {
    let proc_root = Path::new(PROC);
    let f = measure(proc_root, &descendants(proc_root, &[root]));
    f.pids.contains(&root).then_some(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLLUP: &str = "\
55d0c0a00000-7ffd3a5ff000 ---p 00000000 00:00 0                          [rollup]
Rss:                1140 kB
Pss:                 400 kB
Pss_Anon:            100 kB
Pss_File:            300 kB
Pss_Shmem:             0 kB
Shared_Clean:        900 kB
Shared_Dirty:          0 kB
Private_Clean:        40 kB
Private_Dirty:       200 kB
Referenced:         1140 kB
Anonymous:           200 kB
LazyFree:              0 kB
AnonHugePages:         0 kB
ShmemPmdMapped:        0 kB
FilePmdMapped:         0 kB
Shared_Hugetlb:        0 kB
Private_Hugetlb:    2048 kB
Swap:                  0 kB
SwapPss:               0 kB
Locked:                0 kB
";

    #[test]
    fn rollup_is_parsed_pss_and_uss() {
        let r = parse_rollup(ROLLUP).unwrap();
        assert_eq!(r.pss_kib, 400);
        // Pss_Anon etc. are not added to Pss.
        assert_eq!(r.uss_kib, 40 + 200 + 2048);
        assert_eq!(r.rss_kib, 1140);
        assert_eq!(parse_rollup(""), None);
        assert_eq!(parse_rollup("Rss: 10 kB\n"), None);
    }

    #[test]
    fn stat_fields_survive_odd_command_names() {
        let s = "42 (a) b (c)) S 7 42 42 0 -1 4194560 0 0";
        assert_eq!(parse_stat_ppid(s), Some(7));
        assert_eq!(parse_stat_pgid(s), Some(42));
        assert_eq!(parse_stat_ppid("1 (init) S 0 1 1 0"), Some(0));
        assert_eq!(parse_stat_ppid("garbage"), None);
    }

    /// One process of a fake /proc: (pid, ppid, pgid, cmdline, Some((pss,
    /// uss)) for a smaps_rollup).
    type FakeProc<'a> = (i32, i32, i32, &'a str, Option<(u64, u64)>);

    fn fake_proc(procs: &[FakeProc]) -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        for &(pid, ppid, pgid, cmdline, mem) in procs {
            let d = tmp.path().join(pid.to_string());
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(
                d.join("stat"),
                format!("{pid} (p {pid}) S {ppid} {pgid} {pgid} 0 -1 0 0 0"),
            )
            .unwrap();
            std::fs::write(d.join("cmdline"), cmdline.replace(' ', "\0") + "\0").unwrap();
            if let Some((pss, uss)) = mem {
                std::fs::write(
                    d.join("smaps_rollup"),
                    format!(
                        "0-1 ---p 0 00:00 0 [rollup]\nRss: {} kB\nPss: {pss} kB\nPrivate_Clean: 0 kB\nPrivate_Dirty: {uss} kB\n",
                        pss * 2
                    ),
                )
                .unwrap();
            }
        }
        // Things in /proc that are not processes.
        std::fs::create_dir_all(tmp.path().join("sys")).unwrap();
        std::fs::write(tmp.path().join("uptime"), "1.0 1.0\n").unwrap();
        tmp
    }

    fn set(v: &[i32]) -> BTreeSet<i32> {
        v.iter().copied().collect()
    }

    #[test]
    fn descendants_follow_ppid_through_generations() {
        let p = fake_proc(&[
            (1, 0, 1, "init", Some((1, 1))),
            (
                10,
                1,
                10,
                "runtime create --root=/s/id-7/x id-7",
                Some((1, 1)),
            ),
            (14, 1, 14, "shim --id=id-70", Some((1, 1))),
            (11, 10, 10, "runtime init", Some((100, 80))),
            (12, 11, 10, "child", Some((20, 10))),
            (13, 12, 12, "grandchild", Some((5, 5))),
            (20, 1, 20, "unrelated", Some((999, 999))),
        ]);
        assert_eq!(descendants(p.path(), &[11]), set(&[11, 12, 13]));
        assert_eq!(descendants(p.path(), &[10]), set(&[10, 11, 12, 13]));
        assert_eq!(descendants(p.path(), &[1]).len(), 7);
        // Gone roots are dropped; several roots merge.
        assert_eq!(descendants(p.path(), &[99]), set(&[]));
        assert_eq!(descendants(p.path(), &[13, 20, 99]), set(&[13, 20]));
        assert_eq!(group_members(p.path(), 10), set(&[10, 11, 12]));
        assert_eq!(group_members(p.path(), 1), set(&[]));
        assert_eq!(cmdline_mentions(p.path(), "id-7", 0), set(&[10]));
        assert_eq!(cmdline_mentions(p.path(), "id-70", 0), set(&[14]));
        assert_eq!(cmdline_mentions(p.path(), "id-7", 10), set(&[]));
    }

    #[test]
    fn tree_follows_children_lists_and_falls_back() {
        let tmp = tempfile::tempdir().unwrap();
        let add = |pid: i32, children: &str| {
            let d = tmp.path().join(format!("{pid}/task/{pid}"));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("children"), children).unwrap();
        };
        add(10, "11 12 ");
        add(11, "13 ");
        add(12, "");
        add(13, "99 ");
        add(20, "");
        assert_eq!(tree(tmp.path(), &[10]), set(&[10, 11, 12, 13]));
        assert_eq!(tree(tmp.path(), &[11, 20, 98]), set(&[11, 13, 20]));
        // Without children files: the ppid walk of `descendants`.
        let p = fake_proc(&[(1, 0, 1, "a", None), (2, 1, 1, "b", None)]);
        std::fs::create_dir_all(p.path().join("1/task/1")).unwrap();
        assert_eq!(tree(p.path(), &[1]), set(&[1, 2]));
    }

    #[test]
    fn measure_sums_what_exists() {
        let p = fake_proc(&[
            (11, 1, 11, "a", Some((100, 80))),
            (12, 11, 11, "b", Some((20, 10))),
            (13, 11, 11, "zombie", None),
        ]);
        let f = measure(p.path(), &set(&[11, 12, 13, 14]));
        assert_eq!(f.pss_kib, 120);
        assert_eq!(f.uss_kib, 90);
        assert_eq!(f.rss_kib, 240);
        assert_eq!(f.pids, vec![11, 12]);
        assert!((f.pss_mib() - 120.0 / 1024.0).abs() < 1e-9);
    }

    #[test]
    fn cgroup_procs_v1_memory_then_v2() {
        let tmp = tempfile::tempdir().unwrap();
        let v2 = tmp.path().join("isobench/c1");
        std::fs::create_dir_all(&v2).unwrap();
        std::fs::write(v2.join("cgroup.procs"), "5\n6\n").unwrap();
        assert_eq!(cgroup_procs(tmp.path(), "/isobench/c1"), set(&[5, 6]));
        let v1 = tmp.path().join("memory/isobench/c1");
        std::fs::create_dir_all(&v1).unwrap();
        std::fs::write(v1.join("cgroup.procs"), "7\n").unwrap();
        assert_eq!(cgroup_procs(tmp.path(), "/isobench/c1"), set(&[7]));
        assert_eq!(cgroup_procs(tmp.path(), "/isobench/none"), set(&[]));
    }

    #[test]
    fn a_real_sleep_has_pss_and_uss_within_it() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        // Wait for the exec to finish (the forked copy of the test binary
        // would be measured otherwise).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|c| c.trim() != "sleep")
            .unwrap_or(true)
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let f = measure_tree(pid);
        let _ = child.kill();
        let _ = child.wait();
        let f = f.expect("sleep measured");
        assert_eq!(f.pids, vec![pid]);
        assert!(f.pss_kib > 0, "{f:?}");
        assert!(f.uss_kib <= f.pss_kib, "{f:?}");
        assert!(f.pss_kib <= f.rss_kib, "{f:?}");
        // Gone: no footprint.
        assert_eq!(measure_tree(pid), None);
    }
}
