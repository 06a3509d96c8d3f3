//! A cheap cycle clock for measuring command durations (INFO commandstats, SLOWLOG, LATENCY).
//!
//! Reading the system clock costs tens of nanoseconds even through the vDSO, and call() needs
//! a reading per command; that was a tenth of the server's CPU time in a GET benchmark.
//! Redis has the same concern (its MONOTONIC_CLOCK_HW uses the TSC). On x86-64 with an
//! invariant TSC we read the time-stamp counter and convert with a fixed-point factor
//! calibrated once against the monotonic clock; elsewhere we fall back to `Instant`.
//!
//! Even RDTSC is not free (under a hypervisor it was 2-3% of a pipelined SET benchmark), so
//! call() chains readings: the reading that ends one command starts the next one of the same
//! batch (`Server::cmd_clock`), one reading per command instead of two. A command's time then
//! also holds the parsing and checks of that command, tens of nanoseconds.

use std::sync::OnceLock;
use std::time::Instant;

/// (reference instant, its raw reading, microseconds per raw tick as a 32.32 fixed-point
/// factor).
static START: OnceLock<(Instant, u64, u64)> = OnceLock::new();

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

fn calibration() -> &'static (Instant, u64, u64) {
    START.get_or_init(|| {
        let t0 = Instant::now();
        #[cfg(target_arch = "x86_64")]
        {
            let c0 = raw_tsc();
            std::thread::sleep(std::time::Duration::from_millis(10));
            let c1 = raw_tsc();
            let us = t0.elapsed().as_secs_f64() * 1e6;
            let per_us = ((c1.wrapping_sub(c0)) as f64 / us).max(1e-3);
            (t0, c0, fixed_point(per_us))
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            (t0, 0, fixed_point(1000.0))
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

/// 2^32 / `ticks_per_us`: turns a tick count into microseconds with one integer multiply
/// (a float division per command showed up in profiles).
fn fixed_point(ticks_per_us: f64) -> u64 {
    ((1u64 << 32) as f64 / ticks_per_us).max(1.0) as u64
}

/// Microseconds between two timestamps from `now`.
#[inline]
pub fn elapsed_us(start: u64, end: u64) -> u64 {
    let ticks = u128::from(end.saturating_sub(start));
    ((ticks * u128::from(calibration().2)) >> 32) as u64
}
