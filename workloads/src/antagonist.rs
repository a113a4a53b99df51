//! Antagonists for the noisy-neighbour experiment (claim C5): programs that
//! put pressure on one shared resource and report the pressure they achieved,
//! so that a neighbour that did nothing is detected and a victim's slowdown
//! can be read against the pressure applied. The kinds follow the
//! interference suites (iBench, Heracles' antagonists):
//!
//! - `cpu`: integer spinning on every thread (CPU time).
//! - `membw`: STREAM triad over arrays 4x the last-level cache (memory
//!   bandwidth), counted as STREAM counts bytes.
//! - `llc`: dependent random reads over a buffer the size of the last-level
//!   cache, which evicts a neighbour's lines (cache capacity).
//! - `fork`: a fork storm bounded twice: by `--max-procs` live children of
//!   its own, and by whatever pids limit the environment sets; fork failures
//!   (EAGAIN at the limit) are counted, not fatal.
//!
//! An antagonist runs until `--duration-ms` has passed (default: until it is
//! killed). Every [`PROGRESS_EVERY`] it prints `ISOBENCH-PROGRESS {json}`
//! with its cumulative operations, so the host can stop it at any moment and
//! still know the rate it achieved up to then; at the end of a bounded run it
//! prints the usual result line with metric `rate`.

use crate::error::{arg_err, ArgError, Error};
use crate::metricdef::MetricDef;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Prefix of a progress line.
pub const PROGRESS_MARKER: &str = "ISOBENCH-PROGRESS";
/// How often progress is printed.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// The rate the antagonist applied (its unit is the kind's, [`Kind::unit`]).
pub const METRICS: &[MetricDef] = &[MetricDef::higher("rate", "ops/s")];

/// Which resource the antagonist presses on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Cpu,
    Membw,
    Llc,
    Fork,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Cpu, Kind::Membw, Kind::Llc, Kind::Fork];
    /// The `--kind` values, in the order of [`Kind::ALL`].
    pub const NAMES: [&'static str; 4] = [
        Kind::Cpu.name(),
        Kind::Membw.name(),
        Kind::Llc.name(),
        Kind::Fork.name(),
    ];

    /// The `--kind` value (what [`str::parse`] reads back).
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Cpu => "cpu",
            Kind::Membw => "membw",
            Kind::Llc => "llc",
            Kind::Fork => "fork",
        }
    }

    /// Unit of the achieved rate.
    pub fn unit(self) -> &'static str {
        match self {
            Kind::Cpu => "Mops/s",
            Kind::Membw => "MB/s",
            Kind::Llc => "Mloads/s",
            Kind::Fork => "forks/s",
        }
    }

    /// Operations counted per unit of the rate.
    fn per_unit(self) -> f64 {
        match self {
            Kind::Cpu | Kind::Llc | Kind::Membw => 1e6,
            Kind::Fork => 1.0,
        }
    }
}

impl std::str::FromStr for Kind {
    type Err = ArgError;
    fn from_str(s: &str) -> Result<Self, ArgError> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| arg_err!("--kind '{s}' is not one of cpu, membw, llc, fork"))
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Parameters of an antagonist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AntagonistConfig {
    pub kind: Kind,
    pub threads: usize,
    /// Working-set bytes for `membw` (per array) and `llc`; `None` = from
    /// the last-level cache (4x for membw, 1x for llc).
    pub size_bytes: Option<u64>,
    /// Most live children of the fork storm.
    pub max_procs: usize,
    /// Stop after this long; `None` = run until killed.
    pub duration: Option<Duration>,
}

impl AntagonistConfig {
    /// Bytes it allocates, when its size is given (every thread has its
    /// own arrays).
    pub fn memory_need(&self) -> Option<u64> {
        let t = self.threads.max(1) as u64;
        match self.kind {
            Kind::Membw => self.size_bytes.map(|s| 3 * s * t),
            Kind::Llc => self.size_bytes.map(|s| s * t),
            Kind::Cpu | Kind::Fork => Some(0),
        }
    }
}

/// Cumulative progress, as printed on a progress line.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub kind: Kind,
    pub elapsed_s: f64,
    /// Operations so far (bytes for membw).
    pub ops: u64,
    /// `ops / elapsed` in [`Kind::unit`].
    pub rate: f64,
    /// Forks that failed (the pids limit was reached).
    #[serde(default)]
    pub failures: u64,
}

impl Progress {
    pub fn to_line(&self) -> String {
        format!(
            "{PROGRESS_MARKER} {}",
            serde_json::to_string(self).unwrap_or_default()
        )
    }
}

/// The last progress line in a stream (console noise before the marker is
/// tolerated, as for result lines).
pub fn last_progress(stream: &str) -> Option<Progress> {
    stream.lines().rev().find_map(|l| {
        let i = l.find(PROGRESS_MARKER)?;
        serde_json::from_str(l[i + PROGRESS_MARKER.len()..].trim()).ok()
    })
}

/// What a bounded run achieved.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub last: Progress,
    /// Working-set bytes per thread (per array for membw).
    pub size_bytes: u64,
    /// How that size was chosen (see [`choose_size`]).
    pub size_source: String,
}

/// The largest last-level cache taken at its word when sizing an
/// antagonist. Virtual machines may report host-sized or invented caches
/// (a guest reporting a 480 MiB L3 made a 1.9 GiB-per-thread antagonist
/// that spent its time in page faults); no shipping CPU has a last-level
/// cache per socket much beyond this, so a larger report is capped here and
/// the cap is recorded.
pub const LLC_CAP_BYTES: u64 = 128 << 20;

/// Assumed last-level cache when the host reports none.
pub const LLC_ASSUMED_BYTES: u64 = 32 << 20;

/// The working set per thread of an antagonist, and how it was chosen: the
/// plan's size (`--size`) when given; else from the last-level cache
/// (`llc`, capped at [`LLC_CAP_BYTES`]): membw's arrays together exceed
/// the cache 4x as STREAM asks (4x the cache shared among the threads,
/// at least 1 MiB each), llc's chase fits the cache as a whole.
pub fn choose_size(
    kind: Kind,
    size: Option<u64>,
    llc: Option<u64>,
    threads: usize,
) -> (u64, String) {
    if let Some(s) = size {
        return (s, "--size (the plan)".to_string());
    }
    let (cache, how) = match llc {
        Some(l) if l > LLC_CAP_BYTES => (
            LLC_CAP_BYTES,
            format!(
                "the last-level cache capped at {} MiB (the host reports {} MiB)",
                LLC_CAP_BYTES >> 20,
                l >> 20
            ),
        ),
        Some(l) => (l, format!("the {} KiB last-level cache", l >> 10)),
        None => (
            LLC_ASSUMED_BYTES,
            format!(
                "an assumed {} MiB last-level cache (the host reports none)",
                LLC_ASSUMED_BYTES >> 20
            ),
        ),
    };
    let t = threads.max(1) as u64;
    match kind {
        Kind::Membw => (
            (4 * cache / t).max(1 << 20),
            format!("4x {how}, shared among {t} thread(s)"),
        ),
        _ => (cache, how),
    }
}

/// Run the antagonist, calling `report` every [`PROGRESS_EVERY`] (and once at
/// the end of a bounded run). `llc_bytes` is the last-level cache size the
/// host reports, if any. Buffers are built, faulted in and warmed before the
/// clock starts.
pub fn run(
    cfg: &AntagonistConfig,
    llc_bytes: Option<u64>,
    mut report: impl FnMut(&Progress),
) -> Result<Outcome, Error> {
    let threads = cfg.threads.max(1);
    let (size, size_source) = choose_size(cfg.kind, cfg.size_bytes, llc_bytes, threads);
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    // Workers count themselves in once their buffers are built, so the
    // clock starts when the pressure does, not during setup.
    let ready = Arc::new(AtomicU64::new(0));
    let mut t0 = Instant::now();
    let progress = |t0: Instant| {
        let elapsed_s = t0.elapsed().as_secs_f64();
        let n = ops.load(Ordering::Relaxed);
        Progress {
            kind: cfg.kind,
            elapsed_s,
            ops: n,
            rate: if elapsed_s > 0.0 {
                n as f64 / elapsed_s / cfg.kind.per_unit()
            } else {
                0.0
            },
            failures: failures.load(Ordering::Relaxed),
        }
    };
    let mut last = progress(t0);
    std::thread::scope(|s| -> Result<(), Error> {
        let mut handles = Vec::new();
        // The fork storm runs on one thread: its bound is on processes.
        let workers = if cfg.kind == Kind::Fork { 1 } else { threads };
        for t in 0..workers {
            let (stop, ops, failures, ready) =
                (stop.clone(), ops.clone(), failures.clone(), ready.clone());
            let kind = cfg.kind;
            let max_procs = cfg.max_procs.max(1);
            handles.push(s.spawn(move || -> Result<(), Error> {
                match kind {
                    Kind::Cpu => {
                        ready.fetch_add(1, Ordering::SeqCst);
                        spin(&stop, &ops)
                    }
                    Kind::Membw => stream(&stop, &ops, &ready, (size / 8) as usize, t),
                    Kind::Llc => chase(&stop, &ops, &ready, (size / 8) as usize, t as u64),
                    Kind::Fork => {
                        ready.fetch_add(1, Ordering::SeqCst);
                        storm(&stop, &ops, &failures, max_procs)
                    }
                }
            }));
        }
        while ready.load(Ordering::SeqCst) < handles.len() as u64
            && !handles.iter().any(|h| h.is_finished())
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        t0 = Instant::now();
        ops.store(0, Ordering::SeqCst);
        let mut next = t0 + PROGRESS_EVERY;
        loop {
            let done = cfg.duration.is_some_and(|d| t0.elapsed() >= d)
                || handles.iter().all(|h| h.is_finished());
            if done {
                break;
            }
            let now = Instant::now();
            if now >= next {
                last = progress(t0);
                report(&last);
                next += PROGRESS_EVERY;
            }
            std::thread::sleep(Duration::from_millis(5).min(next.saturating_duration_since(now)));
        }
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            h.join()
                .map_err(|_| Error::Failed("an antagonist thread panicked".into()))??;
        }
        Ok(())
    })?;
    last = progress(t0);
    report(&last);
    Ok(Outcome {
        last,
        size_bytes: size,
        size_source,
    })
}

/// Integer work the compiler cannot remove: an LCG whose state is kept.
fn spin(stop: &AtomicBool, ops: &AtomicU64) -> Result<(), Error> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..100_000 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
        }
        std::hint::black_box(x);
        ops.fetch_add(100_000, Ordering::Relaxed);
    }
    Ok(())
}

/// STREAM triad over private arrays (each thread its own), bytes counted as
/// STREAM does (24 per element).
fn stream(
    stop: &AtomicBool,
    ops: &AtomicU64,
    ready: &AtomicU64,
    n: usize,
    t: usize,
) -> Result<(), Error> {
    let n = n.max(1024);
    let mut a: Vec<f64> = crate::alloc::try_zeroed_vec(n)?;
    let b: Vec<f64> = vec![1.0 + t as f64; n];
    let c: Vec<f64> = vec![2.0; n];
    // A zeroed allocation is not yet backed: write every page of the target
    // array, then run one whole triad pass, so that the timed passes measure
    // bandwidth, not page faults.
    a.fill(0.5);
    crate::membw::triad(&mut a, &b, &c, crate::membw::SCALAR);
    std::hint::black_box(&a);
    ready.fetch_add(1, Ordering::SeqCst);
    const CHUNK: usize = 1 << 16;
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        let end = (i + CHUNK).min(n);
        crate::membw::triad(&mut a[i..end], &b[i..end], &c[i..end], crate::membw::SCALAR);
        ops.fetch_add(24 * (end - i) as u64, Ordering::Relaxed);
        i = if end == n { 0 } else { end };
    }
    std::hint::black_box(&a);
    Ok(())
}

/// Dependent loads along a random cyclic permutation (Sattolo's algorithm)
/// of `n` words: every load misses in the caches of a smaller neighbour.
fn chase(
    stop: &AtomicBool,
    ops: &AtomicU64,
    ready: &AtomicU64,
    n: usize,
    seed: u64,
) -> Result<(), Error> {
    let n = n.max(1024);
    let mut next: Vec<usize> = crate::alloc::try_zeroed_vec(n)?;
    for (i, x) in next.iter_mut().enumerate() {
        *x = i;
    }
    let mut r = seed.wrapping_add(0x2545_F491_4F6C_DD1D);
    for i in (1..n).rev() {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        let j = (r % i as u64) as usize;
        next.swap(i, j);
    }
    // Every word was written above (the pages are faulted in); one
    // sequential read warms the TLB and caches as far as they hold it.
    std::hint::black_box(next.iter().fold(0usize, |x, &v| x ^ v));
    ready.fetch_add(1, Ordering::SeqCst);
    let mut p = 0usize;
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..10_000 {
            p = next[p];
        }
        ops.fetch_add(10_000, Ordering::Relaxed);
    }
    std::hint::black_box(p);
    Ok(())
}

/// Fork children that exit at once, keeping at most `max_procs` alive. Only
/// its own children are waited for (by pid), so a host process sharing this
/// process (a test harness) keeps its own.
fn storm(
    stop: &AtomicBool,
    ops: &AtomicU64,
    failures: &AtomicU64,
    max_procs: usize,
) -> Result<(), Error> {
    let mut live: Vec<libc::pid_t> = Vec::with_capacity(max_procs);
    while !stop.load(Ordering::Relaxed) {
        if live.len() >= max_procs {
            reap(&mut live, true);
            continue;
        }
        // SAFETY: the child calls only _exit(2), which is async-signal-safe,
        // so forking a multi-threaded process is sound here.
        let pid = unsafe { libc::fork() };
        match pid {
            0 => {
                // SAFETY: _exit ends the child without running destructors or
                // touching state shared with the parent.
                unsafe { libc::_exit(0) }
            }
            p if p > 0 => {
                live.push(p);
                ops.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                // EAGAIN at a pids limit: count it, let a child go, retry.
                failures.fetch_add(1, Ordering::Relaxed);
                reap(&mut live, true);
            }
        }
        reap(&mut live, false);
    }
    while !live.is_empty() {
        reap(&mut live, true);
    }
    Ok(())
}

/// Reap exited children in `live`; with `block`, wait for the oldest one.
fn reap(live: &mut Vec<libc::pid_t>, block: bool) {
    if block {
        if let Some(&p) = live.first() {
            // SAFETY: waitpid with a null status pointer only reaps the child.
            unsafe { libc::waitpid(p, std::ptr::null_mut(), 0) };
            live.remove(0);
        }
        return;
    }
    live.retain(|&p| {
        // SAFETY: as above, without blocking; 0 means still running.
        let r = unsafe { libc::waitpid(p, std::ptr::null_mut(), libc::WNOHANG) };
        r == 0
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounded(kind: Kind) -> Outcome {
        let cfg = AntagonistConfig {
            kind,
            threads: 2,
            size_bytes: Some(4 << 20),
            max_procs: 8,
            duration: Some(Duration::from_millis(600)),
        };
        let mut lines = Vec::new();
        let o = run(&cfg, Some(1 << 20), |p| lines.push(p.to_line())).unwrap();
        assert_eq!(
            (o.size_bytes, o.size_source.as_str()),
            (4 << 20, "--size (the plan)")
        );
        assert!(lines.len() >= 2, "progress was reported: {lines:?}");
        let back = last_progress(&lines.join("\n")).unwrap();
        // JSON keeps the counts exactly and the floats to the last digit or so.
        assert_eq!(
            (back.kind, back.ops, back.failures),
            (o.last.kind, o.last.ops, o.last.failures)
        );
        assert!((back.rate - o.last.rate).abs() <= 1e-9 * o.last.rate.abs());
        o
    }

    #[test]
    fn every_kind_applies_pressure_and_says_how_much() {
        for kind in Kind::ALL {
            let o = bounded(kind);
            assert!(o.last.ops > 0 && o.last.rate > 0.0, "{kind:?}: {o:?}");
            assert!(o.last.elapsed_s >= 0.6, "{o:?}");
        }
    }

    #[test]
    fn sizes_come_from_the_plan_or_a_capped_cache_and_say_which() {
        // A host with a plausible 32 MiB L3: membw 4x it over two threads.
        let (s, how) = choose_size(Kind::Membw, None, Some(32 << 20), 2);
        assert_eq!(s, 64 << 20);
        assert!(
            how.contains("32768 KiB") && how.contains("2 thread"),
            "{how}"
        );
        // A guest reporting 480 MiB: capped, and the report says so.
        let (s, how) = choose_size(Kind::Membw, None, Some(480 << 20), 2);
        assert_eq!(s, 4 * LLC_CAP_BYTES / 2);
        assert!(how.contains("capped") && how.contains("480 MiB"), "{how}");
        let (s, _) = choose_size(Kind::Llc, None, Some(480 << 20), 4);
        assert_eq!(s, LLC_CAP_BYTES);
        // No cache reported: an assumption, recorded.
        let (s, how) = choose_size(Kind::Llc, None, None, 1);
        assert_eq!(s, LLC_ASSUMED_BYTES);
        assert!(how.contains("assumed"), "{how}");
        // Many threads never shrink an array below 1 MiB.
        assert_eq!(choose_size(Kind::Membw, None, Some(1 << 20), 64).0, 1 << 20);
        // The plan's size wins.
        assert_eq!(
            choose_size(Kind::Membw, Some(5 << 20), Some(1 << 30), 2).0,
            5 << 20
        );
    }

    #[test]
    fn progress_lines_are_found_in_console_noise() {
        let p = Progress {
            kind: Kind::Llc,
            elapsed_s: 1.5,
            ops: 30,
            rate: 20.0,
            failures: 0,
        };
        let stream = format!("[  1.0] noise\r\nxx{}\r\n[  2.0] more\n", p.to_line());
        let back = last_progress(&stream).unwrap();
        assert_eq!((back.ops, back.rate, back.kind), (30, 20.0, Kind::Llc));
        assert_eq!(last_progress("nothing here"), None);
        assert!("disk"
            .parse::<Kind>()
            .unwrap_err()
            .to_string()
            .contains("cpu, membw, llc, fork"));
    }
}
