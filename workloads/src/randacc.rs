//! Random memory access: HPCC RandomAccess (GUPS), as in the HPC Challenge
//! benchmark's `RandomAccess/core_single_cpu.c` and `utility.c`.
//!
//! A table of 2ⁿ 64-bit words holds `T[i] = i`. 4·2ⁿ updates `T[r & (2ⁿ-1)] ^= r`
//! use the values r of the 64-bit LFSR r ← (r << 1) ^ (r < 0 ? POLY : 0) with
//! POLY = 7, split into 128 interleaved streams whose starting points come
//! from `HPCC_starts` (the LFSR jumped ahead by matrix squaring). Threads own
//! disjoint sets of streams and may race on table words, as HPCC permits
//! ("errors" of up to 1% of the table). Verification replays the same updates
//! on the final table: XOR is its own inverse, so every word should be back
//! to its index; the run is valid when at most 1% of the words are not.
//!
//! Racing updates go through `AtomicU64` with relaxed loads and stores (plain
//! `mov`s on x86-64, the same instructions as C's racy `^=`), which keeps the
//! races defined in Rust.

use crate::error::{invalid, memory, Error, Verdict};
use crate::metricdef::MetricDef;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// Giga-updates per second (HPCC).
pub const METRICS: &[MetricDef] = &[MetricDef::higher("gups", "GUP/s")];

/// Parameters of the `randacc` workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RandaccConfig {
    pub threads: usize,
    /// Table of 2^log2_table words.
    pub log2_table: u32,
    /// Pages backing the table (see [`crate::alloc`]).
    pub pages: crate::alloc::PagePolicy,
}

/// The LFSR's primitive polynomial.
pub const POLY: u64 = 0x0000_0000_0000_0007;
/// The LFSR's period.
pub const PERIOD: i64 = 1_317_624_576_693_539_401;
/// Interleaved update streams (HPCC's 128).
pub const STREAMS: usize = 128;
/// Largest allowed fraction of wrong table words.
pub const MAX_ERROR_FRACTION: f64 = 0.01;

/// One LFSR step.
#[inline(always)]
pub fn lfsr_next(r: u64) -> u64 {
    (r << 1) ^ (((r as i64) >> 63) as u64 & POLY)
}

/// `HPCC_starts(n)`: the LFSR value after n steps from 1.
pub fn hpcc_starts(mut n: i64) -> u64 {
    while n < 0 {
        n += PERIOD;
    }
    while n > PERIOD {
        n -= PERIOD;
    }
    if n == 0 {
        return 1;
    }
    let mut m2 = [0u64; 64];
    let mut temp: u64 = 1;
    for m in m2.iter_mut() {
        *m = temp;
        temp = lfsr_next(temp);
        temp = lfsr_next(temp);
    }
    let mut i: i32 = 62;
    while i >= 0 {
        if (n >> i) & 1 != 0 {
            break;
        }
        i -= 1;
    }
    let mut ran: u64 = 2;
    while i > 0 {
        let mut t = 0;
        for (j, &m) in m2.iter().enumerate() {
            if (ran >> j) & 1 != 0 {
                t ^= m;
            }
        }
        ran = t;
        i -= 1;
        if (n >> i) & 1 != 0 {
            ran = lfsr_next(ran);
        }
    }
    ran
}

/// Number of updates for a table of `size` words (HPCC: 4x the table).
pub fn updates_for(size: usize) -> u64 {
    4 * size as u64
}

/// Starting values of the 128 streams for `nupdate` updates.
pub fn stream_starts(nupdate: u64) -> [u64; STREAMS] {
    std::array::from_fn(|j| hpcc_starts((nupdate / STREAMS as u64 * j as u64) as i64))
}

/// Advance `ran` (a subset of the streams) `steps` times, updating `table`.
/// `table.len()` must be a power of two.
#[inline(never)]
pub fn update_streams(table: &[AtomicU64], ran: &mut [u64], steps: u64) {
    assert!(table.len().is_power_of_two());
    let mask = table.len() as u64 - 1;
    for _ in 0..steps {
        for r in ran.iter_mut() {
            let v = lfsr_next(*r);
            *r = v;
            // SAFETY: (v & mask) < table.len() because len is a power of two
            // (asserted above) and mask = len - 1.
            let w = unsafe { table.get_unchecked((v & mask) as usize) };
            w.store(w.load(Relaxed) ^ v, Relaxed);
        }
    }
}

/// Build the table `T[i] = i` (filled by the calling thread).
pub fn new_table(log2: u32) -> Result<Vec<AtomicU64>, Error> {
    let size = 1usize
        .checked_shl(log2)
        .ok_or_else(|| memory!("table of 2^{log2} words is too large"))?;
    let mut t: Vec<AtomicU64> = crate::alloc::try_zeroed_vec(size)?;
    for (i, w) in t.iter_mut().enumerate() {
        *w.get_mut() = i as u64;
    }
    Ok(t)
}

/// Run all 4x-table-size updates with `threads` threads (threads take
/// contiguous groups of the 128 streams); returns the wall time.
pub fn run_updates(table: &[AtomicU64], threads: usize) -> Duration {
    let nupdate = updates_for(table.len());
    let steps = nupdate / STREAMS as u64;
    let mut ran = stream_starts(nupdate);
    let t = threads.clamp(1, STREAMS);
    let barrier = Barrier::new(t);
    let mut groups: Vec<&mut [u64]> = Vec::with_capacity(t);
    let mut rest: &mut [u64] = &mut ran;
    for i in 0..t {
        let len = STREAMS * (i + 1) / t - STREAMS * i / t;
        let (g, tail) = rest.split_at_mut(len);
        groups.push(g);
        rest = tail;
    }
    std::thread::scope(|s| {
        let mut it = groups.into_iter();
        let main = it.next().expect("at least one group");
        for g in it {
            let barrier = &barrier;
            s.spawn(move || {
                barrier.wait();
                update_streams(table, g, steps);
            });
        }
        barrier.wait();
        let t0 = Instant::now();
        update_streams(table, main, steps);
        t0
    })
    // The scope has joined every thread.
    .elapsed()
}

/// Replay all updates on `table` single-threaded and count the words that
/// are not back to their index.
pub fn verify(table: &mut [u64]) -> u64 {
    assert!(table.len().is_power_of_two());
    let nupdate = updates_for(table.len());
    let steps = nupdate / STREAMS as u64;
    let mut ran = stream_starts(nupdate);
    let mask = table.len() as u64 - 1;
    for _ in 0..steps {
        for r in ran.iter_mut() {
            let v = lfsr_next(*r);
            *r = v;
            // SAFETY: (v & mask) < table.len(), as in update_streams.
            unsafe { *table.get_unchecked_mut((v & mask) as usize) ^= v };
        }
    }
    table
        .iter()
        .enumerate()
        .filter(|&(i, &w)| w != i as u64)
        .count() as u64
}

/// View an exclusively borrowed atomic table as plain words.
pub fn as_plain(table: &mut [AtomicU64]) -> &mut [u64] {
    // SAFETY: AtomicU64 has the same size and bit validity as u64 and at least
    // its alignment; the &mut borrow guarantees no other access meanwhile.
    unsafe { std::slice::from_raw_parts_mut(table.as_mut_ptr().cast::<u64>(), table.len()) }
}

/// What a RandomAccess run measured.
#[derive(Debug, Clone)]
pub struct RandaccOutcome {
    pub table_words: usize,
    pub updates: u64,
    pub threads: usize,
    pub seconds: f64,
    pub gups: f64,
    pub errors: u64,
    pub check: Verdict,
}

/// The verdict on `errors` wrong words out of `size`.
pub fn judge(errors: u64, size: usize) -> Verdict {
    let frac = errors as f64 / size as f64;
    let msg = format!(
        "{errors} of {size} table words wrong after replay ({:.4}%)",
        100.0 * frac
    );
    if frac <= MAX_ERROR_FRACTION {
        Ok(msg)
    } else {
        Err(invalid!("{msg}, above the allowed 1%"))
    }
}

/// Build, update (timed), and verify.
pub fn run(cfg: &RandaccConfig) -> Result<RandaccOutcome, Error> {
    let mut table = new_table(cfg.log2_table)?;
    let threads = cfg.threads.clamp(1, STREAMS);
    let seconds = run_updates(&table, threads).as_secs_f64();
    let updates = updates_for(table.len());
    let errors = verify(as_plain(&mut table));
    Ok(RandaccOutcome {
        table_words: table.len(),
        updates,
        threads,
        seconds,
        gups: updates as f64 / seconds.max(1e-12) / 1e9,
        errors,
        check: judge(errors, table.len()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_jump_ahead_matches_stepping() {
        let mut r = 1u64;
        for n in 0..2000i64 {
            assert_eq!(hpcc_starts(n), r, "n = {n}");
            r = lfsr_next(r);
        }
        assert_eq!(hpcc_starts(PERIOD), 1);
        assert_eq!(hpcc_starts(-PERIOD), 1);
    }

    #[test]
    fn streams_cover_the_single_sequence() {
        // Stream j starts at step (N/128)*j, so the streams together make the
        // values 1..=N of the single sequence (as HPCC's serial check uses).
        let n = updates_for(1 << 10);
        let per = n / STREAMS as u64;
        let starts = stream_starts(n);
        let (mut r, mut step) = (1u64, 0u64);
        for (j, &start) in starts.iter().enumerate() {
            while step < per * j as u64 {
                r = lfsr_next(r);
                step += 1;
            }
            assert_eq!(start, r, "stream {j}");
        }
    }

    #[test]
    fn single_thread_run_has_no_errors_and_threads_stay_within_one_percent() {
        for threads in [1, 2, 3] {
            let o = run(&RandaccConfig {
                threads,
                log2_table: 12,
                pages: Default::default(),
            })
            .unwrap();
            assert!(o.check.is_ok(), "{:?}", o.check);
            if threads == 1 {
                assert_eq!(o.errors, 0);
            }
            assert_eq!(o.updates, 4 << 12);
        }
    }

    #[test]
    fn updates_change_the_table() {
        // (Small tables change less: the LFSR's first few hundred values have
        // few bits set, so their low bits repeat.)
        let table = new_table(16).unwrap();
        run_updates(&table, 1);
        let changed = table
            .iter()
            .enumerate()
            .filter(|(i, w)| w.load(Relaxed) != *i as u64)
            .count();
        assert!(changed > 50_000, "only {changed} of 65536 words changed");
    }

    #[test]
    fn corrupted_table_is_caught() {
        let mut table = new_table(12).unwrap();
        run_updates(&table, 1);
        let plain = as_plain(&mut table);
        plain[7] ^= 1 << 40;
        let mut copy = plain.to_vec();
        assert_eq!(verify(&mut copy), 1);
        // 2% of the words corrupted: invalid.
        for w in plain.iter_mut().step_by(50) {
            *w = w.wrapping_add(1);
        }
        let errors = verify(plain);
        assert!(errors >= (4096 / 50) as u64);
        assert!(judge(errors, 4096).is_err());
        assert!(judge(40, 4096).is_ok());
        // Skipping the updates altogether is caught too.
        let mut fresh: Vec<u64> = (0..4096).collect();
        assert!(judge(verify(&mut fresh), 4096).is_err());
    }
}
