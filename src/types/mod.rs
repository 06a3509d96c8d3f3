//! The object model: one file per type, each owning its encodings and conversions.

pub mod hash;
pub mod hll;
pub mod list;
pub mod object;
pub mod set;
pub mod stream;
pub mod zset;
