//! The Docker part of the sweep: isobench's containers and images, known by
//! the label `org.isobench.owner=<pid>` (`env::docker`), and the
//! daemon.json a run changed to register isorun (saved under
//! `/run/isobench/docker/<pid>`). Reading them is here ([`scan`]); the
//! decision (remove when the owner is dead) is `decide`'s, and the removal
//! (`docker rm -f`, `docker rmi -f`, restoring daemon.json) `act`'s.

use crate::env::docker::OWNER_LABEL;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a Docker object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DockerKind {
    Container,
    Image,
}

impl DockerKind {
    pub fn name(self) -> &'static str {
        match self {
            DockerKind::Container => "container",
            DockerKind::Image => "image",
        }
    }
}

/// A labelled container or image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerObject {
    pub kind: DockerKind,
    pub id: String,
    /// The isobench pid of its label.
    pub owner: i32,
    /// When it was made (seconds since the epoch), if known.
    pub made_s: Option<u64>,
}

/// A saved daemon.json: `<dir>/<pid>`, with when it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonJsonBackup {
    pub owner: i32,
    pub entry: PathBuf,
    pub made_s: Option<u64>,
}

/// The inspect format [`parse_inspect_line`] reads.
pub const INSPECT_FORMAT: &str =
    "{{.Id}} {{index .Config.Labels \"org.isobench.owner\"}} {{.Created}}";

/// One line of `docker inspect --format INSPECT_FORMAT`: (id, owner pid,
/// made). `None` when the label holds no pid.
pub fn parse_inspect_line(line: &str) -> Option<(String, i32, Option<u64>)> {
    let mut f = line.split_whitespace();
    let id = f.next()?.to_string();
    let owner: i32 = f.next()?.parse().ok()?;
    let made = f
        .next()
        .and_then(|t| humantime::parse_rfc3339_weak(t.trim_end_matches('Z')).ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs());
    Some((id, owner, made))
}

/// How long one docker command of the sweep may take: every `isobench
/// run` sweeps first, and a hung daemon must not hang it.
const DOCKER_TIMEOUT: Duration = Duration::from_secs(20);

/// The non-empty lines a docker command prints; none when it fails or
/// takes longer than [`DOCKER_TIMEOUT`] (it is killed then).
fn lines(docker: &Path, args: &[&str]) -> Vec<String> {
    let Ok(mut child) = Command::new(docker)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    else {
        return Vec::new();
    };
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let t0 = Instant::now();
    let ok = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st.success(),
            Ok(None) if t0.elapsed() < DOCKER_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(20))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break false;
            }
        }
    };
    let text = reader.join().unwrap_or_default();
    if !ok {
        return Vec::new();
    }
    text.lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// isobench's labelled containers and images (none when no daemon answers).
pub fn scan(docker: &Path) -> Vec<DockerObject> {
    let filter = format!("label={OWNER_LABEL}");
    let mut out = Vec::new();
    for (kind, list, inspect) in [
        (DockerKind::Container, "ps", "container"),
        (DockerKind::Image, "images", "image"),
    ] {
        let mut ids = lines(docker, &[list, "-aq", "--no-trunc", "--filter", &filter]);
        ids.sort();
        ids.dedup();
        if ids.is_empty() {
            continue;
        }
        let mut args = vec![inspect, "inspect", "--format", INSPECT_FORMAT];
        args.extend(ids.iter().map(String::as_str));
        for l in lines(docker, &args) {
            if let Some((id, owner, made_s)) = parse_inspect_line(&l) {
                out.push(DockerObject {
                    kind,
                    id,
                    owner,
                    made_s,
                });
            }
        }
    }
    out
}

/// The saved daemon.json files under `dir`.
pub fn backups(dir: &Path) -> Vec<DaemonJsonBackup> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<DaemonJsonBackup> = rd
        .flatten()
        .filter_map(|e| {
            let owner: i32 = e.file_name().to_str()?.parse().ok()?;
            let entry = e.path();
            let made_s = std::fs::metadata(&entry)
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_secs());
            Some(DaemonJsonBackup {
                owner,
                entry,
                made_s,
            })
        })
        .collect();
    out.sort_by_key(|b| b.owner);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspect_lines_give_owner_and_time() {
        let (id, pid, made) =
            parse_inspect_line("sha256:ab12 4242 2026-12-02T17:07:09.123456789Z").unwrap();
        assert_eq!((id.as_str(), pid), ("sha256:ab12", 4242));
        assert_eq!(made, Some(1_796_231_229));
        assert_eq!(parse_inspect_line("abc 77 garbage").unwrap().2, None);
        assert_eq!(
            parse_inspect_line("abc h8manual 2026-12-02T17:07:09Z"),
            None
        );
        assert_eq!(parse_inspect_line("abc"), None);
    }

    #[test]
    fn backups_are_found_by_pid() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("123")).unwrap();
        std::fs::create_dir(t.path().join("not-a-pid")).unwrap();
        let b = backups(t.path());
        assert_eq!(b.len(), 1);
        assert_eq!((b[0].owner, &b[0].entry), (123, &t.path().join("123")));
        assert!(b[0].made_s.is_some());
        assert!(backups(&t.path().join("absent")).is_empty());
    }
}
