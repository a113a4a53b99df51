//! What a permission check killed with SIGKILL left (test users and their
//! group, sudo rules, rootful containers' cgroups, the work directory),
//! found by the pid in their names and removed when that isobench is dead;
//! run by the next check and by `isobench clean`.

use super::users::{remove_user, tool, PREFIX};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Owner pid of a name made by [`TestUsers`](super::users::TestUsers) (`isobp<pid>[abg]`).
pub fn owner_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(PREFIX)?;
    let (digits, role) = rest.split_at(rest.len().checked_sub(1)?);
    if !matches!(role, "a" | "b" | "g") || digits.is_empty() {
        return None;
    }
    digits.parse().ok()
}

/// Whether `pid` is a live isobench (or a test binary running it).
fn alive_isobench(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| c.trim().starts_with("isobench"))
        .unwrap_or(false)
}

/// Remove the test users and groups, sudo rules and work directories that
/// checks whose isobench is dead left (kill -9). Returns what was removed.
pub fn sweep_dead() -> Vec<String> {
    let mut done = Vec::new();
    let dir = std::env::temp_dir();
    let names = |file: &str| -> Vec<String> {
        std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(':').next())
            .filter(|n| owner_pid(n).is_some_and(|p| !alive_isobench(p)))
            .map(str::to_string)
            .collect()
    };
    for u in names("/etc/passwd") {
        if remove_user(&u, &dir).is_ok() {
            done.push(format!("user {u}"));
        }
    }
    for g in names("/etc/group") {
        if tool("groupdel", &[&g], &dir).is_ok() {
            done.push(format!("group {g}"));
        }
    }
    done.extend(sweep_cgroups(Path::new("/sys/fs/cgroup")));
    for (parent, prefix) in [
        (PathBuf::from(super::setups::SUDOERS_DIR), "isobench-perm-"),
        (std::env::temp_dir(), "isobench-perm-"),
    ] {
        let Ok(rd) = std::fs::read_dir(&parent) else {
            continue;
        };
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = n
                .strip_prefix(prefix)
                .and_then(|p| p.split('-').next())
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            if alive_isobench(pid) {
                continue;
            }
            let p = e.path();
            let r = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            if r.is_ok() {
                done.push(p.display().to_string());
            }
        }
    }
    done
}

/// Cgroups `isobench-perm-<pid>-*` (rootful containers of the sudo setups)
/// at the top of every hierarchy under `root` whose isobench is dead: their
/// processes killed, the directories removed.
fn sweep_cgroups(root: &Path) -> Vec<String> {
    let mut done = Vec::new();
    let mut tops = vec![root.to_path_buf()];
    tops.extend(
        std::fs::read_dir(root)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir()),
    );
    for top in tops {
        for e in std::fs::read_dir(&top).into_iter().flatten().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = n
                .strip_prefix("isobench-perm-")
                .and_then(|p| p.split('-').next())
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            if alive_isobench(pid) || !e.path().is_dir() {
                continue;
            }
            for _ in 0..50 {
                let procs =
                    std::fs::read_to_string(e.path().join("cgroup.procs")).unwrap_or_default();
                for p in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    crate::sys::sigkill(p);
                }
                if std::fs::remove_dir(e.path()).is_ok() {
                    done.push(e.path().display().to_string());
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_pids_come_from_the_names() {
        assert_eq!(owner_pid("isobp1234a"), Some(1234));
        assert_eq!(owner_pid("isobp1234g"), Some(1234));
        assert_eq!(owner_pid("isobp1234x"), None);
        assert_eq!(owner_pid("isobpa"), None);
        assert_eq!(owner_pid("root"), None);
    }
}
