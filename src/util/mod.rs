//! Small helpers shared by every layer: Redis's number rules, glob matching, argument splitting.

pub mod clock;
pub mod geohash;
pub mod glob;
pub mod histogram;
pub mod ldouble;
pub mod lzf;
pub mod num;
pub mod pqsort;
pub mod rand;
pub mod sha1;
pub mod splitargs;

/// Milliseconds since the Unix epoch (Redis's `mstime()`).
pub fn mstime() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    d.as_millis() as i64
}

/// Microseconds since the Unix epoch (Redis's `ustime()`).
pub fn ustime() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    d.as_micros() as i64
}

/// ASCII-lowercases `s` into `buf` when it fits, for case-insensitive table lookups without
/// allocating.
pub fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}
