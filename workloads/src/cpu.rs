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

use crate::error::{arg_err, invalid, ArgError, Error, Verdict};
use crate::metricdef::MetricDef;
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
    /// The matrix multiply's code path (`--isa`, default auto).
    pub isa: IsaChoice,
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
pub fn check_prime_counts(counts: &[u64], max: u64) -> Verdict {
    let want = count_primes_sieve(max);
    match counts.iter().position(|&c| c != want) {
        None => Ok(format!("{want} primes in 3..{max} (sieve agrees)")),
        Some(t) => Err(invalid!(
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

/// A code path of the matrix multiply: the x86-64 baseline (SSE2, what the
/// workload binary is compiled for) or a tuned path chosen at run time where
/// the CPU offers it. The tuned paths are the same Rust kernel compiled with
/// `#[target_feature]`, with a register tile as wide as the vector unit (two
/// vectors per row of the 4-row tile) and fused multiply-adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DgemmPath {
    /// SSE2, 4x4 tiles: the x86-64 baseline (every x86-64 CPU has it).
    Baseline,
    /// AVX2 with FMA, 4x8 tiles (tuned).
    Avx2Fma,
    /// AVX-512F, 4x16 tiles (tuned).
    Avx512,
}

impl DgemmPath {
    /// Best first: what `--isa auto` tries in order.
    pub const ALL: [DgemmPath; 3] = [DgemmPath::Avx512, DgemmPath::Avx2Fma, DgemmPath::Baseline];

    /// The name recorded as `dgemm_path`.
    pub fn name(self) -> &'static str {
        match self {
            DgemmPath::Baseline => "sse2",
            DgemmPath::Avx2Fma => "avx2+fma",
            DgemmPath::Avx512 => "avx512f",
        }
    }

    /// `baseline` or `tuned` (recorded as `dgemm_variant`).
    pub fn variant(self) -> &'static str {
        match self {
            DgemmPath::Baseline => "baseline",
            _ => "tuned",
        }
    }

    /// The register tile of C (rows x columns).
    pub fn tile(self) -> &'static str {
        match self {
            DgemmPath::Baseline => "4x4",
            DgemmPath::Avx2Fma => "4x8",
            DgemmPath::Avx512 => "4x16",
        }
    }

    /// Whether this CPU (as it reports itself, e.g. a VM's CPU model) runs
    /// the path.
    pub fn available(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            match self {
                DgemmPath::Baseline => true,
                DgemmPath::Avx2Fma => {
                    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
                }
                DgemmPath::Avx512 => std::is_x86_feature_detected!("avx512f"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == DgemmPath::Baseline
        }
    }
}

/// `cpu --isa`: which matrix-multiply path to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IsaChoice {
    /// The best path the CPU offers.
    #[default]
    Auto,
    /// This path, or an error where the CPU lacks it (fails closed: never a
    /// silent fallback).
    Force(DgemmPath),
}

impl IsaChoice {
    /// The `--isa` value.
    pub fn name(self) -> &'static str {
        match self {
            IsaChoice::Auto => "auto",
            IsaChoice::Force(DgemmPath::Baseline) => "baseline",
            IsaChoice::Force(DgemmPath::Avx2Fma) => "avx2",
            IsaChoice::Force(DgemmPath::Avx512) => "avx512",
        }
    }

    /// The path to run, or why it cannot run here.
    pub fn select(self) -> Result<DgemmPath, ArgError> {
        match self {
            IsaChoice::Auto => Ok(DgemmPath::ALL
                .into_iter()
                .find(|p| p.available())
                .unwrap_or(DgemmPath::Baseline)),
            IsaChoice::Force(p) if p.available() => Ok(p),
            IsaChoice::Force(p) => Err(arg_err!(
                "--isa {}: this CPU does not offer {} (it offers {})",
                self.name(),
                p.name(),
                DgemmPath::ALL
                    .into_iter()
                    .filter(|p| p.available())
                    .map(DgemmPath::name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}

impl std::str::FromStr for IsaChoice {
    type Err = ArgError;
    fn from_str(s: &str) -> Result<Self, ArgError> {
        Ok(match s {
            "auto" => IsaChoice::Auto,
            "baseline" | "sse2" => IsaChoice::Force(DgemmPath::Baseline),
            "avx2" => IsaChoice::Force(DgemmPath::Avx2Fma),
            "avx512" => IsaChoice::Force(DgemmPath::Avx512),
            _ => {
                return Err(arg_err!(
                    "--isa '{s}' is not one of auto, baseline, avx2, avx512"
                ))
            }
        })
    }
}

/// C[row0..row0+rows] = A[row0..row0+rows] · B on the baseline path.
#[inline(never)]
pub fn dgemm_rows(a: &[f64], b: &[f64], c: &mut [f64], n: usize, row0: usize) {
    dgemm_body::<4, false>(a, b, c, n, row0);
}

/// The same product on `path`.
///
/// # Panics
/// If the CPU does not offer `path` (check with [`DgemmPath::available`]).
pub fn dgemm_rows_on(path: DgemmPath, a: &[f64], b: &[f64], c: &mut [f64], n: usize, row0: usize) {
    assert!(
        path.available(),
        "dgemm path {} not offered by this CPU",
        path.name()
    );
    match path {
        DgemmPath::Baseline => dgemm_rows(a, b, c, n, row0),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the assert above checked that the CPU has AVX2 and FMA.
        DgemmPath::Avx2Fma => unsafe { dgemm_rows_avx2(a, b, c, n, row0) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the assert above checked that the CPU has AVX-512F.
        DgemmPath::Avx512 => unsafe { dgemm_rows_avx512(a, b, c, n, row0) },
        #[cfg(not(target_arch = "x86_64"))]
        _ => unreachable!("only the baseline path is available off x86-64"),
    }
}

/// The kernel compiled for AVX2 with FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,avx2,fma")]
#[inline(never)]
fn dgemm_rows_avx2(a: &[f64], b: &[f64], c: &mut [f64], n: usize, row0: usize) {
    dgemm_body::<8, true>(a, b, c, n, row0);
}

/// The kernel compiled for AVX-512F (with FMA, which every AVX-512 CPU has).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,avx2,fma,avx512f")]
#[inline(never)]
fn dgemm_rows_avx512(a: &[f64], b: &[f64], c: &mut [f64], n: usize, row0: usize) {
    dgemm_body::<16, true>(a, b, c, n, row0);
}

/// C[row0..row0+rows] = A[row0..row0+rows] · B, with `c` the slab of C rows.
///
/// Inside each KB×JB block, 4×NR tiles of C are accumulated in registers over
/// the block's k range: per k, NR doubles of B and four scalars of A feed
/// 8·NR flops (the compiler vectorises the rows at the path's width). On the
/// baseline path NR = 4 (16 doubles = 8 SSE2 registers); the tuned paths
/// keep 8 vector registers of accumulators too. `FMA` uses fused multiply-adds (`mul_add`, which is a library
/// call without the instruction, so only the tuned paths set it). Rows and
/// columns that do not fill a tile take the plain i-k-j loop.
#[inline(always)]
fn dgemm_body<const NR: usize, const FMA: bool>(
    a: &[f64],
    b: &[f64],
    c: &mut [f64],
    n: usize,
    row0: usize,
) {
    c.fill(0.0);
    let rows = c.len() / n;
    let a = &a[row0 * n..(row0 + rows) * n];
    let b = &b[..n * n];
    for kk in (0..n).step_by(KB) {
        let kend = (kk + KB).min(n);
        for jj in (0..n).step_by(JB) {
            let jend = (jj + JB).min(n);
            let jtiles = jj + (jend - jj) / NR * NR;
            let mut i = 0;
            while i + 4 <= rows {
                let ar = |r: usize| &a[(i + r) * n + kk..(i + r) * n + kend];
                let (a0, a1, a2, a3) = (ar(0), ar(1), ar(2), ar(3));
                for j in (jj..jtiles).step_by(NR) {
                    let mut acc = [[0.0f64; NR]; 4];
                    let ks = a0.iter().zip(a1).zip(a2.iter().zip(a3)).zip(kk..kend);
                    for (((&x0, &x1), (&x2, &x3)), k) in ks {
                        let bk: &[f64; NR] =
                            b[k * n + j..k * n + j + NR].try_into().expect("NR columns");
                        for (row, x) in acc.iter_mut().zip([x0, x1, x2, x3]) {
                            for (v, &bv) in row.iter_mut().zip(bk) {
                                *v = if FMA { x.mul_add(bv, *v) } else { *v + x * bv };
                            }
                        }
                    }
                    for (r, row) in acc.iter().enumerate() {
                        let cr = &mut c[(i + r) * n + j..(i + r) * n + j + NR];
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

/// The plain i-k-j loop over one block (rows of the slab `a`/`c`); inlined
/// so that each path compiles it with its own features.
#[inline(always)]
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
pub fn check_dgemm(a: &[f64], b: &[f64], c: &[f64], n: usize) -> Verdict {
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
            return Err(invalid!(
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
            return Err(invalid!(
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
    /// The matrix multiply's code path that ran.
    pub dgemm_path: DgemmPath,
    pub check: Verdict,
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
    path: DgemmPath,
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
                    dgemm_rows_on(path, a, b, slab, n, row0);
                }
            });
        }
        barrier.wait();
        let t0 = Instant::now();
        for _ in 0..reps {
            dgemm_rows_on(path, a, b, slab_main, n, row0_main);
        }
        t0
    })
    // The scope has joined every thread: the wall time includes the slowest.
    .elapsed()
}

/// Measure prime counting and the matrix multiply with `threads` threads;
/// an error where `cfg.isa` forces a path this CPU lacks.
pub fn measure(cfg: &CpuConfig, threads: usize) -> Result<CpuMeasurement, Error> {
    let path = cfg.isa.select()?;
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
    let (gflops, reps, mm_check) = measure_dgemm(cfg, threads, path);

    let check = match (prime_check, mm_check) {
        (Ok(p), Ok(m)) => Ok(format!("primes: {p}; dgemm: {m}")),
        (Err(e), _) => Err(invalid!("primes: {e}")),
        (_, Err(e)) => Err(invalid!("dgemm: {e}")),
    };
    Ok(CpuMeasurement {
        threads,
        primes_per_s: primes_counted as f64 / primes_s,
        primes_counted,
        primes_rounds: rounds,
        gflops,
        dgemm_reps: reps,
        dgemm_path: path,
        check,
    })
}

/// The matrix multiply alone on `path` with `threads` threads: GFLOP/s of
/// the best timed block, products per block, and the checksum verdict.
/// Used by [`measure`], and on its own for the baseline path beside a tuned
/// one (what a CPU model hiding the tuned path's features would leave).
///
/// # Panics
/// If the CPU does not offer `path`.
pub fn measure_dgemm(cfg: &CpuConfig, threads: usize, path: DgemmPath) -> (f64, u64, Verdict) {
    let min_time = Duration::from_millis(cfg.min_time_ms.max(1));
    let n = cfg.matrix_n;
    let a = fill_matrix(n, 1);
    let b = fill_matrix(n, 2);
    let mut c = vec![0.0; n * n];
    let once = dgemm_parallel(path, &a, &b, &mut c, n, threads, 1);
    let block = min_time.as_secs_f64() / DGEMM_BLOCKS as f64;
    let reps = (block / once.as_secs_f64().max(1e-9))
        .ceil()
        .clamp(1.0, 1e6) as u64;
    let t = (0..DGEMM_BLOCKS)
        .map(|_| dgemm_parallel(path, &a, &b, &mut c, n, threads, reps).as_secs_f64())
        .fold(f64::INFINITY, f64::min);
    let gflops = 2.0 * (n as f64).powi(3) * reps as f64 / t / 1e9;
    let check = check_dgemm(&a, &b, &c, n);
    (gflops, reps, check)
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
        let e = check_prime_counts(&[1228, 1227], 10_000).unwrap_err().0;
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
        // Every path this CPU offers (the tuned ones' 8- and 16-wide tiles
        // leave other remainders), against the same naive product.
        let paths: Vec<DgemmPath> = DgemmPath::ALL
            .into_iter()
            .filter(|p| p.available())
            .collect();
        assert!(paths.contains(&DgemmPath::Baseline));
        for path in paths {
            for (n, threads) in [(8, 1), (37, 3), (130, 1), (130, 2), (300, 3)] {
                let a = fill_matrix(n, 1);
                let b = fill_matrix(n, 2);
                let mut c = vec![0.0; n * n];
                dgemm_parallel(path, &a, &b, &mut c, n, threads, 2);
                let want = naive(&a, &b, n);
                for (x, y) in c.iter().zip(&want) {
                    assert!(
                        (x - y).abs() <= 1e-12 * y.abs().max(1.0),
                        "n={n} path {}",
                        path.name()
                    );
                }
                check_dgemm(&a, &b, &c, n).unwrap();
            }
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
            isa: IsaChoice::Auto,
        };
        let m = measure(&cfg, 2).unwrap();
        assert_eq!(Ok(m.dgemm_path), IsaChoice::Auto.select());
        assert!(m.check.is_ok(), "{:?}", m.check);
        assert!(m.primes_rounds >= 1);
        assert_eq!(
            m.primes_counted,
            2 * count_primes_sieve(2000) * m.primes_rounds
        );
        assert!(m.gflops > 0.0 && m.primes_per_s > 0.0);
        let m = measure(
            &CpuConfig {
                isa: IsaChoice::Force(DgemmPath::Baseline),
                ..cfg
            },
            1,
        )
        .unwrap();
        assert_eq!(m.dgemm_path, DgemmPath::Baseline);
        assert!(m.check.is_ok(), "{:?}", m.check);
    }

    #[test]
    fn isa_choice_parses_and_fails_closed() {
        assert_eq!("auto".parse(), Ok(IsaChoice::Auto));
        assert_eq!(
            "baseline".parse(),
            Ok(IsaChoice::Force(DgemmPath::Baseline))
        );
        assert_eq!("avx2".parse(), Ok(IsaChoice::Force(DgemmPath::Avx2Fma)));
        assert_eq!("avx512".parse(), Ok(IsaChoice::Force(DgemmPath::Avx512)));
        let e = "avx3".parse::<IsaChoice>().unwrap_err().to_string();
        assert!(e.contains("'avx3'") && e.contains("baseline"), "{e}");
        // Auto takes the best path offered; a forced path the CPU lacks is
        // an error naming it, never a silent fallback.
        let best = IsaChoice::Auto.select().unwrap();
        assert!(best.available());
        for p in DgemmPath::ALL {
            match IsaChoice::Force(p).select() {
                Ok(got) => assert!(got == p && p.available()),
                Err(e) => {
                    assert!(!p.available());
                    assert!(e.to_string().contains(p.name()), "{e}");
                }
            }
        }
        let rank = |p: DgemmPath| DgemmPath::ALL.iter().position(|&q| q == p);
        for p in DgemmPath::ALL.into_iter().filter(|p| p.available()) {
            assert!(rank(best) <= rank(p));
        }
    }
}
