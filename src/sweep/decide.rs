//! What a sweep removes, decided from a [`Snapshot`] alone (no system
//! calls): the pure half of the sweep, unit-tested on fake trees.
//!
//! The rule: a thing belongs to the run that named it (a record's scratch
//! directory, or the pid in a container id `isobench-<pid>-<n>`), and is
//! removed only when that run's owner is dead:
//! - with a record: the pid is gone or has another start time (pid reuse);
//! - without one: the pid is gone, or started after the thing was made (so
//!   it cannot have made it).
//!
//! Mounts and QEMU processes that match the naming scheme but no record
//! (left by an isobench of a version without records) are removed only when
//! no unregistered isobench lives (mounts) or when the QEMU's parent is not
//! an isobench (it was orphaned).

use super::naming;
use super::registry::Record;
use super::scan::{mount_points, Proc, Snapshot};
use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;

/// Seconds of slack between a process's start time (in ticks since a boot
/// time known to the second) and a file's time.
const CLOCK_SLACK_S: u64 = 2;

/// The command name of an isobench process.
const ISOBENCH_COMM: &str = "isobench";

/// One removal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// SIGKILL, if the pid still has this start time.
    Kill {
        pid: i32,
        start_ticks: u64,
        what: String,
    },
    /// `<runtime> --root <root> delete --force <id>`.
    DeleteContainer {
        runtime: String,
        bin: Option<PathBuf>,
        root: PathBuf,
        id: String,
    },
    /// umount(2), lazily (MNT_DETACH) when busy.
    Unmount { path: PathBuf },
    /// rmdir(2) of a cgroup directory (deepest first).
    RemoveCgroup { path: PathBuf },
    /// A run's scratch directory, recursively.
    RemoveDir { path: PathBuf },
    /// `docker rm -f` / `docker rmi -f` of a labelled container or image.
    RemoveDocker {
        kind: super::docker::DockerKind,
        id: String,
    },
    /// Put back the daemon.json a dead run saved (`env::docker`).
    RestoreDaemonJson { entry: PathBuf },
    /// A dead run's record (last, only when everything else of it went).
    RemoveRecord { path: PathBuf },
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Kill { pid, what, .. } => write!(f, "kill process {pid} ({what})"),
            Action::DeleteContainer {
                runtime, root, id, ..
            } => write!(
                f,
                "delete container {id} ({runtime} --root {})",
                root.display()
            ),
            Action::Unmount { path } => write!(f, "unmount {}", path.display()),
            Action::RemoveCgroup { path } => write!(f, "remove cgroup {}", path.display()),
            Action::RemoveDir { path } => write!(f, "remove directory {}", path.display()),
            Action::RemoveRecord { path } => write!(f, "remove run record {}", path.display()),
            Action::RemoveDocker { kind, id } => write!(f, "remove docker {} {id}", kind.name()),
            Action::RestoreDaemonJson { entry } => {
                write!(f, "restore daemon.json saved in {}", entry.display())
            }
        }
    }
}

/// Whose leftover an action removes: a dead run's pid, or nobody known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Owner {
    Run(i32),
    Unattributed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub owner: Owner,
    pub action: Action,
}

/// What to remove, in the order to act, and what was left alone and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepPlan {
    pub items: Vec<Item>,
    /// `<hierarchy>/isobench` parents to remove if empty (no failure if not):
    /// only when no isobench lives.
    pub parents: Vec<PathBuf>,
    /// Live runs left alone, one line each.
    pub kept: Vec<String>,
}

impl SweepPlan {
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

fn proc_start_s(s: &Snapshot, p: &Proc) -> u64 {
    s.boot_s + p.start_ticks / s.clk_tck.max(1)
}

fn record_alive(s: &Snapshot, r: &Record) -> bool {
    s.procs
        .get(&r.pid)
        .is_some_and(|p| p.start_ticks == r.start_ticks)
}

/// Whether the run of `pid` lives, for a thing it named made at `made_s`.
fn owner_alive(s: &Snapshot, pid: i32, made_s: Option<u64>) -> bool {
    if let Some((_, r)) = s.records.iter().find(|(_, r)| r.pid == pid) {
        return record_alive(s, r);
    }
    if pid == s.me {
        return true;
    }
    match (s.procs.get(&pid), made_s) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(p), Some(m)) => proc_start_s(s, p) <= m + CLOCK_SLACK_S,
    }
}

/// Live isobench processes with no live record (an older isobench, or one
/// between its start and its registration), other than the sweeper.
fn unregistered_isobench(s: &Snapshot) -> Vec<i32> {
    s.procs
        .values()
        .filter(|p| p.comm == ISOBENCH_COMM && p.pid != s.me)
        .filter(|p| {
            !s.records
                .iter()
                .any(|(_, r)| r.pid == p.pid && record_alive(s, r))
        })
        .map(|p| p.pid)
        .collect()
}

fn depth(p: &std::path::Path) -> usize {
    p.components().count()
}

/// Decide what a sweep removes.
pub fn decide(s: &Snapshot) -> SweepPlan {
    let mut kept = Vec::new();
    for (_, r) in s.records.iter().filter(|(_, r)| record_alive(s, r)) {
        kept.push(format!(
            "live run {} (pid {}, started {})",
            r.run_dir.display(),
            r.pid,
            r.started_at
        ));
    }
    let mut killed: BTreeSet<i32> = BTreeSet::new();
    let (mut kills, cgroups) = container_cgroups(s, &mut killed);
    kills.extend(hypervisors(s, &mut killed));
    let mut deletes = state_root_containers(s);
    deletes.extend(docker_objects(s));
    let unregistered = unregistered_isobench(s);
    let unmounts = mounts(s, &unregistered, &mut kept);
    let (dirs, records) = scratch_and_records(s);
    for b in &s.bad_records {
        kept.push(format!("unreadable run record {}", b.display()));
    }

    let quiet = unregistered.is_empty() && !s.records.iter().any(|(_, r)| record_alive(s, r));
    let parents = if quiet {
        s.cgroup_parents.clone()
    } else {
        Vec::new()
    };
    let mut items = kills;
    items.extend(deletes);
    items.extend(unmounts);
    items.extend(cgroups);
    items.extend(dirs);
    items.extend(records);
    SweepPlan {
        items,
        parents,
        kept,
    }
}

/// Processes in the cgroups of dead runs' containers (kills), and those
/// cgroups (removals).
fn container_cgroups(s: &Snapshot, killed: &mut BTreeSet<i32>) -> (Vec<Item>, Vec<Item>) {
    let mut kills = Vec::new();
    let mut cgroups = Vec::new();
    for c in &s.cgroups {
        let Some(pid) = naming::owner_of_container_id(&c.id) else {
            continue;
        };
        if owner_alive(s, pid, c.made_s) {
            continue;
        }
        for m in &c.procs {
            if let Some(p) = s.procs.get(m) {
                if killed.insert(*m) {
                    kills.push(Item {
                        owner: Owner::Run(pid),
                        action: Action::Kill {
                            pid: *m,
                            start_ticks: p.start_ticks,
                            what: format!("{} in container {}", p.comm, c.id),
                        },
                    });
                }
            }
        }
        for d in &c.tree {
            cgroups.push(Item {
                owner: Owner::Run(pid),
                action: Action::RemoveCgroup { path: d.clone() },
            });
        }
    }
    (kills, cgroups)
}

/// A hypervisor (QEMU) booting a dead run's initramfs, or an orphaned one
/// booting any run's.
fn hypervisors(s: &Snapshot, killed: &mut BTreeSet<i32>) -> Vec<Item> {
    let isobench_pids: BTreeSet<i32> = s
        .procs
        .values()
        .filter(|p| p.comm == ISOBENCH_COMM)
        .map(|p| p.pid)
        .collect();
    let mut kills = Vec::new();
    for p in s.procs.values() {
        let Some((vmm, scratch)) = crate::env::vm::vmm::booting_a_run(&p.cmdline) else {
            continue;
        };
        let owner = match s
            .records
            .iter()
            .find(|(_, r)| r.scratch.as_os_str() == scratch)
        {
            Some((_, r)) if record_alive(s, r) => continue,
            Some((_, r)) => Owner::Run(r.pid),
            None if isobench_pids.contains(&p.ppid) => continue,
            None => Owner::Unattributed,
        };
        if killed.insert(p.pid) {
            kills.push(Item {
                owner,
                action: Action::Kill {
                    pid: p.pid,
                    start_ticks: p.start_ticks,
                    what: format!("{} booting {scratch}/{}", vmm.name(), naming::INITRD_NAME),
                },
            });
        }
    }
    kills
}

/// Dead runs' containers in runtime state roots.
fn state_root_containers(s: &Snapshot) -> Vec<Item> {
    s.containers
        .iter()
        .filter_map(|e| {
            let pid = naming::owner_of_container_id(&e.id)?;
            (!owner_alive(s, pid, e.made_s)).then(|| Item {
                owner: Owner::Run(pid),
                action: Action::DeleteContainer {
                    runtime: e.state.runtime.clone(),
                    bin: e.state.bin.clone(),
                    root: e.state.root.clone(),
                    id: e.id.clone(),
                },
            })
        })
        .collect()
}

/// Docker: containers, then images, then daemon.json (the containers may
/// run under the registered runtime).
fn docker_objects(s: &Snapshot) -> Vec<Item> {
    let mut docker: Vec<&super::docker::DockerObject> = s
        .docker
        .iter()
        .filter(|o| !owner_alive(s, o.owner, o.made_s))
        .collect();
    docker.sort_by_key(|o| o.kind);
    let mut out: Vec<Item> = docker
        .into_iter()
        .map(|o| Item {
            owner: Owner::Run(o.owner),
            action: Action::RemoveDocker {
                kind: o.kind,
                id: o.id.clone(),
            },
        })
        .collect();
    for b in &s.docker_backups {
        if !owner_alive(s, b.owner, b.made_s) {
            out.push(Item {
                owner: Owner::Run(b.owner),
                action: Action::RestoreDaemonJson {
                    entry: b.entry.clone(),
                },
            });
        }
    }
    out
}

/// Mounts of dead runs, deepest first (later in the table first among
/// equals); unattributed container mounts only while no unregistered
/// isobench lives (else a line in `kept`).
fn mounts(s: &Snapshot, unregistered: &[i32], kept: &mut Vec<String>) -> Vec<Item> {
    let owner_of_path = |p: &std::path::Path| -> Option<&Record> {
        s.records
            .iter()
            .map(|(_, r)| r)
            .find(|r| r.scratch_dirs().any(|d| p.starts_with(d)))
    };
    let mut points: Vec<(usize, PathBuf)> =
        mount_points(&s.mountinfo).into_iter().enumerate().collect();
    points.sort_by(|a, b| depth(&b.1).cmp(&depth(&a.1)).then(b.0.cmp(&a.0)));
    let mut seen = BTreeSet::new();
    let mut unmounts = Vec::new();
    for (_, m) in points {
        if !seen.insert(m.clone()) {
            continue;
        }
        let owner = match owner_of_path(&m) {
            Some(r) if record_alive(s, r) => continue,
            Some(r) => Owner::Run(r.pid),
            None if m
                .to_string_lossy()
                .contains(naming::CONTAINER_SCRATCH_FRAGMENT) =>
            {
                if !unregistered.is_empty() {
                    kept.push(format!(
                        "mount {} (an isobench without a record lives: pid {unregistered:?})",
                        m.display()
                    ));
                    continue;
                }
                Owner::Unattributed
            }
            None => continue,
        };
        unmounts.push(Item {
            owner,
            action: Action::Unmount { path: m },
        });
    }
    unmounts
}

/// The dead runs' scratch directories (and orphaned rootless scratch), then
/// their records.
fn scratch_and_records(s: &Snapshot) -> (Vec<Item>, Vec<Item>) {
    let mut dirs = Vec::new();
    let mut records = Vec::new();
    for (path, r) in s.records.iter().filter(|(_, r)| !record_alive(s, r)) {
        for d in r.scratch_dirs() {
            dirs.push(Item {
                owner: Owner::Run(r.pid),
                action: Action::RemoveDir { path: d.clone() },
            });
        }
        records.push(Item {
            owner: Owner::Run(r.pid),
            action: Action::RemoveRecord { path: path.clone() },
        });
    }
    for (pid, dir, made) in &s.orphan_user_scratch {
        if !owner_alive(s, *pid, *made) {
            dirs.push(Item {
                owner: Owner::Run(*pid),
                action: Action::RemoveDir { path: dir.clone() },
            });
        }
    }
    (dirs, records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::registry::RuntimeUse;
    use crate::sweep::scan::{CgroupDir, StateEntry, StateRoot};

    const ME: i32 = 10;

    fn proc_(pid: i32, ppid: i32, ticks: u64, comm: &str, cmd: &[&str]) -> Proc {
        Proc {
            pid,
            ppid,
            start_ticks: ticks,
            comm: comm.into(),
            cmdline: cmd.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn record(pid: i32, ticks: u64, run: &str) -> Record {
        Record {
            pid,
            start_ticks: ticks,
            started_at: "t".into(),
            run_dir: run.into(),
            scratch: format!("{run}/.scratch").into(),
            container_prefix: naming::container_prefix(pid as u32),
            cgroup_parent: "isobench".into(),
            runtimes: vec![RuntimeUse {
                name: "runc".into(),
                bin: "/usr/sbin/runc".into(),
            }],
            private_mounts: true,
            user_scratch: None,
        }
    }

    fn cg(h: &str, id: &str, made: u64, procs: &[i32]) -> CgroupDir {
        let path = PathBuf::from(format!("/cg/{h}/isobench/{id}"));
        CgroupDir {
            tree: vec![path.join("sub"), path.clone()],
            path,
            id: id.into(),
            made_s: Some(made),
            procs: procs.to_vec(),
        }
    }

    /// Boot at 1000 s, 100 ticks/s: a process started at tick t started at
    /// 1000 + t/100 s.
    fn base() -> Snapshot {
        let mut s = Snapshot {
            me: ME,
            boot_s: 1000,
            clk_tck: 100,
            ..Default::default()
        };
        for p in [
            proc_(1, 0, 0, "init", &["/sbin/init"]),
            proc_(ME, 1, 50_000, "isobench", &["isobench", "clean"]),
        ] {
            s.procs.insert(p.pid, p);
        }
        s
    }

    fn actions(p: &SweepPlan) -> Vec<String> {
        p.items.iter().map(|i| i.action.to_string()).collect()
    }

    /// Docker objects and a saved daemon.json go when their owner is dead
    /// (containers first, daemon.json after them), and stay while it lives
    /// or when a process of that pid predates them.
    #[test]
    fn docker_leftovers_of_dead_runs_go() {
        use crate::sweep::docker::{DaemonJsonBackup, DockerKind, DockerObject};
        let mut s = base();
        // 20 lives, started at 1000 + 100 = 1100 s.
        s.procs
            .insert(20, proc_(20, 1, 10_000, "isobench", &["isobench", "run"]));
        let obj = |kind, id: &str, owner| DockerObject {
            kind,
            id: id.into(),
            owner,
            made_s: Some(2000),
        };
        s.docker = vec![
            obj(DockerKind::Image, "img-dead", 500),
            obj(DockerKind::Container, "ctr-dead", 500),
            obj(DockerKind::Container, "ctr-live", 20),
        ];
        s.docker_backups = vec![
            DaemonJsonBackup {
                owner: 500,
                entry: "/run/isobench/docker/500".into(),
                made_s: Some(2000),
            },
            DaemonJsonBackup {
                owner: 20,
                entry: "/run/isobench/docker/20".into(),
                made_s: Some(2000),
            },
        ];
        let p = decide(&s);
        assert_eq!(
            actions(&p),
            [
                "remove docker container ctr-dead",
                "remove docker image img-dead",
                "restore daemon.json saved in /run/isobench/docker/500",
            ]
        );
        // A pid reused by a process started after the image: its owner is dead.
        s.docker = vec![DockerObject {
            made_s: Some(1000),
            ..obj(DockerKind::Image, "img-old", 20)
        }];
        s.docker_backups.clear();
        assert_eq!(actions(&decide(&s)), ["remove docker image img-old"]);
    }

    #[test]
    fn a_quiet_host_needs_nothing() {
        let p = decide(&base());
        assert!(p.is_empty(), "{p:?}");
    }

    #[test]
    fn rootless_column_dirs_go_with_their_run() {
        let mut s = base();
        // Run 500 died with a record naming its rootless columns' directory;
        // 600's directory has no record and 600 is dead; 10 (me) lives.
        let mut r = record(500, 4000, "/runs/r");
        r.user_scratch = Some("/run/isobench/rootless/500".into());
        s.records.push(("/reg/500.json".into(), r));
        s.orphan_user_scratch = vec![
            (600, "/run/isobench/rootless/600".into(), Some(1100)),
            (ME, "/run/isobench/rootless/10".into(), Some(1600)),
        ];
        let a = actions(&decide(&s));
        assert!(
            a.contains(&"remove directory /run/isobench/rootless/500".to_string()),
            "{a:?}"
        );
        assert!(
            a.contains(&"remove directory /run/isobench/rootless/600".to_string()),
            "{a:?}"
        );
        assert!(!a.iter().any(|x| x.contains("rootless/10")), "{a:?}");
    }

    #[test]
    fn a_dead_runs_leftovers_all_go_in_order() {
        let mut s = base();
        // Run 500 died (no process 500); its container init 600 lives on.
        s.records
            .push(("/reg/500.json".into(), record(500, 4000, "/runs/r")));
        s.procs.insert(
            600,
            proc_(600, 1, 6000, "isobench-worklo", &["/isobench-workload"]),
        );
        s.procs.insert(
            700,
            proc_(
                700,
                1,
                6100,
                "qemu-system-x86",
                &[
                    "qemu-system-x86_64",
                    "-initrd",
                    "/runs/r/.scratch/vm-initramfs.cpio",
                ],
            ),
        );
        s.cgroups.push(cg("memory", "isobench-500-3", 1060, &[600]));
        s.cgroups.push(cg("pids", "isobench-500-3", 1060, &[600]));
        s.cgroup_parents = vec!["/cg/memory/isobench".into(), "/cg/pids/isobench".into()];
        s.containers.push(StateEntry {
            state: StateRoot {
                runtime: "runc".into(),
                bin: Some("/usr/sbin/runc".into()),
                root: "/runs/r/.scratch/container-runc/state".into(),
            },
            id: "isobench-500-3".into(),
            made_s: Some(1060),
        });
        s.mountinfo = "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n\
            90 23 0:50 / /runs/r/.scratch/container-runc/runs rw - tmpfs tmpfs rw\n\
            91 23 0:51 / /runs/r/.scratch/container-runc/bundle/rootfs rw - overlay overlay rw\n"
            .into();
        let p = decide(&s);
        assert_eq!(
            actions(&p),
            vec![
                "kill process 600 (isobench-worklo in container isobench-500-3)",
                "kill process 700 (QEMU booting /runs/r/.scratch/vm-initramfs.cpio)",
                "delete container isobench-500-3 (runc --root /runs/r/.scratch/container-runc/state)",
                "unmount /runs/r/.scratch/container-runc/bundle/rootfs",
                "unmount /runs/r/.scratch/container-runc/runs",
                "remove cgroup /cg/memory/isobench/isobench-500-3/sub",
                "remove cgroup /cg/memory/isobench/isobench-500-3",
                "remove cgroup /cg/pids/isobench/isobench-500-3/sub",
                "remove cgroup /cg/pids/isobench/isobench-500-3",
                "remove directory /runs/r/.scratch",
                "remove run record /reg/500.json",
            ]
        );
        assert!(p.items.iter().all(|i| i.owner == Owner::Run(500)));
        assert_eq!(p.parents.len(), 2);
    }

    #[test]
    fn a_live_run_is_never_touched() {
        let mut s = base();
        s.procs
            .insert(500, proc_(500, 1, 4000, "isobench", &["isobench", "run"]));
        s.records
            .push(("/reg/500.json".into(), record(500, 4000, "/runs/r")));
        s.procs.insert(
            700,
            proc_(
                700,
                500,
                6100,
                "qemu-system-x86",
                &[
                    "qemu-system-x86_64",
                    "-initrd",
                    "/runs/r/.scratch/vm-initramfs.cpio",
                ],
            ),
        );
        s.cgroups.push(cg("pids", "isobench-500-3", 1060, &[]));
        s.cgroup_parents = vec!["/cg/pids/isobench".into()];
        s.mountinfo =
            "90 23 0:50 / /runs/r/.scratch/container-runc/runs rw - tmpfs tmpfs rw\n".into();
        let p = decide(&s);
        assert!(p.is_empty(), "{p:?}");
        assert!(p.parents.is_empty(), "a live run's parent cgroup stays");
        assert_eq!(p.kept.len(), 1);
    }

    #[test]
    fn a_reused_pid_does_not_keep_a_dead_run_alive() {
        let mut s = base();
        // pid 500 now belongs to a shell started long after the record's run.
        s.procs
            .insert(500, proc_(500, 1, 90_000, "bash", &["bash"]));
        s.records
            .push(("/reg/500.json".into(), record(500, 4000, "/runs/r")));
        s.cgroups.push(cg("pids", "isobench-500-1", 1045, &[]));
        let p = decide(&s);
        assert_eq!(
            actions(&p),
            vec![
                "remove cgroup /cg/pids/isobench/isobench-500-1/sub",
                "remove cgroup /cg/pids/isobench/isobench-500-1",
                "remove directory /runs/r/.scratch",
                "remove run record /reg/500.json",
            ]
        );
    }

    #[test]
    fn leftovers_without_a_record_follow_their_pid() {
        let mut s = base();
        // 501: gone. 502: lives and started (1010 s) before its cgroup was
        // made (1050 s): maybe its owner, kept. 503: started (1200 s) after
        // its cgroup (1050 s): not the owner.
        s.procs
            .insert(502, proc_(502, 1, 1000, "cargo-test", &["t"]));
        s.procs
            .insert(503, proc_(503, 1, 20_000, "bash", &["bash"]));
        for id in ["isobench-501-1", "isobench-502-1", "isobench-503-1"] {
            s.cgroups.push(cg("pids", id, 1050, &[]));
        }
        let p = decide(&s);
        let a = actions(&p);
        assert!(a.iter().any(|x| x.contains("isobench-501-1")));
        assert!(!a.iter().any(|x| x.contains("isobench-502-1")));
        assert!(a.iter().any(|x| x.contains("isobench-503-1")));
        assert!(p.items.iter().all(|i| i.owner != Owner::Unattributed));
    }

    #[test]
    fn unattributed_mounts_wait_for_every_isobench_to_be_registered() {
        let mut s = base();
        s.mountinfo =
            "91 23 0:51 / /old/run/.scratch/container-runc/bundle/rootfs rw - overlay overlay rw\n\
             92 23 0:52 / /mnt/usb rw - vfat vfat rw\n"
                .into();
        assert_eq!(
            actions(&decide(&s)),
            vec!["unmount /old/run/.scratch/container-runc/bundle/rootfs"]
        );
        // An older isobench (no record) is running: it may own the mount.
        s.procs
            .insert(800, proc_(800, 1, 100, "isobench", &["isobench", "run"]));
        let p = decide(&s);
        assert!(p.is_empty());
        assert_eq!(p.kept.len(), 1);
    }

    #[test]
    fn orphaned_qemu_without_a_record_goes_but_a_parented_one_stays() {
        let mut s = base();
        let q = [
            "qemu-system-x86_64",
            "-initrd",
            "/x/.scratch/vm-initramfs.cpio",
        ];
        s.procs
            .insert(800, proc_(800, 1, 100, "isobench", &["isobench"]));
        s.procs
            .insert(801, proc_(801, 800, 200, "qemu-system-x86", &q));
        s.procs
            .insert(802, proc_(802, 1, 300, "qemu-system-x86", &q));
        assert_eq!(
            actions(&decide(&s)),
            vec!["kill process 802 (QEMU booting /x/.scratch/vm-initramfs.cpio)"]
        );
    }
}
