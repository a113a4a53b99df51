//! The initramfs images isobench boots (buffer-format.rst; written with
//! [`crate::env::vm::cpio`]).
//!
//! The kernel unpacks the archive into a tmpfs and runs `/init` as PID 1 with
//! `/dev/console` as its standard streams; without that device node init's
//! output is lost (the kernel's "Warning: unable to open an initial console").
//! isobench's image holds the mount points the workload's PID-1 mode uses,
//! the console node and the static workload binary as `/init`. The busybox
//! image is the baseline it is compared with: the same layout with
//! busybox-static and a shell `/init` that prints the same markers.

use crate::env::vm::console::UPTIME_KEY;
use crate::env::vm::cpio::{Archive, CpioError};

/// Why an initramfs cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InitramfsError {
    #[error(transparent)]
    Cpio(#[from] CpioError),
    /// The guest has no dynamic loader or libraries: `/init` must be static.
    #[error("the workload binary cannot be the guest's /init: {0} (build it with scripts/build-workload.sh)")]
    NotStatic(String),
}

/// ELF constants (elf(5)).
const PT_INTERP: u32 = 3;
const EM_X86_64: u16 = 62;

/// Check that `bin` is a static x86-64 ELF executable: 64-bit, for x86-64 and
/// without a `PT_INTERP` program header (a dynamic loader the guest lacks).
pub fn check_static_elf(bin: &[u8]) -> Result<(), String> {
    if bin.len() < 64 || &bin[..4] != b"\x7fELF" {
        return Err("not an ELF file".into());
    }
    if bin[4] != 2 || bin[5] != 1 {
        return Err("not a 64-bit little-endian ELF file".into());
    }
    let u16_at = |o: usize| u16::from_le_bytes([bin[o], bin[o + 1]]);
    if u16_at(18) != EM_X86_64 {
        return Err(format!("built for ELF machine {}, not x86-64", u16_at(18)));
    }
    let phoff = u64::from_le_bytes(bin[32..40].try_into().expect("8 bytes")) as usize;
    let (phentsize, phnum) = (u16_at(54) as usize, u16_at(56) as usize);
    for i in 0..phnum {
        let at = phoff.saturating_add(i.saturating_mul(phentsize));
        let Some(ph) = bin.get(at..at + 4) else {
            return Err("truncated program headers".into());
        };
        if u32::from_le_bytes(ph.try_into().expect("4 bytes")) == PT_INTERP {
            return Err("it is dynamically linked (has a PT_INTERP program header)".into());
        }
    }
    Ok(())
}

/// Directories and `/dev/console` (char 5,1), shared by every image.
pub fn base_layout() -> Result<Archive, CpioError> {
    let mut a = Archive::new();
    a.dir("/dev", 0o755)?
        .char_dev("/dev/console", 0o600, 5, 1)?
        .dir("/proc", 0o555)?
        .dir("/sys", 0o555)?
        .dir("/tmp", 0o1777)?;
    Ok(a)
}

/// isobench's image: the base layout and `init` (the static workload binary)
/// as `/init`.
pub fn workload_initramfs(init: Vec<u8>) -> Result<Archive, InitramfsError> {
    check_static_elf(&init).map_err(InitramfsError::NotStatic)?;
    let mut a = base_layout()?;
    a.file("/init", 0o755, init)?;
    Ok(a)
}

/// Add the tree under `root` to `a` at the same paths (the user's
/// command's root file system, or its program alone): directories, regular
/// files and symbolic links with their permission bits. Paths `a` holds
/// already (the base layout, `/init`) are kept as they are; device nodes,
/// FIFOs and sockets are left out (the guest's devtmpfs provides /dev).
/// Returns how many entries were left out.
pub fn add_tree(a: &mut Archive, root: &std::path::Path) -> Result<usize, TreeError> {
    fn walk(
        a: &mut Archive,
        dir: &std::path::Path,
        rel: &str,
        skipped: &mut usize,
    ) -> Result<(), TreeError> {
        use std::os::unix::fs::PermissionsExt;
        let io = |p: &std::path::Path, e: std::io::Error| {
            TreeError::Io(p.display().to_string(), e.to_string())
        };
        let mut names: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| io(dir, e))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(|e| io(dir, e))?;
        names.sort();
        for p in names {
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| TreeError::Name(p.display().to_string()))?;
            let path = format!("{rel}/{name}");
            let m = std::fs::symlink_metadata(&p).map_err(|e| io(&p, e))?;
            let perm = m.permissions().mode();
            let t = m.file_type();
            let present = a.contains(&path);
            if t.is_dir() {
                if !present {
                    a.dir(&path, perm)?;
                }
                walk(a, &p, &path, skipped)?;
            } else if present {
                *skipped += 1;
            } else if t.is_symlink() {
                let target = std::fs::read_link(&p).map_err(|e| io(&p, e))?;
                let target = target
                    .to_str()
                    .ok_or_else(|| TreeError::Name(p.display().to_string()))?;
                a.symlink(&path, target)?;
            } else if t.is_file() {
                a.file(&path, perm, std::fs::read(&p).map_err(|e| io(&p, e))?)?;
            } else {
                *skipped += 1;
            }
        }
        Ok(())
    }
    let mut skipped = 0;
    walk(a, root, "", &mut skipped)?;
    Ok(skipped)
}

/// Why a directory tree cannot go into an initramfs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    #[error(transparent)]
    Cpio(#[from] CpioError),
    #[error("reading {0}: {1}")]
    Io(String, String),
    #[error("{0}: the file name is not UTF-8")]
    Name(String),
}

/// The baseline: busybox-static as `/bin/busybox` and `script` as `/init`.
pub fn busybox_initramfs(busybox: Vec<u8>, script: &str) -> Result<Archive, InitramfsError> {
    let mut a = base_layout()?;
    a.dir("/bin", 0o755)?.file("/bin/busybox", 0o755, busybox)?;
    a.file("/init", 0o755, script.as_bytes().to_vec())?;
    Ok(a)
}

/// A busybox `/init` that behaves like the workload's `startup` kernel: the
/// ready marker first, then a result carrying the guest uptime, then
/// reboot(2) (which ends QEMU under `-no-reboot`).
pub fn busybox_startup_script() -> String {
    // /proc/uptime is "2.31 0.50": seconds with two decimals; "2"+"31"+"0" ms.
    format!(
        r#"#!/bin/busybox sh
echo ISOBENCH-READY
/bin/busybox mount -t proc proc /proc
read up idle < /proc/uptime
ms="${{up%.*}}${{up#*.}}0"
echo "ISOBENCH-RESULT {{\"workload\":\"startup\",\"valid\":true,\"info\":{{\"{UPTIME_KEY}\":\"$ms\",\"init\":\"busybox\"}}}}"
/bin/busybox reboot -f
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 x86-64 header with `phnum` program headers of `ptype`.
    fn elf(ptype: u32, machine: u16) -> Vec<u8> {
        let mut b = vec![0u8; 64 + 56];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[18..20].copy_from_slice(&machine.to_le_bytes());
        b[32..40].copy_from_slice(&64u64.to_le_bytes());
        b[54..56].copy_from_slice(&56u16.to_le_bytes());
        b[56..58].copy_from_slice(&1u16.to_le_bytes());
        b[64..68].copy_from_slice(&ptype.to_le_bytes());
        b
    }

    #[test]
    fn static_and_dynamic_elf_files() {
        assert_eq!(check_static_elf(&elf(1, EM_X86_64)), Ok(()));
        assert!(check_static_elf(&elf(PT_INTERP, EM_X86_64))
            .unwrap_err()
            .contains("dynamically linked"));
        assert!(check_static_elf(&elf(1, 183))
            .unwrap_err()
            .contains("not x86-64"));
        assert!(check_static_elf(b"#!/bin/sh\necho hi\n")
            .unwrap_err()
            .contains("not an ELF"));
        let mut truncated = elf(1, EM_X86_64);
        truncated.truncate(66);
        truncated.resize(64, 0);
        truncated[32..40].copy_from_slice(&64u64.to_le_bytes());
        truncated[56..58].copy_from_slice(&1u16.to_le_bytes());
        assert!(check_static_elf(&truncated)
            .unwrap_err()
            .contains("truncated"));
    }

    #[test]
    fn the_host_busybox_static_is_static() {
        match std::fs::read("/bin/busybox") {
            Ok(b) => assert_eq!(check_static_elf(&b), Ok(())),
            Err(e) => isobench_testkit::missing(format!(
                "/bin/busybox: {e} (apt-get install busybox-static)"
            )),
        }
    }

    #[test]
    fn dynamic_workload_binary_is_refused_with_the_fix() {
        let err = workload_initramfs(elf(PT_INTERP, EM_X86_64)).unwrap_err();
        assert!(
            err.to_string().contains("scripts/build-workload.sh"),
            "{err}"
        );
        assert_eq!(workload_initramfs(elf(1, EM_X86_64)).unwrap().len(), 6);
    }

    #[test]
    fn a_tree_joins_the_image_at_its_own_paths() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("bin")).unwrap();
        std::fs::create_dir_all(r.join("tmp")).unwrap();
        std::fs::write(r.join("bin/tool"), b"data").unwrap();
        std::fs::write(r.join("init"), b"theirs").unwrap();
        std::os::unix::fs::symlink("tool", r.join("bin/alias")).unwrap();
        let mut a = workload_initramfs(elf(1, EM_X86_64)).unwrap();
        let before = a.len();
        let skipped = add_tree(&mut a, r).unwrap();
        assert_eq!(skipped, 1, "their /init gives way to the workload's");
        assert_eq!(
            a.len(),
            before + 3,
            "bin, bin/alias, bin/tool; /tmp was there"
        );
        assert!(a.contains("/bin/tool") && a.contains("bin/alias"));
        let bytes = a.to_bytes();
        let hay = String::from_utf8_lossy(&bytes);
        assert!(hay.contains("bin/tool") && hay.contains("data"));
        assert!(!hay.contains("theirs"));
    }

    #[test]
    fn busybox_image_has_the_shell_init() {
        let a = busybox_initramfs(vec![0x7f, b'E', b'L', b'F'], &busybox_startup_script()).unwrap();
        assert_eq!(a.len(), 8);
        let s = busybox_startup_script();
        assert!(s.starts_with("#!/bin/busybox sh\necho ISOBENCH-READY\n"));
        assert!(s.contains(r#"\"guest_uptime_at_init_ms\":\"$ms\""#), "{s}");
        assert!(s.trim_end().ends_with("reboot -f"));
    }
}
