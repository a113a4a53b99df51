//! A writer for the cpio "newc" (SVR4, no CRC) format, the format of a Linux
//! initramfs (kernel documentation: `Documentation/driver-api/early-userspace/
//! buffer-format.rst`; cpio(5)).
//!
//! Each entry is a 110-byte ASCII header (`070701` and thirteen 8-digit
//! hexadecimal fields: ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
//! devminor, rdevmajor, rdevminor, namesize, check), the NUL-terminated name
//! padded to a multiple of four bytes (counted from the start of the header),
//! then the data padded likewise. The archive ends with an entry named
//! `TRAILER!!!`. Names are stored without a leading `/`, as `cpio -o` does.
//!
//! Pure: the archive is built in memory and returned as bytes; writing the file
//! is the caller's business. An uncompressed archive is what the kernel
//! unpacks fastest (no decompressor), which matters under TCG.

use std::fmt;

/// File type bits of `st_mode` (`S_IFDIR`, `S_IFREG`, `S_IFCHR`, `S_IFLNK`).
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFCHR: u32 = 0o020000;
const S_IFLNK: u32 = 0o120000;

/// The magic of newc headers (without CRC).
pub const NEWC_MAGIC: &str = "070701";
/// Name of the entry that ends an archive.
pub const TRAILER: &str = "TRAILER!!!";
/// Length of a newc header: 6 magic bytes + 13 fields of 8 hex digits.
pub const HEADER_LEN: usize = 110;

/// Why an entry cannot be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CpioError {
    /// Empty names, `..` components, NUL bytes and the trailer's name are refused.
    #[error("invalid archive path {0:?}")]
    InvalidPath(String),
    /// Each path may appear once.
    #[error("duplicate archive path {0:?}")]
    Duplicate(String),
    /// newc stores sizes in 32 bits.
    #[error("{path:?} is too large for a newc archive ({size} bytes; the limit is 4 GiB)")]
    TooLarge { path: String, size: usize },
}

#[derive(Clone, PartialEq, Eq)]
enum Kind {
    Dir,
    File(Vec<u8>),
    CharDev { major: u32, minor: u32 },
    Symlink(String),
}

#[derive(Clone, PartialEq, Eq)]
struct Entry {
    name: String,
    /// Permission bits only (the type bits come from `kind`).
    perm: u32,
    kind: Kind,
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Dir => "dir".to_string(),
            Kind::File(d) => format!("file, {} bytes", d.len()),
            Kind::CharDev { major, minor } => format!("char {major},{minor}"),
            Kind::Symlink(t) => format!("symlink -> {t}"),
        };
        write!(f, "{} ({:o}, {kind})", self.name, self.perm)
    }
}

/// An initramfs being built. Entries are written in the order they were added;
/// add a directory before what it contains (the kernel creates entries in
/// archive order and does not create missing parents).
#[derive(Debug, Default, Clone)]
pub struct Archive {
    entries: Vec<Entry>,
}

/// `/init`, `bin/busybox` → `init`, `bin/busybox`; refuses what the kernel's
/// unpacker would misplace.
fn normalise(path: &str) -> Result<String, CpioError> {
    let name = path.trim_start_matches('/').trim_end_matches('/');
    let bad = name.is_empty()
        || name == TRAILER
        || name.contains('\0')
        || name
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..");
    if bad {
        return Err(CpioError::InvalidPath(path.to_string()));
    }
    Ok(name.to_string())
}

impl Archive {
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, path: &str, perm: u32, kind: Kind) -> Result<&mut Self, CpioError> {
        let name = normalise(path)?;
        if self.entries.iter().any(|e| e.name == name) {
            return Err(CpioError::Duplicate(name));
        }
        if let Kind::File(data) = &kind {
            if u32::try_from(data.len()).is_err() {
                return Err(CpioError::TooLarge {
                    path: name,
                    size: data.len(),
                });
            }
        }
        self.entries.push(Entry {
            name,
            perm: perm & 0o7777,
            kind,
        });
        Ok(self)
    }

    /// A directory (mode e.g. 0o755).
    pub fn dir(&mut self, path: &str, perm: u32) -> Result<&mut Self, CpioError> {
        self.push(path, perm, Kind::Dir)
    }

    /// A regular file holding `data`.
    pub fn file(&mut self, path: &str, perm: u32, data: Vec<u8>) -> Result<&mut Self, CpioError> {
        self.push(path, perm, Kind::File(data))
    }

    /// A character device node, e.g. `/dev/console` = 5,1.
    pub fn char_dev(
        &mut self,
        path: &str,
        perm: u32,
        major: u32,
        minor: u32,
    ) -> Result<&mut Self, CpioError> {
        self.push(path, perm, Kind::CharDev { major, minor })
    }

    /// A symbolic link to `target`.
    pub fn symlink(&mut self, path: &str, target: &str) -> Result<&mut Self, CpioError> {
        self.push(path, 0o777, Kind::Symlink(target.to_string()))
    }

    /// Whether `path` is in the archive already.
    pub fn contains(&self, path: &str) -> bool {
        normalise(path).is_ok_and(|n| self.entries.iter().any(|e| e.name == n))
    }

    /// Number of entries (without the trailer).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The archive in newc format, trailer included. Inode numbers count from
    /// 1 in archive order; uid, gid and mtime are 0 so that the same inputs
    /// give the same bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let data_len: usize = self
            .entries
            .iter()
            .map(|e| match &e.kind {
                Kind::File(d) => d.len() + 3,
                Kind::Symlink(t) => t.len() + 3,
                _ => 0,
            })
            .sum();
        let mut out = Vec::with_capacity(data_len + (self.entries.len() + 1) * (HEADER_LEN + 64));
        for (i, e) in self.entries.iter().enumerate() {
            let ino = i as u32 + 1;
            let (mode, nlink, data, rdev): (u32, u32, &[u8], (u32, u32)) = match &e.kind {
                Kind::Dir => (S_IFDIR | e.perm, 2, &[], (0, 0)),
                Kind::File(d) => (S_IFREG | e.perm, 1, d, (0, 0)),
                Kind::CharDev { major, minor } => (S_IFCHR | e.perm, 1, &[], (*major, *minor)),
                Kind::Symlink(t) => (S_IFLNK | e.perm, 1, t.as_bytes(), (0, 0)),
            };
            write_entry(&mut out, &e.name, ino, mode, nlink, rdev, data);
        }
        write_entry(&mut out, TRAILER, 0, 0, 1, (0, 0), &[]);
        out
    }
}

/// Append one header, its name and its data, each padded to four bytes.
fn write_entry(
    out: &mut Vec<u8>,
    name: &str,
    ino: u32,
    mode: u32,
    nlink: u32,
    rdev: (u32, u32),
    data: &[u8],
) {
    let namesize = name.len() as u32 + 1;
    let fields = [
        ino,
        mode,
        0, // uid
        0, // gid
        nlink,
        0, // mtime
        data.len() as u32,
        0, // devmajor (of the file system holding the file: irrelevant here)
        0, // devminor
        rdev.0,
        rdev.1,
        namesize,
        0, // check: only used by the 070702 (CRC) variant
    ];
    out.extend_from_slice(NEWC_MAGIC.as_bytes());
    for f in fields {
        out.extend_from_slice(format!("{f:08X}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad4(out);
    out.extend_from_slice(data);
    pad4(out);
}

fn pad4(out: &mut Vec<u8>) {
    out.resize(out.len().next_multiple_of(4), 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal newc reader following the kernel's rules, to check what the
    /// writer produced: (name, mode, rdevmajor, rdevminor, data).
    fn parse(bytes: &[u8]) -> Vec<(String, u32, u32, u32, Vec<u8>)> {
        let mut at: usize = 0;
        let mut out = Vec::new();
        loop {
            assert_eq!(
                at,
                at.next_multiple_of(4),
                "headers start on a 4-byte boundary"
            );
            let h = std::str::from_utf8(&bytes[at..at + HEADER_LEN]).unwrap();
            assert_eq!(&h[..6], NEWC_MAGIC);
            let field = |i: usize| u32::from_str_radix(&h[6 + 8 * i..14 + 8 * i], 16).unwrap();
            let (mode, size, rmaj, rmin, namesize) = (
                field(1),
                field(6) as usize,
                field(9),
                field(10),
                field(11) as usize,
            );
            let name_at = at + HEADER_LEN;
            assert_eq!(bytes[name_at + namesize - 1], 0, "name is NUL-terminated");
            let name = std::str::from_utf8(&bytes[name_at..name_at + namesize - 1])
                .unwrap()
                .to_string();
            let data_at = (name_at + namesize).next_multiple_of(4);
            let data = bytes[data_at..data_at + size].to_vec();
            at = (data_at + size).next_multiple_of(4);
            if name == TRAILER {
                assert_eq!(at, bytes.len(), "nothing after the trailer");
                return out;
            }
            out.push((name, mode, rmaj, rmin, data));
        }
    }

    /// The directories and console of an initramfs, without /init.
    fn layout() -> Archive {
        let mut a = Archive::new();
        a.dir("/dev", 0o755)
            .unwrap()
            .char_dev("/dev/console", 0o600, 5, 1)
            .unwrap();
        a.dir("/proc", 0o555)
            .unwrap()
            .dir("/sys", 0o555)
            .unwrap()
            .dir("/tmp", 0o1777)
            .unwrap();
        a
    }

    #[test]
    fn entries_follow_the_newc_rules() {
        let mut a = layout();
        a.file("/init", 0o755, b"\x7fELF fake init".to_vec())
            .unwrap();
        let bytes = a.to_bytes();
        assert_eq!(bytes.len(), bytes.len().next_multiple_of(4));
        let entries = parse(&bytes);
        let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(names, ["dev", "dev/console", "proc", "sys", "tmp", "init"]);
        let console = &entries[1];
        assert_eq!(console.1, S_IFCHR | 0o600);
        assert_eq!((console.2, console.3), (5, 1));
        let init = &entries[5];
        assert_eq!(init.1, S_IFREG | 0o755);
        assert_eq!(init.4, b"\x7fELF fake init");
        assert_eq!(entries[0].1, S_IFDIR | 0o755);
        assert_eq!(entries[4].1, S_IFDIR | 0o1777);
    }

    #[test]
    fn padding_for_every_name_and_data_length() {
        // Names and data of every length modulo 4 land on 4-byte boundaries.
        let mut a = Archive::new();
        for n in 1..=8 {
            let name = "x".repeat(n);
            a.file(&name, 0o644, vec![b'a'; n]).unwrap();
        }
        let entries = parse(&a.to_bytes());
        assert_eq!(entries.len(), 8);
        for (i, e) in entries.iter().enumerate() {
            assert_eq!(e.0.len(), i + 1);
            assert_eq!(e.4, vec![b'a'; i + 1]);
        }
    }

    #[test]
    fn output_is_deterministic_and_ends_with_trailer() {
        let mut a = Archive::new();
        a.dir("/dev", 0o755)
            .unwrap()
            .file("/init", 0o755, vec![1, 2, 3])
            .unwrap();
        let b = a.to_bytes();
        assert_eq!(b, a.to_bytes());
        let tail = String::from_utf8_lossy(&b[b.len() - 20..]).into_owned();
        assert!(tail.contains(TRAILER), "{tail:?}");
        assert_eq!(parse(&Archive::new().to_bytes()).len(), 0);
    }

    #[test]
    fn symlinks_store_their_target_as_data() {
        let mut a = Archive::new();
        a.dir("bin", 0o755)
            .unwrap()
            .symlink("bin/sh", "busybox")
            .unwrap();
        let e = parse(&a.to_bytes());
        assert_eq!(e[1].1, S_IFLNK | 0o777);
        assert_eq!(e[1].4, b"busybox");
    }

    #[test]
    fn bad_paths_and_duplicates_are_refused() {
        let mut a = Archive::new();
        for bad in ["", "/", "a/../b", "a//b", "./x", TRAILER, "a\0b"] {
            assert_eq!(
                a.dir(bad, 0o755).unwrap_err(),
                CpioError::InvalidPath(bad.into()),
                "{bad:?}"
            );
        }
        a.dir("/etc", 0o755).unwrap();
        assert_eq!(
            a.dir("etc/", 0o755).unwrap_err(),
            CpioError::Duplicate("etc".into())
        );
        assert_eq!(a.len(), 1);
    }

    /// `cpio -tv` (GNU cpio) agrees on names, types and the console's numbers.
    #[test]
    fn gnu_cpio_lists_the_archive() {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let Ok(mut child) = Command::new("cpio")
            .args(["-t", "-v", "--quiet"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        else {
            isobench_testkit::missing("cpio is not installed (apt-get install cpio)");
            return;
        };
        let mut a = layout();
        a.file("/init", 0o755, vec![0u8; 4097]).unwrap();
        let bytes = a.to_bytes();
        child.stdin.take().unwrap().write_all(&bytes).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let listing = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = listing.lines().collect();
        assert_eq!(lines.len(), 6, "{listing}");
        let names: Vec<&str> = lines
            .iter()
            .map(|l| l.split_whitespace().last().unwrap())
            .collect();
        assert_eq!(names, ["dev", "dev/console", "proc", "sys", "tmp", "init"]);
        // crw------- 1 root root 5, 1 ... dev/console
        assert!(lines[1].starts_with("crw-------"), "{}", lines[1]);
        assert!(
            lines[1].contains("5,   1") || lines[1].contains("5, 1"),
            "{}",
            lines[1]
        );
        assert!(lines[0].starts_with("drwxr-xr-x"), "{}", lines[0]);
        assert!(lines[4].starts_with("drwxrwxrwt"), "{}", lines[4]);
        assert!(lines[5].starts_with("-rwxr-xr-x"), "{}", lines[5]);
        assert!(lines[5].contains(" 4097 "), "{}", lines[5]);
    }
}
