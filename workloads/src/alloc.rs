//! Fallible, zero-filled allocation of large arrays.
//!
//! `vec![0.0; n]` aborts the process when memory runs out; as PID 1 of a guest
//! that would panic the kernel instead of reporting an invalid result. Zeroed
//! allocations of this size come straight from mmap, so no page is touched
//! here: the thread that writes a page first (first-touch) decides where it
//! lives, as STREAM requires.

//!
//! Page policy (issue "Numbers people can trust": same work everywhere). The
//! host runs transparent huge pages in `madvise` mode while a Debian guest
//! kernel runs them `always`, so the same binary would get 4 KiB pages
//! natively and in containers but 2 MiB pages in a VM, which hides the very
//! address-translation cost claim C2 is about. Every large array is therefore
//! advised explicitly with madvise(2) before it is touched: `base` (the
//! default) asks for `MADV_NOHUGEPAGE` (4 KiB pages in every environment),
//! `huge` for `MADV_HUGEPAGE`. The advice is honoured in THP modes `always`
//! and `madvise`; in mode `never` `huge` cannot apply, which the result
//! records (`info.thp`, `info.anon_huge_kib`).

use crate::error::{arg_err, memory, ArgError, Error};
use std::alloc::{alloc_zeroed, Layout};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

/// Which pages large arrays should be backed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PagePolicy {
    /// Base pages (4 KiB on x86-64): `MADV_NOHUGEPAGE`.
    #[default]
    Base,
    /// Transparent huge pages where the kernel allows: `MADV_HUGEPAGE`.
    Huge,
}

impl PagePolicy {
    pub fn name(self) -> &'static str {
        match self {
            PagePolicy::Base => "base",
            PagePolicy::Huge => "huge",
        }
    }
}

impl std::str::FromStr for PagePolicy {
    type Err = ArgError;
    fn from_str(s: &str) -> Result<Self, ArgError> {
        match s {
            "base" => Ok(PagePolicy::Base),
            "huge" => Ok(PagePolicy::Huge),
            _ => Err(arg_err!("--pages '{s}' is not one of base, huge")),
        }
    }
}

static POLICY: AtomicU8 = AtomicU8::new(0);

/// Set the policy for the allocations that follow (the binary runs one
/// workload per process, so a process-wide setting is enough).
pub fn set_page_policy(p: PagePolicy) {
    POLICY.store(p as u8, Ordering::Relaxed);
}

pub fn page_policy() -> PagePolicy {
    match POLICY.load(Ordering::Relaxed) {
        1 => PagePolicy::Huge,
        _ => PagePolicy::Base,
    }
}

/// Arrays below this size are left alone (they come from the heap, not mmap).
const ADVISE_MIN_BYTES: usize = 2 << 20;

/// The system page size in bytes.
pub fn page_size() -> usize {
    // SAFETY: sysconf reads a constant of the running system.
    let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(v).ok().filter(|&v| v > 0).unwrap_or(4096)
}

/// Apply the page policy to `len` bytes at `ptr` (whole pages inside it).
fn advise(ptr: *mut u8, len: usize) {
    if len < ADVISE_MIN_BYTES {
        return;
    }
    let page = page_size();
    let start = (ptr as usize).div_ceil(page) * page;
    let end = (ptr as usize + len) / page * page;
    if end <= start {
        return;
    }
    let advice = match page_policy() {
        PagePolicy::Base => libc::MADV_NOHUGEPAGE,
        PagePolicy::Huge => libc::MADV_HUGEPAGE,
    };
    // Why: see the module header (same page size in every environment).
    // SAFETY: [start, end) lies inside the allocation just made; madvise
    // with these advice values changes no memory contents. A failure (e.g.
    // a kernel without THP) leaves the default policy, which the result
    // reports through `anon_huge_kib`.
    unsafe {
        libc::madvise(start as *mut libc::c_void, end - start, advice);
    }
}

/// Bytes of this process's anonymous memory backed by transparent huge pages
/// (`AnonHugePages` of /proc/self/smaps_rollup), KiB.
pub fn anon_huge_kib() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/smaps_rollup").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("AnonHugePages:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Types for which the all-zero bit pattern is a valid value.
///
/// # Safety
/// Implement only for types whose all-zero bytes are a valid value.
pub unsafe trait ZeroValid: Sized {}
// SAFETY: 0.0 is all-zero bits.
unsafe impl ZeroValid for f64 {}
// SAFETY: integers: zero is all-zero bits.
unsafe impl ZeroValid for u64 {}
// SAFETY: integers: zero is all-zero bits.
unsafe impl ZeroValid for usize {}
// SAFETY: AtomicU64 has the same in-memory representation as u64.
unsafe impl ZeroValid for AtomicU64 {}

/// A zero-filled `Vec<T>` of `n` elements, or an error naming the size.
pub fn try_zeroed_vec<T: ZeroValid>(n: usize) -> Result<Vec<T>, Error> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let layout =
        Layout::array::<T>(n).map_err(|_| memory!("array of {n} elements is too large"))?;
    // SAFETY: the layout has a non-zero size (n > 0 and T is not zero-sized
    // for any implementor of ZeroValid).
    let ptr = unsafe { alloc_zeroed(layout) } as *mut T;
    if !ptr.is_null() {
        advise(ptr as *mut u8, layout.size());
    }
    if ptr.is_null() {
        return Err(memory!(
            "out of memory allocating {} MiB",
            layout.size() >> 20
        ));
    }
    // SAFETY: ptr was allocated by the global allocator with the layout of
    // [T; n] (same size and alignment Vec<T> uses for capacity n), and all n
    // elements are initialised because zero bytes are a valid T (ZeroValid).
    Ok(unsafe { Vec::from_raw_parts(ptr, n, n) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeroed_vec_is_zero_and_sized() {
        let v: Vec<f64> = try_zeroed_vec(1000).unwrap();
        assert_eq!(v.len(), 1000);
        assert!(v.iter().all(|&x| x == 0.0));
        let e: Vec<u64> = try_zeroed_vec(0).unwrap();
        assert!(e.is_empty());
    }

    /// AnonHugePages of the mapping holding `addr`, from /proc/self/smaps.
    fn huge_kib_of_mapping(addr: usize) -> Option<u64> {
        let text = std::fs::read_to_string("/proc/self/smaps").ok()?;
        let mut inside = false;
        for l in text.lines() {
            if let Some((range, _)) = l.split_once(' ') {
                if let Some((a, b)) = range.split_once('-') {
                    if let (Ok(a), Ok(b)) =
                        (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
                    {
                        inside = a <= addr && addr < b;
                        continue;
                    }
                }
            }
            if inside {
                if let Some(v) = l.strip_prefix("AnonHugePages:") {
                    return v.trim().trim_end_matches("kB").trim().parse().ok();
                }
            }
        }
        None
    }

    #[test]
    fn page_policy_is_applied_to_large_arrays() {
        // Whatever the host's THP mode, MADV_NOHUGEPAGE means no huge page
        // backs this array once it is touched.
        set_page_policy(PagePolicy::Base);
        let mut v: Vec<u64> = try_zeroed_vec(16 << 20 >> 3).unwrap();
        for x in v.iter_mut().step_by(512) {
            *x = 1;
        }
        let huge = huge_kib_of_mapping(v.as_ptr() as usize + (8 << 20));
        assert_eq!(huge, Some(0), "base pages asked for, huge pages given");
        assert_eq!("huge".parse::<PagePolicy>(), Ok(PagePolicy::Huge));
        assert!("big"
            .parse::<PagePolicy>()
            .unwrap_err()
            .to_string()
            .contains("base, huge"));
    }

    #[test]
    fn absurd_size_is_an_error_not_an_abort() {
        assert!(try_zeroed_vec::<u64>(usize::MAX / 4).is_err());
    }
}
