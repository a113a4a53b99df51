//! Reading what a sweep decides on: processes (`/proc`), container cgroups
//! (every hierarchy under the cgroup root), runtime state roots, the mount
//! table and the registry. Every root is a parameter, so tests build fake
//! trees in a temporary directory; the parsers are pure functions.

use super::naming::{self, CGROUP_PARENT};
use super::registry::{self, Record};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// The roots a sweep reads (and acts on).
#[derive(Debug, Clone)]
pub struct Roots {
    /// `/proc`
    pub proc: PathBuf,
    /// `/sys/fs/cgroup`: a cgroup2 mount, or a directory of v1 (and hybrid
    /// cgroup2) hierarchies.
    pub cgroup: PathBuf,
    /// The registry of live runs.
    pub registry: PathBuf,
    /// Runtime state roots shared by every user of a runtime (`/run/runc`,
    /// `/run/crun`, `/run/isorun`), each with the runtime that reads it.
    pub shared_state: Vec<StateRoot>,
    /// Where a root run keeps its rootless columns (one directory per run
    /// pid, `/run/isobench/rootless`), when the sweeper may act there.
    pub user_scratch: Option<PathBuf>,
    /// The docker CLI, when the sweep looks for isobench's labelled
    /// containers and images (root only).
    pub docker_bin: Option<PathBuf>,
    /// Where runs save the daemon.json they change (root only).
    pub docker_backups: Option<PathBuf>,
}

/// A runtime's state root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRoot {
    pub runtime: String,
    /// The runtime binary, when it was found.
    pub bin: Option<PathBuf>,
    pub root: PathBuf,
}

/// A process, as much of it as a sweep needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proc {
    pub pid: i32,
    pub ppid: i32,
    pub start_ticks: u64,
    pub comm: String,
    pub cmdline: Vec<String>,
}

/// A cgroup directory named after a container of the scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupDir {
    pub path: PathBuf,
    /// Container id (its last component).
    pub id: String,
    /// When it was made (seconds since the epoch), if known.
    pub made_s: Option<u64>,
    /// Directories below it, and it, deepest first.
    pub tree: Vec<PathBuf>,
    /// Members of every directory of `tree`.
    pub procs: Vec<i32>,
}

/// A container found in a state root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateEntry {
    pub state: StateRoot,
    pub id: String,
    pub made_s: Option<u64>,
}

/// Everything a sweep decides on, read at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub me: i32,
    pub records: Vec<(PathBuf, Record)>,
    pub bad_records: Vec<PathBuf>,
    pub procs: BTreeMap<i32, Proc>,
    /// `btime` of `/proc/stat` and clock ticks per second: turn a
    /// process's start ticks into seconds since the epoch.
    pub boot_s: u64,
    pub clk_tck: u64,
    /// `<hierarchy>/isobench` directories that exist.
    pub cgroup_parents: Vec<PathBuf>,
    pub cgroups: Vec<CgroupDir>,
    pub containers: Vec<StateEntry>,
    pub mountinfo: String,
    /// Per-run directories of rootless columns that no record names: (the
    /// pid in their name, the directory, when it was made).
    pub orphan_user_scratch: Vec<(i32, PathBuf, Option<u64>)>,
    /// isobench's labelled Docker containers and images.
    pub docker: Vec<super::docker::DockerObject>,
    /// daemon.json files saved by runs that registered isorun.
    pub docker_backups: Vec<super::docker::DaemonJsonBackup>,
}

/// Fields of `/proc/<pid>/stat`: (ppid, start time in ticks). The command
/// name, in parentheses, may hold spaces and parentheses: split after the
/// last `)`.
pub fn parse_stat(text: &str) -> Option<(i32, u64)> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state): ppid is field 4, starttime field 22.
    Some((f.get(1)?.parse().ok()?, f.get(19)?.parse().ok()?))
}

/// `btime` from `/proc/stat`.
pub fn parse_btime(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
}

/// Mount points of a mountinfo table, in table order (octal escapes such
/// as `\040` decoded).
pub fn mount_points(mountinfo: &str) -> Vec<PathBuf> {
    mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(|p| PathBuf::from(unescape(p))))
        .collect()
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One process from `<proc>/<pid>`; `None` when it is gone.
pub fn read_proc(proc: &Path, pid: i32) -> Option<Proc> {
    let d = proc.join(pid.to_string());
    let (ppid, start_ticks) = parse_stat(&std::fs::read_to_string(d.join("stat")).ok()?)?;
    let comm = std::fs::read_to_string(d.join("comm"))
        .map(|s| s.trim_end().to_string())
        .unwrap_or_default();
    let cmdline = std::fs::read(d.join("cmdline"))
        .map(|b| {
            b.split(|c| *c == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default();
    Some(Proc {
        pid,
        ppid,
        start_ticks,
        comm,
        cmdline,
    })
}

fn read_procs(proc: &Path) -> BTreeMap<i32, Proc> {
    let mut m = BTreeMap::new();
    if let Ok(rd) = std::fs::read_dir(proc) {
        for e in rd.flatten() {
            if let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) {
                if let Some(p) = read_proc(proc, pid) {
                    m.insert(pid, p);
                }
            }
        }
    }
    m
}

fn made_s(p: &Path) -> Option<u64> {
    let m = std::fs::metadata(p).ok()?;
    let t = m.created().or_else(|_| m.modified()).ok()?;
    t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

/// The parent directories `<root>/isobench` (cgroup2 at the root) and
/// `<root>/<hierarchy>/isobench` (v1, hybrid) that exist.
pub fn cgroup_parents(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let direct = root.join(CGROUP_PARENT);
    if direct.is_dir() {
        out.push(direct);
    }
    if let Ok(rd) = std::fs::read_dir(root) {
        let mut hs: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        hs.sort();
        for h in hs {
            let p = h.join(CGROUP_PARENT);
            if h.file_name().and_then(|n| n.to_str()) != Some(CGROUP_PARENT) && p.is_dir() {
                out.push(p);
            }
        }
    }
    out
}

/// `dir` and every directory below it, deepest first.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                out.extend(tree(&e.path()));
            }
        }
    }
    out.push(dir.to_path_buf());
    out
}

fn cgroup_members(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Container cgroups of the naming scheme under `parents`.
pub fn container_cgroups(parents: &[PathBuf]) -> Vec<CgroupDir> {
    let mut out = Vec::new();
    for parent in parents {
        let Ok(rd) = std::fs::read_dir(parent) else {
            continue;
        };
        let mut kids: Vec<PathBuf> = rd
            .flatten()
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .map(|e| e.path())
            .collect();
        kids.sort();
        for path in kids {
            let Some(id) = path
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_string)
            else {
                continue;
            };
            if naming::owner_of_container_id(&id).is_none() {
                continue;
            }
            let tree = tree(&path);
            let mut procs: Vec<i32> = tree.iter().flat_map(|d| cgroup_members(d)).collect();
            procs.sort_unstable();
            procs.dedup();
            out.push(CgroupDir {
                made_s: made_s(&path),
                path,
                id,
                tree,
                procs,
            });
        }
    }
    out
}

/// Containers of the naming scheme in a state root (one directory each, as
/// runc, crun and isorun keep them; a `.state` file each for runsc).
pub fn state_entries(state: &StateRoot) -> Vec<StateEntry> {
    let Ok(rd) = std::fs::read_dir(&state.root) else {
        return Vec::new();
    };
    let mut out: Vec<StateEntry> = rd
        .flatten()
        .filter_map(|e| {
            let id = isorun::peer::state_entry_id(e.file_name().to_str()?)?.to_string();
            naming::owner_of_container_id(&id)?;
            Some(StateEntry {
                state: state.clone(),
                made_s: made_s(&e.path()),
                id,
            })
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// The state roots inside a run's scratch directory:
/// `<scratch>/container-<runtime>/state`, each with the binary the record
/// names for that runtime.
pub fn scratch_state_roots(rec: &Record) -> Vec<StateRoot> {
    let mut out: Vec<StateRoot> = rec
        .scratch_dirs()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flat_map(|rd| rd.flatten())
        .filter_map(|e| {
            let name = e
                .file_name()
                .to_str()?
                .strip_prefix("container-")?
                .to_string();
            let root = e.path().join("state");
            root.is_dir().then(|| StateRoot {
                bin: rec
                    .runtimes
                    .iter()
                    .find(|r| {
                        r.name == name
                            || crate::env::column::split_rootless(&name).0 == r.name
                            || r.bin.file_name().and_then(|n| n.to_str()) == Some(name.as_str())
                    })
                    .map(|r| r.bin.clone()),
                runtime: name,
                root,
            })
        })
        .collect();
    out.sort_by(|a, b| a.root.cmp(&b.root));
    out
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`).
pub fn clk_tck() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// Read everything a sweep decides on. `me` is the sweeping process.
pub fn snapshot(roots: &Roots, me: i32) -> Snapshot {
    let (records, bad_records) = registry::read_all(&roots.registry);
    let procs = read_procs(&roots.proc);
    let cgroup_parents = cgroup_parents(&roots.cgroup);
    let cgroups = container_cgroups(&cgroup_parents);
    let mut containers: Vec<StateEntry> =
        roots.shared_state.iter().flat_map(state_entries).collect();
    for (_, r) in &records {
        for s in scratch_state_roots(r) {
            containers.extend(state_entries(&s));
        }
    }
    let orphan_user_scratch = orphan_user_scratch(roots, &records);
    for (pid, dir, _) in &orphan_user_scratch {
        // Its runtimes are those of the shared state roots, by name.
        let rec = Record {
            pid: *pid,
            start_ticks: 0,
            started_at: String::new(),
            run_dir: dir.clone(),
            scratch: dir.clone(),
            container_prefix: naming::container_prefix(*pid as u32),
            cgroup_parent: CGROUP_PARENT.into(),
            runtimes: roots
                .shared_state
                .iter()
                .filter_map(|s| {
                    Some(registry::RuntimeUse {
                        name: s.runtime.clone(),
                        bin: s.bin.clone()?,
                    })
                })
                .collect(),
            private_mounts: true,
            user_scratch: None,
        };
        for s in scratch_state_roots(&rec) {
            containers.extend(state_entries(&s));
        }
    }
    Snapshot {
        me,
        records,
        bad_records,
        procs,
        boot_s: std::fs::read_to_string(roots.proc.join("stat"))
            .ok()
            .and_then(|t| parse_btime(&t))
            .unwrap_or(0),
        clk_tck: clk_tck(),
        cgroup_parents,
        cgroups,
        containers,
        mountinfo: std::fs::read_to_string(roots.proc.join("self/mountinfo")).unwrap_or_default(),
        orphan_user_scratch,
        docker: roots
            .docker_bin
            .as_deref()
            .map(super::docker::scan)
            .unwrap_or_default(),
        docker_backups: roots
            .docker_backups
            .as_deref()
            .map(super::docker::backups)
            .unwrap_or_default(),
    }
}

/// Directories `<user_scratch>/<pid>` no record names (their record was
/// removed, e.g. by an isobench that did not know of them).
fn orphan_user_scratch(
    roots: &Roots,
    records: &[(PathBuf, Record)],
) -> Vec<(i32, PathBuf, Option<u64>)> {
    let Some(rd) = roots
        .user_scratch
        .as_ref()
        .and_then(|b| std::fs::read_dir(b).ok())
    else {
        return Vec::new();
    };
    let mut out: Vec<_> = rd
        .flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let p = e.path();
            (!records
                .iter()
                .any(|(_, r)| r.user_scratch.as_ref() == Some(&p)))
            .then(|| (pid, p.clone(), made_s(&p)))
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_survive_odd_command_names() {
        let s = "4242 (a) b (c)) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100";
        assert_eq!(parse_stat(s), Some((17, 987654)));
        assert_eq!(parse_stat("1 (x) S"), None);
        assert_eq!(parse_btime("cpu 1 2\nbtime 1700000000\n"), Some(1700000000));
    }

    #[test]
    fn mount_points_are_decoded() {
        let mi = "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n\
                  90 23 0:50 / /runs/a\\040b/.scratch/container-runc/runs rw - tmpfs tmpfs rw\n";
        assert_eq!(
            mount_points(mi),
            vec![
                PathBuf::from("/sys/fs/cgroup"),
                PathBuf::from("/runs/a b/.scratch/container-runc/runs")
            ]
        );
    }

    #[test]
    fn fake_cgroup_tree_is_read_in_every_hierarchy() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        for h in ["memory", "pids"] {
            let c = root.join(h).join("isobench/isobench-99-1/sub");
            std::fs::create_dir_all(&c).unwrap();
            std::fs::write(c.join("cgroup.procs"), "5\n6\n").unwrap();
            std::fs::write(c.parent().unwrap().join("cgroup.procs"), "5\n").unwrap();
            std::fs::create_dir_all(root.join(h).join("isobench/not-ours")).unwrap();
        }
        std::fs::create_dir_all(root.join("cpu")).unwrap();
        let parents = cgroup_parents(root);
        assert_eq!(
            parents,
            vec![root.join("memory/isobench"), root.join("pids/isobench")]
        );
        let cg = container_cgroups(&parents);
        assert_eq!(cg.len(), 2);
        assert_eq!(cg[0].id, "isobench-99-1");
        assert_eq!(cg[0].procs, vec![5, 6]);
        assert_eq!(
            cg[0].tree,
            vec![
                root.join("memory/isobench/isobench-99-1/sub"),
                root.join("memory/isobench/isobench-99-1")
            ]
        );
    }

    #[test]
    fn fake_proc_is_read() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("77");
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(
            p.join("stat"),
            "77 (qemu-system-x86) S 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5000 0 0",
        )
        .unwrap();
        std::fs::write(p.join("comm"), "qemu-system-x86\n").unwrap();
        std::fs::write(
            p.join("cmdline"),
            b"qemu-system-x86_64\0-initrd\0/r/.scratch/vm-initramfs.cpio\0",
        )
        .unwrap();
        std::fs::write(d.path().join("stat"), "btime 100\n").unwrap();
        let roots = Roots {
            proc: d.path().into(),
            cgroup: d.path().join("cg"),
            registry: d.path().join("reg"),
            shared_state: vec![],
            user_scratch: None,
            docker_bin: None,
            docker_backups: None,
        };
        let s = snapshot(&roots, 1);
        assert_eq!(s.boot_s, 100);
        let q = &s.procs[&77];
        assert_eq!((q.ppid, q.start_ticks), (1, 5000));
        assert_eq!(q.cmdline.len(), 3);
    }

    #[test]
    fn runsc_state_files_are_containers_of_their_id() {
        let t = tempfile::tempdir().unwrap();
        let id = "isobench-4242-7";
        std::fs::write(t.path().join(format!("{id}_sandbox:{id}.state")), "").unwrap();
        std::fs::write(t.path().join(format!("{id}_sandbox:{id}.lock")), "").unwrap();
        std::fs::create_dir(t.path().join("isobench-4242-8")).unwrap();
        std::fs::create_dir(t.path().join("someone-else")).unwrap();
        let root = StateRoot {
            runtime: "runsc".into(),
            bin: None,
            root: t.path().into(),
        };
        let ids: Vec<String> = state_entries(&root).into_iter().map(|e| e.id).collect();
        assert_eq!(ids, ["isobench-4242-7", "isobench-4242-8"]);
    }
}
