//! A cheap cycle clock for measuring command durations (INFO commandstats, SLOWLOG, LATENCY).
//!
//! Reading the system clock costs tens of nanoseconds even through the vDSO, and call() needs
//! two readings per command; that was a tenth of the server's CPU time in a GET benchmark.
//! Redis has the same concern (its MONOTONIC_CLOCK_HW uses the TSC). On x86-64 with an
//! invariant TSC we read the time-stamp counter and convert with a factor calibrated once
//! against the monotonic clock; elsewhere we fall back to `Instant`.

use std::sync::OnceLock;
use std::time::Instant;

static START: OnceLock<(Instant, u64, f64)> = OnceLock::new();

#[cfg(target_arch = "x86_64")]
#[inline]
fn raw() -> u64 {
    // SAFETY: rdtsc has no preconditions on x86-64.
    unsafe { core::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn raw() -> u64 {
    let (start, _, _) = calibration();
    start.elapsed().as_nanos() as u64
}

/// (reference instant, its raw reading, raw ticks per microsecond).
fn calibration() -> &'static (Instant, u64, f64) {
    START.get_or_init(|| {
        let t0 = Instant::now();
        #[cfg(target_arch = "x86_64")]
        {
            let c0 = raw_tsc();
            std::thread::sleep(std::time::Duration::from_millis(10));
            let c1 = raw_tsc();
            let us = t0.elapsed().as_secs_f64() * 1e6;
            let per_us = ((c1.wrapping_sub(c0)) as f64 / us).max(1e-3);
            (t0, c0, per_us)
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            (t0, 0, 1000.0)
        }
    })
}

#[cfg(target_arch = "x86_64")]
fn raw_tsc() -> u64 {
    // SAFETY: as above.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Calibrates the clock (call once at start-up so the first command does not pay for it).
pub fn init() {
    calibration();
}

/// An opaque timestamp.
#[inline]
pub fn now() -> u64 {
    raw()
}

/// Microseconds between two timestamps from `now`.
#[inline]
pub fn elapsed_us(start: u64, end: u64) -> u64 {
    (end.saturating_sub(start) as f64 / calibration().2) as u64
}
