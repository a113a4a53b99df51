//! CPU kernels.
//!
//! - Integer: prime counting as sysbench's `cpu` test defines it
//!   (sysbench/src/tests/cpu/sb_cpu.c: for every c in 3..max, trial division
//!   by 2..=sqrt(c) with 64-bit integers). Every thread counts the whole range
//!   once, as one sysbench event per thread; the count is checked against a
//!   sieve of Eratosthenes.
//! - Floating point: a cache-blocked double-precision matrix multiply
//!   C = A·B (n×n, row-major; 128×256 blocks of B, 4×4 register tiles of C
//!   inside them). Threads own disjoint row slabs of C. Checked
//!   with the checksum identities eᵀC = (eᵀA)B and Ce = A(Be), which catch any
//!   single wrong entry.

use crate::metrics::MetricDef;
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// Prime counting and DGEMM rates; with several threads also the one-thread
/// rates (`_1t`) and the all-threads ones under their thread count (`_2t`,
/// recorded as aliases of the plain names).
pub const METRICS: &[MetricDef] = &[
    MetricDef::higher("primes_per_s", "primes/s"),
    MetricDef::higher("gflops", "GFLOP/s"),
    MetricDef::higher("primes_per_s_", "primes/s").family(),
    MetricDef::higher("gflops_", "GFLOP/s").family(),
];

/// Parameters of the `cpu` workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuConfig {
    pub threads: usize,
    /// sysbench's `--cpu-max-prime`: numbers 3..primes_max are tested.
    pub primes_max: u64,
    /// Matrix order n.
    pub matrix_n: usize,
    /// Shortest timed prime counting, and the matrix multiply's timed
    /// blocks in all (ms; [`PRIMES_MIN_TIME`] and [`DGEMM_MIN_TIME`] by
    /// default). Shorter only where a run must be brief (the quick
    /// noisy-neighbour victim); recorded as a parameter.
    pub min_time_ms: u64,
}

/// Default of [`CpuConfig::min_time_ms`].
pub const DEFAULT_MIN_TIME_MS: u64 = 300;

/// sysbench's loop: the number of primes p with 3 <= p < max.
#[inline(never)]
pub fn count_primes_trial(max: u64) -> u64 {
    let mut n = 0;
    for c in 3..max {
        // sysbench: t = sqrt((double)c); for (l = 2; l <= t; l++)
        let t = (c as f64).sqrt() as u64;
        let mut l = 2;
        while l <= t {
            if c % l == 0 {
                break;
            }
            l += 1;
        }
        if l > t {
            n += 1;
        }
    }
    n
}

/// The same count by a sieve: the reference for validation.
pub fn count_primes_sieve(max: u64) -> u64 {
    if max <= 3 {
        return 0;
    }
    let m = max as usize;
    let mut composite = vec![false; m];
    let mut i = 2;
    while i * i < m {
        if !composite[i] {
            let mut j = i * i;
            while j < m {
                composite[j] = true;
                j += i;
            }
        }
        i += 1;
    }
    (3..m).filter(|&k| !composite[k]).count() as u64
}

/// Check every thread's count against the sieve.
pub fn check_prime_counts(counts: &[u64], max: u64) -> Result<String, String> {
    let want = count_primes_sieve(max);
    match counts.iter().position(|&c| c != want) {
        None => Ok(format!("{want} primes in 3..{max} (sieve agrees)")),
        Some(t) => Err(format!(
            "thread {t} counted {} primes in 3..{max}, the sieve counts {want}",
            counts[t]
        )),
    }
}

/// Deterministic fill in [0, 1) (splitmix64), so checksums have no cancellation.
pub fn fill_matrix(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed;
    (0..n * n)
        .map(|_| {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 11) as f64 / (1u64 << 53) as f64
        })
        .collect()
}

/// Block sizes: a KB×JB tile of B (256 KiB) stays in L2, a JB row piece of C
/// (2 KiB) in L1.
const KB: usize = 128;
const JB: usize = 256;

/// C[row0..row0+rows] = A[row0..row0+rows] · B, with `c` the slab of C rows.
///
/// Inside each KB×JB block, 4×4 tiles of C are accumulated in registers
/// (16 doubles = 8 SSE2 registers) over the block's k range: per k, two
/// vector loads of B and four scalars of A feed 32 flops. Rows and columns
/// that do not fill a tile take the plain i-k-j loop.
#[inline(never)]
pub fn dgemm_rows(a: &[f64], b: &[f64], c: &mut [f64], n: usize, row0: usize) {
    c.fill(0.0);
    let rows = c.len() / n;
    let a = &a[row0 * n..(row0 + rows) * n];
    let b = &b[..n * n];
    for kk in (0..n).step_by(KB) {
        let kend = (kk + KB).min(n);
        for jj in (0..n).step_by(JB) {
            let jend = (jj + JB).min(n);
            let jtiles = jj + (jend - jj) / 4 * 4;
            let mut i = 0;
            while i + 4 <= rows {
                let ar = |r: usize| &a[(i + r) * n + kk..(i + r) * n + kend];
                let (a0, a1, a2, a3) = (ar(0), ar(1), ar(2), ar(3));
                for j in (jj..jtiles).step_by(4) {
                    let mut acc = [[0.0f64; 4]; 4];
                    let ks = a0.iter().zip(a1).zip(a2.iter().zip(a3)).zip(kk..kend);
                    for (((&x0, &x1), (&x2, &x3)), k) in ks {
                        let bk: &[f64; 4] =
                            b[k * n + j..k * n + j + 4].try_into().expect("4 columns");
                        for (row, x) in acc.iter_mut().zip([x0, x1, x2, x3]) {
                            for (v, &bv) in row.iter_mut().zip(bk) {
                                *v += x * bv;
                            }
                        }
                    }
                    for (r, row) in acc.iter().enumerate() {
                        let cr = &mut c[(i + r) * n + j..(i + r) * n + j + 4];
                        for (cv, v) in cr.iter_mut().zip(row) {
                            *cv += v;
                        }
                    }
                }
                if jtiles < jend {
                    block_ijk(a, b, c, n, i..i + 4, kk..kend, jtiles..jend);
                }
                i += 4;
            }
            if i < rows {
                block_ijk(a, b, c, n, i..rows, kk..kend, jj..jend);
            }
        }
    }
}

/// The plain i-k-j loop over one block (rows of the slab `a`/`c`).
fn block_ijk(
    a: &[f64],
    b: &[f64],
    c: &mut [f64],
    n: usize,
    rows: std::ops::Range<usize>,
    ks: std::ops::Range<usize>,
    js: std::ops::Range<usize>,
) {
    for i in rows {
        let crow = &mut c[i * n + js.start..i * n + js.end];
        for k in ks.clone() {
            let aik = a[i * n + k];
            let brow = &b[k * n + js.start..k * n + js.end];
            for (cv, &bv) in crow.iter_mut().zip(brow) {
                *cv += aik * bv;
            }
        }
    }
}

/// `err <= tol`, false for NaN.
fn within(err: f64, tol: f64) -> bool {
    err <= tol
}

/// Check C = A·B with the row and column checksum identities.
pub fn check_dgemm(a: &[f64], b: &[f64], c: &[f64], n: usize) -> Result<String, String> {
    // Column sums: sum_i C[i][j] == sum_k (sum_i A[i][k]) B[k][j].
    let mut col_a = vec![0.0; n];
    let mut col_c = vec![0.0; n];
    for (arow, crow) in a.chunks_exact(n).zip(c.chunks_exact(n)) {
        col_a.iter_mut().zip(arow).for_each(|(s, v)| *s += v);
        col_c.iter_mut().zip(crow).for_each(|(s, v)| *s += v);
    }
    let mut col_want = vec![0.0; n];
    for (brow, &ak) in b.chunks_exact(n).zip(&col_a) {
        col_want
            .iter_mut()
            .zip(brow)
            .for_each(|(s, v)| *s += ak * v);
    }
    // Row sums: sum_j C[i][j] == sum_k A[i][k] (sum_j B[k][j]).
    let row_b: Vec<f64> = b.chunks_exact(n).map(|r| r.iter().sum()).collect();
    // Positive entries: no cancellation, rounding stays below ~2n ulps.
    let tol = 4.0 * n as f64 * f64::EPSILON;
    let rel = |got: f64, want: f64| (got - want).abs() / want.abs().max(f64::MIN_POSITIVE);
    let mut worst: f64 = 0.0;
    for (j, (&got, &want)) in col_c.iter().zip(&col_want).enumerate() {
        let e = rel(got, want);
        if !within(e, tol) {
            return Err(format!(
                "column {j} checksum {got} differs from {want} (rel. error {e:.2e})"
            ));
        }
        worst = worst.max(e);
    }
    for (i, (arow, crow)) in a.chunks_exact(n).zip(c.chunks_exact(n)).enumerate() {
        let got: f64 = crow.iter().sum();
        let want: f64 = arow.iter().zip(&row_b).map(|(x, y)| x * y).sum();
        let e = rel(got, want);
        if !within(e, tol) {
            return Err(format!(
                "row {i} checksum {got} differs from {want} (rel. error {e:.2e})"
            ));
        }
        worst = worst.max(e);
    }
    Ok(format!(
        "row and column checksums agree (max rel. error {worst:.1e})"
    ))
}

/// What one thread count measured.
#[derive(Debug, Clone)]
pub struct CpuMeasurement {
    pub threads: usize,
    pub primes_per_s: f64,
    pub primes_counted: u64,
    /// Times each thread counted the range (to last [`PRIMES_MIN_TIME`]).
    pub primes_rounds: u64,
    pub gflops: f64,
    pub dgemm_reps: u64,
    pub check: Result<String, String>,
}

/// Minimum timed duration of the matrix multiply (repeated to reach it).
pub const DGEMM_MIN_TIME: Duration = Duration::from_millis(300);
/// Timed blocks of the matrix multiply (the best one counts).
pub const DGEMM_BLOCKS: usize = 5;
/// Shortest timed prime counting.
pub const PRIMES_MIN_TIME: Duration = Duration::from_millis(300);

/// Row slabs for `threads` threads over `n` rows: (first row, rows).
fn slabs(n: usize, threads: usize) -> Vec<(usize, usize)> {
    let t = threads.min(n).max(1);
    (0..t)
        .map(|i| (n * i / t, n * (i + 1) / t - n * i / t))
        .collect()
}

/// Run all threads' slabs of one product `reps` times; returns the wall time.
fn dgemm_parallel(
    a: &[f64],
    b: &[f64],
    c: &mut [f64],
    n: usize,
    threads: usize,
    reps: u64,
) -> Duration {
    let parts = slabs(n, threads);
    let barrier = Barrier::new(parts.len());
    let mut rest: &mut [f64] = c;
    let mut slabs_c = Vec::with_capacity(parts.len());
    for &(row0, rows) in &parts {
        let (mine, tail) = rest.split_at_mut(rows * n);
        slabs_c.push((row0, mine));
        rest = tail;
    }
    std::thread::scope(|s| {
        let mut it = slabs_c.into_iter();
        let (row0_main, slab_main) = it.next().expect("at least one slab");
        for (row0, slab) in it {
            let barrier = &barrier;
            s.spawn(move || {
                barrier.wait();
                for _ in 0..reps {
                    dgemm_rows(a, b, slab, n, row0);
                }
            });
        }
        barrier.wait();
        let t0 = Instant::now();
        for _ in 0..reps {
            dgemm_rows(a, b, slab_main, n, row0_main);
        }
        t0
    })
    // The scope has joined every thread: the wall time includes the slowest.
    .elapsed()
}

/// Measure prime counting and the matrix multiply with `threads` threads.
pub fn measure(cfg: &CpuConfig, threads: usize) -> CpuMeasurement {
    // Primes: every thread counts the whole range, as many times as it takes
    // to last PRIMES_MIN_TIME (one calibration count first, which is also
    // the count that is checked). Why a minimum time: the same range is a
    // few milliseconds natively and far longer under emulation; a run of a
    // few milliseconds measures the timer and the scheduler, not the CPU.
    let max = std::hint::black_box(cfg.primes_max);
    let c0 = Instant::now();
    let calib = count_primes_trial(max);
    let min_time = Duration::from_millis(cfg.min_time_ms.max(1));
    let rounds = (min_time.as_secs_f64() / c0.elapsed().as_secs_f64().max(1e-9))
        .ceil()
        .clamp(1.0, 1e6) as u64;
    let barrier = Barrier::new(threads);
    let count_rounds = move || {
        let mut last = 0;
        for _ in 0..rounds {
            last = count_primes_trial(std::hint::black_box(max));
        }
        last
    };
    let t0 = Instant::now();
    let counts: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (1..threads)
            .map(|_| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    count_rounds()
                })
            })
            .collect();
        barrier.wait();
        let mut counts = vec![count_rounds()];
        counts.extend(handles.into_iter().map(|h| h.join().unwrap_or(u64::MAX)));
        counts
    });
    let mut counts = counts;
    counts.push(calib);
    let primes_s = t0.elapsed().as_secs_f64();
    // Every thread's last count and the calibration count are checked; the
    // rate counts every round of every thread.
    let primes_counted: u64 = counts[..counts.len() - 1]
        .iter()
        .filter(|&&c| c != u64::MAX)
        .sum::<u64>()
        * rounds;
    let prime_check = check_prime_counts(&counts, cfg.primes_max);

    // Matrix multiply: one calibration product (also warms the caches), then
    // DGEMM_BLOCKS timed blocks of products lasting DGEMM_MIN_TIME in all;
    // the rate is the best block's, as STREAM reports its best pass. Why the
    // best: on a shared or nested host a block that loses the CPU for a
    // moment measures the host's other work (1-thread GFLOP/s had a CV of
    // 4-7% over 40 runs when timed as one block, against 1% for primes).
    let n = cfg.matrix_n;
    let a = fill_matrix(n, 1);
    let b = fill_matrix(n, 2);
    let mut c = vec![0.0; n * n];
    let once = dgemm_parallel(&a, &b, &mut c, n, threads, 1);
    let block = min_time.as_secs_f64() / DGEMM_BLOCKS as f64;
    let reps = (block / once.as_secs_f64().max(1e-9))
        .ceil()
        .clamp(1.0, 1e6) as u64;
    let t = (0..DGEMM_BLOCKS)
        .map(|_| dgemm_parallel(&a, &b, &mut c, n, threads, reps).as_secs_f64())
        .fold(f64::INFINITY, f64::min);
    let gflops = 2.0 * (n as f64).powi(3) * reps as f64 / t / 1e9;
    let mm_check = check_dgemm(&a, &b, &c, n);

    let check = match (prime_check, mm_check) {
        (Ok(p), Ok(m)) => Ok(format!("primes: {p}; dgemm: {m}")),
        (Err(e), _) => Err(format!("primes: {e}")),
        (_, Err(e)) => Err(format!("dgemm: {e}")),
    };
    CpuMeasurement {
        threads,
        primes_per_s: primes_counted as f64 / primes_s,
        primes_counted,
        primes_rounds: rounds,
        gflops,
        dgemm_reps: reps,
        check,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trial_division_matches_known_counts_and_sieve() {
        // pi(10000) = 1229; sysbench starts at 3, so 2 is not counted.
        assert_eq!(count_primes_trial(10_000), 1228);
        assert_eq!(count_primes_sieve(10_000), 1228);
        for max in [3, 4, 5, 10, 100, 1000, 7919, 7920] {
            assert_eq!(
                count_primes_trial(max),
                count_primes_sieve(max),
                "max {max}"
            );
        }
    }

    #[test]
    fn wrong_prime_count_is_caught() {
        assert!(check_prime_counts(&[1228, 1228], 10_000).is_ok());
        let e = check_prime_counts(&[1228, 1227], 10_000).unwrap_err();
        assert!(e.contains("thread 1"), "{e}");
    }

    fn naive(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
        let mut c = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                c[i * n + j] = (0..n).map(|k| a[i * n + k] * b[k * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn blocked_product_matches_naive_and_passes_check() {
        // 300 is not a multiple of either block size; 37 and 130 leave rows
        // and columns outside the 4x4 tiles.
        for (n, threads) in [(8, 1), (37, 3), (130, 1), (130, 2), (300, 3)] {
            let a = fill_matrix(n, 1);
            let b = fill_matrix(n, 2);
            let mut c = vec![0.0; n * n];
            dgemm_parallel(&a, &b, &mut c, n, threads, 2);
            let want = naive(&a, &b, n);
            for (x, y) in c.iter().zip(&want) {
                assert!((x - y).abs() <= 1e-12 * y.abs().max(1.0), "n={n}");
            }
            check_dgemm(&a, &b, &c, n).unwrap();
        }
    }

    #[test]
    fn corrupted_product_is_caught() {
        let n = 64;
        let a = fill_matrix(n, 1);
        let b = fill_matrix(n, 2);
        let mut c = vec![0.0; n * n];
        dgemm_rows(&a, &b, &mut c, n, 0);
        let mut bad = c.clone();
        bad[17 * n + 5] += 1e-6;
        assert!(check_dgemm(&a, &b, &bad, n).is_err());
        let mut bad = c.clone();
        bad[n * n - 1] = f64::NAN;
        assert!(check_dgemm(&a, &b, &bad, n).is_err());
        // A product of the wrong matrices fails too.
        let mut other = c;
        dgemm_rows(&b, &a, &mut other, n, 0);
        assert!(check_dgemm(&a, &b, &other, n).is_err());
    }

    #[test]
    fn measure_small_is_valid() {
        let cfg = CpuConfig {
            threads: 2,
            primes_max: 2000,
            matrix_n: 40,
            min_time_ms: 50,
        };
        let m = measure(&cfg, 2);
        assert!(m.check.is_ok(), "{:?}", m.check);
        assert!(m.primes_rounds >= 1);
        assert_eq!(
            m.primes_counted,
            2 * count_primes_sieve(2000) * m.primes_rounds
        );
        assert!(m.gflops > 0.0 && m.primes_per_s > 0.0);
    }
}
