//! Fallible, zero-filled allocation of large arrays.
//!
//! `vec![0.0; n]` aborts the process when memory runs out; as PID 1 of a guest
//! that would panic the kernel instead of reporting an invalid result. Zeroed
//! allocations of this size come straight from mmap, so no page is touched
//! here: the thread that writes a page first (first-touch) decides where it
//! lives, as STREAM requires.

use std::alloc::{alloc_zeroed, Layout};
use std::sync::atomic::AtomicU64;

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
pub fn try_zeroed_vec<T: ZeroValid>(n: usize) -> Result<Vec<T>, String> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let layout =
        Layout::array::<T>(n).map_err(|_| format!("array of {n} elements is too large"))?;
    // SAFETY: the layout has a non-zero size (n > 0 and T is not zero-sized
    // for any implementor of ZeroValid).
    let ptr = unsafe { alloc_zeroed(layout) } as *mut T;
    if ptr.is_null() {
        return Err(format!(
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

    #[test]
    fn absurd_size_is_an_error_not_an_abort() {
        assert!(try_zeroed_vec::<u64>(usize::MAX / 4).is_err());
    }
}
