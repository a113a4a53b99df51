//! Shared helpers for the criterion benchmarks in `benches/benches/`: the C
//! reference kernels (compiled by build.rs with gcc -O3 and -O3 -march=native)
//! behind safe wrappers, and the small statistics the side-by-side comparison
//! prints (medians of interleaved pairs, coefficient of variation).

use std::fmt;

/// Which compilation of the C reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CBuild {
    /// `gcc -O3` (baseline x86-64, as the Rust workload binary).
    O3,
    /// `gcc -O3 -march=native`.
    Native,
}

impl fmt::Display for CBuild {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CBuild::O3 => "C -O3",
            CBuild::Native => "C -O3 -march=native",
        })
    }
}

/// What the C STREAM measured (layout shared with c/stream.c).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct CStreamResult {
    pub best_s: [f64; 4],
    pub avg_s: [f64; 4],
    pub rates_mbs: [f64; 4],
    pub valid: i32,
    pub threads: i32,
}

mod ffi {
    use super::CStreamResult;
    extern "C" {
        pub fn isobench_c_o3_stream_run(
            n: usize,
            threads: i32,
            passes: i32,
            out: *mut CStreamResult,
        ) -> i32;
        pub fn isobench_c_native_stream_run(
            n: usize,
            threads: i32,
            passes: i32,
            out: *mut CStreamResult,
        ) -> i32;
        pub fn isobench_c_o3_randacc_run(
            log2: i32,
            threads: i32,
            verify: i32,
            seconds: *mut f64,
            errors: *mut u64,
        ) -> f64;
        pub fn isobench_c_native_randacc_run(
            log2: i32,
            threads: i32,
            verify: i32,
            seconds: *mut f64,
            errors: *mut u64,
        ) -> f64;
        pub fn isobench_c_o3_randacc_updates(table: *mut u64, log2: i32);
    }
}

/// Run the C STREAM over `n` doubles per array.
pub fn c_stream(
    build: CBuild,
    n: usize,
    threads: usize,
    passes: usize,
) -> Result<CStreamResult, String> {
    let mut out = CStreamResult::default();
    let f = match build {
        CBuild::O3 => ffi::isobench_c_o3_stream_run,
        CBuild::Native => ffi::isobench_c_native_stream_run,
    };
    // SAFETY: `out` is a valid, exclusively borrowed CStreamResult whose
    // layout matches the C struct (repr(C), same field order and types); the
    // C function only writes it and allocates/frees its own arrays.
    let rc = unsafe { f(n, threads as i32, passes as i32, &mut out) };
    if rc != 0 {
        return Err(format!("{build} stream_run failed ({rc})"));
    }
    Ok(out)
}

/// What the C RandomAccess measured.
#[derive(Debug, Clone, Copy)]
pub struct CRandaccResult {
    pub gups: f64,
    pub seconds: f64,
    /// Words wrong after the replay (0 when not verified).
    pub errors: u64,
}

/// Run the C RandomAccess on a table of 2^log2 words.
pub fn c_randacc(
    build: CBuild,
    log2: u32,
    threads: usize,
    verify: bool,
) -> Result<CRandaccResult, String> {
    let (mut seconds, mut errors) = (0.0f64, 0u64);
    let f = match build {
        CBuild::O3 => ffi::isobench_c_o3_randacc_run,
        CBuild::Native => ffi::isobench_c_native_randacc_run,
    };
    // SAFETY: both out-pointers are valid for writes for the whole call; the
    // C function allocates and frees its own table.
    let gups = unsafe {
        f(
            log2 as i32,
            threads as i32,
            verify as i32,
            &mut seconds,
            &mut errors,
        )
    };
    if gups < 0.0 {
        return Err(format!("{build} randacc_run failed ({gups})"));
    }
    Ok(CRandaccResult {
        gups,
        seconds,
        errors,
    })
}

/// The C single-threaded updates on `table` (length a power of two, >= 256).
pub fn c_randacc_updates(table: &mut [u64]) {
    assert!(table.len().is_power_of_two() && table.len() >= 256);
    let log2 = table.len().trailing_zeros() as i32;
    // SAFETY: the C function writes only table[0..2^log2], which is exactly
    // the exclusively borrowed slice.
    unsafe { ffi::isobench_c_o3_randacc_updates(table.as_mut_ptr(), log2) };
}

/// Median (mean of the two middle values for an even count); NaN when empty.
pub fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// Coefficient of variation: sample standard deviation / mean.
pub fn cv(xs: &[f64]) -> f64 {
    let n = xs.len() as f64;
    if xs.len() < 2 {
        return f64::NAN;
    }
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    var.sqrt() / mean
}

/// Ratios `a[i] / b[i]` of interleaved pairs.
pub fn pair_ratios(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x / y).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use isobench_workloads::{membw, randacc};

    #[test]
    fn statistics() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
        assert!((cv(&[9.0, 10.0, 11.0]) - 0.1).abs() < 1e-12);
        assert_eq!(pair_ratios(&[2.0, 3.0], &[1.0, 3.0]), [2.0, 1.0]);
    }

    #[test]
    fn c_stream_validates_like_rust() {
        for build in [CBuild::O3, CBuild::Native] {
            for threads in [1, 2] {
                let c = c_stream(build, 10_007, threads, 3).unwrap();
                assert_eq!(c.valid, 1, "{build}");
                assert!(c.rates_mbs.iter().all(|r| *r > 0.0));
                let r = membw::run_stream(10_007, threads, 3, membw::Stores::NonTemporal).unwrap();
                assert!(r.check.is_ok());
                assert_eq!(r.threads as i32, c.threads);
            }
        }
        assert!(c_stream(CBuild::O3, 0, 1, 1).is_err());
    }

    #[test]
    fn c_randacc_agrees_with_rust() {
        for build in [CBuild::O3, CBuild::Native] {
            let c = c_randacc(build, 14, 1, true).unwrap();
            assert_eq!(c.errors, 0, "{build}");
            // Two threads race on unlocked updates (HPCC allows 1% wrong
            // words). On a 2^14-word table the collision rate depends on
            // the host's speed and caches and can pass 1%; 2^20 words keep
            // it far below on any host.
            let c2 = c_randacc(build, 20, 2, true).unwrap();
            assert!(c2.errors as f64 <= 0.01 * (1u64 << 20) as f64, "{c2:?}");
        }
        let r = randacc::run(&randacc::RandaccConfig {
            threads: 1,
            log2_table: 14,
            pages: Default::default(),
        })
        .unwrap();
        assert_eq!(r.errors, 0);
    }

    #[test]
    fn c_and_rust_updates_give_the_same_table() {
        let mut rust = randacc::new_table(13).unwrap();
        randacc::run_updates(&rust, 1);
        let mut c: Vec<u64> = (0..1u64 << 13).collect();
        c_randacc_updates(&mut c);
        assert_eq!(randacc::as_plain(&mut rust), &c[..]);
    }
}
