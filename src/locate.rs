//! Finding the binaries isobench drives: the static workload binary and the
//! `isorun` runtime.
//!
//! Order for the workload binary: `--workload-bin`, `$ISOBENCH_WORKLOAD_BIN`,
//! `isobench-workload` next to the running executable, then the static build
//! of `scripts/build-workload.sh` in the workspace's target directory.

use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

pub const STATIC_TARGET: &str = "x86_64-unknown-linux-gnu";

/// Candidate paths for the workload binary, in lookup order (pure).
pub fn workload_candidates(
    flag: Option<&Path>,
    env: Option<&Path>,
    exe: Option<&Path>,
) -> Vec<PathBuf> {
    let mut c = Vec::new();
    if let Some(p) = flag {
        c.push(p.to_path_buf());
        return c;
    }
    if let Some(p) = env {
        c.push(p.to_path_buf());
        return c;
    }
    if let Some(exe) = exe {
        if let Some(dir) = exe.parent() {
            // The static build first: containers and VMs need it.
            // target/<profile>/isobench -> target/<triple>/release/isobench-workload
            if let Some(target) = dir.parent() {
                c.push(target.join(STATIC_TARGET).join("release/isobench-workload"));
                // target/<profile>/deps/<test> (integration tests)
                if let Some(t2) = target.parent() {
                    c.push(t2.join(STATIC_TARGET).join("release/isobench-workload"));
                }
            }
            c.push(dir.join("isobench-workload"));
        }
    }
    c
}

pub fn workload_bin(flag: Option<&Path>) -> Result<PathBuf> {
    let env = std::env::var_os("ISOBENCH_WORKLOAD_BIN").map(PathBuf::from);
    let exe = std::env::current_exe().ok();
    let cands = workload_candidates(flag, env.as_deref(), exe.as_deref());
    for c in &cands {
        if c.is_file() {
            return Ok(c.canonicalize().unwrap_or_else(|_| c.clone()));
        }
    }
    bail!(
        "workload binary not found (looked at {}); build it with scripts/build-workload.sh or pass --workload-bin",
        cands.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )
}

/// True when the ELF file has no program interpreter (statically linked).
pub fn is_static_elf(bytes: &[u8]) -> Option<bool> {
    // ELF64 little-endian only (x86_64): e_phoff at 0x20, e_phentsize at 0x36,
    // e_phnum at 0x38; PT_INTERP = 3.
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" || bytes[4] != 2 || bytes[5] != 1 {
        return None;
    }
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(bytes[0x20..0x28].try_into().ok()?) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    for i in 0..phnum {
        let o = phoff + i * phentsize;
        let t = bytes.get(o..o + 4)?;
        if u32::from_le_bytes(t.try_into().ok()?) == 3 {
            return Some(false);
        }
    }
    Some(true)
}

/// `name` looked up in the directories of `path` (a `PATH` value): the
/// first regular file with an execute bit.
pub fn find_in_path(name: &str, path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    std::env::split_paths(path?)
        .map(|d| d.join(name))
        .find(|p| crate::sys::is_executable_file(p))
}

/// A program by name on `$PATH`, or as given when it holds a `/`.
pub fn which(prog: &str) -> Option<PathBuf> {
    if prog.contains('/') {
        return Path::new(prog).is_file().then(|| prog.into());
    }
    find_in_path(prog, std::env::var_os("PATH").as_deref())
}

/// The isorun binaries found for an executable at `exe`: the static build
/// of `scripts/build-isorun.sh` (`target/<triple>/release/isorun`) and the
/// dynamic one of `cargo build` next to `exe` (or one directory up, for
/// integration tests and benches in `target/<profile>/deps`), each if it
/// is a file, with its modification time.
pub fn isorun_builds(exe: &Path) -> (Option<Build>, Option<Build>) {
    let build = |p: PathBuf| {
        let m = std::fs::metadata(&p).ok().filter(|m| m.is_file())?;
        Some(Build {
            path: p,
            mtime: m.modified().ok()?,
        })
    };
    let dir = exe.parent();
    let dynamic = dir
        .and_then(|d| build(d.join("isorun")))
        .or_else(|| dir.and_then(|d| build(d.parent()?.join("isorun"))));
    // target/<profile>/isobench or target/<profile>/deps/<test>.
    let statik = dir
        .and_then(|d| d.parent())
        .and_then(|t| {
            build(t.join(STATIC_TARGET).join("release/isorun"))
                .or_else(|| build(t.parent()?.join(STATIC_TARGET).join("release/isorun")))
        })
        // The static build's own directory is a profile dir too.
        .filter(|s| !matches!(&dynamic, Some(d) if d.path == s.path));
    (statik, dynamic)
}

/// One isorun binary and when it was built.
#[derive(Debug, Clone, PartialEq)]
pub struct Build {
    pub path: PathBuf,
    pub mtime: std::time::SystemTime,
}

/// Which build to run (pure): the static one when it is at least as new as
/// the dynamic one. The newer of the two was built from the newer sources:
/// a `cargo build` after a source change relinks the dynamic binary, and a
/// static build left from before is then passed over (not run stale).
pub fn pick_isorun(statik: Option<Build>, dynamic: Option<Build>) -> Option<Build> {
    match (statik, dynamic) {
        (Some(s), Some(d)) if d.mtime > s.mtime => Some(d),
        (Some(s), _) => Some(s),
        (None, d) => d,
    }
}

/// The isorun binary to run: `$ISORUN_BIN`, else the newer of the static
/// build (`scripts/build-isorun.sh`) and the dynamic one next to the
/// running executable ([`pick_isorun`]), else `isorun` on `$PATH`.
pub fn isorun_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("ISORUN_BIN") {
        return PathBuf::from(p);
    }
    std::env::current_exe()
        .ok()
        .and_then(|e| {
            let (s, d) = isorun_builds(&e);
            pick_isorun(s, d)
        })
        .map(|b| b.path)
        .unwrap_or_else(|| PathBuf::from("isorun"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_wins_then_env_then_exe_neighbours() {
        let f = Path::new("/f/w");
        let e = Path::new("/e/w");
        let x = Path::new("/ws/target/release/isobench");
        assert_eq!(
            workload_candidates(Some(f), Some(e), Some(x)),
            vec![f.to_path_buf()]
        );
        assert_eq!(
            workload_candidates(None, Some(e), Some(x)),
            vec![e.to_path_buf()]
        );
        let c = workload_candidates(None, None, Some(x));
        assert_eq!(
            c[0],
            PathBuf::from("/ws/target/x86_64-unknown-linux-gnu/release/isobench-workload")
        );
        assert_eq!(
            c.last().unwrap(),
            &PathBuf::from("/ws/target/release/isobench-workload")
        );
    }

    #[test]
    fn the_newer_isorun_build_is_run_static_on_a_tie() {
        let t = |s| std::time::UNIX_EPOCH + std::time::Duration::from_secs(s);
        let b = |p: &str, s| Build {
            path: p.into(),
            mtime: t(s),
        };
        let (st, dy) = (b("/s", 10), b("/d", 10));
        assert_eq!(
            pick_isorun(Some(st.clone()), Some(dy.clone())),
            Some(st.clone())
        );
        // A `cargo build` after the static one: the dynamic has the newer sources.
        assert_eq!(
            pick_isorun(Some(st.clone()), Some(b("/d", 11))),
            Some(b("/d", 11))
        );
        assert_eq!(
            pick_isorun(Some(b("/s", 12)), Some(dy.clone())),
            Some(b("/s", 12))
        );
        assert_eq!(pick_isorun(None, Some(dy.clone())), Some(dy));
        assert_eq!(pick_isorun(Some(st.clone()), None), Some(st));
        assert_eq!(pick_isorun(None, None), None);
    }

    #[test]
    fn isorun_builds_are_found_from_the_profile_and_deps_dirs() {
        let t = tempfile::tempdir().unwrap();
        let stat = t.path().join(STATIC_TARGET).join("release");
        let rel = t.path().join("release");
        std::fs::create_dir_all(&stat).unwrap();
        std::fs::create_dir_all(rel.join("deps")).unwrap();
        std::fs::write(stat.join("isorun"), "").unwrap();
        std::fs::write(rel.join("isorun"), "").unwrap();
        for exe in [rel.join("isobench"), rel.join("deps/lifecycle-0123")] {
            let (s, d) = isorun_builds(&exe);
            assert_eq!(s.unwrap().path, stat.join("isorun"), "{exe:?}");
            assert_eq!(d.unwrap().path, rel.join("isorun"), "{exe:?}");
        }
        // Run from the static build's own directory: one build, not two.
        let (s, d) = isorun_builds(&stat.join("isobench"));
        assert_eq!((s, d.unwrap().path), (None, stat.join("isorun")));
        std::fs::remove_file(rel.join("isorun")).unwrap();
        let (s, d) = isorun_builds(&rel.join("isobench"));
        assert_eq!((s.unwrap().path, d), (stat.join("isorun"), None));
    }

    #[test]
    fn detects_dynamic_elf() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        // Test binaries are linked dynamically against glibc.
        assert_eq!(is_static_elf(&me), Some(false));
        assert_eq!(is_static_elf(b"#!/bin/sh\n"), None);
    }
}
