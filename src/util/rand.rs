//! The server's fast random numbers, for commands whose replies are random by definition
//! (SPOP, SRANDMEMBER, HRANDFIELD, ZRANDMEMBER, RANDOMKEY-like picks).
//!
//! Redis calls libc `random()` for these; what matters is speed (SRANDMEMBER -1000 draws a
//! thousand numbers) and a decent spread, not unpredictability: a client that could predict
//! the picks gains nothing it could not get by asking again. So this is SplitMix64 (one add,
//! two multiplies per number), one state word per thread, seeded once from /dev/urandom so
//! that two servers started together do not give the same "random" replies.
//!
//! ```text
//!  thread-local state: u64 ──(+ golden gamma)──> x ──(xor-shift-multiply ×2)──> output
//! ```

use std::cell::Cell;

/// SplitMix64's increment: the odd constant closest to 2^64 / golden ratio.
const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

thread_local! {
    /// The generator state; 0 means "not seeded yet" (seeding happens on first use).
    static STATE: Cell<u64> = const { Cell::new(0) };
}

/// A seed from /dev/urandom, falling back to the clock and the address of a local (so a
/// sandbox without /dev/urandom still gets different seeds per process). Never 0.
fn initial_seed() -> u64 {
    let mut bytes = [0u8; 8];
    let from_dev = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .is_ok();
    let mut s = u64::from_le_bytes(bytes);
    if !from_dev || s == 0 {
        let local = 0u8;
        s = (crate::util::ustime() as u64) ^ (&local as *const u8 as u64).rotate_left(32);
    }
    s | 1
}

/// The SplitMix64 output function: a bijective mix of the state.
#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The next 64 random bits.
#[inline]
pub fn next_u64() -> u64 {
    STATE.with(|s| {
        let mut x = s.get();
        if x == 0 {
            x = initial_seed();
        }
        x = x.wrapping_add(GAMMA);
        // A state that wrapped to exactly 0 would be mistaken for "unseeded": skip it.
        if x == 0 {
            x = GAMMA;
        }
        s.set(x);
        mix(x)
    })
}

/// A uniform random number in `0..n` (0 when `n` is 0), by Lemire's multiply-high method:
/// the bias is at most n / 2^64, far below anything a test could observe, and there is no
/// division on the hot path.
#[inline]
pub fn below(n: u64) -> u64 {
    ((u128::from(next_u64()) * u128::from(n)) >> 64) as u64
}

/// A uniform random index in `0..n` (0 when `n` is 0).
#[inline]
pub fn index(n: usize) -> usize {
    below(n as u64) as usize
}

/// Re-seeds this thread's generator (DEBUG-style reproducibility and tests). A seed of 0 is
/// replaced by 1, because 0 marks an unseeded state.
pub fn seed(s: u64) {
    STATE.with(|st| st.set(if s == 0 { 1 } else { s }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_stays_in_range_and_covers_it() {
        seed(42);
        let mut seen = [0u32; 10];
        for _ in 0..10_000 {
            let v = below(10) as usize;
            assert!(v < 10);
            seen[v] += 1;
        }
        // Each bucket expects 1000; a fair generator stays well within +-20%.
        for (i, &n) in seen.iter().enumerate() {
            assert!((800..1200).contains(&n), "bucket {i}: {n}");
        }
        assert_eq!(below(0), 0);
        assert_eq!(below(1), 0);
        assert_eq!(index(0), 0);
    }

    #[test]
    fn seeding_is_reproducible() {
        seed(7);
        let a: Vec<u64> = (0..5).map(|_| next_u64()).collect();
        seed(7);
        let b: Vec<u64> = (0..5).map(|_| next_u64()).collect();
        assert_eq!(a, b);
        seed(0);
        assert_ne!(next_u64(), 0);
    }

    #[test]
    fn full_range_bound() {
        seed(3);
        for _ in 0..1000 {
            let _ = below(u64::MAX); // no overflow
        }
    }
}
