//! Memory latency: a dependent pointer chase through a random cyclic
//! permutation, as lmbench's `lat_mem_rd` (random mode) and the "Sattolo"
//! variants of it measure load-to-use latency.
//!
//! For each working set (16 KiB to `--max-size`, powers of two) the buffer is
//! cut into 64-byte cache lines; the first word of every line points at the
//! next line of one random cycle through all lines (Sattolo's algorithm gives
//! a uniformly random single cycle). Each load's address is the value of the
//! previous load, so loads cannot overlap: time / loads = latency, reported
//! as the median over 8 equal segments of the timed loads (robust against a
//! burst of noise from a shared host).
//!
//! Validation: the permutation is built in a compact array of u32 line
//! indices, which is walked from line 0 (it must first return after exactly
//! `lines` steps: one cycle through every line), and the chase buffer is then
//! compared with it line by line. Walking the compact array is several times
//! faster than walking the buffer itself, which keeps the quick preset short.

use std::time::Instant;

/// Parameters of the `latency` workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatencyConfig {
    pub min_size: u64,
    pub max_size: u64,
    /// Timed loads per working set; `None` = [`DEFAULT_LOADS`].
    pub loads: Option<u64>,
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

/// A uniformly random cyclic permutation of 0..lines (Sattolo's algorithm):
/// `next[i]` is the line after line i.
pub fn sattolo(lines: usize, seed: u64) -> Result<Vec<u32>, String> {
    if lines > u32::MAX as usize {
        return Err(format!("{lines} cache lines is too many for the chase"));
    }
    let mut next: Vec<u32> = (0..lines as u32).collect();
    let mut rng = Rng(seed | 1);
    for i in (1..lines).rev() {
        let j = rng.below(i);
        next.swap(i, j);
    }
    Ok(next)
}

/// Write the chase: the first word of line i holds the address of line next[i].
pub fn write_chain(buf: &mut [usize], next: &[u32]) {
    let base = buf.as_ptr() as usize;
    for (line, &n) in buf.chunks_exact_mut(WORDS).zip(next) {
        line[0] = base + n as usize * LINE;
    }
}

/// Walk `next` from line 0: Ok(lines) when it first returns after visiting
/// every line exactly once.
pub fn check_cycle(next: &[u32]) -> Result<usize, String> {
    let lines = next.len();
    let mut line = 0usize;
    for step in 1..=lines {
        line = next[line] as usize;
        if line >= lines {
            return Err(format!("line index {line} is out of range (step {step})"));
        }
        if line == 0 {
            return if step == lines {
                Ok(step)
            } else {
                Err(format!(
                    "the chase returns to its start after {step} of {lines} lines"
                ))
            };
        }
    }
    Err(format!(
        "the chase does not return to its start within {lines} steps"
    ))
}

/// Check that the buffer holds exactly the chain `next` describes.
pub fn check_chain(buf: &[usize], next: &[u32]) -> Result<(), String> {
    let base = buf.as_ptr() as usize;
    if buf.len() / WORDS != next.len() {
        return Err(format!(
            "buffer has {} lines, the permutation {}",
            buf.len() / WORDS,
            next.len()
        ));
    }
    for (i, (line, &n)) in buf.chunks_exact(WORDS).zip(next).enumerate() {
        let want = base + n as usize * LINE;
        if line[0] != want {
            return Err(format!(
                "line {i} points at {:#x}, not at line {n} ({want:#x})",
                line[0]
            ));
        }
    }
    Ok(())
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
    pub check: Result<usize, String>,
}

/// Measure one working set of `size` bytes.
pub fn measure(size: u64, loads: Option<u64>, seed: u64) -> Result<Point, String> {
    let lines = size as usize / LINE;
    let next = sattolo(lines, seed)?;
    let mut buf: Vec<usize> = crate::alloc::try_zeroed_vec(lines * WORDS)?;
    write_chain(&mut buf, &next);
    let check = check_cycle(&next).and_then(|n| check_chain(&buf, &next).map(|()| n));
    drop(next);
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
    // first word of a line of `buf`, which outlives every chase below.
    let mut p = unsafe { chase(buf.as_ptr(), WARMUP_LOADS.min(lines as u64)) };
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
pub fn run(cfg: &LatencyConfig) -> Result<Vec<Point>, String> {
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
            let next = sattolo(lines, 42).unwrap();
            assert_eq!(check_cycle(&next), Ok(lines));
            let mut seen = vec![false; lines];
            for (i, &j) in next.iter().enumerate() {
                assert!(!seen[j as usize], "line {j} has two predecessors");
                seen[j as usize] = true;
                assert_ne!(i, j as usize, "a fixed point would be a cycle of one");
            }
            let mut buf = vec![0usize; lines * WORDS];
            write_chain(&mut buf, &next);
            check_chain(&buf, &next).unwrap();
            // Following the real pointers visits every line once.
            let base = buf.as_ptr() as usize;
            let mut p = buf[0];
            let mut steps = 1;
            while p != base {
                p = buf[(p - base) / 8];
                steps += 1;
            }
            assert_eq!(steps, lines);
        }
    }

    #[test]
    fn corrupted_permutations_are_caught() {
        let next = sattolo(256, 7).unwrap();
        // A line pointing back to the start makes a short cycle.
        let mut bad = next.clone();
        let first = bad[0] as usize;
        bad[first] = 0;
        assert!(check_cycle(&bad).unwrap_err().contains("after 2 of 256"));
        // An index out of range.
        let mut bad = next.clone();
        bad[0] = 256;
        assert!(check_cycle(&bad).unwrap_err().contains("out of range"));
        // Two lines pointing at the same line: never comes back.
        let mut bad = next;
        bad[first] = first as u32;
        assert!(check_cycle(&bad).unwrap_err().contains("does not return"));
    }

    #[test]
    fn corrupted_buffer_is_caught() {
        let next = sattolo(256, 9).unwrap();
        let mut buf = vec![0usize; 256 * WORDS];
        write_chain(&mut buf, &next);
        buf[5 * WORDS] += LINE;
        assert!(check_chain(&buf, &next).unwrap_err().contains("line 5"));
        buf[5 * WORDS] -= LINE - 8;
        assert!(check_chain(&buf, &next).is_err());
        assert!(check_chain(&buf[..WORDS * 10], &next).is_err());
    }

    #[test]
    fn measure_small_sizes() {
        let pts = run(&LatencyConfig {
            min_size: 16 << 10,
            max_size: 64 << 10,
            loads: Some(10_000),
        })
        .unwrap();
        assert_eq!(pts.len(), 3);
        for p in pts {
            assert_eq!(p.check, Ok(p.size as usize / LINE));
            assert!(p.ns_per_load > 0.0);
        }
    }
}
