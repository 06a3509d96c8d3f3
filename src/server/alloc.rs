//! The counting allocator behind INFO used_memory: every heap allocation the process makes
//! goes through it, so used_memory is honest (keys, values, dict tables, client buffers).
//!
//! It wraps the system allocator (see README: glibc malloc was measured against jemalloc and
//! mimalloc for RSS per key) and counts requested bytes, as zmalloc counts them.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

static USED: AtomicUsize = AtomicUsize::new(0);

/// The global allocator: `#[global_allocator] static A: CountingAlloc = CountingAlloc;` in main.
pub struct CountingAlloc;

// SAFETY: forwards to System and only adds bookkeeping.
unsafe impl GlobalAlloc for CountingAlloc {
    #[inline]
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = System.alloc(l);
        if !p.is_null() {
            USED.fetch_add(l.size(), Ordering::Relaxed);
        }
        p
    }
    #[inline]
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(l);
        if !p.is_null() {
            USED.fetch_add(l.size(), Ordering::Relaxed);
        }
        p
    }
    #[inline]
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l);
        USED.fetch_sub(l.size(), Ordering::Relaxed);
    }
    #[inline]
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        let q = System.realloc(p, l, new_size);
        if !q.is_null() {
            if new_size > l.size() {
                USED.fetch_add(new_size - l.size(), Ordering::Relaxed);
            } else {
                USED.fetch_sub(l.size() - new_size, Ordering::Relaxed);
            }
        }
        q
    }
}

/// Bytes currently allocated through the counting allocator (0 when it is not installed,
/// e.g. in unit tests of the library).
pub fn used_memory() -> usize {
    USED.load(Ordering::Relaxed)
}

/// Resident set size from /proc/self/statm.
pub fn rss() -> usize {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = s
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize
}
