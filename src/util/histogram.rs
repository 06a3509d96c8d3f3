//! An HdrHistogram (high dynamic range histogram): counts of values kept with a fixed number of
//! significant decimal digits over a wide range, in a flat array of counters. Redis keeps one
//! per command for LATENCY HISTOGRAM and INFO latencystats (deps/hdr_histogram, used with
//! lowest value 1 ns, highest 1 s, 2 significant figures); this is the same bucketing and the
//! same iteration, so the same recorded durations print the same buckets and percentiles.
//!
//! Layout, for 2 significant figures and unit 1 (a sub-bucket count of 256, half of it 128):
//!
//! ```text
//!  counts: [ 0 1 2 ... 255 | 256 258 ... 510 | 512 516 ... 1020 | 1024 1032 ... | ... ]
//!            bucket 0:        bucket 1:         bucket 2:          bucket 3:
//!            256 slots,       128 slots,        128 slots,         128 slots,
//!            step 1           step 2            step 4             step 8
//!  index:    0 .. 255         256 .. 383        384 .. 511         512 .. 639
//! ```
//!
//! Bucket 0 counts every value below 256 exactly; bucket b > 0 covers [128 << b, 256 << b)
//! in 128 steps of 1 << b, so a value is known to within 1/128 of itself. Only the upper half
//! of each later bucket is stored (its lower half is the previous bucket's range). A value's
//! *equivalent range* is the step it falls in: every value of it shares the counter, and the
//! histogram reports the range's lowest or highest value. With a highest trackable value of
//! 1e9 there are 23 buckets and 3,072 counters (24 KiB).

/// A histogram of non-negative integer values between 1 (or a larger unit) and a highest
/// trackable value, with a precision of a few significant decimal digits.
pub struct Histogram {
    /// Counters, indexed as drawn above.
    counts: Box<[u64]>,
    /// Sum of all counters.
    total: u64,
    /// log2 of the lowest discernible value (values are counted in units of 1 << this).
    unit_magnitude: u32,
    /// log2 of half the sub-bucket count (7 for 2 significant figures).
    half_magnitude: u32,
    /// The first bucket's number of slots (256 for 2 significant figures).
    sub_bucket_count: u64,
    /// Bits of a value that fall within the first bucket.
    sub_bucket_mask: u64,
}

impl Histogram {
    /// A histogram counting values from `lowest` (at least 1) to `highest` (at least twice
    /// `lowest`) with `significant_figures` (1..=5) decimal digits of precision
    /// (hdr_calculate_bucket_config). The parameters are the caller's constants, not client
    /// input, so invalid ones are a bug and panic.
    pub fn new(lowest: u64, highest: u64, significant_figures: u32) -> Histogram {
        assert!(lowest >= 1 && (1..=5).contains(&significant_figures));
        assert!(lowest.saturating_mul(2) <= highest && highest <= i64::MAX as u64);
        // Values below 2 * 10^figures are counted exactly: that many slots, rounded up to a
        // power of two, make the first bucket.
        let single_unit = 2 * 10u64.pow(significant_figures);
        let count_magnitude = 64 - (single_unit - 1).leading_zeros();
        let half_magnitude = count_magnitude.max(1) - 1;
        let unit_magnitude = 63 - lowest.leading_zeros();
        assert!(unit_magnitude + half_magnitude <= 61);
        let sub_bucket_count = 1u64 << (half_magnitude + 1);
        let sub_bucket_mask = (sub_bucket_count - 1) << unit_magnitude;
        // Buckets needed until the first value past the last bucket exceeds `highest`.
        let mut smallest_untrackable = sub_bucket_count << unit_magnitude;
        let mut buckets = 1usize;
        while smallest_untrackable <= highest {
            if smallest_untrackable > u64::MAX / 4 {
                buckets += 1;
                break;
            }
            smallest_untrackable <<= 1;
            buckets += 1;
        }
        let len = (buckets + 1) << half_magnitude;
        Histogram {
            counts: vec![0; len].into_boxed_slice(),
            total: 0,
            unit_magnitude,
            half_magnitude,
            sub_bucket_count,
            sub_bucket_mask,
        }
    }

    /// Number of values recorded.
    #[inline]
    pub fn total_count(&self) -> u64 {
        self.total
    }

    /// Number of counters (the array drawn in the module comment).
    pub fn counts_len(&self) -> usize {
        self.counts.len()
    }

    /// Counts one `value`. Returns false (counting nothing) when it is beyond the last bucket.
    #[inline]
    pub fn record(&mut self, value: u64) -> bool {
        let i = self.index_of(value);
        match self.counts.get_mut(i) {
            Some(n) => {
                *n += 1;
                self.total += 1;
                true
            }
            None => false,
        }
    }

    /// Forgets every value.
    pub fn reset(&mut self) {
        self.counts.fill(0);
        self.total = 0;
    }

    /// (bucket, sub-bucket) of a value: the bucket is how far its top bit is above the first
    /// bucket's, the sub-bucket its top bits within that bucket.
    #[inline]
    fn bucket_of(&self, value: u64) -> (u32, u64) {
        let pow2ceiling = 64 - (value | self.sub_bucket_mask).leading_zeros();
        let bucket = pow2ceiling - self.unit_magnitude - (self.half_magnitude + 1);
        (bucket, value >> (bucket + self.unit_magnitude))
    }

    /// The counter a value goes to (may be past the end for values beyond the range).
    #[inline]
    fn index_of(&self, value: u64) -> usize {
        let (bucket, sub) = self.bucket_of(value);
        let half = self.sub_bucket_count >> 1;
        (((bucket as u64 + 1) << self.half_magnitude) + sub - half) as usize
    }

    /// The lowest value counted by counter `index` (hdr_value_at_index).
    pub fn value_at_index(&self, index: usize) -> u64 {
        let half = self.sub_bucket_count >> 1;
        let mut bucket = (index >> self.half_magnitude) as i64 - 1;
        let mut sub = (index as u64 & (half - 1)) + half;
        if bucket < 0 {
            sub -= half;
            bucket = 0;
        }
        sub << (bucket as u32 + self.unit_magnitude)
    }

    /// Width of the equivalent range `value` falls in.
    fn range_size(&self, value: u64) -> u64 {
        let (bucket, sub) = self.bucket_of(value);
        let adjusted = if sub >= self.sub_bucket_count {
            bucket + 1
        } else {
            bucket
        };
        1 << (self.unit_magnitude + adjusted)
    }

    /// The lowest value sharing `value`'s counter.
    pub fn lowest_equivalent(&self, value: u64) -> u64 {
        let (bucket, sub) = self.bucket_of(value);
        sub << (bucket + self.unit_magnitude)
    }

    /// The highest value sharing `value`'s counter.
    pub fn highest_equivalent(&self, value: u64) -> u64 {
        self.lowest_equivalent(value) + self.range_size(value) - 1
    }

    /// The value below or at which `percentile` percent of the recorded values fall, as the
    /// highest value of its counter (the lowest for percentile 0); 0 when nothing was
    /// recorded. The rank is rounded to the nearest count and is at least 1, so percentile 0
    /// finds the smallest value recorded.
    pub fn value_at_percentile(&self, percentile: f64) -> u64 {
        let requested = percentile.min(100.0);
        let rank = ((requested / 100.0) * self.total as f64 + 0.5) as i64;
        let rank = rank.max(1) as u64;
        let mut seen = 0;
        for (i, &n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let v = self.value_at_index(i);
                return if percentile == 0.0 {
                    self.lowest_equivalent(v)
                } else {
                    self.highest_equivalent(v)
                };
            }
        }
        0
    }

    /// Walks the counters in reporting steps that grow geometrically: `first`, `first *
    /// base`, ... (hdr_iter_log_init + hdr_iter_next). Each step yields the highest value
    /// of the counter where the walk stands (the first whose lowest value reaches the step)
    /// and the number of values counted up to and including that counter. Steps past the
    /// last recorded value stop the walk; a step beyond the last counter repeats the last.
    pub fn log_steps(&self, first: u64, base: u64) -> LogSteps<'_> {
        LogSteps {
            h: self,
            index: -1,
            cumulative: 0,
            value: 0,
            highest: 0,
            level: first,
            level_lowest: self.lowest_equivalent(first),
            base: base.max(2),
        }
    }
}

/// The iterator of [`Histogram::log_steps`]: (highest equivalent value, cumulative count).
pub struct LogSteps<'a> {
    h: &'a Histogram,
    /// Counter the walk stands on (-1 before the first).
    index: i64,
    cumulative: u64,
    /// Lowest value of the current counter.
    value: u64,
    /// Highest value of the current counter.
    highest: u64,
    /// The next reporting step and the lowest value of its counter.
    level: u64,
    level_lowest: u64,
    base: u64,
}

impl LogSteps<'_> {
    /// Steps onto the next counter; false past the last one.
    fn advance(&mut self) -> bool {
        self.index += 1;
        let Some(&n) = self.h.counts.get(self.index as usize) else {
            return false;
        };
        self.cumulative += n;
        self.value = self.h.value_at_index(self.index as usize);
        self.highest = self.h.highest_equivalent(self.value);
        true
    }
}

impl Iterator for LogSteps<'_> {
    type Item = (u64, u64);

    fn next(&mut self) -> Option<(u64, u64)> {
        let len = self.h.counts.len() as i64;
        let more_counts = self.cumulative < self.h.total;
        // The walk also goes on while the next counter starts beyond the pending step.
        let next_beyond = self.index < len
            && self.h.value_at_index((self.index + 1) as usize) > self.level_lowest;
        if !more_counts && !next_beyond {
            return None;
        }
        loop {
            if self.value >= self.level_lowest {
                self.level = self.level.saturating_mul(self.base);
                self.level_lowest = self.h.lowest_equivalent(self.level);
                return Some((self.highest, self.cumulative));
            }
            if !self.advance() {
                return Some((self.highest, self.cumulative));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Redis's per-command latency histogram: 1 ns .. 1 s, 2 significant figures.
    fn redis() -> Histogram {
        Histogram::new(1, 1_000_000_000, 2)
    }

    /// What LATENCY HISTOGRAM prints: (microseconds, cumulative count) at each power of two
    /// from 1024 ns, skipping steps that add nothing.
    fn cdf(h: &Histogram) -> Vec<(u64, u64)> {
        let mut prev = 0;
        let mut out = Vec::new();
        for (highest, cum) in h.log_steps(1024, 2) {
            if cum > prev {
                out.push((highest / 1000, cum));
            }
            prev = cum;
        }
        out
    }

    #[test]
    fn layout_matches_hdr_config() {
        let h = redis();
        assert_eq!(h.counts_len(), 3072);
        assert_eq!(h.sub_bucket_count, 256);
        assert_eq!(h.half_magnitude, 7);
        assert_eq!(h.unit_magnitude, 0);
        // Another shape: unit 1000, 3 figures.
        let h = Histogram::new(1000, 3_600_000_000, 3);
        assert_eq!(h.unit_magnitude, 9);
        assert_eq!(h.sub_bucket_count, 2048);
    }

    #[test]
    fn equivalent_ranges() {
        let h = redis();
        for v in [0, 1, 100, 255] {
            assert_eq!((h.lowest_equivalent(v), h.highest_equivalent(v)), (v, v));
        }
        assert_eq!(
            (h.lowest_equivalent(257), h.highest_equivalent(257)),
            (256, 257)
        );
        assert_eq!(
            (h.lowest_equivalent(5000), h.highest_equivalent(5000)),
            (4992, 5023)
        );
        assert_eq!(h.highest_equivalent(1024), 1031);
        assert_eq!(h.highest_equivalent(32768), 33023);
        // Every counter's lowest value maps back to that counter.
        for i in 0..h.counts_len() {
            let v = h.value_at_index(i);
            assert_eq!(h.index_of(v), i);
            assert_eq!(h.index_of(h.highest_equivalent(v)), i);
            if i > 0 {
                assert!(v > h.value_at_index(i - 1));
            }
        }
    }

    #[test]
    fn record_counts_and_range() {
        let mut h = redis();
        assert!(h.record(1));
        assert!(h.record(1_000_000_000));
        assert!(!h.record(1 << 31));
        assert_eq!(h.total_count(), 2);
        h.reset();
        assert_eq!(h.total_count(), 0);
        assert_eq!(h.value_at_percentile(50.0), 0);
    }

    /// Percentiles as INFO latencystats printed them on redis-server 7.0.15 for one call of
    /// 5 µs: p0=4.992 and p50/p99/p100=5.023.
    #[test]
    fn percentiles_like_redis() {
        let mut h = redis();
        h.record(5000);
        assert_eq!(h.value_at_percentile(0.0), 4992);
        assert_eq!(h.value_at_percentile(0.0001), 5023);
        assert_eq!(h.value_at_percentile(50.0), 5023);
        assert_eq!(h.value_at_percentile(100.0), 5023);
        assert_eq!(h.value_at_percentile(250.0), 5023);
        let mut h = redis();
        for v in 1..=100u64 {
            h.record(v * 1000);
        }
        assert_eq!(h.value_at_percentile(50.0), h.highest_equivalent(50_000));
        assert_eq!(h.value_at_percentile(99.0), h.highest_equivalent(99_000));
        assert_eq!(h.value_at_percentile(99.9), h.highest_equivalent(100_000));
        assert_eq!(h.value_at_percentile(0.0), 1000);
    }

    #[test]
    fn log_steps_like_redis() {
        let mut h = redis();
        // Calls of 4, 22 and 60 µs print as 4:1, 33:2, 66:3 (seen on redis-server 7.0.15).
        for us in [4, 22, 60] {
            h.record(us * 1000);
        }
        assert_eq!(cdf(&h), [(4, 1), (33, 2), (66, 3)]);
        // 0 µs is recorded as 1 ns and shows in the first step; 1 s at the top.
        let mut h = redis();
        for v in [1, 1000, 2000, 3000, 1_000_000_000] {
            h.record(v);
        }
        let steps = cdf(&h);
        assert_eq!(steps[..3], [(1, 2), (2, 3), (4, 4)]);
        assert_eq!(*steps.last().unwrap(), (1_073_741, 5));
        assert_eq!(steps.len(), 4);
        // An empty histogram has no steps.
        assert!(cdf(&redis()).is_empty());
    }

    /// Properties of the printed buckets for arbitrary durations: the keys are the
    /// power-of-two steps, strictly increasing, the counts strictly increasing, and the last
    /// count is the total.
    #[test]
    fn log_steps_properties() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        // Steps are the powers of two from 2^10 to 2^29 ns, and the last counter (where a
        // step of 2^30, beyond the range, ends the walk).
        let r = redis();
        let mut allowed: Vec<u64> = (10..30)
            .map(|p| r.highest_equivalent(1 << p) / 1000)
            .collect();
        allowed.push(r.highest_equivalent(r.value_at_index(r.counts_len() - 1)) / 1000);
        for round in 0..200 {
            let mut h = redis();
            let n = 1 + round % 50;
            for _ in 0..n {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let us = (seed % 2_000_000) >> (seed % 21);
                h.record((us * 1000).clamp(1, 1_000_000_000));
            }
            let steps = cdf(&h);
            assert_eq!(steps.last().unwrap().1, n);
            for w in steps.windows(2) {
                assert!(w[0].0 < w[1].0 && w[0].1 < w[1].1);
            }
            for (us, _) in steps {
                assert!(allowed.contains(&us), "{us}");
            }
        }
    }
}
