//! Finding the guest kernel, and reading its version out of the bzImage.
//!
//! Lookup order (issue 4, docs/design.md "Environments"):
//! 1. `--kernel PATH`;
//! 2. the `ISOBENCH_KERNEL` environment variable;
//! 3. the host's `/boot/vmlinuz-$(uname -r)` when it is readable;
//! 4. the newest `vmlinuz-*` that `scripts/fetch-kernel.sh` unpacked into a
//!    cache directory (`$ISOBENCH_CACHE/kernel`, `/var/cache/isobench/kernel`,
//!    `$XDG_CACHE_HOME` or `~/.cache` + `/isobench/kernel`, each with
//!    `root/boot/` below it).
//!
//! A path given explicitly (1, 2) that cannot be read is an error rather than
//! a silent fall-through: the user asked for that kernel. Everything the lookup
//! reads (environment, release, directories) is a parameter, so the order is
//! unit-tested against a temporary directory.
//!
//! The version comes from the bzImage's setup header (x86 boot protocol,
//! `Documentation/arch/x86/boot.rst`): the 16-bit `kernel_version` field at
//! offset 0x20E points, relative to 0x200, at a NUL-terminated string such as
//! `6.1.0-41-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP ...`.

use std::cmp::Ordering;
use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// How to get a kernel when none is found; part of every lookup error.
pub const FETCH_HINT: &str =
    "run scripts/fetch-kernel.sh (unpacks Debian's linux-image-cloud-amd64 into a cache \
     directory), or pass --kernel PATH / set ISOBENCH_KERNEL to a bzImage";

/// Where the kernel came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KernelSource {
    Flag,
    Env,
    Host,
    Cache,
}

impl KernelSource {
    pub fn name(self) -> &'static str {
        match self {
            KernelSource::Flag => "--kernel",
            KernelSource::Env => "ISOBENCH_KERNEL",
            KernelSource::Host => "host /boot",
            KernelSource::Cache => "fetch-kernel.sh cache",
        }
    }
}

/// The kernel chosen, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestKernel {
    pub path: PathBuf,
    pub source: KernelSource,
    /// One sentence: which candidates were looked at and why this one won.
    pub reason: String,
}

/// What the lookup may read, so that tests can substitute every part.
#[derive(Debug, Clone, Default)]
pub struct KernelSearch {
    /// `--kernel PATH`.
    pub flag: Option<PathBuf>,
    /// Value of `ISOBENCH_KERNEL`.
    pub env_kernel: Option<OsString>,
    /// `uname -r` of the host.
    pub host_release: Option<String>,
    /// Normally `/boot`.
    pub boot_dir: PathBuf,
    /// Cache directories in order of preference (each holds `root/boot/`).
    pub cache_dirs: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("guest kernel {path} (from {}) cannot be read: {err}; {FETCH_HINT}", .source_name)]
    Unreadable {
        path: PathBuf,
        source_name: &'static str,
        err: std::io::Error,
    },
    #[error("no guest kernel found ({looked}); {FETCH_HINT}")]
    NotFound { looked: String },
}

impl KernelSearch {
    /// The search this host would do: `ISOBENCH_KERNEL`, `uname -r`, `/boot`
    /// and the cache directories of `scripts/fetch-kernel.sh`.
    pub fn from_host(flag: Option<PathBuf>) -> KernelSearch {
        // The same string as `uname -r`.
        let host_release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        KernelSearch {
            flag,
            env_kernel: std::env::var_os("ISOBENCH_KERNEL").filter(|v| !v.is_empty()),
            host_release,
            boot_dir: PathBuf::from("/boot"),
            cache_dirs: cache_dirs(
                std::env::var_os("ISOBENCH_CACHE").as_deref(),
                std::env::var_os("XDG_CACHE_HOME").as_deref(),
                std::env::var_os("HOME").as_deref(),
            ),
        }
    }

    /// Apply the lookup order.
    pub fn find(&self) -> Result<GuestKernel, KernelError> {
        let explicit = [
            (self.flag.clone(), KernelSource::Flag),
            (
                self.env_kernel.clone().map(PathBuf::from),
                KernelSource::Env,
            ),
        ];
        for (path, source) in explicit {
            if let Some(path) = path {
                readable(&path).map_err(|err| KernelError::Unreadable {
                    path: path.clone(),
                    source_name: source.name(),
                    err,
                })?;
                let reason = format!("given by {}", source.name());
                return Ok(GuestKernel {
                    path,
                    source,
                    reason,
                });
            }
        }
        let mut looked = Vec::new();
        match &self.host_release {
            Some(rel) => {
                let path = self.boot_dir.join(format!("vmlinuz-{rel}"));
                match readable(&path) {
                    Ok(()) => {
                        let reason = format!(
                            "the host's own kernel ({rel}) is readable in {}",
                            self.boot_dir.display()
                        );
                        return Ok(GuestKernel {
                            path,
                            source: KernelSource::Host,
                            reason,
                        });
                    }
                    Err(e) => looked.push(format!("{}: {}", path.display(), short_io(&e))),
                }
            }
            None => looked.push("host release unknown".into()),
        }
        for dir in &self.cache_dirs {
            let boot = dir.join("root/boot");
            match newest_vmlinuz(&boot) {
                Some(path) => {
                    let why = looked.join("; ");
                    let reason = format!("unpacked by scripts/fetch-kernel.sh ({why})");
                    return Ok(GuestKernel {
                        path,
                        source: KernelSource::Cache,
                        reason,
                    });
                }
                None => looked.push(format!("{}: no vmlinuz-*", boot.display())),
            }
        }
        Err(KernelError::NotFound {
            looked: looked.join("; "),
        })
    }
}

/// The cache directories `scripts/fetch-kernel.sh` may have used, in its order.
pub fn cache_dirs(
    isobench_cache: Option<&std::ffi::OsStr>,
    xdg: Option<&std::ffi::OsStr>,
    home: Option<&std::ffi::OsStr>,
) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(c) = isobench_cache.filter(|c| !c.is_empty()) {
        v.push(Path::new(c).join("kernel"));
    }
    v.push(PathBuf::from("/var/cache/isobench/kernel"));
    if let Some(x) = xdg.filter(|x| !x.is_empty()) {
        v.push(Path::new(x).join("isobench/kernel"));
    } else if let Some(h) = home.filter(|h| !h.is_empty()) {
        v.push(Path::new(h).join(".cache/isobench/kernel"));
    }
    v
}

fn readable(path: &Path) -> std::io::Result<()> {
    let f = File::open(path)?;
    if f.metadata()?.is_dir() {
        return Err(std::io::Error::other("is a directory"));
    }
    Ok(())
}

fn short_io(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "absent".into(),
        std::io::ErrorKind::PermissionDenied => "not readable".into(),
        _ => e.to_string(),
    }
}

/// The readable `vmlinuz-*` in `dir` with the highest version.
fn newest_vmlinuz(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("vmlinuz-"))
                && readable(p).is_ok()
        })
        .collect();
    found.sort_by(|a, b| version_cmp(&a.to_string_lossy(), &b.to_string_lossy()));
    found.pop()
}

/// Compare strings with embedded numbers numerically (`6.1.0-9` < `6.1.0-41`),
/// as `sort -V` does for kernel names.
pub fn version_cmp(a: &str, b: &str) -> Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut v = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                v.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        v
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for (x, y) in ca.iter().zip(cb.iter()) {
        let ord = match (x, y) {
            ((true, x), (true, y)) => {
                let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                x.len().cmp(&y.len()).then_with(|| x.cmp(y))
            }
            ((_, x), (_, y)) => x.cmp(y),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    ca.len().cmp(&cb.len())
}

/// The version string in a bzImage's setup header (first word, e.g.
/// `6.1.0-41-cloud-amd64`), or `None` when `image` is not a bzImage.
pub fn bzimage_version(image: &[u8]) -> Option<String> {
    // "HdrS" at 0x202 marks the boot protocol header.
    if image.get(0x202..0x206)? != b"HdrS" {
        return None;
    }
    let ptr = u16::from_le_bytes([*image.get(0x20E)?, *image.get(0x20F)?]) as usize;
    let start = ptr.checked_add(0x200)?;
    let tail = image.get(start..)?;
    let end = tail.iter().take(512).position(|&b| b == 0)?;
    let s = std::str::from_utf8(&tail[..end]).ok()?;
    s.split_whitespace().next().map(str::to_string)
}

/// Read the version from the kernel file (the header is in the first 64 KiB).
pub fn kernel_version(path: &Path) -> Option<String> {
    let mut buf = Vec::with_capacity(65536);
    File::open(path)
        .ok()?
        .take(65536)
        .read_to_end(&mut buf)
        .ok()?;
    bzimage_version(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    struct Fixture {
        _tmp: tempfile::TempDir,
        boot: PathBuf,
        cache: PathBuf,
        cache2: PathBuf,
    }

    fn fixture() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let boot = tmp.path().join("boot");
        let cache = tmp.path().join("cache");
        let cache2 = tmp.path().join("cache2");
        fs::create_dir_all(&boot).unwrap();
        fs::create_dir_all(cache.join("root/boot")).unwrap();
        fs::create_dir_all(cache2.join("root/boot")).unwrap();
        Fixture {
            boot,
            cache,
            cache2,
            _tmp: tmp,
        }
    }

    fn search(f: &Fixture) -> KernelSearch {
        KernelSearch {
            flag: None,
            env_kernel: None,
            host_release: Some("6.1.0-test".into()),
            boot_dir: f.boot.clone(),
            cache_dirs: vec![f.cache.clone(), f.cache2.clone()],
        }
    }

    #[test]
    fn lookup_order_flag_env_host_cache() {
        let f = fixture();
        let flag = f.boot.join("flag-kernel");
        let env = f.boot.join("env-kernel");
        let host = f.boot.join("vmlinuz-6.1.0-test");
        let cached = f.cache2.join("root/boot/vmlinuz-6.1.0-41-cloud-amd64");
        for p in [&flag, &env, &host, &cached] {
            fs::write(p, b"k").unwrap();
        }
        let mut s = search(&f);
        s.flag = Some(flag.clone());
        s.env_kernel = Some(env.clone().into());
        let k = s.find().unwrap();
        assert_eq!((k.path, k.source), (flag, KernelSource::Flag));

        s.flag = None;
        let k = s.find().unwrap();
        assert_eq!((k.path, k.source), (env, KernelSource::Env));

        s.env_kernel = None;
        let k = s.find().unwrap();
        assert_eq!((k.path, k.source), (host.clone(), KernelSource::Host));
        assert!(k.reason.contains("6.1.0-test"), "{}", k.reason);

        fs::remove_file(&host).unwrap();
        let k = s.find().unwrap();
        assert_eq!((k.path, k.source), (cached, KernelSource::Cache));
        // The reason says why the host kernel was passed over.
        assert!(
            k.reason.contains("vmlinuz-6.1.0-test: absent"),
            "{}",
            k.reason
        );
        assert!(
            k.reason.contains("cache/root/boot: no vmlinuz-*"),
            "{}",
            k.reason
        );
    }

    #[test]
    fn explicit_paths_that_cannot_be_read_are_errors() {
        let f = fixture();
        fs::write(f.boot.join("vmlinuz-6.1.0-test"), b"k").unwrap();
        let mut s = search(&f);
        s.env_kernel = Some(f.boot.join("missing").into());
        let msg = s.find().unwrap_err().to_string();
        assert!(
            msg.contains("missing") && msg.contains("ISOBENCH_KERNEL"),
            "{msg}"
        );
        assert!(msg.contains("fetch-kernel.sh"), "{msg}");
        s.flag = Some(f.boot.clone()); // a directory
        let msg = s.find().unwrap_err().to_string();
        assert!(
            msg.contains("--kernel") && msg.contains("directory"),
            "{msg}"
        );
    }

    #[test]
    fn nothing_found_names_every_place_and_the_fix() {
        let f = fixture();
        let msg = search(&f).find().unwrap_err().to_string();
        assert!(msg.contains("vmlinuz-6.1.0-test: absent"), "{msg}");
        assert!(msg.contains("cache2/root/boot: no vmlinuz-*"), "{msg}");
        assert!(msg.contains("scripts/fetch-kernel.sh"), "{msg}");
    }

    #[test]
    fn newest_cached_kernel_wins() {
        let f = fixture();
        for v in [
            "6.1.0-9-cloud-amd64",
            "6.1.0-41-cloud-amd64",
            "6.1.0-10-cloud-amd64",
        ] {
            fs::write(f.cache.join(format!("root/boot/vmlinuz-{v}")), b"k").unwrap();
        }
        fs::write(f.cache.join("root/boot/config-6.1.0-99-cloud-amd64"), b"c").unwrap();
        let k = search(&f).find().unwrap();
        assert!(
            k.path.ends_with("vmlinuz-6.1.0-41-cloud-amd64"),
            "{}",
            k.path.display()
        );
    }

    #[test]
    fn version_ordering_is_numeric() {
        assert_eq!(version_cmp("6.1.0-9", "6.1.0-41"), Ordering::Less);
        assert_eq!(version_cmp("6.10.0", "6.9.0"), Ordering::Greater);
        assert_eq!(version_cmp("6.1.0-41", "6.1.0-41"), Ordering::Equal);
        assert_eq!(version_cmp("6.1", "6.1.0"), Ordering::Less);
    }

    #[test]
    fn cache_dirs_follow_the_fetch_script() {
        let d = cache_dirs(Some("/c".as_ref()), None, Some("/home/u".as_ref()));
        assert_eq!(
            d,
            [
                PathBuf::from("/c/kernel"),
                PathBuf::from("/var/cache/isobench/kernel"),
                PathBuf::from("/home/u/.cache/isobench/kernel")
            ]
        );
        let d = cache_dirs(None, Some("/x".as_ref()), Some("/home/u".as_ref()));
        assert_eq!(
            d,
            [
                PathBuf::from("/var/cache/isobench/kernel"),
                PathBuf::from("/x/isobench/kernel")
            ]
        );
    }

    #[test]
    fn version_from_a_synthetic_setup_header() {
        let mut img = vec![0u8; 0x1000];
        img[0x202..0x206].copy_from_slice(b"HdrS");
        // kernel_version = 0x0300 -> string at 0x500.
        img[0x20E..0x210].copy_from_slice(&0x0300u16.to_le_bytes());
        let s = b"6.1.0-41-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP\0";
        img[0x500..0x500 + s.len()].copy_from_slice(s);
        assert_eq!(
            bzimage_version(&img).as_deref(),
            Some("6.1.0-41-cloud-amd64")
        );
        img[0x202] = b'X';
        assert_eq!(bzimage_version(&img), None);
        assert_eq!(bzimage_version(b"short"), None);
    }
}
