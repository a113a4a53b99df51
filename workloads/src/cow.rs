//! What copy-on-write costs (claim C7), measured from inside an environment:
//!
//! - `copyup`: the first write to a file that sits in a read-only lower
//!   layer. On overlayfs (Documentation/filesystems/overlayfs.rst, "Non-
//!   directories") opening a lower file for writing first copies the whole
//!   file up into the upper layer; on a plain directory the same write just
//!   writes. The files (`copyup-<bytes>` in [`DATA_DIR`]) are written by the
//!   host with [`write_data`] and reach the environment as an image layer
//!   (containers) or a directory (native).
//! - `ovlmount`: the time of mount(2) of an overlay with 1..N lower layers,
//!   in a private mount (and, where the process lacks CAP_SYS_ADMIN, user)
//!   namespace on a tmpfs of its own; the kernel caps the stack at 500
//!   layers (`OVL_MAX_STACK`).
//! - `fsmeta`: create, stat and unlink of many small files (the metadata
//!   path) in the environment's own writable file system.
//!
//! Every kernel checks what it wrote (content, sizes, the merged view).

use crate::error::{failed, os_failed, Error};
use crate::metricdef::MetricDef;
use std::ffi::CString;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Copy-up: time of the first write into a lower-layer file, per file size
/// (`first_write_ms_1MiB`, see `run::copyup_metric`).
pub const COPYUP_METRICS: &[MetricDef] = &[MetricDef::lower("first_write_ms_", "ms").family()];
/// Overlay mount time per lower-layer count (`mount_ms_64layers`).
pub const OVLMOUNT_METRICS: &[MetricDef] = &[MetricDef::lower("mount_ms_", "ms").family()];
/// Per-file create, stat and unlink times.
pub const FSMETA_METRICS: &[MetricDef] = &[
    MetricDef::lower("create_us", "us"),
    MetricDef::lower("stat_us", "us"),
    MetricDef::lower("unlink_us", "us"),
];

/// Directory (relative to the workload's working directory: the image root
/// in a container, the host's data directory natively) holding the files
/// `copyup` writes to.
pub const DATA_DIR: &str = "isobench-data";

/// Bytes written by the timed first write (or the file's size if smaller).
pub const WRITE_BYTES: u64 = 4096;

/// The largest overlay stack the kernel accepts (fs/overlayfs/params.h).
pub const OVL_MAX_STACK: u32 = 500;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyupConfig {
    /// File sizes, ascending.
    pub sizes: Vec<u64>,
    /// Directory of the `copyup-<bytes>` files.
    pub dir: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OvlmountConfig {
    /// Numbers of lower layers, ascending.
    pub layers: Vec<u32>,
    /// Mounts timed per layer count (the median is the figure).
    pub tries: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsmetaConfig {
    pub files: u32,
    /// Directory in which a private subdirectory is made (relative: to the
    /// working directory).
    pub dir: String,
}

/// File name of the copy-up file of `size` bytes.
pub fn data_name(size: u64) -> String {
    format!("copyup-{size}")
}

/// splitmix64: the content of word `i` of a file of `size` bytes.
fn word(size: u64, i: u64) -> u64 {
    let mut z = (i ^ size.rotate_left(32)).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Fill `buf` with the file's content from byte `off` (a multiple of 8).
fn fill(size: u64, off: u64, buf: &mut [u8]) {
    for (k, chunk) in buf.chunks_mut(8).enumerate() {
        let w = word(size, off / 8 + k as u64).to_le_bytes();
        chunk.copy_from_slice(&w[..chunk.len()]);
    }
}

/// What the first `WRITE_BYTES` become after the timed write: the pattern
/// inverted (the same every time, so a second run on a plain directory
/// finds what it expects).
fn written(size: u64) -> Vec<u8> {
    let mut b = vec![0u8; WRITE_BYTES.min(size) as usize];
    fill(size, 0, &mut b);
    b.iter_mut().for_each(|x| *x = !*x);
    b
}

/// Write the copy-up files of `sizes` into `dir/DATA_DIR` (host side).
pub fn write_data(dir: &Path, sizes: &[u64]) -> std::io::Result<()> {
    let d = dir.join(DATA_DIR);
    fs::create_dir_all(&d)?;
    for &s in sizes {
        let p = d.join(data_name(s));
        if fs::metadata(&p).is_ok_and(|m| m.len() == s) {
            continue;
        }
        let mut f = std::io::BufWriter::new(fs::File::create(&p)?);
        let mut buf = vec![0u8; 1 << 20];
        let mut off = 0;
        while off < s {
            let n = (s - off).min(buf.len() as u64) as usize;
            fill(s, off, &mut buf[..n]);
            f.write_all(&buf[..n])?;
            off += n as u64;
        }
        f.flush()?;
    }
    Ok(())
}

/// Check a file after the timed write: size, the written block, and the
/// pattern everywhere else.
fn check_file(path: &Path, size: u64) -> Result<(), Error> {
    let mut f = fs::File::open(path).map_err(|e| Error::io("", path, e))?;
    let len = f.metadata().map_err(|e| failed!("{e}"))?.len();
    if len != size {
        return Err(failed!(
            "{} has {len} bytes, expected {size}",
            path.display()
        ));
    }
    let head = written(size);
    let mut buf = vec![0u8; 1 << 20];
    let mut want = vec![0u8; 1 << 20];
    let mut off = 0u64;
    while off < size {
        let n = (size - off).min(buf.len() as u64) as usize;
        f.read_exact(&mut buf[..n])
            .map_err(|e| Error::io("reading", path, e))?;
        fill(size, off, &mut want[..n]);
        if off == 0 {
            want[..head.len()].copy_from_slice(&head);
        }
        if buf[..n] != want[..n] {
            return Err(failed!(
                "{}: content differs in bytes {off}..{}",
                path.display(),
                off + n as u64
            ));
        }
        off += n as u64;
    }
    Ok(())
}

/// The name of the file system holding `path` (statfs(2) f_type).
pub fn fs_name(path: &Path) -> String {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return "unknown".into();
    };
    // SAFETY: statfs writes into the zeroed struct we own; `c` is a valid
    // NUL-terminated path for the duration of the call.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: see above.
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return "unknown".into();
    }
    match st.f_type as u64 {
        0xEF53 => "ext4".into(),
        0x0102_1994 => "tmpfs".into(),
        0x794C_7630 => "overlay".into(),
        0x8584_58F6 => "ramfs".into(),
        0x5846_5342 => "xfs".into(),
        0x9123_683E => "btrfs".into(),
        0x6969 => "nfs".into(),
        // gVisor's gofer-backed files report v9fs's magic.
        0x0102_1997 => "9p".into(),
        0x6573_5546 => "fuse".into(),
        t => format!("0x{t:x}"),
    }
}

/// One copy-up measurement: the time of open(O_WRONLY) plus a write of the
/// first block, in ms.
#[derive(Debug)]
pub struct CopyupPoint {
    pub size: u64,
    pub ms: f64,
}

/// Time the first write to each file, then check every file.
pub fn copyup(c: &CopyupConfig) -> Result<Vec<CopyupPoint>, Error> {
    let dir = PathBuf::from(&c.dir);
    if !dir.is_dir() {
        return Err(failed!(
            "{} not found: its files come from the host (an image layer in a container, a directory natively)",
            dir.display()
        ));
    }
    let mut out = Vec::new();
    for &size in &c.sizes {
        let p = dir.join(data_name(size));
        // stat(2) does not copy up: the size check leaves the file below.
        let len = fs::metadata(&p)
            .map_err(|e| failed!("{}: {e} (not prepared by the host)", p.display()))?
            .len();
        if len != size {
            return Err(failed!("{} has {len} bytes, expected {size}", p.display()));
        }
        let block = written(size);
        let t = Instant::now();
        // Why: on overlayfs this open copies the whole file up.
        let f = fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .map_err(|e| failed!("opening {} for writing: {e}", p.display()))?;
        f.write_all_at(&block, 0)
            .map_err(|e| Error::io("writing", &p, e))?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        drop(f);
        out.push(CopyupPoint { size, ms });
    }
    for &size in &c.sizes {
        check_file(&dir.join(data_name(size)), size)?;
    }
    Ok(out)
}

/// Create, stat and unlink timings (µs per file).
pub struct FsmetaTimes {
    pub create_us: f64,
    pub stat_us: f64,
    pub unlink_us: f64,
    pub fs: String,
    pub dir: PathBuf,
}

/// Bytes of each small file.
pub const SMALL_FILE: usize = 64;

pub fn fsmeta(c: &FsmetaConfig) -> Result<FsmetaTimes, Error> {
    let dir = PathBuf::from(&c.dir).join(format!("isobench-fsmeta-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, e))?;
    let r = fsmeta_in(&dir, c.files);
    let cleaned = fs::remove_dir_all(&dir);
    let mut t = r?;
    cleaned.map_err(|e| Error::io("removing", &dir, e))?;
    t.dir = dir;
    Ok(t)
}

fn fsmeta_in(dir: &Path, n: u32) -> Result<FsmetaTimes, Error> {
    let fs_here = fs_name(dir);
    let names: Vec<PathBuf> = (0..n).map(|i| dir.join(format!("f{i:07}"))).collect();
    let body = [b'x'; SMALL_FILE];
    let e = |what: &str, p: &Path, e: std::io::Error| Error::io(what, p, e);
    let t = Instant::now();
    for p in &names {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(p)
            .map_err(|x| e("creating", p, x))?;
        f.write_all(&body).map_err(|x| e("writing", p, x))?;
    }
    let create = t.elapsed().as_secs_f64();
    let listed = fs::read_dir(dir).map_err(|x| e("listing", dir, x))?.count();
    if listed != n as usize {
        return Err(failed!("{listed} files listed after creating {n}"));
    }
    let t = Instant::now();
    let mut total = 0u64;
    for p in &names {
        total += fs::metadata(p).map_err(|x| e("stat", p, x))?.len();
    }
    let stat = t.elapsed().as_secs_f64();
    if total != n as u64 * SMALL_FILE as u64 {
        return Err(failed!(
            "stat saw {total} bytes in {n} files, expected {}",
            n as u64 * SMALL_FILE as u64
        ));
    }
    let t = Instant::now();
    for p in &names {
        fs::remove_file(p).map_err(|x| e("unlink", p, x))?;
    }
    let unlink = t.elapsed().as_secs_f64();
    let left = fs::read_dir(dir).map_err(|x| e("listing", dir, x))?.count();
    if left != 0 {
        return Err(failed!("{left} files left after unlinking {n}"));
    }
    let per = |s: f64| s * 1e6 / n as f64;
    Ok(FsmetaTimes {
        create_us: per(create),
        stat_us: per(stat),
        unlink_us: per(unlink),
        fs: fs_here,
        dir: PathBuf::new(),
    })
}

/// Overlay mount timings: (layers, median ms, every try).
pub struct OvlmountResult {
    pub points: Vec<(u32, f64, Vec<f64>)>,
    pub userns: bool,
    pub lower_fs: String,
}

fn os_err(what: &str) -> Error {
    os_failed!("{what}: {}", std::io::Error::last_os_error())
}

fn cstr(s: &str) -> CString {
    CString::new(s).expect("no NUL in fixed strings")
}

fn mount(
    src: &str,
    target: &str,
    fstype: &str,
    flags: libc::c_ulong,
    data: &str,
) -> Result<(), Error> {
    let (s, t, f, d) = (cstr(src), cstr(target), cstr(fstype), cstr(data));
    // SAFETY: every pointer is a NUL-terminated string that outlives the call.
    let r = unsafe { libc::mount(s.as_ptr(), t.as_ptr(), f.as_ptr(), flags, d.as_ptr().cast()) };
    if r != 0 {
        return Err(os_err(&format!(
            "mount {fstype} on {target} ({} bytes of options)",
            data.len()
        )));
    }
    Ok(())
}

/// Enter a private mount namespace: as root directly, otherwise inside a
/// new user namespace (overlayfs and tmpfs may be mounted there since
/// Linux 5.11). Returns whether a user namespace was made. Only this
/// process's view changes; the mounts die with it.
fn private_mount_ns() -> Result<bool, Error> {
    // SAFETY: unshare takes flags only; the process is single-threaded here.
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } == 0 {
        return Ok(false);
    }
    // SAFETY: geteuid/getegid cannot fail.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    // SAFETY: as above.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) } != 0 {
        return Err(os_err(
            "unshare(CLONE_NEWNS) and unshare(CLONE_NEWUSER|CLONE_NEWNS) both failed",
        ));
    }
    let w = |p: &str, s: String| fs::write(p, s).map_err(|e| Error::io("writing", p, e));
    w("/proc/self/setgroups", "deny".into())?;
    w("/proc/self/uid_map", format!("0 {uid} 1"))?;
    w("/proc/self/gid_map", format!("0 {gid} 1"))?;
    Ok(true)
}

/// Time overlay mounts with each number of lower layers in `c.layers`.
/// Works on a tmpfs mounted on `/tmp` in a private mount namespace.
pub fn ovlmount(c: &OvlmountConfig) -> Result<OvlmountResult, Error> {
    let max = c.layers.iter().copied().max().unwrap_or(1);
    let userns = private_mount_ns()?;
    // Why: keep every mount below out of the namespace we came from.
    mount("none", "/", "none", libc::MS_REC | libc::MS_PRIVATE, "")?;
    let base = "/tmp";
    fs::create_dir_all(base).map_err(|e| Error::io("creating", base, e))?;
    mount(
        "tmpfs",
        base,
        "tmpfs",
        libc::MS_NOSUID | libc::MS_NODEV,
        "mode=755",
    )?;
    let b = Path::new(base);
    let lower_fs = fs_name(b);
    for i in 0..max {
        let d = b.join(format!("{i}"));
        fs::create_dir(&d).map_err(|e| Error::io("creating", &d, e))?;
        fs::write(d.join("top"), format!("layer {i}")).map_err(|e| failed!("{e}"))?;
        fs::write(d.join(format!("only-{i}")), "").map_err(|e| failed!("{e}"))?;
    }
    // Short relative names keep 500 lowers within mount(2)'s one page of
    // options (as Docker's overlay2 driver does with its `l/` links).
    std::env::set_current_dir(b).map_err(|e| Error::io("chdir", base, e))?;
    fs::create_dir("m").map_err(|e| failed!("{e}"))?;
    let mut points = Vec::new();
    let mut k = 0u32;
    for &n in &c.layers {
        let lower: Vec<String> = (0..n).rev().map(|i| i.to_string()).collect();
        let mut tries = Vec::new();
        for _ in 0..c.tries {
            k += 1;
            let (u, w) = (format!("u{k}"), format!("w{k}"));
            fs::create_dir(&u).map_err(|e| failed!("{e}"))?;
            fs::create_dir(&w).map_err(|e| failed!("{e}"))?;
            let data = format!("lowerdir={},upperdir={u},workdir={w}", lower.join(":"));
            let t = Instant::now();
            mount("overlay", "m", "overlay", 0, &data)
                .map_err(|e| os_failed!("{n} lower layers: {e}"))?;
            tries.push(t.elapsed().as_secs_f64() * 1e3);
            // The merged view: the top layer wins, the bottom one shows.
            let top = fs::read_to_string("m/top").map_err(|e| failed!("{e}"));
            let bottom = Path::new("m/only-0").exists();
            let cm = cstr("m");
            // SAFETY: a NUL-terminated path; the mount is ours.
            if unsafe { libc::umount2(cm.as_ptr(), libc::MNT_DETACH) } != 0 {
                return Err(os_err("umount m"));
            }
            let top = top?;
            if top != format!("layer {}", n - 1) || !bottom {
                return Err(failed!(
                    "{n} lower layers: merged view wrong (top reads {top:?}, bottom file seen: {bottom})"
                ));
            }
            let _ = fs::remove_dir_all(&u);
            let _ = fs::remove_dir_all(&w);
        }
        let mut s = tries.clone();
        s.sort_by(f64::total_cmp);
        let med = s[s.len() / 2];
        points.push((n, med, tries));
    }
    Ok(OvlmountResult {
        points,
        userns,
        lower_fs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_files_check_and_catch_damage() {
        let t = std::env::temp_dir().join(format!("cow-test-{}", std::process::id()));
        write_data(&t, &[4096, 10_000]).unwrap();
        let c = CopyupConfig {
            sizes: vec![4096, 10_000],
            dir: t.join(DATA_DIR).display().to_string(),
        };
        let pts = copyup(&c).unwrap();
        assert_eq!(pts.len(), 2);
        // A second run on a plain directory finds what it wrote.
        copyup(&c).unwrap();
        let p = t.join(DATA_DIR).join(data_name(10_000));
        let f = fs::OpenOptions::new().write(true).open(&p).unwrap();
        f.write_all_at(b"zz", 9000).unwrap();
        assert!(copyup(&c).unwrap_err().to_string().contains("differs"));
        fs::remove_dir_all(&t).unwrap();
    }

    #[test]
    fn fsmeta_counts_and_cleans_up() {
        let t = tempdir();
        let r = fsmeta(&FsmetaConfig {
            files: 50,
            dir: t.display().to_string(),
        })
        .unwrap();
        assert!(r.create_us > 0.0 && r.stat_us > 0.0 && r.unlink_us > 0.0);
        assert_eq!(fs::read_dir(&t).unwrap().count(), 0, "nothing left");
        fs::remove_dir_all(&t).unwrap();
    }

    fn tempdir() -> PathBuf {
        let t = std::env::temp_dir().join(format!("cow-meta-{}", std::process::id()));
        fs::create_dir_all(&t).unwrap();
        t
    }
}
