//! Rust kernels against C references of the same definitions, side by side:
//! STREAM triad (workloads/src/membw.rs vs c/stream.c) and RandomAccess GUPS
//! (workloads/src/randacc.rs vs c/randacc.c), C compiled with gcc -O3 and with
//! gcc -O3 -march=native. Same sizes, same thread counts (1 and 2), same
//! threading scheme. Runs are interleaved (the order rotates every repetition)
//! so drift on a shared host hits every implementation alike; the figure of
//! merit is the median over repetitions of the per-repetition ratio Rust/C.
//! STREAM runs in Rust twice: with plain stores (the workload's default,
//! STREAM as written, the like-for-like comparison with the C loops) and
//! with non-temporal stores (the tuned variant, `--stream tuned`).
//!
//! Knobs (environment): ISOBENCH_VS_C_REPS (default 7), ISOBENCH_VS_C_ONLY
//! (`membw` or `randacc`), ISOBENCH_VS_C_LOG2 (table, default 24),
//! ISOBENCH_VS_C_THREADS (comma list, default `1,2`). STREAM arrays are 4x
//! the last-level cache each, 5 passes (best of the last 4).

use isobench_benches::{c_randacc, c_stream, cv, median, pair_ratios, CBuild};
use isobench_workloads::{membw, randacc, sysfs};
use std::path::Path;

#[derive(Clone, Copy, PartialEq)]
enum Imp {
    /// The workload's tuned variant for STREAM (non-temporal stores,
    /// `--stream tuned`); for RandomAccess, the workload's only code path.
    Rust,
    /// STREAM with plain stores: the workload's default, as the C loops.
    RustNormalStores,
    C(CBuild),
}

const C_IMPS: [Imp; 2] = [Imp::C(CBuild::O3), Imp::C(CBuild::Native)];
const TRIAD_IMPS: [Imp; 4] = [
    Imp::Rust,
    Imp::RustNormalStores,
    Imp::C(CBuild::O3),
    Imp::C(CBuild::Native),
];
const GUPS_IMPS: [Imp; 3] = [Imp::Rust, Imp::C(CBuild::O3), Imp::C(CBuild::Native)];

fn name(i: Imp, what: &str) -> String {
    match i {
        Imp::Rust if what.contains("STREAM") => "Rust (tuned: non-temporal stores)".into(),
        Imp::Rust => "Rust".into(),
        Imp::RustNormalStores => "Rust (plain stores, default)".into(),
        Imp::C(b) => b.to_string(),
    }
}

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn triad(imp: Imp, n: usize, threads: usize) -> f64 {
    match imp {
        Imp::Rust | Imp::RustNormalStores => {
            let stores = if imp == Imp::Rust {
                membw::Stores::NonTemporal
            } else {
                membw::Stores::Normal
            };
            let o = membw::run_stream(n, threads, 5, stores).expect("allocate STREAM arrays");
            assert!(o.check.is_ok(), "Rust STREAM invalid: {:?}", o.check);
            o.rates_mbs[3]
        }
        Imp::C(b) => {
            let o = c_stream(b, n, threads, 5).expect("C STREAM");
            assert_eq!(o.valid, 1, "{b} STREAM invalid");
            o.rates_mbs[3]
        }
    }
}

fn gups(imp: Imp, log2: u32, threads: usize, verify: bool) -> f64 {
    match imp {
        Imp::Rust | Imp::RustNormalStores => {
            let mut t = randacc::new_table(log2).expect("allocate table");
            let s = randacc::run_updates(&t, threads).as_secs_f64();
            if verify {
                let e = randacc::verify(randacc::as_plain(&mut t));
                assert!(
                    randacc::judge(e, t.len()).is_ok(),
                    "Rust RandomAccess: {e} errors"
                );
            }
            randacc::updates_for(t.len()) as f64 / s / 1e9
        }
        Imp::C(b) => {
            let o = c_randacc(b, log2, threads, verify).expect("C RandomAccess");
            assert!(
                o.errors as f64 <= 0.01 * (1u64 << log2) as f64,
                "{b}: {} errors",
                o.errors
            );
            o.gups
        }
    }
}

/// Run `f` for every implementation, `reps` times, rotating the order.
fn interleave(imps: &[Imp], reps: usize, mut f: impl FnMut(Imp, usize) -> f64) -> Vec<Vec<f64>> {
    let mut out = vec![Vec::new(); imps.len()];
    for rep in 0..reps {
        for k in 0..imps.len() {
            let i = (rep + k) % imps.len();
            out[i].push(f(imps[i], rep));
        }
    }
    out
}

fn report(what: &str, unit: &str, threads: usize, imps: &[Imp], vals: &[Vec<f64>]) {
    println!(
        "\n{what}, {threads} thread(s), {} interleaved repetitions",
        vals[0].len()
    );
    for (i, v) in vals.iter().enumerate() {
        println!(
            "  {:<34} median {:>10.4} {unit}  (cv {:>5.1}%, min {:.4}, max {:.4})",
            name(imps[i], what),
            median(v),
            100.0 * cv(v),
            v.iter().copied().fold(f64::INFINITY, f64::min),
            v.iter().copied().fold(0.0, f64::max)
        );
    }
    let is_c = |i: &Imp| C_IMPS.contains(i);
    for (ri, &rust) in imps.iter().enumerate().filter(|(_, i)| !is_c(i)) {
        for (ci, &c) in imps.iter().enumerate().filter(|(_, i)| is_c(i)) {
            let r = pair_ratios(&vals[ri], &vals[ci]);
            let verdict = if median(&r) >= 0.95 {
                "ok (>= 0.95)"
            } else {
                "BELOW 0.95"
            };
            println!(
                "  ratio {:<34} / {:<20} median {:.3}  [{:.3} .. {:.3}]  {verdict}",
                name(rust, what),
                name(c, what),
                median(&r),
                r.iter().copied().fold(f64::INFINITY, f64::min),
                r.iter().copied().fold(0.0, f64::max)
            );
        }
    }
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs bench
    // targets without it, where minutes of measurement do not belong.
    if !std::env::args().any(|a| a == "--bench") {
        println!("vs_c: run with `cargo bench -p isobench-benches --bench vs_c`");
        return;
    }
    let reps: usize = env_or("ISOBENCH_VS_C_REPS", 7);
    let only: String = env_or("ISOBENCH_VS_C_ONLY", String::new());
    let log2: u32 = env_or("ISOBENCH_VS_C_LOG2", 24);
    let threads: Vec<usize> = env_or("ISOBENCH_VS_C_THREADS", "1,2".to_string())
        .split(',')
        .filter_map(|t| t.trim().parse().ok())
        .collect();
    let llc =
        sysfs::last_level_cache(Path::new(sysfs::CPU0_CACHE_DIR)).map_or(32 << 20, |c| c.size);
    let n = (4 * llc / 8) as usize;
    println!("Rust vs C, side by side: STREAM arrays {} MiB each ({n} doubles), RandomAccess table 2^{log2} words", (n * 8) >> 20);
    for &t in &threads {
        if only.is_empty() || only == "membw" {
            let v = interleave(&TRIAD_IMPS, reps, |imp, _| triad(imp, n, t));
            report("STREAM triad", "MB/s", t, &TRIAD_IMPS, &v);
        }
        if only.is_empty() || only == "randacc" {
            // Verify on the first repetition only: the replay is as long as a run.
            let v = interleave(&GUPS_IMPS, reps, |imp, rep| gups(imp, log2, t, rep == 0));
            report("RandomAccess", "GUP/s", t, &GUPS_IMPS, &v);
        }
    }
}
