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

/// `isorun` next to the running executable.
pub fn isorun_bin() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("isorun")))
        .filter(|p| p.is_file())
        .or_else(|| {
            // Integration tests run from target/<profile>/deps.
            std::env::current_exe()
                .ok()
                .and_then(|e| e.parent()?.parent().map(|d| d.join("isorun")))
                .filter(|p| p.is_file())
        })
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
    fn detects_dynamic_elf() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        // Test binaries are linked dynamically against glibc.
        assert_eq!(is_static_elf(&me), Some(false));
        assert_eq!(is_static_elf(b"#!/bin/sh\n"), None);
    }
}
