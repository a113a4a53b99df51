//! Sequential memory bandwidth: STREAM Copy, Scale, Add and Triad
//! (J. McCalpin, <https://www.cs.virginia.edu/stream/>, stream.c v5.10).
//!
//! As stream.c: three arrays of doubles initialised to a=1, b=2, c=0 and then
//! a=2a; per pass the four kernels `c=a`, `b=s·c`, `c=a+b`, `a=b+s·c` with
//! s=3; the best time of the passes after the first; bytes counted as STREAM
//! does (two arrays for Copy and Scale, three for Add and Triad, 8 bytes per
//! element; MB = 10⁶ bytes). Validation follows `checkSTREAMresults`
//! (average relative error below 1e-13), plus an element-by-element check.
//!
//! Stores: plain stores by default, which is STREAM as written and what the
//! report calls "STREAM". `--stores nt` selects the tuned variant, written
//! with non-temporal (streaming) SSE2 `movntpd` stores (baseline x86-64, so
//! it runs alike natively, in containers and under TCG): the destination is
//! not read for ownership first. STREAM's run rules call modified kernels
//! "tuned", so results record `params.stream_variant` = `plain` or `tuned`
//! and reports label tuned figures as such.
//!
//! Threads are persistent for the whole run (a barrier before and after each
//! kernel, as the OpenMP version's implicit barriers); each owns one contiguous
//! slice of every array and touches it first, so its pages are its own.

use crate::error::{arg_err, ArgError, Error, Invalid, Verdict};
use crate::metricdef::MetricDef;
use std::sync::Barrier;
use std::time::Instant;

/// The best rate of each STREAM kernel, `<kernel>_mbs` (see [`KERNELS`]).
pub const METRICS: &[MetricDef] = &[
    MetricDef::higher("copy_mbs", "MB/s"),
    MetricDef::higher("scale_mbs", "MB/s"),
    MetricDef::higher("add_mbs", "MB/s"),
    MetricDef::higher("triad_mbs", "MB/s"),
];

/// Parameters of the `membw` workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembwConfig {
    pub threads: usize,
    /// Passes over the four kernels; the first is not counted when there are more.
    pub passes: usize,
    /// Bytes per array; `None` = 4x the last-level cache.
    pub size_bytes: Option<u64>,
    /// Plain stores (STREAM as written) unless the tuned non-temporal
    /// variant is asked for (`--stores nt`).
    pub stores: Stores,
    /// Pages backing the arrays (see [`crate::alloc`]).
    pub pages: crate::alloc::PagePolicy,
}

/// STREAM's scalar.
pub const SCALAR: f64 = 3.0;
/// The kernels, in STREAM's order.
pub const KERNELS: [&str; 4] = ["copy", "scale", "add", "triad"];
/// Bytes moved per element, as STREAM counts them.
pub const BYTES_PER_ELEMENT: [f64; 4] = [16.0, 16.0, 24.0, 24.0];
/// stream.c's epsilon for doubles.
pub const EPSILON: f64 = 1e-13;

/// Copy: c = a.
#[inline]
pub fn copy(c: &mut [f64], a: &[f64]) {
    for (c, &a) in c.iter_mut().zip(a) {
        *c = a;
    }
}

/// Scale: b = s·c.
#[inline]
pub fn scale(b: &mut [f64], c: &[f64], s: f64) {
    for (b, &c) in b.iter_mut().zip(c) {
        *b = s * c;
    }
}

/// Add: c = a + b.
#[inline]
pub fn add(c: &mut [f64], a: &[f64], b: &[f64]) {
    for (c, (&a, &b)) in c.iter_mut().zip(a.iter().zip(b)) {
        *c = a + b;
    }
}

/// Triad: a = b + s·c.
#[inline]
pub fn triad(a: &mut [f64], b: &[f64], c: &[f64], s: f64) {
    for (a, (&b, &c)) in a.iter_mut().zip(b.iter().zip(c)) {
        *a = b + s * c;
    }
}

/// How the kernels write their destination array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stores {
    /// Plain stores (what a compiler emits for the loops above).
    #[default]
    Normal,
    /// Non-temporal SSE2 stores (`movntpd`), on x86-64; plain elsewhere.
    NonTemporal,
}

impl Stores {
    /// The `--stores` value: `normal` or `nt`.
    pub fn arg(self) -> &'static str {
        match self {
            Stores::Normal => "normal",
            Stores::NonTemporal => "nt",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Stores::Normal => "normal",
            Stores::NonTemporal if cfg!(target_arch = "x86_64") => "non-temporal (sse2 movntpd)",
            Stores::NonTemporal => "normal (non-temporal stores need x86-64)",
        }
    }
}

impl std::str::FromStr for Stores {
    type Err = ArgError;
    fn from_str(s: &str) -> Result<Self, ArgError> {
        match s {
            "normal" => Ok(Stores::Normal),
            "nt" => Ok(Stores::NonTemporal),
            v => Err(arg_err!("--stores '{v}' is not one of normal, nt")),
        }
    }
}

/// The four kernels with non-temporal stores. Each splits off a scalar head
/// until the destination is 16-byte aligned, streams whole 64-byte groups,
/// finishes the tail with scalars, and ends with `sfence` so the stores are
/// visible to the other threads before the barrier.
#[cfg(target_arch = "x86_64")]
pub mod nt {
    use std::arch::x86_64::{
        __m128d, _mm_add_pd, _mm_loadu_pd, _mm_mul_pd, _mm_set1_pd, _mm_sfence, _mm_stream_pd,
    };

    /// dst[i] = sf(x[i], y[i]) streamed; `vf` is the same on pairs.
    #[inline(always)]
    fn apply(
        dst: &mut [f64],
        x: &[f64],
        y: &[f64],
        vf: impl Fn(__m128d, __m128d) -> __m128d,
        sf: impl Fn(f64, f64) -> f64,
    ) {
        let n = dst.len().min(x.len()).min(y.len());
        let head = dst.as_ptr().align_offset(16).min(n);
        for i in 0..head {
            dst[i] = sf(x[i], y[i]);
        }
        let body = (n - head) / 8 * 8;
        let (d, xs, ys) = (
            &mut dst[head..head + body],
            &x[head..head + body],
            &y[head..head + body],
        );
        for ((d, x), y) in d
            .chunks_exact_mut(8)
            .zip(xs.chunks_exact(8))
            .zip(ys.chunks_exact(8))
        {
            for k in (0..8).step_by(2) {
                // SAFETY: k + 1 < 8 = the length of every chunk, so the
                // unaligned loads read in bounds; d starts 16-byte aligned
                // (head split above) and chunks are 64 bytes, so d[k] is
                // 16-byte aligned as movntpd requires, and in bounds.
                unsafe {
                    let v = vf(
                        _mm_loadu_pd(x.as_ptr().add(k)),
                        _mm_loadu_pd(y.as_ptr().add(k)),
                    );
                    _mm_stream_pd(d.as_mut_ptr().add(k), v);
                }
            }
        }
        for i in head + body..n {
            dst[i] = sf(x[i], y[i]);
        }
        // SAFETY: sfence has no preconditions (SSE, part of baseline x86-64).
        unsafe { _mm_sfence() };
    }

    /// Copy: c = a.
    pub fn copy(c: &mut [f64], a: &[f64]) {
        apply(c, a, a, |x, _| x, |x, _| x);
    }

    /// Scale: b = s·c.
    pub fn scale(b: &mut [f64], c: &[f64], s: f64) {
        // SAFETY: SSE2 is part of the baseline x86-64 ISA.
        let vs = unsafe { _mm_set1_pd(s) };
        apply(
            b,
            c,
            c,
            // SAFETY: as above.
            |x, _| unsafe { _mm_mul_pd(vs, x) },
            |x, _| s * x,
        );
    }

    /// Add: c = a + b.
    pub fn add(c: &mut [f64], a: &[f64], b: &[f64]) {
        // SAFETY: SSE2 is part of the baseline x86-64 ISA.
        apply(c, a, b, |x, y| unsafe { _mm_add_pd(x, y) }, |x, y| x + y);
    }

    /// Triad: a = b + s·c.
    pub fn triad(a: &mut [f64], b: &[f64], c: &[f64], s: f64) {
        // SAFETY: SSE2 is part of the baseline x86-64 ISA.
        let vs = unsafe { _mm_set1_pd(s) };
        apply(
            a,
            b,
            c,
            // SAFETY: SSE2 is part of the baseline x86-64 ISA.
            |x, y| unsafe { _mm_add_pd(x, _mm_mul_pd(vs, y)) },
            |x, y| x + s * y,
        );
    }
}

/// Run kernel `k` (0 copy, 1 scale, 2 add, 3 triad) on one thread's slices.
#[inline]
fn kernel(k: usize, a: &mut [f64], b: &mut [f64], c: &mut [f64], stores: Stores) {
    #[cfg(target_arch = "x86_64")]
    if stores == Stores::NonTemporal {
        match k {
            0 => nt::copy(c, a),
            1 => nt::scale(b, c, SCALAR),
            2 => nt::add(c, a, b),
            _ => nt::triad(a, b, c, SCALAR),
        }
        return;
    }
    let _ = stores;
    match k {
        0 => copy(c, a),
        1 => scale(b, c, SCALAR),
        2 => add(c, a, b),
        _ => triad(a, b, c, SCALAR),
    }
}

/// What a STREAM run measured.
#[derive(Debug, Clone)]
pub struct StreamOutcome {
    pub elements: usize,
    pub threads: usize,
    pub passes: usize,
    /// Best time per kernel, seconds (passes after the first).
    pub best_s: [f64; 4],
    /// Average time per kernel, seconds (passes after the first).
    pub avg_s: [f64; 4],
    /// Best rate per kernel, MB/s.
    pub rates_mbs: [f64; 4],
    pub check: Verdict,
}

/// Elements per thread: equal contiguous slices, rounded to whole cache lines.
pub fn slice_len(n: usize, threads: usize) -> usize {
    n.div_ceil(threads.max(1)).next_multiple_of(8).max(8)
}

/// One thread's share of the run: first-touch init, then every pass.
/// `times` (thread 0 only) receives each kernel's wall time per pass.
fn worker(
    a: &mut [f64],
    b: &mut [f64],
    c: &mut [f64],
    passes: usize,
    stores: Stores,
    barrier: &Barrier,
    mut times: Option<&mut Vec<[f64; 4]>>,
) {
    a.fill(1.0);
    b.fill(2.0);
    c.fill(0.0);
    for x in a.iter_mut() {
        *x *= 2.0;
    }
    for pass in 0..passes {
        for k in 0..4 {
            barrier.wait();
            let t0 = Instant::now();
            kernel(k, a, b, c, stores);
            barrier.wait();
            if let Some(t) = times.as_deref_mut() {
                t[pass][k] = t0.elapsed().as_secs_f64();
            }
        }
    }
}

/// Run STREAM over arrays of `n` doubles with `threads` threads.
/// Fails only when the arrays cannot be allocated.
pub fn run_stream(
    n: usize,
    threads: usize,
    passes: usize,
    stores: Stores,
) -> Result<StreamOutcome, Error> {
    let passes = passes.max(1);
    // Zeroed allocations come straight from mmap: no page is touched here.
    let mut a: Vec<f64> = crate::alloc::try_zeroed_vec(n)?;
    let mut b: Vec<f64> = crate::alloc::try_zeroed_vec(n)?;
    let mut c: Vec<f64> = crate::alloc::try_zeroed_vec(n)?;
    let len = slice_len(n, threads);
    let parts: Vec<_> = a
        .chunks_mut(len)
        .zip(b.chunks_mut(len))
        .zip(c.chunks_mut(len))
        .map(|((a, b), c)| (a, b, c))
        .collect();
    let used_threads = parts.len();
    let barrier = Barrier::new(used_threads);
    let mut times = vec![[0.0f64; 4]; passes];
    std::thread::scope(|s| {
        let mut it = parts.into_iter();
        let (a0, b0, c0) = it.next().expect("n > 0 gives one slice");
        for (a, b, c) in it {
            let barrier = &barrier;
            s.spawn(move || worker(a, b, c, passes, stores, barrier, None));
        }
        worker(a0, b0, c0, passes, stores, &barrier, Some(&mut times));
    });

    let counted = if passes > 1 { &times[1..] } else { &times[..] };
    let mut best_s = [f64::INFINITY; 4];
    let mut avg_s = [0.0; 4];
    for t in counted {
        for k in 0..4 {
            best_s[k] = best_s[k].min(t[k]);
            avg_s[k] += t[k] / counted.len() as f64;
        }
    }
    let rates_mbs =
        std::array::from_fn(|k| 1e-6 * BYTES_PER_ELEMENT[k] * n as f64 / best_s[k].max(1e-12));
    let check = check_stream(&a, &b, &c, passes);
    Ok(StreamOutcome {
        elements: n,
        threads: used_threads,
        passes,
        best_s,
        avg_s,
        rates_mbs,
        check,
    })
}

/// `err <= EPSILON`; false for NaN, so a NaN counts as an error.
fn within(err: f64) -> bool {
    err <= EPSILON
}

/// STREAM's `checkSTREAMresults`: replay the kernels on scalars and compare
/// every array with them. Fails on an average relative error above
/// [`EPSILON`] (as stream.c) and also on any single element off by more.
pub fn check_stream(a: &[f64], b: &[f64], c: &[f64], passes: usize) -> Verdict {
    let (mut aj, mut bj, mut cj) = (1.0f64, 2.0f64, 0.0f64);
    aj *= 2.0;
    for _ in 0..passes {
        cj = aj;
        bj = SCALAR * cj;
        cj = aj + bj;
        aj = bj + SCALAR * cj;
    }
    let mut problems = Vec::new();
    for (name, arr, want) in [("a", a, aj), ("b", b, bj), ("c", c, cj)] {
        if arr.is_empty() {
            continue;
        }
        let sum_err: f64 = arr.iter().map(|&x| (x - want).abs()).sum();
        let avg_rel = sum_err / arr.len() as f64 / want.abs();
        let bad = arr
            .iter()
            .filter(|&&x| !within((x - want).abs() / want.abs()))
            .count();
        if !within(avg_rel) || bad > 0 {
            let first = arr
                .iter()
                .position(|&x| !within((x - want).abs() / want.abs()))
                .map(|i| format!(", first at {i}: {} instead of {want}", arr[i]))
                .unwrap_or_default();
            problems.push(format!(
                "array {name}: average relative error {avg_rel:.2e} (epsilon {EPSILON:e}), {bad} of {} elements wrong{first}",
                arr.len()
            ));
        }
    }
    if problems.is_empty() {
        Ok(format!(
            "solution validates: avg error less than {EPSILON:e} on all three arrays"
        ))
    } else {
        Err(Invalid(problems.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_compute_their_definitions() {
        let a = [1.0, 2.0, 3.0];
        let mut b = [0.0; 3];
        let mut c = [0.0; 3];
        copy(&mut c, &a);
        assert_eq!(c, a);
        scale(&mut b, &c, 3.0);
        assert_eq!(b, [3.0, 6.0, 9.0]);
        add(&mut c, &a, &b);
        assert_eq!(c, [4.0, 8.0, 12.0]);
        let mut a = a;
        triad(&mut a, &b, &c, 3.0);
        assert_eq!(a, [15.0, 30.0, 45.0]);
    }

    #[test]
    fn slices_cover_the_array_in_whole_lines() {
        assert_eq!(slice_len(1000, 1), 1000);
        assert_eq!(slice_len(1000, 2), 504);
        assert_eq!(slice_len(3, 4), 8);
        assert_eq!(slice_len(16, 3) % 8, 0);
    }

    #[test]
    fn run_validates_with_one_and_several_threads() {
        for stores in [Stores::Normal, Stores::NonTemporal] {
            for (n, t) in [(1000, 1), (1003, 2), (5000, 3), (10, 4), (1, 1)] {
                let o = run_stream(n, t, 3, stores).unwrap();
                assert!(o.check.is_ok(), "n={n} t={t}: {:?}", o.check);
                assert!(o.rates_mbs.iter().all(|r| r.is_finite() && *r > 0.0));
                assert!(o.threads <= t);
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn streaming_kernels_match_plain_ones_at_every_alignment() {
        let base: Vec<f64> = (0..203).map(|i| i as f64 * 0.5 + 1.0).collect();
        let other: Vec<f64> = (0..203).map(|i| 7.0 - i as f64).collect();
        for off in 0..3 {
            for len in [0, 1, 2, 7, 8, 9, 17, 64, 200] {
                let (x, y) = (&base[off..off + len], &other[off..off + len]);
                let mut want = vec![0.0; len + 3];
                let mut got = vec![0.0; len + 3];
                let (w, g) = (&mut want[off..off + len], &mut got[off..off + len]);
                copy(w, x);
                nt::copy(g, x);
                assert_eq!(w, g);
                scale(w, x, 3.0);
                nt::scale(g, x, 3.0);
                assert_eq!(w, g);
                add(w, x, y);
                nt::add(g, x, y);
                assert_eq!(w, g);
                triad(w, x, y, 3.0);
                nt::triad(g, x, y, 3.0);
                assert_eq!(w, g);
                assert_eq!(want, got, "nothing outside the slice is written");
            }
        }
    }

    fn expected(passes: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let n = 4096;
        let (mut a, mut b, mut c) = (vec![2.0; n], vec![2.0; n], vec![0.0; n]);
        for _ in 0..passes {
            copy(&mut c, &a);
            scale(&mut b, &c, SCALAR);
            add(&mut c, &a, &b);
            triad(&mut a, &b, &c, SCALAR);
        }
        (a, b, c)
    }

    #[test]
    fn corrupted_arrays_are_caught() {
        let (a, b, c) = expected(5);
        check_stream(&a, &b, &c, 5).unwrap();
        // The wrong number of passes.
        assert!(check_stream(&a, &b, &c, 4).is_err());
        // One element off by a tiny relative amount.
        let mut bad = a.clone();
        bad[17] *= 1.0 + 1e-9;
        let e = check_stream(&bad, &b, &c, 5).unwrap_err().0;
        assert!(
            e.contains("array a") && e.contains("1 of 4096") && e.contains("first at 17"),
            "{e}"
        );
        // A NaN.
        let mut bad = c.clone();
        bad[4095] = f64::NAN;
        assert!(check_stream(&a, &b, &bad, 5)
            .unwrap_err()
            .0
            .contains("array c"));
        // A kernel that was skipped (b never scaled).
        let mut bad = b;
        bad.fill(2.0);
        assert!(check_stream(&a, &bad, &c, 5).is_err());
    }
}
