//! File I/O (claim C8): what reaching storage through an environment costs.
//!
//! Four phases per place, in this order, on one file of `file_size` bytes
//! that the kernel creates and removes (the definitions of fio's matching
//! jobs, `ioengine=psync iodepth=1`, so that tests/fileio_fio.rs can check
//! the figures against Debian's fio):
//!
//! 1. `seq_write`: the file preallocated with fallocate(2) (fio's default
//!    `fallocate=native`), then written front to back in `block`-sized
//!    pwrite(2)s, then fsync(2)ed once: the fsync is part of the timed phase
//!    (fio's `end_fsync=1`). MB/s = bytes / (time of the writes + the fsync);
//!    the latency percentiles are the writes'.
//! 2. `seq_read`: the file's cached pages dropped (below), then read front
//!    to back in `block`-sized pread(2)s (fio `rw=read`).
//! 3. `rand_read`: cache dropped again, then `rand_ops` preads of 4 KiB at
//!    uniformly random 4 KiB-aligned offsets, one at a time (queue depth 1;
//!    fio `rw=randread bs=4k number_ios=N`).
//! 4. `rand_write`: `rand_ops` pwrites of 4 KiB at random offsets, each
//!    followed by fsync(2) (fio `rw=randwrite bs=4k fsync=1`); an op's
//!    latency is its pwrite plus its fsync, the way a program that needs its
//!    data on disk sees it.
//!
//! With `--min-time-ms`, every phase goes on until it has lasted that long
//! (fio's `time_based`): a sequential one by whole passes over the file
//! (each write pass ends with its fsync and starts on the file truncated
//! and preallocated again, untimed, so that it does the first pass's work;
//! each read pass starts from a dropped cache), a random one past
//! `rand_ops` operations.
//!
//! Throughput and IOPS divide by the summed time of the operations (and the
//! write passes' end fsyncs), taken with CLOCK_MONOTONIC around each system call; the
//! content checks between operations are not timed. Latency percentiles are
//! nearest-rank percentiles of every operation's time, a sorted sample
//! (every op is kept: at most a few hundred thousand numbers, so no
//! histogram crate is needed and no bucket rounds a figure).
//!
//! O_DIRECT is asked for (`--direct auto`) and its refusal recorded: tmpfs
//! and overlayfs may refuse it (open(2) or the first aligned write fails with
//! EINVAL), and the kernel then runs buffered, where reads can hit the page
//! cache. Caches are dropped per file, as fio's `invalidate=1` does:
//! fdatasync then posix_fadvise(POSIX_FADV_DONTNEED), which needs no
//! privilege and touches no other file (writing /proc/sys/vm/drop_caches
//! would empty the whole host's cache, and is not writable in a container
//! or without root: the record says whether it was). How much of the file
//! was still resident before each read phase is measured with mincore(2)
//! and recorded, so a read served from memory is visible (on tmpfs the
//! pages are the storage: always 100%).
//!
//! Every sector (4 KiB) carries a tag derived from its offset and a
//! generation (0: written sequentially, 1: rewritten by `rand_write`); every
//! read checks the tags it got, and the last random writes are read back.

use crate::error::{arg_err, invalid, memory, ArgError, Error, Verdict};
use std::alloc::Layout;
use std::fs::{self, File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How the figures are timed, for the record.
pub const FILEIO_TIMING: &str = "per place: seq_write (fallocate, block pwrites, one fsync at the end of each pass, timed), seq_read (block preads), rand_read (4 KiB preads at uniform random offsets, queue depth 1), rand_write (4 KiB pwrite + fsync each, timed together); rates divide by the summed time of the operations (CLOCK_MONOTONIC around each call); p50/p99: nearest rank over every operation; fio's psync jobs with end_fsync=1 / fsync=1 are the reference; with min_time_ms every phase goes on (whole passes over the file, random ops past rand_ops) until it has lasted that long (fio's time_based; ops_<place> gives the counts)";

/// Size of one random I/O and of the sector every tag is written into.
pub const SECTOR: u64 = 4096;
/// Alignment of the I/O buffer: O_DIRECT needs the file system's logical
/// block size; 4 KiB covers every common one.
const ALIGN: usize = 4096;
/// Random writes read back by the check after `rand_write`.
const READ_BACK: usize = 32;

/// The four phases, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    SeqWrite,
    SeqRead,
    RandRead,
    RandWrite,
}

impl Phase {
    pub const ALL: [Phase; 4] = [
        Phase::SeqWrite,
        Phase::SeqRead,
        Phase::RandRead,
        Phase::RandWrite,
    ];

    /// Stem of the phase's metrics: `seq_write`.
    pub fn key(self) -> &'static str {
        match self {
            Phase::SeqWrite => "seq_write",
            Phase::SeqRead => "seq_read",
            Phase::RandRead => "rand_read",
            Phase::RandWrite => "rand_write",
        }
    }

    /// Sequential phases report MB/s, random ones IOPS.
    pub fn sequential(self) -> bool {
        matches!(self, Phase::SeqWrite | Phase::SeqRead)
    }

    /// Stem of the rate metrics (`seq_write_mbs_`, `rand_read_iops_`).
    pub fn rate_stem(self) -> String {
        let unit = if self.sequential() { "mbs" } else { "iops" };
        format!("{}_{unit}_", self.key())
    }

    /// Stem of the latency metrics (`seq_read_p50_us_`; `pct` 50 or 99).
    pub fn latency_stem(self, pct: u32) -> String {
        format!("{}_p{pct}_us_", self.key())
    }

    /// The rate metric of this phase at `place`: `seq_write_mbs_disk`,
    /// `rand_read_iops_tmpfs`.
    pub fn rate_metric(self, place: &str) -> String {
        format!("{}{place}", self.rate_stem())
    }

    /// `seq_read_p50_us_disk` (`pct` 50 or 99).
    pub fn latency_metric(self, pct: u32, place: &str) -> String {
        format!("{}{place}", self.latency_stem(pct))
    }
}

/// The run directory's file system as the environment reaches it:
/// natively a directory in the run's scratch directory, in a container a
/// bind mount of such a directory, in a VM a virtio-blk disk whose image
/// file sits there. Ratios to native compare places of the same name.
pub const PLACE_DISK: &str = "disk";
/// A tmpfs: natively /dev/shm (when it is one), in a container a tmpfs
/// mount of its OCI config.
pub const PLACE_TMPFS: &str = "tmpfs";
/// The environment's own root file system: a container's overlay (the
/// file lands in its upper layer). No native counterpart.
pub const PLACE_ROOTFS: &str = "rootfs";

/// Append `--places` for `places` to a workload's arguments.
pub fn add_places(args: &mut Vec<String>, places: &[Place]) {
    args.push("--places".into());
    args.push(places_arg(places));
}

/// Where a file is measured: a short name (the metrics' suffix) and a
/// directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub name: String,
    pub dir: String,
}

/// Whether to ask for O_DIRECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direct {
    /// O_DIRECT where the file system takes it, buffered where it does not
    /// (recorded).
    #[default]
    Auto,
    /// Buffered I/O everywhere.
    Off,
}

impl Direct {
    pub fn name(self) -> &'static str {
        match self {
            Direct::Auto => "auto",
            Direct::Off => "off",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileioConfig {
    /// Places, measured in this order.
    pub places: Vec<Place>,
    /// Bytes of the file (a multiple of `block`).
    pub file_size: u64,
    /// Bytes per sequential I/O (a multiple of [`SECTOR`]).
    pub block: u64,
    /// Operations per random phase (at least).
    pub rand_ops: u64,
    /// Each phase goes on (a random one past `rand_ops` operations, a
    /// sequential one by whole passes over the file) until it has lasted
    /// this long (fio's `time_based`); 0: one pass, exactly `rand_ops`.
    pub min_time_ms: u64,
    pub direct: Direct,
}

/// Check the sizes of a configuration (the argument parser calls this).
pub fn validate(c: &FileioConfig) -> Result<(), ArgError> {
    if c.places.is_empty() {
        return Err(ArgError::invalid("--places names no place"));
    }
    for (i, p) in c.places.iter().enumerate() {
        if p.name.is_empty()
            || !p
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return Err(arg_err!(
                "--places: place name '{}' must be lowercase letters and digits",
                p.name
            ));
        }
        if p.dir.is_empty() {
            return Err(arg_err!("--places: place '{}' has no directory", p.name));
        }
        if c.places[..i].iter().any(|q| q.name == p.name) {
            return Err(arg_err!("--places: place '{}' is given twice", p.name));
        }
    }
    if c.block == 0 || !c.block.is_multiple_of(SECTOR) {
        return Err(arg_err!(
            "--block {} is not a multiple of {SECTOR} bytes",
            c.block
        ));
    }
    if c.block > 64 << 20 {
        return Err(arg_err!("--block {} is more than 64 MiB", c.block));
    }
    if c.file_size < c.block || !c.file_size.is_multiple_of(c.block) {
        return Err(arg_err!(
            "--file-size {} is not a whole number (at least 1) of --block {}",
            c.file_size,
            c.block
        ));
    }
    if c.min_time_ms > 600_000 {
        return Err(arg_err!(
            "--min-time-ms {} is more than 600000 (10 minutes)",
            c.min_time_ms
        ));
    }
    if c.rand_ops == 0 || c.rand_ops > 10_000_000 {
        return Err(arg_err!(
            "--rand-ops {} is out of range (1..=10000000)",
            c.rand_ops
        ));
    }
    Ok(())
}

/// Parse `name=dir,name=dir`.
pub fn parse_places(s: &str) -> Result<Vec<Place>, ArgError> {
    s.split(',')
        .map(|item| {
            let (name, dir) = item
                .split_once('=')
                .ok_or_else(|| arg_err!("--places: '{item}' is not NAME=DIR"))?;
            Ok(Place {
                name: name.trim().to_string(),
                dir: dir.trim().to_string(),
            })
        })
        .collect()
}

/// `name=dir,name=dir` (the inverse of [`parse_places`]).
pub fn places_arg(places: &[Place]) -> String {
    places
        .iter()
        .map(|p| format!("{}={}", p.name, p.dir))
        .collect::<Vec<_>>()
        .join(",")
}

/// One phase's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseResult {
    pub phase: Phase,
    pub bytes: u64,
    pub ops: u64,
    /// Summed time of the operations (and, for `seq_write`, the end fsync).
    pub busy_ns: u64,
    pub p50_us: f64,
    pub p99_us: f64,
}

impl PhaseResult {
    /// MB/s (10^6 bytes per second) for sequential phases, IOPS for random
    /// ones.
    pub fn rate(&self) -> f64 {
        let s = self.busy_ns as f64 / 1e9;
        if self.phase.sequential() {
            self.bytes as f64 / 1e6 / s
        } else {
            self.ops as f64 / s
        }
    }
}

/// Everything measured at one place.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaceResult {
    pub name: String,
    pub dir: String,
    /// File system of the directory (statfs).
    pub fs: String,
    /// `O_DIRECT`, or `buffered (...why...)`.
    pub io_mode: String,
    /// How the file was preallocated.
    pub prealloc: String,
    /// Percent of the file's pages resident before `seq_read` and before
    /// `rand_read` (mincore(2) after the drop); `None` when mincore failed.
    pub resident_pct: [Option<f64>; 2],
    /// Time of the end fsync of `seq_write`, ms: the mean over its passes
    /// (one without `min_time_ms`).
    pub end_fsync_ms: f64,
    pub phases: Vec<PhaseResult>,
    /// The content check: what was checked, or what was wrong.
    pub check: Verdict,
}

/// Whether the host's drop_caches could have been written (for the record:
/// the kernel never writes it).
pub fn drop_caches_note() -> String {
    let p = "/proc/sys/vm/drop_caches";
    let writable = OpenOptions::new().write(true).open(p).is_ok();
    format!(
        "per file: fdatasync + posix_fadvise(DONTNEED), resident pages checked with mincore(2); {p} is {} here and is not used (it would empty the whole host's cache)",
        if writable { "writable" } else { "not writable" }
    )
}

/// splitmix64.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The tag of the sector at `off`.
fn tag(off: u64) -> u64 {
    mix(off ^ 0x1505_BE4C_F11E_0000)
}

/// A zeroed buffer aligned for O_DIRECT. Hand-written over `Vec<u8>`
/// because a Vec's alignment is its element's (1 byte).
struct AlignedBuf {
    ptr: *mut u8,
    layout: Layout,
}

impl AlignedBuf {
    fn new(len: usize) -> Result<AlignedBuf, Error> {
        let layout = Layout::from_size_align(len.max(ALIGN), ALIGN)
            .map_err(|e| memory!("buffer of {len} bytes: {e}"))?;
        // SAFETY: the layout has a non-zero size (at least ALIGN).
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        if ptr.is_null() {
            return Err(memory!("cannot allocate a {len}-byte I/O buffer"));
        }
        Ok(AlignedBuf { ptr, layout })
    }
    fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` points to `layout.size()` initialised (zeroed, then
        // written) bytes that this value owns until drop.
        unsafe { std::slice::from_raw_parts(self.ptr, self.layout.size()) }
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`; `&mut self` makes the borrow unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.layout.size()) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this very layout, freed once.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) }
    }
}

/// Fill `buf` with incompressible bytes (so no layer can shortcut zeroes).
fn fill_random(buf: &mut [u8], seed: u64) {
    for (i, chunk) in buf.chunks_mut(8).enumerate() {
        let w = mix(seed ^ i as u64).to_le_bytes();
        chunk.copy_from_slice(&w[..chunk.len()]);
    }
}

/// Stamp the sectors of `buf`, which will land at file offset `off`.
fn stamp(buf: &mut [u8], off: u64, generation: u64) {
    for (k, s) in buf.chunks_mut(SECTOR as usize).enumerate() {
        let o = off + k as u64 * SECTOR;
        s[..8].copy_from_slice(&tag(o).to_le_bytes());
        s[8..16].copy_from_slice(&generation.to_le_bytes());
    }
}

/// Check the sectors of `buf`, read from `off`: right tag, and a generation
/// `allowed` accepts.
fn check_sectors(buf: &[u8], off: u64, allowed: impl Fn(u64) -> bool) -> Verdict<()> {
    for (k, s) in buf.chunks(SECTOR as usize).enumerate() {
        let o = off + k as u64 * SECTOR;
        let t = u64::from_le_bytes(s[..8].try_into().expect("8 bytes"));
        let g = u64::from_le_bytes(s[8..16].try_into().expect("8 bytes"));
        if t != tag(o) || !allowed(g) {
            return Err(invalid!(
                "sector at offset {o} holds tag {t:#x} generation {g}, expected {:#x}",
                tag(o)
            ));
        }
    }
    Ok(())
}

/// Nearest-rank percentile of sorted `ns`, in µs.
pub fn percentile_us(sorted_ns: &[u64], pct: f64) -> f64 {
    if sorted_ns.is_empty() {
        return f64::NAN;
    }
    let rank = ((pct / 100.0) * sorted_ns.len() as f64).ceil() as usize;
    sorted_ns[rank.clamp(1, sorted_ns.len()) - 1] as f64 / 1e3
}

fn phase_result(phase: Phase, bytes: u64, mut ns: Vec<u64>, extra_ns: u64) -> PhaseResult {
    let busy_ns = ns.iter().sum::<u64>() + extra_ns;
    ns.sort_unstable();
    PhaseResult {
        phase,
        bytes,
        ops: ns.len() as u64,
        busy_ns: busy_ns.max(1),
        p50_us: percentile_us(&ns, 50.0),
        p99_us: percentile_us(&ns, 99.0),
    }
}

fn ns_since(t: Instant) -> u64 {
    t.elapsed().as_nanos() as u64
}

/// Removes the measured file, also when a phase fails.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Removes a directory the kernel made (when empty), also on failure.
struct RemoveDirOnDrop(PathBuf);

impl Drop for RemoveDirOnDrop {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.0);
    }
}

fn open(path: &Path, direct: bool) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true).write(true).create(true).truncate(true);
    if direct {
        o.custom_flags(libc::O_DIRECT);
    }
    o.open(path)
}

/// Open `path` for the phases: O_DIRECT when asked and the file system
/// takes it (an aligned write is tried), else buffered with the reason.
fn open_for_io(path: &Path, want: Direct) -> Result<(File, String), Error> {
    let io = |e: std::io::Error| Error::io("", path, e);
    if want == Direct::Off {
        return Ok((
            open(path, false).map_err(io)?,
            "buffered (--direct off)".into(),
        ));
    }
    match open(path, true) {
        Ok(f) => {
            let mut probe = AlignedBuf::new(SECTOR as usize)?;
            stamp(probe.bytes_mut(), 0, 0);
            match f.write_at(probe.bytes(), 0) {
                // Truncated again: a block written before the file is
                // preallocated made every later O_DIRECT write on ext4 here
                // 10x slower (p50 4-6 ms against 0.4-0.6 ms per MiB).
                Ok(_) => {
                    f.set_len(0).map_err(io)?;
                    Ok((f, "O_DIRECT".into()))
                }
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    drop(f);
                    Ok((
                        open(path, false).map_err(io)?,
                        "buffered (an O_DIRECT write was refused: EINVAL); reads may hit the page cache"
                            .into(),
                    ))
                }
                Err(e) => Err(io(e)),
            }
        }
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok((
            open(path, false).map_err(io)?,
            "buffered (open with O_DIRECT refused: EINVAL); reads may hit the page cache".into(),
        )),
        Err(e) => Err(io(e)),
    }
}

/// Preallocate as fio's `fallocate=native` does; say how it went.
fn preallocate(f: &File, len: u64) -> String {
    // SAFETY: fallocate(2) on a descriptor `f` owns, no pointers.
    let rc = unsafe { libc::fallocate(f.as_raw_fd(), 0, 0, len as libc::off_t) };
    if rc == 0 {
        "fallocate(2)".into()
    } else {
        format!(
            "none (fallocate(2): {}; the file grows as written)",
            std::io::Error::last_os_error()
        )
    }
}

/// Make the file as the first write pass found it, untimed: truncated to
/// nothing, then preallocated again when it was, so that every pass does
/// the first pass's work (on ext4 an overwrite skips converting unwritten
/// extents: a second pass wrote 1.2x faster here). Truncation, not
/// punching holes: gVisor refuses FALLOC_FL_PUNCH_HOLE (EOPNOTSUPP), and
/// a file that was not preallocated grew as the first pass wrote it. What
/// later passes did instead when a step failed.
fn refresh_blocks(f: &File, len: u64, preallocated: bool) -> Result<(), String> {
    if let Err(e) = f.set_len(0) {
        return Err(format!(
            "later write passes overwrote the blocks (truncating the file: {e})"
        ));
    }
    // SAFETY: fallocate(2) on a descriptor `f` owns, no pointers.
    if preallocated && unsafe { libc::fallocate(f.as_raw_fd(), 0, 0, len as libc::off_t) } != 0 {
        return Err(format!(
            "later write passes grew the file as they wrote (preallocating it again: {})",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Percent of the first `len` bytes of `f` resident in the page cache
/// (mincore(2) over a shared read-only mapping); `None` when it cannot tell.
pub fn resident_pct(f: &File, len: u64) -> Option<f64> {
    if len == 0 {
        return None;
    }
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let page = if page > 0 { page as u64 } else { 4096 };
    let pages = len.div_ceil(page) as usize;
    // SAFETY: a fresh shared read-only mapping of `len` bytes of a file we
    // hold open; checked for MAP_FAILED, unmapped below, never dereferenced.
    let addr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len as usize,
            libc::PROT_READ,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        return None;
    }
    let mut vec = vec![0u8; pages];
    // SAFETY: `addr` is the page-aligned mapping of `len` bytes made above;
    // `vec` has one byte per page of it.
    let rc = unsafe { libc::mincore(addr, len as usize, vec.as_mut_ptr().cast()) };
    // SAFETY: unmapping exactly the mapping made above.
    unsafe { libc::munmap(addr, len as usize) };
    if rc != 0 {
        return None;
    }
    let resident = vec.iter().filter(|b| **b & 1 == 1).count();
    Some(100.0 * resident as f64 / pages as f64)
}

/// Write back and drop `f`'s cached pages (fio's `invalidate=1`), then say
/// how much of it is still resident.
fn drop_cached(f: &File, len: u64) -> Option<f64> {
    let _ = f.sync_data();
    // SAFETY: posix_fadvise on a descriptor `f` owns, no pointers.
    unsafe {
        libc::posix_fadvise(
            f.as_raw_fd(),
            0,
            len as libc::off_t,
            libc::POSIX_FADV_DONTNEED,
        )
    };
    resident_pct(f, len)
}

/// Measure every place of `c` in turn.
pub fn measure(c: &FileioConfig) -> Result<Vec<PlaceResult>, Error> {
    validate(c)?;
    c.places.iter().map(|p| measure_place(c, p)).collect()
}

/// How many operations a phase runs: at least `min_ops` (a random
/// phase's `rand_ops`, a sequential pass's blocks), and on until the phase
/// has lasted `min_time_ms` (fio's `time_based`; a sequential phase checks
/// between whole passes), at most [`MAX_PHASE_OPS`]. A phase of a few
/// hundred 2 µs operations on a tmpfs lasts under a millisecond, a 32 MiB
/// pass about 10 ms: one time slice given to another task on a busy host
/// (several ms) then lands inside it and divides its rate by up to 40, the
/// same natively and in a container, so that a ratio of two such phases
/// measured the scheduler, not the place.
struct PhaseOps {
    min_ops: usize,
    until: Option<Instant>,
}

/// The most operations one phase runs, whatever its minimum time (each
/// one's time is kept: 8 bytes each).
pub const MAX_PHASE_OPS: usize = 10_000_000;

impl PhaseOps {
    fn start(c: &FileioConfig, min_ops: u64) -> PhaseOps {
        PhaseOps {
            min_ops: min_ops as usize,
            until: (c.min_time_ms > 0)
                .then(|| Instant::now() + std::time::Duration::from_millis(c.min_time_ms)),
        }
    }

    /// Whether to run another operation (or pass) after `done`.
    fn more(&self, done: usize) -> bool {
        done < self.min_ops
            || (done < MAX_PHASE_OPS && self.until.is_some_and(|t| Instant::now() < t))
    }
}

/// The four phases on a fresh file in `place.dir` (created if missing; the
/// file is removed afterwards, also on failure).
pub fn measure_place(c: &FileioConfig, place: &Place) -> Result<PlaceResult, Error> {
    let dir = Path::new(&place.dir);
    let made_dir = !dir.exists();
    fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
    // Dropped last: the file goes first, then a directory made here.
    let _remove_dir = made_dir.then(|| RemoveDirOnDrop(dir.to_path_buf()));
    let path = dir.join(format!("isobench-fileio-{}.dat", std::process::id()));
    let _remove = RemoveOnDrop(path.clone());
    let (f, io_mode) = open_for_io(&path, c.direct)?;
    let t = TestFile { f: &f, path: &path };
    let mut prealloc = preallocate(&f, c.file_size);
    let mut buf = AlignedBuf::new(c.block as usize)?;
    fill_random(buf.bytes_mut(), 0x5EED);
    let mut phases = Vec::new();

    // 1. Sequential write, fsync at the end (timed).
    let preallocated = prealloc == "fallocate(2)";
    let (ns, fsync_ns, unrefreshed) = t.seq_write(c, &mut buf, preallocated)?;
    // Whole passes: every pass ended with its fsync.
    let passes = (ns.len() as u64 / (c.file_size / c.block)).max(1);
    if let Some(e) = unrefreshed {
        prealloc.push_str(&format!("; {e}"));
    }
    phases.push(phase_result(
        Phase::SeqWrite,
        ns.len() as u64 * c.block,
        ns,
        fsync_ns,
    ));
    // 2. Sequential read of the dropped file.
    let resident_seq = drop_cached(&f, c.file_size);
    let (ns, mut check) = t.seq_read(c, &mut buf)?;
    phases.push(phase_result(
        Phase::SeqRead,
        ns.len() as u64 * c.block,
        ns,
        0,
    ));
    // 3. Random 4 KiB reads, queue depth 1.
    let resident_rand = drop_cached(&f, c.file_size);
    let mut small = AlignedBuf::new(SECTOR as usize)?;
    let mut seed = 0x1234_5678u64;
    let ns = t.rand_read(c, &mut small, &mut seed, &mut check)?;
    phases.push(phase_result(
        Phase::RandRead,
        ns.len() as u64 * SECTOR,
        ns,
        0,
    ));
    // 4. Random 4 KiB writes, each followed by fsync (timed together).
    let (ns, written) = t.rand_write(c, &mut small, &mut seed)?;
    phases.push(phase_result(
        Phase::RandWrite,
        ns.len() as u64 * SECTOR,
        ns,
        0,
    ));
    // The last writes read back (generation 1); untimed.
    if check.is_ok() {
        check = t.read_back(&mut small, &written)?;
    }
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if check.is_ok() && len != c.file_size {
        check = Err(invalid!(
            "the file has {len} bytes, expected {}",
            c.file_size
        ));
    }
    let check = check.map(|()| {
        format!(
            "every sector read carried its offset's tag; {} random writes read back",
            written.len()
        )
    });
    Ok(PlaceResult {
        name: place.name.clone(),
        dir: place.dir.clone(),
        fs: crate::cow::fs_name(dir),
        io_mode,
        prealloc,
        resident_pct: [resident_seq, resident_rand],
        end_fsync_ms: fsync_ns as f64 / passes as f64 / 1e6,
        phases,
        check,
    })
}

/// The file one place is measured on, with the phases that time it.
struct TestFile<'a> {
    f: &'a File,
    path: &'a Path,
}

impl TestFile<'_> {
    fn io(&self, what: &str, off: u64, e: std::io::Error) -> Error {
        Error::io(format!("{what} at offset {off} of"), self.path, e)
    }

    fn fsync(&self) -> Result<(), Error> {
        self.f
            .sync_all()
            .map_err(|e| Error::io("fsync of", self.path, e))
    }

    /// Phase 1: every block written once, then one fsync, a pass at a time
    /// ([`PhaseOps`]). The time of each write, the summed time of the
    /// passes' fsyncs, and what later passes did when their blocks could
    /// not be made fresh ([`refresh_blocks`]).
    fn seq_write(
        &self,
        c: &FileioConfig,
        buf: &mut AlignedBuf,
        preallocated: bool,
    ) -> Result<(Vec<u64>, u64, Option<String>), Error> {
        let blocks = c.file_size / c.block;
        let mut ns = Vec::with_capacity(blocks as usize);
        let mut fsync_ns = 0;
        // What later passes did instead of the first pass's work, if they
        // could not start on fresh blocks.
        let mut unrefreshed = None;
        let ops = PhaseOps::start(c, blocks);
        // Whole passes over the file, each with its fsync, until the phase
        // has lasted its minimum time (one pass without one).
        for pass in 0u64.. {
            if !ops.more(ns.len()) {
                break;
            }
            if pass > 0 {
                if let Err(e) = refresh_blocks(self.f, c.file_size, preallocated) {
                    unrefreshed.get_or_insert(e);
                }
            }
            for b in 0..blocks {
                let off = b * c.block;
                // Fresh data in every block, outside the timed call (fio's
                // `refill_buffers`): a buffer written again with only its
                // tags changed is what a deduplicating or delta-compressing
                // backend stores for less (on one shared host it wrote 1.6x
                // faster). A later pass writes other data again.
                fill_random(buf.bytes_mut(), 0x5EED ^ mix(b) ^ (pass << 40));
                stamp(buf.bytes_mut(), off, 0);
                let t = Instant::now();
                self.f
                    .write_all_at(buf.bytes(), off)
                    .map_err(|e| self.io("write", off, e))?;
                ns.push(ns_since(t));
            }
            let t = Instant::now();
            self.fsync()?;
            fsync_ns += ns_since(t);
        }
        Ok((ns, fsync_ns, unrefreshed))
    }

    /// Phase 2: every block read in order, in passes until the minimum time
    /// (the cache dropped again before every later pass, untimed); the
    /// first bad sector found.
    fn seq_read(
        &self,
        c: &FileioConfig,
        buf: &mut AlignedBuf,
    ) -> Result<(Vec<u64>, Verdict<()>), Error> {
        let blocks = c.file_size / c.block;
        let mut ns = Vec::with_capacity(blocks as usize);
        let mut check: Verdict<()> = Ok(());
        let ops = PhaseOps::start(c, blocks);
        while ops.more(ns.len()) {
            if !ns.is_empty() {
                drop_cached(self.f, c.file_size);
            }
            for b in 0..blocks {
                let off = b * c.block;
                let t = Instant::now();
                self.f
                    .read_exact_at(buf.bytes_mut(), off)
                    .map_err(|e| self.io("read", off, e))?;
                ns.push(ns_since(t));
                if check.is_ok() {
                    check = check_sectors(buf.bytes(), off, |g| g == 0);
                }
            }
        }
        Ok((ns, check))
    }

    /// Phase 3: sector reads at offsets drawn from `seed`, as many as
    /// [`PhaseOps`] says.
    fn rand_read(
        &self,
        c: &FileioConfig,
        small: &mut AlignedBuf,
        seed: &mut u64,
        check: &mut Verdict<()>,
    ) -> Result<Vec<u64>, Error> {
        let sectors = c.file_size / SECTOR;
        let mut ns = Vec::with_capacity(c.rand_ops as usize);
        let ops = PhaseOps::start(c, c.rand_ops);
        while ops.more(ns.len()) {
            *seed = mix(*seed);
            let off = (*seed % sectors) * SECTOR;
            let t = Instant::now();
            self.f
                .read_exact_at(small.bytes_mut(), off)
                .map_err(|e| self.io("random read", off, e))?;
            ns.push(ns_since(t));
            if check.is_ok() {
                *check = check_sectors(small.bytes(), off, |g| g == 0);
            }
        }
        Ok(ns)
    }

    /// Phase 4: sector writes, each with its fsync, as many as
    /// [`PhaseOps`] says; the offsets of the last [`READ_BACK`] writes.
    fn rand_write(
        &self,
        c: &FileioConfig,
        small: &mut AlignedBuf,
        seed: &mut u64,
    ) -> Result<(Vec<u64>, Vec<u64>), Error> {
        let sectors = c.file_size / SECTOR;
        fill_random(small.bytes_mut(), 0xF00D);
        let mut written = std::collections::VecDeque::with_capacity(READ_BACK);
        let mut ns = Vec::with_capacity(c.rand_ops as usize);
        let ops = PhaseOps::start(c, c.rand_ops);
        while ops.more(ns.len()) {
            *seed = mix(*seed);
            let off = (*seed % sectors) * SECTOR;
            fill_random(small.bytes_mut(), 0xF00D ^ *seed);
            stamp(small.bytes_mut(), off, 1);
            let t = Instant::now();
            self.f
                .write_all_at(small.bytes(), off)
                .map_err(|e| self.io("random write", off, e))?;
            self.fsync()?;
            ns.push(ns_since(t));
            if written.len() == READ_BACK {
                written.pop_front();
            }
            written.push_back(off);
        }
        Ok((ns, written.into()))
    }

    /// The sectors at `written` carry generation 1 (untimed).
    fn read_back(&self, small: &mut AlignedBuf, written: &[u64]) -> Result<Verdict<()>, Error> {
        for &off in written {
            self.f
                .read_exact_at(small.bytes_mut(), off)
                .map_err(|e| self.io("read back", off, e))?;
            let check = check_sectors(small.bytes(), off, |g| g == 1);
            if check.is_err() {
                return Ok(check);
            }
        }
        Ok(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path) -> FileioConfig {
        FileioConfig {
            places: vec![Place {
                name: "here".into(),
                dir: dir.display().to_string(),
            }],
            file_size: 4 << 20,
            block: 1 << 20,
            rand_ops: 64,
            min_time_ms: 0,
            direct: Direct::Auto,
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_us(&v, 50.0), 50.0);
        assert_eq!(percentile_us(&v, 99.0), 99.0);
        assert_eq!(percentile_us(&[7000], 99.0), 7.0);
        assert!(percentile_us(&[], 50.0).is_nan());
    }

    #[test]
    fn metric_names() {
        assert_eq!(Phase::SeqWrite.rate_metric("disk"), "seq_write_mbs_disk");
        assert_eq!(Phase::RandRead.rate_metric("tmpfs"), "rand_read_iops_tmpfs");
        assert_eq!(
            Phase::RandWrite.latency_metric(99, "rootfs"),
            "rand_write_p99_us_rootfs"
        );
    }

    #[test]
    fn every_metric_has_a_definition_with_unit_and_direction() {
        use crate::metrics::{lookup, Direction};
        for ph in Phase::ALL {
            let d = lookup(&ph.rate_metric("disk")).unwrap();
            assert_eq!(d.direction, Direction::HigherIsBetter);
            assert_eq!(d.unit, if ph.sequential() { "MB/s" } else { "IOPS" });
            for pct in [50, 99] {
                let d = lookup(&ph.latency_metric(pct, "tmpfs")).unwrap();
                assert_eq!(d.direction, Direction::LowerIsBetter, "{ph:?} p{pct}");
                assert_eq!(d.unit, "us");
            }
        }
    }

    #[test]
    fn places_parse_and_validate() {
        let p = parse_places("disk=/a,tmpfs=/dev/shm").unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].dir, "/dev/shm");
        assert_eq!(places_arg(&p), "disk=/a,tmpfs=/dev/shm");
        assert!(parse_places("disk")
            .unwrap_err()
            .to_string()
            .contains("NAME=DIR"));
        let mut c = config(Path::new("/x"));
        assert!(validate(&c).is_ok());
        c.places.push(c.places[0].clone());
        assert!(validate(&c).unwrap_err().to_string().contains("twice"));
        let mut c = config(Path::new("/x"));
        c.places[0].name = "Disk".into();
        assert!(validate(&c).unwrap_err().to_string().contains("lowercase"));
        let mut c = config(Path::new("/x"));
        c.block = 1000;
        assert!(validate(&c)
            .unwrap_err()
            .to_string()
            .contains("multiple of 4096"));
        let mut c = config(Path::new("/x"));
        c.file_size = 3 << 19;
        assert!(validate(&c)
            .unwrap_err()
            .to_string()
            .contains("whole number"));
    }

    #[test]
    fn stamped_sectors_check_and_a_wrong_one_is_caught() {
        let mut b = vec![0u8; 3 * SECTOR as usize];
        stamp(&mut b, 8 * SECTOR, 0);
        assert!(check_sectors(&b, 8 * SECTOR, |g| g == 0).is_ok());
        assert!(check_sectors(&b, 8 * SECTOR, |g| g == 1).is_err());
        assert!(check_sectors(&b, 9 * SECTOR, |g| g == 0).is_err());
    }

    /// The kernel on a real directory: every phase measured, content
    /// checked, the file gone afterwards, and a buffered run reads a file
    /// that is still cached (tmpfs or not, mincore says what it saw).
    #[test]
    fn a_place_is_measured_checked_and_cleaned() {
        let dir = std::env::temp_dir().join(format!("isobench-fileio-test-{}", std::process::id()));
        let c = config(&dir);
        let r = measure(&c);
        // The directory was made by the kernel, so it is removed with the file.
        let left = dir.exists();
        let _ = fs::remove_dir_all(&dir);
        let r = r.unwrap();
        assert!(!left, "{} left behind", dir.display());
        // A directory that existed stays, emptied of the kernel's file.
        fs::create_dir_all(&dir).unwrap();
        let again = measure(&c);
        let leftovers: Vec<_> = fs::read_dir(&dir)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        let existed = dir.is_dir();
        let _ = fs::remove_dir_all(&dir);
        assert!(again.is_ok(), "{again:?}");
        assert!(
            existed && leftovers.is_empty(),
            "left behind: {leftovers:?}"
        );
        assert_eq!(r.len(), 1);
        let p = &r[0];
        assert!(p.check.is_ok(), "{:?}", p.check);
        assert_eq!(p.phases.len(), 4);
        for ph in &p.phases {
            assert!(ph.rate() > 0.0 && ph.rate().is_finite(), "{ph:?}");
            assert!(ph.p50_us <= ph.p99_us, "{ph:?}");
        }
        assert_eq!(p.phases[0].ops, 4);
        assert_eq!(p.phases[2].ops, 64);
        assert_eq!(p.phases[1].bytes, 4 << 20);
        assert!(p.io_mode == "O_DIRECT" || p.io_mode.starts_with("buffered"));
    }

    /// With a minimum time, every phase goes on (sequential ones by whole
    /// passes, random ones past `rand_ops`) until that time has passed (so
    /// a place's four phases take at least four times that), counts every
    /// operation in its rate, and every check still holds; without one
    /// each runs one pass, exactly `rand_ops`.
    #[test]
    fn phases_last_their_minimum_time() {
        let dir = tempfile_dir("min-time");
        let mut c = config(&dir);
        // Four small blocks: passes far shorter than the minimum time.
        c.file_size = 256 << 10;
        c.block = 64 << 10;
        c.rand_ops = 1;
        c.min_time_ms = 30;
        assert!(validate(&c).is_ok());
        // Buffered, a pass's fsync holds its writes to the device (the
        // end fsync's check below can tell a mean from a sum).
        for direct in [Direct::Off, Direct::Auto] {
            c.direct = direct;
            let t = Instant::now();
            let r = measure(&c);
            let took = t.elapsed();
            let _ = fs::remove_dir_all(&dir);
            let p = r.unwrap().remove(0);
            assert!(p.check.is_ok(), "{:?}", p.check);
            assert!(took >= std::time::Duration::from_millis(120), "{took:?}");
            for ph in &p.phases[..2] {
                assert!(ph.ops >= 4 && ph.ops % 4 == 0, "whole passes: {ph:?}");
                assert_eq!(ph.bytes, ph.ops * c.block, "{ph:?}");
            }
            // The end fsync is one pass's (the mean), not the passes' sum:
            // the phase's busy time per pass holds a pass's writes and its
            // fsync.
            let w = &p.phases[0];
            let per_pass_ms = w.busy_ns as f64 / (w.ops / 4) as f64 / 1e6;
            assert!(
                p.end_fsync_ms <= per_pass_ms,
                "{} ms > {per_pass_ms} ms per pass ({}): {w:?}",
                p.end_fsync_ms,
                p.io_mode
            );
            assert!(!p.prealloc.contains("later write passes"), "{}", p.prealloc);
            for ph in &p.phases[2..] {
                // Past rand_ops, unless its one operation took the whole
                // time (less the untimed check around it).
                assert!(ph.ops > 1 || ph.busy_ns >= 29_000_000, "{ph:?}");
                assert_eq!(ph.bytes, ph.ops * SECTOR, "{ph:?}");
            }
        }
        c.min_time_ms = 0;
        let r = measure(&c).unwrap().remove(0);
        let ops: Vec<u64> = r.phases.iter().map(|p| p.ops).collect();
        assert_eq!(ops, [4, 4, 1, 1]);
        c.min_time_ms = 600_001;
        assert!(validate(&c)
            .unwrap_err()
            .to_string()
            .contains("min-time-ms"));
    }

    /// A refresh leaves the file as the first pass found it: preallocated
    /// (its size, its blocks allocated, no data), or empty.
    #[test]
    fn refreshed_blocks_are_as_the_first_pass_found_them() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile_dir("refresh");
        fs::create_dir_all(&dir).unwrap();
        let _remove = RemoveDirAllOnDrop(dir.clone());
        let f = open(&dir.join("f"), false).unwrap();
        let len = 1 << 20;
        assert_eq!(preallocate(&f, len), "fallocate(2)");
        f.write_all_at(&vec![0xAB; len as usize], 0).unwrap();
        f.sync_all().unwrap();
        for preallocated in [true, false] {
            refresh_blocks(&f, len, preallocated).unwrap();
            let m = f.metadata().unwrap();
            let allocated = m.blocks() * 512;
            if preallocated {
                assert_eq!(m.len(), len);
                assert!(allocated >= len, "{allocated} bytes allocated");
                let mut back = vec![1u8; len as usize];
                f.read_exact_at(&mut back, 0).unwrap();
                assert!(back.iter().all(|&b| b == 0), "data left after the refresh");
            } else {
                assert_eq!((m.len(), allocated), (0, 0));
            }
            f.write_all_at(&vec![0xAB; len as usize], 0).unwrap();
            f.sync_all().unwrap();
        }
    }

    struct RemoveDirAllOnDrop(PathBuf);

    impl Drop for RemoveDirAllOnDrop {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn tempfile_dir(what: &str) -> PathBuf {
        std::env::temp_dir().join(format!("isobench-fileio-{what}-{}", std::process::id()))
    }
}
