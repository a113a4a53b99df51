//! Memory latency: a dependent pointer chase through a random cyclic
//! permutation, as lmbench's `lat_mem_rd` (random mode) and the "Sattolo"
//! variants of it measure load-to-use latency.
//!
//! For each working set (16 KiB to `--max-size`, powers of two) the buffer is
//! cut into 64-byte cache lines; the first word of every line points at the
//! next line of one random cycle through all lines: a uniformly random visiting
//! order (Fisher–Yates shuffle) closed into a ring, which is a uniformly random
//! cyclic permutation, as Sattolo's algorithm gives. Each load's address is the value of the
//! previous load, so loads cannot overlap: time / loads = latency, reported
//! as the median over 8 equal segments of the timed loads (robust against a
//! burst of noise from a shared host).
//!
//! Validation without a second (slow, dependent) walk: the visiting order is
//! checked to be a permutation of all lines, and every line of the buffer is
//! checked to point at its successor in that order. Together these prove that
//! the chase from the first line visits every line exactly once and returns
//! after exactly `lines` loads. The checks are independent loads, so they run
//! far faster than the chase; that keeps the quick preset short.

use crate::error::{failed, invalid, Error, Verdict};
use crate::metricdef::MetricDef;
use std::time::Instant;

/// Nanoseconds per dependent load, one metric per working-set size
/// (`ns_per_load_64KiB`).
pub const METRICS: &[MetricDef] = &[MetricDef::lower("ns_per_load_", "ns").family()];

/// Parameters of the `latency` workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatencyConfig {
    pub min_size: u64,
    pub max_size: u64,
    /// Timed loads per working set; `None` = [`DEFAULT_LOADS`].
    pub loads: Option<u64>,
    /// Pages backing the buffer (see [`crate::alloc`]).
    pub pages: crate::alloc::PagePolicy,
}

/// Bytes per cache line: one pointer per line.
pub const LINE: usize = 64;
const WORDS: usize = LINE / std::mem::size_of::<usize>();

/// Working-set sizes: `min`, 2·min, ... up to and including `max`.
pub fn sizes(min: u64, max: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut s = min.max(2 * LINE as u64);
    while s <= max {
        out.push(s);
        match s.checked_mul(2) {
            Some(n) => s = n,
            None => break,
        }
    }
    out
}

/// Default number of timed loads per working set.
pub const DEFAULT_LOADS: u64 = 1 << 20;
/// Untimed warm-up loads (at most one pass over the cycle).
pub const WARMUP_LOADS: u64 = 1 << 18;
/// The timed loads are split into this many segments; the median is reported.
pub const SEGMENTS: u64 = 8;

/// xorshift64*: a small deterministic generator for the permutation.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform-enough in 0..n (multiply-shift).
    fn below(&mut self, n: usize) -> usize {
        ((self.next() as u128 * n as u128) >> 64) as usize
    }
}

/// A uniformly random order of the lines 0..lines (Fisher–Yates).
pub fn random_order(lines: usize, seed: u64) -> Result<Vec<u32>, Error> {
    if lines > u32::MAX as usize {
        return Err(failed!("{lines} cache lines is too many for the chase"));
    }
    let mut order: Vec<u32> = (0..lines as u32).collect();
    let mut rng = Rng(seed | 1);
    for i in (1..lines).rev() {
        let j = rng.below(i + 1);
        order.swap(i, j);
    }
    Ok(order)
}

/// Check that `order` holds every line of 0..order.len() exactly once.
pub fn check_order(order: &[u32]) -> Verdict<()> {
    let n = order.len();
    let mut seen = vec![0u64; n.div_ceil(64)];
    for (k, &l) in order.iter().enumerate() {
        let l = l as usize;
        if l >= n {
            return Err(invalid!("position {k} of the order names line {l} of {n}"));
        }
        let (w, bit) = (l / 64, 1u64 << (l % 64));
        if seen[w] & bit != 0 {
            return Err(invalid!(
                "line {l} appears twice in the order (again at position {k})"
            ));
        }
        seen[w] |= bit;
    }
    Ok(())
}

/// Write the ring: the first word of line `order[k]` holds the address of line
/// order[k+1], and the last line points back at the first. `order` must have
/// passed [`check_order`] and `buf` must hold `order.len()` lines.
pub fn write_chain(buf: &mut [usize], order: &[u32]) {
    let base = buf.as_ptr() as usize;
    let n = order.len();
    for k in 0..n {
        let (from, to) = (order[k] as usize, order[(k + 1) % n] as usize);
        buf[from * WORDS] = base + to * LINE;
    }
}

/// Check that every line of `buf` points at its successor in `order` (a
/// permutation, see [`check_order`]). Ok(lines) proves the chase from line
/// `order[0]` visits every line once and is back after exactly `lines` loads.
pub fn check_chain(buf: &[usize], order: &[u32]) -> Verdict<usize> {
    let base = buf.as_ptr() as usize;
    let n = order.len();
    if buf.len() / WORDS != n {
        return Err(invalid!(
            "buffer has {} lines, the order {n}",
            buf.len() / WORDS
        ));
    }
    for k in 0..n {
        let (from, to) = (order[k] as usize, order[(k + 1) % n] as usize);
        let want = base + to * LINE;
        let got = buf[from * WORDS];
        if got != want {
            return Err(invalid!(
                "line {from} points at {got:#x}, not at its successor, line {to} ({want:#x})"
            ));
        }
    }
    Ok(n)
}

/// Follow `loads` pointers from `p`; returns where it ended.
///
/// # Safety
/// `p` and every pointer reachable from it must point to a readable,
/// pointer-aligned word holding another such pointer.
#[inline(never)]
pub unsafe fn chase(mut p: *const usize, loads: u64) -> *const usize {
    for _ in 0..loads / 16 {
        for _ in 0..16 {
            // SAFETY: guaranteed by the caller.
            p = unsafe { *p } as *const usize;
        }
    }
    for _ in 0..loads % 16 {
        // SAFETY: guaranteed by the caller.
        p = unsafe { *p } as *const usize;
    }
    p
}

/// The latency at one working-set size.
#[derive(Debug, Clone)]
pub struct Point {
    pub size: u64,
    pub loads: u64,
    pub ns_per_load: f64,
    pub check: Verdict<usize>,
}

/// Measure one working set of `size` bytes.
pub fn measure(size: u64, loads: Option<u64>, seed: u64) -> Result<Point, Error> {
    let lines = size as usize / LINE;
    let order = random_order(lines, seed)?;
    let mut buf: Vec<usize> = crate::alloc::try_zeroed_vec(lines * WORDS)?;
    let check = check_order(&order).and_then(|()| {
        write_chain(&mut buf, &order);
        check_chain(&buf, &order)
    });
    let first = order.first().map_or(0, |&l| l as usize);
    drop(order);
    if check.is_err() {
        return Ok(Point {
            size,
            loads: 0,
            ns_per_load: 0.0,
            check,
        });
    }
    let loads = loads.unwrap_or(DEFAULT_LOADS).max(SEGMENTS);
    let per = loads / SEGMENTS;
    // SAFETY: check_chain proved that every line's first word points at the
    // first word of a line of `buf` (which outlives every chase below), and
    // `first` is one of its lines.
    let mut p = unsafe {
        chase(
            buf.as_ptr().add(first * WORDS),
            WARMUP_LOADS.min(lines as u64),
        )
    };
    let mut segs = [0f64; SEGMENTS as usize];
    for seg in segs.iter_mut() {
        let t0 = Instant::now();
        // SAFETY: see above.
        p = unsafe { chase(std::hint::black_box(p), per) };
        *seg = t0.elapsed().as_nanos() as f64 / per as f64;
    }
    std::hint::black_box(p);
    segs.sort_by(f64::total_cmp);
    let ns_per_load = (segs[SEGMENTS as usize / 2 - 1] + segs[SEGMENTS as usize / 2]) / 2.0;
    Ok(Point {
        size,
        loads: per * SEGMENTS,
        ns_per_load,
        check,
    })
}

/// Measure every size of `cfg`.
pub fn run(cfg: &LatencyConfig) -> Result<Vec<Point>, Error> {
    sizes(cfg.min_size, cfg.max_size)
        .into_iter()
        .enumerate()
        .map(|(i, s)| measure(s, cfg.loads, 0x1234_5678 + i as u64))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_powers_of_two_up_to_max() {
        assert_eq!(
            sizes(16 << 10, 64 << 10),
            vec![16 << 10, 32 << 10, 64 << 10]
        );
        assert_eq!(sizes(16 << 10, 100 << 10).last(), Some(&(64 << 10)));
        assert_eq!(sizes(16 << 10, 256 << 20).len(), 15);
        assert_eq!(sizes(16 << 10, 1 << 30).len(), 17);
    }

    #[test]
    fn chain_is_one_cycle_through_every_line() {
        for lines in [2usize, 3, 17, 1024] {
            let order = random_order(lines, 42).unwrap();
            check_order(&order).unwrap();
            let mut buf = vec![0usize; lines * WORDS];
            write_chain(&mut buf, &order);
            assert_eq!(check_chain(&buf, &order), Ok(lines));
            // Following the real pointers visits every line once, then returns.
            let base = buf.as_ptr() as usize;
            let start = base + order[0] as usize * LINE;
            let mut seen = vec![false; lines];
            let mut p = start;
            for _ in 0..lines {
                let line = (p - base) / LINE;
                assert!(!seen[line], "line {line} visited twice");
                seen[line] = true;
                p = buf[line * WORDS];
            }
            assert_eq!(p, start);
        }
    }

    #[test]
    fn order_is_shuffled() {
        let order = random_order(1000, 1).unwrap();
        let in_place = order
            .iter()
            .enumerate()
            .filter(|&(i, &l)| i == l as usize)
            .count();
        assert!(in_place < 20, "{in_place} lines did not move");
        assert_ne!(random_order(1000, 2).unwrap(), order);
    }

    #[test]
    fn corrupted_order_is_caught() {
        let mut order = random_order(256, 7).unwrap();
        order[3] = order[200];
        assert!(check_order(&order).unwrap_err().0.contains("twice"));
        order[3] = 256;
        assert!(check_order(&order)
            .unwrap_err()
            .0
            .contains("names line 256"));
    }

    #[test]
    fn corrupted_buffer_is_caught() {
        let order = random_order(256, 9).unwrap();
        let mut buf = vec![0usize; 256 * WORDS];
        write_chain(&mut buf, &order);
        let l = order[5] as usize;
        // A short cycle: line order[5] points back at the start.
        let saved = buf[l * WORDS];
        buf[l * WORDS] = buf.as_ptr() as usize + order[0] as usize * LINE;
        assert!(check_chain(&buf, &order)
            .unwrap_err()
            .0
            .contains(&format!("line {l} ")));
        // A pointer into the middle of a line.
        buf[l * WORDS] = saved + 8;
        assert!(check_chain(&buf, &order).is_err());
        buf[l * WORDS] = saved;
        assert_eq!(check_chain(&buf, &order), Ok(256));
        assert!(check_chain(&buf[..WORDS * 10], &order).is_err());
    }

    #[test]
    fn measure_small_sizes() {
        let pts = run(&LatencyConfig {
            min_size: 16 << 10,
            max_size: 64 << 10,
            loads: Some(10_000),
            pages: Default::default(),
        })
        .unwrap();
        assert_eq!(pts.len(), 3);
        for p in pts {
            assert_eq!(p.check, Ok(p.size as usize / LINE));
            assert!(p.ns_per_load > 0.0);
        }
    }
}
